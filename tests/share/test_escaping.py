"""Hostile routine text stays text: in Markdown, in HTML, in every place it lands.

A routine arrives by email from someone else; its name, instructions and cues
must not be able to add links, scripts, formatting or page structure to the
handout, nor reorder its layout with bidi controls.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
import yaml

from tproutine.routine.expand import expand
from tproutine.routine.loader import LoadedRoutine, parse_routine
from tproutine.routine.model import Routine
from tproutine.share.handout import (
    html_block,
    html_handout,
    html_text,
    markdown_handout,
    md_block,
    md_code,
    md_inline,
)
from tproutine.yamlsafe import Document, LoadError

RLO, PDF, LRI, PDI = "\u202e", "\u202c", "\u2066", "\u2069"


# --- Markdown, one case at a time ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ('<script>alert("x")</script>', '\\<script\\>alert("x")\\</script\\>'),
        ("<img src=x onerror=alert(1)>", "\\<img src=x onerror=alert(1)\\>"),
        ("**bold** _it_ `code` ~~gone~~", "\\*\\*bold\\*\\* \\_it\\_ \\`code\\` \\~\\~gone\\~\\~"),
        ("[click](javascript:alert(1))", "\\[click\\](javascript\\:alert(1))"),
        ("[x](JavaScript :alert(1))", "\\[x\\](JavaScript \\:alert(1))"),
        ("<javascript:alert(1)>", "\\<javascript\\:alert(1)\\>"),
        ("vbscript:msgbox", "vbscript\\:msgbox"),
        ("![img](http://example.com/x.png)", "!\\[img\\](http://example.com/x.png)"),
        ("[ref]: http://example.com", "\\[ref\\]: http://example.com"),
        ("# not a heading", "\\# not a heading"),
        ("C# at the end #", "C\\# at the end \\#"),
        ("- not a list", "\\- not a list"),
        ("+ not a list", "\\+ not a list"),
        ("1. not a list", "1\\. not a list"),
        ("12) not a list", "12\\) not a list"),
        ("> not a quote", "\\> not a quote"),
        ("===", "\\==="),
        ("--- ", "\\---"),
        ("- - -", "\\- - -"),
        ("-", "\\-"),
        ("-5 s is not a list", "-5 s is not a list"),
        ("1.5 kg is not a list", "1.5 kg is not a list"),
        ("2024-01-01 = a date", "2024-01-01 = a date"),
        ("a | b | c", "a \\| b \\| c"),
        ("back\\slash", "back\\\\slash"),
        ("&amp; &lt;b&gt; &#x202E;", "\\&amp; \\&lt;b\\&gt; &\\#x202E;"),
        ("Sam & Alex", "Sam & Alex"),  # a plain ampersand stays readable
        ("one\ntwo\r\nthree\u2028four", "one two three four"),
        ("   leading and trailing   ", "leading and trailing"),
        # Control and direction characters are shown, not acted on (safetext.visible).
        (f"a{RLO}b{PDI}c", "a⟨U+202E⟩b⟨U+2069⟩c"),
        ("ring\x07 bell \x1b[31m", "ring␇ bell ␛\\[31m"),
        ("Figure-four (easy), 4/10: fine!", "Figure-four (easy), 4/10: fine!"),
    ],
)
def test_md_inline(text: str, escaped: str) -> None:
    assert md_inline(text) == escaped


def test_md_block_escapes_every_line_start_and_keeps_paragraphs() -> None:
    text = "- one\n  1. two\n        code?\n# three\n\n\n> four\n=== \n"
    assert md_block(text) == "\\- one\n1\\. two\ncode?\n\\# three\n\n\\> four\n\\==="


def test_md_keeps_a_very_long_line_whole() -> None:
    word = "x" * 5000
    assert md_inline(word) == word
    assert md_block(f"start {word} end") == f"start {word} end"


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("tproutine run a.yaml", "`tproutine run a.yaml`"),
        ("a`b", "``a`b``"),
        ("`x``", "``` `x`` ```"),
        (f"new\nline{RLO}", "`new line⟨U+202E⟩`"),
    ],
)
def test_md_code(text: str, span: str) -> None:
    assert md_code(text) == span


# --- HTML, one case at a time --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ('<script>alert("x")</script>', "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"),
        ("it's <b>", "it&#x27;s &lt;b&gt;"),
        ("&amp; &#x202E;", "&amp;amp; &amp;#x202E;"),
        ('" onmouseover="alert(1)', "&quot; onmouseover=&quot;alert(1)"),
        ("</bdi></dd><h1>fake</h1>", "&lt;/bdi&gt;&lt;/dd&gt;&lt;h1&gt;fake&lt;/h1&gt;"),
        ("one\ntwo", "one two"),
        (f"a{RLO}b", "a⟨U+202E⟩b"),
        ("nul\x00 and esc\x1b", "nul␀ and esc␛"),
    ],
)
def test_html_text(text: str, escaped: str) -> None:
    assert html_text(text) == f"<bdi>{escaped}</bdi>"


def test_html_block_isolates_each_paragraph() -> None:
    assert html_block(f"<i>one</i>\nline\n\n{RLO}two") == (
        "<p><bdi>&lt;i&gt;one&lt;/i&gt; line</bdi></p>\n<p><bdi>⟨U+202E⟩two</bdi></p>"
    )


# --- a whole hostile routine -----------------------------------------------------------------


def past_the_door(text: str, file: str) -> LoadedRoutine:
    """A routine as the model reads it, without the loader's refusal of control and
    direction characters: the handouts must stay safe even if one ever got through."""
    data = yaml.safe_load(text)
    routine = Routine.model_validate(data)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return LoadedRoutine(routine, Document(file, data), digest, file)


HOSTILE_NAME = f'<script>alert("x")</script> **Neck** [click](javascript:alert(1)) {RLO}evil'
LONG = "A" * 3000


def _hostile() -> tuple[str, str]:
    doc: dict[str, Any] = {
        "format": "tproutine/1",
        "name": HOSTILE_NAME,
        "summary": "# Not a heading | a | b",
        "author": "<img src=x onerror=alert(1)> & Co &amp;",
        "description": f"- not a list\n    not code\n<b>bold?</b>\n\n{LONG}",
        "safety": {
            "warnings": [f"Right-to-left: {RLO}esrever{LRI} isolate"],
            "avoid_if": ["a | b\nc"],
        },
        "steps": [
            {
                "hold": "Title with | pipe and\nnewline",
                "tool": "</section><h1>fake</h1>",
                "area": f"{RLO}thgir",
                "duration": "30s",
                "instructions": "Line one\n### Line two",
                "cues": [{"at": "-5s", "say": "<i>hi</i> [x](javascript:alert(1))"}],
            }
        ],
    }
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    with pytest.raises(LoadError):  # the loader refuses its direction overrides at the door
        parse_routine(text, "hostile `name`.yaml")
    loaded = past_the_door(text, "hostile `name`.yaml")
    timeline = expand(loaded)
    return markdown_handout(loaded, timeline), html_handout(loaded, timeline)


def test_hostile_routine_in_markdown() -> None:
    md, _ = _hostile()
    assert md.startswith(
        '# \\<script\\>alert("x")\\</script\\> \\*\\*Neck\\*\\* '
        "\\[click\\](javascript\\:alert(1)) ⟨U+202E⟩evil\n"
    )
    assert "\n\\# Not a heading \\| a \\| b\n" in md
    assert "- **By:** \\<img src=x onerror=alert(1)\\> & Co \\&amp;\n" in md
    assert "- **Right-to-left: ⟨U+202E⟩esrever⟨U+2066⟩ isolate**\n" in md
    assert "- a \\| b c\n" in md
    assert "\\- not a list\nnot code\n\\<b\\>bold?\\</b\\>\n\n" + LONG + "\n" in md
    assert "### 1. Pressure hold: Title with \\| pipe and newline\n" in md
    assert "- **Tool:** \\</section\\>\\<h1\\>fake\\</h1\\>\n" in md
    assert "- **Area:** ⟨U+202E⟩thgir\n" in md
    assert "Line one\n\\#\\#\\# Line two\n" in md
    assert "- 5 s before the end: “\\<i\\>hi\\</i\\> \\[x\\](javascript\\:alert(1))”\n" in md
    assert "Run it with tproutine: ``tproutine run 'hostile `name`.yaml'``\n" in md
    # The structure is ours alone: every heading line is one the handout writes.
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings == [
        headings[0],
        "## Before you start",
        "## About this routine",
        "## Step by step",
        "### 1. Pressure hold: Title with \\| pipe and newline",
    ]
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", md)


def test_hostile_routine_in_html() -> None:
    _, page = _hostile()
    assert (
        "<h1><bdi>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; **Neck** "
        "[click](javascript:alert(1)) ⟨U+202E⟩evil</bdi></h1>"
    ) in page
    # The title element cannot hold <bdi>, so the override is dropped there.
    assert (
        "<title>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; **Neck** "
        "[click](javascript:alert(1)) ⟨U+202E⟩evil · routine handout</title>"
    ) in page
    assert "<dd><bdi>&lt;img src=x onerror=alert(1)&gt; &amp; Co &amp;amp;</bdi></dd>" in page
    assert "<li><bdi>Right-to-left: ⟨U+202E⟩esrever⟨U+2066⟩ isolate</bdi></li>" in page
    assert "<dd><bdi>&lt;/section&gt;&lt;h1&gt;fake&lt;/h1&gt;</bdi></dd>" in page
    assert "<dd><bdi>⟨U+202E⟩thgir</bdi></dd>" in page
    assert f"<p><bdi>{LONG}</bdi></p>" in page
    assert "“<bdi>&lt;i&gt;hi&lt;/i&gt; [x](javascript:alert(1))</bdi>”" in page
    assert "<code><bdi>tproutine run &#x27;hostile `name`.yaml&#x27;</bdi></code>" in page
    # No markup from the file survives: the only tags are the handout's own.
    tags = set(re.findall(r"</?([a-zA-Z0-9]+)", page))
    assert tags <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "main",
        "header",
        "p",
        "h1",
        "h2",
        "h3",
        "div",
        "dl",
        "dt",
        "dd",
        "section",
        "ul",
        "li",
        "span",
        "bdi",
        "code",
        "footer",
    }
    assert "<script" not in page.lower()
    assert "onerror=alert" not in page.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    # Direction controls are shown as tokens, never left to act (in a browser or in
    # a terminal that the page is printed to).
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", page)

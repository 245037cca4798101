"""The one rule for untrusted text at the terminal (tproutine.safetext)."""

from __future__ import annotations

import json
import re

import pytest

from tproutine.safetext import (
    describe_char,
    dumps,
    file_name,
    first_forbidden,
    is_clean,
    one_line,
    refusal,
    visible,
)

HOSTILE = [
    "\x1b]52;c;aGVsbG8=\x07",  # OSC 52: write the clipboard
    "\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    "\x1b[2J",  # clear the screen
    "\x9b2J",  # the same with a C1 CSI
    "\x07",  # bell
    "abc\rdef",  # overwrite the line
    "\u202egnp.exe",  # right-to-left override
    "\x7f\x00\x85",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_no_control_character_survives(text: str) -> None:
    for out in (visible(text), one_line(text)):
        assert all(ch.isprintable() or ch in "\n\t" for ch in out), repr(out)
        assert is_clean(out)
    assert not is_clean(text)


def test_tokens_are_visible_and_readable() -> None:
    assert visible("\x1b[2J") == "\u241b[2J"
    assert visible("a\x9bb") == "a⟨U+009B⟩b"
    assert visible("\u202eabc") == "⟨U+202E⟩abc"
    assert visible("\x7f") == "\u2421"


def test_plain_text_is_unchanged() -> None:
    text = "Upper trapezius · 45 s — “gently”\n\tNext 👩‍⚕️ العربية"
    assert visible(text) == text
    assert one_line(text) == "Upper trapezius · 45 s — “gently”  Next 👩‍⚕️ العربية"


def test_first_forbidden_and_its_name() -> None:
    assert first_forbidden("ok\ttab\nline") is None
    assert first_forbidden("ab\x1bc") == (2, "\x1b")
    assert first_forbidden("x\u2066y") == (1, "\u2066")
    assert first_forbidden("\r") == (0, "\r")
    assert describe_char("\x1b") == "U+001B (escape)"
    assert describe_char("\u202e") == "U+202E (right-to-left override)"
    assert describe_char("\x9b") == "U+009B (CSI)"
    assert describe_char("\x01") == "U+0001 (C0 control)"


def test_refusal_says_what_where_and_what_is_accepted() -> None:
    assert refusal("plain text\twith a tab\nand a line") is None
    assert refusal("ab\x1bc") == (
        "the text holds U+001B (escape) at character 3: a control character could rewrite "
        "the terminal (write printable text, tabs and line breaks only)"
    )
    assert refusal("\u202e", "key") == (
        "the key holds U+202E (right-to-left override): a direction override could make "
        "the text read as something it is not (write printable text, tabs and line breaks only)"
    )


@pytest.mark.parametrize("text", [*HOSTILE, "\u2028line\u2029", "plain é 😀"])
def test_json_keeps_the_text_and_escapes_what_a_terminal_would_obey(text: str) -> None:
    value = {"name": text, "list": [text]}
    encoded = dumps(value, indent=2)
    assert json.loads(encoded) == value
    assert (
        re.search(
            "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", encoded.replace("\n", "")
        )
        is None
    )
    assert "é 😀" in dumps("plain é 😀")  # readable text stays readable


def test_a_file_name_from_someone_else_becomes_a_safe_one() -> None:
    assert file_name("neck\x1b]52;c;aGk=\x07\u202e") == "neck_]52;c;aGk=__"
    assert file_name(".hidden") == "_hidden"
    assert file_name("Nacken und Schultern (2)") == "Nacken und Schultern (2)"
    assert file_name("line\u2028break\u00a0nbsp") == "line_break_nbsp"

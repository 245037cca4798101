"""The one rule for untrusted text at the terminal (tproutine.safetext)."""

from __future__ import annotations

import pytest

from tproutine.safetext import describe_char, first_forbidden, is_clean, one_line, visible

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

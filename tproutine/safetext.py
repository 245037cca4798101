"""Text from other people, made safe for a terminal: one rule for every place we print.

Routine files, device profiles, file names and Bluetooth advertisements are written
by other people. A control character in them could clear the screen, fake our own
output, retitle the window or write the clipboard (OSC 52) on terminals that honour
it; a bidi override could reorder a line so that it says something it does not.

Two halves:

- **At the door** the loaders refuse such characters in every text value
  (:func:`first_forbidden` finds the first one, :func:`describe_char` names it).
- **At every exit** (:func:`visible`, :func:`one_line`) whatever still carries one,
  an advertised name, a file name, a firmware string, is shown as a visible,
  inert token: ``ESC`` becomes ``␛`` (Unicode's control pictures), a C1 control
  or a bidi control becomes ``⟨U+009B⟩``. Nothing here imports anything heavy.
"""

from __future__ import annotations

import re
import unicodedata

# What a text value in a file may not hold: C0 controls other than tab and newline,
# DEL, C1 controls, and the bidi embeddings, overrides and isolates.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
ACCEPTED = "write printable text, tabs and line breaks only"

# What no output may carry raw: the above, plus carriage return and the other
# invisible direction marks (they cannot rewrite the screen, but they can make a
# name look like another one).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_ONE_LINE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)

_NAMES = {
    0x00: "NUL",
    0x07: "bell",
    0x08: "backspace",
    0x0B: "vertical tab",
    0x0C: "form feed",
    0x0D: "carriage return",
    0x1B: "escape",
    0x7F: "delete",
    0x85: "next line",
    0x9B: "CSI",
    0x9D: "OSC",
}


def first_forbidden(text: str) -> tuple[int, str] | None:
    """The offset and the character of the first one a file may not hold, or None."""
    match = FORBIDDEN.search(text)
    return (match.start(), match.group()) if match else None


def describe_char(ch: str) -> str:
    """``U+001B (escape)``: how an error names a character it refuses."""
    code = ord(ch)
    name = _NAMES.get(code)
    if name is None:
        try:
            name = unicodedata.name(ch).lower()
        except ValueError:
            name = "C0 control" if code < 0x20 else "C1 control" if code < 0xA0 else "control"
    return f"U+{code:04X} ({name})"


def refusal(text: str, what: str = "text") -> str | None:
    """Why ``text`` cannot be accepted from a file, or None when it can.

    ``the text holds U+001B (escape) at character 5: a control character could
    rewrite the terminal (write printable text, tabs and line breaks only)``:
    the loaders put it after ``file:line:col: path:``.
    """
    found = first_forbidden(text)
    if found is None:
        return None
    offset, ch = found
    at = f" at character {offset + 1}" if len(text) > 1 else ""
    if 0x202A <= ord(ch) <= 0x2069:
        why = "a direction override could make the text read as something it is not"
    else:
        why = "a control character could rewrite the terminal"
    return f"the {what} holds {describe_char(ch)}{at}: {why} ({ACCEPTED})"


def _token(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # ␛ ␇ ␀ …: one cell, visibly not the real thing
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"⟨U+{code:04X}⟩"


def visible(text: str) -> str:
    """``text`` with every control or direction character shown as an inert token.

    Newlines and tabs are kept (for multi-line output such as ``show``); use
    :func:`one_line` where a value must stay on its line.
    """
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(lambda m: _token(m.group()), text)


def one_line(text: str) -> str:
    """:func:`visible` on one line: newlines, tabs and line separators become spaces."""
    if _UNSAFE_ONE_LINE.search(text) is None:
        return text
    return _UNSAFE_ONE_LINE.sub(
        lambda m: " " if m.group() in "\t\n\u2028\u2029" else _token(m.group()), text
    )


def file_name(name: str) -> str:
    """A file name of our own from a name someone else chose (an attachment's).

    Every character that is not printable (controls, direction marks, line and
    paragraph separators, invisible spaces) becomes ``_``, and a leading dot too,
    so that the file is neither hidden nor able to rewrite a terminal that lists it.
    """
    out = "".join(ch if ch.isprintable() else "_" for ch in name)
    return "_" + out[1:] if out.startswith(".") else out


# What JSON with ``ensure_ascii=False`` leaves raw but a terminal would act on (JSON
# escapes C0 itself): DEL, C1, the direction marks, and the line separators that some
# JavaScript readers take for line ends.
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json_text(encoded: str) -> str:
    """JSON text (as ``json.dumps(..., ensure_ascii=False)`` writes it) with every
    character a terminal would act on written as a ``\\uXXXX`` escape.

    The data is unchanged: a JSON reader gets back exactly the same strings. Only
    strings can hold such characters, so escaping them anywhere is valid JSON.
    """
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)


def dumps(value: object, *, indent: int | None = None) -> str:
    """``json.dumps`` for output people and programs read: UTF-8 text kept readable,
    control and direction characters escaped (see :func:`json_text`)."""
    import json

    return json_text(json.dumps(value, indent=indent, ensure_ascii=False))


def is_clean(text: str) -> bool:
    """Whether ``text`` can be printed as it is (nothing :func:`visible` would change)."""
    return _UNSAFE.search(text) is None

"""Durations and percentages as routine files write them.

A duration is ``45`` or ``45s`` (seconds, ``2.5s`` allowed), ``2m``, ``1m30s``,
``1h``, ``1h5m``, ``1:30`` (m:ss) or ``1:02:03`` (h:mm:ss). YAML 1.1 reads an
unquoted ``1:30`` as the base-60 integer 90, which happens to be its seconds,
so numbers are simply seconds. ``off`` arrives as ``False``; where a duration
may be zero (``rest``, ``switch``, ``get_ready``) it means 0 s.
"""

from __future__ import annotations

import math
import re

DURATION_HELP = "use 45s, 2m, 1m30s or 1:30"

# The shapes a parser accepts once the text is stripped and lower-cased. Spaces may
# stand between a number and its unit and between units ("1m 30s"), never inside a
# number ("1 2" is not 12 s). The values below 60 are checked with a message.
_UNITS = re.compile(
    r"(?:(?P<h>[0-9]+) *h)? *(?:(?P<m>[0-9]+) *m)? *(?:(?P<s>[0-9]+(?:\.[0-9]+)?) *s)?"
)
_CLOCK = re.compile(
    r"(?P<h>[0-9]+):(?P<hm>[0-9]{1,2}):(?P<hs>[0-9]{1,2})|(?P<m>[0-9]+):(?P<s>[0-9]{1,2})"
)
_BARE = re.compile(r"[0-9]+(?:\.[0-9]+)?")

# The same language as one regular expression, for the JSON Schema (which must agree
# with the loader): minutes after hours and seconds after minutes below 60.
_LT60 = r"0*[0-5]?[0-9]"
_BODY = (
    r"[0-9]+(?:\.[0-9]+)?(?: *[sS])?"
    rf"|[0-9]+ *[hH](?: *{_LT60} *[mM])?(?: *{_LT60}(?:\.[0-9]+)? *[sS])?"
    rf"|[0-9]+ *[mM](?: *{_LT60}(?:\.[0-9]+)? *[sS])?"
    r"|[0-9]+:[0-5]?[0-9](?::[0-5]?[0-9])?"
)
DURATION_PATTERN = rf"^\s*\+?(?:{_BODY})\s*$"
SIGNED_DURATION_PATTERN = rf"^\s*[-+]?(?:{_BODY})\s*$"
# More than 0: some digit is not a zero.
POSITIVE_DURATION_PATTERN = rf"^(?=[^1-9]*[1-9])\s*\+?(?:{_BODY})\s*$"

# Durations below one second, written any way the language allows ("0.5", "0.5s",
# "0m 0.5s", "0h0.9s", and the zeros "0", "0:00"): no segment and no breathing phase
# may be that short (a 0.001 s phase would print thousands of lines a second).
_SUB_SECOND = (
    r"\s*\+?(?:(?:0+ *[hH] *)?(?:0+ *[mM] *)?(?:0+(?:\.[0-9]+)? *[sS]?)?"
    r"|0+:0{1,2}(?::0{1,2})?)\s*$"
)
# At least one second (a repetition, a rest step, a breathing phase).
AT_LEAST_A_SECOND_PATTERN = rf"^(?!{_SUB_SECOND})\s*\+?(?:{_BODY})\s*$"
# Zero (off) or at least one second (a rest or switch between repetitions, get_ready).
OFF_OR_A_SECOND_PATTERN = rf"^(?!(?=[^1-9]*[1-9]){_SUB_SECOND})\s*\+?(?:{_BODY})\s*$"
MIN_SEGMENT_S = 1.0

# Text that a person meant as a duration (rather than, say, a rest step's title).
LOOKS_LIKE_DURATION_PATTERN = r"^\s*[-+]?[0-9:.]+\s*[hmsHMS0-9:.\s]*$"
LOOKS_LIKE_DURATION = re.compile(LOOKS_LIKE_DURATION_PATTERN)


def _bad(text: object, why: str = "") -> ValueError:
    return ValueError(f"{text!r} is not a duration{': ' + why if why else ''} ({DURATION_HELP})")


def _parse_text(text: str) -> float:
    """Seconds from unsigned duration text that has no surrounding spaces."""
    s = text.lower()
    if len(s) > 40:  # int() refuses thousands of digits; no real duration is this long
        raise ValueError(f"this text is too long for a duration ({DURATION_HELP})")
    if not s or s[0] not in "0123456789":  # "- 5s", "+-5", ".5", ""
        raise _bad(text)
    if _BARE.fullmatch(s):
        return float(s)
    m = _UNITS.fullmatch(s)
    if m and any(m.group(k) for k in ("h", "m", "s")):
        h, mi, sec = (m.group("h"), m.group("m"), m.group("s"))
        # A smaller unit after a bigger one must stay below 60: "1m70s" is a typo.
        if h and mi and int(mi) >= 60:
            raise _bad(text, "minutes after hours go up to 59")
        if (h or mi) and sec and float(sec) >= 60:
            raise _bad(text, "seconds after minutes go up to 59")
        return int(h or 0) * 3600 + int(mi or 0) * 60 + float(sec or 0)
    m = _CLOCK.fullmatch(s)
    if m:
        if m.group("h") is not None:
            mm, ss = int(m.group("hm")), int(m.group("hs"))
            if mm >= 60 or ss >= 60:
                raise _bad(text, "minutes and seconds go up to 59")
            return float(int(m.group("h")) * 3600 + mm * 60 + ss)
        ss = int(m.group("s"))
        if ss >= 60:
            raise _bad(text, "seconds go up to 59")
        return float(int(m.group("m")) * 60 + ss)
    raise _bad(text)


def parse_duration(value: object, *, signed: bool = False, allow_off: bool = False) -> float:
    """Seconds from any accepted form; ``ValueError`` with a readable message otherwise.

    ``signed`` accepts a leading minus (cue offsets counted from the end).
    ``allow_off`` turns ``off``/``false`` into 0 s.
    """
    if isinstance(value, bool):
        if value is False and allow_off:
            return 0.0
        shown = "off" if value is False else "on"
        raise ValueError(f"'{shown}' is not a duration ({DURATION_HELP})")
    if isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:  # an integer with hundreds of digits
            raise ValueError(f"this number is too large for a duration ({DURATION_HELP})") from None
        if not math.isfinite(seconds):
            raise _bad(value)
    elif isinstance(value, str):
        text = value.strip()
        negative = text.startswith("-")
        if negative and not signed:
            raise ValueError(
                f"{value!r} is negative; a duration here is 0 or more ({DURATION_HELP})"
            )
        # One sign, right before the number: "+-5s" and "- 5s" are not durations.
        body = text[1:] if text.startswith(("-", "+")) else text
        seconds = _parse_text(body)
        if negative:
            seconds = -seconds
    else:
        raise _bad(value)
    if seconds < 0 and not signed:
        raise ValueError(f"{value!r} is negative; a duration here is 0 or more ({DURATION_HELP})")
    return seconds


def format_duration(seconds: float) -> str:
    """A compact human form: ``45s``, ``1m30s``, ``1h05m``, ``2.5s``."""
    if seconds < 60:
        return f"{seconds:g}s"
    total = round(seconds)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h}h{m:02d}m" + (f"{s:02d}s" if s else "")
    return f"{m}m{s:02d}s" if s else f"{m}m"


def exact_length(seconds: float) -> str:
    """``28801`` → ``8 h 0 min 1 s``: every unit down to the last one that is not zero,
    nothing rounded away, so a limit message shows by how much it was passed."""
    seconds = round(seconds, 3)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    units = [(hours, "h"), (minutes, "min"), (round(secs, 3), "s")]
    while len(units) > 1 and units[0][0] == 0:
        units.pop(0)
    while len(units) > 1 and units[-1][0] == 0:
        units.pop()
    return " ".join(f"{value:g} {unit}" for value, unit in units)


def format_clock(seconds: float) -> str:
    """``MM:SS`` (or ``H:MM:SS`` past an hour) for timelines and countdowns."""
    total = max(0, int(seconds + 0.5))
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


PERCENT_HELP = "use a percent from 0% to 100%, like 40%"
# The shape of a percent in text; a value outside 0–100 gets its own message.
_PERCENT_TEXT = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*%?\s*")
# The same, limited to 0–100, for the JSON Schema.
PERCENT_PATTERN = r"^\s*0*(?:100(?:\.0+)?|[0-9]{1,2}(?:\.[0-9]+)?)\s*%?\s*$"


def parse_percent(value: object) -> float:
    """``40%``, ``40`` or ``40.5`` → 40.0; 0–100 inclusive."""
    if isinstance(value, bool):
        raise ValueError(f"{'on' if value else 'off'!r} is not a percent ({PERCENT_HELP})")
    if isinstance(value, (int, float)):
        try:
            pct = float(value)
        except OverflowError:  # an integer with hundreds of digits
            raise ValueError(f"this number is outside 0–100% ({PERCENT_HELP})") from None
    elif isinstance(value, str):
        # Digits with an optional fraction and %: not "1e1", "4_0", "-0" or "inf",
        # which float() would take (the JSON Schema has the same pattern).
        m = _PERCENT_TEXT.fullmatch(value)
        if not m:
            raise ValueError(f"{value!r} is not a percent ({PERCENT_HELP})")
        pct = float(m.group(1))
    else:
        raise ValueError(f"{value!r} is not a percent ({PERCENT_HELP})")
    if not math.isfinite(pct) or not 0 <= pct <= 100:
        raise ValueError(f"{value!r} is outside 0–100% ({PERCENT_HELP})")
    return pct

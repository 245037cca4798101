"""Reading a routine file quickly: a valid file is checked without pydantic.

The pydantic models (``model.py``) are the format's one description: they give
the JSON Schema and every error message with its line and column. Importing and
building them costs about 100 ms, more than the rest of a one-file command
together. Most files people run are valid, so this module first checks the YAML
data against the same rules by hand and builds the routine as plain dataclasses
(``checked.py``). The quick check answers only "valid" or "not sure": a file
with any mistake, or with anything it does not know, goes to the full loader,
which gives the exact messages (or, for a valid file the quick check does not
know, the same routine). It never needs to explain anything, which keeps it
short. The tests hold both to the same answer on every bundled routine, every
example in the docs and thousands of mutated files.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NoReturn

from tproutine.routine import checked as c
from tproutine.routine.durations import (
    LOOKS_LIKE_DURATION,
    MIN_SEGMENT_S,
    parse_duration,
    parse_percent,
)
from tproutine.yamlsafe import MAX_BYTES, LoadError, Problem, load_yaml

if TYPE_CHECKING:
    from pathlib import Path  # not at run time: pathlib costs a one-file command ~5 ms

    from tproutine.routine.timeline import Timeline

WHAT = "a routine: a mapping with format, name and steps"
# The models' own values (a test checks that they agree).
FORMAT = "tproutine/1"
MAX_STEP_SECONDS = 3600.0
MAX_NESTING = 4
MAX_REMINDERS = 6
STEP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


class _Unsure(Exception):
    """The quick check does not accept this: the full loader decides and explains."""


def _unsure() -> NoReturn:
    raise _Unsure


Check = Callable[[Any], Any]
_REQUIRED = object()


def _fields(data: Any, spec: dict[str, tuple[Check, Any]]) -> dict[str, Any]:
    """Each key of ``spec`` checked (or its default); any other key is unsure."""
    if type(data) is not dict or not data.keys() <= spec.keys():
        _unsure()
    out: dict[str, Any] = {}
    for key, (check, default) in spec.items():
        if key in data:
            out[key] = check(data[key])
        elif default is _REQUIRED:
            _unsure()
        else:
            out[key] = default
    return out


# --- values (strict: no conversions between types, as the models are strict) ----------


def _str(lo: int = 0, hi: int | None = None) -> Check:
    def check(value: Any) -> str:
        if type(value) is not str or len(value) < lo or (hi is not None and len(value) > hi):
            _unsure()
        return value

    return check


_text = _str(1)  # the models' Text: at least one character


def _int(lo: int, hi: int) -> Check:
    def check(value: Any) -> int:
        if type(value) is not int or not lo <= value <= hi:  # bool is not an int here
            _unsure()
        return value

    return check


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        _unsure()
    return value


def _side(value: Any) -> str:
    if type(value) is not str or value not in ("left", "right", "both"):
        _unsure()
    return value


def _optional(check: Check) -> Check:
    return lambda value: None if value is None else check(value)


def _tuple_of(check: Check, lo: int = 0, hi: int | None = None) -> Check:
    def tuple_check(value: Any) -> tuple[Any, ...]:
        if type(value) is not list or len(value) < lo or (hi is not None and len(value) > hi):
            _unsure()
        return tuple(check(v) for v in value)

    return tuple_check


# Durations and percents go through the same parsers as the models (ValueError = unsure).


def _duration(value: Any) -> float:
    """At least a second, at most an hour (a repetition, a rest step, a breathing phase)."""
    seconds = parse_duration(value)
    if not MIN_SEGMENT_S <= seconds <= MAX_STEP_SECONDS:
        _unsure()
    return seconds


def _zero_or_more(value: Any) -> float:
    """Off (0 s), or at least a second and at most an hour (a rest, a switch, get ready)."""
    seconds = parse_duration(value, allow_off=True)
    if seconds > MAX_STEP_SECONDS or 0 < seconds < MIN_SEGMENT_S:
        _unsure()
    return seconds


def _signed(value: Any) -> float:
    seconds = parse_duration(value, signed=True)
    if abs(seconds) > MAX_STEP_SECONDS:
        _unsure()
    return seconds


_percent: Check = parse_percent

_CUE = {"at": (_signed, _REQUIRED), "say": (_text, _REQUIRED)}


def _cue(value: Any) -> c.Cue:
    return c.Cue(**_fields(value, _CUE))


_DEVICE = {
    "intensity": (_optional(_percent), None),
    "ramp": (_optional(_tuple_of(_percent, 2, 2)), None),
    "level": (_optional(_int(0, 10_000)), None),
}


def _device(value: Any) -> c.DeviceSpec | None:
    """``off`` (or false) is no device; a mapping has exactly one setting."""
    if value is False or (type(value) is str and value.strip().lower() == "off"):
        return None
    spec = c.DeviceSpec(**_fields(value, _DEVICE))
    if sum(v is not None for v in (spec.intensity, spec.ramp, spec.level)) != 1:
        _unsure()
    return spec


_cues = (_tuple_of(_cue), ())


def _step_id(value: Any) -> str:
    import re  # already loaded by the YAML reader: costs nothing here

    if type(value) is not str or not re.fullmatch(STEP_ID_PATTERN, value):
        _unsure()
    return value


_id = (_optional(_step_id), None)

# --- steps ---------------------------------------------------------------------------

_WORK = {
    "id": _id,
    "duration": (_duration, _REQUIRED),
    "area": (_optional(_text), None),
    "tool": (_optional(_text), None),
    "instructions": (_optional(_text), None),
    "pressure": (_optional(_int(0, 10)), None),
    "side": (_optional(_side), None),
    "alternate": (_bool, False),
    "reps": (_int(1, 100), 1),
    "rest": (_optional(_zero_or_more), None),
    "switch": (_optional(_zero_or_more), None),
    "cues": _cues,
    "device": (_device, None),
}
_BREATHE = {**_WORK, "pattern": (_optional(_tuple_of(_duration, 2, 4)), None)}


def _rest_value(value: Any) -> float | str:
    # `rest: 20s` is a length; `rest: Lie still` (text that is not a duration) a title.
    if type(value) is str and not LOOKS_LIKE_DURATION.match(value):
        return value
    return _duration(value)


_REST = {
    "rest": (_rest_value, _REQUIRED),
    "id": _id,
    "duration": (_optional(_duration), None),
    "instructions": (_optional(_text), None),
    "cues": _cues,
}
_REPEAT = {
    "repeat": (_int(1, 100), _REQUIRED),
    "rest": (_optional(_zero_or_more), None),
    "steps": (lambda v: _steps(v), _REQUIRED),
}


def _kind(step: dict[str, Any]) -> str:
    """The step's one kind key; `rest` is a kind only beside no other kind."""
    kinds = [k for k in step if k in c.WORK_KINDS or k == "repeat"]
    if not kinds and "rest" in step:
        return "rest"
    if len(kinds) != 1:
        _unsure()
    return kinds[0]


def _step(value: Any) -> c.Step:
    if type(value) is not dict:
        _unsure()
    kind = _kind(value)
    if kind == "repeat":
        return c.RepeatBlock(**_fields(value, _REPEAT))
    if kind == "rest":
        fields = _fields(value, _REST)
        rest, duration = fields.pop("rest"), fields.pop("duration")
        if isinstance(rest, float) == (duration is not None):
            _unsure()  # a length given twice, or a title without a duration
        if isinstance(rest, float):
            return c.RestStep(title="Rest", seconds=rest, **fields)
        return c.RestStep(title=rest, seconds=duration, **fields)
    spec = _BREATHE if kind == "breathe" else _WORK
    fields = _fields({k: v for k, v in value.items() if k != kind}, spec)
    return c.WorkStep(kind=kind, title=_text(value[kind]), device_given="device" in value, **fields)


def _steps(value: Any) -> tuple[c.Step, ...]:
    steps: tuple[c.Step, ...] = _tuple_of(_step, 1)(value)
    return steps


# --- the routine ---------------------------------------------------------------------


def _format(value: Any) -> str:
    if value != FORMAT or type(value) is not str:
        _unsure()
    return FORMAT


_SAFETY = {"warnings": (_tuple_of(_text), ()), "avoid_if": (_tuple_of(_text), ())}
_DEFAULTS = {
    "pressure": (_optional(_int(0, 10)), None),
    "rest": (_optional(_zero_or_more), None),
    "switch": (_optional(_zero_or_more), None),
    "tool": (_optional(_text), None),
    "device": (_device, None),
    "area": (_optional(_text), None),
}


def _reminder(value: Any) -> str:
    """``"08:00"`` (the models normalise a time the same way; a ValueError is unsure)."""
    from tproutine.routine.plan import parse_time_of_day

    return parse_time_of_day(value).strftime("%H:%M")


def _reminders(value: Any) -> tuple[str, ...]:
    if type(value) is not list:
        return (_reminder(value),)
    if not 1 <= len(value) <= MAX_REMINDERS:
        _unsure()
    return tuple(_reminder(v) for v in value)


_PLAN = {
    "per_week": (_int(1, 14), _REQUIRED),
    "weeks": (_optional(_int(1, 104)), None),
    "reminder": (_reminders, ()),
}
_ROUTINE = {
    "format": (_format, _REQUIRED),
    "name": (_str(1, 120), _REQUIRED),
    "summary": (_optional(_str(0, 200)), None),
    "description": (_optional(_str()), None),
    "author": (_optional(_str()), None),
    "tags": (_tuple_of(_text), ()),
    "safety": (lambda v: c.Safety(**_fields(v, _SAFETY)), c.Safety()),
    "get_ready": (_zero_or_more, 5.0),
    "defaults": (lambda v: c.Defaults(**_fields(v, _DEFAULTS)), c.Defaults()),
    "plan": (_optional(lambda v: c.Plan(**_fields(v, _PLAN))), None),
    "steps": (_steps, _REQUIRED),
}


def _sound(steps: Iterable[c.Step], depth: int = 0, ids: set[str] | None = None) -> bool:
    """The rules across fields: repeats nest at most 4 deep, each cue falls inside
    its repetition, `alternate` goes with `side: both`, and no two steps share an id."""
    ids = set() if ids is None else ids
    for step in steps:
        if isinstance(step, c.RepeatBlock):
            if depth + 1 > MAX_NESTING or not _sound(step.steps, depth + 1, ids):
                return False
            continue
        if step.id is not None:
            if step.id in ids:
                return False
            ids.add(step.id)
        seconds = step.seconds if isinstance(step, c.RestStep) else step.duration
        for cue in step.cues:
            at = cue.at if cue.at >= 0 else seconds + cue.at
            if not 0 <= at < seconds:
                return False
        if isinstance(step, c.WorkStep) and step.alternate and step.side != "both":
            return False
    return True


def check(data: Any) -> c.Routine | None:
    """The routine, when ``data`` (from :func:`load_yaml`) is certainly valid; else None."""
    try:
        routine = c.Routine(**_fields(data, _ROUTINE))
    except (_Unsure, ValueError):
        return None
    return routine if _sound(routine.steps) else None


# --- files ---------------------------------------------------------------------------


def read_file(path: str | Path, *, shown: str | None = None) -> bytes:
    """The file's bytes, or a LoadError that says why it cannot be read."""
    name = shown or str(path)
    try:
        size = os.stat(path).st_size
        if size <= MAX_BYTES:
            # Read at most one byte past the limit: `/dev/zero` or a growing file never hangs.
            with open(path, "rb") as f:
                data = f.read(MAX_BYTES + 1)
            if len(data) <= MAX_BYTES:
                return data
            size = len(data)
        shown_size = f"{size:,} bytes" if size > MAX_BYTES + 1 else f"more than {MAX_BYTES:,} bytes"
        raise LoadError([Problem(name, 1, 1, "", f"the file is {shown_size}; the limit is 1 MiB")])
    except FileNotFoundError:
        raise LoadError([Problem(name, 0, 0, "", "no such file")]) from None
    except IsADirectoryError:
        raise LoadError([Problem(name, 0, 0, "", "this is a folder, not a routine file")]) from None
    except OSError as exc:
        raise LoadError([Problem(name, 0, 0, "", f"cannot read it: {exc.strerror}")]) from None


def read_routine(raw: bytes, file: str) -> tuple[c.Routine, Timeline]:
    """Check and expand a routine from its bytes: the routine and its timeline.

    The same result as the full loader's ``expand(parse_routine(raw, file))``, or
    the same LoadError; pydantic is imported only when the quick check is unsure.
    """
    from tproutine.routine.expand import expand_checked

    doc = load_yaml(raw, file, what=WHAT)
    routine = check(doc.data)
    if routine is None:
        from tproutine.routine.loader import parse_routine

        loaded = parse_routine(raw, file)  # the exact messages, or a routine after all
        routine = c.from_model(loaded.routine)
        doc = loaded.document
    digest = hashlib.sha256(raw).hexdigest()
    return routine, expand_checked(routine, doc, digest, file)


def load_timeline(path: str | Path, *, shown: str | None = None) -> Timeline:
    """Read, check and expand a routine file: what runners and screens use."""
    name = shown or str(path)
    return read_routine(read_file(path, shown=name), name)[1]

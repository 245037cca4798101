"""Adjustment files (``format: tproutine-adjust/1``): a routine, changed for a day.

A practitioner (or the person, within the same bounds) can make a routine easier
or shorter without editing its file: skip a step, change a step's duration or
reps, lower its pressure or its device intensity, and scale every hold and
stretch by ``time_scale``. Steps are named by their ``id`` or their exact title.

Two stages, each with ``file:line:col`` errors that point into the adjustment:

1. :func:`parse_adjustment` checks the file on its own (through ``yamlsafe``, like
   every file): the keys, the types, the values' own ranges.
2. :func:`adjust` checks it against the routine (its name, its steps, the bounds
   relative to the routine's own values) and returns the adjusted timeline.

The bounds keep the practitioner's intent: durations and reps 0.5× to 1.5× of
the routine's, pressure at most 2 below or 1 above, device intensity never above
the routine's, no new steps. :func:`easier_today` is the app's one-key "easier
today" (time ×0.75, pressure −1, device −10 points), kept within the same bounds.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tproutine.routine import model as m
from tproutine.routine.durations import (
    MIN_SEGMENT_S,
    format_duration,
    parse_duration,
    parse_percent,
)
from tproutine.routine.loader import LoadedRoutine, read_file
from tproutine.routine.timeline import AdjustmentNote, Timeline
from tproutine.suggest import suggest
from tproutine.yamlsafe import Document, LoadError, Problem, describe_value, load_yaml

ADJUST_FORMAT = "tproutine-adjust/1"
WHAT = "an adjustment: a mapping with format, routine and steps"
TOP_KEYS = ("format", "routine", "note", "time_scale", "steps")
STEP_KEYS = ("skip", "duration", "reps", "pressure", "device")
SCALE_LOW, SCALE_HIGH = 0.5, 1.5
PRESSURE_BELOW, PRESSURE_ABOVE = 2, 1
# "Easier today": what the app's one key does, without a file.
EASIER_TIME_SCALE = 0.75
EASIER_PRESSURE = -1
EASIER_DEVICE_POINTS = -10.0
EASIER_SUMMARY = "easier today (time ×0.75, pressure −1, device −10 points)"
SUMMARY_LIMIT = 200

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class DeviceChange:
    """``off``, or a setting of the same shape as a routine's (intensity, ramp or level)."""

    off: bool = False
    from_pct: float | None = None
    to_pct: float | None = None
    level: int | None = None

    def text(self) -> str:
        if self.off:
            return "device off"
        if self.level is not None:
            return f"device level {self.level}"
        if self.from_pct == self.to_pct:
            return f"device {self.from_pct:g}%"
        return f"device {self.from_pct:g}→{self.to_pct:g}%"


@dataclass(frozen=True)
class StepChange:
    """What the adjustment does to one named step."""

    key: str  # the id or title it was named by, as written
    skip: bool = False
    duration: float | None = None
    reps: int | None = None
    pressure: int | None = None
    device: DeviceChange | None = None

    def text(self) -> str:
        if self.skip:
            return f"{self.key}: skipped"
        parts = []
        if self.pressure is not None:
            parts.append(f"pressure {self.pressure}")
        if self.duration is not None:
            parts.append(format_duration(self.duration))
        if self.reps is not None:
            parts.append(f"{self.reps} reps")
        if self.device is not None:
            parts.append(self.device.text())
        return f"{self.key}: {', '.join(parts)}"


@dataclass(frozen=True)
class Adjustment:
    """A checked adjustment file, not yet applied to a routine."""

    routine: str
    document: Document
    content_hash: str
    source: str
    note: str | None = None
    time_scale: float | None = None
    steps: tuple[StepChange, ...] = ()

    def summary(self) -> str:
        """One line: ``time ×0.75; upper-trap: pressure 4, 30s; Doorway chest stretch: skipped``."""
        parts = [f"time ×{self.time_scale:g}"] if self.time_scale is not None else []
        parts += [change.text() for change in self.steps]
        return _clip(" ".join("; ".join(parts).split()) or "no changes")


def _clip(text: str) -> str:
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def is_adjustment(raw: bytes) -> bool:
    """Whether ``raw`` may be an adjustment file (confirmed by its ``format`` when parsed)."""
    return ADJUST_FORMAT.split("/")[0].encode() + b"/" in raw


# --- stage 1: the file on its own ------------------------------------------------------------


class _Checker:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def fail(self, path: Path_, message: str, *, key: bool = False) -> None:
        self.problems.append(self.doc.problem(path, message, key=key))

    def unknown_keys(self, mapping: dict[str, Any], path: Path_, known: tuple[str, ...]) -> None:
        for key in mapping:
            if key not in known:
                hint = suggest(str(key), known)
                did = f"did you mean '{hint}'? " if hint else ""
                self.fail(
                    (*path, key),
                    f"unknown key {key!r} ({did}known keys: {', '.join(known)}; "
                    "x- keys are ignored)",
                    key=True,
                )


def parse_adjustment(raw: bytes | str, file: str) -> Adjustment:
    """Check an adjustment file's structure; LoadError with every mistake otherwise."""
    doc = load_yaml(raw, file, what=WHAT)
    data = doc.data
    check = _Checker(doc)
    check.unknown_keys(data, (), TOP_KEYS)
    fmt = data.get("format")
    if fmt != ADJUST_FORMAT:
        if "format" not in data:
            check.fail((), f"'format' is required (write `format: {ADJUST_FORMAT}` first)")
        elif isinstance(fmt, str) and fmt.startswith("tproutine/"):
            check.fail(("format",), f"this is a routine ({fmt!r}), not an adjustment")
        else:
            check.fail(("format",), f"{fmt!r} is not {ADJUST_FORMAT!r}")
    routine = data.get("routine")
    if "routine" not in data:
        check.fail((), "'routine' is required: the name of the routine this adjusts")
    elif not isinstance(routine, str) or not routine.strip():
        check.fail(("routine",), f"expected the routine's name, got {describe_value(routine)}")
    note = data.get("note")
    if note is not None and not isinstance(note, str):
        check.fail(("note",), f"expected text, got {describe_value(note)}")
    time_scale = _time_scale(check, data)
    steps = _step_changes(check, data.get("steps"), "steps" in data)
    if not steps and time_scale is None and not check.problems:
        check.fail((), "this adjustment changes nothing (give time_scale or steps)")
    if check.problems:
        check.problems.sort(key=lambda p: (p.line, p.col))
        raise LoadError(check.problems)
    data_bytes = raw.encode("utf-8") if isinstance(raw, str) else raw
    return Adjustment(
        routine=" ".join(str(routine).split()),
        document=doc,
        content_hash=hashlib.sha256(data_bytes).hexdigest(),
        source=file,
        note=note if isinstance(note, str) and note.strip() else None,
        time_scale=time_scale,
        steps=tuple(steps),
    )


def load_adjustment(path: str | Path, *, shown: str | None = None) -> Adjustment:
    name = shown or str(path)
    return parse_adjustment(read_file(path, shown=name), name)


def _time_scale(check: _Checker, data: dict[str, Any]) -> float | None:
    value = data.get("time_scale")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        check.fail(("time_scale",), f"expected a number, got {describe_value(value)}")
        return None
    if not SCALE_LOW <= value <= SCALE_HIGH:
        check.fail(
            ("time_scale",),
            f"{value!r} is out of range (use {SCALE_LOW} to {SCALE_HIGH}: half to one and a "
            "half times the routine's holds and stretches)",
        )
        return None
    return float(value)


def _step_changes(check: _Checker, steps: object, given: bool) -> list[StepChange]:
    if not given or steps is None:
        return []
    if not isinstance(steps, dict):
        check.fail(
            ("steps",),
            f"expected a mapping of step ids or titles to changes, got {describe_value(steps)}",
        )
        return []
    out = []
    for key, value in steps.items():
        change = _step_change(check, str(key), value)
        if change is not None:
            out.append(change)
    return out


def _step_change(check: _Checker, key: str, value: object) -> StepChange | None:
    here: Path_ = ("steps", key)
    if value == "skip" or value is None:
        if value is None:
            check.fail(here, "nothing to change here (write `skip`, or a mapping of changes)")
            return None
        return StepChange(key, skip=True)
    if not isinstance(value, dict):
        check.fail(
            here,
            f"expected `skip` or a mapping like {{pressure: 4, duration: 30s}}, got "
            f"{describe_value(value, show_text=True)}",
        )
        return None
    check.unknown_keys(value, here, STEP_KEYS)
    skip = value.get("skip", False)
    if skip is not False and skip is not True:
        check.fail((*here, "skip"), f"expected true or false, got {describe_value(skip)}")
    if skip is True:
        others = [k for k in value if k != "skip" and k in STEP_KEYS]
        if others:
            check.fail((*here, others[0]), "a skipped step has nothing else to change")
        return StepChange(key, skip=True)
    duration = reps = pressure = None
    if "duration" in value:
        try:
            duration = parse_duration(value["duration"])
            if duration <= 0:
                raise ValueError("a duration here must be more than 0s")
        except ValueError as exc:
            check.fail((*here, "duration"), str(exc))
            duration = None
    if "reps" in value:
        reps = _whole(check, (*here, "reps"), value["reps"], 1, 100)
    if "pressure" in value:
        pressure = _whole(check, (*here, "pressure"), value["pressure"], 0, 10)
    device = (
        _device_change(check, (*here, "device"), value["device"]) if "device" in value else None
    )
    if not any(v is not None for v in (duration, reps, pressure, device)):
        if not value:
            check.fail(here, "nothing to change here (use skip, duration, reps, pressure, device)")
        return None
    return StepChange(key, duration=duration, reps=reps, pressure=pressure, device=device)


def _whole(check: _Checker, path: Path_, value: object, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        check.fail(path, f"expected a whole number, got {describe_value(value)}")
        return None
    if not low <= value <= high:
        check.fail(path, f"{value!r} is out of range (use {low} to {high})")
        return None
    return value


def _device_change(check: _Checker, path: Path_, value: object) -> DeviceChange | None:
    if value is False or (isinstance(value, str) and value.strip().lower() == "off"):
        return DeviceChange(off=True)
    accepted = "use off, {intensity: 20%}, {ramp: [10%, 30%]} or {level: 2}"
    if not isinstance(value, dict):
        check.fail(
            path, f"{describe_value(value, show_text=True)} is not a device setting ({accepted})"
        )
        return None
    check.unknown_keys(value, path, ("intensity", "ramp", "level"))
    given = [k for k in ("intensity", "ramp", "level") if k in value]
    if len(given) != 1:
        what = "none" if not given else " and ".join(given)
        check.fail(path, f"a device setting has exactly one of intensity, ramp or level ({what})")
        return None
    kind = given[0]
    raw = value[kind]
    try:
        if kind == "intensity":
            pct = parse_percent(raw)
            return DeviceChange(from_pct=pct, to_pct=pct)
        if kind == "ramp":
            if not isinstance(raw, list) or len(raw) != 2:
                raise ValueError("a ramp has two percents, from and to: [10%, 30%]")
            return DeviceChange(from_pct=parse_percent(raw[0]), to_pct=parse_percent(raw[1]))
    except ValueError as exc:
        check.fail((*path, kind), str(exc))
        return None
    level = _whole(check, (*path, "level"), raw, 0, 10_000)
    return DeviceChange(level=level) if level is not None else None


# --- stage 2: against the routine ------------------------------------------------------------


@dataclass
class _Target:
    """What one step becomes; None leaves a value as the routine has it."""

    skip: bool = False
    duration: float | None = None
    reps: int | None = None
    pressure: int | None = None
    device: m.DeviceSpec | None = None
    device_set: bool = False  # `device` was changed (None then means off)


@dataclass(frozen=True)
class _Located:
    path: str  # "steps[2].steps[0]"
    step: Any  # a work step or a rest step
    pressure: int | None  # with the routine's defaults
    device: m.DeviceSpec | None  # with the routine's defaults


def _located_steps(routine: m.Routine) -> Iterator[_Located]:
    defaults = routine.defaults

    def walk(steps: list[Any], prefix: str) -> Iterator[_Located]:
        for i, step in enumerate(steps):
            path = f"{prefix}[{i}]"
            if isinstance(step, m.RepeatBlock):
                yield from walk(step.steps, f"{path}.steps")
            elif isinstance(step, m.RestStep):
                yield _Located(path, step, None, None)
            elif hasattr(step, "duration"):
                pressure = step.pressure if step.pressure is not None else defaults.pressure
                device = step.device if "device" in step.model_fields_set else defaults.device
                yield _Located(path, step, pressure, device)

    yield from walk(routine.steps, "steps")


def _seconds(step: Any) -> float:
    return float(step.seconds if isinstance(step, m.RestStep) else step.duration)


def _find(key: str, located: list[_Located]) -> tuple[list[_Located], str]:
    by_id = [s for s in located if getattr(s.step, "id", None) == key]
    if by_id:
        return by_id, "id"
    return [s for s in located if s.step.title == key], "title"


@dataclass
class _Resolution:
    targets: dict[str, _Target] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _bounds_problem(adj: Adjustment, path: Path_, message: str) -> Problem:
    return adj.document.problem(path, message)


def _resolve(adj: Adjustment, loaded: LoadedRoutine) -> _Resolution:
    from tproutine.share.library import name_key

    routine = loaded.routine
    out = _Resolution()
    if name_key(adj.routine) != name_key(routine.name):
        out.problems.append(
            adj.document.problem(
                ("routine",),
                f"this adjustment is for {adj.routine!r}, not for {routine.name!r} "
                f"({loaded.source}); use it with the routine it names",
            )
        )
        return out
    located = list(_located_steps(routine))
    named: dict[str, str] = {}
    for change in adj.steps:
        here: Path_ = ("steps", change.key)
        found, how = _find(change.key, located)
        if not found:
            choices = [getattr(s.step, "id", None) or s.step.title for s in located]
            hint = suggest(change.key, choices)
            did = f"did you mean {hint!r}? " if hint else ""
            out.problems.append(
                adj.document.problem(
                    here,
                    f"no step of {routine.name!r} has this id or title ({did}steps: "
                    f"{', '.join(dict.fromkeys(choices))})",
                    key=True,
                )
            )
            continue
        if len(found) > 1:
            out.problems.append(
                adj.document.problem(
                    here,
                    f"{len(found)} steps have this {how} ({', '.join(s.path for s in found)}); "
                    "give the step an `id` in the routine and name it by that",
                    key=True,
                )
            )
            continue
        (step,) = found
        if step.path in named:
            out.problems.append(
                adj.document.problem(
                    here, f"names the same step as {named[step.path]!r}: keep one", key=True
                )
            )
            continue
        named[step.path] = change.key
        target = _check_change(adj, change, step, out.problems)
        if target is not None:
            out.targets[step.path] = target
    if adj.time_scale is not None:
        for step in located:
            target = out.targets.setdefault(step.path, _Target())
            if target.duration is None and step.step.kind in ("hold", "stretch"):
                target.duration = _seconds(step.step) * adj.time_scale
    skipped = {p for p, t in out.targets.items() if t.skip}
    if located and skipped >= {s.path for s in located}:
        out.problems.append(
            adj.document.problem(("steps",), "an adjustment cannot skip every step", key=True)
        )
    return out


def _check_change(
    adj: Adjustment, change: StepChange, step: _Located, problems: list[Problem]
) -> _Target | None:
    here: Path_ = ("steps", change.key)
    if change.skip:
        return _Target(skip=True)
    target = _Target()
    before = len(problems)
    seconds = _seconds(step.step)
    if change.duration is not None:
        low, high = seconds * SCALE_LOW, seconds * SCALE_HIGH
        if not low - 1e-9 <= change.duration <= high + 1e-9:
            problems.append(
                _bounds_problem(
                    adj,
                    (*here, "duration"),
                    f"{format_duration(change.duration)} is outside 0.5× to 1.5× of the "
                    f"routine's {format_duration(seconds)} (use {format_duration(low)} to "
                    f"{format_duration(high)})",
                )
            )
        target.duration = change.duration
    if change.reps is not None:
        if isinstance(step.step, m.RestStep):
            problems.append(_bounds_problem(adj, (*here, "reps"), "a rest step has no reps"))
        else:
            n = step.step.reps
            low_r, high_r = max(1, math.ceil(n * SCALE_LOW)), math.floor(n * SCALE_HIGH)
            if not low_r <= change.reps <= high_r:
                allowed = f"{low_r} to {high_r}" if low_r != high_r else f"{low_r}"
                problems.append(
                    _bounds_problem(
                        adj,
                        (*here, "reps"),
                        f"{change.reps} is outside 0.5× to 1.5× of the routine's {n} reps "
                        f"(use {allowed})",
                    )
                )
            target.reps = change.reps
    if change.pressure is not None:
        p0 = step.pressure
        if p0 is None:
            problems.append(
                _bounds_problem(
                    adj,
                    (*here, "pressure"),
                    "this step has no target pressure in the routine, so there is none to change",
                )
            )
        else:
            low_p, high_p = max(0, p0 - PRESSURE_BELOW), min(10, p0 + PRESSURE_ABOVE)
            if not low_p <= change.pressure <= high_p:
                problems.append(
                    _bounds_problem(
                        adj,
                        (*here, "pressure"),
                        f"{change.pressure} is more than {PRESSURE_BELOW} below or "
                        f"{PRESSURE_ABOVE} above the routine's {p0} (use {low_p} to {high_p})",
                    )
                )
            target.pressure = change.pressure
    if change.device is not None:
        spec = _check_device(adj, (*here, "device"), change.device, step.device, problems)
        target.device, target.device_set = spec, True
    return target if len(problems) == before else None


def _check_device(
    adj: Adjustment,
    path: Path_,
    change: DeviceChange,
    routine: m.DeviceSpec | None,
    problems: list[Problem],
) -> m.DeviceSpec | None:
    if routine is None:
        problems.append(
            _bounds_problem(
                adj, path, "this step does not use the device; an adjustment cannot add it"
            )
        )
        return None
    if change.off:
        return None
    if routine.level is not None or change.level is not None:
        if routine.level is None or change.level is None:
            problems.append(
                _bounds_problem(
                    adj,
                    path,
                    "the routine sets this step's device by "
                    + ("level" if routine.level is not None else "percent")
                    + "; change it the same way",
                )
            )
            return None
        if change.level > routine.level:
            problems.append(
                _bounds_problem(
                    adj,
                    (*path, "level"),
                    f"level {change.level} is above the routine's {routine.level} "
                    f"(use 0 to {routine.level}, or off)",
                )
            )
        return m.DeviceSpec(level=change.level)
    start, end = _percents(routine)
    assert change.from_pct is not None and change.to_pct is not None
    # Never above the routine at any moment: a ramp is compared at both ends, a constant
    # intensity against the lower end of the routine's ramp.
    constant = change.from_pct == change.to_pct
    limit_from, limit_to = (min(start, end), min(start, end)) if constant else (start, end)
    if change.from_pct > limit_from or change.to_pct > limit_to:
        shown = f"{start:g}%" if start == end else f"{start:g}% to {end:g}%"
        allowed = f"at most {limit_from:g}%" if constant else f"at most [{start:g}%, {end:g}%]"
        problems.append(
            _bounds_problem(
                adj,
                path,
                f"{change.text().removeprefix('device ')} is above the routine's {shown} "
                f"(an adjustment may only lower it: {allowed}, or off)",
            )
        )
    if constant:
        return m.DeviceSpec(intensity=change.from_pct)
    return m.DeviceSpec(ramp=[change.from_pct, change.to_pct])


def _percents(spec: m.DeviceSpec) -> tuple[float, float]:
    if spec.ramp is not None:
        return spec.ramp[0], spec.ramp[1]
    assert spec.intensity is not None
    return spec.intensity, spec.intensity


# --- building the adjusted routine -----------------------------------------------------------


def _scaled_cues(cues: list[m.Cue], old: float, new: float) -> list[m.Cue]:
    """Cues keep their place in the repetition: a cue at half time stays at half time."""
    if new == old:
        return cues
    factor = new / old
    out = []
    for cue in cues:
        at = cue.at
        if at >= 0:
            at = round(at * factor, 1)
            at = min(at, max(new - 0.1, 0.0))
        elif -at > new:
            at = round(at * factor, 1)
        out.append(cue.model_copy(update={"at": at}))
    return out


def _apply_step(step: Any, target: _Target) -> Any:
    update: dict[str, Any] = {}
    if target.duration is not None:
        old = _seconds(step)
        # Never below the shortest a segment may be (half of a 1 s hold is still 1 s).
        seconds = max(round(target.duration, 1), MIN_SEGMENT_S)
        # Whole seconds read better on screen ("34s", not "33.8s") where they stay in bounds.
        if seconds >= 10 and old * SCALE_LOW <= round(seconds) <= old * SCALE_HIGH:
            seconds = float(round(seconds))
        if isinstance(step, m.RestStep) and not isinstance(step.rest, str):
            update["rest"] = seconds
        else:
            update["duration"] = seconds
        update["cues"] = _scaled_cues(step.cues, old, seconds)
    if target.reps is not None:
        update["reps"] = target.reps
    if target.pressure is not None:
        update["pressure"] = target.pressure
    if target.device_set:
        update["device"] = target.device
    return step.model_copy(update=update) if update else step


def _rebuild(steps: list[Any], prefix: str, targets: dict[str, _Target]) -> list[Any]:
    out = []
    for i, step in enumerate(steps):
        path = f"{prefix}[{i}]"
        if isinstance(step, m.RepeatBlock):
            inner = _rebuild(step.steps, f"{path}.steps", targets)
            if inner:
                out.append(step.model_copy(update={"steps": inner}))
            continue
        target = targets.get(path)
        if target is None:
            out.append(step)
        elif not target.skip:
            out.append(_apply_step(step, target))
    return out


def _expand(loaded: LoadedRoutine, targets: dict[str, _Target], note: AdjustmentNote) -> Timeline:
    from tproutine.routine.expand import expand

    routine = loaded.routine.model_copy(
        update={"steps": _rebuild(loaded.routine.steps, "steps", targets)}
    )
    return expand(replace(loaded, routine=routine)).replace(adjustment=note)


def adjust(loaded: LoadedRoutine, adj: Adjustment) -> Timeline:
    """The routine's timeline with ``adj`` applied; LoadError (pointing into the
    adjustment file) when it names another routine, a missing step, or goes past a bound."""
    resolution = _resolve(adj, loaded)
    if resolution.problems:
        resolution.problems.sort(key=lambda p: (p.line, p.col))
        raise LoadError(resolution.problems)
    note = AdjustmentNote(adj.content_hash, adj.summary(), adj.source)
    return _expand(loaded, resolution.targets, note)


def easier_today(loaded: LoadedRoutine, adj: Adjustment | None = None) -> Timeline:
    """The app's "easier today": holds and stretches ×0.75, pressure −1, device −10
    points (a raw level: one lower), on top of ``adj`` when one is in force, and
    never past the bounds of an adjustment file."""
    targets: dict[str, _Target] = {}
    if adj is not None:
        resolution = _resolve(adj, loaded)
        if resolution.problems:
            raise LoadError(resolution.problems)
        targets = resolution.targets
    for step in _located_steps(loaded.routine):
        target = targets.setdefault(step.path, _Target())
        if target.skip:
            continue
        seconds = _seconds(step.step)
        if step.step.kind in ("hold", "stretch"):
            current = target.duration if target.duration is not None else seconds
            target.duration = max(current * EASIER_TIME_SCALE, seconds * SCALE_LOW)
        pressure = target.pressure if target.pressure is not None else step.pressure
        if pressure is not None and step.pressure is not None:
            target.pressure = max(pressure + EASIER_PRESSURE, step.pressure - PRESSURE_BELOW, 0)
        device = target.device if target.device_set else step.device
        if device is not None:
            target.device, target.device_set = _lower(device), True
    base = adj.content_hash if adj is not None else ""
    summary = EASIER_SUMMARY + (f"; {adj.summary()}" if adj is not None else "")
    digest = hashlib.sha256(f"{base}+easier-today/1".encode()).hexdigest()
    source = adj.source if adj is not None else None
    return _expand(loaded, targets, AdjustmentNote(digest, _clip(summary), source))


def _lower(spec: m.DeviceSpec) -> m.DeviceSpec:
    if spec.level is not None:
        return m.DeviceSpec(level=max(spec.level - 1, 0))
    if spec.ramp is not None:
        a, b = spec.ramp
        return m.DeviceSpec(
            ramp=[max(a + EASIER_DEVICE_POINTS, 0.0), max(b + EASIER_DEVICE_POINTS, 0.0)]
        )
    assert spec.intensity is not None
    return m.DeviceSpec(intensity=max(spec.intensity + EASIER_DEVICE_POINTS, 0.0))


# --- adjustments in the person's library ------------------------------------------------------


def adjustment_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    except OSError:
        return []


def find_adjustment(routine_name: str, folder: Path | None = None) -> Adjustment | None:
    """The adjustment in the person's library that names ``routine_name``, if any.

    Files that cannot be read or checked are passed over here (``validate`` says why);
    of several for one routine, the first by file name is used.
    """
    from tproutine import paths
    from tproutine.share.library import name_key

    wanted = name_key(routine_name)
    for path in adjustment_files(folder or paths.user_adjustments_dir()):
        try:
            adj = load_adjustment(path)
        except LoadError:
            continue
        if name_key(adj.routine) == wanted:
            return adj
    return None


def timeline_for(
    path: str | Path,
    *,
    adjust_file: str | Path | None = None,
    library: bool = True,
    easier: bool = False,
    report: Callable[[str], None] | None = None,
) -> Timeline:
    """The timeline to run for the routine at ``path``: with ``adjust_file`` when given
    (its mistakes are errors), else with the library's adjustment for this routine
    when ``library`` (one that no longer fits is reported and left out: the routine
    runs as written), and "easier today" on top when ``easier``."""
    from tproutine.routine.expand import expand
    from tproutine.routine.loader import load_routine

    loaded = load_routine(path)
    adj: Adjustment | None = None
    if adjust_file is not None:
        adj = load_adjustment(adjust_file)
        timeline = adjust(loaded, adj)
    elif library and (found := find_adjustment(loaded.routine.name)) is not None:
        try:
            timeline = adjust(loaded, found)
            adj = found
        except LoadError as err:
            if report is not None:
                report(
                    f"the adjustment {found.source} does not fit {loaded.routine.name!r} any "
                    f"more ({err.problems[0].message}); running the routine as written"
                )
            timeline = expand(loaded)
    else:
        timeline = expand(loaded)
    return easier_today(loaded, adj) if easier else timeline


def eased(timeline: Timeline) -> Timeline:
    """``timeline`` made "easier today", read again from its file with the same
    adjustment file (if any); LoadError when the file cannot be read or checked."""
    if timeline.source is None:
        raise LoadError([Problem("(routine)", 0, 0, "", "this routine has no file to read again")])
    note = timeline.adjustment
    return timeline_for(
        timeline.source,
        adjust_file=note.source if note is not None else None,
        library=False,
        easier=True,
    )

"""Expansion of a routine into its timeline, exactly as the format's rules say.

1. ``get_ready`` first (unless 0 s).
2. ``reps: n`` gives n segments with a ``rest`` segment between consecutive ones.
3. ``side: both``: the left reps, a ``switch`` segment, the right reps; with
   ``alternate``: L1, switch, R1, rest, L2, switch, R2, …
4. ``repeat`` blocks give their steps n times, with ``rest`` between rounds.
5. A ``rest`` step is one ``rest`` segment.

The size of the timeline is computed before anything is built, so a file that
would expand past the limits is refused in microseconds, however deep its
repeats are nested.

Expansion reads the routine as plain dataclasses (``checked.py``), the same
whether the quick check or the pydantic models accepted the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from tproutine.routine import checked as c
from tproutine.routine.durations import MIN_SEGMENT_S, exact_length, format_clock
from tproutine.routine.timeline import MAX_SEGMENTS as MAX_SEGMENTS
from tproutine.routine.timeline import MAX_TOTAL_S as MAX_TOTAL_S
from tproutine.routine.timeline import Cue, DeviceSetting, Segment, Side, Timeline
from tproutine.yamlsafe import Document, LoadError

if TYPE_CHECKING:
    from tproutine.routine.loader import LoadedRoutine

# What a session may have to say in any one second: step starts, cues and breathing
# phases. With every segment and phase at least a second long, and counts one a second,
# a session then emits a few events a second at most, never thousands.
MAX_MOMENTS_PER_SECOND = 4
DEFAULT_SWITCH_S = 5.0
DEFAULT_PATTERN = (4.0, 6.0)


class _Resolved:
    """A work step with the routine's defaults applied."""

    __slots__ = ("area", "device", "pressure", "rest", "step", "switch", "tool")

    def __init__(self, step: c.WorkStep, defaults: c.Defaults) -> None:
        self.step = step
        self.pressure = step.pressure if step.pressure is not None else defaults.pressure
        self.rest = step.rest if step.rest is not None else (defaults.rest or 0.0)
        switch = step.switch if step.switch is not None else defaults.switch
        self.switch = DEFAULT_SWITCH_S if switch is None else switch
        self.tool = step.tool if step.tool is not None else defaults.tool
        self.area = step.area if step.area is not None else defaults.area
        # `device: off` in a step (None, but given) beats a default device.
        self.device = step.device if step.device_given else defaults.device


def _sides(step: c.WorkStep) -> list[Side | None]:
    return ["left", "right"] if step.side == "both" else [step.side]


def _measure_work(r: _Resolved) -> tuple[int, float]:
    step = r.step
    sides = _sides(step)
    n = step.reps
    count = n * len(sides)
    seconds = count * step.duration
    alternate = len(sides) == 2 and step.alternate
    if r.rest > 0:
        # Alternating (L1 R1 rest L2 R2) rests once per round, not once per side.
        rests = (n - 1) * (1 if alternate else len(sides))
        count += rests
        seconds += rests * r.rest
    if len(sides) == 2 and r.switch > 0:
        switches = n if alternate else 1
        count += switches
        seconds += switches * r.switch
    return count, seconds


def measure(steps: Sequence[c.Step], defaults: c.Defaults) -> tuple[int, float]:
    """How many segments and seconds ``steps`` expand to, without building them."""
    count, seconds = 0, 0.0
    for step in steps:
        if isinstance(step, c.RepeatBlock):
            n, s = measure(step.steps, defaults)
            rest = step.rest or 0.0
            count += n * step.repeat + (step.repeat - 1 if rest > 0 else 0)
            seconds += s * step.repeat + (step.repeat - 1) * rest
        elif isinstance(step, c.RestStep):
            count += 1
            seconds += step.seconds
        else:
            n, s = _measure_work(_Resolved(step, defaults))
            count += n
            seconds += s
    return count, seconds


def _device(spec: c.DeviceSpec | None) -> DeviceSetting | None:
    if spec is None:
        return None
    if spec.level is not None:
        return DeviceSetting(level=spec.level)
    if spec.ramp is not None:
        return DeviceSetting(from_pct=spec.ramp[0], to_pct=spec.ramp[1])
    assert spec.intensity is not None
    return DeviceSetting(from_pct=spec.intensity, to_pct=spec.intensity)


def _cues(cues: Sequence[c.Cue], seconds: float) -> tuple[Cue, ...]:
    resolved = [Cue(c.at if c.at >= 0 else seconds + c.at, c.say) for c in cues]
    return tuple(sorted(resolved, key=lambda c: c.at_s))


# A segment before its index and start time are known.
_Spec = dict[str, Any]


def _rest(seconds: float, path: str) -> _Spec:
    return {"kind": "rest", "title": "Rest", "duration_s": seconds, "step_path": path}


def _where(step_path: str | None) -> tuple[str | int, ...]:
    """``steps[1].steps[0]`` → ``('steps', 1, 'steps', 0)``, to point into the file."""
    out: list[str | int] = []
    for part in (step_path or "").replace("]", "").replace("[", ".").split("."):
        if part:
            out.append(int(part) if part.isdigit() else part)
    return tuple(out)


def _moments(segments: list[Segment]) -> list[tuple[float, tuple[str | int, ...]]]:
    """Every step start, cue and breathing phase of the timeline: when, and which step."""
    out: list[tuple[float, tuple[str | int, ...]]] = []
    for seg in segments:
        here = _where(seg.step_path)
        out.append((seg.start_s, here))
        out.extend((seg.start_s + cue.at_s, (*here, "cues")) for cue in seg.cues)
        if seg.pattern:
            cycle = sum(seg.pattern)
            offset, i = 0.0, 0
            while offset < seg.duration_s and cycle > 0:
                out.append((seg.start_s + offset, (*here, "pattern")))
                offset += seg.pattern[i % len(seg.pattern)]
                i += 1
    out.sort(key=lambda moment: moment[0])
    return out


def _too_busy(document: Document, segments: list[Segment]) -> LoadError | None:
    """More than MAX_MOMENTS_PER_SECOND moments within any one second (a sliding window)."""
    moments = _moments(segments)
    first = 0
    for last, (t, where) in enumerate(moments):
        while moments[first][0] <= t - 1.0:
            first += 1
        if last - first + 1 > MAX_MOMENTS_PER_SECOND:
            return LoadError(
                [
                    document.problem(
                        where,
                        f"{last - first + 1} step starts, cues and breathing phases fall "
                        f"within one second (at {format_clock(moments[first][0])} of the "
                        f"routine); the limit is {MAX_MOMENTS_PER_SECOND} (spread the cues "
                        "out, or make the steps longer)",
                        key=True,
                    )
                ]
            )
    return None


def _work(r: _Resolved, path: str) -> Iterator[_Spec]:
    step = r.step
    device = _device(r.device)
    cues = _cues(step.cues, step.duration)
    pattern = None
    if step.kind == "breathe":
        pattern = step.pattern or DEFAULT_PATTERN

    def rep(side: Side | None, k: int) -> _Spec:
        return {
            "kind": step.kind,
            "title": step.title,
            "duration_s": step.duration,
            "side": side,
            "rep": k,
            "reps": step.reps,
            "device": device,
            "cues": cues,
            "area": r.area,
            "tool": r.tool,
            "instructions": step.instructions,
            "pressure": r.pressure,
            "pattern": pattern,
            "step_path": path,
        }

    switch: _Spec = {
        "kind": "switch",
        "title": "Switch sides",
        "duration_s": r.switch,
        "step_path": path,
    }
    sides = _sides(step)
    if len(sides) == 2 and step.alternate:
        for k in range(1, step.reps + 1):
            if k > 1 and r.rest > 0:
                yield _rest(r.rest, path)
            yield rep("left", k)
            if r.switch > 0:
                yield switch
            yield rep("right", k)
        return
    for s, side in enumerate(sides):
        if s > 0 and r.switch > 0:
            yield switch
        for k in range(1, step.reps + 1):
            if k > 1 and r.rest > 0:
                yield _rest(r.rest, path)
            yield rep(side, k)


def _steps(steps: Sequence[c.Step], defaults: c.Defaults, prefix: str) -> Iterator[_Spec]:
    for i, step in enumerate(steps):
        path = f"{prefix}[{i}]"
        if isinstance(step, c.RepeatBlock):
            rest = step.rest or 0.0
            for round_no in range(step.repeat):
                if round_no > 0 and rest > 0:
                    yield _rest(rest, path)
                yield from _steps(step.steps, defaults, f"{path}.steps")
        elif isinstance(step, c.RestStep):
            yield {
                "kind": "rest",
                "title": step.title,
                "duration_s": step.seconds,
                "cues": _cues(step.cues, step.seconds),
                "instructions": step.instructions,
                "step_path": path,
            }
        else:
            yield from _work(_Resolved(step, defaults), path)


def _uses(steps: Sequence[c.Step], defaults: c.Defaults, attr: str) -> bool:
    for step in steps:
        if isinstance(step, c.RepeatBlock):
            if _uses(step.steps, defaults, attr):
                return True
        elif not isinstance(step, c.RestStep):
            device = _Resolved(step, defaults).device
            if device is not None and (attr == "any" or getattr(device, attr) is not None):
                return True
    return False


def expand(loaded: LoadedRoutine) -> Timeline:
    """The timeline of a routine the models validated; LoadError when it exceeds the limits."""
    return expand_checked(
        c.from_model(loaded.routine), loaded.document, loaded.content_hash, loaded.source
    )


def expand_checked(
    routine: c.Routine, document: Document, content_hash: str, source: str
) -> Timeline:
    """The timeline of a checked routine; LoadError (at ``document``'s positions) when it
    exceeds the limits."""
    get_ready = routine.get_ready
    count, seconds = measure(routine.steps, routine.defaults)
    count += 1 if get_ready > 0 else 0
    seconds += get_ready
    if count > MAX_SEGMENTS:
        raise LoadError(
            [
                document.problem(
                    ("steps",),
                    f"the routine expands to {count:,} segments; the limit is {MAX_SEGMENTS:,} "
                    "(fewer reps or repeat rounds)",
                    key=True,
                )
            ]
        )
    if seconds > MAX_TOTAL_S:
        raise LoadError(
            [
                document.problem(
                    ("steps",),
                    f"the routine lasts {exact_length(seconds)}; the limit is "
                    f"{exact_length(MAX_TOTAL_S)} (fewer or shorter steps, reps or rounds)",
                    key=True,
                )
            ]
        )
    specs: list[_Spec] = []
    if get_ready > 0:
        specs.append({"kind": "get_ready", "title": "Get ready", "duration_s": get_ready})
    specs.extend(_steps(routine.steps, routine.defaults, "steps"))
    segments = []
    start = 0.0
    for index, spec in enumerate(specs):
        if spec["duration_s"] < MIN_SEGMENT_S - 1e-9:
            # The model refuses these in a file; an adjusted routine is built from the
            # model, so the rule is kept here for every timeline.
            raise LoadError(
                [
                    document.problem(
                        _where(spec.get("step_path")),
                        f"a segment of {exact_length(spec['duration_s'])}; every segment "
                        f"lasts at least {MIN_SEGMENT_S:g}s",
                    )
                ]
            )
        segments.append(Segment(index=index, start_s=start, **spec))
        start += spec["duration_s"]
    busy = _too_busy(document, segments)
    if busy is not None:
        raise busy
    return Timeline(
        name=routine.name,
        segments=tuple(segments),
        total_s=start,
        device_specific=_uses(routine.steps, routine.defaults, "level"),
        uses_device=_uses(routine.steps, routine.defaults, "any"),
        warnings=tuple(routine.safety.warnings),
        avoid_if=tuple(routine.safety.avoid_if),
        content_hash=content_hash,
        source=source,
        plan=routine.plan,
    )

"""The expanded form of a routine: an ordered list of timed segments.

The runner, the TUI, ``show``, exports and the benchmarks all use this one
expansion (see ``expand.py``); nothing downstream re-reads the routine's steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from tproutine.frozen import Frozen, set_field

if TYPE_CHECKING:
    from tproutine.routine.checked import Plan

SegmentKind = Literal["get_ready", "hold", "stretch", "massage", "breathe", "rest", "switch"]
Side = Literal["left", "right"]

# What each kind of segment is called on screen, in text output and by voice.
KIND_LABELS: dict[str, str] = {
    "get_ready": "Get ready",
    "hold": "Hold",
    "stretch": "Stretch",
    "massage": "Massage",
    "breathe": "Breathe",
    "rest": "Rest",
    "switch": "Switch sides",
}

# The limits of one timeline (``expand.py`` refuses a routine beyond them).
MAX_SEGMENTS = 10_000
MAX_TOTAL_S = 8 * 3600.0

# Segments in which the person works on a muscle: counted as "repetitions".
WORK_KINDS: frozenset[str] = frozenset({"hold", "stretch", "massage", "breathe"})


# Frozen values written out rather than dataclasses: see ``frozen.py`` (start-up).
class Cue(Frozen):
    """Something to say ``at_s`` seconds after the segment starts."""

    __slots__ = ("at_s", "say")
    at_s: float
    say: str

    def __init__(self, at_s: float, say: str) -> None:
        set_field(self, "at_s", at_s)
        set_field(self, "say", say)


class DeviceSetting(Frozen):
    """What the device does during a segment.

    Either a share of the device's range that goes linearly from ``from_pct`` to
    ``to_pct`` over the segment (equal for a constant intensity), or a raw
    device ``level`` (device-specific routines).
    """

    __slots__ = ("from_pct", "to_pct", "level")
    from_pct: float | None
    to_pct: float | None
    level: int | None

    def __init__(
        self, from_pct: float | None = None, to_pct: float | None = None, level: int | None = None
    ) -> None:
        set_field(self, "from_pct", from_pct)
        set_field(self, "to_pct", to_pct)
        set_field(self, "level", level)

    @property
    def is_level(self) -> bool:
        return self.level is not None

    def percent_at(self, fraction: float) -> float:
        """The planned percent at ``fraction`` (0..1) of the segment."""
        assert self.from_pct is not None and self.to_pct is not None
        f = min(max(fraction, 0.0), 1.0)
        return self.from_pct + (self.to_pct - self.from_pct) * f

    def to_json(self) -> dict[str, Any]:
        if self.level is not None:
            return {"level": self.level}
        return {"from": self.from_pct, "to": self.to_pct}


class Segment(Frozen):
    """One timed part of the timeline: a hold, a stretch, a rest, a side switch..."""

    __slots__ = (
        "index",
        "kind",
        "title",
        "start_s",
        "duration_s",
        "side",
        "rep",
        "reps",
        "device",
        "cues",
        "area",
        "tool",
        "instructions",
        "pressure",
        "pattern",
        "step_path",
    )
    index: int
    kind: SegmentKind
    title: str
    start_s: float
    duration_s: float
    side: Side | None
    rep: int | None
    reps: int | None  # how many repetitions the step has on this side ("rep 2 of 3")
    device: DeviceSetting | None
    cues: tuple[Cue, ...]
    area: str | None
    tool: str | None
    instructions: str | None
    pressure: int | None
    pattern: tuple[float, ...] | None  # breathe: inhale, [hold,] exhale, [hold]
    step_path: str | None  # where it came from in the file, e.g. "steps[5].steps[0]"

    def __init__(
        self,
        index: int,
        kind: SegmentKind,
        title: str,
        start_s: float,
        duration_s: float,
        side: Side | None = None,
        rep: int | None = None,
        reps: int | None = None,
        device: DeviceSetting | None = None,
        cues: tuple[Cue, ...] = (),
        area: str | None = None,
        tool: str | None = None,
        instructions: str | None = None,
        pressure: int | None = None,
        pattern: tuple[float, ...] | None = None,
        step_path: str | None = None,
    ) -> None:
        set_field(self, "index", index)
        set_field(self, "kind", kind)
        set_field(self, "title", title)
        set_field(self, "start_s", start_s)
        set_field(self, "duration_s", duration_s)
        set_field(self, "side", side)
        set_field(self, "rep", rep)
        set_field(self, "reps", reps)
        set_field(self, "device", device)
        set_field(self, "cues", cues)
        set_field(self, "area", area)
        set_field(self, "tool", tool)
        set_field(self, "instructions", instructions)
        set_field(self, "pressure", pressure)
        set_field(self, "pattern", pattern)
        set_field(self, "step_path", step_path)

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def to_json(self) -> dict[str, Any]:
        """The shape of ``show --json`` (see the CLI spec)."""
        out: dict[str, Any] = {
            "index": self.index,
            "kind": self.kind,
            "title": self.title,
            "start_s": self.start_s,
            "duration_s": self.duration_s,
            "side": self.side,
            "rep": self.rep,
            "device": self.device.to_json() if self.device else None,
        }
        if self.cues:
            out["cues"] = [{"at_s": c.at_s, "say": c.say} for c in self.cues]
        return out


class AdjustmentNote(Frozen):
    """Which adjustment changed a timeline: what history records and screens say."""

    __slots__ = ("hash", "summary", "source")
    hash: str  # SHA-256 of the adjustment file's bytes (or of the built-in one's text)
    summary: str  # one line: "time ×0.75; Upper trapezius: pressure 4, 30s"
    source: str | None  # the adjustment file, when there is one

    def __init__(self, hash: str, summary: str, source: str | None = None) -> None:
        set_field(self, "hash", hash)
        set_field(self, "summary", summary)
        set_field(self, "source", source)


class Timeline(Frozen):
    """A routine expanded: its segments in order, and what screens and history say of it."""

    __slots__ = (
        "name",
        "segments",
        "total_s",
        "device_specific",
        "uses_device",
        "warnings",
        "avoid_if",
        "content_hash",
        "source",
        "plan",
        "adjustment",
    )
    name: str
    segments: tuple[Segment, ...]
    total_s: float
    device_specific: bool  # a step uses a raw `level`
    uses_device: bool
    warnings: tuple[str, ...]
    avoid_if: tuple[str, ...]
    content_hash: str  # sha256 of the file's bytes: which version was run
    source: str | None  # the file it came from
    plan: Plan | None  # how often it is meant to be done (the file's `plan`)
    # The adjustment in force (``tproutine-adjust/1`` or "easier today"); None = as written.
    adjustment: AdjustmentNote | None

    def __init__(
        self,
        name: str,
        segments: tuple[Segment, ...],
        total_s: float,
        device_specific: bool = False,
        uses_device: bool = False,
        warnings: tuple[str, ...] = (),
        avoid_if: tuple[str, ...] = (),
        content_hash: str = "",
        source: str | None = None,
        plan: Plan | None = None,
        adjustment: AdjustmentNote | None = None,
    ) -> None:
        set_field(self, "name", name)
        set_field(self, "segments", segments)
        set_field(self, "total_s", total_s)
        set_field(self, "device_specific", device_specific)
        set_field(self, "uses_device", uses_device)
        set_field(self, "warnings", warnings)
        set_field(self, "avoid_if", avoid_if)
        set_field(self, "content_hash", content_hash)
        set_field(self, "source", source)
        set_field(self, "plan", plan)
        set_field(self, "adjustment", adjustment)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "total_s": self.total_s,
            "segments": [s.to_json() for s in self.segments],
        }

"""The expanded form of a routine: an ordered list of timed segments.

The runner, the TUI, ``show``, exports and the benchmarks all use this one
expansion (see ``expand.py``); nothing downstream re-reads the routine's steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

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


@dataclass(frozen=True, slots=True)
class Cue:
    """Something to say ``at_s`` seconds after the segment starts."""

    at_s: float
    say: str


@dataclass(frozen=True, slots=True)
class DeviceSetting:
    """What the device does during a segment.

    Either a share of the device's range that goes linearly from ``from_pct`` to
    ``to_pct`` over the segment (equal for a constant intensity), or a raw
    device ``level`` (device-specific routines).
    """

    from_pct: float | None = None
    to_pct: float | None = None
    level: int | None = None

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


@dataclass(frozen=True, slots=True)
class Segment:
    index: int
    kind: SegmentKind
    title: str
    start_s: float
    duration_s: float
    side: Side | None = None
    rep: int | None = None
    reps: int | None = None  # how many repetitions the step has on this side ("rep 2 of 3")
    device: DeviceSetting | None = None
    cues: tuple[Cue, ...] = ()
    area: str | None = None
    tool: str | None = None
    instructions: str | None = None
    pressure: int | None = None
    pattern: tuple[float, ...] | None = None  # breathe: inhale, [hold,] exhale, [hold]
    step_path: str | None = None  # where it came from in the file, e.g. "steps[5].steps[0]"

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


@dataclass(frozen=True, slots=True)
class AdjustmentNote:
    """Which adjustment changed a timeline: what history records and screens say."""

    hash: str  # SHA-256 of the adjustment file's bytes (or of the built-in one's text)
    summary: str  # one line: "time ×0.75; Upper trapezius: pressure 4, 30s"
    source: str | None = None  # the adjustment file, when there is one


@dataclass(frozen=True, slots=True)
class Timeline:
    name: str
    segments: tuple[Segment, ...]
    total_s: float
    device_specific: bool = False  # a step uses a raw `level`
    uses_device: bool = False
    warnings: tuple[str, ...] = ()
    avoid_if: tuple[str, ...] = ()
    content_hash: str = ""  # sha256 of the file's bytes: which version was run
    source: str | None = None  # the file it came from
    plan: Plan | None = None  # how often it is meant to be done (the file's `plan`)
    # The adjustment in force (``tproutine-adjust/1`` or "easier today"); None = as written.
    adjustment: AdjustmentNote | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "total_s": self.total_s,
            "segments": [s.to_json() for s in self.segments],
        }

"""Tests of the session engine; helpers to build timelines by hand."""

from __future__ import annotations

from typing import Any

from tproutine.engine.events import Event
from tproutine.routine.timeline import Segment, Timeline


def make_timeline(
    *specs: tuple[str, float] | tuple[str, float, dict[str, Any]],
    name: str = "Test routine",
    **extra: Any,
) -> Timeline:
    """A timeline from ``(kind, duration[, fields])``; start times follow one another."""
    segments: list[Segment] = []
    start = 0.0
    for i, spec in enumerate(specs):
        kind, duration = spec[0], spec[1]
        fields: dict[str, Any] = dict(spec[2]) if len(spec) > 2 else {}
        fields.setdefault("title", kind.replace("_", " ").capitalize())
        segments.append(
            Segment(index=i, kind=kind, start_s=start, duration_s=duration, **fields)  # type: ignore[arg-type]
        )
        start += duration
    return Timeline(name=name, segments=tuple(segments), total_s=start, **extra)


class Recorder:
    """A listener that keeps every event."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def names(self) -> list[str]:
        return [e.event for e in self.events]

    def of(self, name: str) -> list[Event]:
        return [e for e in self.events if e.event == name]

    def cues(self) -> list[str]:
        return [str(e["say"]) for e in self.of("cue")]

"""``run --plain``: the session as readable text lines, for screen readers and logs.

Each line starts with the session time and says one thing, e.g.
``02:05  Hold · Quadratus lumborum · left · rep 1 of 2 · 60s · pressure 6/10``.
A segment that ends on time prints nothing of its own (the next line says what
comes next); skips, backs, pauses, cues, counts, breathing phases, intensity
changes and the end all get a line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TextIO

from tproutine.engine.events import Event
from tproutine.routine.timeline import KIND_LABELS, DeviceSetting, Segment, Timeline
from tproutine.safetext import one_line

_PHASES = {"in": "Breathe in", "out": "Breathe out", "hold": "Hold the breath"}

SEP = " · "

_DEVICE_ACTIONS = {
    "connect": "Device connected",
    "disconnect": "Device disconnected",
    "reconnect": "Device reconnected",
    "set": "Device",
    "stop": "Device stopped",
}


def clock_text(t: float) -> str:
    """Session time as ``MM:SS`` (``H:MM:SS`` from an hour on), rounded down."""
    # The half-millisecond: a boundary reached at 124.9999999 reads as 02:05.
    whole = max(math.floor(t + 0.0005), 0)
    hours, rest = divmod(whole, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes:02d}:{seconds:02d}"


def duration_text(seconds: float) -> str:
    """``45s``, ``60s``, ``90s``, ``2m``, ``2m30s``, ``1h5m``, ``2.5s``."""
    if seconds < 100:
        return f"{seconds:g}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    out = ""
    if hours:
        out += f"{hours}h"
    if minutes:
        out += f"{minutes}m"
    if secs:
        out += f"{secs}s"
    return out


def device_text(device: DeviceSetting | None) -> str | None:
    if device is None:
        return None
    if device.level is not None:
        return f"device level {device.level}"
    if device.from_pct is None or device.to_pct is None:
        return None
    if device.from_pct == device.to_pct:
        return f"device {device.from_pct:g}%"
    return f"device {device.from_pct:g}→{device.to_pct:g}%"


def describe_segment(seg: Segment) -> str:
    """One segment as a line body: kind, title, side, rep, time, pressure, device, tool."""
    label = KIND_LABELS.get(seg.kind, seg.kind)
    parts = [label]
    if seg.title and seg.title.casefold() != label.casefold():
        parts.append(seg.title)
    if seg.side:
        parts.append(seg.side)
    if seg.rep is not None and seg.reps is not None and seg.reps > 1:
        parts.append(f"rep {seg.rep} of {seg.reps}")
    parts.append(duration_text(seg.duration_s))
    if seg.pressure is not None:
        parts.append(f"pressure {seg.pressure}/10")
    dev = device_text(seg.device)
    if dev:
        parts.append(dev)
    if seg.tool:
        parts.append(seg.tool)
    line = SEP.join(parts)
    if seg.instructions:
        line += " — " + " ".join(seg.instructions.split())
    return line


def safety_lines(timeline: Timeline) -> list[str]:
    """The warnings and the avoid-if checklist, to show before the start (empty if none)."""
    lines: list[str] = []
    if timeline.warnings:
        lines.append("Safety:")
        lines.extend(f"  ! {w}" for w in timeline.warnings)
    if timeline.avoid_if:
        lines.append("Do not do this routine if:")
        lines.extend(f"  - {a}" for a in timeline.avoid_if)
    return lines


class PlainFormatter:
    """Turns events into line bodies (without the time); None for a silent event."""

    def __init__(self, timeline: Timeline, *, keys: bool = False) -> None:
        self.timeline = timeline
        self.keys = keys  # a terminal with key control: say which key undoes a pause or halt
        self._by_index = {s.index: s for s in timeline.segments}
        self._connected = False  # a device is connected: a pause says the motor is off

    def _segment(self, index: object) -> Segment | None:
        return self._by_index.get(index) if isinstance(index, int) else None

    def body(self, event: Event) -> str | None:
        name = event.event
        if name == "session_start":
            total = duration_text(float(event.get("total_s", self.timeline.total_s)))
            count = int(event.get("segments", len(self.timeline.segments)))
            return f"{event.get('routine', self.timeline.name)}{SEP}{total}{SEP}{count} segments"
        if name == "segment_start":
            seg = self._segment(event.get("index"))
            if seg is None:
                return str(event.get("title", ""))
            return describe_segment(seg)
        if name == "cue":
            say = str(event.get("say", ""))
            return say if event.get("count") is not None else f"“{say}”"
        if name == "breathe":
            phase = _PHASES.get(str(event.get("phase")), str(event.get("phase")))
            return f"{phase}{SEP}{duration_text(float(event.get('duration_s', 0)))}"
        if name == "pause":
            text = "Paused, the motor off" if self._connected else "Paused"
            return f"{text} (space to resume)" if self.keys else text
        if name == "resume":
            return "Resumed"
        if name == "skip":
            seg = self._segment(event.get("index"))
            return f"Skipped: {seg.title}" if seg else "Skipped"
        if name == "back":
            return "Back"
        if name == "scale":
            return f"Intensity ×{float(event['scale']):.1f} for the rest of the session"
        if name == "clamp":
            return (
                f"Intensity capped at {float(event['given']):g}% "
                f"(the routine asks {float(event['asked']):g}%): {event.get('why', '')}"
            )
        if name == "device":
            return self._device(event)
        if name == "session_end":
            return self._end(event)
        return None  # segment_end: the next line says what follows

    def _device(self, event: Event) -> str | None:
        action = str(event.get("action", ""))
        if action in ("connect", "reconnect"):
            self._connected = True
        elif action == "disconnect":
            self._connected = False
        elif (
            action == "stop"
            and event.get("by") == "controller"
            and event.get("reason")
            in (
                "paused",
                "emergency stop",
            )
        ):
            # The session's own line ("Paused, the motor off", "Motor stopped") said it:
            # one thing happened, one line.
            return None
        if event.get("by") == "session":
            if event.get("halted"):
                return "Motor stopped" + (" (s to allow it again)" if self.keys else "")
            return "Motor allowed again"
        parts = [_DEVICE_ACTIONS.get(action, f"Device {action}".strip())]
        if event.get("name"):
            parts.append(str(event["name"]))
        if event.get("percent") is not None:
            parts.append(f"{float(event['percent']):g}%")
        if event.get("level") is not None:
            parts.append(f"level {event['level']}")
        if event.get("reason"):
            parts.append(str(event["reason"]))
        if event.get("warning"):
            parts.append(str(event["warning"]))
        return SEP.join(parts)

    def _end(self, event: Event) -> str:
        status = str(event.get("status"))
        done = event.get("segments_done")
        total = event.get("segments_total", len(self.timeline.segments))
        progress = f"{done} of {total} segments done" if done is not None else ""
        word = {"completed": "Routine complete", "stopped": "Stopped"}.get(status, "Interrupted")
        return SEP.join(p for p in (word, self.timeline.name, progress) if p)


def format_line(formatter: PlainFormatter, event: Event) -> str | None:
    body = formatter.body(event)
    if body is None:
        return None
    # Whatever the schedule brought (a segment, a cue, a count, a breathing phase, the
    # end) is shown at the time it was due: a loaded machine that prints it late must
    # not make "02:05" read "02:06", so the same routine prints the same text anywhere.
    # What a person or a device did (a pause, a skip, a connection) has no due time.
    due = event.get("due")
    when = float(due) if isinstance(due, (int, float)) and due <= event.t + 1e-6 else event.t
    return f"{clock_text(when)}  {body}"


class PlainOutput:
    """A session listener that prints one line per event to ``stream``."""

    def __init__(
        self,
        timeline: Timeline,
        stream: TextIO,
        *,
        keys: bool = False,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.formatter = PlainFormatter(timeline, keys=keys)
        self._stream: TextIO | None = stream
        self._report = report

    def line(self, text: str) -> None:
        """Print a line of its own (a notice) in the same stream.

        Every line passes :func:`~tproutine.safetext.one_line`: a device's name comes
        from the air, and a screen reader reads one event per line.
        """
        if self._stream is None:
            return
        try:
            self._stream.write(one_line(text) + "\n")
            self._stream.flush()
        except (OSError, ValueError) as exc:
            # The reader went away (`| head`): the session goes on without text.
            self._stream = None
            if self._report is not None:
                self._report(f"output: stopped writing lines: {exc}")

    def __call__(self, event: Event) -> None:
        text = format_line(self.formatter, event)
        if text is not None:
            self.line(text)

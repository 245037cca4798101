"""The session engine: walks a timeline on a clock and tells its listeners.

Time model. ``t`` is the session time: seconds on the clock since the session
started, minus the time spent paused (so it stops while paused). Each segment
is due at ``segment.start_s + shift``; ``shift`` is zero unless the person
skipped or went back, and changes only then. Every deadline (the next cue,
count, breathe phase or segment end) is derived from that absolute schedule and
slept towards directly, never by adding sleeps, so latency never accumulates
and a completed routine without skips ends at ``t == total_s``.

Commands (``pause``, ``next``, ``back``, ``change_scale`` ...) act at once and
emit their events synchronously; the ``run()`` loop handles only what time
brings, waking early when a command changes the schedule.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tproutine.engine.clock import Clock
from tproutine.engine.events import Event, EventName, Listener, SessionStatus
from tproutine.routine.timeline import Segment, Timeline

log = logging.getLogger(__name__)

State = Literal["idle", "running", "paused", "finished"]
SegmentReport = Callable[[int], Mapping[str, Any]]

# Within this many seconds of a segment's start, `back` goes to the previous segment.
BACK_WINDOW_S = 3.0
SCALE_STEP = 0.1
SCALE_MIN = 0.1  # `-` never turns the device off by itself; `s` is the way to stop it
SCALE_MAX = 2.0
# Float slack when comparing a reached time with a schedule computed another way.
EPS = 1e-9
# Segment kinds whose last seconds are counted out loud.
COUNTED_KINDS = frozenset({"hold", "stretch"})

BREATHE_PHASES: dict[int, tuple[str, ...]] = {
    2: ("in", "out"),
    3: ("in", "hold", "out"),
    4: ("in", "hold", "out", "hold"),
}


@dataclass(frozen=True, slots=True)
class _Moment:
    """Something due at ``offset`` seconds into the current segment."""

    offset: float
    order: int  # at equal offsets: cue (0), count (1), breathe phase (2)
    event: EventName
    data: tuple[tuple[str, Any], ...]


class Session:
    """One run of a timeline. See the module docstring for the time model.

    ``scale`` multiplies every device percent (an easier or harder day);
    ``max_intensity`` is the person's cap in percent, applied here and reported
    with ``clamp`` events. ``countdown`` is how many final seconds of holds and
    stretches are counted (``cue`` events with a ``count`` field); 0 for none.
    """

    def __init__(
        self,
        timeline: Timeline,
        clock: Clock,
        *,
        scale: float = 1.0,
        max_intensity: float = 100.0,
        countdown: int = 3,
    ) -> None:
        if not 0 <= max_intensity <= 100:
            raise ValueError(f"max_intensity must be within 0-100, not {max_intensity!r}")
        if countdown < 0:
            raise ValueError("countdown cannot be negative")
        self.timeline = timeline
        self.clock = clock
        self.max_intensity = float(max_intensity)
        self.countdown = countdown
        self._scale = min(max(float(scale), SCALE_MIN), SCALE_MAX)
        self._listeners: list[Listener] = []
        self._segment_reports: list[SegmentReport] = []
        self._queue: deque[Event] = deque()
        self._dispatching = False
        self._state: State = "idle"
        self._status: SessionStatus | None = None
        self._origin = 0.0  # clock time at the start
        self._paused_total = 0.0  # clock seconds spent paused, finished pauses only
        self._paused_at = 0.0  # clock time the current pause began
        self._final_t = 0.0  # session time when it finished
        self._index = -1
        self._shift = 0.0
        self._moments: list[_Moment] = []
        self._next_moment = 0
        self._wake: asyncio.Event | None = None
        self._halted = False
        self._last_cue: str | None = None
        self._segments_done = 0
        self._segments_skipped = 0
        self._stopped_position = 0.0  # position() once stopped or interrupted

    # ---------------------------------------------------------------- listeners

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def emit(self, name: EventName, /, **data: Any) -> None:
        """Publish an event from outside the engine (the device controller's ``device``
        events) in this session's stream, stamped with the session time, so the
        plain output, ``--events`` and history see it in order with the rest."""
        self._emit(name, **data)

    def add_segment_report(self, report: SegmentReport) -> None:
        """Have ``report(index)`` add fields to each ``segment_end`` (what the device
        really did: ``motor_s``, ``mean_level`` ...). The engine's own fields win."""
        self._segment_reports.append(report)

    def remove_segment_report(self, report: SegmentReport) -> None:
        if report in self._segment_reports:
            self._segment_reports.remove(report)

    def _emit(self, name: EventName, /, **data: Any) -> None:
        # Positional-only: a device event carries a ``name`` field of its own.
        self._queue.append(Event(name, self.elapsed(), time.monotonic(), data))
        if self._dispatching:
            # A listener issued a command: its events follow the current one, in order.
            return
        self._dispatching = True
        try:
            while self._queue:
                event = self._queue.popleft()
                for listener in list(self._listeners):
                    try:
                        listener(event)
                    except Exception:
                        # One broken listener must not stop the routine (or the others).
                        log.exception("a session listener failed on %s", event.event)
        finally:
            self._dispatching = False

    # ---------------------------------------------------------------- views

    @property
    def state(self) -> State:
        return self._state

    @property
    def status(self) -> SessionStatus | None:
        """``completed``/``stopped``/``interrupted`` once finished, else None."""
        return self._status

    @property
    def scale(self) -> float:
        return self._scale

    @property
    def index(self) -> int:
        """The current segment's index; -1 before the start, len(segments) after a completion."""
        return self._index

    @property
    def current(self) -> Segment | None:
        if self._state in ("running", "paused") and 0 <= self._index < len(self._segments):
            return self._segments[self._index]
        return None

    @property
    def next_segment(self) -> Segment | None:
        if self._state == "finished" or self._index + 1 >= len(self._segments):
            return None
        return self._segments[self._index + 1]

    @property
    def device_halted(self) -> bool:
        """True after an emergency stop until it is released: the motor stays off."""
        return self._halted

    @property
    def last_cue(self) -> str | None:
        """The latest cue said (not counts), for a "latest cue" line."""
        return self._last_cue

    @property
    def segments_done(self) -> int:
        """Segments that ran to their end."""
        return self._segments_done

    @property
    def segments_skipped(self) -> int:
        return self._segments_skipped

    @property
    def _segments(self) -> tuple[Segment, ...]:
        return self.timeline.segments

    def elapsed(self) -> float:
        """Session time ``t``: seconds since the start, not counting pauses."""
        if self._state == "idle":
            return 0.0
        if self._state == "finished":
            return self._final_t
        now = self._paused_at if self._state == "paused" else self.clock.now()
        return now - self._origin - self._paused_total

    def _seg_start_t(self) -> float:
        return self._segments[self._index].start_s + self._shift

    def _seg_end_t(self) -> float:
        return self._segments[self._index].end_s + self._shift

    def segment_elapsed(self) -> float:
        if self.current is None:
            return 0.0
        into = self.elapsed() - self._seg_start_t()
        return min(max(into, 0.0), self._segments[self._index].duration_s)

    def segment_remaining(self) -> float:
        seg = self.current
        return 0.0 if seg is None else seg.duration_s - self.segment_elapsed()

    def position(self) -> float:
        """Where the session is in the routine, 0..total_s (skips and backs move it)."""
        if self._state == "idle":
            return 0.0
        seg = self.current
        if seg is None:
            return self.timeline.total_s if self._status == "completed" else self._stopped_position
        return seg.start_s + self.segment_elapsed()

    def remaining(self) -> float:
        """Routine time left: the rest of this segment and every later one."""
        return max(self.timeline.total_s - self.position(), 0.0)

    def breathe_phase(self) -> tuple[str, float] | None:
        """For a breathe segment with a pattern: the phase and how far into it (0..1)."""
        seg = self.current
        if seg is None or seg.kind != "breathe" or not seg.pattern:
            return None
        names = BREATHE_PHASES.get(len(seg.pattern))
        cycle = sum(seg.pattern)
        if names is None or cycle <= 0:
            return None
        into = self.segment_elapsed() % cycle
        for name, length in zip(names, seg.pattern, strict=True):
            if into < length - EPS:
                return name, into / length if length > 0 else 0.0
            into -= length
        return names[-1], 1.0

    def _asked_percent(self, seg: Segment, fraction: float) -> float | None:
        d = seg.device
        if d is None or d.is_level or d.from_pct is None or d.to_pct is None:
            return None
        return d.percent_at(fraction) * self._scale

    def _cap(self) -> float:
        return min(self.max_intensity, 100.0)

    def planned_percent(self) -> float | None:
        """The segment's device percent now: after ramp, scale and the person's cap.

        None when the segment runs with the device off or uses a raw ``level``
        (see ``planned_level``). Pausing and emergency stops are not applied here;
        ``target_percent`` says what the motor should do this moment.
        """
        seg = self.current
        if seg is None:
            return None
        fraction = self.segment_elapsed() / seg.duration_s if seg.duration_s > 0 else 1.0
        asked = self._asked_percent(seg, fraction)
        return None if asked is None else min(asked, self._cap())

    def planned_level(self) -> int | None:
        """A raw device level for device-specific segments (the controller maps it)."""
        seg = self.current
        if seg is None or seg.device is None:
            return None
        return seg.device.level

    def target_percent(self) -> float:
        """What the motor should run at right now (0.0 = off): paused and halted are off."""
        if self._state != "running" or self._halted:
            return 0.0
        return self.planned_percent() or 0.0

    # ---------------------------------------------------------------- commands

    def start(self) -> None:
        """Start the session (``run()`` does this when it was not done yet)."""
        if self._state != "idle":
            return
        self._origin = self.clock.now()
        self._state = "running"
        self._emit(
            "session_start",
            routine=self.timeline.name,
            total_s=self.timeline.total_s,
            segments=len(self._segments),
            source=self.timeline.source,
            content_hash=self.timeline.content_hash,
            scale=self._scale,
            max_intensity=self.max_intensity,
        )
        if not self._segments:
            self._finish("completed")
            return
        self._begin(0, due=0.0)

    def pause(self) -> bool:
        if self._state != "running":
            return False
        self._paused_at = self.clock.now()
        self._state = "paused"
        self._emit("pause", index=self._index)
        self._poke()
        return True

    def resume(self) -> bool:
        if self._state != "paused":
            return False
        self._paused_total += self.clock.now() - self._paused_at
        self._state = "running"
        self._emit("resume", index=self._index)
        self._poke()
        return True

    def toggle_pause(self) -> bool:
        """Pause when running, resume when paused; returns whether anything changed."""
        return self.pause() if self._state == "running" else self.resume()

    def next(self) -> bool:
        """Skip the rest of this segment (a paused session stays paused)."""
        if self.current is None:
            return False
        index = self._index
        self._emit("skip", index=index)
        self._end(skipped=True, ended_by="next")
        if index + 1 < len(self._segments):
            self._begin(index + 1, due=self.elapsed())
        else:
            self._finish("completed")
        self._poke()
        return True

    def back(self) -> bool:
        """To the start of this segment, or to the previous one within its first 3 s."""
        if self.current is None:
            return False
        index = self._index
        target = index - 1 if index > 0 and self.segment_elapsed() < BACK_WINDOW_S else index
        self._emit("back", index=target, **{"from": index})
        self._end(skipped=True, ended_by="back")
        self._begin(target, due=self.elapsed())
        self._poke()
        return True

    def stop(self) -> bool:
        """End the session now as ``stopped``."""
        if self._state == "finished":
            return False
        if self._state == "idle":
            self._state = "finished"
            self._status = "stopped"
            self._poke()
            return True
        self._end(skipped=True, ended_by="stop")
        self._finish("stopped")
        self._poke()
        return True

    def interrupt(self) -> None:
        """End the session as ``interrupted`` (the app is going away without a stop)."""
        if self._state in ("running", "paused"):
            self._end(skipped=True, ended_by="interrupt")
            self._finish("interrupted")
            self._poke()

    def change_scale(self, delta: float) -> float:
        """Move the session's intensity scale by ``delta`` (the keys use ±0.1).

        The scale stays within 0.1-2.0; the cap still applies on top, and when the
        current segment asks for more than the cap a ``clamp`` event says so.
        Returns the new scale.
        """
        new = round(min(max(self._scale + delta, SCALE_MIN), SCALE_MAX), 2)
        if self._state == "finished":
            return self._scale
        changed = new != self._scale
        self._scale = new
        if self._state == "idle":
            return new  # set before the start: session_start carries it
        if changed:
            self._emit("scale", scale=new, index=self._index)
        seg = self.current
        if seg is not None and (changed or delta > 0):
            self._check_clamp(seg)
        return new

    def halt_device(self) -> bool:
        """Emergency stop: the motor goes off and stays off until ``release_device``."""
        if self._halted or self._state == "finished":
            return False
        self._halted = True
        self._emit("device", action="stop", reason="emergency stop", halted=True, by="session")
        return True

    def release_device(self) -> bool:
        if not self._halted:
            return False
        self._halted = False
        self._emit(
            "device",
            action="set",
            reason="emergency stop released",
            halted=False,
            by="session",
            percent=self.target_percent(),
        )
        return True

    def toggle_halt(self) -> bool:
        """The `s` key: halt the motor, or allow it again."""
        return self.release_device() if self._halted else self.halt_device()

    # ---------------------------------------------------------------- running

    async def run(self) -> SessionStatus:
        """Run until the routine ends or ``stop()``; returns the final status.

        Cancelling the task that runs this ends the session as ``interrupted``.
        """
        if self._wake is not None:
            raise RuntimeError("this session is already running (or has run)")
        self._wake = asyncio.Event()
        self.start()
        try:
            while self._state != "finished":
                if self._state == "running":
                    self._catch_up()
                    if self._state != "running":
                        continue
                    await self._wait(self._next_deadline())
                else:
                    await self._wait(None)
        except asyncio.CancelledError:
            self.interrupt()
            raise
        assert self._status is not None
        return self._status

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _wait(self, deadline_t: float | None) -> None:
        """Sleep until session time ``deadline_t`` or a command, whichever comes first."""
        assert self._wake is not None
        if self._wake.is_set():
            self._wake.clear()
            return
        waker = asyncio.ensure_future(self._wake.wait())
        tasks: set[asyncio.Future[Any]] = {waker}
        if deadline_t is not None:
            clock_deadline = self._origin + self._paused_total + deadline_t
            tasks.add(asyncio.ensure_future(self.clock.sleep_until(clock_deadline)))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
        self._wake.clear()
        for task in done:
            # A clock that fails must end the run (and so stop the device), not be
            # swallowed and waited on again in a busy loop.
            if not task.cancelled() and (error := task.exception()) is not None:
                raise error

    def _next_deadline(self) -> float:
        end = self._seg_end_t()
        if self._next_moment < len(self._moments):
            return min(self._seg_start_t() + self._moments[self._next_moment].offset, end)
        return end

    def _catch_up(self) -> None:
        """Emit everything that is due by now, in schedule order."""
        while self._state == "running":
            now = self.elapsed()
            start = self._seg_start_t()
            if self._next_moment < len(self._moments):
                m = self._moments[self._next_moment]
                if start + m.offset <= now + EPS:
                    self._next_moment += 1  # before emitting: a cue never fires twice
                    self._fire(m, due=start + m.offset)
                    continue
            end = self._seg_end_t()
            if end > now + EPS:
                return
            index = self._index
            self._end(skipped=False, ended_by="time", due=end)
            if index + 1 < len(self._segments):
                # Due where the schedule says, not when we woke: no drift.
                self._begin(index + 1, due=self._segments[index + 1].start_s + self._shift)
            else:
                self._finish("completed", due=end)

    def _fire(self, m: _Moment, *, due: float) -> None:
        data = dict(m.data)
        if m.event == "cue" and "count" not in data:
            self._last_cue = str(data["say"])
        # ``due``: the session time it was scheduled for. A loaded machine may emit it
        # later (``t``); what is printed is the schedule, the same on every machine.
        self._emit(m.event, index=self._index, due=due, **data)

    def _begin(self, index: int, *, due: float) -> None:
        seg = self._segments[index]
        self._index = index
        self._shift = due - seg.start_s
        self._moments = self._plan(seg)
        self._next_moment = 0
        self._emit(
            "segment_start",
            index=index,
            kind=seg.kind,
            title=seg.title,
            side=seg.side,
            rep=seg.rep,
            due=due,
            duration_s=seg.duration_s,
            reps=seg.reps,
            device=seg.device.to_json() if seg.device else None,
        )
        self._check_clamp(seg, due=due)
        if self._state == "running":
            # Moments at offset 0 (a cue "at: 0s", the first breathe phase) go out now.
            self._catch_up_moments_at_start(due)

    def _catch_up_moments_at_start(self, due: float) -> None:
        moments = self._moments
        while self._next_moment < len(moments) and moments[self._next_moment].offset <= EPS:
            self._next_moment += 1
            m = moments[self._next_moment - 1]
            self._fire(m, due=due + m.offset)

    def _end(self, *, skipped: bool, ended_by: str, due: float | None = None) -> None:
        seg = self.current
        if seg is None:
            return
        actual = seg.duration_s if not skipped else self.segment_elapsed()
        data: dict[str, Any] = {
            "index": seg.index,
            "skipped": skipped,
            "ended_by": ended_by,
            "planned_s": seg.duration_s,
            "actual_s": round(actual, 6),
        }
        asked = self._asked_percent(seg, 1.0)
        if asked is not None:
            # What was asked of the device at the segment's end, after scale and cap.
            data["percent"] = round(min(asked, self._cap()), 3)
        elif seg.device is not None and seg.device.level is not None:
            data["level"] = seg.device.level
        for report in list(self._segment_reports):
            try:
                extra = report(seg.index)
            except Exception:
                log.exception("a segment report failed for segment %d", seg.index)
                continue
            data.update({k: v for k, v in extra.items() if k not in data})
        if due is not None:
            data["due"] = due
        if skipped:
            self._segments_skipped += 1
        else:
            self._segments_done += 1
        self._emit("segment_end", **data)

    def _finish(self, status: SessionStatus, *, due: float | None = None) -> None:
        seg = self.current
        self._stopped_position = seg.start_s + self.segment_elapsed() if seg else 0.0
        self._final_t = self.elapsed()
        if self._state == "paused":
            self._paused_total += self.clock.now() - self._paused_at
        if status == "completed":
            self._index = len(self._segments)
        self._state = "finished"
        self._status = status
        extra = {"due": due} if due is not None else {}
        self._emit(
            "session_end",
            status=status,
            segments_done=self._segments_done,
            segments_skipped=self._segments_skipped,
            segments_total=len(self._segments),
            **extra,
        )

    def _check_clamp(self, seg: Segment, *, due: float | None = None) -> None:
        """Report when this segment asks the device for more than the cap allows."""
        d = seg.device
        if d is None or d.from_pct is None or d.to_pct is None or d.is_level:
            return
        asked = max(d.from_pct, d.to_pct) * self._scale
        cap = self._cap()
        if asked > cap + EPS:
            why = "your max intensity" if self.max_intensity < 100 else "the device's full range"
            extra = {"due": due} if due is not None else {}
            self._emit("clamp", index=seg.index, asked=round(asked, 3), given=cap, why=why, **extra)

    def _plan(self, seg: Segment) -> list[_Moment]:
        """Everything due within a segment, in order: cues, counts, breathe phases."""
        out: list[_Moment] = []
        for cue in seg.cues:
            offset = min(max(cue.at_s, 0.0), seg.duration_s)
            out.append(_Moment(offset, 0, "cue", (("say", cue.say), ("at_s", cue.at_s))))
        if seg.kind in COUNTED_KINDS:
            for k in range(self.countdown, 0, -1):
                offset = seg.duration_s - k
                if offset > EPS:
                    out.append(_Moment(offset, 1, "cue", (("say", str(k)), ("count", k))))
        if seg.kind == "breathe" and seg.pattern:
            names = BREATHE_PHASES.get(len(seg.pattern))
            cycle_s = sum(seg.pattern)
            if names is not None and cycle_s > 0:
                # Offsets are cycle * cycle_s + the phase's start, not a running sum,
                # so a long breathe segment does not gather rounding error.
                starts = [sum(seg.pattern[:i]) for i in range(len(seg.pattern))]
                cycle = 0
                while cycle * cycle_s < seg.duration_s - EPS:
                    for name, first, length in zip(names, starts, seg.pattern, strict=True):
                        offset = cycle * cycle_s + first
                        if offset >= seg.duration_s - EPS:
                            break
                        if length > 0:
                            shown = min(length, seg.duration_s - offset)
                            data = (("phase", name), ("duration_s", shown), ("cycle", cycle + 1))
                            out.append(_Moment(offset, 2, "breathe", data))
                    cycle += 1
        out.sort(key=lambda m: (m.offset, m.order))
        return out

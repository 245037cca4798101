"""Turns the session engine's events into history rows.

A listener like any other (architecture: the engine publishes, everything else
listens). It writes the session at its first ``segment_start``, one committed
row per ``segment_end``, and the status at ``session_end``. A history problem
must never stop a routine, so nothing here raises into the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tproutine.engine.events import Event
from tproutine.history import store as store_module
from tproutine.history.store import FinalStatus, HistoryStore, SegmentRecord
from tproutine.routine.timeline import Segment, Timeline

log = logging.getLogger(__name__)

_FINAL: tuple[FinalStatus, ...] = ("completed", "stopped", "interrupted")


@dataclass(slots=True)
class _Running:
    """The segment in progress: when it started, and the most the device was set to."""

    index: int
    start_t: float
    kind: str
    title: str
    side: str | None
    rep: int | None
    percent: float | None = None
    level: int | None = None


class HistoryRecorder:
    """An engine listener that records one session into a :class:`HistoryStore`."""

    def __init__(
        self,
        timeline: Timeline,
        file: str | Path | None,
        pain_before: int | None,
        store: HistoryStore,
        *,
        device: str | None = None,
        now: Callable[[], datetime] | None = None,
        preview: bool = False,
    ) -> None:
        self.timeline = timeline
        self.preview = preview
        self.file = str(file) if file is not None else timeline.source
        self.pain_before = pain_before
        self.store = store
        self.device = device
        # Looked up at each call by default, so that an injected date (a test's) reaches it.
        self._now = now or (lambda: store_module.utc_now())
        self._by_index: dict[int, Segment] = {s.index: s for s in timeline.segments}
        self._started_at: datetime | None = None
        self._session_id: int | None = None
        self._running: _Running | None = None
        self._ended = False

    @property
    def session_id(self) -> int | None:
        """The stored session's id once its first segment began (0: not saved)."""
        return self._session_id

    def __call__(self, event: Event) -> None:
        try:
            self._handle(event)
        except Exception:
            # The routine matters more than its record: log and keep listening.
            log.exception("history: could not record the %s event", event.event)

    def replay(self, held: Sequence[tuple[Event, float]], now: float) -> None:
        """Record events that came before this recorder existed, in order.

        ``held`` pairs each event with the :func:`time.monotonic` moment it came, and
        ``now`` is that clock now. The session's clock times are the events' own; the
        dates stored (to the second) are set back by each event's age, in whole
        seconds, so an event under half a second old is dated now, as it would have
        been had the recorder listened from the start.
        """
        live = self._now

        def ago(seconds: float) -> Callable[[], datetime]:
            age = timedelta(seconds=round(max(0.0, seconds)))
            return lambda: live() - age

        try:
            for event, at in held:
                self._now = ago(now - at)
                self(event)
        finally:
            self._now = live

    def set_pain_after(self, pain: int | None) -> None:
        """The "pain now" rating from the end-of-session summary."""
        if self._session_id and pain is not None:
            self.store.set_pain(self._session_id, after=pain)

    # -- events ---------------------------------------------------------------

    def _handle(self, event: Event) -> None:
        name = event.event
        if name == "session_start":
            self._started_at = self._now()
        elif name == "segment_start":
            self._segment_start(event)
        elif name == "segment_end":
            self._segment_end(event)
        elif name == "device":
            self._device(event)
        elif name == "session_end":
            self._session_end(event)

    def _ensure_session(self) -> int:
        if self._session_id is None:
            adjustment, plan = self.timeline.adjustment, self.timeline.plan
            self._session_id = self.store.start_session(
                routine=self.timeline.name,
                file=self.file,
                content_hash=self.timeline.content_hash,
                segments_total=len(self.timeline.segments),
                planned_s=self.timeline.total_s,
                pain_before=self.pain_before,
                device=self.device,
                started_at=self._started_at or self._now(),
                preview=self.preview,
                adjustment_hash=adjustment.hash if adjustment else None,
                adjustment=adjustment.summary if adjustment else None,
                plan_per_week=plan.per_week if plan else None,
                plan_weeks=plan.weeks if plan else None,
            )
        return self._session_id

    def _segment_start(self, event: Event) -> None:
        self._ensure_session()
        index = int(event["index"])
        planned = self._by_index.get(index)
        self._running = _Running(
            index=index,
            start_t=event.t,
            kind=str(event.get("kind") or (planned.kind if planned else "")),
            title=str(event.get("title") or (planned.title if planned else "")),
            side=event.get("side", planned.side if planned else None),
            rep=event.get("rep", planned.rep if planned else None),
        )

    def _device(self, event: Event) -> None:
        action = event.get("action")
        if action in ("connect", "reconnect") and event.get("name"):
            self.device = str(event["name"])
            if self._session_id:
                self.store.set_device(self._session_id, self.device)
            return
        running = self._running
        if action != "set" or running is None:
            return
        # A ramp sends many settings: keep the highest, the figure a practitioner asks about.
        percent, level = event.get("percent"), event.get("level")
        if percent is not None:
            running.percent = max(float(percent), running.percent or 0.0)
        if level is not None:
            running.level = max(int(level), running.level or 0)

    def _segment_end(self, event: Event) -> None:
        session_id = self._ensure_session()
        index = int(event["index"])
        running = self._running if self._running and self._running.index == index else None
        planned = self._by_index.get(index)
        data = event.data
        record = SegmentRecord(
            index=index,
            kind=running.kind if running else (planned.kind if planned else ""),
            title=running.title if running else (planned.title if planned else ""),
            side=running.side if running else (planned.side if planned else None),
            rep=running.rep if running else (planned.rep if planned else None),
            # The engine's own figures when it sends them; else the timeline's plan and
            # the session clock between this segment's start and end.
            planned_s=_number(data, "planned_s", planned.duration_s if planned else 0.0) or 0.0,
            actual_s=_number(
                data, "actual_s", max(0.0, event.t - running.start_t) if running else None
            ),
            skipped=bool(data.get("skipped", False)),
            # What the engine reports at the end wins over the settings this listener saw.
            percent=_number(data, "percent", running.percent if running else None),
            level=_whole(data, "level", running.level if running else None),
            motor_s=_number(data, "motor_s"),
            mean_level=_number(data, "mean_level"),
            peak_force=_number(data, "peak_force"),
            manual_changes=_whole(data, "manual_changes"),
        )
        self._running = None
        self.store.record_segment(session_id, record, spent_s=event.t, ended_at=self._now())

    def _session_end(self, event: Event) -> None:
        if self._session_id is None or self._ended:
            return  # stopped before the first segment: nothing to keep
        status = event.get("status")
        final: FinalStatus = status if status in _FINAL else "interrupted"
        self._ended = True
        self.store.finish_session(self._session_id, final, spent_s=event.t, ended_at=self._now())


def _number(data: dict[str, Any], key: str, default: float | None = None) -> float | None:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return default
    return float(value)


def _whole(data: dict[str, Any], key: str, default: int | None = None) -> int | None:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return default
    return int(value)

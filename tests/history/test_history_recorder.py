"""The recorder fed the events a real session emits, into a real SQLite file."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tproutine.engine.clock import FakeClock
from tproutine.engine.events import Event, EventName
from tproutine.engine.session import Session
from tproutine.history.recorder import HistoryRecorder
from tproutine.history.store import HistoryStore, SegmentRecord
from tproutine.routine.timeline import DeviceSetting, Segment, Timeline

UTC = timezone.utc
T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

TIMELINE = Timeline(
    name="Lower back release",
    segments=(
        Segment(0, "get_ready", "Get ready", 0.0, 5.0),
        Segment(1, "hold", "Quadratus lumborum", 5.0, 60.0, side="left", rep=1, reps=2),
        Segment(2, "massage", "Glutes", 65.0, 90.0, rep=1, device=DeviceSetting(20.0, 50.0)),
        Segment(3, "stretch", "Child's pose", 155.0, 30.0, rep=1),
    ),
    total_s=185.0,
    uses_device=True,
    content_hash="sha256:feed",
    source="routines/lower-back.yaml",
)


class Clock:
    """Wall time for the recorder: advances a second per reading, no sleeping."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def ev(event: EventName, t: float, /, **data: Any) -> Event:
    return Event(event, t, 1000.0 + t, data)


def start(index: int, t: float) -> Event:
    s = TIMELINE.segments[index]
    return ev(
        "segment_start", t, index=index, kind=s.kind, title=s.title, side=s.side, rep=s.rep,
        due=s.start_s,
    )  # fmt: skip


# A realistic run: a pause in the hold, a ramped massage with device feedback,
# then a skip of the last stretch, and the person ending it with `q`.
SESSION = [
    ev("session_start", 0.0, routine=TIMELINE.name, total_s=185.0, segments=4),
    start(0, 0.0),
    ev("cue", 0.0, index=0, say="Get ready"),
    ev("segment_end", 5.0, index=0, skipped=False),
    start(1, 5.0),
    ev("pause", 20.0),
    ev("resume", 20.0),  # the session clock stops while paused
    ev("segment_end", 65.0, index=1, skipped=False),
    start(2, 65.0),
    ev("device", 65.0, action="connect", name="Virtual massager"),
    ev("device", 65.0, action="set", percent=20.0, level=2),
    ev("clamp", 100.0, index=2, asked=45.0, given=40.0, why="max_intensity"),
    ev("device", 100.0, action="set", percent=40.0, level=4),
    ev("device", 150.0, action="set", percent=30.0, level=3),
    ev(
        "segment_end",
        155.0,
        index=2,
        skipped=False,
        motor_s=88.0,
        mean_level=3.2,
        peak_force=11.5,
        manual_changes=1,
    ),
    ev("device", 155.0, action="stop"),
    start(3, 155.0),
    ev("skip", 161.5, index=3),
    ev("segment_end", 161.5, index=3, skipped=True),
    ev("session_end", 161.5, status="stopped"),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    s = HistoryStore.open(tmp_path / "history.sqlite3")
    yield s
    s.close()


def test_a_whole_session_is_recorded(store: HistoryStore) -> None:
    clock = Clock()
    recorder = HistoryRecorder(TIMELINE, "routines/lower-back.yaml", 6, store, now=clock)
    recorder(SESSION[0])
    assert store.sessions() == []  # nothing on disk before the first segment
    for event in SESSION[1:]:
        recorder(event)
    recorder.set_pain_after(3)

    [row] = store.sessions()
    assert row.id == recorder.session_id
    assert (row.routine, row.file, row.content_hash) == (
        "Lower back release",
        "routines/lower-back.yaml",
        "sha256:feed",
    )
    assert (row.status, row.segments_done, row.segments_total) == ("stopped", 3, 4)
    assert (row.planned_s, row.spent_s) == (185.0, 161.5)
    assert (row.pain_before, row.pain_after) == (6, 3)
    assert row.device == "Virtual massager"
    assert row.started_at == T0 + timedelta(seconds=1)  # read at session_start
    assert row.ended_at is not None and row.ended_at > row.started_at

    records = [s.record for s in store.segments(row.id)]
    assert records == [
        SegmentRecord(0, "get_ready", "Get ready", 5.0, 5.0),
        SegmentRecord(1, "hold", "Quadratus lumborum", 60.0, 60.0, side="left", rep=1),
        SegmentRecord(
            2,
            "massage",
            "Glutes",
            90.0,
            90.0,
            rep=1,
            percent=40.0,
            level=4,
            motor_s=88.0,
            mean_level=3.2,
            peak_force=11.5,
            manual_changes=1,
        ),
        SegmentRecord(3, "stretch", "Child's pose", 30.0, 6.5, skipped=True, rep=1),
    ]


def test_segments_are_on_disk_while_the_session_runs(store: HistoryStore) -> None:
    recorder = HistoryRecorder(TIMELINE, None, None, store, now=Clock())
    for event in SESSION[:8]:  # up to the end of the hold
        recorder(event)
    with sqlite3.connect(store.path) as other:
        status, done, file = other.execute(
            "SELECT status, segments_done, file FROM sessions"
        ).fetchone()
        titles = [t for (t,) in other.execute("SELECT title FROM segments ORDER BY id")]
    other.close()
    assert (status, done, file) == ("running", 2, "routines/lower-back.yaml")
    assert titles == ["Get ready", "Quadratus lumborum"]


def test_figures_sent_with_segment_end_win(store: HistoryStore) -> None:
    recorder = HistoryRecorder(TIMELINE, None, None, store, now=Clock())
    for event in [
        start(2, 65.0),
        ev("device", 70.0, action="set", percent=35.0),
        ev(
            "segment_end",
            155.0,
            index=2,
            skipped=False,
            percent=42.5,
            level=5,
            planned_s=90.0,
            actual_s=89.75,
        ),
        ev("session_end", 155.0, status="completed"),
    ]:
        recorder(event)
    assert recorder.session_id is not None
    [segment] = store.segments(recorder.session_id)
    assert (segment.record.percent, segment.record.level) == (42.5, 5)
    assert (segment.record.planned_s, segment.record.actual_s) == (90.0, 89.75)
    [row] = store.sessions()
    assert row.status == "completed"


def test_a_session_ended_before_its_first_segment_leaves_no_row(store: HistoryStore) -> None:
    recorder = HistoryRecorder(TIMELINE, None, None, store, now=Clock())
    recorder(SESSION[0])
    recorder(ev("session_end", 0.0, status="stopped"))
    assert store.sessions() == [] and recorder.session_id is None


def test_an_unknown_status_is_recorded_as_interrupted(store: HistoryStore) -> None:
    recorder = HistoryRecorder(TIMELINE, None, None, store, now=Clock())
    recorder(start(0, 0.0))
    recorder(ev("session_end", 1.0, status="exploded"))
    [row] = store.sessions()
    assert row.status == "interrupted"


def test_an_unavailable_history_does_not_disturb_the_session(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = HistoryStore.open(blocker / "history.sqlite3")
    recorder = HistoryRecorder(TIMELINE, None, 5, store, now=Clock())
    for event in SESSION:
        recorder(event)
    recorder.set_pain_after(2)
    assert recorder.session_id == 0
    assert len(store.messages) == 1


class ExplodingStore(HistoryStore):
    """A store whose every write fails in a way the store itself did not catch."""

    def start_session(self, **kwargs: Any) -> int:
        raise RuntimeError("boom")


def test_the_recorder_never_raises_into_the_engine(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    real = HistoryStore.open(tmp_path / "h.sqlite3")
    store = ExplodingStore(real.path, None, writable=False, messages=[], marker=real._marker)
    recorder = HistoryRecorder(TIMELINE, None, None, store, now=Clock())
    with caplog.at_level(logging.ERROR, logger="tproutine.history"):
        for event in SESSION:
            recorder(event)
        recorder(ev("segment_end", 1.0))  # malformed: no index
    assert "could not record the segment_start event" in caplog.text
    assert "could not record the segment_end event" in caplog.text
    real.close()


async def test_the_real_engine_on_a_fake_clock_is_recorded(store: HistoryStore) -> None:
    """End to end with tproutine's session engine: pause, skip, and a run to the end."""
    clock = FakeClock(500.0)
    session = Session(TIMELINE, clock, countdown=0)
    recorder = HistoryRecorder(TIMELINE, None, 4, store, now=Clock())
    session.subscribe(recorder)
    task = asyncio.create_task(session.run())
    await clock.advance(20.0)  # 15 s into the hold
    session.pause()
    await clock.advance(300.0)  # a long pause does not count as time spent
    session.resume()
    await clock.advance(50.0)  # the hold ends at session time 65; then 5 s of massage
    session.next()  # skip the rest of the massage
    await clock.run_until_idle()
    assert await task == "completed"

    [row] = store.sessions()
    assert (row.status, row.segments_done, row.segments_total) == ("completed", 3, 4)
    assert row.spent_s == pytest.approx(100.0)  # 65 + 5 + 30, the pause left out
    records = [s.record for s in store.segments(row.id)]
    assert [(r.index, r.skipped) for r in records] == [
        (0, False),
        (1, False),
        (2, True),
        (3, False),
    ]
    assert [r.actual_s for r in records] == pytest.approx([5.0, 60.0, 5.0, 30.0])
    # The engine's figure for the massage (its setting at the segment's end) is kept.
    assert records[2].percent == 50.0 and records[1].percent is None


def test_a_preview_an_adjustment_and_the_plan_are_recorded(store: HistoryStore) -> None:

    from tproutine.routine.loader import parse_routine
    from tproutine.routine.timeline import AdjustmentNote

    plan = parse_routine(
        "format: tproutine/1\nname: X\nplan: {per_week: 3, weeks: 6}\nsteps: [{rest: 5s}]\n", "x"
    ).routine.plan
    note = AdjustmentNote("ab" * 32, "time ×0.75; Doorway chest stretch: skipped")
    timeline = TIMELINE.replace(plan=plan, adjustment=note)
    recorder = HistoryRecorder(timeline, None, None, store, now=Clock(), preview=True)
    for event in SESSION:
        recorder(event)
    [row] = store.sessions()
    assert row.preview and not row.counts
    assert (row.adjustment_hash, row.adjustment) == (note.hash, note.summary)
    assert (row.plan_per_week, row.plan_weeks) == (3, 6)
    assert row.file == "routines/lower-back.yaml"  # the timeline's source

"""A recorder built after the session started (``build_runtime(history_later=...)``).

The TUI's ``run FILE`` paints the Player before it imports the history; the
session's events wait for the recorder and reach it in order. What ends up in the
history must be what a recorder listening from the start would have written.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tproutine.engine.clock import FakeClock
from tproutine.engine.events import Event
from tproutine.history.recorder import HistoryRecorder
from tproutine.history.store import HistoryStore
from tproutine.runtime import Runtime, build_runtime

from .test_runtime import TL, FakeDevice

NOW = datetime(2026, 3, 14, 9, 30, tzinfo=timezone.utc)


def stored(db: Path) -> list[tuple[dict[str, Any], list[Any]]]:
    """Every session of the history at ``db`` with its segments, as written (the id
    and the process that wrote it left out, being different for each run)."""
    with HistoryStore.open(db, reading=True) as store:
        return [
            (
                {k: v for k, v in dataclasses.asdict(row).items() if k != "id"},
                [(s.record, s.ended_at) for s in store.segments(row.id)],
            )
            for row in store.sessions(previews=True)
        ]


@pytest.fixture
def moments(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The wall clock stands at NOW; the runtime's monotonic clock reads the last item
    (a test appends to move it), so an event's age is what the test says it is."""
    monkeypatch.setattr("tproutine.history.store.utc_now", lambda: NOW)
    reading = [0.0]
    monkeypatch.setattr("tproutine.runtime.monotonic", lambda: reading[-1])
    return reading


class Opener:
    """``history_later``: opens the store at ``db`` once, and says how often it was asked."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.store: HistoryStore | None = None
        self.calls = 0

    def __call__(self) -> HistoryStore:
        self.calls += 1
        assert self.store is None, "the history was opened twice"
        self.store = HistoryStore.open(self.db)
        return self.store


async def run_to(rt: Runtime, seconds: float | None) -> asyncio.Task[str]:
    """Start the session and move its fake clock ``seconds`` on (None: to its end)."""
    clock = rt.clock
    assert isinstance(clock, FakeClock)
    task = asyncio.create_task(rt.run())
    if seconds is None:
        await clock.run_until_idle()
    else:
        await clock.advance(seconds)
    return task


async def session(db: Path, later: bool, attach_at: float | None, **kw: Any) -> Opener:
    """One session of TL to its end, pain after 3: its recorder attached at once, or
    (``later``) at ``attach_at`` seconds of the session clock (None: never by hand)."""
    opener = Opener(db)
    if later:
        rt = build_runtime(TL, clock=FakeClock(), history_later=opener, **kw)
    else:
        rt = build_runtime(TL, clock=FakeClock(), history_path=db, **kw)
    async with rt:
        task = await run_to(rt, attach_at)
        if later:
            assert rt.history_waiting and opener.calls == 0
        if attach_at is not None:
            rt.attach_history()
            assert not rt.history_waiting
        await run_to_end(rt)
        assert await task == "completed"
    rt.set_pain_after(3)
    rt.close()
    if opener.store is not None:
        opener.store.close()  # the caller's store (the app's): the runtime leaves it open
    return opener


async def run_to_end(rt: Runtime) -> None:
    clock = rt.clock
    assert isinstance(clock, FakeClock)
    await clock.run_until_idle()


def test_importing_the_runtime_does_not_import_the_history() -> None:
    # A fresh interpreter: nothing another test imported can hide the import.
    code = (
        "import json, sys\n"
        "import tproutine.runtime\n"
        "print(json.dumps(sorted(m for m in sys.modules\n"
        "    if m == 'sqlite3' or m.startswith('tproutine.history'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize("attach_at", [0.0, 12.0, 30.0, None], ids=str)
@pytest.mark.parametrize("device", [False, True], ids=["timer", "device"])
async def test_a_recorder_attached_later_writes_what_one_from_the_start_would(
    tmp_path: Path, moments: list[float], attach_at: float | None, device: bool
) -> None:
    # 12 s: in the first hold; 30 s: in the massage (two segments ended meanwhile);
    # None: the session ends first and its close attaches the recorder.
    kw: dict[str, Any] = {"file": "hips.yaml", "pain_before": 6, "preview": True}
    if device:
        kw["device"] = FakeDevice()
    await session(tmp_path / "now.sqlite3", False, None, **kw)
    if device:
        kw["device"] = FakeDevice()
    opener = await session(tmp_path / "later.sqlite3", True, attach_at, **kw)
    assert opener.calls == 1
    expected = stored(tmp_path / "now.sqlite3")
    (row, segments), *_ = expected
    assert row["status"] == "completed" and row["pain_before"] == 6 and row["pain_after"] == 3
    assert row["preview"] and row["file"] == "hips.yaml" and row["spent_s"] == 45.0
    assert [(r.index, r.actual_s) for r, _ in segments] == [(0, 5.0), (1, 20.0), (2, 20.0)]
    assert stored(tmp_path / "later.sqlite3") == expected


async def test_a_session_stopped_before_the_recorder_exists_is_recorded_as_stopped(
    tmp_path: Path, moments: list[float]
) -> None:
    records = []
    for later in (False, True):
        db = tmp_path / f"{later}.sqlite3"
        opener = Opener(db)
        rt = build_runtime(
            TL, clock=FakeClock(), **({"history_later": opener} if later else {"history_path": db})
        )
        async with rt:
            task = await run_to(rt, 12.0)
            rt.session.stop()
            assert await task == "stopped"
            assert rt.history_waiting is later  # still waiting when the session ended
        # The close of the session (``async with``) attached it.
        assert not rt.history_waiting
        rt.close()
        if opener.store is not None:
            opener.store.close()
        records.append(stored(db))
    assert records[0] == records[1]
    (row, segments), *_ = records[0]
    assert row["status"] == "stopped" and row["spent_s"] == 12.0
    assert [(r.index, r.skipped) for r, _ in segments] == [(0, False), (1, True)]


async def test_events_held_for_a_while_keep_their_dates(
    tmp_path: Path, moments: list[float]
) -> None:
    # The session runs its first two segments at monotonic 100, and the recorder comes
    # 3.4 s later: what happened before it is dated 3 s back, the rest now.
    moments.append(100.0)
    opener = Opener(tmp_path / "h.sqlite3")
    rt = build_runtime(TL, clock=FakeClock(), history_later=opener)
    async with rt:
        task = await run_to(rt, 30.0)
        moments.append(103.4)
        rt.attach_history()
        await run_to_end(rt)
        assert await task == "completed"
    assert opener.store is not None
    opener.store.close()
    ((row, segments),) = stored(tmp_path / "h.sqlite3")
    earlier = NOW - timedelta(seconds=3)
    assert row["started_at"] == earlier and row["ended_at"] == NOW
    assert [at for _, at in segments] == [earlier, earlier, NOW]


async def test_a_history_that_cannot_be_built_is_said_and_the_session_runs() -> None:
    reports: list[str] = []

    def broken() -> HistoryStore:
        raise OSError("no such folder")

    rt = build_runtime(TL, clock=FakeClock(), history_later=broken, report=reports.append)
    async with rt:
        task = await run_to(rt, None)
        assert await task == "completed"
    assert rt.store is None and rt.recorder is None and not rt.history_waiting
    rt.set_pain_after(2)
    rt.close()
    assert reports == ["history: this session cannot be saved: no such folder"]


def test_replay_dates_each_event_by_its_age(tmp_path: Path) -> None:
    dates: list[datetime] = []
    with HistoryStore.open(tmp_path / "h.sqlite3") as store:
        recorder = HistoryRecorder(TL, "hips.yaml", None, store, now=lambda: NOW)
        seen: list[str] = []
        real = recorder._handle

        def handle(event: Event) -> None:
            seen.append(event.event)
            dates.append(recorder._now())
            real(event)

        recorder._handle = handle  # type: ignore[method-assign]
        held = [
            (Event("session_start", 0.0, 0.0), 10.0),
            (Event("segment_start", 0.0, 0.0, {"index": 0}), 10.2),
            (Event("segment_end", 5.0, 5.0, {"index": 0}), 13.7),
        ]
        recorder.replay(held, now=15.0)
        assert recorder._now() == NOW  # its own clock again afterwards
    assert seen == ["session_start", "segment_start", "segment_end"]
    # Ages 5 s, 4.8 s and 1.3 s, in whole seconds.
    assert dates == [NOW - timedelta(seconds=s) for s in (5, 5, 1)]

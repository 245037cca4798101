"""The Player records its session behind the screen: a locked history never holds it up.

Another process holds the real SQLite file's write lock (``BEGIN EXCLUSIVE``) while
the Player runs steps on the fake clock. Every step's end goes on at once (no
transaction ever runs on the app's thread: the store's own thread writes), and
once the lock goes every step is in the history.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from tests.history.test_history_lock import Locker
from tproutine import paths
from tproutine.engine.clock import FakeClock
from tproutine.history.store import HistoryStore
from tproutine.settings import Settings
from tproutine.tui.screens.summary import SummaryScreen

from .conftest import AppFactory, advance, screen_text, settle, wait_for
from .test_player import digits, start_desk

QUIET = Settings(pain_prompts=False)


@pytest.fixture
def transactions(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The name of the thread each of the history's write transactions ran on."""
    threads: list[str] = []
    real = HistoryStore._transaction

    def recorded(store: HistoryStore) -> AbstractContextManager[Any]:
        threads.append(threading.current_thread().name)
        return real(store)

    monkeypatch.setattr(HistoryStore, "_transaction", recorded)
    yield threads


def saved_segments() -> list[tuple[str, list[int]]]:
    """Each stored session's status and the indexes of its finished (not skipped) steps."""
    with HistoryStore.open(paths.history_path(), reading=True) as reader:
        return [
            (row.status, [s.record.index for s in reader.segments(row.id) if not s.record.skipped])
            for row in reader.sessions()
        ]


async def test_steps_end_at_once_under_a_locked_history_and_are_all_saved(
    make: AppFactory, clock: FakeClock, xdg: Path, transactions: list[str]
) -> None:
    app = make(settings=QUIET)
    async with app.run_test(size=(100, 30)) as pilot:
        await start_desk(pilot)  # get ready 5 s, hold 30 s, rest 10 s, hold 30 s, breathe 20 s
        store = app.history_store()
        assert store.settle(60.0)  # the session's start is written: the database works
        locker = Locker(paths.history_path())
        try:
            for seconds, clock_text in ((5, "00:30"), (30, "00:10"), (10, "00:30"), (30, "00:20")):
                await advance(pilot, clock, seconds)
                assert digits(app) == clock_text  # the next step is on screen
            # The writer has met the lock: the four steps wait in memory, none on disk.
            await wait_for(pilot, "the writer to meet the lock", lambda: store.waiting)
            assert saved_segments() == [("running", [])]
        finally:
            locker.release()
        await pilot.press("q", "y")
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen)
        await wait_for(pilot, "the session saved", lambda: "Saved to history." in screen_text(app))
    assert saved_segments() == [("stopped", [0, 1, 2, 3])]
    # Not one write transaction on the app's own thread: no step's end waited for the disk.
    assert transactions and threading.main_thread().name not in transactions
    assert set(transactions) == {"tproutine-history-writer"}

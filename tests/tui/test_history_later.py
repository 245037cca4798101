"""`run FILE` builds its recorder after the Player's first frame: nothing is lost.

The app imports the history and attaches the session's recorder once the first
frame is painted; a session that ends, or an app that is quit, before that is
recorded all the same. Each run is compared with the same run recorded from the
start (a history handed to the app, as the Library's sessions are): the same
session row, the same segments with their fake-clock times, the same status.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.engine.test_runtime_history_later import NOW, stored
from tproutine.engine.clock import FakeClock
from tproutine.history.store import HistoryStore
from tproutine.routine import load_timeline
from tproutine.runtime import Runtime
from tproutine.settings import Settings
from tproutine.tui.app import TProutineApp
from tproutine.tui.screens.player import PlayerScreen
from tproutine.tui.screens.summary import SummaryScreen

from .conftest import DATA, AppFactory, advance, screen_text, settle, wait_for

QUIET = Settings(pain_prompts=False)
# Desk neck reset: get ready 5 s, hold 30 s, rest 10 s, hold 30 s, breathe 20 s.
STEPS = (5, 30, 10, 30, 20)
QUIT_AFTER = (5, 30, 4)  # ctrl+q 4 s into the rest


@pytest.fixture
def dated(monkeypatch: pytest.MonkeyPatch) -> None:
    """The history's dates at NOW, and no event older than another: the dates of a
    run recorded later are those of a run recorded at once."""
    monkeypatch.setattr("tproutine.history.store.utc_now", lambda: NOW)
    monkeypatch.setattr("tproutine.runtime.monotonic", lambda: 0.0)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> list[Runtime]:
    """The app's attach after the first frame does nothing: the recorder waits until
    the session needs it (its end, a quit), as when the first frame comes that late."""
    runtimes: list[Runtime] = []

    def hold(app: TProutineApp, runtime: Runtime) -> None:
        runtimes.append(runtime)

    monkeypatch.setattr(TProutineApp, "_attach_history", hold)
    return runtimes


async def desk(make: AppFactory, end: str, **kw: Any) -> TProutineApp:
    """`run desk-neck.yaml --yes` on a fake clock of its own, to the end (``completed``)
    or quit with ctrl+q 4 s after the first hold (``quit``)."""
    clock = FakeClock(1000.0)
    app = make(
        start=load_timeline(DATA / "desk-neck.yaml"),
        yes=True,
        settings=QUIET,
        clock_factory=lambda: clock,
        **kw,
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, "the Player", lambda: isinstance(app.screen, PlayerScreen))
        await settle(pilot)
        steps = STEPS if end == "completed" else QUIT_AFTER
        for seconds in steps:
            await advance(pilot, clock, seconds)
        if end == "completed":
            await wait_for(pilot, "the summary", lambda: isinstance(app.screen, SummaryScreen))
            await wait_for(pilot, "saved", lambda: "Saved to history." in screen_text(app))
        else:
            await pilot.press("ctrl+q")
    return app


async def recorded_at_once(make: AppFactory, end: str, db: Path) -> None:
    with HistoryStore.open(db) as store:
        app = await desk(make, end, store=store)
        assert app.runtime is None or not app.runtime.history_waiting


@pytest.mark.parametrize("end", ["completed", "quit"])
async def test_a_session_over_before_its_recorder_exists_is_recorded_the_same(
    make: AppFactory, xdg: Path, dated: None, held: list[Runtime], end: str
) -> None:
    await recorded_at_once(make, end, xdg / "now.sqlite3")
    expected = stored(xdg / "now.sqlite3")
    ((row, segments),) = expected
    status, done = ("completed", [0, 1, 2, 3, 4]) if end == "completed" else ("stopped", [0, 1])
    assert row["status"] == status
    assert row["spent_s"] == sum(STEPS if end == "completed" else QUIT_AFTER)
    assert [r.index for r, _ in segments if not r.skipped] == done

    await desk(make, end, history_path=xdg / "later.sqlite3")
    (runtime,) = held  # the attach after the first frame was asked for, and did nothing
    assert not runtime.history_waiting  # the session's end (or the quit) attached it
    assert stored(xdg / "later.sqlite3") == expected


async def test_the_recorder_comes_after_the_first_frame(
    make: AppFactory, clock: FakeClock, xdg: Path, dated: None
) -> None:
    # The usual way: no history before the Player is up, then the recorder, which gets
    # the session's start (held meanwhile) and records the rest as it happens.
    await recorded_at_once(make, "completed", xdg / "now.sqlite3")
    app = make(
        start=load_timeline(DATA / "desk-neck.yaml"),
        yes=True,
        settings=QUIET,
        history_path=xdg / "later.sqlite3",
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, "the Player", lambda: isinstance(app.screen, PlayerScreen))
        runtime = app.runtime
        assert runtime is not None
        await wait_for(pilot, "the recorder", lambda: not runtime.history_waiting)
        for seconds in STEPS:
            await advance(pilot, clock, seconds)
        await wait_for(pilot, "saved", lambda: "Saved to history." in screen_text(app))
    assert stored(xdg / "later.sqlite3") == stored(xdg / "now.sqlite3")


def test_the_app_for_run_file_imports_no_history_before_it_runs() -> None:
    # A fresh interpreter: building the app and its start (what happens before the
    # first frame) leaves the history, SQLite and the recorder unimported.
    code = (
        "import json, sys\n"
        "from tproutine.routine import load_timeline\n"
        "from tproutine.tui.app import AppOptions, make_app\n"
        f"timeline = load_timeline({str(DATA / 'desk-neck.yaml')!r})\n"
        "app = make_app(AppOptions(start=timeline, yes=True))\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('tproutine.history'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []

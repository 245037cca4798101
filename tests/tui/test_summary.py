"""The Summary: time spent, segments done, "pain now", saved to history, enter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tproutine.engine.clock import FakeClock
from tproutine.settings import Settings
from tproutine.tui.screens.library import LibraryScreen
from tproutine.tui.screens.summary import SummaryScreen

from .conftest import AppFactory, advance, flat, open_routine, screen_text, settle, wait_for


async def end_calf_after(pilot: Pilot[Any], clock: FakeClock, seconds: float) -> None:
    await open_routine(pilot, "Calf massage")
    await pilot.press("enter")  # skip "pain right now"
    await settle(pilot)
    await advance(pilot, clock, seconds)
    await pilot.press("q", "y")
    await settle(pilot)


async def test_summary_of_an_ended_session(make: AppFactory, clock: FakeClock) -> None:
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await end_calf_after(pilot, clock, 25)
        assert isinstance(app.screen, SummaryScreen)
        text = flat(screen_text(app))
        assert "Session ended." in text and "Calf massage" in text
        assert "Time spent: 00:25" in text
        assert "Segments done: 0 of 2 (1 skipped)" in text
        assert "Pain now (0 none – 10 worst): not rated" in text
        # Written by the history's own thread: "Saving to history…" until it is done.
        await wait_for(pilot, "the session saved", lambda: "Saved to history." in screen_text(app))
        assert "⏎ Back to the library" in screen_text(app).splitlines()[-1]


async def test_pain_now_is_saved_with_enter(make: AppFactory, clock: FakeClock) -> None:
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await end_calf_after(pilot, clock, 50)
        await pilot.press("2")
        assert "2 of 10" in screen_text(app)
        await pilot.press("t")
        assert "10 of 10" in screen_text(app)
        await pilot.press("3", "enter")
        await pilot.pause()
        assert isinstance(app.screen, LibraryScreen)
        row = app.history_store().sessions()[0]
        assert (row.status, row.segments_done, row.pain_after) == ("stopped", 1, 3)


async def test_enter_without_a_rating_leaves_it_empty(make: AppFactory, clock: FakeClock) -> None:
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await end_calf_after(pilot, clock, 5)
        await pilot.press("enter")
        await pilot.pause()
        assert app.history_store().sessions()[0].pain_after is None


async def test_without_pain_prompts_there_is_no_rating(make: AppFactory, clock: FakeClock) -> None:
    app = make(settings=Settings(pain_prompts=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_routine(pilot, "Calf massage")
        await advance(pilot, clock, 61)
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen)
        text = flat(screen_text(app))
        assert "routine complete" in text and "Pain now" not in text
        assert "Segments done: 2 of 2" in text and "Time spent: 01:00" in text


async def test_a_history_that_cannot_be_written_is_said(
    make: AppFactory, clock: FakeClock, tmp_path: Path
) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the data folder should be")
    app = make(history_path=blocked / "history.sqlite3")
    async with app.run_test(size=(100, 30)) as pilot:
        await end_calf_after(pilot, clock, 5)
        assert isinstance(app.screen, SummaryScreen)
        assert "Not saved to history" in flat(screen_text(app))

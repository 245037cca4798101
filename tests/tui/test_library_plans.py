"""The Library and plans: due routines first and marked, the week's progress, "adjusted",
and `e` for "easier today"."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Static

from tproutine import paths
from tproutine.history.store import HistoryStore
from tproutine.settings import Settings
from tproutine.tui.screens.before_start import BeforeStartScreen
from tproutine.tui.screens.library import LibraryScreen
from tproutine.tui.screens.player import PlayerScreen

from .conftest import (
    AppFactory,
    flat,
    history_held,
    library_ready,
    screen_text,
    settle,
    wait_for,
)

ROUTINES = {
    # Fourteen a week with nothing done: due whatever the day.
    "aaa.yaml": "name: A daily one\nplan: {per_week: 14}\n",
    # Once a week, done today: not due.
    "bbb.yaml": "name: B weekly\nplan: {per_week: 1, reminder: '08:00'}\n",
    "ccc.yaml": "name: C no plan\n",
}
STEPS = (
    "steps:\n  - hold: Upper trapezius\n    id: upper-trap\n    duration: 40s\n    pressure: 5\n"
)


def library(folder: Path) -> Path:
    folder.mkdir()
    for file, head in ROUTINES.items():
        (folder / file).write_text("format: tproutine/1\n" + head + STEPS, encoding="utf-8")
    return folder


def done_today(name: str) -> None:
    with HistoryStore.open() as store:
        sid = store.start_session(
            routine=name, file="x.yaml", content_hash="", segments_total=2, planned_s=45.0,
            started_at=datetime.now(timezone.utc),
        )  # fmt: skip
        store.finish_session(sid, "completed")


async def plans_ready(pilot: Pilot[Any]) -> None:
    await library_ready(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, LibraryScreen)
    # The plans are read by a worker once the list is shown; its result is a message.
    await wait_for(pilot, "the plans", lambda: bool(screen._plans.progress))


async def test_due_routines_come_first_with_the_weeks_progress(make: AppFactory, xdg: Path) -> None:
    folder = library(xdg / "routines")
    done_today("B weekly")
    app = make(routine_dirs=((folder, "yours"),))
    async with app.run_test(size=(120, 30)) as pilot:
        await plans_ready(pilot)
        screen = app.screen
        assert isinstance(screen, LibraryScreen)
        assert [e.name for e in screen._shown] == ["A daily one", "B weekly", "C no plan"]
        text = screen_text(app)
        assert "A daily one · ● due · 0/14" in text
        assert "B weekly · 1/1 this week" in text
        assert "C no plan ·" not in text
        await pilot.press("down")
        await pilot.pause()
        preview = flat(str(screen.query_one("#preview", Static).content))
        assert "Plan Once a week; reminder at 08:00" in preview
        assert "This week: 1 of 1 done, nothing due today" in preview


async def test_an_adjusted_routine_says_so_and_runs_adjusted(make: AppFactory, xdg: Path) -> None:
    folder = library(xdg / "routines")
    adjustments = paths.user_adjustments_dir()
    adjustments.mkdir(parents=True)
    (adjustments / "c.yaml").write_text(
        "format: tproutine-adjust/1\nroutine: C no plan\nsteps:\n  upper-trap: {pressure: 4}\n",
        encoding="utf-8",
    )
    done_today("B weekly")
    app = make(routine_dirs=((folder, "yours"),))
    async with app.run_test(size=(120, 30)) as pilot:
        await plans_ready(pilot)
        assert "C no plan · adjusted" in screen_text(app)
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        if isinstance(app.screen, BeforeStartScreen):
            assert "Adjusted: upper-trap: pressure 4" in flat(screen_text(app))
            await pilot.press("enter")
            await settle(pilot)
        assert isinstance(app.screen, PlayerScreen)
        assert "C no plan · adjusted" in screen_text(app)
        assert app.screen.session.timeline.segments[1].pressure == 4


QUIET = Settings(pain_prompts=False)


async def started(pilot: Pilot[Any], key: str) -> PlayerScreen:
    """The Player, once ``key`` started the highlighted routine from the Library."""
    await plans_ready(pilot)
    await pilot.press(key)
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, PlayerScreen)
    return screen


async def test_without_adjustment_files_it_runs_what_the_library_just_read(
    make: AppFactory, xdg: Path, monkeypatch: Any
) -> None:
    # The file is read and checked once at the start, without the adjustments' code
    # (which loads pydantic: a pause at the first start of the day).
    from tproutine.routine import adjust

    def not_needed(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("read again for adjustments that do not exist")

    monkeypatch.setattr(adjust, "timeline_for", not_needed)
    app = make(routine_dirs=((library(xdg / "routines"), "yours"),), settings=QUIET)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await started(pilot, "enter")
        assert screen.session.timeline.name == "A daily one"
        assert screen.session.timeline.adjustment is None


async def test_e_starts_it_easier_today(make: AppFactory, xdg: Path) -> None:
    app = make(routine_dirs=((library(xdg / "routines"), "yours"),), settings=QUIET)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await started(pilot, "e")
        hold = screen.session.timeline.segments[1]
        assert (hold.duration_s, hold.pressure) == (30.0, 4)  # 40 s × 0.75, pressure 5 − 1
        assert "A daily one · adjusted" in screen_text(app)
        note = screen.session.timeline.adjustment
        assert note is not None and note.summary.startswith("easier today")


async def test_the_list_does_not_wait_for_the_history_its_plans_need(
    make: AppFactory, xdg: Path, monkeypatch: Any
) -> None:
    # Opening the history waits while another program holds its lock (up to the 2 s
    # busy timeout): here until the test says. The list is usable meanwhile.
    folder = library(xdg / "routines")
    done_today("B weekly")
    app = make(routine_dirs=((folder, "yours"),))
    with history_held(app, monkeypatch) as gate:
        async with app.run_test(size=(120, 30)) as pilot:
            # Listed (library_ready would wait for every worker, the plans' too).
            await wait_for(pilot, "the library", lambda: app.entries is not None)
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, LibraryScreen) and not screen._plans.progress
            await pilot.press("down")  # the keys work meanwhile
            await pilot.pause()
            assert "B weekly" in flat(str(screen.query_one("#preview", Static).content))
            gate.set()
            await plans_ready(pilot)
            assert "A daily one · ● due" in screen_text(app)

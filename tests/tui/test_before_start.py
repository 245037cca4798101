"""Before the start: warnings, the avoid-if checklist, "pain right now"; enter and escape."""

from __future__ import annotations

from pathlib import Path

from tproutine.engine.clock import FakeClock
from tproutine.history.store import HistoryStore
from tproutine.settings import Settings
from tproutine.tui.screens.before_start import BeforeStartScreen
from tproutine.tui.screens.library import LibraryScreen
from tproutine.tui.screens.player import PlayerScreen

from .conftest import AppFactory, advance, flat, open_routine, screen_text


async def test_shows_warnings_checklist_and_pain_prompt(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_routine(pilot, "Desk neck reset")
        assert isinstance(app.screen, BeforeStartScreen)
        text = flat(screen_text(app))
        assert "Before you start: Desk neck reset" in text
        assert "! Stop if you feel numbness or tingling." in text
        assert "Do not do this routine if:" in text and "- You had a neck injury" in text
        assert "none of these applies to you" in text
        assert "Pain right now (0 none – 10 worst): not rated" in text
        assert "enter: start" in text


async def test_digits_and_t_rate_pain_and_enter_starts_with_it(
    make: AppFactory, clock: FakeClock
) -> None:
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_routine(pilot, "Desk neck reset")
        await pilot.press("3")
        assert "not rated" not in screen_text(app) and "3 of 10" in screen_text(app)
        await pilot.press("t")
        assert "10 of 10" in screen_text(app)
        await pilot.press("backspace")
        assert "not rated" in screen_text(app)
        await pilot.press("7", "enter")
        await pilot.pause()
        assert isinstance(app.screen, PlayerScreen)
        await advance(pilot, clock, 1)
        rows = app.history_store().sessions()
        assert [(r.routine, r.pain_before, r.status) for r in rows] == [
            ("Desk neck reset", 7, "running")
        ]


async def test_enter_without_a_rating_skips_it(make: AppFactory, clock: FakeClock) -> None:
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_routine(pilot, "Desk neck reset")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PlayerScreen)
        await advance(pilot, clock, 1)
        assert app.history_store().sessions()[0].pain_before is None


async def test_escape_goes_back_without_a_session(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_routine(pilot, "Desk neck reset")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, LibraryScreen)
        assert app.runtime is None
        assert app.history_store().sessions() == []


async def test_only_pain_when_the_routine_has_no_safety_items(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_routine(pilot, "Calf massage")
        assert isinstance(app.screen, BeforeStartScreen)
        text = screen_text(app)
        assert "Warnings" not in text and "Pain right now" in text


async def test_no_modal_without_safety_items_and_pain_prompts(make: AppFactory) -> None:
    app = make(settings=Settings(pain_prompts=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_routine(pilot, "Calf massage")
        assert isinstance(app.screen, PlayerScreen)


async def test_safety_without_pain_prompts_has_no_rating(make: AppFactory) -> None:
    app = make(settings=Settings(pain_prompts=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_routine(pilot, "Desk neck reset")
        assert isinstance(app.screen, BeforeStartScreen)
        assert "Pain right now" not in screen_text(app)
        await pilot.press("5")  # not a rating here: nothing happens
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PlayerScreen)


async def test_enter_reads_on_before_it_confirms_when_the_list_is_long(
    make: AppFactory, tmp_path: Path
) -> None:
    items = "\n".join(f"    - Reason number {i} not to do this" for i in range(30))
    (tmp_path / "long.yaml").write_text(
        "format: tproutine/1\nname: Long list\nsafety:\n  avoid_if:\n"
        f"{items}\nsteps:\n  - stretch: Reach\n    duration: 10s\n"
    )
    app = make(routine_dirs=((tmp_path, "yours"),))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_routine(pilot, "Long list")
        assert isinstance(app.screen, BeforeStartScreen)
        assert "enter: read on" in screen_text(app)
        assert "Reason number 29" not in screen_text(app)
        presses = 0
        while isinstance(app.screen, BeforeStartScreen) and presses < 20:
            seen_last = "Reason number 29" in screen_text(app)
            await pilot.press("enter")
            await pilot.pause()
            presses += 1
            if not seen_last:
                assert isinstance(app.screen, BeforeStartScreen)
        assert isinstance(app.screen, PlayerScreen)
        assert presses > 1


async def test_the_store_gets_the_rating_even_before_the_player_shows(
    make: AppFactory, clock: FakeClock
) -> None:
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_routine(pilot, "Calf massage")
        await pilot.press("4", "enter")
        await pilot.pause()
        await advance(pilot, clock, 0)
        store: HistoryStore = app.history_store()
        assert store.sessions()[0].pain_before == 4

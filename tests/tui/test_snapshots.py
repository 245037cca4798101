"""Snapshots of the main screens at 80×24 and 120×36.

Fixed routines (tests/tui/data), the XDG folders in tmp_path, UTC, a seeded
history and the fake clock make every screenshot the same on every run.
After a deliberate change of the look: ``pytest tests/tui --snapshot-update``,
then look at the new SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from tproutine.engine.clock import FakeClock
from tproutine.settings import Settings

from .conftest import (
    AppFactory,
    advance,
    library_ready,
    open_routine,
    screen_text,
    settle,
    wait_for,
)
from .test_history import seed

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 36), id="120x36")]
Snap = Callable[..., bool]
RunBefore = Callable[[Pilot[Any]], Awaitable[None]]


@pytest.mark.parametrize("size", SIZES)
def test_library(make: AppFactory, snap_compare: Snap, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await library_ready(pilot)
        await pilot.press("down")  # the preview of the routine with safety items

    assert snap_compare(make(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_before_start(make: AppFactory, snap_compare: Snap, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_routine(pilot, "Desk neck reset")
        await pilot.press("6")

    assert snap_compare(make(), terminal_size=size, run_before=run_before)


def player_at(clock: FakeClock, seconds: float, *keys: str) -> RunBefore:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_routine(pilot, "Desk neck reset")
        await pilot.press("enter")
        await settle(pilot)
        await advance(pilot, clock, seconds)
        if keys:
            await pilot.press(*keys)
            await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_player_hold(
    make: AppFactory, clock: FakeClock, snap_compare: Snap, size: tuple[int, int]
) -> None:
    # 12 s into the first hold, after its first cue.
    app = make(settings=Settings(pain_prompts=False))
    assert snap_compare(app, terminal_size=size, run_before=player_at(clock, 17))


@pytest.mark.parametrize("size", SIZES)
def test_player_breathe_paused(
    make: AppFactory, clock: FakeClock, snap_compare: Snap, size: tuple[int, int]
) -> None:
    # 2 s into the out-breath of the breathe segment, paused.
    app = make(settings=Settings(pain_prompts=False))
    assert snap_compare(app, terminal_size=size, run_before=player_at(clock, 81, "space"))


@pytest.mark.parametrize("size", SIZES)
def test_summary(
    make: AppFactory, clock: FakeClock, snap_compare: Snap, size: tuple[int, int]
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await player_at(clock, 50)(pilot)
        await pilot.press("q", "y")
        await settle(pilot)
        # The history's thread writes the end of the session; the line then says so.
        await wait_for(pilot, "the session saved", lambda: "Saved to" in screen_text(pilot.app))
        await pilot.press("4")

    assert snap_compare(make(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_history(make: AppFactory, snap_compare: Snap, size: tuple[int, int]) -> None:
    seed()

    async def run_before(pilot: Pilot[Any]) -> None:
        await library_ready(pilot)
        await pilot.press("h")
        await pilot.pause()

    assert snap_compare(make(), terminal_size=size, run_before=run_before)

"""The demo's path with the real device controller and the in-process virtual massager.

Session time is the fake clock's, as everywhere in these tests; the Bluetooth
traffic to the simulator is real asyncio I/O, so a test waits (briefly, with a
deadline) for the device to report what the session asked of it.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from typing import Any, cast

import pytest
from textual.pilot import Pilot

from tproutine.engine.clock import FakeClock
from tproutine.settings import Settings
from tproutine.tui.app import TProutineApp
from tproutine.tui.screens.devices import DevicesScreen
from tproutine.tui.screens.player import PlayerScreen
from tproutine.tui.screens.summary import SummaryScreen

from .conftest import AppFactory, advance, flat, library_ready, open_routine, screen_text, settle

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("bumble") is None,
    reason="the virtual massager needs Bumble (pip install 'tproutine[sim]')",
)

# Generous: the virtual radio and Bumble run in this process, on a machine that may be busy.
DEADLINE_S = 60.0


async def until(pilot: Pilot[Any], what: str, ok: Callable[[], bool]) -> None:
    """Let the app run until ``ok()``; fail after a deadline with the screen."""
    deadline = time.monotonic() + DEADLINE_S
    while not ok():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {DEADLINE_S:g}s for {what}:\n{screen_text(pilot.app)}")  # type: ignore[arg-type]
        await pilot.pause(0.05)


def status(app: TProutineApp) -> Any:
    assert app.controller is not None
    return app.controller.status


async def test_demo_connects_the_virtual_massager_after_the_first_paint(make: AppFactory) -> None:
    app = make(demo=True, adapter="sim")
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        await until(pilot, "the connection", lambda: app.controller is not None
                    and status(app).state == "connected")  # fmt: skip
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DevicesScreen)
        text = flat(screen_text(app))
        assert "connected, motor off" in text and "battery 100%" in text
        await pilot.press("t")
        await until(pilot, "the test run", lambda: status(app).running)
        assert status(app).percent == pytest.approx(20, abs=5)
        await app.workers.wait_for_complete()
        await until(pilot, "the end of the test", lambda: not status(app).running)
        assert "Test done" in screen_text(app)


async def test_a_session_drives_the_motor_and_every_stop_works(
    make: AppFactory, clock: FakeClock
) -> None:
    app = make(demo=True, adapter="sim", settings=Settings(pain_prompts=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        await until(pilot, "the connection", lambda: app.controller is not None
                    and status(app).state == "connected")  # fmt: skip
        await open_routine(pilot, "Calf massage")  # a 20 → 60 % ramp over 40 s
        player = app.screen
        assert isinstance(player, PlayerScreen)
        # One controller for every session.
        assert cast(object, player.runtime.device) is app.controller
        await until(pilot, "the motor", lambda: status(app).running)
        assert status(app).percent == pytest.approx(20, abs=5)
        await advance(pilot, clock, 20)  # halfway up the ramp
        await until(pilot, "40 %", lambda: abs((status(app).percent or 0) - 40) <= 5)

        await pilot.press("space")  # pausing stops the motor
        await until(pilot, "the pause to stop it", lambda: not status(app).running)
        await pilot.press("space")
        await until(pilot, "the resume", lambda: status(app).running)

        await pilot.press("s")  # the latched stop
        await until(pilot, "the stop", lambda: not status(app).running)
        assert status(app).held_off
        await advance(pilot, clock, 5)
        await settle(pilot)
        assert not status(app).running
        assert "connected, motor stopped by you" in screen_text(app)
        await pilot.press("s")
        await until(pilot, "the release", lambda: status(app).running)

        await pilot.press("q", "y")
        await until(pilot, "the summary", lambda: isinstance(app.screen, SummaryScreen))
        await until(pilot, "the end of the session", lambda: not status(app).running)
        assert status(app).state == "connected"  # kept for the next session
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0
    assert app.controller is not None and app.controller.status.state == "none"


async def test_ctrl_q_mid_session_leaves_the_motor_off(make: AppFactory, clock: FakeClock) -> None:
    app = make(demo=True, adapter="sim", settings=Settings(pain_prompts=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        await until(pilot, "the connection", lambda: app.controller is not None
                    and status(app).state == "connected")  # fmt: skip
        await open_routine(pilot, "Calf massage")
        await until(pilot, "the motor", lambda: status(app).running)
        massager = app.controller
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert massager is not None
    assert not massager.status.running and massager.status.state == "none"


async def test_the_devices_screen_lists_the_connected_massager(make: AppFactory) -> None:
    # A connected device stops advertising, so a scan alone would show an empty list
    # in the demo; the device in use is the first row, marked connected.
    app = make(demo=True, adapter="sim")
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        await until(pilot, "the connection", lambda: app.controller is not None
                    and status(app).state == "connected")  # fmt: skip
        await pilot.press("d")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DevicesScreen)
        assert [f.address for f in screen.found] == [status(app).address]
        assert "tproutine-massager" in screen_text(app) and "connected" in screen_text(app)
        await pilot.press("r")  # a scan keeps it listed, and says why no other shows
        await until(pilot, "the scan", lambda: not screen.scanning)
        assert [f.address for f in screen.found] == [status(app).address]
        assert "the connected one is listed first" in screen_text(app)


async def test_the_end_question_stops_the_motor_and_no_resumes_it(
    make: AppFactory, clock: FakeClock
) -> None:
    app = make(demo=True, adapter="sim", settings=Settings(pain_prompts=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        await until(pilot, "the connection", lambda: app.controller is not None
                    and status(app).state == "connected")  # fmt: skip
        await open_routine(pilot, "Calf massage")
        player = app.screen
        assert isinstance(player, PlayerScreen)
        await until(pilot, "the motor", lambda: status(app).running)
        await advance(pilot, clock, 10)
        await pilot.press("q")
        await until(pilot, "the question to stop the motor", lambda: not status(app).running)
        assert player.session.state == "paused"
        await advance(pilot, clock, 15)  # reading the question takes no routine time
        assert player.session.segment_elapsed() == pytest.approx(10)
        await pilot.press("n")
        await until(pilot, "the motor again", lambda: status(app).running)
        assert player.session.state == "running"
        assert status(app).percent == pytest.approx(30, abs=5)  # a quarter up the ramp
        await pilot.press("ctrl+q")
        await pilot.pause()

"""The Player connects the device before the clock starts, and lets the person choose.

The device is a stand-in that answers ``connect_first`` as the test says (ready,
not ready with a reason, or not yet): what is tested is the screen's part, the
controller's is tested against the virtual massager in ``tests/devices``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from textual.pilot import Pilot

from tproutine.engine.clock import FakeClock
from tproutine.engine.events import Event
from tproutine.engine.session import Session
from tproutine.history.store import HistoryStore
from tproutine.runtime import ConnectsFirst, DeviceLink
from tproutine.settings import Settings
from tproutine.tui.screens.device_choice import DeviceChoiceScreen
from tproutine.tui.screens.library import LibraryScreen
from tproutine.tui.screens.player import ConfirmEndScreen, PlayerScreen

from .conftest import AppFactory, FakeController, advance, flat, open_routine, screen_text, settle

QUIET = Settings(pain_prompts=False, connect_timeout=7)


class WaitingDevice(FakeController):
    """A controller that connects first as scripted: each ``connect_first`` takes the
    next answer (None: ready; a text: why not; "wait": until the test says)."""

    def __init__(self, *answers: str | None) -> None:
        super().__init__()
        self.answers = list(answers)
        self.asked: list[float] = []
        self.cancelled = 0
        self.started: list[Session] = []
        self.release: asyncio.Future[str | None] | None = None

    def connecting_text(self, timeout: float) -> str:
        return f"Connecting to Fake massager (up to {timeout:g} s)…"

    async def connect_first(self, session: Session, timeout: float) -> str | None:
        self.asked.append(timeout)
        answer = self.answers.pop(0)
        if answer != "wait":
            return answer
        self.release = asyncio.get_running_loop().create_future()
        try:
            return await self.release
        except asyncio.CancelledError:
            self.cancelled += 1
            raise

    def on_event(self, event: Event) -> None:
        pass

    async def start(self, session: Session) -> None:
        self.started.append(session)

    async def aclose(self) -> None:
        self.calls.append("aclose")


async def start_calf(pilot: Pilot[Any]) -> PlayerScreen:
    await open_routine(pilot, "Calf massage")  # no safety items: straight to the Player
    await settle(pilot)
    screens = [s for s in pilot.app.screen_stack if isinstance(s, PlayerScreen)]
    assert screens, pilot.app.screen_stack
    return screens[0]


def sessions(app: Any) -> list[Any]:
    store: HistoryStore = app.history_store()
    return store.sessions()


def test_the_stand_in_is_what_the_runtime_expects() -> None:
    device = WaitingDevice()
    assert isinstance(device, DeviceLink) and isinstance(device, ConnectsFirst)


@pytest.mark.parametrize("key", ["enter", "w"])
async def test_not_ready_then_start_without_it(
    make: AppFactory, clock: FakeClock, key: str
) -> None:
    device = WaitingDevice("the device was not found within 7 s on \x1b[31mRadio")
    app = make(settings=QUIET, controller=device)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_calf(pilot)
        assert isinstance(app.screen, DeviceChoiceScreen)
        assert device.asked == [7]
        text = flat(screen_text(app))
        assert "The device is not ready" in text
        # The reason is one line of someone else's text: shown, never obeyed.
        assert "not found within 7 s on ␛[31mRadio" in text
        assert player.session.state == "idle"  # no routine time has passed
        await pilot.press(key)
        await settle(pilot)
        assert app.screen is player and player.session.state == "running"
        assert device.started == [player.session]
        await advance(pilot, clock, 5)
        assert player.session.segment_elapsed() == 5


async def test_try_again_then_ready(make: AppFactory) -> None:
    device = WaitingDevice("not found", None)
    app = make(settings=QUIET, controller=device)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_calf(pilot)
        assert isinstance(app.screen, DeviceChoiceScreen)
        await pilot.press("r")
        await settle(pilot)
        assert device.asked == [7, 7]
        assert app.screen is player and player.session.state == "running"


async def test_not_ready_and_back_records_nothing(make: AppFactory) -> None:
    device = WaitingDevice("not found")
    app = make(settings=QUIET, controller=device)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_calf(pilot)
        await pilot.press("escape")
        await settle(pilot)
        await app.workers.wait_for_complete()
        assert isinstance(app.screen, LibraryScreen)
        assert player.session.state == "finished" and device.started == []
        assert "aclose" in device.calls
        assert sessions(app) == []


async def test_while_connecting_the_player_says_so_and_w_starts_without_it(
    make: AppFactory,
) -> None:
    device = WaitingDevice("wait")
    app = make(settings=QUIET, controller=device)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_calf(pilot)
        assert app.screen is player
        text = flat(screen_text(app))
        assert "Connecting the device…" in text
        assert "Connecting to Fake massager (up to 7 s)… w: start without it · q: end" in text
        assert player.session.state == "idle"
        # Enter, pressed once more after the screen before was confirmed, does not
        # give up the device.
        await pilot.press("enter")
        await settle(pilot)
        assert device.cancelled == 0 and player.session.state == "idle"
        await pilot.press("w")
        await settle(pilot)
        assert device.cancelled == 1
        assert player.session.state == "running"
        assert "Connecting" not in flat(screen_text(app))


async def test_while_connecting_q_ends_before_anything_started(make: AppFactory) -> None:
    device = WaitingDevice("wait")
    app = make(settings=QUIET, controller=device)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_calf(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmEndScreen)
        await pilot.press("y")
        await settle(pilot)
        await app.workers.wait_for_complete()
        assert device.cancelled == 1
        assert isinstance(app.screen, LibraryScreen)
        assert player.session.state == "finished" and sessions(app) == []


async def test_the_command_line_wait_overrides_the_settings(make: AppFactory) -> None:
    device = WaitingDevice(None)
    app = make(settings=QUIET, controller=device, connect_timeout=2.5)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_calf(pilot)
        assert device.asked == [2.5]
        assert player.session.state == "running"


async def test_a_device_that_may_run_on_is_said_at_once(make: AppFactory) -> None:
    device = WaitingDevice(None)
    app = make(settings=QUIET, controller=device)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_calf(pilot)
        player.session.emit(
            "device",
            action="disconnect",
            reason="link lost",
            running=True,
            warning="Fake massager may still be running: switch it off\x1b[2J by hand",
        )
        await settle(pilot)
        notes = [n for n in app._notifications if "may still be running" in n.message]
        assert len(notes) == 1 and notes[0].severity == "error" and notes[0].timeout >= 20
        assert "\x1b" not in notes[0].message

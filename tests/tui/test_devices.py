"""Devices: scan, connect, disconnect, test, default device, stop; all through messages."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.message import Message

from tproutine.devices.status import DeviceStatus, FoundDevice
from tproutine.settings import Settings, load_settings
from tproutine.tui.messages import ConnectFinished, DeviceTestFinished, ScanFinished
from tproutine.tui.screens.devices import NO_CONTROLLER, DevicesScreen, signal_text

from .conftest import AppFactory, FakeController, flat, library_ready, screen_text

VIRTUAL = FoundDevice(
    "tproutine virtual", "AA:BB:CC:00:00:01", -48, "tproutine-virtual", "Virtual massager"
)
STRANGER = FoundDevice(None, "11:22:33:44:55:66", -82, None, None)


class Scanner:
    """Returns fixed devices and remembers how it was asked."""

    def __init__(
        self, found: list[FoundDevice] | None = None, error: Exception | None = None
    ) -> None:
        self.found = found if found is not None else [STRANGER, VIRTUAL]
        self.error = error
        self.calls: list[tuple[str, float]] = []

    async def __call__(self, adapter: str, timeout: float) -> list[FoundDevice]:
        self.calls.append((adapter, timeout))
        await asyncio.sleep(0)
        if self.error is not None:
            raise self.error
        return list(self.found)


async def open_devices(pilot: Any) -> DevicesScreen:
    await library_ready(pilot)
    await pilot.press("d")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, DevicesScreen)
    return screen


async def finish_work(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_signal_in_words() -> None:
    assert signal_text(-50) == "strong (-50 dBm)"
    assert signal_text(-70) == "fair (-70 dBm)"
    assert signal_text(-90) == "weak (-90 dBm)"
    assert signal_text(None) == "–"


async def test_scan_lists_devices_with_profile_and_signal(make: AppFactory) -> None:
    scanner = Scanner()
    seen: list[Message] = []
    app = make(controller=FakeController(), scanner=scanner, adapter="sim", scan_timeout=3.0)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await open_devices(pilot)
        assert "Adapter: sim" in screen_text(app)
        await pilot.press("r")
        await finish_work(pilot)
        assert scanner.calls == [("sim", 3.0)]
        # One message (the hook may see it more than once on its way to the screen).
        finished = {id(m): m for m in seen if isinstance(m, ScanFinished)}
        assert len(finished) == 1
        assert [m.error for m in finished.values()] == [None]
        text = flat(screen_text(app))
        # Known profiles first.
        assert text.index("tproutine virtual") < text.index("(no name)")
        assert "Virtual massager" in text and "strong (-48 dBm)" in text
        assert "unknown: not supported" in text and "weak (-82 dBm)" in text
        assert "Found 2 devices." in text


async def test_a_failed_or_empty_scan_says_so(make: AppFactory) -> None:
    app = make(scanner=Scanner(error=RuntimeError("Bluetooth is off")))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_devices(pilot)
        await pilot.press("r")
        await finish_work(pilot)
        assert "Scan failed: Bluetooth is off" in screen_text(app)
    app = make(scanner=Scanner(found=[]))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_devices(pilot)
        await pilot.press("r")
        await finish_work(pilot)
        assert "No devices found." in screen_text(app)


async def test_connect_disconnect_and_test_run_in_workers(make: AppFactory) -> None:
    fake = FakeController(DeviceStatus(state="none"))
    seen: list[Message] = []
    app = make(controller=fake, scanner=Scanner())
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await open_devices(pilot)
        await pilot.press("r")
        await finish_work(pilot)
        await pilot.press("enter")  # the highlighted (first) device: the virtual one
        await finish_work(pilot)
        assert fake.calls == [("connect", VIRTUAL)]
        assert any(isinstance(m, ConnectFinished) and m.error is None for m in seen)
        assert "Connected to tproutine virtual." in screen_text(app)
        # The controller reports the link; the panel shows its readings live.
        fake.publish(
            DeviceStatus(state="connected", name="tproutine virtual", battery=64, speed_rpm=1800)
        )
        await pilot.pause()
        text = flat(screen_text(app))
        assert "connected, motor off" in text and "battery 64%" in text and "1800 rpm" in text
        await pilot.press("t")
        await finish_work(pilot)
        assert fake.calls[-1] == ("test", 2.0, 20.0)
        assert any(isinstance(m, DeviceTestFinished) for m in seen)
        assert "Test done" in screen_text(app)
        await pilot.press("x")
        await finish_work(pilot)
        assert fake.calls[-1] == "disconnect"
        assert "Disconnected from tproutine virtual." in screen_text(app)


async def test_c_connects_and_an_unknown_device_is_refused(make: AppFactory) -> None:
    fake = FakeController(DeviceStatus(state="none"))
    app = make(controller=fake, scanner=Scanner())
    async with app.run_test(size=(100, 30)) as pilot:
        await open_devices(pilot)
        await pilot.press("r")
        await finish_work(pilot)
        await pilot.press("down", "c")
        await finish_work(pilot)
        assert fake.calls == []
        assert "matches no known device profile" in screen_text(app)
        await pilot.press("up", "c")
        await finish_work(pilot)
        assert fake.calls == [("connect", VIRTUAL)]


async def test_a_failed_connection_is_said(make: AppFactory) -> None:
    class Failing(FakeController):
        async def connect(self, target: Any) -> None:
            raise TimeoutError("no answer within 10 s")

    app = make(controller=Failing(DeviceStatus(state="none")), scanner=Scanner())
    async with app.run_test(size=(100, 30)) as pilot:
        await open_devices(pilot)
        await pilot.press("r")
        await finish_work(pilot)
        await pilot.press("c")
        await finish_work(pilot)
        assert "Could not connect tproutine virtual: no answer within 10 s" in screen_text(app)


async def test_test_needs_a_connected_device(make: AppFactory) -> None:
    fake = FakeController(DeviceStatus(state="none"))
    app = make(controller=fake, scanner=Scanner())
    async with app.run_test(size=(100, 30)) as pilot:
        await open_devices(pilot)
        await pilot.press("t")
        await finish_work(pilot)
        assert fake.calls == [] and "Connect a device first" in screen_text(app)


async def test_use_by_default_saves_the_setting(make: AppFactory) -> None:
    app = make(controller=FakeController(), scanner=Scanner(), settings=Settings())
    async with app.run_test(size=(100, 30)) as pilot:
        await open_devices(pilot)
        await pilot.press("r")
        await finish_work(pilot)
        await pilot.press("u")
        await pilot.pause()
        assert load_settings().preferred_device == "tproutine virtual"
        assert app.settings.preferred_device == "tproutine virtual"
        text = flat(screen_text(app))
        assert "tproutine virtual is now your default device" in text
        assert "default device: tproutine virtual" in text


async def test_s_stops_the_motor_and_s_again_allows_it(make: AppFactory) -> None:
    fake = FakeController()
    app = make(controller=fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_devices(pilot)
        await pilot.press("s")
        assert fake.calls == ["emergency_stop"]
        fake.publish(fake.status.with_(held_off=True))
        await pilot.pause()
        assert "connected, motor stopped by you" in screen_text(app)
        await pilot.press("s")
        assert fake.calls == ["emergency_stop", "release_stop"]


async def test_without_a_controller_the_screen_says_why(make: AppFactory) -> None:
    app = make(scanner=Scanner())
    async with app.run_test(size=(100, 30)) as pilot:
        await open_devices(pilot)
        await pilot.press("r")
        await finish_work(pilot)
        await pilot.press("c")
        assert NO_CONTROLLER in flat(screen_text(app))
        await pilot.press("t")
        assert NO_CONTROLLER in flat(screen_text(app))

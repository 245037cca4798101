"""``--adapter`` specs, shared simulator adapters, scanning, and the safety registry."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from tproutine.devices import adapters, safety
from tproutine.devices.adapters import AdapterError, AdapterSpec, parse_adapter
from tproutine.devices.controller import DeviceController, create_controller, is_address
from tproutine.devices.scan import ScanError, scan
from tproutine.settings import Settings

from .simkit import assert_no_leaks


@pytest.fixture
async def no_leaks() -> AsyncIterator[None]:
    baseline = set(asyncio.all_tasks())
    yield
    await assert_no_leaks(baseline)


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        (None, AdapterSpec("system")),
        ("", AdapterSpec("system")),
        ("SIM", AdapterSpec("sim")),
        ("none", AdapterSpec("none")),
        ("tcp:127.0.0.1:9100", AdapterSpec("tcp", "127.0.0.1", 9100)),
        ("tcp:localhost:1", AdapterSpec("tcp", "localhost", 1)),
    ],
)
def test_adapter_specs(text: str | None, spec: AdapterSpec) -> None:
    assert parse_adapter(text) == spec
    assert parse_adapter(spec.text) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bluetooth", "unknown adapter 'bluetooth' (use system, sim, tcp:HOST:PORT or none)"),
        ("tcp:9100", "expected tcp:HOST:PORT"),
        ("tcp:host:99999", "expected tcp:HOST:PORT"),
        ("tcp:host:", "expected tcp:HOST:PORT"),
    ],
)
def test_bad_adapter_specs_are_one_line(text: str, message: str) -> None:
    with pytest.raises(AdapterError, match=re.escape(message)):
        parse_adapter(text)


def test_device_choices() -> None:
    assert is_address("C0:74:70:72:6F:75") and is_address("c0-74-70-72-6f-75")
    assert is_address("12345678-1234-1234-1234-123456789ABC")  # macOS
    assert not is_address("LVS-Hush") and not is_address("auto")
    settings = Settings(adapter="sim", preferred_device="LVS-Hush", max_intensity=40)
    controller = create_controller(None, None, settings)
    assert controller.adapter == AdapterSpec("sim") and controller.target == "LVS-Hush"
    assert controller.max_intensity == 40
    assert create_controller("none", "auto", settings).adapter.kind == "none"


@pytest.mark.usefixtures("no_leaks")
async def test_simulator_adapters_are_shared_and_closed_by_the_last_user() -> None:
    first = await adapters.acquire("sim")
    second = await adapters.acquire("sim")
    assert first is second and first.available
    found = await scan("sim", 0.2)  # a third user, come and gone
    assert [(f.name, f.address, f.profile_id) for f in found] == [
        ("tproutine-massager", adapters.SIM_ADDRESS, "tproutine-virtual")
    ]
    await adapters.release(first)
    assert second.available
    await adapters.release(second)
    assert not second.available
    third = await adapters.acquire("sim")
    assert third is not first
    await adapters.release(third)


@pytest.mark.usefixtures("no_leaks")
async def test_scan_failures_are_one_line() -> None:
    with pytest.raises(ScanError, match="no Bluetooth adapter found on this machine"):
        await scan("system", 0.2)
    with pytest.raises(ScanError, match=r"no virtual massager at 127\.0\.0\.1:1"):
        await scan("tcp:127.0.0.1:1", 0.2)
    with pytest.raises(ScanError, match="devices are off"):
        await scan("none", 0.2)


def test_bluetooth_errors_are_described_in_one_line() -> None:
    describe = adapters.describe_bluetooth_error
    assert describe(FileNotFoundError(2, "x")).startswith("no Bluetooth adapter found")
    from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason

    off = BleakBluetoothNotAvailableError(
        "powered off", BleakBluetoothNotAvailableReason.POWERED_OFF
    )
    assert describe(off).startswith("Bluetooth is not available on this machine")
    assert "\n" not in describe(RuntimeError("a\tb"))


@pytest.mark.usefixtures("no_leaks")
async def test_controllers_are_registered_while_they_may_hold_a_device() -> None:
    controller = DeviceController("sim", "auto", scan_timeout=2.0, connect_timeout=2.0)
    await controller.connect()
    try:
        assert controller in safety.live()
        assert controller.loop is asyncio.get_running_loop()
    finally:
        await controller.close()
    assert controller not in safety.live()
    assert controller.status.state == "none"


def test_the_blocking_stop_reports_a_controller_it_cannot_reach() -> None:
    class Stranded:
        connected = True
        loop = asyncio.new_event_loop()

        def emergency_stop(self) -> None:
            pass

        async def close(self) -> None:
            self.connected = False

    stranded = Stranded()
    stranded.loop.close()  # its loop is gone: nothing can be sent any more
    safety._live.add(stranded)
    try:
        assert safety.stop_all_blocking("a test") == 1
    finally:
        safety.unregister(stranded)
    usable = Stranded()
    usable.loop = asyncio.new_event_loop()
    safety._live.add(usable)
    try:
        # A loop that is stopped but open: the stop runs on it.
        assert safety.stop_all_blocking("a test") == 0
        assert not usable.connected
    finally:
        safety.unregister(usable)
        usable.loop.close()

"""The BlueZ-only helpers that can be checked without BlueZ: which failures are
tried again, and that the loop stays within its one bound. Their behaviour
against the real stack is tested in the BlueZ VM (tests/bluez, make test-bluez)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from bleak.exc import BleakDBusError, BleakError

from tproutine.devices import bluez


@pytest.mark.parametrize(
    "exc",
    [
        BleakDBusError("org.bluez.Error.InProgress", ["In Progress"]),
        BleakDBusError("org.bluez.Error.Failed", ["le-connection-abort-by-local"]),
        BleakDBusError("org.bluez.Error.Failed", ["Software caused connection abort"]),
        # bleak 3.1's words for a link lost before the services were read.
        BleakError("failed to discover services, device disconnected"),
        EOFError(),
        BrokenPipeError(),
    ],
)
def test_transient_failures_are_tried_again(exc: BaseException) -> None:
    assert bluez.transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        BleakDBusError("org.freedesktop.DBus.Error.UnknownObject", ["no such device"]),
        BleakDBusError("org.bluez.Error.NotPermitted", ["Not permitted"]),
        BleakError("Device with address C0:FF:EE:00:00:01 was not found"),
        BleakError("Service Discovery has not been performed yet"),
        ValueError("a bug"),
    ],
)
def test_other_failures_are_not(exc: BaseException) -> None:
    assert not bluez.transient(exc)


class Client:
    """Connects after ``failures`` (raised in order); records the time it was given."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.timeouts: list[float] = []

    async def connect(self, timeout: float) -> None:
        self.timeouts.append(timeout)
        if self.failures:
            raise self.failures.pop(0)


async def test_connect_tries_again_after_transient_failures() -> None:
    in_progress = BleakDBusError("org.bluez.Error.InProgress", [])
    client = Client(in_progress, in_progress)
    tries = await bluez.connect(client, 10.0)  # type: ignore[arg-type]
    assert tries == 3
    # Each try gets only what is left of the one bound.
    assert client.timeouts == sorted(client.timeouts, reverse=True)
    assert client.timeouts[0] <= 10.0


async def test_connect_gives_up_at_once_on_another_failure() -> None:
    missing = BleakDBusError("org.freedesktop.DBus.Error.UnknownObject", [])
    client = Client(missing)
    with pytest.raises(BleakDBusError):
        await bluez.connect(client, 10.0)  # type: ignore[arg-type]
    assert len(client.timeouts) == 1


async def test_connect_stops_trying_when_the_time_is_up() -> None:
    in_progress = BleakDBusError("org.bluez.Error.InProgress", [])
    client = Client(*[in_progress] * 100)
    # Less time than the first pause: the failure itself comes back, not a hang.
    with pytest.raises(BleakDBusError):
        await bluez.connect(client, bluez.FIRST_PAUSE / 2)  # type: ignore[arg-type]
    assert len(client.timeouts) == 1


@pytest.mark.skipif(
    Path("/sys/class/bluetooth").exists(), reason="this machine has Bluetooth: devices may be held"
)
async def test_without_bluetooth_nothing_is_held_and_the_answer_comes_in_time() -> None:
    # No Bluetooth in this kernel: no bluetoothd (maybe no system bus at all).
    held = await asyncio.wait_for(bluez.connected_devices(), bluez.LIST_TIMEOUT + 5)
    assert held == []

"""20 connect/disconnect cycles on BlueZ: every one works, nothing piles up.

One process (one event loop, as the TUI keeps) connects the app's device
controller to the massager, runs the motor briefly, stops it and disconnects,
twenty times. BlueZ keeps one device object per address with its services (its
cache), so after the first cycle the set of BlueZ's D-Bus objects must not grow,
nor the names on the system bus (a leaked bleak connection is one), nor this
process's open files. The massager must advertise again after each disconnect,
as a real one does, or the next cycle would not find it.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from tests.bluez.vmkit import (
    OnAir,
    bus_names,
    device_paths,
    events,
    level,
    managed_objects,
    motor_writes,
)
from tproutine.devices.controller import DeviceController

CYCLES = 20


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


# One cycle's bound: under emulation a cycle takes several seconds; a hang must
# fail with the cycle's number rather than run into the test's timeout.
CYCLE_TIMEOUT = 120.0


async def one_cycle(address: str, n: int) -> None:
    started = time.monotonic()
    controller = DeviceController("system", address)
    try:
        await asyncio.wait_for(_connect_and_test(controller), CYCLE_TIMEOUT)
    except TimeoutError:
        pytest.fail(f"cycle {n} did not connect and run within {CYCLE_TIMEOUT:g} s")
    finally:
        await controller.close()
    closed = time.monotonic()
    # close() gives up waiting for the disconnect after DISCONNECT_TIMEOUT; under
    # emulation BlueZ can take longer. A scan started while the kernel is still
    # disconnecting has been seen to hang StartDiscovery for good (the app bounds
    # that wait; see docs/design.md), so each cycle starts from a settled link.
    while await connected(address):
        if time.monotonic() - closed > CYCLE_TIMEOUT:
            pytest.fail(f"cycle {n}: BlueZ still connected {CYCLE_TIMEOUT:g} s after close()")
        await asyncio.sleep(0.1)
    print(
        f"cycle {n}: {closed - started:.1f} s, BlueZ disconnected "
        f"{time.monotonic() - closed:.1f} s after close()",
        flush=True,
    )


async def connected(address: str) -> bool:
    stem = f"/org/bluez/hci0/dev_{address.replace(':', '_')}"
    device = (await managed_objects()).get(stem, {}).get("org.bluez.Device1")
    return device is not None and bool(device["Connected"].value)


async def _connect_and_test(controller: DeviceController) -> None:
    await controller.connect()
    await controller.test(seconds=0.3, percent=30)


@pytest.mark.timeout(1800)
def test_twenty_cycles_without_leaking_bluez_objects(air: OnAir, tmp_path: Path) -> None:
    # All in one event loop, as the app runs: bleak keeps one D-Bus connection
    # per loop, so a second loop would show up as a new name on the bus.
    async def cycles() -> tuple[set[str], set[str], set[str], set[str], int, int]:
        await one_cycle(air.address, 1)
        objects = set(await managed_objects())
        names = set(await bus_names())
        files = open_files()
        assert device_paths(await managed_objects(), air.address), (
            "BlueZ has no object for the device it just connected to"
        )
        for n in range(2, CYCLES + 1):
            await one_cycle(air.address, n)
        return (
            objects,
            set(await managed_objects()),
            names,
            set(await bus_names()),
            files,
            (open_files()),
        )

    objects, objects_after, names, names_after, files, files_after = asyncio.run(cycles())
    records = air.records()
    assert len(events(records, "connect")) == CYCLES, records
    assert len(events(records, "disconnect")) == CYCLES, records
    # Each cycle ran the motor and stopped it before its disconnect.
    for cycle in _cycles(records):
        motor = motor_writes(cycle)
        assert motor and motor[0]["running"] and motor[0]["level"] == level(30), cycle
        assert motor[-1]["kind"] == "stop", cycle
    # BlueZ keeps the device and its services (its cache) and nothing more. (Other
    # tests' devices may go meanwhile: BlueZ forgets unpaired devices after 30 s.)
    assert not objects_after - objects, sorted(objects_after - objects)
    assert device_paths({p: {} for p in objects_after}, air.address) == device_paths(
        {p: {} for p in objects}, air.address
    )
    assert names_after == names, names_after ^ names
    assert files_after <= files, "file descriptors leaked"


def _cycles(records: list[dict[str, object]]) -> list[list[dict[str, object]]]:
    """The log cut at each connect."""
    cycles: list[list[dict[str, object]]] = []
    for record in records:
        if record.get("event") == "connect":
            cycles.append([])
        if cycles:
            cycles[-1].append(record)
    return cycles

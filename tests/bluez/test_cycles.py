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
from pathlib import Path

import pytest

from tests.bluez.vmkit import (
    OnAir,
    bluez_objects,
    bus_names,
    device_paths,
    events,
    level,
    motor_writes,
)
from tproutine.devices.controller import DeviceController

CYCLES = 20


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


async def one_cycle(address: str) -> None:
    controller = DeviceController("system", address)
    try:
        await controller.connect()
        await controller.test(seconds=0.3, percent=30)
    finally:
        await controller.close()


@pytest.mark.timeout(1800)
def test_twenty_cycles_without_leaking_bluez_objects(air: OnAir, tmp_path: Path) -> None:
    asyncio.run(one_cycle(air.address))
    objects = set(bluez_objects())
    names = set(bus_names())
    files = open_files()
    mine = device_paths(bluez_objects(), air.address)
    assert mine, "BlueZ has no object for the device it just connected to"

    async def the_rest() -> None:
        for _ in range(CYCLES - 1):
            await one_cycle(air.address)

    asyncio.run(the_rest())

    records = air.records()
    assert len(events(records, "connect")) == CYCLES, records
    assert len(events(records, "disconnect")) == CYCLES, records
    # Each cycle ran the motor and stopped it before its disconnect.
    for cycle in _cycles(records):
        motor = motor_writes(cycle)
        assert motor and motor[0]["running"] and motor[0]["level"] == level(30), cycle
        assert motor[-1]["kind"] == "stop", cycle
    after = set(bluez_objects())
    assert after == objects, (sorted(after - objects), sorted(objects - after))
    assert set(bus_names()) == names, set(bus_names()) ^ names
    assert open_files() <= files, "file descriptors leaked"


def _cycles(records: list[dict[str, object]]) -> list[list[dict[str, object]]]:
    """The log cut at each connect."""
    cycles: list[list[dict[str, object]]] = []
    for record in records:
        if record.get("event") == "connect":
            cycles.append([])
        if cycles:
            cycles[-1].append(record)
    return cycles

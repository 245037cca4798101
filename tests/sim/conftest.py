"""Fixtures for the virtual radio: a recording device, adapters, and a leak check.

Every test here runs under ``no_leaks``: a test that leaves an asyncio task
running or a timer armed (Bumble's advertising timer after ``power_off`` is
the classic, pitfall 2) fails, because in the app such leftovers keep
advertising, hold sockets, or fire into a closed loop. So does a test during
which a loop callback raised (a Bumble host answering a cancelled command).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from tests.asynckit import eventually as _eventually
from tests.asynckit import leaks
from tproutine.devices.sim import (
    PeripheralConfig,
    SimulatedDevice,
    VirtualPeripheral,
    WriteRejected,
)
from tproutine.devices.sim.backend import BumbleAdapter

SERVICE = "7e5a0001-3c1b-4f2a-9d7e-6b1c2a3d4e5f"
WRITE = "7e5a0002-3c1b-4f2a-9d7e-6b1c2a3d4e5f"
NOTIFY = "7e5a0003-3c1b-4f2a-9d7e-6b1c2a3d4e5f"

# Generous upper bounds: a condition that holds comes true in milliseconds, but the
# machine may be busy with other work.
WAIT = 20.0


async def eventually(condition: Callable[[], bool], timeout: float = WAIT, what: str = "") -> None:
    await _eventually(condition, timeout, what)


@pytest.fixture(autouse=True)
async def no_leaks() -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    baseline = set(asyncio.all_tasks(loop))
    # Errors in callbacks (Bumble's packet handlers run as loop callbacks) only
    # reach the loop's exception handler and a log line; here they fail the test.
    errors: list[dict[str, object]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        yield
    finally:
        loop.set_exception_handler(previous)
    if errors:
        pytest.fail(
            "errors in event loop callbacks:\n  "
            + "\n  ".join(str(e.get("message")) + ": " + repr(e.get("exception")) for e in errors)
        )
    # Let finished work unwind (done-callbacks, Bumble's fire-and-forget
    # tasks for ATT writes) before judging.
    # Generous for a busy machine: the wait ends as soon as nothing is left.
    deadline = time.monotonic() + 10.0
    while (found := leaks(loop, baseline)) and time.monotonic() < deadline:
        await asyncio.sleep(0)
    if found:
        for task in asyncio.all_tasks(loop):
            if task not in baseline and task is not asyncio.current_task():
                task.cancel()
        pytest.fail("the test leaked:\n  " + "\n  ".join(found))


class RecordingDevice(SimulatedDevice):
    """A device that records what happens to it; ``reject`` makes writes fail."""

    def __init__(self, config: PeripheralConfig) -> None:
        self._config = config
        self.writes: list[tuple[str, bytes]] = []
        self.events: list[str] = []
        self.reject: WriteRejected | None = None
        self.peripheral: VirtualPeripheral | None = None
        self.stopped = False

    @property
    def config(self) -> PeripheralConfig:
        return self._config

    def on_write(self, char_uuid: str, data: bytes) -> None:
        if self.reject is not None:
            raise self.reject
        self.writes.append((char_uuid, data))

    def on_connect(self, peer_address: str) -> None:
        self.events.append("connect")

    def on_disconnect(self, reason: int) -> None:
        self.events.append(f"disconnect 0x{reason:02x}")

    def on_subscribe(self, char_uuid: str, enabled: bool) -> None:
        self.events.append(f"subscribe {char_uuid} {enabled}")

    async def start(self, peripheral: VirtualPeripheral) -> None:
        self.peripheral = peripheral

    async def stop(self) -> None:
        self.stopped = True


def make_config(**overrides: object) -> PeripheralConfig:
    values: dict[str, object] = {
        "name": "TPR-Test",
        "service_uuid": SERVICE,
        "write_uuid": WRITE,
        "notify_uuid": NOTIFY,
        "write_with_response": True,
        "write_without_response": True,
        "battery": 87,
    }
    values.update(overrides)
    return PeripheralConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def device() -> RecordingDevice:
    return RecordingDevice(make_config())


@pytest.fixture
async def adapter(device: RecordingDevice) -> AsyncIterator[BumbleAdapter]:
    adapter = await BumbleAdapter.in_process([device])
    try:
        yield adapter
    finally:
        await adapter.close()


@pytest.fixture
def peripheral(adapter: BumbleAdapter) -> VirtualPeripheral:
    return adapter.peripherals[0]

"""Raw Bumble write-with-response round trips, for ``bench/`` (not a test).

Measures the virtual radio itself, without bleak or the app: a central
connects to a peripheral that accepts every write and times ``n`` writes
with response, each a full ATT Write Request / Write Response exchange over
HCI and the link layer.

- ``transport="local"``: central and peripheral on one in-process link.
- ``transport="tcp"``: the central's host speaks HCI over a TCP socket to a
  simulator server, by default in a separate Python process (as ``tproutine
  sim`` runs), or in this process with ``separate_process=False``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Literal

from bumble import hci
from bumble.core import UUID, AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.host import Host
from bumble.transport import open_transport

from tproutine.devices.sim.link import make_link, shut_down_device
from tproutine.devices.sim.peripheral import CallbackDevice, PeripheralConfig, bumble_uuid
from tproutine.devices.sim.server import serve

BENCH_CONFIG = PeripheralConfig(
    name="Bench",
    service_uuid="5d1e0001-7d2c-4d1c-9a7e-2f4e0b6c0a11",
    write_uuid="5d1e0002-7d2c-4d1c-9a7e-2f4e0b6c0a11",
    write_with_response=True,
)

# Spawned with `python -c`: serve on a free port, say which, live until stdin closes.
_CHILD = """
import asyncio, sys
from tproutine.devices.sim.bench import _serve_until_stdin_closes
asyncio.run(_serve_until_stdin_closes())
"""

_WARM_UP = 5
_STEP_TIMEOUT = 5.0


async def write_round_trip(
    n: int,
    transport: Literal["local", "tcp"] = "local",
    *,
    separate_process: bool = True,
    payload: bytes = b"\x01\x00\x32\x00",
) -> list[float]:
    """Seconds taken by each of ``n`` writes with response (after a short warm-up)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    if transport == "local":
        link = await make_link([CallbackDevice(BENCH_CONFIG)])
        try:
            address = hci.Address(link.peripherals[0].address)
            return await _time_writes(link.central, address, n, payload)
        finally:
            await link.close()
    if transport == "tcp":
        if separate_process:
            return await _over_tcp_to_child(n, payload)
        server = await serve(0, lambda: CallbackDevice(BENCH_CONFIG))
        try:
            return await _over_tcp(server.port, n, payload)
        finally:
            await server.close()
    raise ValueError(f"unknown transport {transport!r}")


async def _time_writes(
    central: Device, address: hci.Address, n: int, payload: bytes
) -> list[float]:
    connection: Connection = await central.connect_le(address, timeout=_STEP_TIMEOUT)
    try:
        peer = Peer(connection)
        await peer.discover_services([bumble_uuid(BENCH_CONFIG.service_uuid)])
        for service in peer.services:
            await service.discover_characteristics()
        characteristic = peer.get_characteristics_by_uuid(bumble_uuid(BENCH_CONFIG.write_uuid))[0]
        for _ in range(_WARM_UP):
            await characteristic.write_value(payload, with_response=True)
        times: list[float] = []
        for _ in range(n):
            start = time.perf_counter()
            await characteristic.write_value(payload, with_response=True)
            times.append(time.perf_counter() - start)
        return times
    finally:
        await connection.disconnect(hci.HCI_ErrorCode.REMOTE_USER_TERMINATED_CONNECTION_ERROR)


async def _over_tcp(port: int, n: int, payload: bytes) -> list[float]:
    transport = await open_transport(f"tcp-client:127.0.0.1:{port}")
    try:
        central = Device(
            name="bench",
            address=hci.Address.generate_static_address(),
            host=Host(controller_source=transport.source, controller_sink=transport.sink),
        )
        await asyncio.wait_for(central.power_on(), _STEP_TIMEOUT)
        try:
            address = await asyncio.wait_for(
                _find(central, bumble_uuid(BENCH_CONFIG.service_uuid)), _STEP_TIMEOUT
            )
            return await _time_writes(central, address, n, payload)
        finally:
            await shut_down_device(central)
    finally:
        await transport.close()


async def _find(central: Device, service: UUID) -> hci.Address:
    found: asyncio.Future[hci.Address] = asyncio.get_running_loop().create_future()

    def on_advertisement(advertisement: Advertisement) -> None:
        uuids = [
            u
            for uuid_list in advertisement.data.get_all(
                AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS
            )
            for u in uuid_list
        ]
        if service in uuids and not found.done():
            found.set_result(advertisement.address)

    central.on(central.EVENT_ADVERTISEMENT, on_advertisement)
    try:
        await central.start_scanning(filter_duplicates=False)
        try:
            return await found
        finally:
            await central.stop_scanning()
    finally:
        central.remove_listener(central.EVENT_ADVERTISEMENT, on_advertisement)


async def _over_tcp_to_child(n: int, payload: bytes) -> list[float]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        line = await asyncio.wait_for(child.stdout.readline(), 30.0)
        if not line.strip().isdigit():
            raise RuntimeError(f"the simulator child did not start: {line!r}")
        return await _over_tcp(int(line), n, payload)
    finally:
        child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), _STEP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()


async def _serve_until_stdin_closes() -> None:
    server = await serve(0, lambda: CallbackDevice(BENCH_CONFIG))
    print(server.port, flush=True)
    try:
        # The parent closes our stdin when it is done (or dies): then we go.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await server.close()

"""``tproutine sim``'s transport: HCI over TCP, one device, a radio of its own for every client."""

from __future__ import annotations

import asyncio
import socket

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakError

from tproutine.devices.sim import SimServer, serve
from tproutine.devices.sim.backend import BumbleAdapter, open_adapter
from tproutine.devices.sim.controller import LINK_LOSS

from .conftest import WRITE, RecordingDevice, eventually, make_config


class Factory:
    """``make_device`` for the server; keeps what it made for inspection."""

    def __init__(self) -> None:
        self.made: list[RecordingDevice] = []

    def __call__(self) -> RecordingDevice:
        device = RecordingDevice(make_config())
        self.made.append(device)
        return device


async def connect(adapter: BumbleAdapter, calls: list[BleakClient] | None = None) -> BleakClient:
    found = await BleakScanner.find_device_by_name(
        "TPR-Test", timeout=1.0, backend=adapter.scanner_backend
    )
    assert found is not None, "the virtual massager is not advertising"
    client = BleakClient(
        found,
        disconnected_callback=calls.append if calls is not None else None,
        backend=adapter.client_backend,
        timeout=1.0,
    )
    await client.connect()
    return client


def abort(adapter: BumbleAdapter) -> None:
    """Cut the socket the way a killed app does: no HCI Disconnect, no goodbye."""
    transport = adapter._transport
    assert transport is not None
    transport.sink.transport.abort()  # type: ignore[attr-defined]


async def test_serve_listens_on_loopback_only_and_prints_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with await serve(0, Factory()) as server:
        assert isinstance(server, SimServer)
        assert server._server is not None
        assert {s.getsockname()[0] for s in server._server.sockets} == {"127.0.0.1"}
        assert server.port > 0
    assert capsys.readouterr() == ("", "")


async def test_a_second_client_finds_the_device_after_the_first_was_killed() -> None:
    factory = Factory()
    async with await serve(0, factory) as server:
        first = await open_adapter(f"tcp:127.0.0.1:{server.port}")
        calls: list[BleakClient] = []
        client = await connect(first, calls)
        await client.write_gatt_char(WRITE, b"\x01\x05", response=True)
        assert factory.made[0].writes == [(WRITE, b"\x01\x05")]

        abort(first)
        # The app side: the connection is reported gone, the adapter unusable.
        await eventually(lambda: calls == [client], what="the disconnected callback")
        assert not first.is_available
        with pytest.raises(BleakError):
            await BleakScanner(backend=first.scanner_backend).start()
        await first.close()
        # The simulator side: that client's radio left, and the one device saw its
        # link go as a radio loses one (supervision timeout); the device lives on.
        await eventually(lambda: not server.sessions, what="the session teardown")
        device = factory.made[0]
        lost = f"disconnect 0x{LINK_LOSS:02x}"
        await eventually(lambda: device.events[-1] == lost, what="the device to see the loss")
        assert not device.stopped

        second = await open_adapter(f"tcp:127.0.0.1:{server.port}")
        try:
            client = await connect(second)
            await client.write_gatt_char(WRITE, b"\x01\x06", response=True)
            # The same device: what the first client did to it is still there.
            assert len(factory.made) == 1
            assert device.writes == [(WRITE, b"\x01\x05"), (WRITE, b"\x01\x06")]
            await client.disconnect()
        finally:
            await second.close()
        await eventually(lambda: not server.sessions, what="the second session to end")
    assert device.stopped  # with the simulator


async def test_the_app_sees_a_disconnect_when_the_simulator_stops() -> None:
    server = await serve(0, Factory())
    adapter = await open_adapter(f"tcp:127.0.0.1:{server.port}")
    calls: list[BleakClient] = []
    client = await connect(adapter, calls)
    await server.close()
    await eventually(lambda: calls == [client], what="the disconnected callback")
    assert not client.is_connected
    await adapter.close()


async def test_drop_every_drops_the_link_and_the_app_can_reconnect() -> None:
    async with await serve(0, Factory(), drop_every=0.1) as server:
        adapter = await open_adapter(f"tcp:127.0.0.1:{server.port}")
        try:
            calls: list[BleakClient] = []
            client = await connect(adapter, calls)
            await eventually(lambda: len(calls) == 1, what="the injected link loss")
            assert not client.is_connected
            assert server.drops == 1
            await client.connect()
            assert client.is_connected
            await client.disconnect()
        finally:
            await adapter.close()


async def test_connecting_to_an_absent_device_over_tcp_times_out() -> None:
    async with await serve(0, Factory()) as server:
        adapter = await open_adapter(f"tcp:127.0.0.1:{server.port}")
        try:
            absent = BleakClient("C0:11:22:33:44:55", backend=adapter.client_backend, timeout=0.1)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(2.0):
                    await absent.connect()
            client = await connect(adapter)
            await client.disconnect()
        finally:
            await adapter.close()


async def test_no_simulator_listening_is_reported_promptly() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on that port now.
    with pytest.raises(BleakBluetoothNotAvailableError):
        await open_adapter(f"tcp:127.0.0.1:{port}")


async def test_serve_validates_drop_every() -> None:
    with pytest.raises(ValueError):
        await serve(0, Factory(), drop_every=0)

"""bleak, unchanged, on the in-process virtual radio: what the app's device code relies on."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError, BleakGATTProtocolError, BleakGATTProtocolErrorCode

from tproutine.devices.sim import BATTERY_LEVEL_UUID, VirtualPeripheral, WriteRejected
from tproutine.devices.sim.backend import BumbleAdapter, open_adapter

from .conftest import NOTIFY, SERVICE, WRITE, RecordingDevice, eventually, make_config

ABSENT = "C0:11:22:33:44:55"


async def find(adapter: BumbleAdapter, name: str = "TPR-Test") -> BLEDevice:
    device = await BleakScanner.find_device_by_name(
        name, timeout=1.0, backend=adapter.scanner_backend
    )
    assert device is not None, f"{name} not found"
    return device


async def connected(adapter: BumbleAdapter, **kwargs: object) -> BleakClient:
    client = BleakClient(await find(adapter), backend=adapter.client_backend, timeout=1.0, **kwargs)  # type: ignore[arg-type]
    await client.connect()
    return client


async def test_scan_reports_name_services_and_rssi(adapter: BumbleAdapter) -> None:
    seen: list[tuple[BLEDevice, object]] = []
    async with BleakScanner(
        lambda d, a: seen.append((d, a)), backend=adapter.scanner_backend
    ) as scanner:
        await eventually(lambda: len(seen) >= 2, what="two adverts")
    ble_device, adv = seen[0]
    assert ble_device.address == adapter.peripherals[0].address
    assert ble_device.name == "TPR-Test"
    assert adv.local_name == "TPR-Test"  # type: ignore[attr-defined]
    assert adv.service_uuids == [SERVICE]  # type: ignore[attr-defined]
    assert isinstance(adv.rssi, int) and -127 <= adv.rssi <= 20  # type: ignore[attr-defined]
    assert (
        scanner.discovered_devices_and_advertisement_data[ble_device.address][1].local_name
        == "TPR-Test"
    )


async def test_scan_filters_on_service_uuids(adapter: BumbleAdapter) -> None:
    everything: list[BLEDevice] = []
    wrong_service: list[BLEDevice] = []
    right_service: list[BLEDevice] = []
    async with (
        BleakScanner(lambda d, a: everything.append(d), backend=adapter.scanner_backend),
        BleakScanner(
            lambda d, a: wrong_service.append(d),
            service_uuids=["0000fff0-0000-1000-8000-00805f9b34fb"],
            backend=adapter.scanner_backend,
        ),
        BleakScanner(
            lambda d, a: right_service.append(d),
            service_uuids=[SERVICE.upper()],
            backend=adapter.scanner_backend,
        ),
    ):
        # Both scanners share the stack: by the time the unfiltered one has
        # seen several adverts, the filtered ones have been offered them too.
        await eventually(lambda: len(everything) >= 4, what="adverts")
    assert wrong_service == []
    assert right_service


async def test_connect_discover_write_and_notify(
    adapter: BumbleAdapter, device: RecordingDevice
) -> None:
    client = await connected(adapter)
    try:
        assert client.is_connected
        uuids = {service.uuid for service in client.services}
        assert {
            SERVICE,
            "0000180f-0000-1000-8000-00805f9b34fb",
            "0000180a-0000-1000-8000-00805f9b34fb",
        } <= uuids
        write = client.services.get_characteristic(WRITE)
        assert write is not None
        assert sorted(write.properties) == ["write", "write-without-response"]
        assert write.max_write_without_response_size == client.mtu_size - 3 > 20

        await client.write_gatt_char(WRITE, b"\x01\x0a", response=True)
        # With response, the device has run by the time the write returns.
        assert device.writes == [(WRITE, b"\x01\x0a")]
        await client.write_gatt_char(write, b"\x00", response=False)
        await eventually(lambda: len(device.writes) == 2, what="the write without response")
        assert device.writes[1] == (WRITE, b"\x00")

        received: list[tuple[BleakGATTCharacteristic, bytearray]] = []
        await client.start_notify(NOTIFY, lambda char, data: received.append((char, data)))
        assert device.peripheral is not None
        assert device.peripheral.is_subscribed()
        assert await device.peripheral.notify(b"\x02\x05\x57")
        await eventually(lambda: received != [], what="the notification")
        assert received[0][0].uuid == NOTIFY
        assert received[0][1] == bytearray(b"\x02\x05\x57")

        await client.stop_notify(NOTIFY)
        assert not device.peripheral.is_subscribed()
        assert not await device.peripheral.notify(b"\x03")
        assert f"subscribe {NOTIFY} False" in device.events
    finally:
        await client.disconnect()
    assert not client.is_connected


async def test_battery_and_device_information(
    adapter: BumbleAdapter, device: RecordingDevice
) -> None:
    client = await connected(adapter)
    try:
        assert await client.read_gatt_char(BATTERY_LEVEL_UUID) == bytearray([87])
        levels: list[int] = []
        await client.start_notify("2A19", lambda _c, data: levels.append(data[0]))
        assert device.peripheral is not None
        device.peripheral.set_battery(42)
        await eventually(lambda: levels == [42], what="the battery notification")
        assert await client.read_gatt_char("2a19") == bytearray([42])
        assert await client.read_gatt_char("2a29") == bytearray(b"tproutine")  # manufacturer
        assert await client.read_gatt_char("2a24") == bytearray(b"Virtual massager")  # model
        assert await client.read_gatt_char("2a26") == bytearray(b"1.0.0")  # firmware
    finally:
        await client.disconnect()


async def test_connecting_to_an_absent_device_times_out_and_leaves_the_adapter_usable(
    adapter: BumbleAdapter, device: RecordingDevice
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    absent = BleakClient(ABSENT, backend=adapter.client_backend, timeout=0.1)
    with pytest.raises(TimeoutError):
        # The outer bound turns a hang (pitfall 1) into a failure instead of a stuck run.
        async with asyncio.timeout(20.0):
            await absent.connect()
    # Our 0.1 s, not the outer 20 s (the slack is for a busy machine).
    assert loop.time() - started < 10.0
    assert not absent.is_connected
    # The cancelled attempt is gone from the controller: a real device still connects.
    client = await connected(adapter)
    await client.disconnect()
    assert device.events[:2] == ["connect", "disconnect 0x13"]


async def test_cancelling_a_connect_leaves_no_attempt_behind(
    adapter: BumbleAdapter, device: RecordingDevice
) -> None:
    absent = BleakClient(ABSENT, backend=adapter.client_backend, timeout=30.0)
    attempt = asyncio.ensure_future(absent.connect())
    await eventually(lambda: adapter.device.is_le_connecting, what="the attempt to start")
    attempt.cancel()
    with pytest.raises(asyncio.CancelledError):
        await attempt
    assert not absent.is_connected
    # The controller has no attempt pending: the next connect goes through.
    client = await connected(adapter)
    await client.disconnect()


async def test_disconnected_callback_on_link_loss(
    adapter: BumbleAdapter, device: RecordingDevice
) -> None:
    calls: list[BleakClient] = []
    client = await connected(adapter, disconnected_callback=calls.append)
    peripheral = adapter.peripherals[0]
    assert peripheral.drop_link()
    await eventually(lambda: calls == [client], what="the disconnected callback")
    assert not client.is_connected
    assert device.events[-1] == "disconnect 0x08"
    with pytest.raises(BleakError):
        await client.write_gatt_char(WRITE, b"\x01", response=True)
    # The massager advertises again, and the app can come back.
    await client.connect()
    assert client.is_connected
    await client.disconnect()
    assert len(calls) == 2  # on every disconnect, asked for or not (as BlueZ)


async def test_disconnected_callback_when_the_device_hangs_up(
    adapter: BumbleAdapter, peripheral: VirtualPeripheral
) -> None:
    calls: list[BleakClient] = []
    client = await connected(adapter, disconnected_callback=calls.append)
    assert await peripheral.disconnect()
    await eventually(lambda: calls == [client], what="the disconnected callback")
    assert not client.is_connected


def slow_down(adapter: BumbleAdapter) -> None:
    # Latency keeps a request in flight long enough to act on it.
    assert adapter.link is not None
    adapter.link.latency = 0.02


async def test_a_request_cut_by_a_disconnect_raises_bleak_error_not_cancelled(
    adapter: BumbleAdapter,
) -> None:
    client = await connected(adapter)
    slow_down(adapter)
    write = asyncio.ensure_future(client.write_gatt_char(WRITE, b"\x01", response=True))
    await asyncio.sleep(0)
    assert not write.done()
    adapter.peripherals[0].drop_link()
    with pytest.raises(BleakError):
        await write
    assert not write.cancelled()


async def test_cancelling_the_caller_still_cancels(adapter: BumbleAdapter) -> None:
    client = await connected(adapter)
    slow_down(adapter)
    read = asyncio.ensure_future(client.read_gatt_char(BATTERY_LEVEL_UUID))
    await asyncio.sleep(0)
    read.cancel()
    with pytest.raises(asyncio.CancelledError):
        await read
    # The connection survives a cancelled request, as on any stack.
    assert client.is_connected
    assert await client.read_gatt_char(BATTERY_LEVEL_UUID) == bytearray([87])
    await client.disconnect()


async def test_rejected_writes_raise_gatt_protocol_errors(
    adapter: BumbleAdapter, device: RecordingDevice
) -> None:
    client = await connected(adapter)
    try:
        device.reject = WriteRejected()
        with pytest.raises(BleakGATTProtocolError) as rejected:
            await client.write_gatt_char(WRITE, b"\xff", response=True)
        assert rejected.value.code == BleakGATTProtocolErrorCode.VALUE_NOT_ALLOWED
        # A write to a characteristic that does not declare it is refused by the stack.
        with pytest.raises(BleakGATTProtocolError) as not_permitted:
            await client.write_gatt_char(BATTERY_LEVEL_UUID, b"\x01", response=True)
        assert not_permitted.value.code == BleakGATTProtocolErrorCode.WRITE_NOT_PERMITTED
        assert client.is_connected
    finally:
        await client.disconnect()


async def test_write_mode_follows_the_config() -> None:
    device = RecordingDevice(make_config(write_with_response=False, write_without_response=True))
    async with await BumbleAdapter.in_process([device]) as adapter:
        client = await connected(adapter)
        write = client.services.get_characteristic(WRITE)
        assert write is not None and write.properties == ["write-without-response"]
        with pytest.raises(BleakGATTProtocolError):
            await client.write_gatt_char(WRITE, b"\x01", response=True)
        await client.write_gatt_char(WRITE, b"\x02", response=False)
        await eventually(lambda: device.writes == [(WRITE, b"\x02")], what="the write")
        with pytest.raises(BleakError):
            await client.write_gatt_char(WRITE, bytes(client.mtu_size), response=False)
        await client.disconnect()


async def test_two_adapters_are_separate_radios() -> None:
    first = await open_adapter("sim", [RecordingDevice(make_config(name="TPR-One"))])
    second = await open_adapter("sim", [RecordingDevice(make_config(name="TPR-Two"))])
    try:
        assert first.scanner_backend is not second.scanner_backend
        names: list[str | None] = []
        async with BleakScanner(
            lambda d, a: names.append(a.local_name), backend=first.scanner_backend
        ):
            await eventually(lambda: len(names) >= 4, what="adverts")
        assert set(names) == {"TPR-One"}
        assert await find(second, "TPR-Two")
    finally:
        await first.close()
        await second.close()


async def test_closing_the_adapter_disconnects_its_clients() -> None:
    device = RecordingDevice(make_config())
    adapter = await BumbleAdapter.in_process([device])
    calls: list[BleakClient] = []
    client = await connected(adapter, disconnected_callback=calls.append)
    await adapter.close()
    assert calls == [client]
    assert device.stopped
    assert not adapter.is_available
    with pytest.raises(BleakError):
        await BleakScanner(backend=adapter.scanner_backend).start()


async def test_open_adapter_rejects_unknown_specs() -> None:
    for spec in ("system", "sim:1", "tcp:nohost", "tcp:127.0.0.1:port", "tcp:127.0.0.1:70000"):
        with pytest.raises(ValueError):
            await open_adapter(spec)
    with pytest.raises(ValueError):
        await open_adapter("tcp:127.0.0.1:9100", [RecordingDevice(make_config())])

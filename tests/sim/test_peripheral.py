"""The virtual radio below bleak: config, adverts, the fixed controller, link loss, hooks."""

from __future__ import annotations

import asyncio

import pytest
from bumble import core, hci
from bumble.device import Peer

from tproutine.devices.sim import (
    PeripheralConfig,
    VirtualPeripheral,
    WriteRejected,
    advertising_data,
    make_link,
    normalize_uuid,
)
from tproutine.devices.sim.controller import LINK_LOSS, SimController, VirtualLink

from .conftest import SERVICE, WRITE, RecordingDevice, eventually, make_config


async def discover(peer: Peer) -> None:
    await peer.discover_services()
    for service in peer.services:
        await service.discover_characteristics()


def test_uuids_are_normalized_the_way_bleak_spells_them() -> None:
    assert normalize_uuid("FFE0") == "0000ffe0-0000-1000-8000-00805f9b34fb"
    assert (
        normalize_uuid("0000FFE0-0000-1000-8000-00805F9B34FB")
        == "0000ffe0-0000-1000-8000-00805f9b34fb"
    )
    assert normalize_uuid(SERVICE.upper()) == SERVICE
    for bad in ("xyz", "12345", "7e5a0001-3c1b-4f2a-9d7e-6b1c2a3d4e5g"):
        with pytest.raises(ValueError):
            normalize_uuid(bad)


def test_advert_holds_flags_name_and_service_within_31_bytes() -> None:
    data = advertising_data(make_config(name="Massager"))  # 8 characters fit with a 128-bit UUID
    assert len(data) == 31
    parsed = core.AdvertisingData.from_bytes(data)
    assert parsed.get(core.AdvertisingData.Type.COMPLETE_LOCAL_NAME) == "Massager"
    assert parsed.get(core.AdvertisingData.Type.FLAGS) == 0x06  # LE General | no BR/EDR
    # A 16-bit service takes 2 bytes, leaving room for a longer name.
    short = advertising_data(make_config(name="LVS-Virtual-Sim", service_uuid="FFF0"))
    uuids = core.AdvertisingData.from_bytes(short).get(
        core.AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS
    )
    assert uuids == [core.UUID("FFF0")]


def test_config_refuses_what_a_real_device_could_not_do() -> None:
    with pytest.raises(ValueError, match="shorten the name by 1"):
        make_config(name="Massager9")
    with pytest.raises(ValueError, match="write"):
        make_config(write_with_response=False, write_without_response=False)
    with pytest.raises(ValueError):
        make_config(battery=101)
    with pytest.raises(ValueError, match="static"):
        make_config(address="12:34:56:78:9A:BC")  # top bits 00: not a static address
    with pytest.raises(ValueError, match="different"):
        make_config(notify_uuid=WRITE)
    make_config(address="C1:02:03:04:05:06", manufacturer_data=(0xFFFF, b"\x01"), name="TPR")


def test_write_rejected_only_takes_att_error_codes() -> None:
    assert WriteRejected(0x03).code == 0x03
    assert WriteRejected(0x80).code == 0x80  # application error
    for code in (0x00, 0x100):
        with pytest.raises(ValueError):
            WriteRejected(code)


async def test_cancelled_connection_attempt_completes_and_frees_the_controller() -> None:
    device = RecordingDevice(make_config())
    async with await make_link([device]) as link:
        with pytest.raises(core.TimeoutError):
            async with asyncio.timeout(2.0):  # the stock controller hangs here (pitfall 1)
                await link.central.connect_le("C0:11:22:33:44:55", timeout=0.05)
        assert link.central_controller.pending_le_connection is None
        peripheral = link.peripherals[0]
        connection = await link.central.connect_le(peripheral.address, timeout=1.0)
        assert peripheral.is_connected
        await connection.disconnect()


async def test_link_loss_reaches_both_ends_and_the_device_readvertises() -> None:
    device = RecordingDevice(make_config())
    async with await make_link([device]) as link:
        peripheral = link.peripherals[0]
        connection = await link.central.connect_le(peripheral.address, timeout=1.0)
        reasons: list[int] = []
        connection.on(connection.EVENT_DISCONNECTION, reasons.append)
        assert peripheral.drop_link()
        await eventually(
            lambda: reasons == [LINK_LOSS] and not peripheral.is_connected, what="link loss"
        )
        assert device.events == ["connect", f"disconnect 0x{LINK_LOSS:02x}"]
        assert not peripheral.drop_link()  # nothing left to drop
        # Advertising resumed: the central connects again.
        again = await link.central.connect_le(peripheral.address, timeout=1.0)
        await again.disconnect()


async def test_disconnecting_a_connection_that_is_gone_is_refused_not_hung() -> None:
    async with await make_link([RecordingDevice(make_config())]) as link:
        peripheral = link.peripherals[0]
        connection = await link.central.connect_le(peripheral.address, timeout=1.0)
        reasons: list[int] = []
        connection.on(connection.EVENT_DISCONNECTION, reasons.append)
        peripheral.drop_link()
        await eventually(lambda: reasons != [], what="the link loss")
        # The stock controller acknowledges this and never answers it.
        with pytest.raises(hci.HCI_Error) as refused:
            async with asyncio.timeout(1.0):
                await connection.disconnect()
        assert refused.value.error_code == hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR


async def test_a_failing_device_answers_with_an_att_error_not_a_hang() -> None:
    class Broken(RecordingDevice):
        def on_write(self, char_uuid: str, data: bytes) -> None:
            raise RuntimeError("bug in the device model")

    async with await make_link([Broken(make_config())]) as link:
        connection = await link.central.connect_le(link.peripherals[0].address, timeout=1.0)
        peer = Peer(connection)
        await discover(peer)
        write = peer.get_characteristics_by_uuid(core.UUID(WRITE))[0]
        with pytest.raises(core.ProtocolError) as error:
            async with asyncio.timeout(1.0):
                await write.write_value(b"\x01", with_response=True)
        assert error.value.error_code == 0x0E  # Unlikely Error
        await connection.disconnect()


async def test_stop_runs_the_device_hooks_and_leaves_the_link() -> None:
    device = RecordingDevice(make_config())
    link = await make_link([device])
    peripheral = link.peripherals[0]
    assert device.peripheral is peripheral and peripheral.is_running
    connection = await link.central.connect_le(peripheral.address, timeout=1.0)
    disconnected: list[int] = []
    connection.on(connection.EVENT_DISCONNECTION, disconnected.append)
    await peripheral.stop()
    assert device.stopped and not peripheral.is_running
    assert disconnected == [
        hci.HCI_ErrorCode.REMOTE_DEVICE_TERMINATED_CONNECTION_DUE_TO_POWER_OFF_ERROR
    ]
    assert len(link.link.controllers) == 1  # only the central is left
    with pytest.raises(ValueError):
        peripheral.set_battery(-1)
    await link.close()


async def test_plain_callback_peripheral() -> None:
    writes: list[tuple[str, bytes]] = []
    peripheral = VirtualPeripheral(
        PeripheralConfig(name="CB", service_uuid="FFE0", write_uuid="FFE1"),
        on_write=lambda u, d: writes.append((u, d)),
    )
    async with await make_link([peripheral]) as link:
        connection = await link.central.connect_le(peripheral.address, timeout=1.0)
        peer = Peer(connection)
        await discover(peer)
        write = peer.get_characteristics_by_uuid(core.UUID("FFE1"))[0]
        await write.write_value(b"\xaa", with_response=True)
        assert writes == [(peripheral.write_uuid, b"\xaa")]
        assert peripheral.write_uuid == "0000ffe1-0000-1000-8000-00805f9b34fb"
        assert peripheral.notify_uuid is None
        with pytest.raises(ValueError):
            await peripheral.notify(b"\x00")  # this config has no notify characteristic
        await connection.disconnect()


class HostSink:
    """Where a controller's events go: kept as parsed packets."""

    def __init__(self) -> None:
        self.packets: list[hci.HCI_Packet] = []

    def on_packet(self, data: bytes) -> None:
        self.packets.append(hci.HCI_Packet.from_bytes(data))


# LE Set Event Mask as Linux 6.1 sends it (seen in the BlueZ VM's btmon trace):
# LE Enhanced Connection Complete (event 0x0A, bit 9) unmasked, its v2 (0x29) not.
LINUX_LE_EVENT_MASK = int.from_bytes(bytes.fromhex("7f0e0a0000000000"), "little")
V2_BIT = 1 << (hci.HCI_LE_ENHANCED_CONNECTION_COMPLETE_V2_EVENT - 1)


@pytest.mark.parametrize(
    ("mask", "expected"),
    [
        (LINUX_LE_EVENT_MASK, hci.HCI_LE_Enhanced_Connection_Complete_Event),
        (0, hci.HCI_LE_Connection_Complete_Event),
        # Bumble's own host asks for v2 too, and takes the legacy event as well.
        (LINUX_LE_EVENT_MASK | V2_BIT, hci.HCI_LE_Connection_Complete_Event),
    ],
    ids=["linux", "nothing-unmasked", "v2-unmasked"],
)
async def test_a_new_connection_is_reported_with_the_event_the_host_asked_for(
    mask: int, expected: type[hci.HCI_Packet]
) -> None:
    # Linux waits for the enhanced event; the legacy one left its command queue
    # blocked 4 s and its later Disconnect never sent (issue 10).
    link = VirtualLink()
    host = HostSink()
    central = SimController("central", link=link)
    central.host = host  # type: ignore[assignment]
    central.le_event_mask = mask
    peripheral_host = HostSink()
    peripheral = SimController("peripheral", link=link)
    peripheral.host = peripheral_host  # type: ignore[assignment]
    peer = hci.Address("C0:11:22:33:44:55")
    peripheral.random_address = peer
    for command in (
        hci.HCI_LE_Set_Advertising_Parameters_Command(
            advertising_interval_min=32,
            advertising_interval_max=32,
            advertising_type=0,
            own_address_type=hci.OwnAddressType.RANDOM,
            peer_address_type=0,
            peer_address=hci.Address.ANY,
            advertising_channel_map=7,
            advertising_filter_policy=0,
        ),
        hci.HCI_LE_Set_Advertising_Enable_Command(advertising_enable=1),
    ):
        peripheral.on_hci_packet(command)
    central.on_hci_packet(
        hci.HCI_LE_Create_Connection_Command(
            le_scan_interval=96,
            le_scan_window=96,
            initiator_filter_policy=0,
            peer_address_type=hci.Address.RANDOM_DEVICE_ADDRESS,
            peer_address=peer,
            own_address_type=hci.OwnAddressType.PUBLIC,
            connection_interval_min=24,
            connection_interval_max=40,
            max_latency=0,
            supervision_timeout=42,
            min_ce_length=0,
            max_ce_length=0,
        )
    )
    await eventually(
        lambda: any(p.name.endswith("CONNECTION_COMPLETE_EVENT") for p in host.packets),
        what="the connection's event",
    )
    completes = [p for p in host.packets if p.name.endswith("CONNECTION_COMPLETE_EVENT")]
    assert [type(p) for p in completes] == [expected], host.packets
    assert completes[0].status == hci.HCI_ErrorCode.SUCCESS  # type: ignore[attr-defined]
    assert completes[0].peer_address == peer  # type: ignore[attr-defined]

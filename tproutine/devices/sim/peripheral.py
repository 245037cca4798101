"""A generic GATT peripheral on the virtual radio, and the hook for device behaviour.

``VirtualPeripheral`` is a real Bumble stack (controller, host, GATT server)
that advertises a name and a service UUID and exposes:

- a vendor service with a write (command) characteristic, an optional
  notify characteristic and any other characteristics the real device has,
  each with the properties the real device gives it (``characteristics``:
  We-Vibe's read-only information record, a Lovense that indicates),
- the Battery Service (0x180F / 0x2A19, read and notify), unless the device has none,
- the Device Information Service (0x180A: manufacturer, model, firmware).

Faults a real device can have (``PeripheralConfig.fault``): it advertises but
refuses every connection (``refuse``: the central's connection fails to be
established), it drops the link when the central starts service discovery
(``drop-on-discovery``), or its vendor service has no write characteristic
(``no-write``).

It knows nothing about any protocol. What a device does with the bytes it is
sent lives in a ``SimulatedDevice``: ``on_write`` gets every write to the
vendor service, the other hooks tell it about connections and subscriptions,
and ``start``/``stop`` bracket its life so it can run timers (battery drain,
auto-off) that end cleanly.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import struct
import uuid as uuid_module
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from bumble import att, gatt, hci
from bumble.core import UUID, AdvertisingData
from bumble.device import (
    AdvertisingEventProperties,
    AdvertisingParameters,
    AdvertisingSet,
    Connection,
    Device,
)
from bumble.host import Host
from bumble.profiles.device_information_service import DeviceInformationService
from bumble.transport.common import AsyncPipeSink

from tproutine.devices.sim.controller import LINK_LOSS, SimController, VirtualLink
from tproutine.devices.sim.logs import route_bumble_logs

route_bumble_logs()

logger = logging.getLogger(__name__)

WriteCallback = Callable[[str, bytes], None]

Fault = Literal["refuse", "drop-on-discovery", "no-write"]
FAULTS: tuple[Fault, ...] = ("refuse", "drop-on-discovery", "no-write")
# What a central's controller reports when the peripheral never answered its
# connection request (Vol 1, Part F, 2.62): a device that refuses.
REFUSED = hci.HCI_ErrorCode.CONNECTION_FAILED_TO_BE_ESTABLISHED_ERROR

# Legacy advertising PDUs carry at most 31 bytes of data. The virtual radio
# does not enforce it, real ones do: a profile tested against an oversized
# advert would not find the real device.
MAX_ADVERTISING_DATA = 31

BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFORMATION_UUID = "0000180a-0000-1000-8000-00805f9b34fb"

_BASE_UUID_SUFFIX = "-0000-1000-8000-00805f9b34fb"

# Characteristic properties by the names bleak reports them with.
_PROPERTIES: dict[str, gatt.Characteristic.Properties] = {
    "read": gatt.Characteristic.Properties.READ,
    "write": gatt.Characteristic.Properties.WRITE,
    "write-without-response": gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
    "notify": gatt.Characteristic.Properties.NOTIFY,
    "indicate": gatt.Characteristic.Properties.INDICATE,
}
PROPERTY_NAMES = tuple(_PROPERTIES)


def bumble_uuid(text: str) -> UUID:
    """A Bumble UUID from a bleak-style string, in its shortest form.

    ``"FFE0"``, ``"0000ffe0-0000-1000-8000-00805f9b34fb"`` and ``"ffe0"`` all
    give the 16-bit UUID, so adverts and attribute declarations use 2 bytes
    for SIG-based UUIDs the way real devices do.
    """
    value = text.strip().lower()
    if len(value) == 36 and value.endswith(_BASE_UUID_SUFFIX):
        value = value[:8].removeprefix("0000") if value.startswith("0000") else value[:8]
    # Validate the 128-bit form (Bumble only checks the dashes and length).
    if len(value) == 36:
        value = str(uuid_module.UUID(value))
    elif len(value) not in (4, 8):
        raise ValueError(f"not a Bluetooth UUID: {text!r}")
    else:
        int(value, 16)
    return UUID(value)


def bleak_uuid(value: UUID) -> str:
    """The lowercase 128-bit string bleak uses for ``value``.

    Bumble keeps UUID bytes little-endian; bleak wants the canonical text form.
    """
    return str(uuid_module.UUID(bytes=bytes(reversed(value.to_bytes(force_128=True)))))


def normalize_uuid(text: str) -> str:
    """``text`` as bleak spells it: lowercase, 128-bit."""
    return bleak_uuid(bumble_uuid(text))


class WriteRejected(Exception):
    """Raised by ``SimulatedDevice.on_write`` to refuse a write with an ATT error.

    A write with response then fails on the client with this error code (bleak
    raises ``BleakGATTProtocolError``); a write without response is dropped,
    as on a real device. The default is Value Not Allowed (0x13); 0x80-0x9F
    are the application's own codes.
    """

    def __init__(self, code: int = att.ErrorCode.VALUE_NOT_ALLOWED, message: str = "") -> None:
        if not 0x01 <= code <= 0xFF:
            raise ValueError(f"an ATT error code is one byte above 0, not {code:#x}")
        self.code = att.ErrorCode(code)
        super().__init__(message or self.code.name)


@dataclass(frozen=True)
class PeripheralConfig:
    """What the peripheral advertises and which GATT database it exposes.

    UUIDs may be 16-, 32- or 128-bit, in any case; the peripheral reports them
    to ``on_write`` in bleak's lowercase 128-bit form.
    """

    name: str
    service_uuid: str
    write_uuid: str
    notify_uuid: str | None = None
    write_with_response: bool = True
    write_without_response: bool = False
    manufacturer: str = "tproutine"
    model: str = "Virtual massager"
    firmware: str = "1.0.0"
    battery: int = 100
    # A random static address; None: the peripheral draws one when it first starts.
    address: str | None = None
    advertise_service_uuid: bool = True
    # Advertise this service UUID instead of ``service_uuid`` (a device that
    # names another maker's service in its advert, for matching tests).
    advertised_uuid: str | None = None
    # (company id, payload) for the Manufacturer Specific Data AD structure.
    manufacturer_data: tuple[int, bytes] | None = None
    # Real devices advertise every 100 ms to 1 s; a fast virtual advert keeps
    # scans in tests short without changing anything else.
    advertising_interval_ms: float = 20.0
    # The vendor service's characteristics as the real device has them:
    # (UUID, property names). For the write or notify characteristic this
    # replaces its properties (We-Vibe's f000b000 is read-only, a Lovense Max
    # indicates); any other UUID is a further characteristic of the service.
    characteristics: tuple[tuple[str, frozenset[str]], ...] = ()
    # Whether the device has the standard Battery Service (0x180F).
    battery_service: bool = True
    # A way the device misbehaves (see the module's docstring), or None.
    fault: Fault | None = None

    def __post_init__(self) -> None:
        if not (self.write_with_response or self.write_without_response):
            raise ValueError("the write characteristic needs write and/or write-without-response")
        if not 0 <= self.battery <= 100:
            raise ValueError(f"battery {self.battery} is outside 0-100")
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"fault is one of {', '.join(FAULTS)} (got {self.fault!r})")
        if not 20.0 <= self.advertising_interval_ms <= 10240.0:
            raise ValueError("advertising_interval_ms must be within 20-10240 ms")
        uuids = [self.service_uuid, self.write_uuid]
        if self.notify_uuid is not None:
            uuids.append(self.notify_uuid)
        normalized = [normalize_uuid(u) for u in uuids]  # raises on a malformed UUID
        if len(set(normalized[1:])) != len(normalized[1:]):
            raise ValueError("the write and notify characteristics need different UUIDs")
        seen: set[str] = set()
        for uuid, properties in self.characteristics:
            wanted = normalize_uuid(uuid)
            if wanted in seen or wanted == normalized[0]:
                raise ValueError(f"the characteristic {uuid} is given twice")
            seen.add(wanted)
            unknown = sorted(properties - _PROPERTIES.keys())
            if unknown or not properties:
                raise ValueError(
                    f"{uuid}: properties are some of {', '.join(PROPERTY_NAMES)} "
                    f"(got {', '.join(sorted(properties)) or 'none'})"
                )
        if self.address is not None:
            address = hci.Address(self.address)  # raises on a malformed address
            if not address.is_static:
                raise ValueError(f"{self.address} is not a random static address (top bits 11)")
        # Fail at configuration time, not when a scan comes back empty.
        advertising_data(self)

    @property
    def services(self) -> tuple[str, ...]:
        """The services the peripheral exposes besides GAP and GATT, bleak-style."""
        battery = (BATTERY_SERVICE_UUID,) if self.battery_service else ()
        return (normalize_uuid(self.service_uuid), *battery, DEVICE_INFORMATION_UUID)

    def properties_of(self, uuid: str) -> frozenset[str] | None:
        """The properties ``characteristics`` gives ``uuid``, or None when it says nothing."""
        wanted = normalize_uuid(uuid)
        for other, properties in self.characteristics:
            if normalize_uuid(other) == wanted:
                return properties
        return None


def advertising_data(config: PeripheralConfig) -> bytes:
    """The advert of ``config``: flags, complete local name, service UUID, maker data.

    Raises ``ValueError`` when it does not fit a legacy advert (31 bytes):
    shorten the name (a 128-bit service UUID leaves 8 characters).
    """
    flags = (
        AdvertisingData.Flags.LE_GENERAL_DISCOVERABLE_MODE
        | AdvertisingData.Flags.BR_EDR_NOT_SUPPORTED
    )
    structures: list[tuple[int, bytes]] = [(AdvertisingData.Type.FLAGS, bytes([flags]))]
    structures.append((AdvertisingData.Type.COMPLETE_LOCAL_NAME, config.name.encode()))
    if config.advertise_service_uuid:
        service = bumble_uuid(config.advertised_uuid or config.service_uuid)
        list_type = {
            2: AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            4: AdvertisingData.Type.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
            16: AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        }[len(service.to_bytes())]
        structures.append((list_type, service.to_bytes()))
    if config.manufacturer_data is not None:
        company, payload = config.manufacturer_data
        structures.append(
            (
                AdvertisingData.Type.MANUFACTURER_SPECIFIC_DATA,
                struct.pack("<H", company) + payload,
            )
        )
    data = bytes(AdvertisingData(structures))
    if len(data) > MAX_ADVERTISING_DATA:
        raise ValueError(
            f"the advert of {config.name!r} takes {len(data)} bytes; a legacy advert "
            f"carries at most {MAX_ADVERTISING_DATA}: shorten the name by "
            f"{len(data) - MAX_ADVERTISING_DATA} characters"
        )
    return data


class SimulatedDevice(abc.ABC):
    """The behaviour of a device behind a ``VirtualPeripheral``.

    The peripheral calls the hooks from the event loop; they must not block.
    ``start`` runs before the peripheral first advertises (so nothing can
    connect before the device is ready) and ``stop`` after its last connection
    is gone. To talk back, keep the peripheral given to ``start`` and call its
    ``notify`` / ``notify_soon`` / ``set_battery``.
    """

    @property
    @abc.abstractmethod
    def config(self) -> PeripheralConfig:
        """How the peripheral presents this device."""

    @abc.abstractmethod
    def on_write(self, char_uuid: str, data: bytes) -> None:
        """A central wrote ``data`` to ``char_uuid`` (bleak-style UUID).

        Raise ``WriteRejected`` to answer with an ATT error.
        """

    def on_connect(self, peer_address: str) -> None:  # noqa: B027 - optional hook
        """A central connected."""

    def on_refuse(self, peer_address: str) -> None:  # noqa: B027 - optional hook
        """A central tried to connect and was refused (``fault="refuse"``)."""

    def on_disconnect(self, reason: int) -> None:  # noqa: B027 - optional hook
        """The connection ended (HCI reason code, e.g. 0x08 link loss, 0x13 remote user)."""

    def on_subscribe(self, char_uuid: str, enabled: bool) -> None:  # noqa: B027 - optional hook
        """A central switched notifications of ``char_uuid`` on or off."""

    async def start(self, peripheral: VirtualPeripheral) -> None:  # noqa: B027 - optional hook
        """The peripheral is up and about to advertise."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """The peripheral is shutting down; cancel timers here."""


class CallbackDevice(SimulatedDevice):
    """A device that only hands every write to a callback (tests, benchmarks)."""

    def __init__(self, config: PeripheralConfig, on_write: WriteCallback | None = None) -> None:
        self._config = config
        self._on_write = on_write

    @property
    def config(self) -> PeripheralConfig:
        return self._config

    def on_write(self, char_uuid: str, data: bytes) -> None:
        if self._on_write is not None:
            self._on_write(char_uuid, data)


class _PeripheralDevice(Device):
    """A Bumble device whose GATT server honours the write properties.

    Bumble's server accepts a Write Request on a characteristic that only
    declares write-without-response, and the reverse. Real devices (and
    BlueZ, before sending) refuse, so a profile with the wrong write mode must
    fail here too, not only on hardware.
    """

    _NEEDS_WRITE = frozenset({att.Opcode.ATT_WRITE_REQUEST, att.Opcode.ATT_PREPARE_WRITE_REQUEST})
    # How a central starts discovering services (Vol 3, Part G, 4.4).
    _DISCOVERY = frozenset(
        {att.Opcode.ATT_READ_BY_GROUP_TYPE_REQUEST, att.Opcode.ATT_FIND_BY_TYPE_VALUE_REQUEST}
    )
    # Set by the peripheral for ``fault="drop-on-discovery"``: called instead of answering.
    on_discovery: Callable[[], None] | None = None

    def on_gatt_pdu(self, connection_handle: int, pdu: bytes) -> None:
        if self.on_discovery is not None and pdu and pdu[0] in self._DISCOVERY:
            self.on_discovery()
            return
        if len(pdu) >= 3 and pdu[0] in (*self._NEEDS_WRITE, att.Opcode.ATT_WRITE_COMMAND):
            handle = int.from_bytes(pdu[1:3], "little")
            attribute = self.gatt_server.get_attribute(handle)
            if isinstance(attribute, gatt.Characteristic):
                if pdu[0] == att.Opcode.ATT_WRITE_COMMAND:
                    if (
                        not attribute.properties
                        & gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE
                    ):
                        logger.debug("dropped a write command to 0x%04X (not declared)", handle)
                        return
                elif not attribute.properties & gatt.Characteristic.Properties.WRITE:
                    connection = self.lookup_connection(connection_handle)
                    if connection is not None:
                        self.gatt_server.send_response(
                            connection,
                            att.ATT_Error_Response(
                                request_opcode_in_error=pdu[0],
                                attribute_handle_in_error=handle,
                                error_code=att.ErrorCode.WRITE_NOT_PERMITTED,
                            ),
                        )
                    return
        super().on_gatt_pdu(connection_handle, pdu)


class VirtualPeripheral:
    """A GATT peripheral on a ``VirtualLink``, driven by a ``SimulatedDevice``.

    Build it with a config and an ``on_write`` callback, or from a device with
    ``VirtualPeripheral.for_device``; then ``await start(link)`` and, when
    done, ``await stop()``. One central at a time, as massagers allow: it
    advertises until a central connects and again after it leaves.
    """

    def __init__(self, config: PeripheralConfig, on_write: WriteCallback | None = None) -> None:
        self._init(CallbackDevice(config, on_write))

    @classmethod
    def for_device(cls, device: SimulatedDevice) -> VirtualPeripheral:
        """A peripheral presenting ``device`` (its config, its hooks)."""
        self = cls.__new__(cls)
        self._init(device)
        return self

    def _init(self, device: SimulatedDevice) -> None:
        self._sim = device
        self._config = device.config
        self._battery = self._config.battery
        self._link: VirtualLink | None = None
        self._controller: SimController | None = None
        self._device: _PeripheralDevice | None = None
        self._connection: Connection | None = None
        self._running = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watchers: list[Callable[[bool], None]] = []
        self._write_uuid = normalize_uuid(self._config.write_uuid)
        self._notify_uuid = (
            normalize_uuid(self._config.notify_uuid) if self._config.notify_uuid else None
        )
        self._advertising_set: AdvertisingSet | None = None
        self._notify_char: gatt.Characteristic[bytes] | None = None
        self._battery_char: gatt.Characteristic[bytes] | None = None
        self._address = hci.Address(self._config.address) if self._config.address else None

    # -- state ---------------------------------------------------------------

    @property
    def config(self) -> PeripheralConfig:
        return self._config

    @property
    def device(self) -> SimulatedDevice:
        """The behaviour behind this peripheral."""
        return self._sim

    @property
    def address(self) -> str:
        """The advertised address (``AA:BB:...``), as a scan reports it."""
        if self._address is None:
            raise RuntimeError("the peripheral has no address before start()")
        return self._address.to_string(with_type_qualifier=False)

    @property
    def write_uuid(self) -> str:
        """The write characteristic's UUID as ``on_write`` reports it (bleak-style)."""
        return self._write_uuid

    @property
    def notify_uuid(self) -> str | None:
        """The notify characteristic's UUID, bleak-style, if there is one."""
        return self._notify_uuid

    @property
    def is_running(self) -> bool:
        return self._running

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    @property
    def battery(self) -> int:
        return self._battery

    def watch_connection(self, callback: Callable[[bool], None]) -> Callable[[], None]:
        """Call ``callback(True)`` on each connection and ``callback(False)`` when it ends.

        For the machinery around a device (fault injection, logs); device
        behaviour uses the ``SimulatedDevice`` hooks. Returns an unsubscribe function.
        """
        self._watchers.append(callback)

        def unwatch() -> None:
            if callback in self._watchers:
                self._watchers.remove(callback)

        return unwatch

    def is_subscribed(self, char_uuid: str | None = None) -> bool:
        """Whether the central has notifications on for ``char_uuid`` (default: notify char)."""
        characteristic = self._characteristic(char_uuid)
        return characteristic is not None and self._has_subscriber(characteristic)

    # -- lifecycle -----------------------------------------------------------

    async def start(self, link: VirtualLink) -> None:
        """Power up on ``link``, start the device, then advertise."""
        if self._running:
            raise RuntimeError("the peripheral is already running")
        if self._address is None:
            self._address = hci.Address.generate_static_address()
        self._link = link
        self._controller = SimController(f"peripheral {self._config.name}", link=link)
        host = Host(self._controller, AsyncPipeSink(self._controller))
        device = _PeripheralDevice(name=self._config.name, address=self._address, host=host)
        device.add_services(self._services())
        if self._config.fault == "drop-on-discovery":
            device.on_discovery = self._drop_on_discovery
        device.on(device.EVENT_CONNECTION, self._on_connection)
        device.on("characteristic_subscription", self._on_subscription)
        self._device = device
        await device.power_on()
        self._running = True
        try:
            await self._sim.start(self)
            await self._advertise()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """End the connection, stop the device, power off and leave the link.

        Advertising is stopped before powering off: ``power_off`` leaves the
        controller's advertising timer running (pitfall 2).
        """
        device = self._device
        if device is None:
            return
        was_running = self._running
        self._running = False
        await self._drain_tasks()
        if device.powered_on:
            advertising_set, self._advertising_set = self._advertising_set, None
            if advertising_set is not None:
                if advertising_set.enabled:
                    await advertising_set.stop()
                await advertising_set.remove()
            connection = self._connection
            if connection is not None:
                try:
                    await asyncio.wait_for(
                        connection.disconnect(
                            hci.HCI_ErrorCode.REMOTE_DEVICE_TERMINATED_CONNECTION_DUE_TO_POWER_OFF_ERROR
                        ),
                        timeout=1.0,
                    )
                except Exception:
                    logger.debug("disconnect at stop failed", exc_info=True)
        if was_running:
            await self._sim.stop()
        await self._drain_tasks()  # anything the hooks spawned while stopping
        await device.power_off()
        if self._link is not None and self._controller in self._link.controllers:
            self._link.remove_controller(self._controller)
        self._device = None
        self._controller = None
        self._connection = None
        self._link = None

    # -- talking back --------------------------------------------------------

    async def notify(self, data: bytes, char_uuid: str | None = None) -> bool:
        """Notify ``data`` on the notify characteristic (or ``char_uuid``).

        Returns whether a central was subscribed; without one nothing is sent,
        as on a real device.
        """
        characteristic = self._characteristic(char_uuid)
        if characteristic is None:
            raise ValueError(f"no notifiable characteristic {char_uuid or 'configured'}")
        bits = self._subscription(characteristic)
        if self._device is None or not bits:
            return False
        if bits & gatt.ClientCharacteristicConfigurationBits.NOTIFICATION:
            await self._device.notify_subscribers(characteristic, bytes(data))
        else:
            # Indications are acknowledged, one at a time (Lovense Max and Nora use them).
            await self._device.indicate_subscribers(characteristic, bytes(data))
        return True

    def notify_soon(self, data: bytes, char_uuid: str | None = None) -> None:
        """``notify`` from synchronous code (an ``on_write`` hook, a timer callback).

        The task is tracked and ended by ``stop()``, so nothing outlives the peripheral.
        """
        self._spawn(self.notify(data, char_uuid))

    def set_battery(self, percent: int) -> None:
        """Set the battery level (0-100); a subscribed central is notified."""
        if not 0 <= percent <= 100:
            raise ValueError(f"battery {percent} is outside 0-100")
        changed = percent != self._battery
        self._battery = percent
        if changed and self._battery_char is not None and self._has_subscriber(self._battery_char):
            self.notify_soon(bytes([percent]), BATTERY_LEVEL_UUID)

    async def disconnect(
        self, reason: int = hci.HCI_ErrorCode.REMOTE_USER_TERMINATED_CONNECTION_ERROR
    ) -> bool:
        """End the connection from the device's side (e.g. it switched itself off)."""
        connection = self._connection
        if connection is None:
            return False
        await connection.disconnect(reason)
        return True

    def drop_link(self, reason: int = LINK_LOSS) -> bool:
        """Lose the connection as a radio does: no goodbye, both sides see ``reason``."""
        if self._controller is None or self._link is None:
            return False
        return self._link.drop(self._controller, reason) > 0

    def _drop_on_discovery(self) -> None:
        # Later in this loop iteration, not inside Bumble's PDU handler.
        logger.info("dropping the link at service discovery (fault injection)")
        asyncio.get_running_loop().call_soon(self.drop_link)

    # -- internals -----------------------------------------------------------

    def _services(self) -> list[gatt.Service]:
        config = self._config
        properties = gatt.Characteristic.Properties(0)
        if config.write_with_response:
            properties |= gatt.Characteristic.Properties.WRITE
        if config.write_without_response:
            properties |= gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE
        write_char: gatt.Characteristic[bytes] = gatt.Characteristic(
            bumble_uuid(config.write_uuid),
            _as_properties(config.properties_of(config.write_uuid), properties),
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._make_writer(self._write_uuid)),
        )
        # A device whose write characteristic is missing (another firmware, a
        # look-alike): the app must say so, not write into the void.
        vendor = [] if config.fault == "no-write" else [write_char]
        if config.notify_uuid is not None:
            self._notify_char = gatt.Characteristic(
                bumble_uuid(config.notify_uuid),
                _as_properties(
                    config.properties_of(config.notify_uuid),
                    gatt.Characteristic.Properties.NOTIFY,
                ),
                gatt.Characteristic.READABLE,
                b"",
            )
            vendor.append(self._notify_char)
        special = {self._write_uuid, self._notify_uuid}
        for uuid, names in config.characteristics:
            if normalize_uuid(uuid) in special:
                continue
            # A further characteristic (an information record): readable, and
            # writes to it are taken like any other write to the device.
            vendor.append(
                gatt.Characteristic(
                    bumble_uuid(uuid),
                    _as_properties(names, gatt.Characteristic.Properties(0)),
                    gatt.Characteristic.READABLE | gatt.Characteristic.WRITEABLE,
                    gatt.CharacteristicValue(
                        read=lambda _connection: bytes(8),
                        write=self._make_writer(normalize_uuid(uuid)),
                    ),
                )
            )
        services = [gatt.Service(bumble_uuid(config.service_uuid), vendor)]
        if config.battery_service:
            self._battery_char = gatt.Characteristic(
                gatt.GATT_BATTERY_LEVEL_CHARACTERISTIC,
                gatt.Characteristic.Properties.READ | gatt.Characteristic.Properties.NOTIFY,
                gatt.Characteristic.READABLE,
                gatt.CharacteristicValue(read=lambda _connection: bytes([self._battery])),
            )
            services.append(gatt.Service(gatt.GATT_BATTERY_SERVICE, [self._battery_char]))
        services.append(
            DeviceInformationService(
                manufacturer_name=config.manufacturer,
                model_number=config.model,
                firmware_revision=config.firmware,
            )
        )
        return services

    def _make_writer(self, char_uuid: str) -> Callable[[Connection, bytes], None]:
        def write(_connection: Connection, value: bytes) -> None:
            try:
                self._sim.on_write(char_uuid, bytes(value))
            except WriteRejected as rejected:
                raise att.ATT_Error(rejected.code, message=str(rejected)) from rejected
            except Exception as error:
                # Without an ATT error the client would wait out the 30 s GATT timeout.
                logger.exception("simulated device failed on a write to %s", char_uuid)
                raise att.ATT_Error(att.ErrorCode.UNLIKELY_ERROR) from error

        return write

    def _characteristic(self, char_uuid: str | None) -> gatt.Characteristic[bytes] | None:
        if char_uuid is None:
            return self._notify_char
        wanted = normalize_uuid(char_uuid)
        if wanted == BATTERY_LEVEL_UUID:
            return self._battery_char
        if wanted == self._notify_uuid:
            return self._notify_char
        return None

    def _subscription(self, characteristic: gatt.Characteristic[bytes]) -> int:
        """The CCCD bits a central set on ``characteristic`` (0: nobody listens)."""
        if self._device is None:
            return 0
        bits = 0
        for cccds in self._device.gatt_server.subscribers.values():
            cccd = cccds.get(characteristic.handle)
            if cccd:
                bits |= cccd[0]
        return bits & (
            gatt.ClientCharacteristicConfigurationBits.NOTIFICATION
            | gatt.ClientCharacteristicConfigurationBits.INDICATION
        )

    def _has_subscriber(self, characteristic: gatt.Characteristic[bytes]) -> bool:
        return self._subscription(characteristic) != 0

    async def _advertise(self) -> None:
        device = self._device
        if device is None or not self._running or self._connection is not None:
            return
        if self._advertising_set is not None:
            # The controller stopped the set when the central connected; the
            # same set (data, address, interval) is what the device resumes.
            if not self._advertising_set.enabled:
                await self._advertising_set.start()
            return
        interval = self._config.advertising_interval_ms
        # A connectable, scannable advert with legacy PDUs: what massagers send.
        self._advertising_set = await device.create_advertising_set(
            advertising_parameters=AdvertisingParameters(
                advertising_event_properties=AdvertisingEventProperties(
                    is_connectable=True, is_scannable=True, is_legacy=True
                ),
                primary_advertising_interval_min=interval,
                primary_advertising_interval_max=interval,
            ),
            advertising_data=advertising_data(self._config),
            random_address=self._address,
            auto_start=True,
        )

    def _on_connection(self, connection: Connection) -> None:
        if self._config.fault == "refuse":
            self._refuse(connection)
            return
        self._connection = connection
        connection.on(
            connection.EVENT_DISCONNECTION,
            lambda reason: self._on_disconnection(connection, reason),
        )
        self._hook(
            self._sim.on_connect, connection.peer_address.to_string(with_type_qualifier=False)
        )
        for watcher in list(self._watchers):
            self._hook(watcher, True)

    def _refuse(self, connection: Connection) -> None:
        """Never answer this central: its connection fails to be established.

        The link layer connects at once on the virtual radio; the peripheral then
        goes silent, which a real central's controller reports as REFUSED after
        six connection intervals. The device advertises again for the next try.
        """
        self._hook(
            self._sim.on_refuse, connection.peer_address.to_string(with_type_qualifier=False)
        )
        connection.on(connection.EVENT_DISCONNECTION, lambda _reason: self._readvertise())
        asyncio.get_running_loop().call_soon(self.drop_link, REFUSED)

    def _readvertise(self) -> None:
        if self._running:
            self._spawn(self._advertise())

    def _on_disconnection(self, connection: Connection, reason: int) -> None:
        if self._connection is connection:
            self._connection = None
        self._hook(self._sim.on_disconnect, reason)
        for watcher in list(self._watchers):
            self._hook(watcher, False)
        if self._running:
            self._spawn(self._advertise())

    def _on_subscription(
        self,
        _bearer: object,
        characteristic: gatt.Characteristic[bytes],
        notify: bool,
        indicate: bool,
    ) -> None:
        self._hook(self._sim.on_subscribe, bleak_uuid(characteristic.uuid), notify or indicate)

    def _hook(self, hook: Callable[..., None], *args: Any) -> None:
        # Bumble's event emitter turns a raising listener into an 'error' event
        # that it re-raises inside the stack; a device bug must stay a log line.
        try:
            hook(*args)
        except Exception:
            logger.exception("simulated device hook %s failed", getattr(hook, "__name__", hook))

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("peripheral task failed", exc_info=task.exception())

    async def _drain_tasks(self, timeout: float = 1.0) -> None:
        """Let in-flight work (re-advertising, notifications) finish, then cancel stragglers.

        Waiting rather than cancelling matters: a task cancelled while Bumble's
        host waits for an HCI command's completion leaves the host pairing the
        next command with the stale completion ("invalid state" errors, then
        commands answered out of step).
        """
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def _as_properties(
    names: frozenset[str] | None, default: gatt.Characteristic.Properties
) -> gatt.Characteristic.Properties:
    if names is None:
        return default
    out = gatt.Characteristic.Properties(0)
    for name in names:
        out |= _PROPERTIES[name]
    return out


class PeripheralsInRange:
    """What keeps virtual peripherals in range of a radio (the in-process link, the
    kernel's adapter on ``/dev/vhci``): starting one on its link."""

    link: VirtualLink
    peripherals: list[VirtualPeripheral]

    async def add(self, peripheral: VirtualPeripheral | SimulatedDevice) -> VirtualPeripheral:
        """Start ``peripheral`` (or a peripheral for a device) in range, on this link."""
        if isinstance(peripheral, SimulatedDevice):
            peripheral = VirtualPeripheral.for_device(peripheral)
        await peripheral.start(self.link)
        self.peripherals.append(peripheral)
        return peripheral

"""A bleak backend on a Bumble central: the app's Bluetooth on the virtual radio.

The app's device code only uses ``BleakScanner`` and ``BleakClient``; with
``backend=adapter.scanner_backend`` / ``backend=adapter.client_backend`` they
run on a Bumble stack instead of BlueZ, CoreBluetooth or WinRT. An *adapter*
is one Bumble central stack, shared by its scanners and clients (bleak's
``backend=`` takes a class, so each adapter hands out subclasses bound to it):

- ``await BumbleAdapter.in_process(peripherals)``: a ``VirtualLink`` in this
  process with the given virtual peripherals on it (tests, ``tproutine demo``);
- ``await BumbleAdapter.tcp(host, port)``: HCI over TCP to a ``tproutine sim``
  process, which gives this connection a fresh controller of its own.

``await open_adapter("sim" | "tcp:HOST:PORT")`` picks one from the
``--adapter`` option's spelling::

    adapter = await open_adapter("sim", [my_simulated_device])
    try:
        found = await BleakScanner.find_device_by_name(
            "TPR-Sim", timeout=5.0, backend=adapter.scanner_backend
        )
        async with BleakClient(found, backend=adapter.client_backend, timeout=5.0) as client:
            await client.write_gatt_char(WRITE_UUID, command, response=True)
    finally:
        await adapter.close()

Build the adapter inside the event loop that will use it (Bumble's
controllers bind to the running loop).

Importing this module imports Bumble (about 0.4 s): only the simulator paths
may import it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, ClassVar, TypeVar

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakError,
    BleakGATTProtocolError,
)
from bumble import att, core, gatt, hci
from bumble.core import UUID, AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt_client import CharacteristicProxy, DescriptorProxy
from bumble.host import Host
from bumble.transport import open_transport
from bumble.transport.common import Transport

from tproutine.devices.sim.controller import VirtualLink
from tproutine.devices.sim.link import InProcessLink, make_link, shut_down_device
from tproutine.devices.sim.logs import route_bumble_logs
from tproutine.devices.sim.peripheral import (
    SimulatedDevice,
    VirtualPeripheral,
    bleak_uuid,
    bumble_uuid,
)

route_bumble_logs()

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

# What the big stacks ask for after connecting (BlueZ 517, macOS 185+, Android
# 517); 247 fills one LE data-length-extended packet. Bumble's server caps it.
REQUESTED_MTU = 247

# Opening the TCP transport and resetting the remote controller take
# milliseconds; a server that accepts but never answers must not hang the app.
TCP_OPEN_TIMEOUT = 5.0
DISCONNECT_TIMEOUT = 2.0

_PROPERTY_NAMES: tuple[tuple[gatt.Characteristic.Properties, CharacteristicPropertyName], ...] = (
    (gatt.Characteristic.Properties.BROADCAST, "broadcast"),
    (gatt.Characteristic.Properties.READ, "read"),
    (gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE, "write-without-response"),
    (gatt.Characteristic.Properties.WRITE, "write"),
    (gatt.Characteristic.Properties.NOTIFY, "notify"),
    (gatt.Characteristic.Properties.INDICATE, "indicate"),
    (gatt.Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES, "authenticated-signed-writes"),
    (gatt.Characteristic.Properties.EXTENDED_PROPERTIES, "extended-properties"),
)

_SERVICE_UUID_LISTS = (
    AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
)
_SERVICE_DATA = (
    AdvertisingData.Type.SERVICE_DATA_16_BIT_UUID,
    AdvertisingData.Type.SERVICE_DATA_32_BIT_UUID,
    AdvertisingData.Type.SERVICE_DATA_128_BIT_UUID,
)


def _not_available(message: str) -> BleakBluetoothNotAvailableError:
    return BleakBluetoothNotAvailableError(message, BleakBluetoothNotAvailableReason.NO_BLUETOOTH)


def _address_text(address: hci.Address) -> str:
    return address.to_string(with_type_qualifier=False)


def advertisement_to_bleak(
    advertisement: Advertisement,
) -> tuple[str, str | None, AdvertisementData]:
    """``(address, local name, AdvertisementData)`` for a Bumble advertisement.

    Bumble merges a scan response into the advert before it reports it, and
    the virtual radio repeats the advert as the scan response, so structures
    can appear twice: lists are de-duplicated.
    """
    data = advertisement.data
    name = data.get(AdvertisingData.Type.COMPLETE_LOCAL_NAME) or data.get(
        AdvertisingData.Type.SHORTENED_LOCAL_NAME
    )
    service_uuids: list[str] = []
    # get_all's result type depends on the AD type; these types give lists of
    # UUIDs and (UUID, bytes) pairs, which the isinstance checks spell out.
    for list_type in _SERVICE_UUID_LISTS:
        for uuids in data.get_all(list_type):
            for uuid in uuids if isinstance(uuids, list) else ():
                text = bleak_uuid(uuid)
                if text not in service_uuids:
                    service_uuids.append(text)
    manufacturer_data: dict[int, bytes] = {}
    for company, payload in data.get_all(AdvertisingData.Type.MANUFACTURER_SPECIFIC_DATA):
        manufacturer_data[company] = bytes(payload)
    service_data: dict[str, bytes] = {}
    for data_type in _SERVICE_DATA:
        for entry in data.get_all(data_type):
            if (
                isinstance(entry, tuple)
                and isinstance(entry[0], UUID)
                and isinstance(entry[1], bytes)
            ):
                service_data[bleak_uuid(entry[0])] = entry[1]
    tx_power = data.get(AdvertisingData.Type.TX_POWER_LEVEL)
    adv = AdvertisementData(
        local_name=name if isinstance(name, str) else None,
        manufacturer_data=manufacturer_data,
        service_data=service_data,
        service_uuids=service_uuids,
        tx_power=tx_power if isinstance(tx_power, int) else None,
        rssi=advertisement.rssi,
        platform_data=(advertisement,),
    )
    return _address_text(advertisement.address), adv.local_name, adv


def _property_names(properties: int) -> list[CharacteristicPropertyName]:
    return [name for flag, name in _PROPERTY_NAMES if properties & flag]


class BumbleAdapter:
    """One Bumble central stack shared by the scanners and clients bound to it.

    Use the ``scanner_backend`` and ``client_backend`` classes as bleak's
    ``backend=``; ``await close()`` disconnects every client (their
    disconnected callbacks run), stops scanning and shuts the stack down.
    """

    scanner_backend: type[BumbleScanner]
    client_backend: type[BumbleClient]

    def __init__(
        self,
        device: Device,
        description: str,
        *,
        link: InProcessLink | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.device = device
        self.description = description
        self._link = link
        self._transport = transport
        self._closed = False
        self._lost = False
        self._scanners: set[BumbleScanner] = set()
        self._scan_lock = asyncio.Lock()
        # A controller keeps one LE connection attempt pending at a time.
        self._connect_lock = asyncio.Lock()
        self._clients: set[BumbleClient] = set()
        self._names: dict[str, str] = {}
        device.on(device.EVENT_ADVERTISEMENT, self._on_advertisement)

        adapter = self

        class _Scanner(BumbleScanner):
            _adapter: ClassVar[BumbleAdapter] = adapter

        class _Client(BumbleClient):
            _adapter: ClassVar[BumbleAdapter] = adapter

        # bleak reports backend.__name__ as the backend id.
        _Scanner.__name__ = _Scanner.__qualname__ = "BumbleScanner"
        _Client.__name__ = _Client.__qualname__ = "BumbleClient"
        self.scanner_backend = _Scanner
        self.client_backend = _Client

    # -- construction ----------------------------------------------------------

    @classmethod
    async def in_process(
        cls,
        peripherals: Iterable[VirtualPeripheral | SimulatedDevice] = (),
        *,
        latency: float = 0.0,
    ) -> BumbleAdapter:
        """A central on a fresh in-process ``VirtualLink`` with ``peripherals`` advertising.

        The adapter owns the peripherals: ``close()`` stops them.
        """
        link = await make_link(peripherals, latency=latency)
        return cls(link.central, "in-process virtual radio", link=link)

    @classmethod
    async def tcp(cls, host: str, port: int) -> BumbleAdapter:
        """A central whose controller lives in a ``tproutine sim`` process at host:port."""
        spec = f"tcp-client:{host}:{port}"
        try:
            transport = await asyncio.wait_for(open_transport(spec), TCP_OPEN_TIMEOUT)
        except (OSError, TimeoutError) as error:
            raise _not_available(f"no virtual massager at {host}:{port}: {error}") from error
        device = Device(
            name="tproutine",
            address=hci.Address.generate_static_address(),
            host=Host(controller_source=transport.source, controller_sink=transport.sink),
        )
        try:
            await asyncio.wait_for(device.power_on(), TCP_OPEN_TIMEOUT)
        except BaseException as error:
            await transport.close()
            if isinstance(error, Exception):
                raise _not_available(
                    f"the simulator at {host}:{port} did not answer: {error!r}"
                ) from error
            raise
        adapter = cls(device, f"simulator at {host}:{port}", transport=transport)
        terminated = getattr(transport.source, "terminated", None)
        if isinstance(terminated, asyncio.Future):

            def on_flush() -> None:
                # A lost transport resolves `terminated`, then flushes the host,
                # which ends every connection: mark the adapter lost first, so
                # disconnected callbacks already see it unavailable.
                if terminated.done():
                    adapter._on_transport_lost()

            device.on(device.EVENT_FLUSH, on_flush)
            terminated.add_done_callback(lambda _future: adapter._on_transport_lost())
        return adapter

    # -- state -----------------------------------------------------------------

    @property
    def is_available(self) -> bool:
        """False once closed, or once the simulator process went away."""
        return not (self._closed or self._lost)

    @property
    def link(self) -> VirtualLink | None:
        """The in-process link (latency, fault injection); None for a TCP adapter."""
        return self._link.link if self._link is not None else None

    @property
    def peripherals(self) -> Sequence[VirtualPeripheral]:
        """The in-process peripherals (empty for a TCP adapter)."""
        return tuple(self._link.peripherals) if self._link is not None else ()

    async def add_peripheral(
        self, peripheral: VirtualPeripheral | SimulatedDevice
    ) -> VirtualPeripheral:
        """Start another peripheral on the in-process link."""
        if self._link is None:
            raise RuntimeError("peripherals of a TCP adapter live in the simulator process")
        self.require_available()
        return await self._link.add(peripheral)

    def require_available(self) -> None:
        if self._closed:
            raise _not_available(f"the {self.description} adapter is closed")
        if self._lost:
            raise _not_available(f"lost the connection to the {self.description}")

    async def close(self) -> None:
        """Disconnect every client, stop scanning, shut the stack (and peripherals) down."""
        if self._closed:
            return
        self._closed = True
        for client in list(self._clients):
            await client.disconnect()
        self._scanners.clear()
        if self._link is not None:
            await self._link.close()
        else:
            if not self._lost:
                try:
                    await asyncio.wait_for(shut_down_device(self.device), DISCONNECT_TIMEOUT)
                except Exception:
                    logger.debug("shutting down the remote central failed", exc_info=True)
            if self._transport is not None:
                await self._transport.close()

    async def __aenter__(self) -> BumbleAdapter:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # -- scanning (shared by every scanner of this adapter) ---------------------

    async def _start_scanning(self, scanner: BumbleScanner) -> None:
        async with self._scan_lock:
            self.require_available()
            self._scanners.add(scanner)
            if not self.device.is_scanning:
                try:
                    # The virtual radio delivers the same reports whatever the
                    # mode, so scanning is always active (names included).
                    await self.device.start_scanning(active=True, filter_duplicates=False)
                except BaseException:
                    self._scanners.discard(scanner)
                    raise

    async def _stop_scanning(self, scanner: BumbleScanner) -> None:
        async with self._scan_lock:
            self._scanners.discard(scanner)
            if not self._scanners and self.device.is_scanning and self.is_available:
                await self.device.stop_scanning()

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        address, name, adv = advertisement_to_bleak(advertisement)
        if name:
            self._names[address] = name
        for scanner in list(self._scanners):
            try:
                scanner._on_advertisement(address, name, advertisement.address, adv)
            except Exception:
                # Bumble's emitter would re-raise a listener's error inside the stack.
                logger.exception("a detection callback failed")

    def _on_transport_lost(self) -> None:
        if self._lost:
            return
        if not self._closed:
            logger.info("lost the connection to the %s", self.description)
        self._lost = True
        self._scanners.clear()


class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend on a ``BumbleAdapter`` (use ``adapter.scanner_backend``)."""

    _adapter: ClassVar[BumbleAdapter]

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        # scanning_mode and the platform arguments (bluez=, cb=) change nothing
        # on the virtual radio: it reports the same adverts either way.
        super().__init__(detection_callback, service_uuids)

    async def start(self) -> None:
        self.seen_devices = {}
        await self._adapter._start_scanning(self)

    async def stop(self) -> None:
        await self._adapter._stop_scanning(self)

    def _on_advertisement(
        self, address: str, name: str | None, details: hci.Address, adv: AdvertisementData
    ) -> None:
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        device = self.create_or_update_device(address, address, name, details, adv)
        self.call_detection_callbacks(device, adv)


class BumbleClient(BaseBleakClient):
    """bleak client backend on a ``BumbleAdapter`` (use ``adapter.client_backend``).

    Like BlueZ, the disconnected callback runs on every disconnection, asked
    for or not. A request cut short by a disconnection raises ``BleakError``
    (Bumble cancels it, which would otherwise surface as ``CancelledError``).
    """

    _adapter: ClassVar[BumbleAdapter]

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        services: set[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device,
            disconnected_callback=disconnected_callback,
            timeout=timeout,
            **kwargs,
        )
        details = (
            address_or_ble_device.details if isinstance(address_or_ble_device, BLEDevice) else None
        )
        self._peer_address: hci.Address | None = (
            details if isinstance(details, hci.Address) else None
        )
        self._device_name = (
            address_or_ble_device.name if isinstance(address_or_ble_device, BLEDevice) else None
        )
        self._service_filter = services
        self._connection: Connection | None = None
        self._lost: asyncio.Future[int] | None = None
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    # -- identity ----------------------------------------------------------------

    @property
    def name(self) -> str:
        return (
            self._device_name
            or self._adapter._names.get(self.address.upper())
            or self.address.replace(":", "-")
        )

    @property
    def mtu_size(self) -> int:
        connection = self._connection
        return connection.att_mtu if connection is not None else att.ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    # -- connection --------------------------------------------------------------

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        if self._connection is not None:
            return
        if pair:
            logger.warning("the virtual radio does not pair; connecting without pairing")
        adapter = self._adapter
        adapter.require_available()
        address = self._resolve_address()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout

        # Every attempt ends within its own timeout, so waiting for the lock
        # is bounded; the time spent waiting comes out of this one's budget.
        async with adapter._connect_lock:
            connection = await self._create_connection(address, deadline - loop.time())

        self._connection = connection
        self._lost = loop.create_future()
        adapter._clients.add(self)
        connection.on(
            connection.EVENT_DISCONNECTION,
            lambda reason: self._on_disconnection(connection, reason),
        )
        if connection.handle not in adapter.device.connections:
            # It went away before this task resumed: nobody heard the event.
            self._on_disconnection(connection, hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR)
            raise BleakError(f"{self.address} disconnected while connecting")
        try:
            self.services = await asyncio.wait_for(
                self._discover(connection), max(deadline - loop.time(), 0.0)
            )
        except BaseException as error:
            await self.disconnect()
            if isinstance(error, TimeoutError):
                raise TimeoutError(
                    f"service discovery on {self.address} took over {self._timeout} s"
                ) from None
            raise

    async def _create_connection(self, address: hci.Address, timeout: float) -> Connection:
        device = self._adapter.device
        if timeout <= 0:
            raise TimeoutError(f"no time left to connect to {self.address}")
        # connect_le runs in a task of its own that is never cancelled from
        # outside: cancelled while waiting for the connection it would leave
        # the attempt pending in the controller, and cancelled mid HCI command
        # it would leave Bumble's host pairing commands with stale completions.
        # It ends the attempt itself when `timeout` runs out (SimController
        # completes the cancel).
        attempt = asyncio.ensure_future(
            device.connect_le(address, timeout=timeout, own_address_type=hci.OwnAddressType.RANDOM)
        )
        try:
            return await asyncio.shield(attempt)
        except asyncio.CancelledError:
            if attempt.done():
                # Bumble gave up on it (the simulator went away), not our caller.
                raise BleakError(f"connecting to {self.address} was aborted") from None
            await self._abandon(attempt)
            raise
        except core.TimeoutError:
            raise TimeoutError(f"{self.address} did not answer within {self._timeout} s") from None
        except (core.ConnectionError, hci.HCI_Error, core.InvalidStateError) as error:
            raise BleakError(f"connecting to {self.address} failed: {error}") from error

    async def _abandon(self, attempt: asyncio.Future[Connection]) -> None:
        """End an attempt whose caller was cancelled: no connection may outlive it."""
        device = self._adapter.device
        try:
            # Queued behind connect_le's own command by the host, so it cannot
            # overtake it; the controller then fails the pending attempt.
            await device.send_sync_command(hci.HCI_LE_Create_Connection_Cancel_Command())
        except Exception:
            logger.debug("cancelling an abandoned connection attempt failed", exc_info=True)
        await asyncio.wait([attempt], timeout=DISCONNECT_TIMEOUT)
        attempt.add_done_callback(_consume_result)
        if attempt.done() and not attempt.cancelled() and attempt.exception() is None:
            # The device answered just before the cancel: hang up again.
            connection = attempt.result()
            try:
                await connection.disconnect(
                    hci.HCI_ErrorCode.REMOTE_USER_TERMINATED_CONNECTION_ERROR
                )
            except Exception:
                logger.debug("hanging up an abandoned connection failed", exc_info=True)

    async def _discover(self, connection: Connection) -> BleakGATTServiceCollection:
        peer = Peer(connection)
        await self._request("MTU exchange", lambda: peer.request_mtu(REQUESTED_MTU))
        wanted = [bumble_uuid(u) for u in self._service_filter] if self._service_filter else []
        await self._request("service discovery", lambda: peer.discover_services(wanted))
        collection = BleakGATTServiceCollection()
        for service in peer.services:
            await self._request("characteristic discovery", service.discover_characteristics)
            bleak_service = BleakGATTService(service, service.handle, bleak_uuid(service.uuid))
            collection.add_service(bleak_service)
            for characteristic in service.characteristics:
                await self._request("descriptor discovery", characteristic.discover_descriptors)
                bleak_characteristic = BleakGATTCharacteristic(
                    characteristic,
                    characteristic.handle,
                    bleak_uuid(characteristic.uuid),
                    _property_names(characteristic.properties),
                    self._max_write_without_response,
                    bleak_service,
                )
                collection.add_characteristic(bleak_characteristic)
                for descriptor in characteristic.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor,
                            descriptor.handle,
                            bleak_uuid(descriptor.type),
                            bleak_characteristic,
                        )
                    )
        return collection

    def _max_write_without_response(self) -> int:
        return self.mtu_size - 3

    def _resolve_address(self) -> hci.Address:
        if self._peer_address is not None:
            return self._peer_address
        text = self.address.strip()
        try:
            if text.endswith("/P"):
                return hci.Address(text)
            return hci.Address(text, hci.Address.RANDOM_DEVICE_ADDRESS)
        except (ValueError, core.InvalidArgumentError) as error:
            raise BleakError(f"{text!r} is not a Bluetooth address") from error

    async def disconnect(self) -> None:
        connection = self._connection
        lost = self._lost
        if connection is None or lost is None:
            return
        if self._adapter.is_available:
            # The bare HCI command, in a task that is never cancelled (see
            # _create_connection), then the Disconnection Complete. Bumble's
            # Connection.disconnect waits for that event alone, which never
            # comes if the peer hung up first and a controller (the stock
            # virtual one, or a dead transport) does not refuse the command.
            command = asyncio.ensure_future(
                self._adapter.device.send_async_command(
                    hci.HCI_Disconnect_Command(
                        connection_handle=connection.handle,
                        reason=hci.HCI_ErrorCode.REMOTE_USER_TERMINATED_CONNECTION_ERROR,
                    )
                )
            )
            command.add_done_callback(_consume_result)
            await asyncio.wait(
                (command, lost), timeout=DISCONNECT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
            )
            accepted = command.done() and not command.cancelled() and not command.exception()
            if accepted and not lost.done():
                await asyncio.wait([lost], timeout=DISCONNECT_TIMEOUT)
        # A dead transport or controller never reports the disconnection:
        # this side is disconnected all the same.
        self._on_disconnection(
            connection, hci.HCI_ErrorCode.CONNECTION_TERMINATED_BY_LOCAL_HOST_ERROR
        )

    def _on_disconnection(self, connection: Connection, reason: int) -> None:
        if self._connection is not connection:
            return  # already handled (disconnect() finishing after the event)
        logger.debug("disconnected from %s (reason 0x%02X)", self.address, reason)
        self._connection = None
        self._subscribers.clear()
        self.services = None
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(reason)
        self._adapter._clients.discard(self)
        callback = self._disconnected_callback
        if callback is not None:
            try:
                callback()
            except Exception:
                logger.exception("the disconnected callback failed")

    # Massage devices connect without bonding, and so does the virtual one: asking
    # for it is a mistake in the caller, reported as bleak reports what it cannot do.
    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleakError("the virtual radio has no pairing; simulated devices do not need it")

    async def unpair(self) -> None:
        raise BleakError("the virtual radio has no pairing; simulated devices do not need it")

    # -- GATT ----------------------------------------------------------------------

    async def _request(self, what: str, start: Callable[[], Awaitable[_T]]) -> _T:
        """Run one GATT operation, failing with ``BleakError`` if the link goes.

        Bumble cancels the pending request of a connection that went away (a
        ``CancelledError`` the caller never asked for), and a request queued
        behind it would wait out the 30 s GATT timeout on a dead link. Racing
        the request against the disconnection handles both; only a real
        cancellation of the caller propagates as ``CancelledError``.
        """
        lost = self._lost
        if self._connection is None or lost is None or lost.done():
            raise BleakError(f"{what}: not connected")
        request = asyncio.ensure_future(start())
        try:
            await asyncio.wait((request, lost), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            # The request itself runs on: ATT has no way to withdraw one, and
            # Bumble's client, cancelled mid request, would take the late
            # response as the answer to the next one. It ends when the device
            # answers or the link goes.
            request.add_done_callback(_consume_result)
            raise
        if not request.done():
            request.cancel()
            request.add_done_callback(_consume_result)
            raise BleakError(f"{what}: disconnected from {self.address}")
        try:
            return request.result()
        except att.ATT_Error as error:
            raise BleakGATTProtocolError(error.error_code) from error
        except asyncio.CancelledError:
            raise BleakError(f"{what}: disconnected from {self.address}") from None
        except core.BaseBumbleError as error:
            raise BleakError(f"{what} failed: {error}") from error

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        if use_cached:
            cached = proxy.client.cached_values.get(proxy.handle)
            if cached is not None:
                return bytearray(cached[1])
        return bytearray(await self._request("read", proxy.read_value))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        proxy: DescriptorProxy = descriptor.obj
        return bytearray(await self._request("read descriptor", proxy.read_value))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        value = bytes(data)
        if not response and len(value) > self._max_write_without_response():
            raise BleakError(
                f"{len(value)} bytes exceed max_write_without_response_size "
                f"({self._max_write_without_response()})"
            )
        await self._request("write", lambda: proxy.write_value(value, with_response=response))

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        proxy: DescriptorProxy = descriptor.obj
        value = bytes(data)
        await self._request(
            "write descriptor", lambda: proxy.write_value(value, with_response=True)
        )

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        if not {"notify", "indicate"} & set(characteristic.properties):
            raise BleakError(f"{characteristic.uuid} does not notify or indicate")
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        previous = self._subscribers.pop(characteristic.handle, None)
        if previous is not None:
            await self._request("stop notify", lambda: proxy.unsubscribe(previous))

        def on_value(value: bytes) -> None:
            # bleak wraps the app's callback with the characteristic already.
            try:
                callback(bytearray(value))
            except Exception:
                logger.exception("a notification callback failed")

        self._subscribers[characteristic.handle] = on_value
        try:
            await self._request("start notify", lambda: proxy.subscribe(on_value))
        except BaseException:
            self._subscribers.pop(characteristic.handle, None)
            raise

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        subscriber = self._subscribers.pop(characteristic.handle, None)
        if subscriber is None:
            return
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        await self._request("stop notify", lambda: proxy.unsubscribe(subscriber))


def _consume_result(future: asyncio.Future[Any]) -> None:
    # Retrieve the outcome of a request nobody awaits any more, so asyncio does
    # not log "exception was never retrieved" for an expected failure.
    if not future.cancelled():
        future.exception()


async def open_adapter(
    spec: str, devices: Iterable[VirtualPeripheral | SimulatedDevice] = ()
) -> BumbleAdapter:
    """The adapter named by ``spec``: ``"sim"`` or ``"tcp:HOST:PORT"``.

    ``devices`` go on the in-process link of ``"sim"`` (the adapter stops
    them on close); a TCP simulator brings its own.
    """
    kind, _, rest = spec.partition(":")
    if kind == "sim" and not rest:
        return await BumbleAdapter.in_process(devices)
    if kind == "tcp":
        host, _, port_text = rest.rpartition(":")
        if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{spec!r}: expected tcp:HOST:PORT")
        if list(devices):
            raise ValueError("a TCP simulator brings its own devices")
        return await BumbleAdapter.tcp(host, int(port_text))
    raise ValueError(f"{spec!r}: expected 'sim' or 'tcp:HOST:PORT'")

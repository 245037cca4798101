"""What Linux's Bluetooth stack (BlueZ) does that the others do not, met in one place.

Used by the connection code for ``--adapter system`` on Linux only; nothing here
runs (or is imported) for the simulator's adapters or on other systems.

- **Connections belong to ``bluetoothd``**, not to the program that made them:
  a program killed while connected leaves the link up, and the device, being
  connected, stops advertising. A scan would never see it again until it is
  switched off. ``connected_devices`` lists what BlueZ holds connected, in the
  form a scan reports, so that the app finds such a device at once (bleak then
  uses the link as it is instead of calling ``Connect``).
- **Transient refusals**: ``Connect`` fails with ``InProgress`` while another
  program's connection to the same device is coming up, and with
  ``le-connection-abort-by-local`` when the controller could not establish the
  link (the peer did not answer the connect request: interference, range),
  and a link lost during service discovery for the same reason;
  all succeed when tried again a moment later. ``connect`` tries again on
  these, within one time bound, and gives up at once on anything else (a
  refusal that will not change, such as a missing device, is said at once).

Why this and not ``bleak-retry-connector``: see docs/design.md ("Connecting on
BlueZ").
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bleak import BleakClient
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

log = logging.getLogger(__name__)

IS_LINUX = sys.platform.startswith("linux")

# Failures of Connect that a second try a moment later gets past (the words are
# BlueZ's error names and reasons, as bleak and dbus-fast pass them on).
TRANSIENT = (
    "InProgress",  # another Connect to this device is under way
    "le-connection-abort-by-local",  # the controller could not establish the link
    "br-connection-canceled",
    "Software caused connection abort",
    "Operation already in progress",
    # The link came up and was lost before the services were read: a controller
    # that hears nothing from the peer in the first connection events reports
    # Connection Failed to be Established (0x3E) as the link's end, which BlueZ
    # passes on as a plain disconnect, and bleak as this. The same radio
    # trouble as le-connection-abort-by-local, a moment later; a device that
    # always does it still ends in one line when the connect bound is spent.
    "failed to discover services, device disconnected",
)
# The first pause between tries; it doubles, up to MAX_PAUSE.
FIRST_PAUSE = 0.25
MAX_PAUSE = 2.0
# How long a listing of BlueZ's devices may take (bluetoothd answers in
# milliseconds; a stuck D-Bus must not hold up the scan).
LIST_TIMEOUT = 3.0


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` from ``BleakClient.connect`` is worth another try."""
    if isinstance(exc, (EOFError, BrokenPipeError)):
        return True  # the D-Bus socket went away under bleak: a new call opens another
    text = " ".join(str(part) for part in (type(exc).__name__, exc, *exc.args))
    return any(word in text for word in TRANSIENT)


async def connect(client: BleakClient, timeout: float) -> int:
    """``client.connect()``, tried again on BlueZ's transient failures, all within ``timeout``.

    Returns how many tries it took. Raises ``TimeoutError`` when the time is up,
    or the last failure when it is not a transient one.
    """
    deadline = time.monotonic() + timeout
    pause = FIRST_PAUSE
    tries = 0
    while True:
        tries += 1
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        try:
            await asyncio.wait_for(client.connect(timeout=left), left)
            return tries
        except Exception as exc:
            if not transient(exc) or deadline - time.monotonic() <= pause:
                raise
            log.info("connecting: %s; trying again in %.2f s", exc, pause)
        await asyncio.sleep(pause)
        pause = min(pause * 2, MAX_PAUSE)


async def connected_devices() -> list[tuple[BLEDevice, AdvertisementData]]:
    """The devices BlueZ holds connected, each as a scan would report it.

    Empty when BlueZ cannot be asked (no system bus, no ``bluetoothd``): the
    scan that runs beside it says what is wrong with the adapter.
    """
    if not IS_LINUX:
        return []
    try:
        objects = await asyncio.wait_for(_managed_objects(), LIST_TIMEOUT)
    except Exception as exc:
        log.info("could not list BlueZ's devices: %r", exc)
        return []
    return [
        _as_scanned(path, props)
        for path, interfaces in sorted(objects.items())
        if (props := interfaces.get("org.bluez.Device1")) and props.get("Connected")
    ]


async def _managed_objects() -> dict[str, dict[str, dict[str, Any]]]:
    from dbus_fast import BusType, Message, MessageType, unpack_variants
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        reply = await bus.call(
            Message(
                destination="org.bluez",
                path="/",
                interface="org.freedesktop.DBus.ObjectManager",
                member="GetManagedObjects",
            )
        )
    finally:
        bus.disconnect()
    if reply is None or reply.message_type != MessageType.METHOD_RETURN:
        raise RuntimeError(getattr(reply, "error_name", None) or "no reply")
    objects: dict[str, dict[str, dict[str, Any]]] = unpack_variants(reply.body[0])
    return objects


def _as_scanned(path: str, props: dict[str, Any]) -> tuple[BLEDevice, AdvertisementData]:
    # The same shapes bleak's BlueZ scanner gives (bleak/backends/bluezdbus/scanner.py),
    # so the profile matching and BleakClient treat it like any scanned device.
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

    adv = AdvertisementData(
        local_name=props.get("Name"),
        manufacturer_data={k: bytes(v) for k, v in props.get("ManufacturerData", {}).items()},
        service_data={k: bytes(v) for k, v in props.get("ServiceData", {}).items()},
        service_uuids=list(props.get("UUIDs", [])),
        tx_power=props.get("TxPower"),
        rssi=props.get("RSSI", -127),
        platform_data=(path, props),
    )
    name = props.get("Alias") or props.get("Name")
    device = BLEDevice(props["Address"], name, {"path": path, "props": props})
    return device, adv

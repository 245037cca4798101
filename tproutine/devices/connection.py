"""Finding and holding the link: scan, connect, set up, lose it and reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sys
from typing import TYPE_CHECKING

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from tproutine.devices import adapters, guardian
from tproutine.devices.adapters import AdapterError, Backends
from tproutine.devices.codec import (
    decode_battery_level,
    encode_battery_query,
    encode_firmware_query,
    encode_init,
    encode_stop,
)
from tproutine.devices.controller_base import (
    BACKOFF_FIRST,
    BACKOFF_MAX,
    DISCONNECT_TIMEOUT,
    FINAL_RECONNECT_TIMEOUT,
    STOP_BY_HAND,
    STOP_TIMEOUT,
    WRITE_TIMEOUT,
    ControllerBase,
    DeviceError,
    Link,
    LinkFailed,
    is_address,
    why,
    within,
)
from tproutine.devices.matching import Fit, short_uuid
from tproutine.devices.profile import (
    BATTERY_LEVEL,
    FIRMWARE_REVISION,
    DeviceProfile,
)
from tproutine.devices.status import FoundDevice

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

# How long the stack may take to start a scan.
SCAN_START_TIMEOUT = 10.0


def _can_notify(char: BleakGATTCharacteristic) -> bool:
    return bool({"notify", "indicate"} & set(char.properties))


def _on_bluez(backends: Backends) -> bool:
    """Whether bleak talks to BlueZ here (the system adapter on Linux)."""
    return backends.spec.kind == "system" and backends.client is None and sys.platform == "linux"


def _scan_failure(exc: BaseException, backends: Backends) -> str:
    if backends.spec.kind == "system":
        return adapters.describe_bluetooth_error(exc)
    return f"scanning {backends.description} failed: {why(exc)}"


class Connection(ControllerBase):
    """Connecting, setting up, losing the link and reconnecting."""

    async def _adapter(self) -> Backends:
        if self._backends is not None and self._backends.available:
            return self._backends
        if self._given_backends is not None:
            raise DeviceError(f"{self._given_backends.description} is not available any more")
        if self._backends is not None:
            stale, self._backends = self._backends, None
            await adapters.release(stale)
        if self.adapter.kind == "none":
            raise DeviceError("no adapter (--adapter none)")
        try:
            self._backends = await adapters.acquire(self.adapter, profile_id=self.sim_profile)
        except AdapterError as exc:
            raise DeviceError(str(exc)) from None
        return self._backends

    async def scan(self, timeout: float) -> list[FoundDevice]:
        """Every device seen within ``timeout`` on this controller's adapter."""
        from tproutine.devices.scan import scan_backends

        backends = await self._adapter()
        return await scan_backends(backends, timeout, self.profiles)

    async def _connect(
        self,
        target: FoundDevice | str,
        *,
        reconnect: bool = False,
        scan_timeout: float | None = None,
    ) -> None:
        if self._io_lock is None:
            self._io_lock = asyncio.Lock()
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        # One connection attempt at a time (a session starting while the Devices
        # screen connects): the second waits, then finds the link up.
        async with self._connect_lock:
            if self._link is not None and self._link.client.is_connected:
                return
            self._start_guardian()
            await self._connect_locked(target, reconnect, scan_timeout or self.scan_timeout)

    def _wanted(self, target: FoundDevice | str) -> str:
        """The device being looked for, in a few words (for "connecting to ...")."""
        if isinstance(target, FoundDevice):
            return target.name or target.address
        if target.lower() == "auto":
            return "the first device a profile knows"
        return target if is_address(target) else f'"{target}"'

    async def _connect_within(self, target: FoundDevice | str, bound: float) -> None:
        """Connect to ``target`` within ``bound`` seconds, everything included (scan,
        connect, set-up), trying again with a growing pause after a link that did not
        come up (:class:`LinkFailed`) while time is left.

        Raises ``DeviceError`` (one line) when the device is not ready in time. The
        scan may take the whole bound: a device switched on meanwhile is found.
        """
        deadline = self._mono() + bound
        delay = BACKOFF_FIRST
        tries = 0
        failed: LinkFailed | None = None
        while (remaining := deadline - self._mono()) > 0:
            tries += 1
            try:
                await asyncio.wait_for(
                    self._connect(target, scan_timeout=bound if tries == 1 else remaining),
                    remaining,
                )
                return
            except TimeoutError:
                break
            except LinkFailed as exc:
                failed = exc
                log.info("connecting failed (%s); next try in %.2f s", exc, delay)
            if deadline - self._mono() <= delay:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)
        if failed is not None:
            detail = f" ({tries} tries in {bound:g} s)" if tries > 1 else ""
            raise DeviceError(f"{failed}{detail}")
        where = adapters.describe(self.adapter)
        done = "found" if self._status.state == "scanning" else "ready"
        raise DeviceError(f"{self._wanted(target)} was not {done} within {bound:g} s on {where}")

    async def _connect_locked(
        self, target: FoundDevice | str, reconnect: bool, scan_timeout: float
    ) -> None:
        if not reconnect:
            self._publish(state="scanning", message=None)
        try:
            found, ble_device, profile = await self._find(target, scan_timeout)
            if not reconnect:
                self._publish(
                    state="connecting",
                    name=found.name,
                    address=found.address,
                    profile=profile.name,
                    max_level=profile.safety.max_level,
                )
            await self._open(found, ble_device, profile)
        except DeviceError as exc:
            if not reconnect:
                self._publish(state="failed", message=str(exc))
            raise
        self._lost_running = None
        self._arm_guardian(found, ble_device, profile)
        self._publish(
            state="connected",
            name=found.name,
            address=found.address,
            profile=profile.name,
            max_level=profile.safety.max_level,
            message=None,
        )
        self._emit(
            "device",
            action="reconnect" if reconnect else "connect",
            name=found.name,
            address=found.address,
            profile=profile.id,
        )
        if self._stats is not None:
            self._stats.device_seen = True
        self._wake.set()

    def _start_guardian(self) -> None:
        """Start the guardian as connecting begins: its start-up (importing bleak)
        then overlaps the scan, not the session."""
        if self._guardian is None and self.use_guardian and guardian.guards(self.adapter):
            self._guardian = guardian.Guardian(self.adapter, full_screen=self.full_screen)
            self._guardian.start()

    def _arm_guardian(
        self, found: FoundDevice, ble_device: BLEDevice, profile: DeviceProfile
    ) -> None:
        link = self._link
        if link is None or not self.use_guardian or not guardian.guards(self.adapter):
            return
        self._start_guardian()
        assert self._guardian is not None
        details = ble_device.details
        path = details.get("path") if isinstance(details, dict) else None
        if self.adapter.kind != "system" or not isinstance(path, str):
            path = None
        self._guardian.arm(
            guardian.Ward(
                adapter=self.adapter.text,
                address=found.address,
                name=found.name,
                write=link.write_char.uuid,
                response=link.gatt.write_response,
                stop=encode_stop(profile),
                bluez_path=path,
            )
        )
        # Until the first stop after connecting is through, the motor may be running.
        self._guardian.running(self._sent_level != 0)

    async def _find(
        self, target: FoundDevice | str, timeout: float
    ) -> tuple[FoundDevice, BLEDevice, DeviceProfile]:
        """Scan until the wanted device advertises; its scan entry and profile."""
        backends = await self._adapter()
        wanted_profile: DeviceProfile | None = None
        if isinstance(target, FoundDevice):
            address: str | None = target.address
            name: str | None = None
            if target.profile_id is not None:
                wanted_profile = self.profiles.get(target.profile_id)
        elif target.lower() == "auto":
            address = name = None
        elif is_address(target):
            address, name = target, None
        else:
            address, name = None, target
        loop = asyncio.get_running_loop()
        found: asyncio.Future[tuple[BLEDevice, AdvertisementData, Fit | None]]
        found = loop.create_future()
        auto = address is None and name is None
        passed_by: dict[str, str] = {}  # devices auto would not take, and why

        def seen(device: BLEDevice, adv: AdvertisementData) -> None:
            if found.done():
                return
            local = adv.local_name or device.name
            if address is not None and device.address.upper() != address.upper():
                return
            if name is not None and (local or "").casefold() != name.casefold():
                return
            fit = self._fit_for(local, adv)
            if auto and (fit is None or not fit.auto):
                # auto: only a massager a profile knows on more than a bare common word.
                if fit is not None:
                    passed_by[local or device.address] = fit.why
                return
            found.set_result((device, adv, fit))

        scanner = BleakScanner(seen, backend=backends.scanner)
        try:
            # Bounded: a stack that never answers (BlueZ's StartDiscovery has been
            # seen waiting on the kernel for good) must not hold up the session.
            await asyncio.wait_for(scanner.start(), SCAN_START_TIMEOUT)
        except TimeoutError:
            raise DeviceError(
                f"{backends.description} did not start scanning within {SCAN_START_TIMEOUT:g} s"
            ) from None
        except Exception as exc:
            raise DeviceError(_scan_failure(exc, backends)) from None
        try:
            if _on_bluez(backends):
                # A device BlueZ still holds connected (its last app was killed)
                # does not advertise: offer it as if it had.
                from tproutine.devices import bluez

                for held in await bluez.connected_devices():
                    seen(*held)
            device, adv, fit = await asyncio.wait_for(found, timeout)
        except TimeoutError:
            what = (
                "no device that a profile knows was"
                if auto
                else f"{target if isinstance(target, str) else target.address!r} was not"
            )
            skipped = "; ".join(f"{n}: {w}" for n, w in sorted(passed_by.items())[:3])
            raise DeviceError(
                f"{what} found within {timeout:g} s on {backends.description}"
                + (f" (passed by {skipped}; choose one with --device NAME)" if skipped else "")
            ) from None
        finally:
            with contextlib.suppress(Exception):
                await scanner.stop()
        local = adv.local_name or device.name
        if fit is not None and not fit.massager:
            raise DeviceError(
                f"{local or device.address} is not a massager ({fit.profile.id} says so): "
                "tproutine never drives it"
            )
        profile = wanted_profile or (fit.profile if fit is not None else None)
        if profile is None:
            raise DeviceError(
                f"{local or device.address} is not a device any profile knows "
                "(see `tproutine devices profiles`)"
            )
        entry = FoundDevice(local, device.address, adv.rssi, profile.id, profile.name)
        return entry, device, profile

    async def _open(
        self, found: FoundDevice, ble_device: BLEDevice, profile: DeviceProfile
    ) -> None:
        backends = await self._adapter()
        client = BleakClient(
            ble_device,
            disconnected_callback=self._on_disconnected,
            timeout=self.connect_timeout,
            backend=backends.client,
        )
        try:
            if _on_bluez(backends):
                from tproutine.devices import bluez

                await bluez.connect(client, self.connect_timeout)
            else:
                await client.connect()
        except TimeoutError:
            raise LinkFailed(
                f"{found.name or found.address} did not answer within {self.connect_timeout:g} s"
            ) from None
        except Exception as exc:
            raise LinkFailed(
                f"could not connect to {found.name or found.address}: {why(exc)}"
            ) from None
        link: Link | None = None
        try:
            link = self._link_for(client, found, profile)
            self.profile = profile
            self._link = link
            self._sent_level = None
            self._settled.clear()
            self._device_level = None
            self._manual = None
            self._failing = False
            self._retry_at = -math.inf
            await self._set_up(link, profile)
        except BaseException as exc:
            self._link = None  # the worker writes nothing more on it
            self._leaving = True
            try:
                if link is not None and client.is_connected:  # a dropped link takes nothing
                    closing = isinstance(
                        exc, (asyncio.CancelledError, KeyboardInterrupt, SystemExit)
                    )
                    reason = "the app is closing" if closing else "setting up the device failed"
                    await self._stop_unready(link, profile, reason)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.disconnect(), DISCONNECT_TIMEOUT)
            finally:
                self._leaving = False
            if isinstance(exc, DeviceError):
                raise
            if isinstance(exc, Exception):
                # Mostly the link dropping during discovery or subscribing: worth a retry.
                raise LinkFailed(
                    f"setting up {found.name or found.address} failed: {why(exc)}"
                ) from None
            raise

    async def _stop_unready(self, link: Link, profile: DeviceProfile, reason: str) -> None:
        """Write the stop on a link whose set-up did not finish, before it is dropped.

        The worker drives a link as soon as it exists (the set-up's own writes go
        through it), so a session already running may have started the motor while
        notifications, the battery and the init commands were set up. A set-up that
        fails, or is cancelled because the app is closing (Ctrl-C, asyncio.run
        cancelling its tasks), must not leave the motor to the device's own
        behaviour on a lost link: some keep running. Bounded, and finished even if
        the task is cancelled again meanwhile (the caller re-raises what ended it).
        """
        assert self._io_lock is not None
        for _attempt in range(2):
            try:
                # The lock: after a write of the worker's still in flight. At most a
                # second, as every stop before leaving (a retried connect waits on it).
                async with within(STOP_TIMEOUT), self._io_lock:
                    await link.client.write_gatt_char(
                        link.write_char, encode_stop(profile), response=link.gatt.write_response
                    )
                self._stopped(reason)
                return
            except asyncio.CancelledError:
                continue
            except Exception as exc:  # the link is going anyway: say it, as a stop refused
                log.info("the stop before leaving an unfinished set-up failed: %r", exc)
                break
        if (self._sent_level or 0) > 0:
            self._say_stop_refused(link.device)

    def _link_for(self, client: BleakClient, found: FoundDevice, profile: DeviceProfile) -> Link:
        services = client.services
        gatt = profile.gatt_for(s.uuid for s in services)
        if gatt is None:
            raise DeviceError(
                f"{found.name or found.address} has none of the services of the profile "
                f"{profile.id}: is it the right profile?"
            )
        write_char = services.get_characteristic(gatt.write)
        if write_char is None:
            # Permanent (another model or firmware than the profile describes): no retry.
            raise DeviceError(
                f"{found.name or found.address} has no write characteristic "
                f"{short_uuid(gatt.write)} in its service, so it cannot be driven "
                f"(another model or firmware than the profile {profile.id} describes?)"
            )
        notify_char = services.get_characteristic(gatt.notify) if gatt.notify else None
        if notify_char is not None and not _can_notify(notify_char):
            # Sources disagree with devices (We-Vibe's f000b000 is read-only):
            # subscribing would fail the whole set-up, for nothing to hear.
            log.info("%s does not notify or indicate: not listening there", notify_char.uuid)
            notify_char = None
        battery_char = services.get_characteristic(BATTERY_LEVEL)
        firmware_char = services.get_characteristic(FIRMWARE_REVISION)
        return Link(client, found, gatt, write_char, notify_char, battery_char, firmware_char)

    async def _set_up(self, link: Link, profile: DeviceProfile) -> None:
        """Notifications, battery, init commands: everything between connect and use."""
        client = link.client
        if link.notify_char is not None:
            await client.start_notify(link.notify_char, self._on_notify)
        # The standard Battery Service: where the profile says so, and where it
        # says nothing about the battery and the device has the service.
        if profile.reads.battery in ("standard", None) and link.battery_char is not None:
            await self._read_standard_battery(client, link.battery_char)
        for data in encode_init(profile):
            if not await self._write(data, "the init command"):
                raise DeviceError("the device refused its init command")
        query = encode_battery_query(profile)
        if query is not None:
            # The answer comes back as a notification, read by _on_notify.
            await self._write(query, "the battery query")

    async def _read_standard_battery(
        self, client: BleakClient, char: BleakGATTCharacteristic
    ) -> None:
        with contextlib.suppress(Exception):
            # Bounded: a read that needs pairing must not hold up the session.
            raw = await asyncio.wait_for(client.read_gatt_char(char), WRITE_TIMEOUT)
            battery = decode_battery_level(bytes(raw))
            if battery is not None:
                self._publish(battery=battery)
        if _can_notify(char):
            with contextlib.suppress(Exception):
                await client.start_notify(char, self._on_battery)

    async def read_firmware(self, timeout: float = 2.0) -> str | None:
        """The firmware version where the device tells it (standard 0x2A26 or a vendor query)."""
        link, profile = self._link, self.profile
        if link is None or profile is None:
            return None
        if profile.reads.firmware == "standard" or (
            profile.reads.firmware is None and link.firmware_char is not None
        ):
            if link.firmware_char is None:
                return None
            try:
                raw = await asyncio.wait_for(
                    link.client.read_gatt_char(link.firmware_char), timeout
                )
            except Exception:
                return None
            return bytes(raw).decode("utf-8", "replace").strip("\x00 ") or None
        query = encode_firmware_query(profile)
        if query is None:
            return None
        link.firmware_waiter = asyncio.get_running_loop().create_future()
        try:
            if not await self._write(query, "the firmware query"):
                return None
            return await asyncio.wait_for(link.firmware_waiter, timeout)
        except TimeoutError:
            return None
        finally:
            link.firmware_waiter = None

    def _on_disconnected(self, client: BleakClient) -> None:
        link = self._link
        if link is None or link.client is not client or self._leaving:
            return
        # A level on its way when the link went may have reached the motor, too.
        was_running = max(self._sent_level or 0, self._device_level or 0, self._inflight_level) > 0
        self._lost_running = link.device if was_running else None
        self._link = None
        self._sent_level = None
        self._device_level = None
        self._record_level()
        if self._closed:
            return
        if was_running:
            self._say_lost_running(link.device)
        else:
            self._publish(
                state="reconnecting",
                running=False,
                force=None,
                message="the link was lost: reconnecting; the routine goes on as a timer",
            )
            self._emit("device", action="disconnect", name=link.device.name, reason="link lost")
        session = self._session
        if not self.keep_timer_on_disconnect and session is not None and session.state == "running":
            session.pause()
        if self._reconnecting is None and self._loop is not None and not self._loop.is_closed():
            self._reconnecting = self._loop.create_task(self._reconnect(link.device))

    def _say_lost_running(self, device: FoundDevice) -> None:
        """The link went while the motor ran: the device may run on, and the person
        must hear it now (on screen, in the plain output, by voice), not at the end."""
        what = device.name or "the device"
        warning = f"{what} may still be running: {STOP_BY_HAND}"
        self._publish(
            state="reconnecting",
            running=False,
            force=None,
            message=f"the link was lost while the motor ran: {warning}; reconnecting",
        )
        if self._session is not None and self._session.state in ("running", "paused"):
            # The session's stream carries it to the screen, the plain output and the
            # voice, in order with the rest (the `warning` field is what they say).
            self._emit(
                "device",
                action="disconnect",
                name=device.name,
                reason="link lost",
                running=True,
                warning=warning,
            )
        else:
            self._report(f"device: the link was lost while the motor ran: {warning}")

    async def _reconnect(self, device: FoundDevice) -> None:
        delay = BACKOFF_FIRST
        try:
            while not self._closed:
                try:
                    await self._connect(device, reconnect=True)
                    return
                except DeviceError as exc:
                    log.info("reconnecting failed (%s); next try in %.2f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
        finally:
            self._reconnecting = None

    async def _reach_to_stop(self, device: FoundDevice) -> None:
        """Reconnect once, briefly, to a device lost while running: the stop is owed to it."""
        try:
            await asyncio.wait_for(
                self._connect(device, reconnect=True, scan_timeout=FINAL_RECONNECT_TIMEOUT),
                FINAL_RECONNECT_TIMEOUT,
            )
        except (DeviceError, TimeoutError) as exc:
            log.error("could not reach %s to stop it: %s", device.name or device.address, exc)
            keeps = (
                f"; the guardian keeps trying for {guardian.GIVE_UP_AFTER:g} s"
                if self._guardian is not None
                else ""
            )
            self._report(
                f"device: the link to {device.name or device.address} was lost while the motor "
                f"ran and could not be restored to stop it{keeps}: switch it off by hand"
            )

    async def _drop_connection(self) -> None:
        link, self._link = self._link, None
        if link is None:
            return
        self._leaving = True
        try:
            await asyncio.wait_for(link.client.disconnect(), DISCONNECT_TIMEOUT)
        except Exception as exc:
            log.info("disconnecting failed: %r", exc)
        finally:
            self._leaving = False
        self._sent_level = None
        self._emit("device", action="disconnect", name=link.device.name, reason="closed")

"""The state every part of the device controller shares, and its status plumbing.

The controller is one object built from parts that each read on their own:
:mod:`~tproutine.devices.connection` (scan, connect, reconnect),
:mod:`~tproutine.devices.worker` (the plan and the worker that writes it),
:mod:`~tproutine.devices.readings` (notifications and what the motor really did) and
:mod:`~tproutine.devices.controller` (the session side and every way out). This base
holds their common state, the status that screens subscribe to, and the
methods each part offers the others (declared here, defined in their part).
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.scanner import AdvertisementData

from tproutine.devices import adapters
from tproutine.devices.adapters import AdapterSpec, Backends
from tproutine.devices.matching import Fit, match_device
from tproutine.devices.profile import (
    DeviceProfile,
    Gatt,
    load_profiles,
)
from tproutine.devices.status import DeviceStatus, FoundDevice, StatusListener

if TYPE_CHECKING:
    from tproutine.devices.guardian import Guardian
    from tproutine.engine.events import EventName
    from tproutine.engine.session import Session
    from tproutine.settings import Settings

if sys.version_info >= (3, 11):
    from asyncio import timeout as within
else:  # pragma: no cover - Python 3.10 (bleak brings async-timeout there)
    from async_timeout import timeout as within

__all__ = ["within"]  # the parts' timeout scope (asyncio.timeout from 3.11 on)

log = logging.getLogger(__name__)

Report = Callable[[str], None]

# Finding the device: real devices advertise every 100 ms to 1 s.
SCAN_TIMEOUT = 5.0
CONNECT_TIMEOUT = 10.0
# One write (with response) takes milliseconds; a device that has not answered
# in this long is not going to.
WRITE_TIMEOUT = 2.0
# The stop at close is awaited this long at most: the person is waiting to leave.
STOP_TIMEOUT = 1.0
# bluetoothd waits 2 s (its DISCONNECT_TIMER) before it drops a link it was
# asked to end. In the BlueZ VM (tests/bluez), an app that stopped waiting at
# 2 s and exited left the link up for good: the device, still connected, never
# advertised again and the next session could not find it. Wait well past it.
DISCONNECT_TIMEOUT = 6.0
# Closing while the link is lost and the motor may still run (devices that do not
# stop by themselves): one last, bounded try to reach it and send the stop.
FINAL_RECONNECT_TIMEOUT = 3.0
# Ramps: at most one level write per this many seconds, and how often the plan is re-read.
MIN_WRITE_INTERVAL = 0.1
RAMP_POLL = 0.05
# A reading newer than our last write by less than this may still describe the
# state before it (writes without response have no acknowledgement).
MANUAL_GRACE = 0.25
# After a failed write (already retried once), wait this long before trying again
# (a stop too: persistently, but not in a tight loop against a refusing device).
RETRY_AFTER = 0.5
# Said when the device may run on out of the app's reach (a lost link, an app that died).
STOP_BY_HAND = "if it does, switch it off with its own button (or take it away from your body)"
# Reconnect backoff: first try quickly (a blip), then back off to a slow, steady pace.
BACKOFF_FIRST = 0.25
BACKOFF_MAX = 5.0

_ADDRESS = re.compile(
    r"(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}"  # Linux, Windows, the simulator
    r"|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"  # macOS
)


class DeviceError(Exception):
    """Connecting or talking to the device failed; ``str()`` is one line for the person."""


class LinkFailed(DeviceError):
    """The device was found but the link did not come up (refused, dropped while setting
    up, no answer): radios fail like this now and then, so another try may succeed."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What the motor should do now, and why (the reason goes into ``device`` events)."""

    level: int
    reason: str
    planned_level: int | None = None  # the session's own plan, before a manual change
    manual: bool = False


@dataclass(slots=True)
class SegmentStats:
    """What the motor really did during one segment, on the session clock."""

    index: int
    last_t: float
    level: int = 0
    motor_s: float = 0.0
    level_s: float = 0.0  # the level integrated over running time
    peak_force: float | None = None
    manual_changes: int = 0
    device_seen: bool = False

    def advance(self, t: float) -> None:
        dt = max(0.0, t - self.last_t)
        if self.level > 0:
            self.motor_s += dt
            self.level_s += self.level * dt
        self.last_t = max(self.last_t, t)

    def report(self) -> dict[str, Any]:
        if not self.device_seen:
            return {}
        mean = self.level_s / self.motor_s if self.motor_s > 0 else 0.0
        out: dict[str, Any] = {
            "motor_s": round(self.motor_s, 3),
            "mean_level": round(mean, 3),
            "manual_changes": self.manual_changes,
        }
        if self.peak_force is not None:
            out["peak_force"] = round(self.peak_force, 2)
        return out


@dataclass(slots=True)
class Link:
    """One live connection: the client and where to write and listen."""

    client: BleakClient
    device: FoundDevice
    gatt: Gatt
    write_char: BleakGATTCharacteristic
    notify_char: BleakGATTCharacteristic | None
    battery_char: BleakGATTCharacteristic | None
    firmware_char: BleakGATTCharacteristic | None
    firmware: str | None = None
    firmware_waiter: asyncio.Future[str] | None = field(default=None, repr=False)


def is_address(text: str) -> bool:
    """Whether ``--device`` names an address (else it is a name)."""
    return _ADDRESS.fullmatch(text.strip()) is not None


def why(exc: BaseException | None) -> str:
    if exc is None:
        return "not connected"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    text = str(exc).strip()
    if text.startswith("(") and len(exc.args) > 1:
        # (code, message) errors (Bumble's ATT errors) print as a Python tuple.
        words = [a.strip() for a in exc.args if isinstance(a, str) and a.strip()]
        text = words[0] if words else type(exc).__name__
    return text or type(exc).__name__


class ControllerBase(ABC):
    """State and status shared by the controller's parts (see the module docstring)."""

    def __init__(
        self,
        adapter: str | AdapterSpec = "system",
        device: str | None = "auto",
        *,
        profiles: dict[str, DeviceProfile] | None = None,
        settings: Settings | None = None,
        report: Report | None = None,
        keep_connected: bool = False,
        scan_timeout: float = SCAN_TIMEOUT,
        connect_timeout: float = CONNECT_TIMEOUT,
        sim_profile: str | None = None,
        backends: Backends | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        guardian: bool = True,
        full_screen: bool = False,
    ) -> None:
        self.adapter = adapters.parse_adapter(adapter) if isinstance(adapter, str) else adapter
        self.target = (device or "auto").strip() or "auto"
        self._profiles = profiles
        self.settings = settings
        self.max_intensity = float(settings.max_intensity) if settings is not None else 100.0
        self.keep_timer_on_disconnect = (
            settings.keep_timer_on_disconnect if settings is not None else True
        )
        self._report_fn = report
        self.keep_connected = keep_connected
        self.scan_timeout = scan_timeout
        self.connect_timeout = connect_timeout
        self.sim_profile = sim_profile
        self._mono = monotonic

        # A process that stops the motor if this one dies without doing so
        # (``tproutine.devices.guardian``): started with the first connection.
        self.use_guardian = guardian
        # The app holds the terminal full screen: after a hard death, its guardian
        # gives the terminal back before it says what it did.
        self.full_screen = full_screen
        self._guardian: Guardian | None = None

        self._status = DeviceStatus()
        self._listeners: list[StatusListener] = []
        # An adapter handed in (tests, the demo's own virtual radio) belongs to
        # the caller: never released here.
        self._given_backends = backends
        self._backends: Backends | None = backends
        self._link: Link | None = None
        self.profile: DeviceProfile | None = None
        self._session: Session | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: asyncio.Task[None] | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._io_lock: asyncio.Lock | None = None
        self._connect_lock: asyncio.Lock | None = None
        self._closed = False  # no more work: close() (or the end of the program) is under way
        self._shut = False  # close() has finished
        self._leaving = False  # a disconnect we asked for: not a lost link
        # The device whose link was lost while its motor ran (the stop is still owed).
        self._lost_running: FoundDevice | None = None
        # Events for a session that has not started yet (its clock waits for the
        # device): sent once it starts, so ``session_start`` stays the first event.
        self._early: list[tuple[EventName, dict[str, Any]]] = []
        # The session whose connect-first failed and that goes on as a timer by the
        # person's choice: no connecting behind their back.
        self._declined: Session | None = None
        # Called once the worker has made its next pass (see call_after_step).
        self._after_step: list[Callable[[], None]] = []
        # Set once the motor is known to be in the state last sent (the first stop
        # after connecting has gone out): what "ready" waits for.
        self._settled = asyncio.Event()

        # What was sent and what the device says.
        self._sent_level: int | None = None  # None: unknown (just connected, write failed)
        self._ever_ran = False
        self._last_write = -math.inf
        self._last_write_done = -math.inf
        self._writing = False
        self._inflight_level = 0  # a level being written now (it may have reached the motor)
        self._retry_at = -math.inf
        self._failing = False
        self._on_since: float | None = None
        self._device_level: int | None = None
        self._device_at = -math.inf
        # Safety latches.
        self._held = False
        self._max_on_tripped = False
        self._manual: tuple[int, int | None] | None = None  # (device level, plan then)
        self._test_level: int | None = None
        # Per-segment records.
        self._stats: SegmentStats | None = None
        self._clamped: set[tuple[int, str]] = set()
        self.ignored_notifications = 0
        self.failed_writes = 0
        self.writes = 0

    @property
    def status(self) -> DeviceStatus:
        """What the screens show now."""
        return self._status

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the connection lives on (for the exit paths in ``safety``)."""
        return self._loop

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.client.is_connected

    @property
    def held(self) -> bool:
        """The emergency stop is latched: the motor stays off until released."""
        return self._held

    @property
    def sent_level(self) -> int | None:
        """The level last written to the device (None: unknown)."""
        return self._sent_level

    def subscribe(self, listener: StatusListener) -> Callable[[], None]:
        """Call ``listener(status)`` on every change; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _publish(self, **changes: Any) -> None:
        new = self._status.with_(**changes)
        if new == self._status:
            return
        self._status = new
        for listener in list(self._listeners):
            try:
                listener(new)
            except Exception:
                log.exception("a device status listener failed")

    def _report(self, line: str) -> None:
        log.warning("%s", line)
        if self._report_fn is not None:
            try:
                self._report_fn(line)
            except Exception:
                log.exception("reporting %r failed", line)

    def _emit(self, event: EventName, /, **data: Any) -> None:
        """An event into the session's stream (plain output, --events, history).

        Before the session starts (it waits for the device) the event is kept and
        sent right after ``session_start``.
        """
        session = self._session
        if session is None:
            return
        if session.state == "idle":
            self._early.append((event, data))
            return
        try:
            session.emit(event, **data)
        except Exception:
            log.exception("could not emit a %s event", event)

    @property
    def profiles(self) -> dict[str, DeviceProfile]:
        if self._profiles is None:
            self._profiles = load_profiles()
        return self._profiles

    def _fit_for(self, name: str | None, adv: AdvertisementData | None) -> Fit | None:
        """How the advertisement fits the known profiles (see ``devices.matching``)."""
        services = adv.service_uuids if adv is not None else []
        companies = adv.manufacturer_data.keys() if adv is not None else []
        return match_device(self.profiles, name, services, companies)

    def _guard_running(self, maybe: bool) -> None:
        """Tell the guardian whether the motor may be running (it acts only then)."""
        if self._guardian is not None:
            self._guardian.running(maybe)

    @property
    def guardian_pid(self) -> int | None:
        """The guardian's process id while one watches (tests, diagnostics)."""
        return self._guardian.pid if self._guardian is not None else None

    def _session_t(self) -> float | None:
        session = self._session
        return session.elapsed() if session is not None else None

    # ------------------------------------------------------------------ between the parts
    # What each part offers the others, declared here so that every part
    # type-checks on its own; the bodies are in the part named above each group,
    # and only the whole controller, which has them all, can be made.

    # worker: the plan, and writing it
    @abstractmethod
    def _plan(self) -> Plan: ...

    @abstractmethod
    def _set_sent(self, level: int) -> None: ...

    @abstractmethod
    def _stopped(self, reason: str) -> None: ...

    @abstractmethod
    async def _write(self, data: bytes, what: str) -> bool: ...

    # readings: notifications and the level the motor really runs at
    @abstractmethod
    def _on_notify(self, _char: BleakGATTCharacteristic, data: bytearray) -> None: ...

    @abstractmethod
    def _on_battery(self, _char: BleakGATTCharacteristic, data: bytearray) -> None: ...

    @abstractmethod
    def _check_manual(self, now: float) -> None: ...

    @abstractmethod
    def _mismatch_pending(self) -> bool: ...

    @abstractmethod
    def _record_level(self) -> None: ...

    @abstractmethod
    def _publish_motor(self) -> None: ...

    # controller: every way out ends here
    @abstractmethod
    async def _stop_and_leave(self, reason: str) -> bool: ...

    @abstractmethod
    def _say_stop_refused(self, device: FoundDevice) -> None: ...

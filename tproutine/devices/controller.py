"""The device controller: a session listener that drives one massage device through bleak.

It uses only bleak's public API (``BleakScanner``, ``BleakClient``, with the
adapter's optional ``backend=`` class), so the code that drives the virtual
massager in tests is the code that drives a real device.

How it decides what to send. The controller never queues commands: one worker
task compares what the motor *should* do now (:meth:`DeviceController._plan`:
the emergency stop, the session's state, the current segment's device setting
after ramp, scale and caps, a change made on the device by hand, the profile's
``max_on``) with what it last sent, and writes only when they differ. Session
events just wake it. That one rule gives the behaviour the issue asks for:

- a ramp becomes level changes only (the plan is re-read every 50 ms while a
  ramp runs, and a new level is written at most once every 100 ms);
- pause, a segment without the device, the end of the session and the
  emergency stop all mean "plan = off", and a stop is written at once;
- after a lost link the last-sent level is unknown, so the first thing a
  reconnect does is write what the session wants *now*;
- a level the device reports that we did not send (its own button) becomes the
  plan until the session's own plan next changes: shown and recorded, not fought.

The stop guarantee (see :mod:`tproutine.devices.safety` for the process-wide
paths): ``aclose()``/``close()`` write the stop command and await it (with a
timeout) before disconnecting, and so does the worker's ``finally`` when its
task is cancelled, which is what ``asyncio.run`` does to every task when the
program ends by an exception, ``sys.exit`` or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from tproutine.devices import adapters, safety
from tproutine.devices.adapters import AdapterError, AdapterSpec, Backends
from tproutine.devices.codec import (
    Clamp,
    Reading,
    clamp_level,
    decode_battery_level,
    decode_firmware,
    decode_notification,
    encode_battery_query,
    encode_firmware_query,
    encode_init,
    encode_keepalive,
    encode_set,
    encode_stop,
    level_to_percent,
    percent_to_level,
)
from tproutine.devices.profile import (
    BATTERY_LEVEL,
    FIRMWARE_REVISION,
    DeviceProfile,
    Gatt,
    load_profiles,
    match_advertisement,
)
from tproutine.devices.status import DeviceStatus, FoundDevice, StatusListener

if TYPE_CHECKING:
    from tproutine.engine.events import Event, EventName
    from tproutine.engine.session import Session
    from tproutine.settings import Settings

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
DISCONNECT_TIMEOUT = 2.0
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
# Reconnect backoff: first try quickly (a blip), then back off to a slow, steady pace.
BACKOFF_FIRST = 0.25
BACKOFF_MAX = 5.0

_ADDRESS = re.compile(
    r"(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}"  # Linux, Windows, the simulator
    r"|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"  # macOS
)


class DeviceError(Exception):
    """Connecting or talking to the device failed; ``str()`` is one line for the person."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What the motor should do now, and why (the reason goes into ``device`` events)."""

    level: int
    reason: str
    planned_level: int | None = None  # the session's own plan, before a manual change
    manual: bool = False


@dataclass(slots=True)
class _SegmentStats:
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
class _Link:
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


class DeviceController:
    """Drives one device for the sessions of an app; see the module docstring.

    ``adapter`` is an ``--adapter`` spec (``system``, ``sim``, ``tcp:HOST:PORT``);
    ``device`` the ``--device`` choice (``auto``, a name or an address).
    ``report`` says a problem that does not stop the routine in one line.
    ``keep_connected``: the app keeps the device between sessions (the TUI);
    otherwise ``aclose()`` at the end of the session also disconnects
    (``run --plain``).

    The screens use :attr:`status`, :meth:`subscribe`, :meth:`emergency_stop`,
    :meth:`release_stop`, :meth:`test`, :meth:`connect` and :meth:`disconnect`;
    the runtime uses it as a ``DeviceLink`` (:meth:`on_event`, :meth:`start`,
    :meth:`aclose`).
    """

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

        self._status = DeviceStatus()
        self._listeners: list[StatusListener] = []
        # An adapter handed in (tests, the demo's own virtual radio) belongs to
        # the caller: never released here.
        self._given_backends = backends
        self._backends: Backends | None = backends
        self._link: _Link | None = None
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

        # What was sent and what the device says.
        self._sent_level: int | None = None  # None: unknown (just connected, write failed)
        self._ever_ran = False
        self._last_write = -math.inf
        self._last_write_done = -math.inf
        self._writing = False
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
        self._stats: _SegmentStats | None = None
        self._clamped: set[tuple[int, str]] = set()
        self.ignored_notifications = 0
        self.failed_writes = 0
        self.writes = 0

    # ------------------------------------------------------------------ status

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
        """An event into the session's stream (plain output, --events, history)."""
        session = self._session
        if session is None:
            return
        try:
            session.emit(event, **data)
        except Exception:
            log.exception("could not emit a %s event", event)

    # ------------------------------------------------------------------ profiles

    @property
    def profiles(self) -> dict[str, DeviceProfile]:
        if self._profiles is None:
            self._profiles = load_profiles()
        return self._profiles

    def _profile_for(self, name: str | None, adv: AdvertisementData | None) -> DeviceProfile | None:
        services = adv.service_uuids if adv is not None else []
        companies = adv.manufacturer_data.keys() if adv is not None else []
        return match_advertisement(self.profiles, name, services, companies)

    # ------------------------------------------------------------------ the session

    async def start(self, session: Session) -> None:
        """Attach to ``session`` and connect in the background (never holds up the routine)."""
        self._attach(session)
        if self._link is None and self._connecting is None and self._reconnecting is None:
            loop = asyncio.get_running_loop()
            self._connecting = loop.create_task(self._connect_for_session())

    def _attach(self, session: Session) -> None:
        self._loop = asyncio.get_running_loop()
        self._closed = self._shut = False
        self._session = session
        self._clamped.clear()
        self._stats = None
        self._max_on_tripped = False
        self._manual = None
        session.add_segment_report(self.segment_report)
        safety.register(self)
        self._ensure_worker()

    async def _connect_for_session(self) -> None:
        try:
            await self._connect(self.target)
        except DeviceError as exc:
            self._report(f"device: {exc}; running as a timer only")
        except Exception as exc:  # the routine must go on whatever the radio does
            log.exception("connecting failed")
            self._publish(state="failed", message=str(exc))
            self._report(f"device: could not connect ({exc}); running as a timer only")
        finally:
            self._connecting = None

    def on_event(self, event: Event) -> None:
        """A session listener: notes what changed and wakes the worker (never blocks)."""
        name = event.event
        if name == "segment_start":
            self._manual = None
            self._max_on_tripped = False
            t = event.t
            if self._stats is not None:
                self._stats.advance(t)
            self._stats = _SegmentStats(
                int(event.get("index", -1)),
                t,
                level=self._effective_level(),
                device_seen=self.connected,
            )
        elif name == "device" and event.get("by") == "session":
            # The engine's emergency stop (the `s` key): latch or release here too.
            halted = bool(event.get("halted"))
            if halted != self._held:
                self._held = halted
                self._publish(held_off=halted)
        # Everything else (pause, resume, scale, the end) changes the plan, which
        # the worker reads from the session itself.
        self._wake.set()

    def segment_report(self, index: int) -> dict[str, Any]:
        """What the motor really did in segment ``index`` (for its ``segment_end`` event).

        ``motor_s`` seconds it ran, ``mean_level`` over that time, ``peak_force``
        in newtons where the device reports force, ``manual_changes`` made on the
        device; empty when no device was connected during the segment.
        """
        stats = self._stats
        if stats is None or stats.index != index:
            return {}
        session = self._session
        if session is not None:
            stats.advance(session.elapsed())
        return stats.report()

    def _session_t(self) -> float | None:
        session = self._session
        return session.elapsed() if session is not None else None

    # ------------------------------------------------------------------ the plan

    def _plan(self) -> Plan:
        """What the motor should do now (see the module docstring)."""
        if self._held:
            return Plan(0, "emergency stop")
        if self._test_level is not None:
            return Plan(self._test_level, "test")
        session = self._session
        if session is None:
            return Plan(0, "no session")
        if session.state == "paused":
            return Plan(0, "paused")
        if session.state != "running":
            return Plan(0, "session ended" if session.state == "finished" else "not started")
        if session.device_halted:
            return Plan(0, "emergency stop")
        planned, reason = self._routine_level(session)
        if self._max_on_tripped:  # a safety limit: it applies to a manual level too
            return Plan(0, "max_on", planned_level=planned)
        if self._manual is not None:
            manual_level, plan_then = self._manual
            if plan_then == planned:
                # Not fought: the person's own level stands until the plan changes.
                return Plan(
                    manual_level, "changed on the device", planned_level=planned, manual=True
                )
            self._manual = None  # the session's plan moved on: it wins again
        return Plan(planned, reason, planned_level=planned)

    def _routine_level(self, session: Session) -> tuple[int, str]:
        """The level the routine wants now (after ramp, scale and every cap), and why."""
        segment = session.current
        profile = self.profile
        if segment is None or segment.device is None or profile is None:
            return 0, "this step runs without the device"
        clamps: tuple[Clamp, ...]
        if segment.device.level is not None:
            level, clamps = clamp_level(profile, segment.device.level)
        else:
            percent = session.planned_percent()
            if percent is None:
                return 0, "this step runs without the device"
            cap = min(max(session.max_intensity, 0.0), 100.0)
            level, clamps = percent_to_level(profile, percent, cap_percent=cap)
        self._report_clamps(segment.index, clamps)
        return level, ("planned" if level > 0 else "0% in this step")

    def _report_clamps(self, index: int, clamps: tuple[Clamp, ...]) -> None:
        # Once per segment and cap: a ramp through a cap would otherwise repeat it every step.
        for clamp in clamps:
            key = (index, clamp.cap)
            if key in self._clamped:
                continue
            self._clamped.add(key)
            self._emit(
                "clamp",
                index=index,
                asked=round(clamp.asked, 3),
                given=round(clamp.given, 3),
                why=clamp.why,
                cap=clamp.cap,
                level=clamp.given_level,
                by="device",
            )

    # ------------------------------------------------------------------ the worker

    def _ensure_worker(self) -> None:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        """Keep the motor where the plan says; see the module docstring."""
        try:
            while not self._closed:
                # Cleared before the step, so an event during a write is not lost.
                self._wake.clear()
                timeout = await self._step()
                if timeout is not None and timeout <= 0:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
        except BaseException as exc:
            # The program is ending under us (asyncio.run cancels every task on
            # an exception, sys.exit or Ctrl-C; a listener of an event we emitted
            # may raise SystemExit right here), or this worker has a bug: either
            # way the motor stops before we go. Unless close() is under way,
            # which stops it itself.
            if not isinstance(exc, (asyncio.CancelledError, SystemExit, KeyboardInterrupt)):
                log.exception("the device worker failed")
            if not self._closed:
                self._closed = True
                await self._stop_and_leave("the app is closing")
            raise

    async def _step(self) -> float | None:
        """One pass: write if needed; returns how long to wait (None: until woken)."""
        link = self._link
        if link is None or not link.client.is_connected:
            return None
        now = self._mono()
        self._check_manual(now)
        plan = self._plan()
        waits: list[float] = []
        if plan.level != self._sent_level:
            if now < self._retry_at:
                waits.append(self._retry_at - now)
            else:
                spacing = 0.0 if plan.level == 0 else self._last_write + MIN_WRITE_INTERVAL - now
                if spacing > 0:
                    waits.append(spacing)
                else:
                    await self._apply(plan)
                    return 0.0
        sent = self._sent_level or 0
        profile = self.profile
        if profile is not None and sent > 0:
            keepalive = profile.commands.keepalive
            if keepalive is not None:
                due = self._last_write + keepalive.every - now
                if due <= 0:
                    data = encode_keepalive(profile, sent)
                    if data is not None:
                        await self._write(data, "keepalive")
                    return 0.0
                waits.append(due)
            if self._on_since is not None:
                due = self._on_since + profile.safety.max_on - now
                if due <= 0 and not self._max_on_tripped and self._test_level is None:
                    self._max_on_tripped = True
                    return 0.0
                if due > 0:
                    waits.append(due)
        if self._ramping() or plan.manual:
            waits.append(RAMP_POLL)
        if self._mismatch_pending():
            waits.append(max(self._last_write_done + MANUAL_GRACE - now, 0.01))
        return min(waits) if waits else None

    def _ramping(self) -> bool:
        session = self._session
        if session is None or session.state != "running":
            return False
        segment = session.current
        device = segment.device if segment is not None else None
        return device is not None and device.level is None and device.from_pct != device.to_pct

    async def _apply(self, plan: Plan) -> None:
        profile = self.profile
        assert profile is not None
        level = plan.level
        previous = self._sent_level
        data = encode_stop(profile) if level == 0 else encode_set(profile, level)
        what = "the stop command" if level == 0 else f"level {level}"
        if not await self._write(data, what):
            self._sent_level = None
            self._retry_at = self._mono() + RETRY_AFTER
            return
        self._set_sent(level)
        if level == 0:
            if previous is None and not self._ever_ran:
                return  # the "make sure it is off" stop after connecting: nothing to say
            reason = plan.reason
            if reason == "max_on" and profile is not None:
                reason = (
                    f"ran {profile.safety.max_on:g} s without a break, the limit of "
                    f"{profile.name}; it starts again at the next step"
                )
                self._report(f"device: motor stopped: {reason}")
            self._emit("device", action="stop", reason=reason, level=0, by="controller")
        else:
            self._ever_ran = True
            self._emit(
                "device",
                action="set",
                percent=round(level_to_percent(profile, level), 3),
                level=level,
                by="controller",
                **({"reason": plan.reason} if plan.reason not in ("planned",) else {}),
            )

    def _set_sent(self, level: int) -> None:
        now = self._mono()
        if level > 0 and (self._sent_level or 0) == 0:
            self._on_since = now
        elif level == 0:
            self._on_since = None
        self._sent_level = level
        self._record_level()
        self._publish_motor()

    async def _write(self, data: bytes, what: str) -> bool:
        """Write ``data``; retried once, then reported. Returns whether it got through."""
        link = self._link
        if link is None or self._io_lock is None:
            return False
        error: BaseException | None = None
        for _attempt in range(2):
            if not link.client.is_connected:
                break
            try:
                async with self._io_lock:
                    self._writing = True
                    self._last_write = self._mono()
                    try:
                        await asyncio.wait_for(
                            link.client.write_gatt_char(
                                link.write_char, data, response=link.gatt.write_response
                            ),
                            WRITE_TIMEOUT,
                        )
                    finally:
                        self._writing = False
                        self._last_write_done = self._mono()
                self.writes += 1
                if self._failing:
                    self._failing = False
                    self._publish(message=None)
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # bleak, the OS and timeouts all mean "not sent"
                error = exc
                log.info("writing %s failed: %r", what, exc)
        self.failed_writes += 1
        if link.client.is_connected and not self._failing:
            self._failing = True
            reason = _why(error)
            self._publish(message=f"could not send {what}: {reason}")
            self._report(f"device: could not send {what} (tried twice: {reason})")
        return False

    # ------------------------------------------------------------------ stop paths

    def emergency_stop(self) -> None:
        """Motor off now, and kept off until :meth:`release_stop` (the `s` key, a button)."""
        if not self._held:
            self._held = True
            self._publish(held_off=True)
            session = self._session
            # The engine's own latch emits the `device` stop event and keeps its
            # view (target_percent) in line with the motor.
            if (
                session is not None
                and session.state in ("running", "paused")
                and not session.device_halted
            ):
                session.halt_device()
        self._wake.set()

    def release_stop(self) -> None:
        """Allow the motor again; the session's plan for this moment applies at once."""
        if self._held:
            self._held = False
            self._publish(held_off=False)
            session = self._session
            if session is not None and session.device_halted:
                session.release_device()
        self._wake.set()

    async def stop_now(self, reason: str = "stop", timeout: float = STOP_TIMEOUT) -> bool:
        """Write the stop command and await it (at most ``timeout``); whether it got through."""
        link = self._link
        profile = self.profile
        if link is None or profile is None or not link.client.is_connected:
            return False
        try:
            ok = await asyncio.wait_for(
                self._write(encode_stop(profile), "the stop command"), timeout
            )
        except TimeoutError:
            ok = False
        if ok:
            was_running = (self._sent_level or 0) > 0
            self._set_sent(0)
            if was_running:
                self._emit("device", action="stop", reason=reason, level=0, by="controller")
        else:
            log.error("the stop command did not get through (%s)", reason)
        return ok

    async def _stop_and_leave(self, reason: str) -> bool:
        """Stop the motor (awaited), then disconnect: the end of every way out.

        A cancellation meanwhile (the program is ending and asyncio cancels
        every task) does not cut it short: the stop is tried again and the
        cancellation is reported to the caller afterwards. Returns whether one
        was swallowed, so the caller can re-raise it.
        """
        cancelled = False
        lost = self._lost_running
        if self._link is None and lost is not None:
            try:
                await self._reach_to_stop(lost)
            except asyncio.CancelledError:
                cancelled = True
        for _attempt in range(3):
            try:
                await self.stop_now(reason)
                break
            except asyncio.CancelledError:
                cancelled = True
        for _attempt in range(2):
            try:
                await self._drop_connection()
                break
            except asyncio.CancelledError:
                cancelled = True
        return cancelled

    async def _reach_to_stop(self, device: FoundDevice) -> None:
        """Reconnect once, briefly, to a device lost while running: the stop is owed to it."""
        try:
            await asyncio.wait_for(
                self._connect(device, reconnect=True, scan_timeout=FINAL_RECONNECT_TIMEOUT),
                FINAL_RECONNECT_TIMEOUT,
            )
        except (DeviceError, TimeoutError) as exc:
            log.error("could not reach %s to stop it: %s", device.name or device.address, exc)
            self._report(
                f"device: the link to {device.name or device.address} was lost while the motor "
                "ran and could not be restored to stop it: switch it off by hand"
            )

    # ------------------------------------------------------------------ DeviceLink end

    async def aclose(self) -> None:
        """The session is over: motor off (awaited); disconnect unless ``keep_connected``."""
        session = self._session
        if self.keep_connected and not self._closed:
            await self.stop_now("session ended")
            self._session = None
            self._stats = None
            if session is not None:
                session.remove_segment_report(self.segment_report)
            return
        await self.close()

    async def close(self) -> None:
        """Motor off (awaited), disconnect, give the adapter back. Idempotent.

        Finishes even when the calling task is cancelled meanwhile (and then
        re-raises the cancellation): the stop matters more than leaving fast.
        """
        if self._shut:
            return
        self._closed = True
        self._wake.set()
        cancelled = False
        try:
            await self._end_tasks()
        except asyncio.CancelledError:
            cancelled = True
        reason = "session ended" if self._session is not None else "the app is closing"
        cancelled = await self._stop_and_leave(reason) or cancelled
        backends, self._backends = self._backends, self._given_backends
        if backends is not None and backends is not self._given_backends:
            try:
                await adapters.release(backends)
            except asyncio.CancelledError:
                cancelled = True
        self._shut = True
        safety.unregister(self)
        self._publish(state="none", running=False, percent=None, level=None, message=None)
        if cancelled:
            raise asyncio.CancelledError

    async def _end_tasks(self) -> None:
        """End connecting, reconnecting and the worker (it finishes a write it is in)."""
        tasks = [t for t in (self._connecting, self._reconnecting) if t is not None]
        self._connecting = self._reconnecting = None
        for task in tasks:
            task.cancel()
        worker, self._worker = self._worker, None
        if worker is not None:
            # The worker leaves by itself at its next turn (self._closed is set).
            tasks.append(worker)
        pending = [t for t in tasks if not t.done()]
        if pending:
            _done, still = await asyncio.wait(pending, timeout=STOP_TIMEOUT)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=STOP_TIMEOUT)

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

    # ------------------------------------------------------------------ connecting

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

    async def connect(self, target: FoundDevice | str | None = None) -> None:
        """Connect to ``target`` (a scan result, an address, a name, ``auto``; None: the
        configured ``--device``). Raises ``DeviceError`` with a one-line reason."""
        self._loop = asyncio.get_running_loop()
        self._closed = self._shut = False
        if self._link is not None:
            await self.disconnect()
        safety.register(self)
        self._ensure_worker()
        await self._connect(self.target if target is None else target)

    async def disconnect(self) -> None:
        """Stop the motor (awaited) and disconnect; the app stays usable as a timer."""
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(BaseException):
                await self._reconnecting
            self._reconnecting = None
        if await self._stop_and_leave("disconnected by you"):
            raise asyncio.CancelledError
        self._publish(
            state="none", running=False, percent=None, level=None, force=None, message=None
        )

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
            await self._connect_locked(target, reconnect, scan_timeout or self.scan_timeout)

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
        found: asyncio.Future[tuple[BLEDevice, AdvertisementData, DeviceProfile | None]]
        found = loop.create_future()

        def seen(device: BLEDevice, adv: AdvertisementData) -> None:
            if found.done():
                return
            local = adv.local_name or device.name
            if address is not None and device.address.upper() != address.upper():
                return
            if name is not None and (local or "").casefold() != name.casefold():
                return
            profile = wanted_profile or self._profile_for(local, adv)
            if profile is None and address is None and name is None:
                return  # auto: only devices a profile knows
            found.set_result((device, adv, profile))

        scanner = BleakScanner(seen, backend=backends.scanner)
        try:
            await scanner.start()
        except Exception as exc:
            raise DeviceError(_scan_failure(exc, backends)) from None
        try:
            device, adv, profile = await asyncio.wait_for(found, timeout)
        except TimeoutError:
            what = (
                "no device that a profile knows was"
                if address is None and name is None
                else f"{target if isinstance(target, str) else target.address!r} was not"
            )
            raise DeviceError(
                f"{what} found within {timeout:g} s on {backends.description}"
            ) from None
        finally:
            with contextlib.suppress(Exception):
                await scanner.stop()
        local = adv.local_name or device.name
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
            await client.connect()
        except TimeoutError:
            raise DeviceError(
                f"{found.name or found.address} did not answer within {self.connect_timeout:g} s"
            ) from None
        except Exception as exc:
            raise DeviceError(
                f"could not connect to {found.name or found.address}: {_why(exc)}"
            ) from None
        try:
            link = self._link_for(client, found, profile)
            self.profile = profile
            self._link = link
            self._sent_level = None
            self._device_level = None
            self._manual = None
            self._failing = False
            self._retry_at = -math.inf
            await self._set_up(link, profile)
        except BaseException as exc:
            self._link = None
            self._leaving = True
            try:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.disconnect(), DISCONNECT_TIMEOUT)
            finally:
                self._leaving = False
            if isinstance(exc, DeviceError):
                raise
            if isinstance(exc, Exception):
                raise DeviceError(
                    f"setting up {found.name or found.address} failed: {_why(exc)}"
                ) from None
            raise

    def _link_for(self, client: BleakClient, found: FoundDevice, profile: DeviceProfile) -> _Link:
        services = client.services
        gatt = profile.gatt_for(s.uuid for s in services)
        if gatt is None:
            raise DeviceError(
                f"{found.name or found.address} has none of the services of the profile "
                f"{profile.id}: is it the right profile?"
            )
        write_char = services.get_characteristic(gatt.write)
        if write_char is None:
            raise DeviceError(f"{found.name or found.address} has no characteristic {gatt.write}")
        notify_char = services.get_characteristic(gatt.notify) if gatt.notify else None
        battery_char = services.get_characteristic(BATTERY_LEVEL)
        firmware_char = services.get_characteristic(FIRMWARE_REVISION)
        return _Link(client, found, gatt, write_char, notify_char, battery_char, firmware_char)

    async def _set_up(self, link: _Link, profile: DeviceProfile) -> None:
        """Notifications, battery, init commands: everything between connect and use."""
        client = link.client
        if link.notify_char is not None:
            await client.start_notify(link.notify_char, self._on_notify)
        if profile.reads.battery == "standard" and link.battery_char is not None:
            with contextlib.suppress(Exception):
                battery = decode_battery_level(
                    bytes(await client.read_gatt_char(link.battery_char))
                )
                if battery is not None:
                    self._publish(battery=battery)
            if "notify" in link.battery_char.properties:
                with contextlib.suppress(Exception):
                    await client.start_notify(link.battery_char, self._on_battery)
        for data in encode_init(profile):
            if not await self._write(data, "the init command"):
                raise DeviceError("the device refused its init command")
        query = encode_battery_query(profile)
        if query is not None:
            # The answer comes back as a notification, read by _on_notify.
            await self._write(query, "the battery query")

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

    # ------------------------------------------------------------------ lost links

    def _on_disconnected(self, client: BleakClient) -> None:
        link = self._link
        if link is None or link.client is not client or self._leaving:
            return
        was_running = (self._sent_level or 0) > 0 or (self._device_level or 0) > 0
        self._lost_running = link.device if was_running else None
        self._link = None
        self._sent_level = None
        self._device_level = None
        self._record_level()
        if self._closed:
            return
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

    # ------------------------------------------------------------------ readings

    def _on_notify(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        profile = self.profile
        link = self._link
        if profile is None:
            return
        raw = bytes(data)
        if (
            link is not None
            and link.firmware_waiter is not None
            and not link.firmware_waiter.done()
        ):
            firmware = decode_firmware(profile, raw)
            if firmware is not None:
                link.firmware_waiter.set_result(firmware)
                return
        reading = decode_notification(profile, raw)
        if reading is None:
            self.ignored_notifications += 1
            # Garbage, a wrong length or something we do not know: never acted on.
            log.info("ignored a notification it cannot read: %s", raw.hex(" ") or "(empty)")
            return
        self._take(reading)

    def _on_battery(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        battery = decode_battery_level(bytes(data))
        if battery is None:
            self.ignored_notifications += 1
            log.info("ignored a battery notification it cannot read: %s", bytes(data).hex(" "))
            return
        self._publish(battery=battery)

    def _take(self, reading: Reading) -> None:
        changes: dict[str, Any] = {}
        if reading.battery is not None:
            changes["battery"] = reading.battery
        if reading.force_n is not None:
            changes["force"] = reading.force_n
            stats = self._stats
            if stats is not None and (reading.running is not False):
                peak = stats.peak_force
                stats.peak_force = reading.force_n if peak is None else max(peak, reading.force_n)
        level: int | None = None
        if reading.running is False:
            level = 0
        elif reading.level is not None:
            level = reading.level
        elif reading.running is True:
            level = self._sent_level if self._sent_level else None
        if level is not None:
            self._device_level = level
            self._device_at = self._mono()
            self._record_level()
        if changes:
            self._publish(**changes)
        self._publish_motor()
        self._check_manual(self._mono())

    def _mismatch_pending(self) -> bool:
        return (
            self._device_level is not None
            and self._sent_level is not None
            and self._device_level != self._sent_level
            and self._device_at > self._last_write_done
        )

    def _check_manual(self, now: float) -> None:
        """A level the device reports that we did not send: a change made on the device."""
        if self._writing or not self._mismatch_pending():
            return
        if now < self._last_write_done + MANUAL_GRACE:
            return  # the worker looks again once the grace is over
        level = self._device_level
        assert level is not None
        plan = self._plan()
        self._manual = (level, plan.planned_level)
        self._set_sent(level)
        if self._stats is not None:
            self._stats.manual_changes += 1
        profile = self.profile
        self._emit(
            "device",
            action="set" if level > 0 else "stop",
            level=level,
            percent=round(level_to_percent(profile, level), 3) if profile else None,
            reason="changed on the device",
            by="device",
        )
        self._wake.set()

    def _effective_level(self) -> int:
        if self._link is None:
            return 0
        if (
            self._device_level is not None
            and self.profile is not None
            and (self.profile.reads.state is not None)
        ):
            return self._device_level
        return self._sent_level or 0

    def _record_level(self) -> None:
        stats = self._stats
        t = self._session_t()
        if stats is None or t is None:
            return
        stats.advance(t)
        stats.level = self._effective_level()
        if self._link is not None:
            stats.device_seen = True

    def _publish_motor(self) -> None:
        level = self._effective_level()
        profile = self.profile
        self._publish(
            running=level > 0,
            level=level if self._link is not None else None,
            percent=level_to_percent(profile, level) if profile is not None else None,
        )

    # ------------------------------------------------------------------ test

    async def test(self, seconds: float = 2.0, percent: float = 20.0) -> None:
        """Run the motor at ``percent`` (under the person's cap) for ``seconds``, then stop.

        Raises ``DeviceError`` when not connected, while a session runs, or while
        the emergency stop is latched. The emergency stop ends a test at once.
        """
        if not self.connected or self.profile is None:
            raise DeviceError("no device is connected")
        session = self._session
        if session is not None and session.state in ("running", "paused"):
            raise DeviceError("a session is running: the routine drives the device")
        if self._held:
            raise DeviceError("the motor is stopped by you: release the stop first")
        level, _clamps = percent_to_level(
            self.profile, percent, cap_percent=min(max(self.max_intensity, 0.0), 100.0)
        )
        self._test_level = level
        self._ensure_worker()
        self._wake.set()
        try:
            deadline = self._mono() + seconds
            while self._mono() < deadline and not self._held and self.connected:
                await asyncio.sleep(min(0.05, max(deadline - self._mono(), 0.0)))
        finally:
            self._test_level = None
            self._wake.set()
        await self.stop_now("test done")


def _why(exc: BaseException | None) -> str:
    if exc is None:
        return "not connected"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    text = str(exc).strip()
    return text or type(exc).__name__


def _scan_failure(exc: BaseException, backends: Backends) -> str:
    if backends.spec.kind == "system":
        return adapters.describe_bluetooth_error(exc)
    return f"scanning {backends.description} failed: {_why(exc)}"


def create_controller(
    adapter: str | None,
    device: str | None,
    settings: Settings | None = None,
    report: Report | None = None,
    *,
    keep_connected: bool = False,
) -> DeviceController:
    """The controller for ``--adapter``/``--device`` with the settings' defaults.

    Raises ``DeviceError`` for a malformed adapter spec.
    """
    spec = adapter or (settings.adapter if settings is not None else "system")
    target = device or (settings.preferred_device if settings is not None else None) or "auto"
    try:
        parsed = adapters.parse_adapter(spec)
    except AdapterError as exc:
        raise DeviceError(str(exc)) from None
    return DeviceController(
        parsed, target, settings=settings, report=report, keep_connected=keep_connected
    )

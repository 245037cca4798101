"""The device controller: a session listener that drives one massage device through bleak.

It uses only bleak's public API (``BleakScanner``, ``BleakClient``, with the
adapter's optional ``backend=`` class), so the code that drives the virtual
massager in tests is the code that drives a real device.

It is built from parts that each read on their own (see
:mod:`~tproutine.devices.controller_base`): connecting in
:mod:`~tproutine.devices.connection`, the plan and its worker in
:mod:`~tproutine.devices.worker` (how it decides what to send),
readings in :mod:`~tproutine.devices.readings`. This module is the session
side (start, events, the end) and every way out.

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
from typing import TYPE_CHECKING

from tproutine.devices import adapters, guardian, safety
from tproutine.devices.adapters import AdapterError
from tproutine.devices.connection import Connection
from tproutine.devices.controller_base import (
    MIN_WRITE_INTERVAL,
    STOP_BY_HAND,
    STOP_TIMEOUT,
    WRITE_TIMEOUT,
    DeviceError,
    Plan,
    Report,
    SegmentStats,
    is_address,
    why,
)
from tproutine.devices.readings import Readings
from tproutine.devices.status import FoundDevice
from tproutine.devices.worker import Worker

if TYPE_CHECKING:
    from tproutine.engine.events import Event
    from tproutine.engine.session import Session
    from tproutine.settings import Settings

log = logging.getLogger(__name__)

__all__ = [
    "MIN_WRITE_INTERVAL",
    "DeviceController",
    "DeviceError",
    "Plan",
    "create_controller",
    "is_address",
]


class DeviceController(Connection, Worker, Readings):
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

    def connecting_text(self, timeout: float) -> str:
        """``Connecting to NAME on ADAPTER (up to N s)…``: what ``connect_first`` does."""
        where = adapters.describe(self.adapter)
        return f"Connecting to {self._wanted(self.target)} on {where} (up to {timeout:g} s)…"

    async def connect_first(self, session: Session, timeout: float) -> str | None:
        """Attach to ``session`` before it starts and get the device ready within
        ``timeout`` seconds: connected, set up, the motor known to be off.

        Returns None when it is ready (or ``timeout`` is 0: then ``start`` connects
        in the background, as the routine runs), else one line saying why not. The
        session then goes on as a timer if the person chooses so: ``start`` does not
        try again behind their back (another ``connect_first`` does). Cancelling it
        (the person stopped waiting) leaves the device disconnected.
        """
        self._attach(session)
        self._declined = None
        if timeout <= 0:
            return None
        reason: str | None = None
        try:
            if self._reconnecting is not None and not self.connected:
                # The link was lost before this session: the reconnect loop owns it.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._reconnecting), timeout)
                if not self.connected:
                    reason = f"{self._wanted(self.target)} did not come back within {timeout:g} s"
            elif not self.connected:
                await self._connect_within(self.target, timeout)
        except DeviceError as exc:
            reason = str(exc)
        except asyncio.CancelledError:
            self._declined = session
            self._publish(state="none", message="not connected: you started without it")
            raise
        except Exception as exc:  # the routine must go on whatever the radio does
            log.exception("connecting before the session failed")
            reason = f"could not connect ({why(exc)})"
        if reason is not None:
            self._declined = session
            self._publish(state="failed", message=reason)
            return reason
        # The "make sure it is off" stop goes out right after connecting; the first
        # step's command must not queue behind it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), 2 * WRITE_TIMEOUT)
        return None

    async def start(self, session: Session) -> None:
        """Attach to ``session`` and connect in the background (never holds up the routine),
        unless already connected or the person chose to go on without the device."""
        self._attach(session)
        if self._declined is session:
            return
        if self._link is None and self._connecting is None and self._reconnecting is None:
            loop = asyncio.get_running_loop()
            self._connecting = loop.create_task(self._connect_for_session())

    def _attach(self, session: Session) -> None:
        self._loop = asyncio.get_running_loop()
        self._closed = self._shut = False
        if self._session is not session:
            if self._session is not None:
                self._session.remove_segment_report(self.segment_report)
            self._session = session
            self._clamped.clear()
            self._stats = None
            self._max_on_tripped = False
            self._manual = None
            self._early.clear()
            self._declined = None
            session.add_segment_report(self.segment_report)
            link = self._link
            if link is not None and session.state == "idle":
                # Connected before this session (the app keeps its device): say so
                # in its stream, so the plain output and the history name the device.
                self._emit(
                    "device",
                    action="connect",
                    name=link.device.name,
                    address=link.device.address,
                    profile=self.profile.id if self.profile is not None else None,
                )
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
        if name == "session_start":
            early, self._early = self._early, []
            for what, data in early:
                self._emit(what, **data)
        elif name == "segment_start":
            self._manual = None
            self._max_on_tripped = False
            t = event.t
            if self._stats is not None:
                self._stats.advance(t)
            self._stats = SegmentStats(
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
        stopped = False
        for _attempt in range(3):
            try:
                stopped = await self.stop_now(reason)
                break
            except asyncio.CancelledError:
                cancelled = True
        link = self._link
        if not stopped and link is not None and (self._sent_level or 0) > 0:
            self._say_stop_refused(link.device)
        for _attempt in range(2):
            try:
                await self._drop_connection()
                break
            except asyncio.CancelledError:
                cancelled = True
        return cancelled

    def _say_stop_refused(self, device: FoundDevice) -> None:
        what = device.name or device.address
        keeps = (
            f"; the guardian keeps trying for {guardian.GIVE_UP_AFTER:g} s"
            if self._guardian is not None
            else ""
        )
        self._report(
            f"device: {what} did not take the stop command{keeps}: it may still be running: "
            f"{STOP_BY_HAND}"
        )

    async def aclose(self) -> None:
        """The session is over: motor off (awaited); disconnect unless ``keep_connected``."""
        session = self._session
        if self.keep_connected and not self._closed:
            await self.stop_now("session ended")
            self._session = None
            self._stats = None
            self._early.clear()
            self._declined = None
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
        guard, self._guardian = self._guardian, None
        if guard is not None:
            # A stop still owed (a lost device that could not be reached) is handed
            # over: the guardian goes on trying after the app has left.
            try:
                await guard.close(hand_over=self._lost_running is not None)
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


def create_controller(
    adapter: str | None,
    device: str | None,
    settings: Settings | None = None,
    report: Report | None = None,
    *,
    keep_connected: bool = False,
    full_screen: bool = False,
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
        parsed,
        target,
        settings=settings,
        report=report,
        keep_connected=keep_connected,
        full_screen=full_screen,
    )

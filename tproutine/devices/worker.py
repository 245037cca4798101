"""The plan and the worker that keeps the motor on it.

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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from tproutine.devices.codec import (
    Clamp,
    clamp_level,
    encode_keepalive,
    encode_set,
    encode_stop,
    level_to_percent,
    percent_to_level,
)
from tproutine.devices.controller_base import (
    MANUAL_GRACE,
    MIN_WRITE_INTERVAL,
    RAMP_POLL,
    RETRY_AFTER,
    STOP_TIMEOUT,
    WRITE_TIMEOUT,
    ControllerBase,
    DeviceError,
    Plan,
    why,
    within,
)

if TYPE_CHECKING:
    from tproutine.engine.session import Session

log = logging.getLogger(__name__)


class Worker(ControllerBase):
    """What the motor should do now, and the one task that writes it."""

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
                self._run_after_step()
                if timeout is not None and timeout <= 0:
                    continue
                # A timeout scope, not wait_for: no task of its own, so a wake-up
                # reaches the write a loop turn sooner (see runtime.AfterTheDevice).
                with contextlib.suppress(TimeoutError):
                    async with within(timeout):
                        await self._wake.wait()
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
        finally:
            self._run_after_step()  # nothing waits on a worker that is gone

    def call_after_step(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the worker has made its next pass (written what the
        plan says now): the runtime holds the history's disk writes until then, so a
        step's command is not kept waiting behind them. At once without a worker."""
        worker = self._worker
        if worker is None or worker.done() or self._closed:
            callback()
            return
        self._after_step.append(callback)
        self._wake.set()

    def _run_after_step(self) -> None:
        callbacks, self._after_step = self._after_step, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("a callback after the device's step failed")

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
                # Level changes of a running motor (a ramp) are spaced out; a stop, and
                # the first level after a stop, go at once (the step has begun now).
                spacing = (
                    self._last_write + MIN_WRITE_INTERVAL - now
                    if plan.level > 0 and (self._sent_level or 0) > 0
                    else 0.0
                )
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
        if level > 0:
            self._guard_running(True)  # before: the app may die during the write
        self._inflight_level = level
        try:
            sent = await self._write(data, what)
        finally:
            self._inflight_level = 0
        if not sent:
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
        self._guard_running(level > 0)
        self._settled.set()
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
                        async with within(WRITE_TIMEOUT):
                            await link.client.write_gatt_char(
                                link.write_char, data, response=link.gatt.write_response
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
            reason = why(error)
            self._publish(message=f"could not send {what}: {reason}")
            self._report(f"device: could not send {what} (tried twice: {reason})")
        return False

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

    def _stopped(self, reason: str) -> None:
        """A stop got through: the motor is off, and said to be when it was running."""
        was_running = (self._sent_level or 0) > 0
        self._set_sent(0)
        if was_running:
            self._emit("device", action="stop", reason=reason, level=0, by="controller")

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
            self._stopped(reason)
        else:
            log.error("the stop command did not get through (%s)", reason)
        return ok

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
        except BaseException:
            self._test_level = None
            self._wake.set()  # the worker stops it
            raise
        self._test_level = None
        # The stop is written here and awaited; the worker then finds nothing to do
        # (woken first, it would send a stop of its own too).
        await self.stop_now("test done")
        self._wake.set()

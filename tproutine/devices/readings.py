"""What the device tells: notifications, battery, levels changed by hand, per-segment figures."""

from __future__ import annotations

import logging
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic

from tproutine.devices.codec import (
    Reading,
    decode_battery_level,
    decode_firmware,
    decode_notification,
    level_to_percent,
)
from tproutine.devices.controller_base import (
    MANUAL_GRACE,
    ControllerBase,
)

log = logging.getLogger(__name__)


class Readings(ControllerBase):
    """Readings from the device and what the motor really did in each segment."""

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
            # The device's own word on its motor goes to the guardian at once: a
            # motor switched on with the device's button while the app had it off
            # would otherwise run on if the app died now (the app only decides
            # after a grace whether a change was the person's). "Off" counts only
            # when the app has nothing running either: a stale report must not
            # cancel a level just sent.
            if level > 0:
                self._guard_running(True)
            elif not self._sent_level:
                self._guard_running(False)
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

"""Pure byte codecs for device profiles: bytes in, bytes out, no Bluetooth.

These functions (``encode_set``, ``decode_notification``, ...) apply a profile's
templates (the language is described in :mod:`tproutine.devices.template`) and
its safety rules. They never touch Bluetooth: the controller hands the bytes to
a bleak client, the simulator to Bumble.

The layers import one way only: ``template`` ← ``profile`` ← ``codec``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from tproutine.devices.profile import DeviceProfile, VendorRead
from tproutine.devices.template import Template

# --------------------------------------------------------------------------
# What codecs return
# --------------------------------------------------------------------------

CommandKind = Literal["set", "stop", "init", "keepalive", "battery_query", "firmware_query"]


@dataclass(frozen=True, slots=True)
class Command:
    """A write as a device would understand it (what the simulator acts on).

    ``level`` and ``running`` are set for ``set``, ``stop`` and ``keepalive``
    commands that carry them; queries and init commands have neither.
    """

    kind: CommandKind
    level: int | None = None
    running: bool | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """What a notification told; None for anything it did not say."""

    running: bool | None = None
    level: int | None = None
    battery: int | None = None
    force_n: float | None = None  # newtons


ClampCap = Literal["range", "max_intensity", "max_level"]


@dataclass(frozen=True, slots=True)
class Clamp:
    """One cap that changed what was asked, for a ``clamp`` event.

    ``cap`` is ``range`` (the percent was outside 0-100, or a raw level outside
    the device's levels), ``max_intensity`` (the person's cap) or ``max_level``
    (the profile's safety cap). ``asked``/``given`` are percent of the device
    range; ``asked_level``/``given_level`` the raw levels.
    """

    cap: ClampCap
    asked: float
    given: float
    asked_level: int
    given_level: int

    @property
    def why(self) -> str:
        """A short reason for people: which cap applied."""
        if self.cap == "range":
            return "outside the device's range"
        if self.cap == "max_intensity":
            return f"your max intensity ({_fmt(self.given)}%)"
        return f"the device profile's safety cap (level {self.given_level})"


def _fmt(x: float) -> str:
    return f"{x:g}"


# --------------------------------------------------------------------------
# Levels and percent
# --------------------------------------------------------------------------


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def _raw_level(top: int, percent: float) -> int:
    """Percent → level on the line through 0 and (100 %, top); at least 1 above 0 %."""
    if percent <= 0:
        return 0
    return max(1, _round_half_up(percent * top / 100))


def percent_to_level(
    profile: DeviceProfile, percent: float, *, cap_percent: float = 100
) -> tuple[int, tuple[Clamp, ...]]:
    """The device level for ``percent`` of its range, and every cap that applied.

    0 % is level 0 (off). Anything above 0 % maps linearly onto ``1..max``:
    ``level = round(percent × max / 100)``, never below 1, so 100 % is the
    device maximum and ``level_to_percent`` is its exact inverse. Then, in
    order: a percent outside 0-100 is brought into it (``range``), the person's
    ``cap_percent`` applies (``max_intensity``), and the profile's
    ``safety.max_level`` applies (``max_level``). Each cap that changed the
    value is reported so the caller can emit ``clamp`` events. Raises
    ValueError for NaN or a ``cap_percent`` outside 0-100.
    """
    if math.isnan(percent) or math.isnan(cap_percent):
        raise ValueError("percent must be a number")
    if not 0 <= cap_percent <= 100:
        raise ValueError(f"cap_percent {cap_percent} is outside 0-100")
    top = profile.highest_level
    clamps: list[Clamp] = []
    p = percent
    if p > 100 or p < 0:
        given = min(max(p, 0.0), 100.0)
        clamps.append(Clamp("range", p, given, _raw_level(top, p), _raw_level(top, given)))
        p = given
    if p > cap_percent:
        clamps.append(
            Clamp("max_intensity", p, cap_percent, _raw_level(top, p), _raw_level(top, cap_percent))
        )
        p = cap_percent
    level = _raw_level(top, p)
    cap = profile.safety.max_level
    if level > cap:
        clamps.append(Clamp("max_level", p, level_to_percent(profile, cap), level, cap))
        level = cap
    return level, tuple(clamps)


def clamp_level(profile: DeviceProfile, level: int) -> tuple[int, tuple[Clamp, ...]]:
    """A raw level (a routine's ``level: 3``) brought into the device's range and safety cap."""
    top = profile.highest_level
    clamps: list[Clamp] = []
    n = level
    if n < 0 or n > top:
        given = min(max(n, 0), top)
        asked_pct = n * 100 / top
        clamps.append(Clamp("range", asked_pct, level_to_percent(profile, given), n, given))
        n = given
    cap = profile.safety.max_level
    if n > cap:
        clamps.append(
            Clamp("max_level", level_to_percent(profile, n), level_to_percent(profile, cap), n, cap)
        )
        n = cap
    return n, tuple(clamps)


def level_to_percent(profile: DeviceProfile, level: int) -> float:
    """The share of the device range a level is: ``level × 100 / max``.

    Raises ValueError for a level outside the profile's ``levels``.
    """
    top = profile.highest_level
    if not 0 <= level <= top:
        raise ValueError(f"level {level} is outside 0..{top} of {profile.id}")
    return level * 100 / top


# --------------------------------------------------------------------------
# Commands: app → device
# --------------------------------------------------------------------------


def _command_values(level: int) -> dict[str, int]:
    return {"level": level, "on": 1 if level > 0 else 0}


def encode_set(profile: DeviceProfile, level: int) -> bytes:
    """The bytes that set the motor to ``level`` (0 is off).

    This is the last gate before the radio, so a level above the profile's
    ``safety.max_level`` (or below 0) raises ValueError instead of being sent.
    """
    if not 0 <= level <= profile.safety.max_level:
        raise ValueError(
            f"level {level} is outside 0..{profile.safety.max_level} "
            f"(the safety cap of {profile.id})"
        )
    return profile.commands.set.encode(_command_values(level))


def encode_stop(profile: DeviceProfile) -> bytes:
    """The bytes that stop the motor."""
    return profile.commands.stop.encode({})


def encode_init(profile: DeviceProfile) -> tuple[bytes, ...]:
    """The writes to send, in order, right after connecting (often none)."""
    return tuple(t.encode({}) for t in profile.commands.init)


def encode_keepalive(profile: DeviceProfile, level: int) -> bytes | None:
    """What to resend every ``commands.keepalive.every`` seconds while ``level`` runs.

    None when the profile has no keepalive. Without its own ``send`` template
    the keepalive is the set command for the current level (with the same
    safety check as :func:`encode_set`).
    """
    keepalive = profile.commands.keepalive
    if keepalive is None:
        return None
    if keepalive.send is None:
        return encode_set(profile, level)
    if not 0 <= level <= profile.safety.max_level:
        raise ValueError(f"level {level} is outside 0..{profile.safety.max_level}")
    return keepalive.send.encode(_command_values(level))


def _vendor(read: VendorRead | str | None) -> VendorRead | None:
    return None if read is None or isinstance(read, str) else read


def encode_battery_query(profile: DeviceProfile) -> bytes | None:
    """The vendor battery query (Lovense ``Battery;``), or None when there is none."""
    read = _vendor(profile.reads.battery)
    return None if read is None else read.query.encode({})


def encode_firmware_query(profile: DeviceProfile) -> bytes | None:
    """The vendor firmware query, or None when there is none."""
    read = _vendor(profile.reads.firmware)
    return None if read is None else read.query.encode({})


def _from_values(kind: CommandKind, values: dict[str, int], top: int) -> Command:
    # An on/off-only command (levels [0, 1]) has no level field: "on" is the top.
    level = values["level"] if "level" in values else (top if values.get("on", 0) else 0)
    running = level > 0 and values.get("on", 1) != 0
    return Command(kind, level, running)


def decode_command(profile: DeviceProfile, data: bytes) -> Command | None:
    """What a device of this profile would make of a write, or None if it would not understand it.

    For the simulator. Tried in this order: stop, set, keepalive, init, battery
    query, firmware query (so ``Vibrate:0;`` is a stop, not a set to 0). A set
    to a level above the device's range is not understood (None). ``running``
    is false when the level is 0 or the command's on-flag is 0. Never raises.
    """
    c = profile.commands
    top = profile.highest_level
    if c.stop.decode(data) is not None:
        return Command("stop", 0, False)
    values = c.set.decode(data)
    if values is not None:
        return _from_values("set", values, top)
    if c.keepalive is not None and c.keepalive.send is not None:
        values = c.keepalive.send.decode(data)
        if values is not None:
            return _from_values("keepalive", values, top)
    if any(t.decode(data) is not None for t in c.init):
        return Command("init")
    battery = _vendor(profile.reads.battery)
    if battery is not None and battery.query.decode(data) is not None:
        return Command("battery_query")
    firmware = _vendor(profile.reads.firmware)
    if firmware is not None and firmware.query.decode(data) is not None:
        return Command("firmware_query")
    return None


# --------------------------------------------------------------------------
# Notifications: device → app
# --------------------------------------------------------------------------


def _reading(values: dict[str, int]) -> Reading:
    force: float | None = None
    if "force_cn" in values:
        force = values["force_cn"] / 100
    elif "force" in values:
        force = float(values["force"])
    running = values.get("running")
    return Reading(
        running=None if running is None else running != 0,
        level=values.get("level"),
        battery=values.get("battery"),
        force_n=force,
    )


def decode_notification(profile: DeviceProfile, data: bytes) -> Reading | None:
    """What a notification from the device says, or None when it is not understood.

    Tries the profile's state template, then its vendor battery reply in
    every form (a Lovense ``85;``, or ``s85;`` while it runs, gives
    ``Reading(battery=85)``). Garbage, a wrong length, a
    bad checksum or a value out of range give None; this never raises.
    """
    state = profile.reads.state
    if state is not None:
        values = state.decode(data)
        if values is not None:
            return _reading(values)
    battery = _vendor(profile.reads.battery)
    if battery is not None:
        for reply in battery.replies:
            values = reply.decode(data)
            if values is not None:
                return _reading(values)
    return None


def decode_firmware(profile: DeviceProfile, data: bytes) -> str | None:
    """A vendor firmware reply as upper-case hex (``"BB 12 20 ..."``), or None if it is not one."""
    read = _vendor(profile.reads.firmware)
    if read is None or all(r.decode(data) is None for r in read.replies):
        return None
    return data.hex(" ").upper()


def _reading_values(template: Template, reading: Reading) -> dict[str, int]:
    values: dict[str, int] = {}
    if reading.running is not None:
        values["running"] = int(reading.running)
    if reading.level is not None:
        values["level"] = reading.level
    if reading.battery is not None:
        values["battery"] = reading.battery
    if reading.force_n is not None:
        values["force"] = _round_half_up(reading.force_n)
        values["force_cn"] = _round_half_up(reading.force_n * 100)
    return {k: v for k, v in values.items() if k in template.fields}


def encode_state(profile: DeviceProfile, reading: Reading) -> bytes:
    """The state notification a device of this profile would send for ``reading``.

    For the simulator. Raises ValueError when the profile has no state
    notification, or ``reading`` lacks a value the template carries.
    """
    state = profile.reads.state
    if state is None:
        raise ValueError(f"the profile {profile.id} has no state notification")
    return state.encode(_reading_values(state, reading))


def _reply_for(read: VendorRead, running: bool) -> Template:
    if running and read.reply_while_running is not None:
        return read.reply_while_running
    return read.reply


def encode_battery_reply(profile: DeviceProfile, battery: int, *, running: bool = False) -> bytes:
    """The vendor battery reply for ``battery`` percent (for the simulator).

    ``running``: the motor runs, so the reply takes its ``reply_while_running``
    form where the profile has one. Raises ValueError when the profile has no
    vendor battery query.
    """
    read = _vendor(profile.reads.battery)
    if read is None:
        raise ValueError(f"the profile {profile.id} has no vendor battery reply")
    return _reply_for(read, running).encode({"battery": battery})


def encode_firmware_reply(profile: DeviceProfile, *, running: bool = False) -> bytes:
    """A minimal vendor firmware reply (wildcards as zero bytes), for the simulator."""
    read = _vendor(profile.reads.firmware)
    if read is None:
        raise ValueError(f"the profile {profile.id} has no vendor firmware reply")
    return _reply_for(read, running).encode({})


# --------------------------------------------------------------------------
# The standard Battery Service (0x180F / 0x2A19)
# --------------------------------------------------------------------------


def decode_battery_level(data: bytes) -> int | None:
    """The Battery Level characteristic (0x2A19): one byte, 0-100 percent; else None."""
    if len(data) != 1 or data[0] > 100:
        return None
    return data[0]


def encode_battery_level(battery: int) -> bytes:
    """The Battery Level characteristic value for ``battery`` percent (0-100)."""
    if not 0 <= battery <= 100:
        raise ValueError(f"battery {battery} is outside 0-100")
    return bytes([battery])

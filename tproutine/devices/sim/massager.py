"""The virtual massager: any device profile, emulated from its templates.

A ``VirtualMassager`` is the behaviour behind a ``VirtualPeripheral``. It
decodes every write with the profile's own templates (``decode_command``), so
the same YAML that tells the app how to talk to a device tells the simulator
how to answer, and it behaves the way real massagers do:

- a motor with a running flag and a level, changed only by commands it understands
  (anything else is logged and ignored, as devices do);
- state notifications per the profile's ``reads.state`` template on every change
  and every ``notify_every`` seconds while running: running flag, level, battery,
  and a simulated force that grows with the level, with some noise;
- a battery that drains slowly (faster while running), on the standard Battery
  Service and in the state notification, and a vendor battery/firmware reply
  where the profile has those queries;
- ``auto_off``: the motor stops by itself after that many seconds without a
  command (0 = never);
- ``on_link_loss``: when its central goes away, ``"stop"`` the motor (many
  massagers do) or ``"run"`` on as it was (others do: a real hazard when the app
  dies, which the app's guardian exists for); logged either way;
- the device as it really is: any of the profile's GATT layouts (``layout``),
  characteristics with the properties the real device gives them
  (``characteristics``: a read-only record, a characteristic that indicates),
  with or without the standard Battery Service (``battery_service``);
- fault injection: ``garbage`` sends malformed notifications now and then
  (never anything the profile could decode), ``reject_writes`` refuses the next
  N writes with an ATT error; ``fault`` makes it refuse connections, drop the
  link at service discovery or lack its write characteristic;
- an optional JSON-lines log (``MassagerLog``): one line per write with
  ``mono``, ``char``, ``hex`` and the decoded ``kind``/``level``/``percent``/
  ``running``, plus connect, disconnect (with what the motor did then) and
  auto-off lines.

Tests read its state directly: ``running``, ``level``, ``battery``, ``writes``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from tproutine.devices.codec import (
    Command,
    Reading,
    decode_command,
    decode_notification,
    encode_battery_reply,
    encode_firmware_reply,
    encode_state,
    level_to_percent,
)
from tproutine.devices.profile import DeviceProfile, Gatt, load_profiles
from tproutine.devices.sim.peripheral import (
    Fault,
    PeripheralConfig,
    SimulatedDevice,
    VirtualPeripheral,
    WriteRejected,
    normalize_uuid,
)

logger = logging.getLogger(__name__)

OnLinkLoss = Literal["stop", "run"]
ON_LINK_LOSS: tuple[OnLinkLoss, ...] = ("stop", "run")

REFERENCE_PROFILE = "tproutine-virtual"
REFERENCE_NAME = "tproutine-massager"

# The simulated force: a light touch when the motor just runs, up to about 20 N
# at the top level (percussion guns are rated around 15-25 N of stall force).
_FORCE_BASE_N = 2.0
_FORCE_SPAN_N = 18.0
_FORCE_NOISE_N = 0.6


class MassagerLog:
    """JSON lines, one object per line, flushed as written; shared by a process's massagers."""

    def __init__(self, stream: IO[str], *, close: bool = False) -> None:
        self._stream = stream
        self._close = close

    @classmethod
    def open(cls, path: str | Path) -> MassagerLog:
        """Append to ``path`` (``-`` is stdout). Raises OSError."""
        if str(path) == "-":
            import sys

            return cls(sys.stdout)
        return cls(Path(path).open("a", encoding="utf-8"), close=True)

    def write(self, record: dict[str, Any]) -> None:
        try:
            self._stream.write(json.dumps(record, separators=(",", ":")) + "\n")
            self._stream.flush()
        except (OSError, ValueError):
            # A log that cannot be written must not take the device down.
            logger.warning("the massager log could not be written", exc_info=True)

    def close(self) -> None:
        if self._close:
            self._stream.close()


@dataclass(frozen=True, slots=True)
class WriteRecord:
    """One write as the massager received and understood it."""

    mono: float
    char: str
    data: bytes
    command: Command | None  # None: not understood (ignored)
    rejected: bool = False


def default_name(profile: DeviceProfile) -> str:
    """An advertised name the profile's own ``match.names`` recognise."""
    if profile.id == REFERENCE_PROFILE:
        return REFERENCE_NAME
    for glob in profile.match.names:
        # Fill the glob in the simplest way that still matches it.
        name = glob.replace("*", "SIM").replace("?", "0")
        if "[" not in name:
            return name
    return "Massager"


def _on_base_of(uuid: str, service: str) -> str:
    """``uuid`` in full: 8 hex digits take the rest of the (128-bit) service's UUID.

    Vendor characteristics share their service's base (We-Vibe's f000b000 is
    f000b000-0451-4000-b000-000000000000), so the first group is enough to name one.
    """
    text = uuid.strip().lower().removeprefix("0x")
    if len(text) == 8 and all(c in "0123456789abcdef" for c in text):
        return text + normalize_uuid(service)[8:]
    return uuid


def _fill(uuid: str) -> str:
    # A service pattern ("????0001-002?-...") stands for a family; any one member will do.
    return uuid.replace("?", "0")


def peripheral_config(
    profile: DeviceProfile,
    *,
    name: str | None = None,
    address: str | None = None,
    battery: int = 100,
    firmware: str = "1.0.0-sim",
    layout: int = 0,
    characteristics: Mapping[str, Iterable[str]] | None = None,
    battery_service: bool = True,
    advertise: bool | str = True,
    fault: Fault | None = None,
) -> PeripheralConfig:
    """How a device of ``profile`` presents itself: one of its GATT layouts, its name.

    ``layout`` picks the profile's GATT alternative (0: the first), the way
    different models of one family differ. ``characteristics`` gives
    characteristics the properties the real device has (UUID → property
    names, see ``PeripheralConfig.characteristics``); ``battery_service``
    whether it has the standard Battery Service. ``advertise`` is False for a
    device that advertises only its name, or another service UUID to advertise.
    ``fault``: a way the device misbehaves (``PeripheralConfig.fault``).

    The service UUID goes into the advert when it fits the 31 bytes of a legacy
    advert with the name; otherwise only the name is advertised (real devices
    then put the UUID in a scan response, which the virtual radio does not carry).
    Raises ValueError for a layout the profile does not have.
    """
    if not 0 <= layout < len(profile.gatt):
        raise ValueError(
            f"the profile {profile.id} has {len(profile.gatt)} GATT layout(s); "
            f"there is no layout {layout + 1}"
        )
    block: Gatt = profile.gatt[layout]
    write_response = block.write_response
    queries = [r for r in (profile.reads.battery, profile.reads.firmware) if not isinstance(r, str)]
    query_modes = {
        r.write_response for r in queries if r is not None and r.write_response is not None
    }
    common: dict[str, Any] = {
        "name": name or default_name(profile),
        "service_uuid": _fill(block.service),
        "write_uuid": _fill(block.write),
        "notify_uuid": _fill(block.notify) if block.notify else None,
        "write_with_response": write_response or True in query_modes,
        "write_without_response": (not write_response) or False in query_modes,
        "manufacturer": "tproutine simulator",
        "model": profile.models[0] if profile.models else profile.name,
        "firmware": firmware,
        "battery": battery,
        "address": address,
        "characteristics": tuple(
            (_on_base_of(uuid, _fill(block.service)), frozenset(names))
            for uuid, names in (characteristics or {}).items()
        ),
        "battery_service": battery_service,
        "advertised_uuid": advertise if isinstance(advertise, str) else None,
        "fault": fault,
    }
    if advertise is False:
        return PeripheralConfig(**common, advertise_service_uuid=False)
    try:
        return PeripheralConfig(**common, advertise_service_uuid=True)
    except ValueError as exc:
        if "legacy advert" not in str(exc):
            raise
    # Raises when even the name alone is too long: shorten the name.
    return PeripheralConfig(**common, advertise_service_uuid=False)


class VirtualMassager(SimulatedDevice):
    """A massage device of any profile on the virtual radio. See the module docstring."""

    def __init__(
        self,
        profile: DeviceProfile | None = None,
        *,
        name: str | None = None,
        address: str | None = None,
        firmware: str = "1.0.0-sim",
        auto_off: float = 600.0,
        garbage: bool = False,
        garbage_every: float = 1.0,
        log: MassagerLog | None = None,
        battery: int = 100,
        drain_per_hour_running: float = 12.0,
        drain_per_hour_idle: float = 1.0,
        notify_every: float = 1.0,
        on_link_loss: OnLinkLoss = "stop",
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        layout: int = 0,
        characteristics: Mapping[str, Iterable[str]] | None = None,
        battery_service: bool = True,
        advertise: bool | str = True,
        fault: Fault | None = None,
    ) -> None:
        if profile is None:
            profile = load_profiles()[REFERENCE_PROFILE]
        if auto_off < 0:
            raise ValueError("auto_off must be 0 (never) or more seconds")
        if notify_every <= 0 or garbage_every <= 0:
            raise ValueError("notify_every and garbage_every must be above 0 seconds")
        if on_link_loss not in ON_LINK_LOSS:
            raise ValueError(f"on_link_loss must be one of {', '.join(ON_LINK_LOSS)}")
        self.profile = profile
        self._config = peripheral_config(
            profile,
            name=name,
            address=address,
            battery=battery,
            firmware=firmware,
            layout=layout,
            characteristics=characteristics,
            battery_service=battery_service,
            advertise=advertise,
            fault=fault,
        )
        self.layout = layout
        self.auto_off = auto_off
        self.garbage = garbage
        self.garbage_every = garbage_every
        self.log = log
        self.notify_every = notify_every
        self.on_link_loss = on_link_loss
        self.drain_per_hour_running = drain_per_hour_running
        self.drain_per_hour_idle = drain_per_hour_idle
        self._clock = clock
        self._rng = random.Random(seed)
        # The motor.
        self.running = False
        self.level = 0
        self.force = 0.0
        # Charge kept as a float so a slow drain still adds up; reported whole.
        self._charge = float(battery)
        self.writes: list[WriteRecord] = []
        self.garbage_sent = 0
        self.auto_offs = 0
        self.connected = False
        self.subscribed = False
        # time.monotonic() (the clock) of each connection and disconnection.
        self.connects: list[float] = []
        self.disconnects: list[float] = []
        # Test hook: refuse the next N writes with an ATT error.
        self.reject_writes = 0
        self._peripheral: VirtualPeripheral | None = None
        self._write_uuid = ""
        self._auto_off_timer: asyncio.TimerHandle | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._garbage_task: asyncio.Task[None] | None = None
        self._last_tick = clock()

    @classmethod
    def for_profile_id(cls, profile_id: str | None, **kwargs: Any) -> VirtualMassager:
        """A massager for the profile with this id (None: the reference). Raises KeyError."""
        profiles = load_profiles()
        wanted = profile_id or REFERENCE_PROFILE
        if wanted not in profiles:
            raise KeyError(wanted)
        return cls(profiles[wanted], **kwargs)

    # -- what tests and the command read ----------------------------------------

    @property
    def config(self) -> PeripheralConfig:
        return self._config

    @property
    def battery(self) -> int:
        return max(0, min(100, round(self._charge)))

    @property
    def percent(self) -> float:
        return level_to_percent(self.profile, self.level) if self.running else 0.0

    @property
    def peripheral(self) -> VirtualPeripheral | None:
        return self._peripheral

    def commands(self) -> list[Command]:
        """The commands understood so far, in order."""
        return [w.command for w in self.writes if w.command is not None and not w.rejected]

    def drop_link(self) -> bool:
        """Lose the radio link (fault injection); both ends see a supervision timeout."""
        return self._peripheral is not None and self._peripheral.drop_link()

    def press_button(self, level: int) -> None:
        """The person changes the speed with the device's own button (0 stops)."""
        top = self.profile.highest_level
        level = max(0, min(top, level))
        self._set_motor(level > 0, level, why="button")
        self._restart_auto_off()

    # -- SimulatedDevice hooks ----------------------------------------------------

    async def start(self, peripheral: VirtualPeripheral) -> None:
        self._peripheral = peripheral
        self._write_uuid = peripheral.config.write_uuid
        loop = asyncio.get_running_loop()
        self._last_tick = self._clock()
        self._ticker = loop.create_task(self._tick_forever())
        if self.garbage and self.profile.gatt[self.layout].notify is not None:
            self._garbage_task = loop.create_task(self._garbage_forever())

    async def stop(self) -> None:
        self._cancel_auto_off()
        tasks = [t for t in (self._ticker, self._garbage_task) if t is not None]
        self._ticker = self._garbage_task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._peripheral = None

    def on_refuse(self, peer_address: str) -> None:
        self._log({"event": "refused", "peer": peer_address})

    def on_connect(self, peer_address: str) -> None:
        self.connected = True
        self.connects.append(self._clock())
        self._log({"event": "connect", "peer": peer_address})

    def on_disconnect(self, reason: int) -> None:
        self.connected = False
        self.subscribed = False
        self.disconnects.append(self._clock())
        was = self.running
        if self.on_link_loss == "stop" and self.running:
            # Many massagers stop when their app goes away; this one does by
            # default, which makes a reconnect's "restore the level" visible.
            self._set_motor(False, 0, why="link lost")
        # What the motor does now goes into the log either way: a device that runs
        # on with nobody connected is exactly what a log must be able to show.
        self._log(
            {
                "event": "disconnect",
                "reason": reason,
                "on_link_loss": self.on_link_loss,
                "was_running": was,
                "running": self.running,
                "level": self.level,
            }
        )
        if not self.running:
            self._cancel_auto_off()

    def on_subscribe(self, char_uuid: str, enabled: bool) -> None:
        if self._peripheral is not None and char_uuid == self._peripheral_notify_uuid():
            self.subscribed = enabled
            if enabled:
                self._notify_state()

    def on_write(self, char_uuid: str, data: bytes) -> None:
        command = decode_command(self.profile, data)
        if self.reject_writes > 0:
            self.reject_writes -= 1
            self._record(char_uuid, data, command, rejected=True)
            raise WriteRejected(message="rejected by fault injection")
        self._record(char_uuid, data, command)
        if command is None:
            logger.info("virtual massager ignored a write it does not understand: %s", data.hex())
            return
        self._apply(command)

    # -- behaviour ----------------------------------------------------------------

    def _apply(self, command: Command) -> None:
        self._restart_auto_off()
        if command.kind in ("set", "stop", "keepalive"):
            level = command.level or 0
            running = bool(command.running) and level > 0
            self._set_motor(running, level if running else 0, why=command.kind)
        elif command.kind == "battery_query":
            self._notify(encode_battery_reply(self.profile, self.battery, running=self.running))
        elif command.kind == "firmware_query":
            self._notify(encode_firmware_reply(self.profile, running=self.running))
        # init: accepted, nothing to do.

    def _set_motor(self, running: bool, level: int, *, why: str) -> None:
        self._drain()
        changed = (running, level) != (self.running, self.level)
        self.running, self.level = running, level
        self.force = self._simulated_force()
        if changed:
            logger.debug("virtual massager %s: running=%s level=%s", why, running, level)
            self._notify_state()
        if not running:
            self._cancel_auto_off()

    def _simulated_force(self) -> float:
        if not self.running:
            return 0.0
        share = self.level / self.profile.highest_level
        noisy = _FORCE_BASE_N + _FORCE_SPAN_N * share + self._rng.gauss(0.0, _FORCE_NOISE_N)
        return round(max(0.0, noisy), 2)

    def _reading(self) -> Reading:
        return Reading(
            running=self.running, level=self.level, battery=self.battery, force_n=self.force
        )

    def _notify_state(self) -> None:
        if self.profile.reads.state is None:
            return
        self._notify(encode_state(self.profile, self._reading()))

    def _notify(self, data: bytes) -> None:
        peripheral = self._peripheral
        if peripheral is None or self._peripheral_notify_uuid() is None:
            return
        if peripheral.is_connected:
            peripheral.notify_soon(data)

    def _peripheral_notify_uuid(self) -> str | None:
        peripheral = self._peripheral
        if peripheral is None or peripheral.config.notify_uuid is None:
            return None
        return normalize_uuid(peripheral.config.notify_uuid)

    def _drain(self) -> None:
        now = self._clock()
        hours = max(0.0, now - self._last_tick) / 3600
        self._last_tick = now
        rate = self.drain_per_hour_running if self.running else self.drain_per_hour_idle
        before = self.battery
        self._charge = max(0.0, self._charge - rate * hours)
        if self.battery != before and self._peripheral is not None:
            self._peripheral.set_battery(self.battery)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.notify_every)
            self._drain()
            if self.running:
                # A fresh force reading each tick: the person leans in and eases off.
                self.force = self._simulated_force()
                self._notify_state()

    async def _garbage_forever(self) -> None:
        while True:
            await asyncio.sleep(self.garbage_every * self._rng.uniform(0.5, 1.5))
            if self.connected:
                self._notify(self._garbage())
                self.garbage_sent += 1

    def _garbage(self) -> bytes:
        """A notification that is wrong in one of the ways real radios and firmware are."""
        valid = b""
        if self.profile.reads.state is not None:
            valid = encode_state(self.profile, self._reading())
        for _ in range(100):
            choice = self._rng.randrange(4)
            if choice == 0 and valid:
                data = valid[:-1]  # truncated
            elif choice == 1 and valid:
                data = valid[:-1] + bytes([(valid[-1] + 1) & 0xFF])  # bad checksum
            elif choice == 2:
                data = bytes(self._rng.randrange(256) for _ in range(self._rng.randint(1, 20)))
            else:
                data = b"\xff" * self._rng.randint(1, 3) + b"?;garbage"
            if decode_notification(self.profile, data) is None:
                return data
        return b"\xff\xfe\xfd"  # pragma: no cover - no profile decodes this

    def _restart_auto_off(self) -> None:
        self._cancel_auto_off()
        if self.auto_off > 0 and self.running:
            loop = asyncio.get_running_loop()
            self._auto_off_timer = loop.call_later(self.auto_off, self._auto_off_now)

    def _cancel_auto_off(self) -> None:
        if self._auto_off_timer is not None:
            self._auto_off_timer.cancel()
            self._auto_off_timer = None

    def _auto_off_now(self) -> None:
        self._auto_off_timer = None
        if self.running:
            self.auto_offs += 1
            self._log({"event": "auto_off", "after_s": self.auto_off})
            self._set_motor(False, 0, why="auto-off")

    # -- the log ------------------------------------------------------------------

    def _record(
        self, char: str, data: bytes, command: Command | None, rejected: bool = False
    ) -> None:
        record = WriteRecord(self._clock(), char, data, command, rejected)
        self.writes.append(record)
        entry: dict[str, Any] = {
            "event": "write",
            "mono": record.mono,
            "char": char,
            "hex": data.hex(),
            "kind": command.kind if command else None,
            "level": command.level if command else None,
            "percent": (
                round(level_to_percent(self.profile, command.level), 3)
                if command is not None and command.level is not None
                else None
            ),
            "running": command.running if command else None,
        }
        if rejected:
            entry["rejected"] = True
        if self.log is not None:
            self.log.write(entry)

    def _log(self, record: dict[str, Any]) -> None:
        if self.log is not None:
            self.log.write({"event": record.pop("event"), "mono": self._clock(), **record})

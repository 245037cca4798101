"""``tproutine devices profiles|scan|info``: the known profiles, nearby devices, one device.

``profiles`` needs no Bluetooth at all (and does not import bleak). ``scan``
and ``info`` use the ``--adapter`` (default: the settings', else ``system``);
with no Bluetooth on the machine they say so in one line and exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from tproutine.commands.common import (
    EXIT_FAIL,
    EXIT_OK,
    quiet_logging,
    say,
    say_error,
)
from tproutine.devices.profile import DeviceProfile, load_profile_set
from tproutine.safetext import one_line
from tproutine.settings import Settings, SettingsError, load_settings

_SOURCE_WIDTH = 44


def _err(line: str) -> None:
    say_error(line, "tproutine")


def _quiet_logging() -> None:
    quiet_logging("tproutine")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        return exc.settings
    except OSError:
        return Settings()


def main(args: argparse.Namespace) -> int:
    _quiet_logging()
    command = args.devices_command
    if command == "profiles":
        return profiles()
    if command == "scan":
        return scan(args)
    return info(args)


# ---------------------------------------------------------------- profiles


def short_source(profile: DeviceProfile) -> str:
    """The ``source`` cut to its first clause, for a table."""
    text = " ".join(profile.source.split())
    for stop in (" (", ", ", "; "):
        if stop in text:
            text = text.split(stop, 1)[0]
    if len(text) > _SOURCE_WIDTH:
        text = text[: _SOURCE_WIDTH - 1].rstrip() + "…"
    return text


def table(rows: list[list[str]]) -> list[str]:
    """Aligned columns. A cell may come from the air (an advertised name) or from
    someone's file: each is made one safe line before it is measured."""
    rows = [[one_line(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def profiles() -> int:
    found = load_profile_set()
    rows = [["id", "name", "kind", "status", "levels", "source"]]
    for profile in sorted(found.profiles.values(), key=lambda p: p.id):
        low, high = profile.levels
        rows.append(
            [
                profile.id,
                profile.name,
                profile.kind,
                profile.shown_status,
                f"{low}-{high}",
                short_source(profile),
            ]
        )
    for line in table(rows):
        say(line)
    replacing = sorted(p.replaces for p in found.profiles.values() if p.replaces)
    if any(p.own for p in found.profiles.values()):
        say(
            "yours: a profile of your own, not checked by tproutine"
            + (f" (replacing the bundled {', '.join(replacing)})" if replacing else "")
        )
    # A broken profile of the person's own is shown, never silently dropped.
    for problem in found.problems:
        print(str(problem), file=sys.stderr, flush=True)
    return EXIT_FAIL if found.errors else EXIT_OK


# ---------------------------------------------------------------- scan


def _adapter(args: argparse.Namespace, settings: Settings) -> str:
    return str(getattr(args, "adapter", None) or settings.adapter)


def _sim_hint(adapter: str) -> str:
    """What to try when the machine's own Bluetooth failed: the virtual massager."""
    if adapter != "system":
        return ""
    return "; to try tproutine without Bluetooth, add --adapter sim (the virtual massager)"


def scan(args: argparse.Namespace) -> int:
    from tproutine.devices.scan import ScanError
    from tproutine.devices.scan import scan as run_scan

    adapter = _adapter(args, _settings())
    try:
        found = asyncio.run(run_scan(adapter, args.timeout))
    except ScanError as exc:
        _err(str(exc) + _sim_hint(adapter))
        return EXIT_FAIL
    if not found:
        say(f"No devices found in {args.timeout:g} s (adapter {adapter}).")
        return EXIT_OK
    rows = [["name", "address", "profile", "signal", "why"]]
    for device in found:
        rows.append(
            [
                device.name or "(no name)",
                device.address,
                device.profile_id or "-",
                f"{device.rssi} dBm" if device.rssi is not None else "-",
                device.why or "-",
            ]
        )
    for line in table(rows):
        say(line)
    return EXIT_OK


# ---------------------------------------------------------------- info


def info(args: argparse.Namespace) -> int:
    settings = _settings()
    adapter = _adapter(args, settings)
    return asyncio.run(_info(adapter, args.device, args.seconds, settings))


def _state_text(status: object) -> str:
    from tproutine.devices.status import DeviceStatus

    assert isinstance(status, DeviceStatus)
    parts = [status.label]
    if status.level is not None:
        top = f"/{status.max_level}" if status.max_level is not None else ""
        parts.append(f"level {status.level}{top}")
    if status.battery is not None:
        parts.append(f"battery {status.battery}%")
    if status.force is not None:
        parts.append(f"force {status.force:.1f} N")
    return "  ".join(parts)


async def _info(adapter: str, device: str | None, seconds: float, settings: Settings) -> int:
    from tproutine.devices.controller import DeviceController, DeviceError, create_controller

    try:
        controller: DeviceController = create_controller(adapter, device, settings)
    except DeviceError as exc:
        _err(str(exc))
        return EXIT_FAIL
    controller.use_guardian = False  # it only reads: the motor is never started here
    try:
        try:
            await controller.connect()
        except DeviceError as exc:
            _err(str(exc) + _sim_hint(adapter))
            return EXIT_FAIL
        status = controller.status
        profile = controller.profile
        firmware = await controller.read_firmware()
        # The name, the firmware and the state come from the device: say() shows any
        # control character in them as a visible token.
        say(f"name      {status.name or '(no name)'}")
        say(f"address   {status.address}")
        if profile is not None:
            say(f"profile   {profile.id} ({profile.name}, {profile.shown_status})")
            low, high = profile.levels
            cap, max_on = profile.safety.max_level, profile.safety.max_on
            say(f"levels    {low}-{high}, capped at {cap}")
            say(f"max_on    the app stops the motor after {max_on:g} s of continuous running")
        battery = f"{status.battery}%" if status.battery is not None else "not reported"
        say(f"battery   {battery}")
        say(f"firmware  {firmware or 'not readable'}")
        say(f"live state for {seconds:g} s:")
        started = time.monotonic()
        last, next_tick = "", 0.0
        while (elapsed := time.monotonic() - started) < seconds:
            state = _state_text(controller.status)
            # A line per change, and one a second otherwise, so it reads like a meter.
            if state != last or elapsed >= next_tick:
                say(f"{elapsed:5.1f} s  {state}")
                last, next_tick = state, float(int(elapsed) + 1)
            await asyncio.sleep(min(0.1, max(seconds - elapsed, 0.0)))
        return EXIT_OK
    finally:
        await controller.close()

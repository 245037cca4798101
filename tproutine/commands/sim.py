"""``tproutine sim``: the virtual massager as its own process, for a second terminal or tests.

It listens on 127.0.0.1 only. It holds one virtual massager emulating
``--profile``, and gives every client (an app started with ``--adapter
tcp:127.0.0.1:PORT``, or that app's guardian) a virtual radio of its own near
it. One line on stdout says when it is ready; SIGINT (exit 130, the CLI
contract for Ctrl-C) and SIGTERM or SIGHUP (exit 0) end it cleanly: every
client's link is closed and the log is flushed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from tproutine.commands.common import (
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    quiet_logging,
    say,
    say_error,
)
from tproutine.devices.profile import DeviceProfile, load_profile_set


def _err(line: str) -> None:
    say_error(line, "tproutine sim")


def _quiet_logging() -> None:
    quiet_logging("tproutine sim")


def _profile(profile_id: str) -> DeviceProfile | None:
    found = load_profile_set()
    profile = found.profiles.get(profile_id)
    if profile is None:
        known = ", ".join(sorted(found.profiles))
        _err(f"unknown profile {profile_id!r} (known: {known})")
    return profile


_PROPERTIES = ("read", "write", "write-without-response", "notify", "indicate")


def _characteristics(specs: list[str]) -> dict[str, list[str]] | None:
    """``--char UUID=PROPS`` options as UUID → property names; None after saying what is wrong."""
    out: dict[str, list[str]] = {}
    for spec in specs:
        uuid, sep, props = spec.partition("=")
        names = [n.strip() for n in props.replace(",", "+").split("+") if n.strip()]
        wrong = [n for n in names if n not in _PROPERTIES]
        if not sep or not uuid.strip() or not names or wrong:
            _err(
                f"--char {spec!r}: expected UUID=PROPS, PROPS one or more of "
                f"{', '.join(_PROPERTIES)} joined by + (like f000b000=read)"
            )
            return None
        out[uuid.strip()] = names
    return out


def main(args: argparse.Namespace) -> int:
    _quiet_logging()
    # --port, --auto-off and --drop-every were checked by the parser (exit 2).
    profile = _profile(args.profile)
    if profile is None:
        return EXIT_FAIL
    if not 1 <= args.layout <= len(profile.gatt):
        _err(
            f"--layout {args.layout}: the profile {profile.id} has "
            f"{len(profile.gatt)} GATT layout(s), 1 to {len(profile.gatt)}"
        )
        return EXIT_FAIL
    characteristics = _characteristics(args.char)
    if characteristics is None:
        return EXIT_FAIL
    from tproutine.devices.simcheck import simulator_missing

    missing = simulator_missing()
    if missing is not None:
        _err(missing)
        return EXIT_FAIL
    # Imported only now: Bumble is the simulator's, and costs about 0.4 s.
    from tproutine.devices.sim.massager import MassagerLog

    log: MassagerLog | None = None
    if args.log:
        try:
            log = MassagerLog.open(args.log)
        except OSError as exc:
            _err(f"cannot write the log {args.log}: {exc.strerror or exc}")
            return EXIT_FAIL
    try:
        return asyncio.run(_serve(args, profile, log, characteristics))
    finally:
        if log is not None:
            log.close()


async def _serve(
    args: argparse.Namespace,
    profile: DeviceProfile,
    log: object,
    characteristics: dict[str, list[str]],
) -> int:
    from tproutine.devices.sim.massager import MassagerLog, VirtualMassager
    from tproutine.devices.sim.server import serve

    assert log is None or isinstance(log, MassagerLog)

    def make_device() -> VirtualMassager:
        return VirtualMassager(
            profile,
            name=args.name,
            firmware=args.firmware,
            auto_off=args.auto_off,
            garbage=args.garbage,
            log=log,
            layout=args.layout - 1,
            characteristics=characteristics,
            on_link_loss=args.on_link_loss,
            fault=args.fault,
        )

    try:
        name = make_device().config.name  # a profile the simulator cannot present fails here
    except ValueError as exc:
        _err(f"cannot emulate {profile.id}: {exc}")
        return EXIT_FAIL
    try:
        server = await serve(args.port, make_device, drop_every=args.drop_every)
    except OSError as exc:
        _err(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}")
        return EXIT_FAIL
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        stop.set()

    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(sig, on_signal, int(sig))
            handled.append(sig)
    try:
        say(
            f'tproutine sim: virtual massager "{name}" ({profile.id}) '
            f"listening on 127.0.0.1:{server.port}"
        )
        await stop.wait()
    finally:
        await server.close()
        for sig in handled:
            loop.remove_signal_handler(sig)
    return EXIT_INTERRUPTED if received and received[0] == signal.SIGINT else EXIT_OK

"""Command-line entry point: argument parsing only.

Each subcommand lives in ``tproutine.commands.<name>`` and is imported only when
it runs, so ``validate``, ``show`` and ``schema`` never pay for Textual, bleak or
Bumble. Exit codes (the CLI contract): 0 success, 1 invalid input or failed work
(one line on stderr), 2 wrong usage, 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from tproutine import __version__
from tproutine.commands import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (what is wrong and where to read more), exit status 2."""

    def error(self, message: str) -> NoReturn:
        from tproutine.safetext import one_line

        self.exit(2, one_line(f"{self.prog}: error: {message} (see `{self.prog} --help`)") + "\n")


def _number(text: str, accepted: str) -> float:
    """A finite number: ``inf``, ``nan`` and ``1e999`` are words, not amounts."""
    try:
        value = float(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (use {accepted})") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number (use {accepted})")
    return value


def _range(
    low: float, high: float, accepted: str, *, above: bool = False
) -> Callable[[str], float]:
    """An argparse type: a finite number from ``low`` (or just above it) to ``high``."""

    def check(text: str) -> float:
        value = _number(text, accepted)
        if value > high or value < low or (above and value == low):
            raise argparse.ArgumentTypeError(f"{text!r} is out of range (use {accepted})")
        return value

    return check


def _percent(text: str) -> float:
    accepted = "a percent from 0 to 100, like 60"
    try:
        value = _number(text.strip().removesuffix("%"), accepted)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percent (use {accepted})") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is outside 0-100 (use {accepted})")
    return value


def _port(text: str) -> int:
    if not text.strip().isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a TCP port (use 0-65535; 0 picks a free one)"
        )
    return int(text)


def _adapter(text: str) -> str:
    # Imported only when --adapter is given: it is the devices' module (without bleak).
    from tproutine.devices.adapters import AdapterError, parse_adapter

    try:
        parse_adapter(text)
    except AdapterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


# The limits of what a person may type: wide enough for any real use, and every
# number is finite (`--speed inf` once turned every time into NaN).
_speed = _range(0.01, 1000, "0.01 to 1000; 1 is real time, 10 runs ten times faster")
_scale = _range(0, 2, "above 0 up to 2; 1 is the routine as written", above=True)
_scan_seconds = _range(0, 600, "above 0 up to 600 seconds", above=True)
_live_seconds = _range(0, 3600, "above 0 up to 3600 seconds", above=True)
_drop_every = _range(0, 86_400, "above 0 up to 86400 seconds", above=True)
_auto_off = _range(0, 86_400, "0 (never) up to 86400 seconds")


def _add_session_options(p: argparse.ArgumentParser, *, plain: bool) -> None:
    if plain:
        p.add_argument(
            "--plain",
            action="store_true",
            help="no TUI: one readable line per event (screen readers, logs)",
        )
    p.add_argument(
        "--events", metavar="PATH", help="also write every event as JSON lines ('-' = stdout)"
    )
    p.add_argument("--speed", type=_speed, default=1.0, help="run the clock N times faster")
    p.add_argument(
        "--adapter",
        type=_adapter,
        default=None,
        help="system (default), sim (in-process virtual massager), tcp:HOST:PORT, or none",
    )
    p.add_argument("--device", default=None, help="auto (default), a name, an address, or none")
    p.add_argument(
        "--max-intensity",
        type=_percent,
        default=None,
        metavar="P",
        help="your cap, percent of the device range (default from settings, else 100)",
    )
    p.add_argument(
        "--scale", type=_scale, default=1.0, metavar="F", help="multiply device intensity by F"
    )
    p.add_argument("--yes", action="store_true", help="acknowledge warnings and the avoid-if list")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tproutine",
        description="Guided trigger-point and stretching routines, with BLE massage devices.",
    )
    parser.add_argument("--version", action="version", version=f"tproutine {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="open the app with the virtual massager connected")
    _add_session_options(p, plain=False)
    p.add_argument("files", nargs="*", metavar="FILE", help="extra routine files for the library")

    p = sub.add_parser("run", help="run one routine (in the app, or --plain as text)")
    p.add_argument("file", metavar="FILE")
    _add_session_options(p, plain=True)
    p.add_argument("--adjust", metavar="ADJ", help="apply this adjustment file")
    p.add_argument(
        "--no-adjust",
        action="store_true",
        help="run the routine as written, without the adjustment in your library",
    )

    p = sub.add_parser("validate", help="check routine and adjustment files")
    p.add_argument("files", nargs="+", metavar="FILE")

    p = sub.add_parser("show", help="the expanded timeline and the total time")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--adjust", metavar="ADJ", help="show it with this adjustment file applied")

    sub.add_parser("schema", help="print the JSON Schema of routine files")

    p = sub.add_parser("export", help="a handout of a routine for a client")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=["md", "html"], required=True)
    p.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")

    p = sub.add_parser("add", help="validate routine files and copy them into your library")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--force", action="store_true", help="replace a routine of the same name")

    p = sub.add_parser("new", help="write a commented starter routine")
    p.add_argument("name", metavar="NAME")
    p.add_argument("-o", "--output", metavar="FILE", help="where to write (default: from the name)")

    p = sub.add_parser("devices", help="find devices, list profiles, read a device")
    dsub = p.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    d = dsub.add_parser("scan", help="find nearby devices")
    d.add_argument(
        "--adapter", type=_adapter, default=None, help="system (default), sim, tcp:HOST:PORT"
    )
    d.add_argument("--timeout", type=_scan_seconds, default=5.0, help="seconds to scan")
    dsub.add_parser("profiles", help="list the known device profiles")
    d = dsub.add_parser("info", help="battery, firmware and live state of one device")
    d.add_argument(
        "--adapter", type=_adapter, default=None, help="system (default), sim, tcp:HOST:PORT"
    )
    d.add_argument("--device", default=None, help="auto (default), a name or an address")
    d.add_argument("--seconds", type=_live_seconds, default=5.0, help="how long to show live state")

    p = sub.add_parser("sim", help="run the virtual massager as its own process")
    p.add_argument("--port", type=_port, default=9100, help="listen on 127.0.0.1:PORT")
    p.add_argument("--profile", default="tproutine-virtual", help="device profile to emulate")
    p.add_argument("--log", metavar="PATH", help="JSON lines for every write received")
    p.add_argument(
        "--drop-every", type=_drop_every, metavar="SECONDS", help="drop the link this often"
    )
    p.add_argument(
        "--garbage", action="store_true", help="send malformed notifications now and then"
    )
    p.add_argument(
        "--name",
        default=None,
        help="the name to advertise (default: one the profile recognises); any text, "
        "even a hostile one, to test how the app shows names from the air",
    )
    p.add_argument("--firmware", default="1.0.0-sim", help="the firmware string the device reports")
    p.add_argument(
        "--auto-off",
        type=_auto_off,
        default=600.0,
        metavar="SECONDS",
        help="stop the motor after this long without a command (0 = never)",
    )

    p = sub.add_parser("due", help="what the plans in your library ask for this week")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--include-previews",
        action="store_true",
        help="count preview runs (--speed other than 1) as sessions done",
    )

    p = sub.add_parser("calendar", help="reminders for planned routines, for your calendar (.ics)")
    p.add_argument(
        "routines", nargs="*", metavar="FILE|NAME", help="routine files or names (default: all)"
    )
    p.add_argument("-o", "--output", metavar="OUT.ics", help="write here instead of stdout")
    p.add_argument("--start", metavar="DATE", help="first day of the plan (default: today)")

    p = sub.add_parser("history", help="past sessions")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    hsub = p.add_subparsers(dest="history_command", metavar="ACTION")
    h = hsub.add_parser("export", help="a report of past sessions")
    h.add_argument("--format", choices=["csv", "json", "md", "html"], required=True)
    h.add_argument("--routine", metavar="NAME", help="only this routine")
    h.add_argument("--since", metavar="DATE", help="only sessions on or after DATE (YYYY-MM-DD)")
    h.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    h.add_argument(
        "--include-previews",
        action="store_true",
        help="also report preview runs (run with --speed other than 1)",
    )
    return parser


# command name -> module in tproutine.commands that has `main(args) -> int`
_COMMANDS = {
    None: "app",
    "demo": "app",
    "run": "run",
    "validate": "routines",
    "show": "routines",
    "schema": "routines",
    "export": "share",
    "add": "share",
    "new": "share",
    "devices": "devices",
    "sim": "sim",
    "history": "history",
    "due": "due",
    "calendar": "calendar",
}


def _command_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    """The parser of the (sub)command that was run: it names itself in a usage error."""
    found: Any = parser
    for dest in ("command", "devices_command", "history_command"):
        name = getattr(args, dest, None)
        subs = [a for a in found._actions if isinstance(a, argparse._SubParsersAction)]
        if name is None or not subs or name not in subs[0].choices:
            break
        found = subs[0].choices[name]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        _command_parser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    module = importlib.import_module(f"tproutine.commands.{_COMMANDS[args.command]}")
    try:
        code: int = module.main(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `tproutine show x | head`: the reader left; that is not an error.
        sys.stderr.close()
        return EXIT_OK
    except Exception as exc:
        # A bug of ours: one line and a failure status, never a traceback and never 0.
        # TPROUTINE_DEBUG=1 shows the traceback for a bug report.
        if os.environ.get("TPROUTINE_DEBUG"):
            raise
        from tproutine.safetext import one_line

        print(
            one_line(
                f"tproutine: internal error: {type(exc).__name__}: {exc} (this is a bug; "
                "run again with TPROUTINE_DEBUG=1 for the details to report)"
            ),
            file=sys.stderr,
        )
        return EXIT_FAIL
    return code

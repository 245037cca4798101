"""Command-line entry point: argument parsing only.

Each subcommand lives in ``tproutine.commands.<name>`` and is imported only when
it runs, so ``validate``, ``show`` and ``schema`` never pay for Textual, bleak or
Bumble. Exit codes (the CLI contract): 0 success, 1 invalid input or failed work
(one line on stderr), 2 wrong usage, 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tproutine import __version__
from tproutine.commands import EXIT_INTERRUPTED, EXIT_OK


def _percent(text: str) -> float:
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percent (use 0-100)") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is outside 0-100")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def _scale(text: str) -> float:
    value = _positive(text)
    if value > 2:
        raise argparse.ArgumentTypeError(f"{text!r}: the scale goes from above 0 up to 2")
    return value


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
    p.add_argument("--speed", type=_positive, default=1.0, help="run the clock N times faster")
    p.add_argument(
        "--adapter",
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
    parser = argparse.ArgumentParser(
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

    p = sub.add_parser("validate", help="check routine files")
    p.add_argument("files", nargs="+", metavar="FILE")

    p = sub.add_parser("show", help="the expanded timeline and the total time")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true", help="machine-readable output")

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
    d.add_argument("--adapter", default=None, help="system (default), sim, tcp:HOST:PORT")
    d.add_argument("--timeout", type=_positive, default=5.0, help="seconds to scan")
    dsub.add_parser("profiles", help="list the known device profiles")
    d = dsub.add_parser("info", help="battery, firmware and live state of one device")
    d.add_argument("--adapter", default=None, help="system (default), sim, tcp:HOST:PORT")
    d.add_argument("--device", default=None, help="auto (default), a name or an address")
    d.add_argument("--seconds", type=_positive, default=5.0, help="how long to show live state")

    p = sub.add_parser("sim", help="run the virtual massager as its own process")
    p.add_argument("--port", type=int, default=9100, help="listen on 127.0.0.1:PORT")
    p.add_argument("--profile", default="tproutine-virtual", help="device profile to emulate")
    p.add_argument("--log", metavar="PATH", help="JSON lines for every write received")
    p.add_argument(
        "--drop-every", type=_positive, metavar="SECONDS", help="drop the link this often"
    )
    p.add_argument(
        "--garbage", action="store_true", help="send malformed notifications now and then"
    )
    p.add_argument(
        "--auto-off",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="stop the motor after this long without a command (0 = never)",
    )

    p = sub.add_parser("history", help="past sessions")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    hsub = p.add_subparsers(dest="history_command", metavar="ACTION")
    h = hsub.add_parser("export", help="a report of past sessions")
    h.add_argument("--format", choices=["csv", "json", "md"], required=True)
    h.add_argument("--routine", metavar="NAME", help="only this routine")
    h.add_argument("--since", metavar="DATE", help="only sessions on or after DATE (YYYY-MM-DD)")
    h.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
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
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # `tproutine` alone opens the Library: nothing to parse (building the parser
    # would cost its first paint several milliseconds).
    args = build_parser().parse_args(argv) if argv else argparse.Namespace(command=None)
    module = importlib.import_module(f"tproutine.commands.{_COMMANDS[args.command]}")
    try:
        code: int = module.main(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `tproutine show x | head`: the reader left; that is not an error.
        sys.stderr.close()
        return EXIT_OK
    return code

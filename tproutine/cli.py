"""Command-line entry point: argument parsing only.

Each subcommand lives in ``tproutine.commands.<name>`` and is imported only when
it runs, so ``validate``, ``show`` and ``schema`` never pay for Textual, bleak or
Bumble. Exit codes (the CLI contract): 0 success, 1 invalid input or failed work
(one line on stderr), 2 wrong usage, 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import math
import os
import sys
from collections.abc import Callable, Sequence

from tproutine import __version__
from tproutine.commands import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK


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
_wait = _range(0, 120, "0 (connect as the session goes) up to 120 seconds")


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
        "--connect-timeout",
        type=_wait,
        default=None,
        metavar="SECONDS",
        help="wait this long for the device before the clock starts (default 10; 0 = start "
        "at once and connect meanwhile)",
    )
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


_ADAPTER_HELP = "system (default: your Bluetooth), sim (the virtual massager), tcp:HOST:PORT"
_ROUTINE_HELP = (
    "a routine file, or a routine in your library by file name or name "
    "(e.g. low-back or 'Low back release')"
)


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` finds it: ``COLUMNS``, else
    the terminal of standard output, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Help(argparse.HelpFormatter):
    """argparse's own help, sized here: argparse would import ``shutil`` (and with it
    zlib, bz2 and lzma, about 3 ms) for every command, to measure a help that is
    almost never shown."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_columns() - 2)


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    details: str = "",
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` says what it does, and whose usage errors show its own
    usage (``_usage``: the innermost parser that matched, see :func:`main`)."""
    description = summary[0].upper() + summary[1:] + "."
    p = sub.add_parser(
        name, help=summary, description=f"{description} {details}".strip(), formatter_class=_Help
    )
    p.set_defaults(_usage=p)
    return p


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``only``, just that command's (the others cost
    a one-file command a fifth of its start-up, and it never needs them)."""

    def wanted(name: str) -> bool:
        return only is None or name == only

    parser = argparse.ArgumentParser(
        prog="tproutine",
        formatter_class=_Help,
        description="Guided trigger-point and stretching routines, with BLE massage devices. "
        "With no command, the app opens on your library of routines.",
        epilog="`tproutine COMMAND --help` explains a command. "
        "Documentation: https://github.com/tproutine/tproutine/blob/main/docs/cli.md",
    )
    parser.add_argument("--version", action="version", version=f"tproutine {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    if wanted("demo"):
        p = _command(
            sub,
            "demo",
            "open the app with the virtual massager connected",
            "The whole product with no hardware: the bundled routines and a simulated "
            "massage device on a real Bluetooth stack.",
        )
        _add_session_options(p, plain=False)
        p.add_argument(
            "files", nargs="*", metavar="FILE", help="extra routine files for the library"
        )

    if wanted("run"):
        p = _command(
            sub,
            "run",
            "run one routine (in the app, or --plain as text)",
            "On a terminal with --plain: space pauses, n next, p back, +/- intensity, "
            "s motor off/on, q ends.",
        )
        p.add_argument("file", metavar="ROUTINE", help=_ROUTINE_HELP)
        _add_session_options(p, plain=True)
        p.add_argument("--adjust", metavar="ADJ", help="apply this adjustment file")
        p.add_argument(
            "--no-adjust",
            action="store_true",
            help="run the routine as written, without the adjustment in your library",
        )

    if wanted("validate"):
        p = _command(
            sub,
            "validate",
            "check routine and adjustment files",
            "Prints `FILE: ok`, or every mistake as `FILE:LINE:COL: where: what is wrong`; "
            "exits 1 if any file is invalid.",
        )
        p.add_argument(
            "files",
            nargs="+",
            metavar="FILE",
            help="routine or adjustment files to check; - reads a routine on standard input",
        )

    if wanted("show"):
        p = _command(sub, "show", "print the expanded timeline and the total time")
        p.add_argument("file", metavar="ROUTINE", help=_ROUTINE_HELP + "; - reads standard input")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.add_argument("--adjust", metavar="ADJ", help="show it with this adjustment file applied")

    if wanted("schema"):
        _command(
            sub,
            "schema",
            "print the JSON Schema of routine files",
            "Draft 2020-12, for editors that complete and check YAML.",
        )

    if wanted("export"):
        p = _command(sub, "export", "write a handout of a routine for a client")
        p.add_argument("file", metavar="ROUTINE", help=_ROUTINE_HELP + "; - reads standard input")
        p.add_argument(
            "--format",
            choices=["md", "html"],
            required=True,
            help="md (Markdown) or html (a printable page)",
        )
        p.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")

    if wanted("add"):
        p = _command(sub, "add", "validate routine files and copy them into your library")
        p.add_argument("files", nargs="+", metavar="FILE", help="routine files to add")
        p.add_argument("--force", action="store_true", help="replace a routine of the same name")

    if wanted("new"):
        p = _command(
            sub,
            "new",
            "write a commented starter routine",
            "It uses every feature of the format, with comments that explain each.",
        )
        p.add_argument("name", metavar="NAME", help='the routine\'s name, e.g. "Desk neck reset"')
        p.add_argument(
            "-o", "--output", metavar="FILE", help="where to write (default: from the name)"
        )
        p.add_argument(
            "--steps",
            metavar="ID,ID,...",
            help="build it from catalogue steps (see tproutine steps)",
        )

    if wanted("steps"):
        p = _command(
            sub,
            "steps",
            "list the catalogue steps a routine can use (- use: ID)",
            "The bundled catalogues and your own (in your config folder's steps/).",
        )
        p.add_argument("ids", nargs="*", metavar="ID", help="show these steps in full")
        p.add_argument("--area", metavar="A", help="only steps for this body area, e.g. neck")
        p.add_argument("--json", action="store_true", help="machine-readable output")

    if wanted("devices"):
        p = _command(sub, "devices", "find devices, list profiles, read a device")
        dsub = p.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
        d = _command(dsub, "scan", "find nearby devices")
        d.add_argument("--adapter", type=_adapter, default=None, help=_ADAPTER_HELP)
        d.add_argument(
            "--timeout", type=_scan_seconds, default=5.0, help="seconds to scan (default 5)"
        )
        _command(dsub, "profiles", "list the known device profiles and how sure we are of each")
        d = _command(dsub, "info", "show battery, firmware and live state of one device")
        d.add_argument("--adapter", type=_adapter, default=None, help=_ADAPTER_HELP)
        d.add_argument("--device", default=None, help="auto (default), a name or an address")
        d.add_argument(
            "--seconds",
            type=_live_seconds,
            default=5.0,
            help="how long to show live state (default 5)",
        )

    if wanted("sim"):
        p = _command(
            sub,
            "sim",
            "run the virtual massager as its own process",
            "For a second terminal or for tests: connect with --adapter tcp:127.0.0.1:PORT.",
        )
        p.add_argument(
            "--port", type=_port, default=9100, help="listen on 127.0.0.1:PORT (default 9100)"
        )
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
        p.add_argument(
            "--firmware", default="1.0.0-sim", help="the firmware string the device reports"
        )
        p.add_argument(
            "--auto-off",
            type=_auto_off,
            default=600.0,
            metavar="SECONDS",
            help="stop the motor after this long without a command (0 = never)",
        )
        p.add_argument(
            "--layout",
            type=int,
            default=1,
            metavar="N",
            help="present the profile's Nth GATT layout (default 1; models of one family differ)",
        )
        p.add_argument(
            "--char",
            action="append",
            default=[],
            metavar="UUID=PROPS",
            help="give a characteristic the properties the real device has: f000b000=read, "
            "fff1=indicate (PROPS: read, write, write-without-response, notify, indicate, "
            "joined by +; 8 hex digits take the rest of the service's UUID)",
        )
        p.add_argument(
            "--on-link-loss",
            choices=["stop", "run"],
            default="stop",
            help="when its app goes away: stop the motor (default) or run on, as some devices do",
        )
        p.add_argument(
            "--fault",
            choices=["refuse", "drop-on-discovery", "no-write"],
            help="fault injection: refuse every connection, drop the link at service discovery, "
            "or have no write characteristic",
        )

    if wanted("due"):
        p = _command(sub, "due", "show what the plans in your library ask for this week")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.add_argument(
            "--include-previews",
            action="store_true",
            help="count preview runs (--speed other than 1) as sessions done",
        )

    if wanted("calendar"):
        p = _command(
            sub, "calendar", "write reminders for planned routines, for your calendar (.ics)"
        )
        p.add_argument(
            "routines", nargs="*", metavar="FILE|NAME", help="routine files or names (default: all)"
        )
        p.add_argument("-o", "--output", metavar="OUT.ics", help="write here instead of stdout")
        p.add_argument("--start", metavar="DATE", help="first day of the plan (default: today)")

    if wanted("history"):
        p = _command(sub, "history", "list past sessions, newest first")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        hsub = p.add_subparsers(dest="history_command", metavar="ACTION")
        h = _command(hsub, "export", "write a report of past sessions for your practitioner")
        h.add_argument(
            "--format",
            choices=["csv", "json", "md", "html"],
            required=True,
            help="csv, json, md (Markdown) or html (with charts)",
        )
        h.add_argument("--routine", metavar="NAME", help="only this routine")
        h.add_argument(
            "--since", metavar="DATE", help="only sessions on or after DATE (YYYY-MM-DD)"
        )
        h.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
        h.add_argument(
            "--include-previews",
            action="store_true",
            help="also report preview runs (run with --speed other than 1)",
        )

    if wanted("completion"):
        p = _command(
            sub,
            "completion",
            "print a shell completion script (bash, zsh or fish)",
            'bash: eval "$(tproutine completion bash)" in ~/.bashrc; '
            'zsh: eval "$(tproutine completion zsh)" in ~/.zshrc after compinit; '
            "fish: tproutine completion fish > ~/.config/fish/completions/tproutine.fish",
        )
        p.add_argument(
            "shell", nargs="?", choices=["bash", "zsh", "fish"], help="bash, zsh or fish"
        )
        # What a script asks when Tab is pressed after run/show/export: the library's routines.
        p.add_argument("--routines", action="store_true", help=argparse.SUPPRESS)
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
    "steps": "steps",
    "devices": "devices",
    "sim": "sim",
    "history": "history",
    "due": "due",
    "calendar": "calendar",
    "completion": "completion",
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        # `tproutine` alone opens the Library: nothing to parse (building the parser
        # would cost its first paint several milliseconds).
        args = argparse.Namespace(command=None)
    else:
        parser = build_parser(only=argv[0] if argv[0] in _COMMANDS else None)
        args, unknown = parser.parse_known_args(argv)
        if unknown:
            # Said by the command's own parser, so the usage shown is that command's.
            usage: argparse.ArgumentParser = getattr(args, "_usage", parser)
            usage.error(f"unrecognized arguments: {' '.join(unknown)}")
        if args.command == "completion" and args.shell is None and not args.routines:
            args._usage.error("name a shell: bash, zsh or fish")
    # `run FILE` in the app: the cyclic collector stays off until the Player's first
    # frame (commands/app.py says why), from here, so that the imports and the routine
    # read before the app are spared its passes too (10-15 ms). On in the end anyway.
    collector_off = args.command == "run" and not args.plain and gc.isenabled()
    if collector_off:
        gc.disable()
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
    finally:
        if collector_off:
            gc.enable()
    return code

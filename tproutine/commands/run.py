"""``tproutine run FILE``: one routine, in the TUI or with ``--plain`` as text lines.

The plain runner: load the routine, show its safety notes (confirmed on a
terminal, or ``--yes``), ask the optional pain rating, then run the session
with keys on a terminal (cbreak mode, restored on every way out) and text
lines for every event. Ctrl-C ends the session as ``stopped`` and exits 130;
SIGTERM and SIGHUP end it as ``stopped`` and exit 1 with a one-line reason
(the CLI contract has no other codes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from tproutine import paths
from tproutine.commands.common import (
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    find_or_say,
    print_problems,
    quiet_logging,
    say_error,
)
from tproutine.commands.connect_first import connect_first
from tproutine.commands.logs import OneLineHandler
from tproutine.engine.cues import terminal_bell
from tproutine.engine.eventlog import EventLog
from tproutine.engine.events import SessionStatus
from tproutine.engine.plain import PlainOutput, safety_lines
from tproutine.engine.session import Session
from tproutine.problems import LoadError
from tproutine.routine.timeline import Timeline
from tproutine.runtime import Runtime, build_runtime, open_device
from tproutine.safetext import one_line
from tproutine.settings import Settings, SettingsError, load_settings

_SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}

KEY_HELP = "Keys: space pause/resume · n next · p back · + / - intensity · s motor off/on · q end"


def _err(line: str) -> None:
    say_error(line)


def _quiet_logging() -> OneLineHandler:
    return quiet_logging()


def handle_key(session: Session, key: str) -> bool:
    """Apply one key (``space``, ``n``, ``p``, ``q``, ``+``, ``-``, ``s``, ``right``, ``left``,
    ``escape``) to the session; returns whether it was a known key."""
    actions: dict[str, Callable[[], object]] = {
        " ": session.toggle_pause,
        "n": session.next,
        "right": session.next,
        "p": session.back,
        "left": session.back,
        "q": session.stop,
        "+": lambda: session.change_scale(+0.1),
        "=": lambda: session.change_scale(+0.1),
        "-": lambda: session.change_scale(-0.1),
        "_": lambda: session.change_scale(-0.1),
        "s": session.toggle_halt,
        "escape": session.halt_device,
    }
    action = actions.get(key.lower() if len(key) == 1 else key)
    if action is None:
        return False
    action()
    return True


def split_keys(data: str) -> list[str]:
    """Keys from what a cbreak terminal sent: characters, and arrows as ``left``/``right``."""
    keys: list[str] = []
    i = 0
    while i < len(data):
        if data[i] == "\x1b":
            seq = data[i : i + 3]
            if seq in ("\x1b[C", "\x1bOC"):
                keys.append("right")
                i += 3
                continue
            if seq in ("\x1b[D", "\x1bOD"):
                keys.append("left")
                i += 3
                continue
            if len(seq) >= 2 and seq[1] in "[O":
                # Another escape sequence (up, down, F-keys): skip its final letter.
                j = i + 2
                while j < len(data) and not data[j].isalpha() and data[j] != "~":
                    j += 1
                i = j + 1
                continue
            keys.append("escape")
            i += 1
            continue
        keys.append(data[i])
        i += 1
    return keys


class KeyControl:
    """Reads keys from a terminal in cbreak mode while a session runs.

    The loop's reader wakes only when a key arrives: no polling. ``close``
    restores the terminal; it runs on every way out (``finally``).
    """

    def __init__(
        self,
        session: Session,
        fd: int,
        on_unknown: Callable[[str], None],
        *,
        say: Callable[[str], None] | None = None,
        confirm_end: bool = False,
    ) -> None:
        self.session = session
        self.fd = fd
        self._on_unknown = on_unknown
        self._say = say or on_unknown
        # With a device, `q` asks first, as the app does (the session paused meanwhile).
        self._confirm_end = confirm_end
        self._asking = False
        self._paused_to_ask = False
        self._saved: list[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def open(self) -> None:
        import termios
        import tty

        self._saved = termios.tcgetattr(self.fd)
        # cbreak, not raw: Ctrl-C still raises SIGINT, which ends the session cleanly.
        tty.setcbreak(self.fd, termios.TCSANOW)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.fd, self._readable)

    def close(self) -> None:
        import termios

        if self._loop is not None:
            self._loop.remove_reader(self.fd)
            self._loop = None
        if self._saved is not None:
            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 64)
        except OSError:
            data = b""
        if not data:
            # The terminal went away (hang-up): stop reading; SIGHUP ends the session.
            if self._loop is not None:
                self._loop.remove_reader(self.fd)
            return
        for key in split_keys(data.decode("utf-8", "replace")):
            self.key(key)

    def key(self, key: str) -> None:
        """One key: an answer to "End this session?", a session key, or an unknown one."""
        session = self.session
        if self._asking:
            self._asking = False
            if key in ("y", "Y", "\n", "\r"):
                session.stop()
            elif self._paused_to_ask:
                session.resume()  # its "Resumed" line says so
            else:
                self._say("Going on, still paused (space to resume).")
            return
        if key in ("q", "Q") and self._confirm_end and session.state in ("running", "paused"):
            self._paused_to_ask = session.pause()
            self._asking = True
            self._say("End this session? y or enter ends it; any other key goes on.")
            return
        if not handle_key(session, key):
            self._on_unknown(key)


def run_timeline(args: argparse.Namespace, report: Callable[[str], None]) -> Timeline:
    """``FILE`` with ``--adjust ADJ``, or with the library's adjustment for it unless
    ``--no-adjust``."""
    adjust_file = getattr(args, "adjust", None)
    library = not getattr(args, "no_adjust", False)
    if adjust_file is None and not (library and paths.has_adjustments()):
        # Nothing can adjust it: read as written, with the quick check (a valid file is
        # checked without pydantic, which the adjustments need), or from the cache of
        # timelines when this file was checked before with the same code and catalogues.
        from tproutine.routine.timeline_cache import load_timeline

        return load_timeline(args.file)
    from tproutine.routine.adjust import timeline_for

    return timeline_for(args.file, adjust_file=adjust_file, library=library, report=report)


def preview_line(speed: float) -> str:
    """Said before a run at another speed: it is kept, but not as a session done."""
    return (
        f"Preview at {speed:g}× speed: kept in your history as a preview, "
        "not counted as a session done."
    )


def ask(prompt: str, stream: TextIO) -> str | None:
    """One line from stdin on a terminal; None at end of input."""
    stream.write(prompt)
    stream.flush()
    line = sys.stdin.readline()
    if not line:
        stream.write("\n")
        return None
    return line.strip()


def ask_pain(prompt: str, stream: TextIO) -> int | None:
    while True:
        answer = ask(prompt, stream)
        if not answer:
            return None
        if answer.isdigit() and 0 <= int(answer) <= 10:
            return int(answer)
        stream.write("Please type a whole number from 0 to 10, or press enter to skip.\n")


def _confirm(stream: TextIO) -> bool:
    answer = ask("Start? None of the above applies to me [Y/n]: ", stream)
    return answer is not None and answer.lower() in ("", "y", "yes")


async def _run_session(
    rt: Runtime,
    keys: bool,
    out: Callable[[str], None],
    received: list[int],
    before: Callable[[], Awaitable[bool]] | None = None,
) -> SessionStatus | None:
    """Run the session with signal handlers and (on a terminal) keys; returns its
    status, or None when ``before`` (getting the device ready) said not to start.
    The signals that arrived are appended to ``received``."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    preparing: list[asyncio.Task[bool]] = []

    def on_signal(signum: int) -> None:
        if received and main is not None:
            # A second signal while stopping: stop waiting for anything.
            main.cancel()
            return
        received.append(signum)
        rt.session.stop()
        for task in preparing:
            task.cancel()  # stop waiting for the device: the session never started

    handled: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(sig, on_signal, int(sig))
            handled.append(sig)
    control: KeyControl | None = None
    status: SessionStatus | None
    try:
        async with rt:
            if before is not None:
                preparing.append(asyncio.ensure_future(before()))
                try:
                    go = await preparing[0]
                except asyncio.CancelledError:
                    if not received:
                        raise
                    go = False
                preparing.clear()
                if received:
                    return rt.session.status or "stopped"
                if not go:
                    rt.session.stop()
                    return None
            if keys:
                control = KeyControl(
                    rt.session,
                    sys.stdin.fileno(),
                    lambda k: out(KEY_HELP),
                    say=out,
                    confirm_end=rt.device is not None,
                )
                control.open()
                out(KEY_HELP)
            try:
                status = await rt.run()
            except asyncio.CancelledError:
                status = rt.session.status or "interrupted"
    finally:
        if control is not None:
            control.close()
        for signum in handled:
            loop.remove_signal_handler(signum)
    return status


def main(args: argparse.Namespace) -> int:
    # A file, or a routine of the library by file stem or name (`run low-back`).
    ref = find_or_say(args.file)
    if ref is None:
        return EXIT_FAIL
    args.file = ref.shown
    if getattr(args, "plain", False):
        return run_plain(args)
    # The app: the routine is checked first, so a broken file is one line on the
    # terminal rather than a screen that opens and closes.
    try:
        timeline = run_timeline(args, _err)
    except LoadError as err:
        print_problems(err)
        return EXIT_FAIL
    from tproutine.commands.app import run_tui

    return run_tui(args, timeline)


def run_plain(args: argparse.Namespace) -> int:
    errors = _quiet_logging()
    before = errors.exceptions
    try:
        settings = load_settings()
    except SettingsError as exc:
        for line in exc.problems:
            _err(line)
        _err("using the defaults for those settings")
        settings = exc.settings
    except OSError as exc:
        _err(f"cannot read the settings ({exc.strerror or exc}); using the defaults")
        settings = Settings()
    try:
        timeline = run_timeline(args, _err)
    except LoadError as exc:
        print_problems(exc)
        return EXIT_FAIL

    interactive = sys.stdin.isatty()
    # With the events on stdout, the text lines move to stderr so stdout stays JSON.
    stream: TextIO = sys.stderr if args.events == "-" else sys.stdout

    event_log: EventLog | None = None
    if args.events:
        try:
            event_log = EventLog.open(args.events, report=_err)
        except OSError as exc:
            _err(f"cannot write the events to {args.events}: {exc.strerror or exc}")
            return EXIT_FAIL

    try:
        code = _run_plain(args, settings, timeline, interactive, stream, event_log)
    finally:
        if event_log is not None:
            event_log.close()
    if code == EXIT_OK and errors.exceptions > before:
        # The session ran on (a routine must not stop for a broken listener), but
        # something failed inside: that is never a success.
        _err("the session ran to its end, but with internal errors (said above)")
        return EXIT_FAIL
    return code


def _run_plain(
    args: argparse.Namespace,
    settings: Settings,
    timeline: Timeline,
    interactive: bool,
    stream: TextIO,
    event_log: EventLog | None,
) -> int:
    def write(line: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            stream.write(one_line(line) + "\n")
            stream.flush()

    # Questions go where the person sees them, even when stdout is sent to a file.
    prompts: TextIO = stream if stream.isatty() else sys.stderr
    if args.speed != 1.0:
        write(preview_line(args.speed))
    if timeline.adjustment is not None:
        write(f"Adjusted: {one_line(timeline.adjustment.summary)}")
    safety = safety_lines(timeline)
    if safety:
        for line in safety:
            write(line)
        if not args.yes:
            if not interactive:
                _err(
                    "this routine has safety warnings: run it on a terminal to confirm them, "
                    "or pass --yes"
                )
                return EXIT_FAIL
            if not _confirm(prompts):
                _err("not started: the safety checklist was not confirmed")
                return EXIT_FAIL

    pain_before: int | None = None
    ask_pain_too = interactive and settings.pain_prompts
    if ask_pain_too:
        pain_before = ask_pain("Pain right now, 0–10 (enter to skip): ", prompts)

    device = open_device(args.adapter, args.device, timeline, settings, _err)
    plain = PlainOutput(timeline, stream, keys=interactive, report=_err)
    bell = terminal_bell(stream) if stream.isatty() else None
    runtime = build_runtime(
        timeline,
        settings=settings,
        speed=args.speed,
        scale=args.scale,
        max_intensity=args.max_intensity,
        bell=bell,
        plain=plain,
        event_log=event_log,
        file=args.file,
        pain_before=pain_before,
        device=device,
        report=_err,
    )
    received: list[int] = []
    wait = settings.connect_timeout if args.connect_timeout is None else args.connect_timeout

    async def before() -> bool:
        # The clock starts once the device is ready (or the person goes on without it).
        return await connect_first(
            runtime,
            wait,
            say=plain.line,
            err=_err,
            ask=prompts if interactive and not args.yes else None,
        )

    try:
        try:
            status = asyncio.run(_run_session(runtime, interactive, plain.line, received, before))
        except asyncio.CancelledError:
            # A second signal cut the shutdown short; the session has ended all the same.
            status = runtime.session.status or "interrupted"
        if status is None:
            _err("not started: the device is not ready")
            return EXIT_FAIL
        signum = received[0] if received else None
        if signum is None and ask_pain_too:
            runtime.set_pain_after(ask_pain("Pain now, 0–10 (enter to skip): ", prompts))
    finally:
        runtime.close()
    if signum == signal.SIGINT:
        return EXIT_INTERRUPTED
    if signum is not None:
        _err(f"stopped: received {_SIGNAL_NAMES.get(signal.Signals(signum), str(signum))}")
        return EXIT_FAIL
    if status == "interrupted":
        _err("the session was interrupted")
        return EXIT_FAIL
    return EXIT_OK

"""``tproutine`` (no command), ``tproutine demo`` and ``tproutine run FILE`` in the app.

``main`` opens the Library; ``demo`` opens it with the in-process virtual
massager (``--adapter sim``), connected right after the first paint;
``run_tui`` (called by ``commands/run.py`` when ``--plain`` is not given) opens
the Player on one routine at once. All three build the app with
:func:`tproutine.tui.app.make_app`, the factory the tests use too. Textual is
imported only here, when the app really opens.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tproutine.engine.eventlog import EventLog
    from tproutine.routine.timeline import Timeline
    from tproutine.tui.app import AppOptions, TProutineApp

EXIT_OK = 0
EXIT_FAIL = 1


def _options(args: argparse.Namespace, files: tuple[Path, ...], **extra: Any) -> AppOptions:
    """The app's options from the session options of ``demo``/``run`` (absent for the bare
    ``tproutine``); ``extra`` overrides them."""
    from tproutine.tui.app import AppOptions

    values: dict[str, Any] = {
        "files": files,
        "speed": getattr(args, "speed", None) or 1.0,
        "adapter": getattr(args, "adapter", None),
        "device": getattr(args, "device", None),
        "max_intensity": getattr(args, "max_intensity", None),
        "scale": getattr(args, "scale", None) or 1.0,
        "connect_timeout": getattr(args, "connect_timeout", None),
    }
    values.update(extra)
    return AppOptions(**values)


def _run(app: TProutineApp, **run: Any) -> int:
    code = app.run(**run)
    if app.return_code:
        # An exception ended the app (Textual has shown it): never a success.
        return app.return_code
    return int(code) if code is not None else EXIT_OK


@contextlib.contextmanager
def _collector_off_until_first_paint() -> Iterator[None]:
    """The cyclic garbage collector off while the app starts.

    Importing Textual and building the first screen allocate a great many objects
    and free few; the collector would walk them again and again, about a tenth of
    the start. The app turns it back on after its first frame
    (``TProutineApp.on_mount``); this turns it on however the app ends.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def main(args: argparse.Namespace) -> int:
    """``tproutine`` and ``tproutine demo``: the app on the Library."""
    with _collector_off_until_first_paint():
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    from tproutine.tui.app import make_app

    demo = args.command == "demo"
    extra: dict[str, Any] = {"demo": demo}
    if demo and getattr(args, "adapter", None) is None:
        extra["adapter"] = "sim"
    if extra.get("adapter", getattr(args, "adapter", None)) == "sim":
        from tproutine.devices.simcheck import simulator_missing

        # A demo without its device is not the demo: one line and the fix, before
        # any screen opens (not a notice that vanishes after a few seconds).
        missing = simulator_missing()
        if missing is not None:
            print(f"tproutine demo: {missing}", file=sys.stderr)
            return EXIT_FAIL
    files = tuple(Path(f) for f in getattr(args, "files", None) or ())
    # make_app reads the settings (mistakes in them are shown in the app) and builds
    # the device controller when a device is first used; the demo connects at once.
    return _run(make_app(_options(args, files, **extra)))


def run_tui(args: argparse.Namespace, timeline: Timeline) -> int:
    """``tproutine run FILE`` without ``--plain``: the Player on ``timeline`` at once.

    ``args`` are ``run``'s (``file``, ``--speed``, ``--adapter``, ``--device``,
    ``--max-intensity``, ``--scale``, ``--yes``, ``--events``). Returns the exit
    status: 1 when the ``--events`` file cannot be written (said on stderr).
    """
    with _collector_off_until_first_paint():
        return _run_tui(args, timeline)


def _run_tui(args: argparse.Namespace, timeline: Timeline) -> int:
    from tproutine.tui.app import make_app

    event_log: EventLog | None = None
    if getattr(args, "events", None):
        from tproutine.engine.eventlog import EventLog

        if args.events == "-":
            print("tproutine: --events - needs --plain (the app owns the screen)", file=sys.stderr)
            return EXIT_FAIL
        try:
            event_log = EventLog.open(args.events)
        except OSError as exc:
            print(f"tproutine: cannot write {args.events}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_FAIL
    options = _options(
        args,
        (Path(args.file),),
        start=timeline,
        yes=bool(getattr(args, "yes", False)),
        event_log=event_log,
    )
    try:
        return _run(make_app(options))
    finally:
        if event_log is not None:
            event_log.close()

"""The stop guarantee, process-wide: the motor is stopped on every way out of the app.

A massage device left running against someone's body is the one failure this
app must not have. The controller itself stops the motor on the ordinary paths
(pause, the end of a session, ``aclose()``), and its worker task stops it when
that task is cancelled, which is what ``asyncio.run`` does to every task when
the program leaves by an exception, ``sys.exit`` or Ctrl-C. This module adds
the paths that do not go through the event loop's orderly shutdown:

- **SIGTERM and SIGHUP** when nobody else handles them (``run --plain`` has its
  own handlers that end the session; the TUI and scripts may not): the motor is
  stopped (awaited, with a timeout), the device disconnected, and then the
  signal is delivered again with its default action, so the process still ends
  the way the sender asked (or the app's own exit, see ``set_signal_exit``: a
  full-screen app restores the terminal first).
- **An uncaught exception** reaching ``sys.excepthook``, and **interpreter
  exit** (``atexit``): if a controller is still connected and its event loop is
  still usable (stopped but not closed: an app that drove its own loop), the
  stop is sent and awaited on that loop before anything else happens. If the
  loop is already closed the stop cannot be sent any more; that is logged as an
  error (and is what the device's own auto-off is for).

Controllers register while they hold a connection; nothing is installed until
the first one does, so importing this module costs nothing.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import signal
import sys
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

log = logging.getLogger(__name__)

# The whole stop-and-disconnect at exit is bounded: the person is waiting.
EXIT_TIMEOUT = 3.0

FALLBACK_SIGNALS: tuple[signal.Signals, ...] = tuple(
    s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None
)


class Stoppable(Protocol):
    """What this module needs from a controller."""

    @property
    def connected(self) -> bool: ...

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None: ...

    def emergency_stop(self) -> None: ...

    async def close(self) -> None: ...


_live: weakref.WeakSet[Stoppable] = weakref.WeakSet()
_installed = False
_previous_excepthook: (
    Callable[[type[BaseException], BaseException, TracebackType | None], object] | None
) = None
# Signals whose fallback handler we installed, and on which loop.
_signal_loop: asyncio.AbstractEventLoop | None = None
_signals: list[signal.Signals] = []
# What to do once the motors are stopped after a signal (None: end the process by it).
_signal_exit: Callable[[signal.Signals], None] | None = None


def set_signal_exit(callback: Callable[[signal.Signals], None] | None) -> None:
    """How the app wants to leave after SIGTERM/SIGHUP once the motors are stopped.

    A full-screen app passes its own clean exit (restoring the terminal);
    by default the signal is delivered again with its default action.
    """
    global _signal_exit
    _signal_exit = callback


def live() -> list[Stoppable]:
    """The controllers registered now (for tests and the exit paths)."""
    return list(_live)


def register(controller: Stoppable) -> None:
    """Cover ``controller`` by the process-wide stop paths (idempotent)."""
    _live.add(controller)
    _install_process_hooks()
    with contextlib.suppress(RuntimeError):
        _install_signal_fallback(asyncio.get_running_loop())


def unregister(controller: Stoppable) -> None:
    """``controller`` holds no connection any more."""
    _live.discard(controller)
    if not _live:
        _remove_signal_fallback()


def _install_process_hooks() -> None:
    global _installed, _previous_excepthook
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook


def _install_signal_fallback(loop: asyncio.AbstractEventLoop) -> None:
    global _signal_loop
    if _signal_loop is loop:
        return
    _remove_signal_fallback()
    for sig in FALLBACK_SIGNALS:
        # Only where the default action (end the process, no clean-up) would
        # apply: a handler of the app's own (run.py's, the loop's) already
        # ends the session, which stops the motor.
        if signal.getsignal(sig) is not signal.SIG_DFL:
            continue
        try:
            loop.add_signal_handler(sig, _on_signal, sig)
        except (ValueError, RuntimeError, NotImplementedError):
            continue  # not the main thread, or a loop without signal support
        _signals.append(sig)
    _signal_loop = loop


def _remove_signal_fallback() -> None:
    global _signal_loop
    loop, _signal_loop = _signal_loop, None
    signals = list(_signals)
    _signals.clear()
    if loop is None or loop.is_closed():
        return
    for sig in signals:
        with contextlib.suppress(ValueError, RuntimeError):
            loop.remove_signal_handler(sig)


def _on_signal(sig: signal.Signals) -> None:
    log.warning("received %s: stopping the motor before leaving", sig.name)
    controllers = live()
    for controller in controllers:
        # The latch first: the worker writes the stop on its next turn, even if
        # the close below were to be slow.
        with contextlib.suppress(Exception):
            controller.emergency_stop()
    loop = _signal_loop
    if loop is None:
        _die(sig)
        return
    loop.create_task(_close_then_die(controllers, sig))


async def _close_then_die(controllers: list[Stoppable], sig: signal.Signals) -> None:
    try:
        await asyncio.wait_for(
            asyncio.gather(*(c.close() for c in controllers), return_exceptions=True),
            EXIT_TIMEOUT,
        )
    except Exception:
        log.error("the motor could not be stopped cleanly on %s", sig.name, exc_info=True)
    if _signal_exit is not None:
        try:
            _signal_exit(sig)
            return
        except Exception:
            log.error("the app's exit after %s failed", sig.name, exc_info=True)
    _die(sig)


def _die(sig: signal.Signals) -> None:
    # The motor is off: now end the way the sender of the signal asked.
    _remove_signal_fallback()
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)


def stop_all_blocking(reason: str) -> int:
    """Stop and disconnect every registered controller from outside its event loop.

    For the exit paths: runs each controller's ``close()`` on its own loop when
    that loop is stopped but not closed. Returns how many could not be stopped.
    """
    failed = 0
    for controller in live():
        if not controller.connected:
            continue
        loop = controller.loop
        if loop is None or loop.is_closed() or loop.is_running():
            # A closed loop took the connection with it; a running one (another
            # thread) cannot be entered from here.
            log.error("could not stop the motor at %s: its event loop is not usable", reason)
            failed += 1
            continue
        try:
            loop.run_until_complete(asyncio.wait_for(controller.close(), EXIT_TIMEOUT))
        except BaseException:
            log.error("could not stop the motor at %s", reason, exc_info=True)
            failed += 1
    return failed


def _at_exit() -> None:
    stop_all_blocking("interpreter exit")


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    stop_all_blocking("an uncaught exception")
    hook = _previous_excepthook or sys.__excepthook__
    hook(exc_type, exc, tb)

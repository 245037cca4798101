"""Messages that workers and listeners send to the screens.

Long work (reading the library, scanning, connecting, testing a device,
exporting) runs in Textual workers, and the engine and the device controller
call their listeners from wherever they run; all of them report back with
these messages, so the screens change only in their own message handlers, and
tests can watch the traffic with ``run_test(message_hook=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from tproutine.devices.status import DeviceStatus, FoundDevice
    from tproutine.engine.events import Event
    from tproutine.history.progress import RoutineSeries
    from tproutine.history.store import SessionRow
    from tproutine.tui.catalog import RoutineEntry


class LibraryLoaded(Message):
    """The routine files were read (each entry may carry its own errors).

    ``complete`` is false while the worker still reads files the cache did not have.
    """

    bubble = False  # for the screen that started the work, not its parents

    def __init__(self, entries: Sequence[RoutineEntry], *, complete: bool = True) -> None:
        super().__init__()
        self.entries = list(entries)
        self.complete = complete


class SessionEvent(Message):
    """One event of the running session (segment_start, cue, pause, session_end ...)."""

    bubble = False  # for the screen that started the work, not its parents

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class DeviceStatusChanged(Message):
    """The device controller published a new status."""

    bubble = False  # for the screen that started the work, not its parents

    def __init__(self, status: DeviceStatus) -> None:
        super().__init__()
        self.status = status


class ScanFinished(Message):
    """A scan ended: the devices found, or why it failed."""

    bubble = False  # for the screen that started the work, not its parents

    def __init__(self, found: Sequence[FoundDevice], error: str | None = None) -> None:
        super().__init__()
        self.found = list(found)
        self.error = error


class ConnectFinished(Message):
    """A connect or disconnect ended; ``error`` says why it failed."""

    bubble = False  # for the screen that started the work, not its parents

    def __init__(self, action: str, target: str, error: str | None = None) -> None:
        super().__init__()
        self.action = action  # "connect" or "disconnect"
        self.target = target
        self.error = error


class DeviceTestFinished(Message):
    """The short test run (2 s at 20 %) ended."""

    bubble = False  # for the screen that started the work, not its parents

    def __init__(self, error: str | None = None) -> None:
        super().__init__()
        self.error = error


class HistoryExported(Message):
    """The history was written to ``path`` (or could not be: ``error``)."""

    bubble = False  # for the screen that started the work, not its parents

    def __init__(self, path: Path, error: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.error = error


class HistoryPage(Message):
    """A page of sessions, read off the UI (``offset`` 0: the first, with ``total``
    and the chart of the newest session's routine); ``generation``: which reload."""

    bubble = False  # for the screen that started the work, not its parents

    def __init__(
        self,
        generation: int,
        offset: int,
        rows: Sequence[SessionRow],
        total: int,
        series: RoutineSeries | None = None,
    ) -> None:
        super().__init__()
        self.generation = generation
        self.offset = offset
        self.rows = list(rows)
        self.total = total
        self.series = series


class HistorySeries(Message):
    """One routine's progress, read off the UI for the History's chart."""

    bubble = False  # for the screen that started the work, not its parents

    def __init__(self, generation: int, series: RoutineSeries) -> None:
        super().__init__()
        self.generation = generation
        self.series = series


class HistoryNews(Message):
    """The history's writer thread has something to say (its :attr:`messages` grew)."""

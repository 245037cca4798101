"""Assembles a running session: clock, engine, and everything that listens to it.

One builder for the command line (``run --plain``), the TUI and the tests, so
they all get the same wiring: the history recorder, the device controller's
seam, cues, the ``--events`` log and the plain text output all subscribe to
one :class:`~tproutine.engine.session.Session`.

Nothing here imports Textual, bleak or Bumble; a device controller is handed in
from outside (see :class:`DeviceLink` and :func:`open_device`). Nor the history,
until a recorder is built: the TUI's ``run FILE`` builds it after its first frame
and the session's events wait for it (:class:`HistoryLater`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tproutine.engine.clock import Clock, RealClock
from tproutine.engine.cues import CueOutput
from tproutine.engine.eventlog import EventLog
from tproutine.engine.events import Event, SessionStatus
from tproutine.engine.plain import PlainOutput
from tproutine.engine.session import Session
from tproutine.routine.timeline import Timeline
from tproutine.settings import Settings

if TYPE_CHECKING:
    # Imported when a recorder is built: sqlite3 and the store cost the TUI's `run FILE`
    # 10-15 ms before its first frame (see build_runtime's ``history_later``).
    from tproutine.history.recorder import HistoryRecorder
    from tproutine.history.store import HistoryStore

log = logging.getLogger(__name__)

Report = Callable[[str], None]


@runtime_checkable
class DeviceLink(Protocol):
    """What the session needs from a device controller (issue 4).

    ``on_event`` is a session listener and must not block: it queues the
    Bluetooth work (set the percent at a segment start, stop on pause, obey the
    engine's emergency stop: ``device`` events with ``by == "session"``) and
    reads ``session.target_percent()`` / ``planned_level()`` for what to send.
    ``start`` connects or begins connecting (it must not hold up the routine; to
    connect *before* the clock starts, see :class:`ConnectsFirst`);
    ``aclose`` stops the motor and disconnects. The controller reports what it
    does with ``device`` events through ``session`` like any other event source
    would, or through its own messages to the UI.
    """

    def on_event(self, event: Event) -> None: ...

    async def start(self, session: Session) -> None: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class ConnectsFirst(Protocol):
    """A ``DeviceLink`` that can get the device ready before the session's clock starts.

    ``connect_first`` attaches to the (not yet started) session and returns None
    once the device is ready within ``timeout`` seconds (0: do not wait), else one
    line saying why not; the caller then lets the person choose (go on as a timer,
    try again, or not start). A session whose connect-first failed is not connected
    behind the person's back when it starts.
    """

    def connecting_text(self, timeout: float) -> str: ...

    async def connect_first(self, session: Session, timeout: float) -> str | None: ...


def open_device(
    adapter: str | None,
    device: str | None,
    timeline: Timeline,
    settings: Settings,
    report: Report,
) -> DeviceLink | None:
    """The device controller for ``--adapter``/``--device``; None runs the routine as a timer.

    None for ``--adapter none``, ``--device none`` and routines that never use
    the device, so those never import bleak. A malformed adapter is reported
    (once) and the session runs as a timer, as a failed connection would. The
    controller connects in the background once the session starts.
    """
    chosen = adapter or settings.adapter
    if chosen == "none" or device == "none" or not timeline.uses_device:
        return None
    # Imported only now: the controller loads bleak (and Bumble for sim/tcp).
    from tproutine.devices.controller import DeviceError, create_controller

    try:
        return create_controller(chosen, device, settings, report)
    except DeviceError as exc:
        report(f"device: {exc}; running as a timer only")
        return None


class AfterTheDevice:
    """Hands events to ``listener`` once the device has acted on them, in order.

    For the history recorder when a device is driven: its durable commit (an
    fsync: milliseconds, more on a busy disk) runs inside the event dispatch, so
    at a step's start it would hold the motor's command back by that much. The
    events wait until the device's worker has made its pass (``call_after_step``,
    where the device offers it; else one turn of the event loop). ``flush``
    delivers what is waiting: the runtime calls it before anything reads or
    closes the history.
    """

    def __init__(self, listener: Callable[[Event], None], device: object) -> None:
        self._listener = listener
        self._after_step: Callable[[Callable[[], None]], None] | None = getattr(
            device, "call_after_step", None
        )
        self._queue: deque[Event] = deque()
        self._asked = False

    def __call__(self, event: Event) -> None:
        self._queue.append(event)
        if self._asked:
            return
        self._asked = True
        if self._after_step is not None:
            self._after_step(self.flush)
            return
        try:
            asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:
            self.flush()  # no loop to wait for: at once

    def flush(self) -> None:
        self._asked = False
        while self._queue:
            event = self._queue.popleft()
            try:
                self._listener(event)
            except Exception:
                log.exception("a session listener failed on %s", event.event)


@dataclass(eq=False)
class HistoryLater:
    """A recorder still to be built, and the session's events until it is.

    The TUI's ``run FILE`` paints the Player before it imports the history (sqlite3,
    the store) and builds the recorder; a session that starts meanwhile loses
    nothing: its events are kept here, in order, each with the moment it came
    (:func:`time.monotonic`), and handed to the recorder once it exists
    (:meth:`Runtime.attach_history`).
    """

    open_store: Callable[[], HistoryStore]
    file: str | None
    pain_before: int | None
    preview: bool
    held: list[tuple[Event, float]] = field(default_factory=list)


class Runtime:
    """A session with its listeners, ready to run; ``async with`` closes the listeners.

    After the session, ``set_pain_after`` records the "pain now" rating and
    ``close`` closes the history. A history built later (``history_later``) is
    attached by :meth:`attach_history`, or at the latest when anything reads
    :attr:`store` or :attr:`recorder`, or the session closes.
    """

    def __init__(
        self,
        timeline: Timeline,
        session: Session,
        clock: Clock,
        *,
        settings: Settings,
        report: Report,
        store: HistoryStore | None,
        recorder: HistoryRecorder | None,
        cues: CueOutput | None,
        event_log: EventLog | None,
        plain: PlainOutput | None,
        device: DeviceLink | None,
        owns_store: bool = True,
        history_later: HistoryLater | None = None,
    ) -> None:
        self.timeline = timeline
        self.session = session
        self.clock = clock
        self.settings = settings
        self._store = store
        self._recorder = recorder
        self._later = history_later
        self.cues = cues
        self.event_log = event_log
        self.plain = plain
        self.device = device
        self._report = report
        self._owns_store = owns_store  # a store handed in (the TUI's) stays open
        self._reported: set[str] = set()
        self._history_seen = 0
        self._closed = False
        self._record_later: AfterTheDevice | None = None

    def report(self, line: str) -> None:
        """Say something to the person once (a problem that does not stop the routine)."""
        if line not in self._reported:
            self._reported.add(line)
            self._report(line)

    @property
    def store(self) -> HistoryStore | None:
        """The history (None: off, or closed); one still to be built is attached now."""
        self.attach_history()
        return self._store

    @property
    def recorder(self) -> HistoryRecorder | None:
        """The session's recorder (None: no history); one still to be built is built now."""
        self.attach_history()
        return self._recorder

    @property
    def history_waiting(self) -> bool:
        """The recorder is still to be built: the session's events are kept for it."""
        return self._later is not None

    def attach_history(self) -> None:
        """Build the recorder that waited (``history_later``) and hand it what the session
        did meanwhile, in order; from then on it records as the events come.

        The app calls it after its first frame, with the history's modules imported
        already (by a thread); anything that needs the history before (the session's
        end, a quit, the summary) calls it through :meth:`aclose`, :attr:`store` or
        :attr:`recorder`, and the import happens then. Does nothing the second time.
        """
        later, self._later = self._later, None
        if later is None:
            return
        try:
            store = later.open_store()
        except Exception as exc:
            # A history problem never stops a routine (nor its close): it goes unrecorded.
            self.report(f"history: this session cannot be saved: {exc}")
            return
        recorder = _recorder(self.timeline, store, later.file, later.pain_before, later.preview)
        self._store, self._recorder = store, recorder
        recorder.replay(later.held, monotonic())
        self._history_problems()

    def _record(self, event: Event) -> None:
        if self._later is not None:
            self._later.held.append((event, monotonic()))
            return
        if self._recorder is not None:
            self._recorder(event)
        self._history_problems()

    def _flush_record(self) -> None:
        if self._record_later is not None:
            self._record_later.flush()

    def _history_problems(self, event: Event | None = None) -> None:
        # The store keeps one line per distinct problem; pass on the new ones.
        if self._store is None:
            return
        for line in self._store.messages[self._history_seen :]:
            self.report(line)
        self._history_seen = len(self._store.messages)

    def report_history_problems(self) -> None:
        """Pass on what the history said since (its writer thread may say it between
        the session's events)."""
        self._history_problems()

    def connecting_text(self, timeout: float) -> str | None:
        """What :meth:`connect_device` is about to do, for the person; None when there
        is nothing to wait for (no device, or ``timeout`` 0)."""
        device = self.device
        if timeout <= 0 or not isinstance(device, ConnectsFirst):
            return None
        return device.connecting_text(timeout)

    async def connect_device(self, timeout: float) -> str | None:
        """Get the device ready before the session's clock starts (``run`` then loses no
        routine time to connecting): None when ready or there is nothing to wait for,
        else one line saying why not."""
        device = self.device
        if timeout <= 0 or not isinstance(device, ConnectsFirst):
            return None
        return await device.connect_first(self.session, timeout)

    async def run(self) -> SessionStatus:
        """Run the session to its end (or a stop); returns its status."""
        if self.device is not None:
            try:
                await self.device.start(self.session)
            except Exception as exc:
                # A device that fails to start never blocks the routine: it runs as a timer.
                self.report(f"device: {exc}; running as a timer only")
        return await self.session.run()

    async def aclose(self) -> None:
        """Motor off, voice quiet, event log closed (the history stays open)."""
        if self._closed:
            return
        self._closed = True
        self.session.interrupt()  # no-op unless the session is still going
        if self.device is not None:
            try:
                await self.device.aclose()
            except Exception as exc:
                self.report(f"device: could not close cleanly: {exc}")
        # The session is over: a recorder that waited for the first frame waits no more
        # (a session ended, quit or crashed that early is recorded all the same).
        self.attach_history()
        self._flush_record()
        if self.cues is not None:
            # Let "Routine complete." be heard; a stopped session goes quiet at once.
            grace = 3.0 if self.session.status == "completed" else 0.0
            await self.cues.aclose(grace=grace)
        if self.event_log is not None:
            self.event_log.close()
        self._history_problems()

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def set_pain_after(self, pain: int | None) -> None:
        self.attach_history()
        self._flush_record()
        if self._recorder is not None and pain is not None:
            self._recorder.set_pain_after(pain)
            self._history_problems()

    def close(self) -> None:
        """Close the history store (after the pain rating) if this runtime opened it."""
        self.attach_history()
        self._flush_record()
        if self._store is not None:
            if self._owns_store:
                # Closing writes what waited for a busy database (or keeps it in a
                # journal); what it says then is said here too.
                with contextlib.suppress(Exception):
                    self._store.close()
            self._history_problems()
            self._store = None


def _recorder(
    timeline: Timeline,
    store: HistoryStore,
    file: str | None,
    pain_before: int | None,
    preview: bool,
) -> HistoryRecorder:
    """The session's recorder, once the sessions of dead processes are marked
    ``interrupted`` (imported here: see :class:`HistoryLater`)."""
    from tproutine.history.recorder import HistoryRecorder

    store.mark_interrupted()
    return HistoryRecorder(timeline, file, pain_before, store, preview=preview)


def _warn(line: str) -> None:
    log.warning("%s", line)


def build_runtime(
    timeline: Timeline,
    *,
    settings: Settings | None = None,
    clock: Clock | None = None,
    speed: float = 1.0,
    scale: float = 1.0,
    max_intensity: float | None = None,
    countdown: int | None = None,
    voice: Sequence[str] | bool | None = True,
    bell: Callable[[], None] | None = None,
    plain: PlainOutput | None = None,
    event_log: EventLog | None = None,
    history: bool = True,
    history_path: Path | str | None = None,
    store: HistoryStore | None = None,
    file: str | None = None,
    pain_before: int | None = None,
    device: DeviceLink | None = None,
    report: Report | None = None,
    preview: bool | None = None,
    history_later: Callable[[], HistoryStore] | None = None,
) -> Runtime:
    """Build a session and subscribe its listeners.

    ``settings`` give the defaults that the keyword arguments override:
    ``max_intensity`` (None: the settings' cap), ``countdown``, and ``voice``
    (True: the settings' speech command; False/None: none; a list: that argv).
    ``clock`` defaults to a real clock at ``speed``. The history store is opened
    at the default path (or ``history_path``, or the given ``store``) unless
    ``history`` is False; sessions left running by a dead process are marked
    ``interrupted`` first. Problems that do not stop a routine (a read-only data
    folder, a missing voice program) go to ``report``, once each. A ``preview``
    session (default: ``speed`` other than 1) is recorded but never counted as done.

    ``history_later`` (instead of ``store``; the TUI's ``run FILE``): the history is
    neither imported nor opened now. The session's events are kept until
    :meth:`Runtime.attach_history` gets the store from ``history_later`` and builds
    the recorder, which records them as if it had listened from the start.
    """
    settings = settings or Settings()
    clock = clock or RealClock(speed)
    cap = settings.max_intensity if max_intensity is None else max_intensity
    session = Session(
        timeline,
        clock,
        scale=scale,
        max_intensity=cap,
        countdown=settings.countdown if countdown is None else countdown,
    )
    runtime_report: list[Runtime] = []

    def say(line: str) -> None:
        # Routed through the runtime once it exists, so every problem is said once.
        if runtime_report:
            runtime_report[0].report(line)
        else:
            (report or _warn)(line)

    if preview is None:
        preview = speed != 1.0
    later: HistoryLater | None = None
    recorder: HistoryRecorder | None = None
    owns_store = history and store is None and history_later is None
    if history_later is not None:
        later = HistoryLater(history_later, file, pain_before, preview)
    else:
        if owns_store:
            from tproutine.history.store import HistoryStore

            store = HistoryStore.open(history_path)
        if store is not None:
            recorder = _recorder(timeline, store, file, pain_before, preview)
    if voice is True:
        argv = settings.speech_command()
    elif voice is False or voice is None:
        argv = None
    else:
        argv = list(voice)
    cues = CueOutput(bell=bell, voice=argv, report=say) if (bell or argv) else None
    rt = Runtime(
        timeline,
        session,
        clock,
        settings=settings,
        report=report or _warn,
        store=store,
        recorder=recorder,
        cues=cues,
        event_log=event_log,
        plain=plain,
        device=device,
        owns_store=owns_store,
        history_later=later,
    )
    runtime_report.append(rt)
    rt._history_problems()
    if voice is True and settings.voice and argv is None:
        rt.report("voice is on in the settings but no speech program was found; using the bell")
    # The record first and the device next: both matter more than the text. With a
    # device, the record's disk write waits a loop turn so the motor's command goes first.
    if recorder is not None or later is not None:
        if device is not None:
            rt._record_later = AfterTheDevice(rt._record, device)
            session.subscribe(rt._record_later)
        else:
            session.subscribe(rt._record)
    if device is not None:
        session.subscribe(device.on_event)
    if cues is not None:
        session.subscribe(cues)
    if plain is not None:
        session.subscribe(plain)
    if event_log is not None:
        session.subscribe(event_log)
    return rt

"""The tproutine terminal app and ``make_app``, the one factory the CLI and the tests use.

The app owns what outlives a screen: the settings, the routine library, the
history store, the device controller and the running session's
:class:`~tproutine.runtime.Runtime`. Screens render and send commands; the
engine keeps the time. Each screen is imported when it is first shown (the
Library at start-up, the Player first for ``run FILE``), and the engine, the
history and anything Bluetooth when first used, so the first paint stays close
to a bare Textual app's.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, ClassVar

from textual import constants, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import Initialize, Reactive
from textual.screen import Screen

from tproutine.safetext import one_line, visible
from tproutine.tui.messages import DeviceStatusChanged, HistoryNews

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

    from tproutine.devices.status import DeviceStatus, FoundDevice
    from tproutine.engine.clock import Clock
    from tproutine.engine.eventlog import EventLog
    from tproutine.history.store import HistoryStore
    from tproutine.routine.timeline import Timeline
    from tproutine.runtime import Runtime
    from tproutine.settings import Settings
    from tproutine.tui.catalog import RoutineEntry
    from tproutine.tui.controller import Controller
    from tproutine.tui.screens.player import PlayerScreen

_HERE = Path(__file__).resolve().parent


def early_theme() -> str | None:
    """The ``theme`` of ``config.toml``, read on its own for the first paint.

    The settings module (and the YAML library it brings) is loaded after the first
    paint; painting needs only the theme, so it is read here with tomllib alone.
    Anything wrong with the file is said once the full settings are read.
    """
    import sys

    from tproutine import paths

    path = paths.config_path()
    if not path.is_file():
        return None  # the usual case: no settings file, nothing more to load
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    theme = data.get("theme")
    return theme if isinstance(theme, str) else None


def _actions_provider() -> type:
    # Imported when the palette first opens, not at start-up.
    from tproutine.tui.palette import ActionsProvider

    return ActionsProvider


@dataclass(frozen=True, eq=False)
class AppOptions:
    """How the app was asked to run (the command line, or a test).

    Compared by identity: it holds a timeline, a log and callables.
    """

    files: tuple[Path, ...] = ()  # extra routine files for the Library
    # (folder, origin label) pairs; None = the bundled routines and the person's own.
    routine_dirs: tuple[tuple[Path, str], ...] | None = None
    speed: float = 1.0
    adapter: str | None = None
    device: str | None = None
    max_intensity: float | None = None
    scale: float = 1.0
    # Builds the session clock; None = a real clock at ``speed``. Tests pass a FakeClock.
    clock_factory: Callable[[], Clock] | None = None
    # How often the Player reads the session's views. Tests make it long and refresh by hand.
    refresh_interval: float = 0.25
    history_path: Path | None = None
    export_dir: Path | None = None  # where History exports go (None = the current folder)
    demo: bool = False
    start: Timeline | None = None  # open this routine in the Player at once (`run FILE`)
    # `run --events`: the log for the `start` routine's session (opened by the caller,
    # so a path that cannot be written stops `run` before the app opens).
    event_log: EventLog | None = None
    yes: bool = False  # warnings acknowledged on the command line: no Before-start modal
    bell: bool = True
    voice: bool = True  # speak cues when the settings name a voice
    save_theme: bool = True  # remember the theme the person picks
    scan_timeout: float = 5.0
    # Seconds to wait for the device before a session's clock starts (None: the settings').
    connect_timeout: float | None = None
    # Finds devices: (adapter, timeout) -> devices. None = the controller's own scan.
    scanner: Callable[[str, float], Awaitable[list[FoundDevice]]] | None = None


class TProutineApp(App[int]):
    """Guided trigger-point and stretching routines."""

    TITLE = "tproutine"
    # Every screen's look, read once at start-up: a screen's own CSS_PATH would make
    # Textual re-parse all the CSS of the app each time a new kind of screen opens.
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        _HERE / f"{name}.tcss"
        for name in ("app", "library", "dialogs", "player", "summary", "devices", "history")
    ]
    COMMANDS = App.COMMANDS | {_actions_provider}

    _theme_wanted: str | None = None  # the theme the settings name, if any

    def _first_theme(self) -> str:
        """The person's theme, or Textual's default when they named none (or one that
        does not exist: on_mount says so)."""
        self._theme_wanted = self._settings.theme if self._settings is not None else early_theme()
        if self._theme_wanted and self._theme_wanted in self.available_themes:
            return self._theme_wanted
        return constants.DEFAULT_THEME

    # The person's theme from the start: Textual builds the stylesheet's variables
    # from the theme in App.__init__, and a theme set later (in on_mount) re-parses
    # all the CSS and restyles every widget: 35-45 ms of every start for anyone who
    # ever picked a theme.
    theme: Reactive[str] = Reactive(Initialize(_first_theme))
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+q",
            "stop_and_quit",
            "Quit",
            tooltip="Stop the motor and quit",
            show=False,
            priority=True,
        ),
        Binding("question_mark", "help", "Help", key_display="?"),
    ]

    def __init__(
        self,
        options: AppOptions,
        settings: Settings | None = None,
        *,
        controller: Controller | None = None,
        store: HistoryStore | None = None,
        device_note: str | None = None,
    ) -> None:
        # Before Textual's __init__, which reads the theme (_first_theme).
        self._settings = settings
        super().__init__()
        self.options = options
        self.controller = controller
        # Without a controller given, the app builds its own when a device is first used.
        self._may_build_controller = controller is None
        self.device_note = device_note
        self.entries: list[RoutineEntry] | None = None
        self.runtime: Runtime | None = None
        self._store = store
        self._own_store = store is None
        self._unsubscribe: Any = None
        self._start_logged = False
        self._begun = False  # `run FILE`'s routine is under way (the Player is built)
        self._store_lock = threading.Lock()  # history_store() from the UI and workers

    # ------------------------------------------------------------------ set-up

    def get_default_screen(self) -> Screen[Any]:
        start = self.options.start
        if start is not None and not self._asks_first(start):
            # `run FILE` with nothing to ask first: the Player is the app's first
            # screen, so that Textual builds, styles and draws one screen before the
            # first frame rather than two; the Library follows the session
            # (back_to_library). Called before on_mount, once.
            self._begun = True
            player = self.open_player(start, start.source, pain_before=None, show=False)
            if player is not None:
                # Textual gives a pushed screen a result callback and drops it when
                # the screen is switched away (to the Summary); a first screen has
                # none, and switch_screen would fail on it (textual 8.2).
                player._push_result_callback(self, None)
                return player
        # Imported here: `run FILE` shows the Player first, the Library only later.
        from tproutine.tui.screens.library import LibraryScreen

        return LibraryScreen()

    def back_to_library(self) -> None:
        """Close the screen on top and show the Library: the one under it, or a new
        one when `run FILE` began with the Player as the first screen."""
        if len(self.screen_stack) > 1:
            self.pop_screen()
            return
        from tproutine.tui.screens.library import LibraryScreen

        self.switch_screen(LibraryScreen(now=True))

    @property
    def settings(self) -> Settings:
        """The person's settings, read from ``config.toml`` the first time they are needed."""
        if self._settings is None:
            from tproutine.settings import Settings, SettingsError

            try:
                self._settings = Settings.load()
            except SettingsError as err:
                # The valid keys over the defaults; each mistake is said once.
                self._settings = err.settings
                for line in err.problems:
                    self.notify(line, severity="warning", timeout=8)
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._settings = value

    def on_mount(self) -> None:
        if not gc.isenabled():
            # The command line turned the collector off for the start-up (see
            # commands/app.py); it is back on once the first frame is painted.
            self.call_after_refresh(gc.enable)
        wanted = self._theme_wanted
        if wanted and wanted not in self.available_themes:
            self.notify(
                f"settings: there is no theme {wanted!r}; using the default",
                severity="warning",
                timeout=8,
            )
        if self.options.save_theme:
            self.theme_changed_signal.subscribe(self, self._remember_theme)
        if self.controller is not None and self._unsubscribe is None:
            # (A controller built for `run FILE`'s first screen subscribed already.)
            self._unsubscribe = self.controller.subscribe(self._controller_status)
        # The full settings after the first paint (their problems are said then).
        self.call_after_refresh(lambda: self.settings)
        if self.options.demo:
            # After the first paint: the controller loads bleak and the virtual massager
            # loads Bumble, which must not delay the Library.
            self.call_after_refresh(self._connect_demo)
        if self.options.start is not None and not self._begun:
            # `run FILE` with a question first (safety list, pain rating): asked over
            # the Library, which is built only once it is shown.
            self.begin(self.options.start, self.options.start.source)

    def _remember_theme(self, theme: Any) -> None:
        name = getattr(theme, "name", str(theme))
        if name == self.settings.theme:
            return
        from dataclasses import replace

        from tproutine.settings import SettingsError, save_setting

        try:
            save_setting("theme", name)
        except (SettingsError, OSError) as exc:
            self.notify(f"could not save the theme: {exc}", severity="warning")
            return
        self.settings = replace(self.settings, theme=name)

    # ------------------------------------------------------------------ pieces

    def library_folders(self) -> tuple[tuple[Path, str], ...]:
        if self.options.routine_dirs is not None:
            return self.options.routine_dirs
        from tproutine import paths

        return ((paths.bundled_routines_dir(), "bundled"), (paths.user_routines_dir(), "yours"))

    def history_store(self) -> HistoryStore:
        """The history, opened the first time it is needed.

        Screens that only read call this from their worker threads: opening may wait
        for another program's lock (the 2 s busy timeout), and the screen must not.
        """
        with self._store_lock:
            if self._store is None:
                from tproutine.history.store import HistoryStore

                self._store = HistoryStore.open(self.options.history_path)
                for line in self._store.messages:
                    self.notify(line, severity="warning", timeout=8)  # thread-safe
            return self._store

    def _open_history_soon(self) -> HistoryStore:
        """The history for a session, written behind the screen: the store's own thread
        opens it (if it is not open yet), checks the database (``PRAGMA quick_check``
        reads all of it), sweeps the sessions of dead processes and writes the
        session's records; what it finds is said through the session
        (``Runtime.report``). None of it waits for the Player or holds it up.
        """
        with self._store_lock:  # a screen's worker may be opening it for reading
            if self._store is None:
                from tproutine.history.store import HistoryStore

                self._store = HistoryStore.open(self.options.history_path, behind=True)
            store = self._store
        # Each step's record is committed by the store's own thread: an fsync, or
        # another program's lock on the database, never holds the Player up.
        store.on_news = self._history_news
        store.write_behind()
        return store

    @work(group="history", exit_on_error=False)
    async def _attach_history(self, runtime: Runtime) -> None:
        """After the first frame: the history's modules (sqlite3, the store: 10-15 ms)
        are imported on a thread, then the session's recorder is built and handed what
        the session did meanwhile (``Runtime.attach_history``)."""
        import asyncio
        import importlib

        try:
            await asyncio.to_thread(importlib.import_module, "tproutine.history.recorder")
            runtime.attach_history()
        except Exception as exc:
            # The routine goes on without its record, as with any history problem.
            self.report(f"history: this session cannot be saved: {exc}")

    def _history_news(self) -> None:
        # On the history's writer thread: a message is the thread-safe way in.
        self.post_message(HistoryNews())

    def on_history_news(self, message: HistoryNews) -> None:
        # Through the session, which says each line once (and all of them at its start).
        if self.runtime is not None:
            self.runtime.report_history_problems()

    def make_clock(self) -> Clock:
        if self.options.clock_factory is not None:
            return self.options.clock_factory()
        from tproutine.engine.clock import RealClock

        return RealClock(self.options.speed)

    @property
    def adapter(self) -> str:
        """The Bluetooth stack: ``--adapter``, else the settings' (``system`` by default)."""
        return self.options.adapter or self.settings.adapter

    @property
    def connect_timeout(self) -> float:
        """How long a session waits for its device before the clock starts (0: not at all)."""
        if self.options.connect_timeout is not None:
            return self.options.connect_timeout
        return self.settings.connect_timeout

    @property
    def devices_enabled(self) -> bool:
        """Whether there is, or can be, a device controller (not with ``--adapter none``)."""
        if self.controller is not None:
            return True
        return (
            self._may_build_controller and self.adapter != "none" and self.options.device != "none"
        )

    def ensure_controller(self) -> Controller | None:
        """The controller, built the first time a device is used (bleak loads then)."""
        if self.controller is None and self.devices_enabled:
            self._may_build_controller = False  # one try: a bad adapter is said once
            from tproutine.devices.controller import create_controller

            try:
                # keep_connected: the app keeps the device between sessions.
                self.controller = create_controller(
                    self.adapter,
                    self.options.device,
                    self.settings,
                    self.report,
                    keep_connected=True,
                    full_screen=True,
                )
            except Exception as exc:
                # A malformed adapter and the like: the app goes on without a device.
                self.report(f"device: {exc}; running as a timer only")
                return None
            self._unsubscribe = self.controller.subscribe(self._controller_status)
            self.post_message(DeviceStatusChanged(self.controller.status))
        return self.controller

    async def get_controller(self) -> Controller | None:
        """``ensure_controller`` for workers: the import of bleak happens off the UI."""
        if self.controller is None and self.devices_enabled:
            import asyncio
            import importlib

            await asyncio.to_thread(importlib.import_module, "tproutine.devices.controller")
        return self.ensure_controller()

    @work(exclusive=True, group="demo-device")
    async def _connect_demo(self) -> None:
        controller = await self.get_controller()
        if controller is None:
            return
        try:
            await controller.connect(None)
        except Exception as exc:
            self.report(f"the virtual massager did not connect: {exc}")

    @property
    def device_status(self) -> DeviceStatus:
        """What the device panels show now."""
        if self.controller is not None:
            return self.controller.status
        from tproutine.devices.status import DeviceStatus

        return DeviceStatus(state="none", message=self.device_note)

    def _controller_status(self, status: DeviceStatus) -> None:
        # The controller may publish from its own task; a message puts the update
        # on the app's queue, and the handler reaches every device panel.
        self.post_message(DeviceStatusChanged(status))

    def on_device_status_changed(self, message: DeviceStatusChanged) -> None:
        from tproutine.tui.widgets.device_panel import DevicePanel

        for screen in self.screen_stack:
            for panel in screen.query(DevicePanel):
                panel.status = message.status

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification is text, never markup, with control characters shown.

        A message may carry a setting's value, a file's or a device's name, or an
        error's words (``pip install 'tproutine[sim]'``): as markup, brackets would be
        eaten or fail to parse. ``markup`` is accepted (screens pass it) and ignored.
        """
        super().notify(
            visible(message),
            title=one_line(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def report(self, line: str) -> None:
        """A problem that does not stop anything: said once, in a notification."""
        self.notify(line, severity="warning", timeout=8)

    # ------------------------------------------------------------------ sessions

    def begin(self, timeline: Timeline, source: str | None = None, *, easier: bool = False) -> None:
        """Start a routine: the Before-start modal first when it has something to ask.

        A routine from the Library is read again with the adjustment in the person's
        library (if any); ``easier`` makes it "easier today" on top.
        """
        from tproutine import paths

        if (
            source is not None
            and timeline is not self.options.start
            and (easier or paths.has_adjustments())
        ):
            # Read again with the person's adjustment for it (the Library's timeline is
            # the file as written, read and checked just now: with no adjustment file
            # at all, that is what runs, and the adjustments' code is not loaded).
            from tproutine.routine.adjust import timeline_for
            from tproutine.yamlsafe import LoadError

            try:
                timeline = timeline_for(source, report=self.report, easier=easier)
            except LoadError as err:
                self.notify(f"cannot start it: {err.problems[0]}", severity="error")
                return
        elif easier:
            timeline = self.eased(timeline) or timeline
        ask_pain = self.settings.pain_prompts
        if not self._asks_first(timeline):
            self.open_player(timeline, source, pain_before=None)
            return

        from tproutine.tui.screens.before_start import BeforeStartScreen, StartChoice

        def chosen(choice: StartChoice | None) -> None:
            if choice is None:
                return
            final = timeline
            if choice.easier and not _is_eased(timeline):
                final = self.eased(timeline) or timeline
            self.open_player(final, source, pain_before=choice.pain)

        self.push_screen(BeforeStartScreen(timeline, ask_pain=ask_pain), chosen)

    def _asks_first(self, timeline: Timeline) -> bool:
        """Whether the Before-start modal has something to ask (safety items, or the
        pain rating the settings want); not for the routine `run FILE --yes` named."""
        if self.options.yes and timeline is self.options.start:
            return False
        return bool(timeline.warnings or timeline.avoid_if) or self.settings.pain_prompts

    def eased(self, timeline: Timeline) -> Timeline | None:
        """The routine "easier today" (time ×0.75, pressure −1, device −10 points); None
        (and a notification) when its file cannot be read again."""
        from tproutine.routine.adjust import eased
        from tproutine.yamlsafe import LoadError

        try:
            return eased(timeline)
        except LoadError as err:
            self.notify(f"easier today is not available: {err.problems[0]}", severity="warning")
            return None

    def open_player(
        self,
        timeline: Timeline,
        source: str | None,
        *,
        pain_before: int | None,
        show: bool = True,
    ) -> PlayerScreen | None:
        """Build the session with the shared runtime builder and show the Player
        (``show``; otherwise the caller shows it). None if a session runs already."""
        from tproutine.runtime import DeviceLink, build_runtime
        from tproutine.tui.screens.player import PlayerScreen

        if self.runtime is not None and self.runtime.session.state != "finished":
            self.notify("A session is already running.", severity="warning")
            return None
        # The app's one controller drives every session (it stays connected between
        # them); it is built only for a routine that uses the device, or once it exists.
        controller = self.ensure_controller() if timeline.uses_device else self.controller
        device: DeviceLink | None = None
        if isinstance(controller, DeviceLink):
            device = controller
        event_log = None
        if timeline is self.options.start and not self._start_logged:
            # The log belongs to the routine named on the command line, once.
            event_log = self.options.event_log
            self._start_logged = True
        # With the history not open yet (`run FILE`), it is neither imported nor opened
        # before the Player's first frame: the session's events wait for the recorder.
        later = self._store is None
        runtime = build_runtime(
            timeline,
            settings=self.settings,
            clock=self.make_clock(),
            scale=self.options.scale,
            max_intensity=self.options.max_intensity,
            voice=True if self.options.voice else None,
            bell=self.bell if self.options.bell else None,
            event_log=event_log,
            store=None if later else self._open_history_soon(),
            history_later=self._open_history_soon if later else None,
            file=source,
            pain_before=pain_before,
            device=device,
            report=self.report,
            preview=self.options.speed != 1.0,
        )
        self.runtime = runtime
        player = PlayerScreen(runtime)
        if show:
            self.push_screen(player)
        if later:
            from tproutine.tui.widgets.reserved import after_first_frame

            after_first_frame(self, self._attach_history, runtime)
        return player

    def stop_motor(self) -> None:
        """Motor off now: through the session when one runs, and at the controller."""
        runtime = self.runtime
        if runtime is not None and runtime.session.state in ("running", "paused"):
            runtime.session.halt_device()
        if self.controller is not None:
            self.controller.emergency_stop()

    # ------------------------------------------------------------------ actions

    async def action_stop_and_quit(self) -> None:
        """ctrl+q from anywhere: the motor stops first, then the session ends, then the app."""
        self.stop_motor()
        runtime = self.runtime
        if runtime is not None:
            runtime.session.stop()
            await runtime.aclose()
        self.exit(0)

    async def action_quit(self) -> None:
        """Textual's own Quit command goes the safe way too."""
        await self.action_stop_and_quit()

    def action_help(self) -> None:
        from tproutine.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_open_devices(self) -> None:
        from tproutine.tui.screens.devices import DevicesScreen

        if not isinstance(self.screen, DevicesScreen):
            self.push_screen(DevicesScreen())

    def action_open_history(self) -> None:
        from tproutine.tui.screens.history import HistoryScreen

        if not isinstance(self.screen, HistoryScreen):
            self.push_screen(HistoryScreen())

    def action_stop_motor(self) -> None:
        self.stop_motor()
        self.notify("Motor stopped.")

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Devices", "Scan for and connect a device", self.action_open_devices)
        yield SystemCommand("History", "Past sessions and the pain trend", self.action_open_history)
        yield SystemCommand("Help", "Every key of every screen", self.action_help)
        yield SystemCommand("Stop the motor", "Turn the device off now", self.action_stop_motor)
        yield SystemCommand(
            "Stop and quit", "Stop the motor, end the session and quit", self.action_stop_and_quit
        )

    async def on_unmount(self) -> None:
        # However the app ends, the session is closed (the motor off) and the history flushed.
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            await runtime.aclose()
        if self._unsubscribe is not None and callable(self._unsubscribe):
            self._unsubscribe()
        close = getattr(self.controller, "close", None)
        if close is not None:
            # Motor off (awaited) and disconnected before the app is gone.
            await close()
        if self._store is not None and self._own_store:
            self._store.close()
            self._store = None


def _is_eased(timeline: Timeline) -> bool:
    from tproutine.routine.adjust import EASIER_SUMMARY

    note = timeline.adjustment
    return note is not None and note.summary.startswith(EASIER_SUMMARY)


def make_app(
    options: AppOptions | None = None,
    *,
    settings: Settings | None = None,
    controller: Controller | None = None,
    store: HistoryStore | None = None,
    device_note: str | None = None,
) -> TProutineApp:
    """Build the app.

    ``settings`` default to the person's ``config.toml``, read after the first paint
    (only its theme is read before). ``controller`` is a device controller to use
    (tests); without one, the app builds the real one
    (``tproutine.devices.controller``) the first time a device is used, from
    ``options.adapter``/``options.device`` and the settings, and not at all with
    ``--adapter none``. ``device_note`` is a line for the device panel when there
    is no controller. A ``store`` given here is the caller's to close.
    """
    return TProutineApp(
        options or AppOptions(),
        settings,
        controller=controller,
        store=store,
        device_note=device_note,
    )

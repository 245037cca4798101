"""Fixtures for the app's tests: fixed routines, private folders, a fake clock, a fake device.

Every test runs with the XDG folders in ``tmp_path`` (history and settings never
touch the real ones), the clock in UTC (dates in the History are stable), the
routines of ``tests/tui/data/routines`` only, and a :class:`FakeClock` that the
test moves by hand: nothing sleeps for real and the Player's refresh timer is
too slow to fire, so a test refreshes the Player itself after moving the clock.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Footer, OptionList

from tproutine import paths
from tproutine.devices.status import DeviceStatus, FoundDevice
from tproutine.engine.clock import FakeClock
from tproutine.history.store import HistoryStore
from tproutine.settings import Settings
from tproutine.tui.app import AppOptions, TProutineApp, make_app

DATA = Path(__file__).resolve().parent / "data" / "routines"
# Longer than any test: the Player's timer never fires, tests refresh by hand.
NEVER = 10_000.0


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    old_tz = os.environ.get("TZ")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    assert paths.history_path().is_relative_to(tmp_path)
    assert paths.cache_dir().is_relative_to(tmp_path)
    yield tmp_path
    # The zone must be reset before other tests run; monkeypatch restores TZ itself later.
    if old_tz is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old_tz
    time.tzset()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


class FakeController:
    """Stands in for the device controller: records calls, publishes what it is told to.

    No behaviour of its own (the lead's simulator-backed tests cover that); a test
    publishes the statuses a real controller would.
    """

    def __init__(self, status: DeviceStatus | None = None) -> None:
        self.status = status or DeviceStatus(
            state="connected", name="Fake massager", profile="Test profile", battery=80
        )
        self.calls: list[Any] = []
        self.listeners: list[Callable[[DeviceStatus], None]] = []

    def subscribe(self, listener: Callable[[DeviceStatus], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def publish(self, status: DeviceStatus) -> None:
        self.status = status
        for listener in list(self.listeners):
            listener(status)

    def emergency_stop(self) -> None:
        self.calls.append("emergency_stop")

    def release_stop(self) -> None:
        self.calls.append("release_stop")

    async def test(self, seconds: float = 2.0, percent: float = 20.0) -> None:
        self.calls.append(("test", seconds, percent))

    async def connect(self, target: FoundDevice | str) -> None:
        self.calls.append(("connect", target))

    async def disconnect(self) -> None:
        self.calls.append("disconnect")


AppFactory = Callable[..., TProutineApp]


@pytest.fixture
def make(xdg: Path, clock: FakeClock) -> AppFactory:
    """``make(**options)``: the app on the test routines, the fake clock and tmp folders.

    ``settings=``, ``controller=``/``device_note=`` and ``store=`` go to ``make_app``;
    the rest are :class:`AppOptions` fields.
    """

    def build(
        *,
        settings: Settings | None = None,
        controller: Any = None,
        device_note: str | None = None,
        store: HistoryStore | None = None,
        **options: Any,
    ) -> TProutineApp:
        defaults: dict[str, Any] = {
            "routine_dirs": ((DATA, "bundled"),),
            "clock_factory": lambda: clock,
            "refresh_interval": NEVER,
            "export_dir": xdg,
            "bell": False,
            # No real device unless a test asks for one (the fake, or adapter="sim").
            "adapter": "none",
            "voice": False,
            "save_theme": False,
        }
        defaults.update(options)
        return make_app(
            AppOptions(**defaults),
            settings=settings or Settings(),
            controller=controller,
            device_note=device_note,
            store=store,
        )

    return build


def screen_text(app: TProutineApp) -> str:
    """The screen as plain text, modal screens and all (what a person would read)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
    )
    screen = app.screen
    console.print(
        screen._compositor.render_update(
            full=True, screen_stack=app._background_screens, simplify=True
        )
    )
    return console.export_text()


def flat(text: str) -> str:
    """Screen text with runs of spaces and line breaks squeezed, for phrase checks."""
    return " ".join(text.split())


# How long a test waits for the app to reach a state before it fails: generous, because
# the machine may be very busy; a test that passes never waits this long.
WAIT_S = 60.0


async def wait_for(pilot: Pilot[Any], what: str, ok: Callable[[], bool]) -> None:
    """Let the app run until ``ok()``; fail after :data:`WAIT_S` with the screen.

    A worker is started after a refresh and its result comes back as a message:
    waiting for workers or for one pause is not enough on a loaded machine.
    """
    deadline = time.monotonic() + WAIT_S
    while not ok():
        if time.monotonic() > deadline:
            app = pilot.app
            assert isinstance(app, TProutineApp)
            pytest.fail(f"waited {WAIT_S:g}s for {what}:\n{screen_text(app)}")
        await pilot.pause(0.02)


async def palette_run(pilot: Pilot[Any], typed: str, title: str) -> None:
    """Open the command palette, type ``typed``, and run the command called ``title``
    once the palette's search (a background task) has it highlighted."""
    from textual.command import CommandList, CommandPalette

    await pilot.press("ctrl+p")
    await wait_for(pilot, "the palette", lambda: isinstance(pilot.app.screen, CommandPalette))
    await pilot.press(*typed)

    def found() -> bool:
        results = pilot.app.screen.query(CommandList)
        if not results:
            return False
        index = results.first().highlighted
        if index is None:
            return False
        return title in str(results.first().get_option_at_index(index).prompt)

    await wait_for(pilot, f"{title!r} in the palette", found)
    await pilot.press("enter")


async def library_ready(pilot: Pilot[Any]) -> None:
    """Wait until the Library has read the routine files (a worker thread) and its keys
    are in place (they come a frame after the list: ``LibraryScreen._mount_footer``)."""
    app = pilot.app
    assert isinstance(app, TProutineApp)
    await wait_for(pilot, "the library", lambda: app.entries is not None)
    await app.workers.wait_for_complete()
    await wait_for(pilot, "the Library's keys", lambda: _keys_shown(app))
    await pilot.pause()


def _keys_shown(app: TProutineApp) -> bool:
    """The Library's keys are in their place and drawn (a Footer draws its keys a
    refresh after it is mounted); true at once for any other screen."""
    from tproutine.tui.screens.library import LibraryScreen

    screen = app.screen
    if not isinstance(screen, LibraryScreen):
        return not screen.query("#footer-later")
    if screen.query("#footer-later") or not screen.query(Footer):
        return False
    return "q Quit" in screen_text(app).splitlines()[-1]


async def settle(pilot: Pilot[Any]) -> None:
    """Let posted messages be handled and the Player re-read the session."""
    from tproutine.tui.screens.player import PlayerScreen

    await pilot.pause()
    screen = pilot.app.screen
    if isinstance(screen, PlayerScreen):
        screen.refresh_view()
    await pilot.pause()


async def advance(pilot: Pilot[Any], clock: FakeClock, seconds: float) -> None:
    """Move session time on, then let the screen catch up."""
    await clock.advance(seconds)
    await settle(pilot)


async def open_routine(pilot: Pilot[Any], name: str) -> None:
    """Highlight the Library row whose routine is called ``name`` and press enter."""
    from tproutine.tui.screens.library import LibraryScreen

    await library_ready(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, LibraryScreen)
    names = [e.name for e in screen._shown]
    assert name in names, names
    routines = screen.query_one("#routines", OptionList)
    routines.focus()
    for _ in range(names.index(name) - (routines.highlighted or 0)):
        await pilot.press("down")
    await pilot.press("enter")
    await pilot.pause()


@contextlib.contextmanager
def history_held(app: TProutineApp, monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """The app's history opens only once the test sets the event it yields, as while
    another program holds the database's lock (tests/history/test_history_lock.py:
    up to the 2 s busy timeout there, as long as the test likes here)."""
    gate = threading.Event()
    real = app.history_store

    def held() -> HistoryStore:
        assert gate.wait(60)
        return real()

    monkeypatch.setattr(app, "history_store", held)
    try:
        yield gate
    finally:
        gate.set()

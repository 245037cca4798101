"""Start-up: the garbage collector is off while the app starts, and on once it painted."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tproutine.commands.app import _collector_off_until_first_paint
from tproutine.engine.clock import FakeClock

from .conftest import DATA, AppFactory, advance, library_ready, screen_text, settle, wait_for


@pytest.fixture
def collector_on() -> Iterator[None]:
    yield
    gc.enable()  # whatever a failing test left behind


def test_the_collector_is_off_while_starting_and_on_however_it_ends(collector_on: None) -> None:
    with _collector_off_until_first_paint():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), _collector_off_until_first_paint():
        raise RuntimeError("the app failed to start")
    assert gc.isenabled()


async def test_the_app_turns_the_collector_on_after_its_first_frame(
    make: AppFactory, collector_on: None
) -> None:
    app = make()
    gc.disable()
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        assert gc.isenabled()


# --- `run FILE`: the history opens on its own thread after the Player's first frame -----


def _left_running_by_a_dead_process() -> int:
    """A session in the history that a process which is gone left ``running``."""
    import sqlite3

    from tproutine import paths
    from tproutine.history.store import HistoryStore, ProcessMarker

    here = ProcessMarker.current()
    if here.proc_start is None:
        pytest.skip("no /proc here: process start times are not available")
    store = HistoryStore.open(paths.history_path())
    sid = store.start_session(
        routine="Earlier", file=None, content_hash="x", segments_total=3, planned_s=90.0
    )
    store.close()
    # This process's pid with another start time: a process that has ended.
    with sqlite3.connect(paths.history_path()) as conn:
        conn.execute("UPDATE sessions SET proc_start = ? WHERE id = ?", (here.proc_start - 1, sid))
    conn.close()
    return sid


async def test_run_file_records_in_the_history_opened_after_the_first_frame(
    make: AppFactory, clock: FakeClock
) -> None:
    from tproutine import paths
    from tproutine.history.store import HistoryStore
    from tproutine.routine import load_timeline
    from tproutine.settings import Settings
    from tproutine.tui.screens.player import PlayerScreen

    earlier = _left_running_by_a_dead_process()
    timeline = load_timeline(DATA / "desk-neck.yaml")
    app = make(start=timeline, yes=True, settings=Settings(pain_prompts=False))
    assert app._store is None  # nothing of the history before the Player is painted
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, "the Player", lambda: isinstance(app.screen, PlayerScreen))
        runtime = app.runtime
        assert runtime is not None
        await wait_for(pilot, "the recorder", lambda: not runtime.history_waiting)
        assert app._store is not None and runtime.store is app._store
        await advance(pilot, clock, 6)
        await pilot.press("q", "y")
        await settle(pilot)
    assert app._store is None  # closed with the app
    store = HistoryStore.open(paths.history_path(), reading=True)
    try:
        by_id = {s.id: s for s in store.sessions()}
    finally:
        store.close()
    assert by_id.pop(earlier).status == "interrupted"  # swept before the session began
    [this] = by_id.values()
    assert (this.routine, this.status) == (timeline.name, "stopped")


async def test_run_file_says_what_happened_to_a_damaged_history(
    make: AppFactory, xdg: Path
) -> None:
    from tproutine import paths
    from tproutine.routine import load_timeline
    from tproutine.settings import Settings
    from tproutine.tui.screens.player import PlayerScreen

    db = paths.history_path()
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    timeline = load_timeline(DATA / "desk-neck.yaml")
    app = make(start=timeline, yes=True, settings=Settings(pain_prompts=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, "the Player", lambda: isinstance(app.screen, PlayerScreen))
        await wait_for(
            pilot,
            "the history's notice",
            lambda: any("history" in str(n.message) for n in app._notifications),
        )
        await pilot.press("ctrl+q")
    assert db.exists()  # a fresh one; the damaged file was moved aside, not lost
    assert any(p.name != db.name for p in db.parent.iterdir() if p.name.startswith(db.stem))


async def test_a_history_opened_for_a_session_that_never_starts_is_closed(
    make: AppFactory,
) -> None:
    from tproutine.routine import load_timeline
    from tproutine.settings import Settings
    from tproutine.tui.screens.before_start import BeforeStartScreen

    timeline = load_timeline(DATA / "desk-neck.yaml")  # it has safety notes: the modal asks
    app = make(start=timeline, settings=Settings(pain_prompts=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, "the modal", lambda: isinstance(app.screen, BeforeStartScreen))
        await pilot.press("ctrl+q")
    assert app._store is None


def test_run_file_starts_with_the_collector_off_from_the_command_line(
    monkeypatch: pytest.MonkeyPatch, xdg: Path, collector_on: None
) -> None:
    # The imports and the routine read before the app are spared the collector too.
    import tproutine.commands.app as commands_app
    import tproutine.commands.run as commands_run
    from tproutine.cli import main

    seen: list[bool] = []

    def run_tui(args: object, timeline: object) -> int:
        seen.append(gc.isenabled())
        return 0

    monkeypatch.setattr(commands_app, "run_tui", run_tui)
    gc.enable()
    assert main(["run", str(DATA / "desk-neck.yaml"), "--yes"]) == 0
    assert seen == [False]
    assert gc.isenabled()  # on again when the command returns, whatever the app did
    assert main(["run", str(DATA / "no-such-file.yaml"), "--yes"]) == 1
    assert gc.isenabled()  # and when it fails before the app
    # --plain has no first frame to wait for: the collector is left alone.
    monkeypatch.setattr(commands_run, "run_plain", lambda args: seen.append(gc.isenabled()) or 0)
    assert main(["run", str(DATA / "desk-neck.yaml"), "--plain", "--yes"]) == 0
    assert seen == [False, True]


# --- the Player's first frame holds the step; the footer and an idle panel come next ---


async def test_the_footer_and_an_unused_device_panel_come_after_the_first_frame_in_their_places(
    make: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.geometry import Region
    from textual.widgets import Footer

    from tproutine.routine import load_timeline
    from tproutine.settings import Settings
    from tproutine.tui.screens.player import PlayerScreen

    kept: dict[str, Region] = {}
    real = PlayerScreen._mount_the_rest

    async def spy(screen: PlayerScreen) -> None:
        # What the first frame showed: the places, at their size, and no list yet.
        kept["footer"] = screen.query_one("#footer-later").region
        kept["device"] = screen.query_one("#device-later").region
        kept["upcoming"] = screen.query_one("#upcoming").region
        assert not screen.query(Footer) and not str(screen.query_one("#upcoming").render())
        # The places draw nothing of their own (a bare Widget draws its name).
        first_frame = screen_text(app)
        assert "later" not in first_frame and "Widget" not in first_frame
        await real(screen)

    monkeypatch.setattr(PlayerScreen, "_mount_the_rest", spy)
    timeline = load_timeline(DATA / "desk-neck.yaml")
    app = make(start=timeline, yes=True, settings=Settings(pain_prompts=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, "the footer", lambda: bool(app.screen.query(Footer)))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PlayerScreen) and not screen.query("#footer-later, #device-later")
        # Nothing moved: each part took the place kept for it.
        assert screen.query_one(Footer).region == kept["footer"]
        assert screen.query_one("#device").region == kept["device"]
        assert screen.query_one("#upcoming").region == kept["upcoming"]
        assert "Then: " in str(screen.query_one("#upcoming").render())


async def test_a_routine_with_the_device_has_its_panel_in_the_first_frame(
    make: AppFactory,
) -> None:
    from tproutine.routine import load_timeline
    from tproutine.settings import Settings
    from tproutine.tui.screens.player import PlayerScreen

    timeline = load_timeline(DATA / "calf-massage.yaml")
    assert timeline.uses_device
    app = make(start=timeline, yes=True, settings=Settings(pain_prompts=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, "the Player", lambda: isinstance(app.screen, PlayerScreen))
        assert app.screen.query("#device") and not app.screen.query("#device-later")


async def test_the_librarys_keys_come_after_the_list_in_their_place(
    make: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.geometry import Region
    from textual.widgets import Footer

    from tproutine.tui.screens.library import LibraryScreen

    kept: dict[str, Region] = {}
    real = LibraryScreen._mount_footer

    async def spy(screen: LibraryScreen) -> None:
        # The first frame: the list and its status, the keys' place, no keys yet.
        kept["footer"] = screen.query_one("#footer-later").region
        assert not screen.query(Footer)
        first_frame = screen_text(screen.app)
        assert "routines" in first_frame and "later" not in first_frame
        await real(screen)

    monkeypatch.setattr(LibraryScreen, "_mount_footer", spy)
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        screen = app.screen
        assert isinstance(screen, LibraryScreen) and not screen.query("#footer-later")
        assert screen.query_one(Footer).region == kept["footer"]  # nothing moved
        assert "q Quit" in screen_text(app)

"""The app as a whole: palette, help, themes, sizes, start-up imports and the commands."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tproutine.cli import build_parser
from tproutine.engine.clock import FakeClock
from tproutine.routine import load_timeline
from tproutine.settings import Settings, load_settings
from tproutine.tui.app import TProutineApp
from tproutine.tui.palette import ActionsProvider
from tproutine.tui.screens.before_start import BeforeStartScreen
from tproutine.tui.screens.help import HelpScreen
from tproutine.tui.screens.history import HistoryScreen
from tproutine.tui.screens.library import LibraryScreen
from tproutine.tui.screens.player import PlayerScreen

from .conftest import (
    DATA,
    AppFactory,
    advance,
    flat,
    library_ready,
    open_routine,
    palette_run,
    screen_text,
    settle,
    wait_for,
)

QUIET = Settings(pain_prompts=False)


async def test_help_lists_every_player_key(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=(120, 36)) as pilot:
        await library_ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("end")
        text = flat(screen_text(app))
        await pilot.press("home")
        text += flat(screen_text(app))
        for words in ("pause or resume", "next segment", "intensity up or down 10%",
                      "stop the motor now", "end the session", "stop the motor and quit",
                      "export"):  # fmt: skip
            assert words in text, words
        await pilot.press("escape")
        assert isinstance(app.screen, LibraryScreen)


async def test_palette_offers_every_player_action(make: AppFactory, clock: FakeClock) -> None:
    app = make(settings=QUIET)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_routine(pilot, "Calf massage")
        player = app.screen
        assert isinstance(player, PlayerScreen)
        names = [name for name, _, _ in ActionsProvider(player)._commands()]
        assert names == ["Pause", "End", "Next", "Back", "Motor off", "+10%", "-10%"]
        helps = {name: help_text for name, help_text, _ in ActionsProvider(player)._commands()}
        assert helps["Next"] == "Player · key: n, →"
        # The palette names what the keys do now, like the footer.
        await pilot.press("space", "s")
        await settle(pilot)
        names = [name for name, _, _ in ActionsProvider(player)._commands()]
        assert "Resume" in names and "Motor on" in names
        assert "Pause" not in names and "Motor off" not in names


async def test_palette_runs_an_action_by_name(make: AppFactory, clock: FakeClock) -> None:
    app = make(settings=QUIET)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_routine(pilot, "Calf massage")
        player = app.screen
        assert isinstance(player, PlayerScreen)
        await palette_run(pilot, "pause", "Pause")
        await wait_for(pilot, "the pause", lambda: player.session.state == "paused")


async def test_palette_reaches_the_app_screens(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        names = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Devices", "History", "Help", "Stop the motor", "Stop and quit"} <= names
        await palette_run(pilot, "history", "History")
        await wait_for(pilot, "the History", lambda: isinstance(app.screen, HistoryScreen))


async def test_every_theme_renders_the_paused_player(make: AppFactory, clock: FakeClock) -> None:
    app = make(settings=QUIET)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_routine(pilot, "Calf massage")
        await pilot.press("space")
        await settle(pilot)
        themes = sorted(app.available_themes)
        assert len(themes) > 5
        for theme in themes:
            app.theme = theme
            await pilot.pause()
            assert app.export_screenshot()  # renders without a style error
            text = screen_text(app)
            # The state is in words, whatever the colours.
            assert "Paused" in text and "none, timer only" in text, theme


async def test_settings_theme_is_applied_and_a_new_pick_is_saved(
    make: AppFactory, xdg: Path
) -> None:
    app = make(settings=Settings(theme="nord"), save_theme=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await library_ready(pilot)
        assert app.theme == "nord"
        app.theme = "gruvbox"
        await pilot.pause()
    assert load_settings().theme == "gruvbox"


@pytest.mark.parametrize("first", ["library", "player"])
async def test_the_persons_theme_is_the_first_style_not_a_restyle(
    make: AppFactory, monkeypatch: pytest.MonkeyPatch, first: str
) -> None:
    # Set after the first screen was built, a theme re-parses all the CSS and
    # restyles every widget before the first frame (35-45 ms of every start).
    from textual.app import App

    refreshes: list[str] = []
    real = App.refresh_css

    def counted(app: App[Any], animate: bool = True) -> None:
        refreshes.append(app.theme)
        real(app, animate)

    monkeypatch.setattr(App, "refresh_css", counted)
    start = load_timeline(DATA / "desk-neck.yaml") if first == "player" else None
    app = make(settings=Settings(theme="nord", pain_prompts=False), start=start, yes=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.theme == "nord" and app.current_theme.name == "nord"
        assert app.get_css_variables()["primary"] == app.current_theme.primary
        assert refreshes == []
        app.theme = "gruvbox"  # a pick in the palette restyles, as it must
        await pilot.pause()
        assert refreshes == ["gruvbox"]


async def test_an_unknown_theme_is_reported_not_fatal(make: AppFactory) -> None:
    app = make(settings=Settings(theme="no-such-theme"))
    async with app.run_test(size=(80, 24)) as pilot:
        await library_ready(pilot)
        assert any("no-such-theme" in str(n.message) for n in app._notifications)


async def test_start_opens_the_player_directly(make: AppFactory, clock: FakeClock) -> None:
    timeline = load_timeline(DATA / "desk-neck.yaml")
    app = make(start=timeline, settings=QUIET)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, BeforeStartScreen)  # the routine has safety items
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PlayerScreen)
        assert app.screen.session.timeline is timeline


async def test_start_with_yes_skips_the_modal_and_logs_events(
    make: AppFactory, clock: FakeClock, tmp_path: Path
) -> None:
    from tproutine.engine.eventlog import EventLog

    timeline = load_timeline(DATA / "desk-neck.yaml")
    log = EventLog.open(str(tmp_path / "events.jsonl"))
    app = make(start=timeline, yes=True, event_log=log)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, PlayerScreen)
        await advance(pilot, clock, 6)
        await pilot.press("q", "y")
        await settle(pilot)
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    names = [e["event"] for e in events]
    assert names[0] == "session_start" and names[-1] == "session_end"
    assert events[-1]["status"] == "stopped"


def test_heavy_modules_are_not_imported_at_start_up() -> None:
    # Bluetooth waits for a device, pydantic and YAML for the routine files, all
    # until after the first paint.
    code = (
        "import sys\n"
        "from tproutine.tui.app import make_app, AppOptions\n"
        "app = make_app(AppOptions())\n"
        "heavy = ('bleak', 'bumble', 'pydantic', 'yaml')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


class _Captured(Exception):
    pass


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch, xdg: Path) -> list[TProutineApp]:
    """Apps that commands/app.py would run, caught instead of taking the terminal."""
    apps: list[TProutineApp] = []

    def fake_run(self: TProutineApp, *args: Any, **kwargs: Any) -> int:
        apps.append(self)
        return 0

    monkeypatch.setattr(TProutineApp, "run", fake_run)
    return apps


def test_main_opens_the_library(captured: list[TProutineApp]) -> None:
    from tproutine.commands import app as command

    assert command.main(build_parser().parse_args([])) == 0
    (app,) = captured
    assert not app.options.demo and app.device_note is None and app.options.start is None


def test_demo_uses_the_sim_adapter(
    captured: list[TProutineApp],
) -> None:
    from tproutine.commands import app as command

    args = build_parser().parse_args(["demo", "--speed", "20", str(DATA / "calf-massage.yaml")])
    assert command.main(args) == 0
    (app,) = captured
    assert app.options.demo and app.options.adapter == "sim" and app.options.speed == 20
    assert app.options.files == (DATA / "calf-massage.yaml",)
    assert app.device_note is None and app.devices_enabled and app.controller is None


def test_run_tui_opens_the_player_on_the_file(captured: list[TProutineApp], tmp_path: Path) -> None:
    from tproutine.commands import app as command

    path = DATA / "desk-neck.yaml"
    args = build_parser().parse_args(
        ["run", str(path), "--yes", "--scale", "0.5", "--events", str(tmp_path / "ev.jsonl")]
    )
    timeline = load_timeline(path)
    assert command.run_tui(args, timeline) == 0
    (app,) = captured
    assert app.options.start is timeline and app.options.yes and app.options.scale == 0.5
    assert app.options.event_log is not None


def test_run_tui_refuses_an_events_file_it_cannot_write(
    captured: list[TProutineApp], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tproutine.commands import app as command

    args = argparse.Namespace(
        file=str(DATA / "desk-neck.yaml"), events=str(tmp_path / "no" / "such" / "dir.jsonl")
    )
    assert command.run_tui(args, load_timeline(DATA / "desk-neck.yaml")) == 1
    assert captured == []
    assert "cannot write" in capsys.readouterr().err


async def test_settings_file_theme_paints_first_and_mistakes_are_said(
    make: AppFactory, xdg: Path
) -> None:
    from tproutine import paths
    from tproutine.tui.app import AppOptions, early_theme, make_app

    config = paths.config_path()
    config.parent.mkdir(parents=True)
    config.write_text('theme = "dracula"\npain_prompts = "yes"\n')
    assert early_theme() == "dracula"
    app = make_app(AppOptions(routine_dirs=((DATA, "bundled"),), adapter="none"))
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "dracula"
        await library_ready(pilot)
        messages = [str(n.message) for n in app._notifications]
        assert any("pain_prompts" in m for m in messages), messages
        assert app.settings.pain_prompts is True  # the default stands in for the mistake


def test_early_theme_ignores_a_broken_file(xdg: Path) -> None:
    from tproutine import paths
    from tproutine.tui.app import early_theme

    assert early_theme() is None  # no file
    paths.config_path().parent.mkdir(parents=True)
    paths.config_path().write_text("theme = \n")
    assert early_theme() is None

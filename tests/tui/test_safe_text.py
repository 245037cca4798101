"""What the app shows of other people's text (and of its own messages) is text.

A settings value such as ``"[/x]"`` used to reach a notification as markup: Textual
raised ``MarkupError`` and the app died with exit status 0. Messages with brackets
(``pip install 'tproutine[sim]'``) lost them. Control characters in a device's name
are shown as tokens. And an exception that ends the app is never a success.
"""

from __future__ import annotations

from pathlib import Path

from tproutine.commands.app import _run
from tproutine.devices.status import DeviceStatus
from tproutine.engine.clock import FakeClock
from tproutine.tui.app import AppOptions, TProutineApp, make_app
from tproutine.tui.widgets.device_panel import DevicePanel

from .conftest import (
    DATA,
    NEVER,
    AppFactory,
    FakeController,
    library_ready,
    screen_text,
    wait_for,
)


def said(app: TProutineApp) -> list[str]:
    """The notifications as the app renders them (text, or what markup would leave)."""
    from textual.widgets._toast import Toast

    return [str(toast.render()) for toast in app.screen.query(Toast)]


def _options(xdg: Path) -> AppOptions:
    return AppOptions(
        routine_dirs=((DATA, "bundled"),),
        refresh_interval=NEVER,
        export_dir=xdg,
        bell=False,
        adapter="none",
        voice=False,
        save_theme=False,
    )


async def test_a_settings_value_that_looks_like_markup_is_said_as_written(xdg: Path) -> None:
    config = xdg / "config" / "tproutine" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('max_intensity = "[/x]"\ntheme = "[b]bold[/b]"\n', encoding="utf-8")
    app = make_app(_options(xdg))  # the settings are read from the file
    async with app.run_test(size=(120, 32), notifications=True) as pilot:
        await library_ready(pilot)
        await wait_for(pilot, "the warnings", lambda: len(said(app)) == 3)
        text = " ".join(said(app))
        assert "max_intensity: '[/x]' is not a number" in text
        assert "using 20% until the settings file is fixed" in text
        assert "there is no theme '[b]bold[/b]'" in text
        assert app.settings.max_intensity == 20.0
        assert app.is_running


async def test_messages_keep_their_brackets(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=(120, 32), notifications=True) as pilot:
        await library_ready(pilot)
        app.report("the virtual massager needs the 'sim' extra (pip install 'tproutine[sim]')")
        await wait_for(pilot, "the notification", lambda: bool(said(app)))
        assert said(app) == [
            "the virtual massager needs the 'sim' extra (pip install 'tproutine[sim]')"
        ]


async def test_a_device_name_from_the_air_is_shown_as_tokens(make: AppFactory) -> None:
    hostile = DeviceStatus(
        state="connected", name="\x1b]2;P1\x07[b]", profile="Test profile", battery=80
    )
    app = make(controller=FakeController(hostile))
    async with app.run_test(size=(120, 32), notifications=True) as pilot:
        await library_ready(pilot)
        await pilot.press("d")
        await wait_for(pilot, "the devices", lambda: bool(app.screen.query(DevicePanel)))
        await wait_for(pilot, "the name", lambda: "␛]2;P1␇[b]" in screen_text(app))
        assert "\x1b]" not in screen_text(app)


class _Crashing(TProutineApp):
    def on_mount(self) -> None:
        raise RuntimeError("a bug")


def test_an_exception_that_ends_the_app_is_not_a_success(xdg: Path) -> None:
    app = _Crashing(_options(xdg))
    assert _run(app, headless=True) == 1


async def test_run_file_says_the_settings_mistakes_found_while_its_player_is_built(
    xdg: Path, clock: FakeClock
) -> None:
    # `run FILE` builds the Player as the app's first screen and reads the settings
    # for it, before any screen exists to show a notification on.
    from dataclasses import replace

    from tproutine.routine import load_timeline
    from tproutine.tui.screens.player import PlayerScreen

    config = xdg / "config" / "tproutine" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('max_intensity = "[/x]"\n', encoding="utf-8")
    timeline = load_timeline(DATA / "calf-massage.yaml")
    options = replace(_options(xdg), start=timeline, yes=True, clock_factory=lambda: clock)
    app = make_app(options)
    async with app.run_test(size=(120, 32), notifications=True) as pilot:
        await wait_for(pilot, "the warning", lambda: any("is not a number" in s for s in said(app)))
        assert isinstance(app.screen, PlayerScreen) and len(app.screen_stack) == 1
        assert app.settings.max_intensity == 20.0  # the cap the Player's session has
        assert app.runtime is not None and app.runtime.session.max_intensity == 20.0

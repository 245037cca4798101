"""The Player on the fake clock: what it shows, and every key of the spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Digits

from tproutine.devices.status import DeviceStatus
from tproutine.engine.clock import FakeClock
from tproutine.history.store import HistoryStore
from tproutine.settings import Settings
from tproutine.tui.app import TProutineApp
from tproutine.tui.screens.library import LibraryScreen
from tproutine.tui.screens.player import ConfirmEndScreen, PlayerScreen, countdown_text
from tproutine.tui.screens.summary import SummaryScreen
from tproutine.tui.widgets.meter import Meter, bar_text

from .conftest import (
    AppFactory,
    FakeController,
    advance,
    flat,
    open_routine,
    screen_text,
    settle,
    wait_for,
)

QUIET = Settings(pain_prompts=False)


async def start_desk(pilot: Pilot[Any]) -> PlayerScreen:
    """Desk neck reset: get ready 5 s, hold L 1/2 30 s, rest 10 s, hold L 2/2 30 s, breathe 20 s."""
    await open_routine(pilot, "Desk neck reset")
    await pilot.press("enter")  # the safety modal
    await wait_for(pilot, "the Player", lambda: isinstance(pilot.app.screen, PlayerScreen))
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, PlayerScreen)
    return screen


def digits(app: TProutineApp) -> str:
    return app.screen.query_one("#countdown", Digits).value


def test_countdown_rounds_up_and_meter_uses_shapes() -> None:
    assert countdown_text(30.0) == "00:30"
    assert countdown_text(29.2) == "00:30"
    assert countdown_text(0.0) == "00:00"
    assert countdown_text(3600.0) == "1:00:00"
    filled, empty = bar_text(0.5, 10)
    assert filled == "█████" and empty == "░░░░░"
    assert bar_text(1.0, 4) == ("████", "")
    assert bar_text(0.0, 4) == ("", "░░░░")
    assert bar_text(0.3, 4) == ("█▎", "░░")  # eighths of a cell
    assert bar_text(0.3, 4, steps=1) == ("█", "░░░")  # whole cells only


async def test_shows_the_segment_with_its_details(make: AppFactory, clock: FakeClock) -> None:
    app = make(settings=QUIET)
    async with app.run_test(size=(100, 30)) as pilot:
        await start_desk(pilot)
        assert digits(app) == "00:05"
        text = flat(screen_text(app))
        assert (
            "GET READY" in text
            and "Next: Hold: Upper trapezius, left side, rep 1 of 2 · 30s" in text
        )
        await advance(pilot, clock, 5)
        assert digits(app) == "00:30"
        text = flat(screen_text(app))
        assert "HOLD · left side · rep 1 of 2" in text
        assert "Upper trapezius" in text
        assert "Area: top of the shoulder · Tool: your fingers · Pressure: 5 of 10" in text
        assert "Pinch the muscle halfway between neck and shoulder tip." in text
        assert "» Squeeze until it is about a 5." in text
        assert "Next: Rest · 10s" in text
        assert "00:30 left" in text and "01:30 left of 01:35" in text
        await advance(pilot, clock, 21)
        assert digits(app) == "00:09"
        assert "» Ten seconds left." in screen_text(app)
        seg = app.screen.query_one("#segment-meter", Meter)
        # Kept to whole cells of the bar (about 75 of them here).
        assert seg.value == pytest.approx(21 / 30, abs=0.015)


async def test_space_pauses_and_resumes(make: AppFactory, clock: FakeClock) -> None:
    app = make(settings=QUIET)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_desk(pilot)
        await advance(pilot, clock, 8)
        await pilot.press("space")
        await settle(pilot)
        assert player.session.state == "paused"
        assert "Paused" in screen_text(app)
        before = digits(app)
        await advance(pilot, clock, 30)  # time passes, the session does not
        assert digits(app) == before == "00:27"
        await pilot.press("space")
        await settle(pilot)
        assert str(player.session.state) == "running"
        assert "Paused" not in screen_text(app)
        await advance(pilot, clock, 2)
        assert digits(app) == "00:25"


@pytest.mark.parametrize("key", ["n", "right"])
async def test_next_skips_a_segment(make: AppFactory, clock: FakeClock, key: str) -> None:
    app = make(settings=QUIET)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_desk(pilot)
        await pilot.press(key)
        await settle(pilot)
        assert player.session.index == 1
        assert "HOLD" in screen_text(app) and digits(app) == "00:30"
        await pilot.press(key)
        await settle(pilot)
        assert player.session.current is not None and player.session.current.kind == "rest"


@pytest.mark.parametrize("key", ["p", "left"])
async def test_back_restarts_or_goes_to_the_previous(
    make: AppFactory, clock: FakeClock, key: str
) -> None:
    app = make(settings=QUIET)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_desk(pilot)
        await advance(pilot, clock, 15)  # 10 s into the first hold
        await pilot.press(key)
        await settle(pilot)
        assert player.session.index == 1 and digits(app) == "00:30"
        await advance(pilot, clock, 1)  # within the first 3 s: back goes to get ready
        await pilot.press(key)
        await settle(pilot)
        assert player.session.index == 0


async def test_plus_and_minus_change_the_session_scale(make: AppFactory, clock: FakeClock) -> None:
    app = make(settings=Settings(pain_prompts=False, max_intensity=50))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_routine(pilot, "Calf massage")  # a 20→60 % ramp, no safety items
        player = app.screen
        assert isinstance(player, PlayerScreen)
        await settle(pilot)
        assert "Device 20%" in screen_text(app)
        await pilot.press("plus")
        await settle(pilot)
        assert player.session.scale == pytest.approx(1.1)
        assert "Device 22% (your scale 110%)" in screen_text(app)
        await pilot.press("minus", "minus")
        await settle(pilot)
        assert player.session.scale == pytest.approx(0.9)
        await pilot.press("equals_sign")  # "+" without shift, on most keyboards
        await settle(pilot)
        assert player.session.scale == pytest.approx(1.0)
        await pilot.press("minus")
        await settle(pilot)
        await advance(pilot, clock, 39)
        # 59 % of the ramp × 0.9, under the cap of 50 %
        assert "Device 53%" not in screen_text(app) and "Device 50%" in screen_text(app)


async def test_plus_never_goes_past_the_cap(make: AppFactory, clock: FakeClock) -> None:
    app = make(settings=Settings(pain_prompts=False, max_intensity=25))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_routine(pilot, "Calf massage")
        player = app.screen
        assert isinstance(player, PlayerScreen)
        for _ in range(5):
            await pilot.press("plus")
        await settle(pilot)
        assert player.session.planned_percent() == pytest.approx(25)
        assert "Device 25%" in screen_text(app)


@pytest.mark.parametrize("key", ["s", "escape"])
async def test_stop_motor_is_latched_and_said(make: AppFactory, clock: FakeClock, key: str) -> None:
    fake = FakeController()
    app = make(settings=QUIET, controller=fake)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_desk(pilot)
        await pilot.press(key)
        await settle(pilot)
        assert player.session.device_halted
        assert fake.calls == ["emergency_stop"]
        assert "Motor stopped by you: off until you press s again." in flat(screen_text(app))
        await advance(pilot, clock, 40)  # the latch outlives segment changes
        assert player.session.device_halted and player.session.target_percent() == 0.0
        await pilot.press("s")
        await settle(pilot)
        assert not player.session.device_halted
        assert fake.calls == ["emergency_stop", "release_stop"]
        assert "off until you press s" not in screen_text(app)


@pytest.mark.parametrize(
    ("keys", "ends"), [("n", False), ("escape", False), ("y", True), ("enter", True)]
)
async def test_q_asks_before_ending(
    make: AppFactory, clock: FakeClock, keys: str, ends: bool
) -> None:
    app = make(settings=QUIET)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_desk(pilot)
        await advance(pilot, clock, 7)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmEndScreen)
        assert "End this session?" in screen_text(app)
        # While the question is on screen the session is paused: the clock stands still.
        assert player.session.state == "paused"
        assert "Paused while you choose: the motor is off." in screen_text(app)
        await clock.advance(20)
        await pilot.pause()
        assert player.session.segment_remaining() == pytest.approx(28)
        await pilot.press(keys)
        await settle(pilot)
        if ends:
            assert isinstance(app.screen, SummaryScreen)
            assert player.session.status == "stopped"
            assert app.history_store().sessions()[0].status == "stopped"
        else:
            # "No, go on" resumes where it was.
            assert isinstance(app.screen, PlayerScreen) and player.session.state == "running"
            assert digits(app) == "00:28"
            await advance(pilot, clock, 3)
            assert digits(app) == "00:25"


async def test_a_session_paused_before_the_question_stays_paused(
    make: AppFactory, clock: FakeClock
) -> None:
    app = make(settings=QUIET)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_desk(pilot)
        await pilot.press("space")
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmEndScreen)
        await pilot.press("n")
        await settle(pilot)
        assert player.session.state == "paused" and "Paused" in screen_text(app)


async def test_breathe_phase_fills_and_empties(make: AppFactory, clock: FakeClock) -> None:
    app = make(settings=QUIET)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_desk(pilot)
        assert player.query_one("#breathe-meter").has_class("-hidden")
        await advance(pilot, clock, 75)  # the breathe segment starts: in 4 s, out 6 s
        meter = player.query_one("#breathe-meter", Meter)
        assert not player.query_one("#breathe-meter").has_class("-hidden")
        await advance(pilot, clock, 2)
        assert "Breathe in" in screen_text(app) and meter.value == pytest.approx(0.5)
        await advance(pilot, clock, 1)
        assert meter.value == pytest.approx(0.75)
        await advance(pilot, clock, 4)  # 3 s into the 6 s out-breath
        assert "Breathe out" in screen_text(app) and meter.value == pytest.approx(0.5)
        await advance(pilot, clock, 2.5)
        assert meter.value < 0.2


async def test_breathing_holds_show_full_then_empty(
    make: AppFactory, clock: FakeClock, tmp_path: Path
) -> None:
    (tmp_path / "box.yaml").write_text(
        "format: tproutine/1\nname: Box\nget_ready: 0s\nsteps:\n"
        "  - breathe: Box breathing\n    duration: 16s\n    pattern: [4s, 4s, 4s, 4s]\n"
    )
    app = make(settings=QUIET, routine_dirs=((tmp_path, "yours"),))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_routine(pilot, "Box")
        player = app.screen
        assert isinstance(player, PlayerScreen)
        meter = player.query_one("#breathe-meter", Meter)
        await advance(pilot, clock, 6)
        assert "Hold" in screen_text(app) and meter.value == 1.0
        await advance(pilot, clock, 8)
        assert "Hold" in screen_text(app) and meter.value == 0.0


async def test_completing_the_routine_shows_the_summary(make: AppFactory, clock: FakeClock) -> None:
    app = make(settings=QUIET)
    async with app.run_test(size=(100, 30)) as pilot:
        await start_desk(pilot)
        await advance(pilot, clock, 96)
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen)
        text = flat(screen_text(app))
        assert "Well done: routine complete." in text
        assert "Time spent: 01:35" in text and "Segments done: 5 of 5" in text
        assert app.history_store().sessions()[0].status == "completed"


async def test_ctrl_q_stops_the_motor_ends_the_session_and_quits(
    make: AppFactory, clock: FakeClock
) -> None:
    fake = FakeController()
    app = make(settings=QUIET, controller=fake)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_desk(pilot)
        await advance(pilot, clock, 10)
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert fake.calls[0] == "emergency_stop"
    assert player.session.status == "stopped"
    assert app.return_code == 0
    with HistoryStore.open() as store:
        assert store.sessions()[0].status == "stopped"


async def test_ctrl_q_works_from_a_modal(make: AppFactory, clock: FakeClock) -> None:
    app = make(settings=QUIET)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_desk(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmEndScreen)
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert player.session.status == "stopped" and app.return_code == 0


async def test_device_panel_shows_the_controller_status_in_words(
    make: AppFactory, clock: FakeClock
) -> None:
    fake = FakeController()
    app = make(settings=QUIET, controller=fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await start_desk(pilot)
        text = flat(screen_text(app))
        # Each part apart from the next: state · name · readings.
        assert "Device: connected, motor off · Fake massager (Test profile) · battery 80%" in text
        fake.publish(fake.status.with_(running=True, percent=40.0, force=2.5))
        await settle(pilot)
        text = flat(screen_text(app))
        assert "connected, motor running" in text and "40%" in text and "force 2.5 N" in text
        meter = app.screen.query_one("#device-intensity", Meter)
        assert meter.value == pytest.approx(0.4)
        fake.publish(DeviceStatus(state="reconnecting", name="Fake massager"))
        await settle(pilot)
        assert "reconnecting (the timer goes on)" in screen_text(app)
        await advance(pilot, clock, 6)  # the timer really goes on
        assert digits(app) == "00:29"
        fake.publish(DeviceStatus(state="failed", message="out of range"))
        await settle(pilot)
        text = flat(screen_text(app))
        assert "not connected, running as a timer" in text and "out of range" in text


async def test_without_a_device_the_panel_says_timer_only(make: AppFactory) -> None:
    app = make(settings=QUIET)
    async with app.run_test(size=(100, 30)) as pilot:
        await start_desk(pilot)
        assert "none, timer only" in screen_text(app)


async def test_a_device_note_shows_without_a_controller(make: AppFactory) -> None:
    app = make(settings=QUIET, device_note="devices are off for this run")
    async with app.run_test(size=(100, 30)) as pilot:
        await start_desk(pilot)
        assert "devices are off for this run" in screen_text(app)


async def test_fits_80x24_and_uses_120x36(make: AppFactory, clock: FakeClock) -> None:
    app = make(settings=QUIET)
    async with app.run_test(size=(80, 24)) as pilot:
        await start_desk(pilot)
        await advance(pilot, clock, 75)
        text = screen_text(app)
        for needed in ("Desk neck reset", "BREATHE", "Breathe in", "This step", "Routine",
                       "Next:", "Device:", "space Pause"):  # fmt: skip
            assert needed in text, needed
        await pilot.resize_terminal(120, 36)
        await settle(pilot)
        text = screen_text(app)
        assert "In through the nose for 4, out for 6." in text and "Next:" in text


async def test_the_refresh_timer_only_reads_the_session(make: AppFactory, clock: FakeClock) -> None:
    # A fast timer and a frozen clock: however often the view refreshes, nothing moves.
    app = make(settings=QUIET, refresh_interval=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_desk(pilot)
        await pilot.pause(0.3)
        assert player.session.elapsed() == 0.0 and digits(app) == "00:05"
        await clock.advance(2)
        # The timer, not the test, picks up the new time (whenever a busy machine runs it).
        await wait_for(pilot, "the timer's refresh", lambda: digits(app) == "00:03")


async def test_back_to_the_library_after_the_summary(make: AppFactory, clock: FakeClock) -> None:
    app = make(settings=QUIET)
    async with app.run_test(size=(100, 30)) as pilot:
        await start_desk(pilot)
        await pilot.press("q", "y")
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LibraryScreen) and app.runtime is None


# ---------------------------------------------------------------- what the Player says is true


def footer(app: TProutineApp) -> str:
    return flat(screen_text(app).splitlines()[-1])


async def test_the_footer_names_what_space_and_s_do_now(make: AppFactory, clock: FakeClock) -> None:
    fake = FakeController()
    app = make(settings=QUIET, controller=fake)
    async with app.run_test(size=(100, 30)) as pilot:
        player = await start_desk(pilot)
        assert "space Pause" in footer(app) and "s Motor off" in footer(app)
        await pilot.press("space")
        await settle(pilot)
        assert "space Resume" in footer(app) and "Pause" not in footer(app)
        await pilot.press("s")
        await settle(pilot)
        assert "s Motor on" in footer(app) and "Motor off" not in footer(app)
        # escape only ever stops: with the motor already stopped it changes nothing.
        await pilot.press("escape")
        await settle(pilot)
        assert player.session.device_halted and fake.calls == ["emergency_stop"]
        await pilot.press("s", "space")
        await settle(pilot)
        assert not player.session.device_halted and player.session.state == "running"
        assert "space Pause" in footer(app) and "s Motor off" in footer(app)


async def test_notices_never_cover_the_device_panel(make: AppFactory, clock: FakeClock) -> None:
    app = make(settings=QUIET, controller=FakeController())
    for size in ((100, 30), (60, 20)):
        async with app.run_test(size=size, notifications=True) as pilot:
            await open_and_start(pilot, "Desk neck reset")
            await pilot.press("s")  # "Motor stopped. Press s to allow it again."
            await pilot.press("plus")  # and a second notice
            await settle(pilot)
            toasts = await shown_toasts(pilot, 2)
            panel = app.screen.query_one("#device").region
            for toast in toasts:
                assert toast.region.bottom <= panel.y, (toast.region, panel)
            assert "Device: connected, motor off ·" in flat(screen_text(app))
        app = make(settings=QUIET, controller=FakeController())


async def test_the_intensity_scale_shows_only_on_device_steps(
    make: AppFactory, clock: FakeClock
) -> None:
    app = make(settings=QUIET)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await open_and_start(pilot, "Calf massage")  # massage 40 s with the device, then a stretch
        await pilot.press("plus")
        await settle(pilot)
        assert "Device 22% (your scale 110%)" in flat(screen_text(app))
        await advance(pilot, clock, 41)
        text = flat(screen_text(app))
        assert "STRETCH" in text and "scale" not in text.split("Next:")[0]
        await pilot.press("plus")  # said in a notice instead
        await settle(pilot)
        [toast] = await shown_toasts(pilot, 1)
        assert "Device intensity 120% for the rest of the session" in str(toast.render())


async def shown_toasts(pilot: Pilot[Any], count: int) -> list[Any]:
    """The notices on screen, once ``count`` of them are (they mount after a refresh)."""
    from textual.widgets._toast import Toast

    for _ in range(40):
        toasts = list(pilot.app.screen.query(Toast))
        if len(toasts) >= count:
            return toasts
        await pilot.pause(0.05)
    pytest.fail(f"expected {count} notices, saw {len(toasts)}")


async def open_and_start(pilot: Pilot[Any], name: str) -> PlayerScreen:
    """Open a routine and confirm the before-start modal, however many enters it takes."""
    await open_routine(pilot, name)
    for _ in range(6):
        if isinstance(pilot.app.screen, PlayerScreen):
            break
        await pilot.press("enter")
        await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, PlayerScreen)
    return screen


async def test_a_small_terminal_keeps_the_clock_the_progress_next_and_the_keys(
    make: AppFactory, clock: FakeClock, tmp_path: Path
) -> None:
    long = " ".join(["Keep the pressure steady and breathe slowly into the tender spot."] * 6)
    (tmp_path / "long.yaml").write_text(
        "format: tproutine/1\nname: A routine with a rather long name for a small screen\n"
        "get_ready: 0s\nsteps:\n"
        f"  - hold: Upper trapezius with a long title as well\n    duration: 60s\n"
        f"    area: top of the shoulder\n    tool: a ball against the wall\n    pressure: 5\n"
        f"    instructions: {long}\n"
        f"    cues:\n      - at: 0s\n        say: {long}\n"
        "  - stretch: Neck side bend\n    duration: 30s\n"
    )
    app = make(settings=QUIET, controller=FakeController(), routine_dirs=((tmp_path, "yours"),))
    async with app.run_test(size=(60, 20)) as pilot:
        await open_and_start(pilot, "A routine with a rather long name for a small screen")
        await advance(pilot, clock, 5)
        await pilot.press("space", "s")  # paused and stopped: the most there is to say
        await settle(pilot)
        text = screen_text(app)
        lines = text.splitlines()
        assert len(lines) == 20
        assert "┏━┓" in text  # the countdown digits
        assert "00:55 left" in text  # the step's progress
        assert "Next: Stretch: Neck side bend · 30s" in text
        assert "Motor stopped by you: off until you press s again." in text
        assert "space Resume" in lines[-1] and "q End" in lines[-1]
        assert "Device: connected" in text

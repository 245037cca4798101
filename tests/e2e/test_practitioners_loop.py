"""The practitioner's loop, end to end (issue 12's "done when").

A practitioner's `new` (which has a plan) → validate and a handout → the client's
`add` → `calendar` imported into khal → three sessions in the app on different
days (the dates injected, the session clock fake), one of them adjusted by the
practitioner's adjustment file → `due --json` → an HTML report whose charts show
the three sessions, printed in headless Chromium where it is installed.

Everything but khal and Chromium runs in this process through the real entry
point (`tproutine.cli.main`) and the real app (`make_app`, driven by Textual's
pilot). The week of the runs crosses the end of summer time in Berlin.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from textual.pilot import Pilot

from tproutine import paths
from tproutine.cli import main
from tproutine.engine.clock import FakeClock
from tproutine.settings import Settings
from tproutine.tui.app import AppOptions, make_app
from tproutine.tui.screens.before_start import BeforeStartScreen
from tproutine.tui.screens.player import PlayerScreen
from tproutine.tui.screens.summary import SummaryScreen

BERLIN = ZoneInfo("Europe/Berlin")
NAME = "Neck and shoulders"
ADJUSTMENT = f"""\
format: tproutine-adjust/1
routine: {NAME}
note: A gentler week after the flight.
time_scale: 0.75
steps:
  upper-trap: {{pressure: 4, duration: 30s}}
  Side neck stretch: skip
"""


class Today:
    """The injected wall clock: what `utc_now` says while a session is recorded."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 10, 18, 12, 0, tzinfo=BERLIN)

    def __call__(self) -> datetime:
        return self.moment.astimezone(ZoneInfo("UTC")).replace(microsecond=0)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Today]]:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "client" / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "client" / "config"))
    old_tz = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    today = Today()
    monkeypatch.setattr("tproutine.history.store.utc_now", today)
    monkeypatch.setattr("tproutine.commands.due.now", lambda: today.moment)
    monkeypatch.setattr("tproutine.commands.calendar.now", lambda: today.moment)
    (tmp_path / "practitioner").mkdir()
    (tmp_path / "client").mkdir()
    yield tmp_path, today
    if old_tz is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old_tz
    time.tzset()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


async def one_session(
    pilot: Pilot[Any], clock: FakeClock, pain_before: str, pain_after: str
) -> str:
    """Pick the routine in the Library, rate the pain, run it to the end, rate again."""
    from tests.tui.conftest import advance, library_ready, open_routine, screen_text, settle

    await library_ready(pilot)
    await open_routine(pilot, NAME)
    app = pilot.app
    assert isinstance(app.screen, BeforeStartScreen)
    await pilot.press(pain_before)
    for _ in range(5):  # enter reads on through the safety notes, then starts
        await pilot.press("enter")
        await pilot.pause()
        if isinstance(app.screen, PlayerScreen):
            break
    assert isinstance(app.screen, PlayerScreen)
    title = next(line for line in screen_text(app).splitlines() if NAME in line)
    await settle(pilot)
    await advance(pilot, clock, 15 * 60)
    assert isinstance(app.screen, SummaryScreen)
    await pilot.press(pain_after, "enter")
    await pilot.pause()
    return title


def khal_calendar(folder: Path, ics: Path) -> list[str]:
    from tests.share.test_calendar import khal_config, khal_import, khal_list

    config = khal_config(folder)
    khal_import(config, ics)
    return khal_list(config, date(2026, 10, 1), date(2026, 12, 31))


async def test_the_practitioners_loop(
    world: tuple[Path, Today], capsys: pytest.CaptureFixture[str]
) -> None:
    root, today = world
    practitioner = root / "practitioner"
    routine = practitioner / "neck.yaml"

    # The practitioner: a routine with a plan, checked, a handout, an adjustment.
    cli(capsys, "new", NAME, "-o", str(routine))
    assert "plan:" in routine.read_text(encoding="utf-8")
    assert cli(capsys, "validate", str(routine)) == f"{routine}: ok\n"
    handout = cli(capsys, "export", str(routine), "--format", "md")
    assert "**How often:** 3 times a week for 6 weeks" in handout
    easier = practitioner / "neck-easier.yaml"
    easier.write_text(ADJUSTMENT, encoding="utf-8")
    assert "ok (adjusts 'Neck and shoulders'" in cli(capsys, "validate", str(routine), str(easier))

    # The client: adds the routine and puts the plan in a real calendar program.
    cli(capsys, "add", str(routine))
    ics = root / "client" / "plans.ics"
    cli(capsys, "calendar", "-o", str(ics))
    if shutil.which("khal"):
        listed = khal_calendar(root / "client" / "khal", ics)
        assert len(listed) == 18
        assert listed[0] == f"2026-10-19 18:00 tproutine: {NAME}"
        # The clocks go back on 25 October; the reminder stays at 18:00.
        assert f"2026-10-26 18:00 tproutine: {NAME}" in listed

    # Three sessions on three days; the second with the practitioner's adjustment.
    clock = FakeClock(1000.0)
    days = [
        (datetime(2026, 10, 19, 18, 5, tzinfo=BERLIN), "6", "4"),
        (datetime(2026, 10, 21, 18, 5, tzinfo=BERLIN), "7", "5"),
        (datetime(2026, 10, 26, 18, 5, tzinfo=BERLIN), "5", "2"),
    ]
    titles = []
    for n, (moment, before, after) in enumerate(days):
        today.moment = moment
        adjustments = paths.user_adjustments_dir()
        if n == 1:
            cli(capsys, "add", str(easier))
        elif adjustments.exists():
            shutil.rmtree(adjustments)  # the hard week is over
        app = make_app(
            AppOptions(
                routine_dirs=((paths.user_routines_dir(), "yours"),),
                clock_factory=lambda: clock,
                refresh_interval=10_000.0,
                bell=False,
                adapter="none",
                voice=False,
                save_theme=False,
            ),
            settings=Settings(pain_prompts=True),
        )
        async with app.run_test(size=(100, 30)) as pilot:
            titles.append(await one_session(pilot, clock, before, after))
    assert ["adjusted" in t for t in titles] == [False, True, False], titles

    history = json.loads(cli(capsys, "history", "--json"))
    assert [(h["status"], h["pain_before"], h["pain_after"]) for h in history] == [
        ("completed", 5, 2),
        ("completed", 7, 5),
        ("completed", 6, 4),
    ]
    assert [h["adjustment"] is not None for h in history] == [False, True, False]
    assert not any(h["preview"] for h in history)

    # What is due on the evening of the third session.
    today.moment = datetime(2026, 10, 26, 20, 0, tzinfo=BERLIN)
    (due,) = json.loads(cli(capsys, "due", "--json"))
    assert {k: due[k] for k in ("routine", "per_week", "done_this_week", "due_today")} == {
        "routine": NAME,
        "per_week": 3,
        "done_this_week": 1,
        "due_today": False,
    }
    assert due["streak_weeks"] == 0  # the first week had 2 of 3
    assert due["plan_week"] == 2
    assert due["next_reminder"] == "2026-10-28T18:00:00+01:00"

    # The report for the practitioner, with charts of the three sessions.
    report = root / "client" / "report.html"
    cli(capsys, "history", "export", "--format", "html", "-o", str(report))
    page = report.read_text(encoding="utf-8")
    assert str(paths.data_dir()) not in page
    assert "3 sessions from 2026-10-19 to 2026-10-26" in page
    pain_svg = page[page.index("<svg") : page.index("</svg>")]
    assert len(re.findall(r"<circle ", pain_svg)) == 3 + 1  # before, and the legend
    assert pain_svg.count(">adjusted</text>") == 1
    weeks = re.findall(r"<title>week of ([\d-]+): (\d+)</title>", page)
    assert weeks == [("2026-10-19", "2"), ("2026-10-26", "1")]
    assert "Plan: 3 times a week for 6 weeks" in page
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        from tests.share.test_browser import _pdf_text, _print_to_pdf

        pdf = _print_to_pdf(report, root)
        text = _pdf_text(pdf, root)
        if text is not None:
            flat = " ".join(text.split())
            assert NAME in flat and "19 Oct" in flat and "26 Oct" in flat

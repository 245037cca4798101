"""`tproutine calendar`: RFC 5545 reminders, expanded the way calendar programs expand them.

`recurring-ical-events` expands the recurrence rules (as calendar programs do), and a
test imports the file into Debian's `khal` where it is installed.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from icalendar import Calendar

from tproutine import paths
from tproutine.cli import main
from tproutine.routine.loader import parse_routine
from tproutine.share.calendar import PlannedRoutine, event_uid, planned_calendar

BERLIN = ZoneInfo("Europe/Berlin")
STAMP = datetime(2026, 10, 18, 20, 0, tzinfo=timezone.utc)
MONDAY = date(2026, 10, 19)  # summer time ends in Berlin on Sunday 2026-10-25


def planned(plan: str, name: str = "Neck and shoulders", total_s: float = 250.0) -> PlannedRoutine:
    routine = parse_routine(
        f"format: tproutine/1\nname: {name}\nsummary: Ten minutes for a stiff neck\n"
        f"plan: {plan}\nsteps: [{{rest: 5s}}]\n",
        "t.yaml",
    ).routine
    assert routine.plan is not None
    return PlannedRoutine(routine.name, routine.plan, total_s, routine.summary, "/r/neck.yaml")


def calendar(
    *routines: PlannedRoutine, start: date = MONDAY, tz: ZoneInfo | None = BERLIN
) -> Calendar:
    data = planned_calendar(list(routines), start=start, stamp=STAMP, tz=tz)
    assert data.startswith(b"BEGIN:VCALENDAR\r\n") and b"\r\nEND:VCALENDAR\r\n" in data
    return Calendar.from_ical(data)


def occurrences(cal: Calendar, start: date, end: date) -> list[datetime]:
    found = recurring_ical_events.of(cal).between(start, end)
    return sorted(event["DTSTART"].dt for event in found)


def test_three_a_week_for_six_weeks_across_the_change_of_clocks() -> None:
    cal = calendar(planned("{per_week: 3, weeks: 6, reminder: '08:00'}"))
    found = occurrences(cal, date(2026, 1, 1), date(2027, 12, 31))
    assert len(found) == 18
    assert {d.weekday() for d in found} == {0, 2, 4}
    assert found[0] == datetime(2026, 10, 19, 8, 0, tzinfo=BERLIN)
    assert found[-1] == datetime(2026, 11, 27, 8, 0, tzinfo=BERLIN)
    # 08:00 on the wall clock every time, though the offset changes on 25 October.
    assert {d.astimezone(BERLIN).time() for d in found} == {time(8, 0)}
    offsets = {d.utcoffset() for d in found}
    assert offsets == {timedelta(hours=2), timedelta(hours=1)}
    (event,) = cal.walk("VEVENT")
    assert str(event["RRULE"].to_ical(), "ascii") == "FREQ=WEEKLY;COUNT=18;BYDAY=MO,WE,FR;WKST=MO"
    assert event["DURATION"].dt == timedelta(minutes=5)  # 4m10s, rounded up
    assert "TRANSP" in event and str(event["TRANSP"]) == "TRANSPARENT"
    # The time zone travels with the file.
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]


def test_a_start_mid_week_begins_on_the_next_planned_day() -> None:
    cal = calendar(planned("{per_week: 2, weeks: 2, reminder: '18:30'}"), start=date(2026, 10, 20))
    found = occurrences(cal, date(2026, 1, 1), date(2027, 12, 31))
    assert [d.date() for d in found] == [
        date(2026, 10, 22), date(2026, 10, 26), date(2026, 10, 29), date(2026, 11, 2),
    ]  # fmt: skip


def test_every_day_and_twice_a_day() -> None:
    daily = calendar(planned("{per_week: 7, weeks: 1, reminder: '07:00'}"))
    assert len(occurrences(daily, MONDAY, MONDAY + timedelta(days=30))) == 7
    twice = calendar(planned("{per_week: 14, weeks: 1, reminder: ['08:00', '19:30']}"))
    (event,) = twice.walk("VEVENT")
    assert [a["TRIGGER"].dt for a in event.walk("VALARM")] == [
        timedelta(0),
        timedelta(hours=11, minutes=30),
    ]
    assert "on some days twice" in str(event["DESCRIPTION"])


def test_one_alarm_per_reminder_time() -> None:
    cal = calendar(planned("{per_week: 3, reminder: ['18:30', '08:00']}"))
    (event,) = cal.walk("VEVENT")
    assert event["DTSTART"].dt.time() == time(8, 0)  # the first reminder of the day
    alarms = event.walk("VALARM")
    assert [(str(a["ACTION"]), a["TRIGGER"].dt) for a in alarms] == [
        ("DISPLAY", timedelta(0)),
        ("DISPLAY", timedelta(hours=10, minutes=30)),
    ]
    assert str(alarms[0]["DESCRIPTION"]) == "Time for Neck and shoulders"


def test_without_weeks_the_events_go_on_and_without_reminders_they_are_all_day() -> None:
    cal = calendar(planned("{per_week: 1}"))
    (event,) = cal.walk("VEVENT")
    assert "COUNT" not in event["RRULE"] and "UNTIL" not in event["RRULE"]
    assert event["DTSTART"].dt == MONDAY  # a date: all day
    assert not event.walk("VALARM")
    assert len(occurrences(cal, MONDAY, MONDAY + timedelta(weeks=52))) == 52


def test_floating_times_where_the_zone_has_no_name() -> None:
    cal = calendar(planned("{per_week: 3, weeks: 1, reminder: '08:00'}"), tz=None)
    (event,) = cal.walk("VEVENT")
    assert event["DTSTART"].dt == datetime(2026, 10, 19, 8, 0)  # no zone: 08:00 anywhere
    assert not cal.walk("VTIMEZONE")


def test_the_description_says_what_and_how() -> None:
    (event,) = calendar(planned("{per_week: 3, weeks: 6, reminder: '08:00'}")).walk("VEVENT")
    text = str(event["DESCRIPTION"])
    assert text.startswith("Ten minutes for a stiff neck\n\nHow often: 3 times a week for 6 weeks")
    assert "or: tproutine run /r/neck.yaml" in text
    assert "does not replace medical care" in text
    assert str(event["SUMMARY"]) == "tproutine: Neck and shoulders"


def test_uids_are_stable_so_a_new_import_updates() -> None:
    assert event_uid("Neck and shoulders") == event_uid("  neck AND shoulders ")
    assert event_uid("Neck and shoulders") != event_uid("Hips")
    one = calendar(planned("{per_week: 3}"), planned("{per_week: 2}", name="Hips"))
    later = calendar(planned("{per_week: 4, weeks: 2}"), start=MONDAY + timedelta(weeks=3))
    uids = [str(e["UID"]) for e in one.walk("VEVENT")]
    assert len(set(uids)) == 2
    assert str(later.walk("VEVENT")[0]["UID"]) == uids[0]


# --- the command ----------------------------------------------------------------------------

NECK = """\
format: tproutine/1
name: Neck and shoulders
plan: {per_week: 3, weeks: 6, reminder: "08:00"}
steps:
  - hold: Upper trapezius
    duration: 45s
"""


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("TZ", "Europe/Berlin")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        "tproutine.commands.calendar.now", lambda: datetime(2026, 10, 18, 12, 0, tzinfo=BERLIN)
    )
    folder = paths.user_routines_dir()
    folder.mkdir(parents=True)
    (folder / "neck.yaml").write_text(NECK, encoding="utf-8")
    return tmp_path


def test_calendar_of_the_library(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calendar", "-o", "plans.ics"]) == 0
    assert "Wrote 1 recurring event to plans.ics" in capsys.readouterr().out
    cal = Calendar.from_ical((library / "plans.ics").read_bytes())
    found = occurrences(cal, date(2026, 1, 1), date(2027, 12, 31))
    assert len(found) == 18 and found[0] == datetime(2026, 10, 19, 8, 0, tzinfo=BERLIN)


def test_calendar_by_name_and_by_file(
    library: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    (library / "hips.yaml").write_text(
        NECK.replace("Neck and shoulders", "Hips").replace("per_week: 3", "per_week: 2"),
        encoding="utf-8",
    )
    assert main(["calendar", "neck AND shoulders", "hips.yaml", "--start", "2026-11-02"]) == 0
    cal = Calendar.from_ical(capsysbinary.readouterr().out)
    starts = {str(e["SUMMARY"]): e["DTSTART"].dt for e in cal.walk("VEVENT")}
    assert starts == {
        "tproutine: Neck and shoulders": datetime(2026, 11, 2, 8, 0, tzinfo=BERLIN),
        "tproutine: Hips": datetime(2026, 11, 2, 8, 0, tzinfo=BERLIN),
    }


def test_calendar_mistakes(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calendar", "Neck and shoulder"]) == 1
    assert "did you mean 'Neck and shoulders'?" in capsys.readouterr().err
    (library / "plain.yaml").write_text(
        NECK.replace('plan: {per_week: 3, weeks: 6, reminder: "08:00"}\n', "")
    )
    assert main(["calendar", "plain.yaml"]) == 1
    assert "'Neck and shoulders' has no plan" in capsys.readouterr().err
    assert main(["calendar", "--start", "soon"]) == 2


# --- a real calendar program ----------------------------------------------------------------


def _khal() -> str:
    found = shutil.which("khal")
    if found is None:
        pytest.skip("khal is not installed (apt-get install khal)")
    return found


def khal_config(folder: Path) -> Path:
    (folder / "calendar").mkdir(parents=True)
    config = folder / "khal.conf"
    config.write_text(
        "[calendars]\n[[tproutine]]\n"
        f"path = {folder / 'calendar'}\ntype = calendar\n"
        "[locale]\ntimeformat = %H:%M\ndateformat = %Y-%m-%d\nlongdateformat = %Y-%m-%d\n"
        "datetimeformat = %Y-%m-%d %H:%M\nlongdatetimeformat = %Y-%m-%d %H:%M\n"
        "default_timezone = Europe/Berlin\nlocal_timezone = Europe/Berlin\nfirstweekday = 0\n"
        f"[sqlite]\npath = {folder / 'khal.db'}\n",
        encoding="utf-8",
    )
    return config


def khal(config: Path, *args: str) -> str:
    done = subprocess.run(
        [_khal(), "-c", str(config), *args],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "TZ": "Europe/Berlin", "HOME": str(config.parent)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def khal_import(config: Path, ics: Path) -> None:
    khal(config, "import", "--batch", "-a", "tproutine", str(ics))


def khal_list(config: Path, start: date, end: date) -> list[str]:
    out = khal(config, "list", start.isoformat(), end.isoformat(), "--format", "{start} {title}")
    return [line for line in out.splitlines() if "tproutine:" in line]


def test_khal_imports_it_and_a_second_import_updates(tmp_path: Path) -> None:
    _khal()
    config = khal_config(tmp_path / "khal")
    ics = tmp_path / "plans.ics"
    ics.write_bytes(
        planned_calendar(
            [planned("{per_week: 3, weeks: 6, reminder: '08:00'}")],
            start=MONDAY, stamp=STAMP, tz=BERLIN,
        )
    )  # fmt: skip
    khal_import(config, ics)
    khal_import(config, ics)  # again: the same UID updates, it does not duplicate
    listed = khal_list(config, date(2026, 10, 1), date(2026, 12, 31))
    assert len(listed) == 18
    assert listed[0] == "2026-10-19 08:00 tproutine: Neck and shoulders"
    assert "2026-10-26 08:00 tproutine: Neck and shoulders" in listed  # after the clocks change
    assert len(list((tmp_path / "khal" / "calendar").iterdir())) == 1

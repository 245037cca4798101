"""Progress against a plan (`due`) and the chart series: pure functions, given moments."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tproutine import paths
from tproutine.cli import main
from tproutine.history.progress import plan_progress, routine_series, streak, weekly_counts
from tproutine.history.store import HistoryStore, SessionRow, Status
from tproutine.routine.loader import parse_routine
from tproutine.routine.model import Plan

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc


def plan(text: str = "{per_week: 3, weeks: 6, reminder: ['08:00']}") -> Plan:
    found = parse_routine(
        f"format: tproutine/1\nname: N\nplan: {text}\nsteps: [{{rest: 5s}}]\n", "t"
    ).routine.plan
    assert found is not None
    return found


def row(
    n: int,
    start: datetime,
    *,
    status: Status = "completed",
    done: int = 10,
    preview: bool = False,
    before: int | None = None,
    after: int | None = None,
    per_week: int | None = 3,
    adjustment: str | None = None,
) -> SessionRow:
    return SessionRow(
        id=n, routine="Neck", file="neck.yaml", content_hash="h", started_at=start,
        ended_at=start + timedelta(minutes=10), status=status, segments_total=10,
        segments_done=done, planned_s=600.0, spent_s=600.0, pain_before=before,
        pain_after=after, device=None, preview=preview, plan_per_week=per_week,
        adjustment=adjustment,
    )  # fmt: skip


def at(day: int, hour: int = 9, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=BERLIN)


# Week of Monday 2026-10-19 (summer time) and of Monday 2026-10-26 (winter time):
# summer time ends on Sunday 2026-10-25 at 03:00 in Berlin.


def test_a_week_is_counted_in_local_time_across_the_change_of_clocks() -> None:
    # Sunday 25th 23:30 local is Sunday 22:30 UTC: still the week of the 19th, locally.
    late_sunday = datetime(2026, 10, 25, 23, 30, tzinfo=BERLIN)
    rows = [row(1, at(19)), row(2, at(21)), row(3, late_sunday), row(4, at(26, 7))]
    wednesday = at(21, 12)
    p = plan_progress("Neck", plan(), rows[:2], wednesday, BERLIN)
    assert (p.done_this_week, p.done_today, p.due_today) == (2, 1, False)
    monday = at(26, 12)
    p = plan_progress("Neck", plan(), rows, monday, BERLIN)
    # The late Sunday session belongs to the week before: it met the plan (3 of 3).
    assert (p.done_this_week, p.streak_weeks, p.plan_week) == (1, 1, 2)
    # Next reminder: Wednesday 08:00 local, which is 07:00 UTC in winter time.
    assert p.next_reminder == datetime(2026, 10, 28, 8, 0, tzinfo=BERLIN)
    assert p.next_reminder is not None
    assert p.next_reminder.astimezone(UTC) == datetime(2026, 10, 28, 7, 0, tzinfo=UTC)


def test_the_same_sessions_in_utc_fall_into_other_weeks() -> None:
    # The zone is what decides: 23:30 Sunday in Berlin is 22:30 Sunday in UTC, but
    # 00:30 Monday Berlin is 23:30 Sunday UTC, the week before.
    early_monday = datetime(2026, 10, 26, 0, 30, tzinfo=BERLIN)
    now = at(26, 12)
    assert plan_progress("Neck", plan(), [row(1, early_monday)], now, BERLIN).done_this_week == 1
    assert plan_progress("Neck", plan(), [row(1, early_monday)], now, UTC).done_this_week == 0


@pytest.mark.parametrize(
    ("status", "done", "preview", "counted"),
    [
        ("completed", 10, False, 1),
        ("completed", 10, True, 0),
        ("stopped", 5, False, 1),
        ("stopped", 4, False, 0),
        ("interrupted", 6, False, 1),
        ("running", 10, False, 0),
    ],
)
def test_only_sessions_that_count_are_counted(
    status: Status, done: int, preview: bool, counted: int
) -> None:
    rows = [row(1, at(19), status=status, done=done, preview=preview)]
    assert plan_progress("Neck", plan(), rows, at(19, 12), BERLIN).done_this_week == counted


def test_due_today_follows_the_planned_days() -> None:
    p3 = plan()
    # Monday, nothing done: due. Tuesday with Monday done: not due. Wednesday: due again.
    assert plan_progress("Neck", p3, [], at(19, 7), BERLIN).due_today
    monday = [row(1, at(19))]
    assert not plan_progress("Neck", p3, monday, at(20), BERLIN).due_today
    assert plan_progress("Neck", p3, monday, at(21), BERLIN).due_today
    # A missed Monday is still due on Tuesday.
    assert plan_progress("Neck", p3, [], at(20), BERLIN).due_today
    # The week's plan met: nothing due, even on Sunday.
    week = [row(i, at(19 + i)) for i in range(3)]
    assert not plan_progress("Neck", p3, week, at(25), BERLIN).due_today


def test_a_finished_programme_is_not_due_and_has_no_reminder() -> None:
    rows = [row(1, at(1, month=9))]  # Tuesday 2026-09-01: week 1
    p = plan_progress("Neck", plan(), rows, at(19), BERLIN)
    assert (p.plan_week, p.finished, p.due_today, p.next_reminder) == (8, True, False, None)
    assert plan_progress("Neck", plan("{per_week: 3}"), rows, at(19), BERLIN).finished is False


def test_streaks_count_full_weeks_that_met_the_plan() -> None:
    mondays = [date(2026, 10, 5), date(2026, 10, 12), date(2026, 10, 19)]
    counts = weekly_counts([d for m in mondays for d in (m, m, m)])
    assert streak(counts, date(2026, 10, 26), 3) == 3  # this week not over yet
    assert streak(counts, date(2026, 10, 19), 3) == 3  # this week met already
    counts[date(2026, 10, 12)] = 2
    assert streak(counts, date(2026, 10, 26), 3) == 1


def test_the_chart_series_leave_out_what_does_not_count() -> None:
    rows = [
        row(1, at(5), before=6, after=4),
        row(2, at(7), before=5, after=3, preview=True),
        row(3, at(20), before=5, after=2, adjustment="time ×0.75"),
        row(4, at(21), status="stopped", done=2, before=7),
    ]
    series = routine_series("Neck", rows, tz=BERLIN)
    assert [(p.before, p.after, p.adjusted) for p in series.pain] == [(6, 4, False), (5, 2, True)]
    # Every week from the first to the last, empty ones too, with the plan beside them.
    assert [(w.week, w.sessions, w.planned) for w in series.weeks] == [
        (date(2026, 10, 5), 1, 3),
        (date(2026, 10, 12), 0, 3),
        (date(2026, 10, 19), 1, 3),
    ]
    assert series.per_week == 3
    assert routine_series("Neck", [], tz=BERLIN).pain == ()


# --- `tproutine due` ----------------------------------------------------------------------

NECK = """\
format: tproutine/1
name: Neck and shoulders
plan:
  per_week: 3
  weeks: 6
  reminder: "08:00"
steps:
  - hold: Upper trapezius
    duration: 45s
"""


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, utc_local_time: None) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    folder = paths.user_routines_dir()
    folder.mkdir(parents=True)
    (folder / "neck.yaml").write_text(NECK, encoding="utf-8")
    now = datetime(2026, 10, 21, 12, 0, tzinfo=UTC)  # a Wednesday
    monkeypatch.setattr("tproutine.commands.due.now", lambda: now)
    return folder


def add(store: HistoryStore, day: int, **kw: object) -> None:
    sid = store.start_session(
        routine="Neck and shoulders", file="neck.yaml", content_hash="h", segments_total=1,
        planned_s=45.0, started_at=datetime(2026, 10, day, 9, 0, tzinfo=UTC), **kw,  # type: ignore[arg-type]
    )  # fmt: skip
    store.finish_session(sid, "completed")


def test_due_with_an_empty_history_says_so(
    library: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["due"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "No sessions of a planned routine yet: each one is due from its first day."
    assert out[1].split()[:3] == ["Routine", "This", "week"]
    assert out[2].startswith("Neck and shoulders  0 of 3     yes")


def test_due_json(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with HistoryStore.open() as store:
        for day in (12, 14, 16, 19):  # a full week, then Monday
            add(store, day)
        add(store, 20, preview=True)  # a preview never counts
    assert main(["due", "--json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert {k: item[k] for k in ("routine", "per_week", "done_this_week", "due_today")} == {
        "routine": "Neck and shoulders",
        "per_week": 3,
        "done_this_week": 1,
        "due_today": True,
    }
    assert item["streak_weeks"] == 1 and item["plan_week"] == 2
    assert item["next_reminder"] == "2026-10-23T08:00:00+00:00"  # Friday (Wednesday's is past)
    assert item["file"].endswith("neck.yaml") and item["adjusted"] is False
    assert main(["due", "--json", "--include-previews"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert item["done_this_week"] == 2


def test_due_without_plans_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert main(["due", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == []
    assert err.startswith("None of the routines in your library has a plan.")

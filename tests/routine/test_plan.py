"""A routine's `plan` and its steps' `id`: loading, errors, what the plan means, `show`."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.routine import problems, routine, timeline
from tproutine.cli import main
from tproutine.routine.loader import parse_routine
from tproutine.routine.plan import (
    due_by_end_of,
    next_reminder,
    parse_time_of_day,
    plan_days,
    plan_days_text,
    plan_text,
    reminder_text,
)
from tproutine.share.handout import html_handout, markdown_handout

STEP = "steps:\n  - hold: A\n    duration: 45s\n"


def plan_of(body: str):  # type: ignore[no-untyped-def]
    plan = parse_routine(routine(body + STEP), "t.yaml").routine.plan
    assert plan is not None
    return plan


def test_the_issues_plan_loads() -> None:
    plan = plan_of('plan:\n  per_week: 3\n  weeks: 6\n  reminder: "08:00"\n')
    assert (plan.per_week, plan.weeks, plan.reminder) == (3, 6, ["08:00"])


def test_reminders_quoted_unquoted_and_in_a_list_mean_the_same() -> None:
    # YAML 1.1 reads an unquoted 18:30 as the number 1110 (base 60).
    plan = plan_of("plan:\n  per_week: 2\n  reminder: [18:30, '7:05', ' 06:00 ']\n")
    assert plan.reminder == ["18:30", "07:05", "06:00"]
    assert plan_of("plan: {per_week: 2, reminder: 18:30}\n").reminder == ["18:30"]


def test_a_plan_is_optional_and_the_version_stays() -> None:
    assert parse_routine(routine(STEP), "t.yaml").routine.plan is None


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        ("plan: {per_week: 0}\n", "3:18: plan.per_week", "0 is out of range (use 1 to 14"),
        ("plan: {per_week: 15}\n", "3:18: plan.per_week", "15 is out of range (use 1 to 14"),
        ("plan:\n  per_week: 3\n  reminder: 25:00\n", "5:13: plan.reminder", "'25:00' is not a"),
        ("plan: {per_week: 3, reminder: '25:00'}\n", "3:31: plan.reminder", "hours go from 0"),
        ("plan: {per_week: 3, reminder: '7:60'}\n", "3:31: plan.reminder", "minutes from 0"),
        ("plan: {per_week: 3, reminder: [8:00, 9]}\n", "3:38: plan.reminder[1]", "9 is not a"),
        ("plan: {per_week: 3, weeks: 0}\n", "3:28: plan.weeks", "use 1 to 104 weeks"),
        ("plan: {per_week: 3, wekks: 2}\n", "3:21: plan.wekks", "did you mean 'weeks'?"),
        ("plan: {weeks: 2}\n", "3:7: plan.per_week", "'per_week' is required"),
        ("plan: {per_week: 3, reminder: []}\n", "3:31: plan.reminder", "give 1 to 6 times"),
    ],
)
def test_plan_mistakes_are_one_line_with_line_and_column(
    body: str, where: str, message: str
) -> None:
    found = problems(routine(body + STEP))
    assert len(found) == 1, found
    line = str(found[0])
    assert line.startswith(f"t.yaml:{where}: "), line
    assert message in line
    assert "\n" not in line


def test_a_time_mistake_says_what_is_accepted() -> None:
    line = str(problems(routine("plan: {per_week: 3, reminder: '25:00'}\n" + STEP))[0])
    assert line.endswith('(use a 24-hour time in quotes, like "08:00" or "18:30")')


def test_step_ids_are_unique_across_repeat_blocks() -> None:
    text = routine(
        "steps:\n"
        "  - hold: A\n    id: upper-trap\n    duration: 5\n"
        "  - repeat: 2\n    steps:\n"
        "      - stretch: B\n        id: upper-trap\n        duration: 5\n"
    )
    (found,) = problems(text)
    assert str(found) == (
        "t.yaml:10:13: steps[1].steps[0].id: the id 'upper-trap' is already used by "
        "steps[0] (line 5); each step's id is unique"
    )


def test_a_malformed_step_id_says_what_an_id_is() -> None:
    (found,) = problems(routine("steps:\n  - rest: 5s\n    id: two words\n"))
    assert str(found).startswith("t.yaml:5:9: steps[0].id: 'two words' is not a step id (use")


def test_ids_on_work_and_rest_steps() -> None:
    loaded = parse_routine(
        routine("steps:\n  - hold: A\n    id: a\n    duration: 5\n  - rest: 5s\n    id: b\n"), "t"
    )
    assert [getattr(s, "id", None) for s in loaded.routine.steps] == ["a", "b"]


# --- what a plan means ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("08:00", time(8)),
        ("8:05", time(8, 5)),
        (1110, time(18, 30)),
        (60, time(1)),
        ("0:00", time()),
    ],
)
def test_parse_time_of_day(value: object, expected: time) -> None:
    assert parse_time_of_day(value) == expected


@pytest.mark.parametrize(
    "value", ["24:00", "8", "8:5", "08:00:00", 59, 1440, True, None, 8.5, "x:00"]
)
def test_parse_time_of_day_refuses(value: object) -> None:
    with pytest.raises(ValueError, match="time"):
        parse_time_of_day(value)


def test_plan_days_spread_the_sessions_through_the_week() -> None:
    assert plan_days(1) == (0,)
    assert plan_days(2) == (0, 3)
    assert plan_days(3) == (0, 2, 4)
    for n in range(1, 15):
        days = plan_days(n)
        assert len(days) == min(n, 7)
        assert list(days) == sorted(set(days))
    assert plan_days_text(3) == "Monday, Wednesday and Friday"
    assert plan_days_text(9) == "every day"


def test_plan_text_reads_as_a_practitioner_would_say_it() -> None:
    assert plan_text(plan_of("plan: {per_week: 3, weeks: 6}\n")) == "3 times a week for 6 weeks"
    assert plan_text(plan_of("plan: {per_week: 1, weeks: 1}\n")) == "once a week for 1 week"
    assert plan_text(plan_of("plan: {per_week: 2}\n")) == "twice a week"
    assert plan_text(plan_of("plan: {per_week: 7}\n")) == "every day"
    assert plan_text(plan_of("plan: {per_week: 14, weeks: 2}\n")) == "twice a day for 2 weeks"
    plan = plan_of("plan: {per_week: 3, reminder: [18:30, '08:00']}\n")
    assert reminder_text(plan) == "reminders at 08:00 and 18:30"


def test_due_by_end_of_follows_the_planned_days() -> None:
    # 3 a week: Monday, Wednesday, Friday.
    assert [due_by_end_of(d, 3) for d in range(7)] == [1, 1, 2, 2, 3, 3, 3]
    assert [due_by_end_of(d, 7) for d in range(7)] == [1, 2, 3, 4, 5, 6, 7]
    assert [due_by_end_of(d, 14) for d in range(7)] == [2, 4, 6, 8, 10, 12, 14]
    assert due_by_end_of(6, 10) == 10


def test_next_reminder_is_on_a_planned_day_in_local_wall_clock_time() -> None:
    plan = plan_of("plan: {per_week: 3, reminder: ['08:00', '18:30']}\n")
    berlin = ZoneInfo("Europe/Berlin")
    # Wednesday 2026-10-21 12:00 local: today's 18:30 is next.
    now = datetime(2026, 10, 21, 12, 0, tzinfo=berlin)
    assert next_reminder(plan, now, berlin) == datetime(2026, 10, 21, 18, 30, tzinfo=berlin)
    # Friday 2026-10-23 19:00: next is Monday 08:00, after summer time ended on Sunday
    # the 25th; the wall clock still says 08:00 (07:00 UTC, not 06:00).
    after = next_reminder(plan, datetime(2026, 10, 23, 19, 0, tzinfo=berlin), berlin)
    assert after == datetime(2026, 10, 26, 8, 0, tzinfo=berlin)
    assert after is not None and after.astimezone(timezone.utc).hour == 7
    assert next_reminder(plan_of("plan: {per_week: 3}\n"), now, berlin) is None


# --- where a plan shows -------------------------------------------------------------------

PLANNED = routine(
    "plan:\n  per_week: 3\n  weeks: 6\n  reminder: '08:00'\n"
    "steps:\n  - hold: Upper trapezius\n    id: upper-trap\n    duration: 45s\n"
)


def test_show_prints_the_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PLANNED, encoding="utf-8")
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert (
        "plan: 3 times a week for 6 weeks (Monday, Wednesday and Friday), reminder at 08:00" in out
    )
    assert main(["show", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["plan"] == {"per_week": 3, "weeks": 6, "reminder": ["08:00"]}
    assert timeline(PLANNED).plan is not None


def test_handouts_say_how_often() -> None:
    loaded = parse_routine(PLANNED, "p.yaml")
    tl = timeline(PLANNED)
    md = markdown_handout(loaded, tl)
    assert "- **How often:** 3 times a week for 6 weeks (Monday, Wednesday and Friday" in md
    assert "reminder at 08:00" in md
    page = html_handout(loaded, tl)
    assert "<dt>How often</dt><dd>3 times a week for 6 weeks" in page


def test_handouts_without_a_plan_do_not_mention_one() -> None:
    text = routine(STEP)
    assert "How often" not in markdown_handout(parse_routine(text, "t.yaml"), timeline(text))


def test_weeks_start_on_monday() -> None:
    from tproutine.routine.plan import week_start

    assert week_start(date(2026, 10, 25)) == date(2026, 10, 19)

"""Progress against a plan: sessions this week, what is due today, streaks, and the
series the charts draw. Pure functions over stored sessions and a given moment.

Only sessions that count are counted (:attr:`SessionRow.counts`): completed ones,
and those ended early with at least half of their segments done; never previews.
Weeks start on Monday in the person's time zone (``tz``; None = the machine's).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from tproutine.routine.plan import due_by_end_of, next_reminder, week_start

if TYPE_CHECKING:
    from tproutine.history.store import SessionRow
    from tproutine.routine.plan import Plan


@dataclass(frozen=True)
class Progress:
    """Where a planned routine stands at a given moment."""

    routine: str
    per_week: int
    weeks: int | None
    done_this_week: int
    done_today: int
    due_today: bool
    streak_weeks: int  # weeks in a row that met the plan, up to this one
    next_reminder: datetime | None
    plan_week: int | None  # which week of the programme, counted from the first session
    finished: bool  # the programme's weeks are over

    def to_json(self) -> dict[str, Any]:
        return {
            "routine": self.routine,
            "per_week": self.per_week,
            "weeks": self.weeks,
            "done_this_week": self.done_this_week,
            "done_today": self.done_today,
            "due_today": self.due_today,
            "streak_weeks": self.streak_weeks,
            "next_reminder": self.next_reminder.isoformat() if self.next_reminder else None,
            "plan_week": self.plan_week,
            "finished": self.finished,
        }


def local_day(moment: datetime, tz: tzinfo | None = None) -> date:
    return moment.astimezone(tz).date()


def weekly_counts(days: Iterable[date]) -> Counter[date]:
    """Sessions per week, keyed by the week's Monday."""
    return Counter(week_start(day) for day in days)


def streak(counts: Counter[date], this_week: date, per_week: int) -> int:
    """Weeks in a row that met ``per_week``: this week once it has, and the full
    weeks before it (this week is not over, so not meeting it yet breaks nothing)."""
    week = this_week if counts[this_week] >= per_week else this_week - timedelta(weeks=1)
    n = 0
    while counts[week] >= per_week:
        n += 1
        week -= timedelta(weeks=1)
    return n


def plan_progress(
    name: str,
    plan: Plan,
    sessions: Sequence[SessionRow],
    now: datetime,
    tz: tzinfo | None = None,
    *,
    previews: bool = False,
) -> Progress:
    """``sessions`` are the routine's (any order); only those that count are counted
    (preview runs too when ``previews``)."""
    days = [local_day(r.started_at, tz) for r in sessions if r.counts_with(previews=previews)]
    today = local_day(now, tz)
    this_week = week_start(today)
    counts = weekly_counts(d for d in days if d <= today)
    done_week = counts[this_week]
    done_today = sum(1 for d in days if d == today)
    plan_week = None
    finished = False
    if days:
        first = week_start(min(days))
        plan_week = (this_week - first).days // 7 + 1
        finished = plan.weeks is not None and plan_week > plan.weeks
    due = (
        not finished
        and done_week < plan.per_week
        and done_week < due_by_end_of(today.weekday(), plan.per_week)
    )
    return Progress(
        routine=name,
        per_week=plan.per_week,
        weeks=plan.weeks,
        done_this_week=done_week,
        done_today=done_today,
        due_today=due,
        streak_weeks=streak(counts, this_week, plan.per_week),
        next_reminder=None if finished else next_reminder(plan, now, tz),
        plan_week=plan_week,
        finished=finished,
    )


# --- what the charts draw ------------------------------------------------------------------


@dataclass(frozen=True)
class PainPoint:
    """One counted session on the pain chart."""

    day: date
    started_at: datetime
    before: int | None
    after: int | None
    adjusted: bool


@dataclass(frozen=True)
class WeekBar:
    """Sessions in one week, beside the plan of that week (None: no plan recorded)."""

    week: date  # its Monday
    sessions: int
    planned: int | None


@dataclass(frozen=True)
class RoutineSeries:
    """A routine's progress over time: what the History screen and the HTML report draw."""

    routine: str
    pain: tuple[PainPoint, ...]  # oldest first
    weeks: tuple[WeekBar, ...]  # oldest first, every week from the first to the last
    per_week: int | None  # the latest plan


def routine_series(
    name: str,
    sessions: Sequence[SessionRow],
    *,
    tz: tzinfo | None = None,
    until: date | None = None,
    max_weeks: int | None = None,
    previews: bool = False,
) -> RoutineSeries:
    """The chart series of one routine's counted sessions (short stops left out, and
    previews unless ``previews``). Weeks run from the first session's to ``until``'s
    (default: the last session's), the latest ``max_weeks`` of them when given."""
    counted = sorted(
        (r for r in sessions if r.counts_with(previews=previews)),
        key=lambda r: (r.started_at, r.id),
    )
    pain = tuple(
        PainPoint(
            day=local_day(r.started_at, tz),
            started_at=r.started_at,
            before=r.pain_before,
            after=r.pain_after,
            adjusted=bool(r.adjustment),
        )
        for r in counted
    )
    if not counted:
        return RoutineSeries(name, (), (), None)
    counts = weekly_counts(p.day for p in pain)
    planned: dict[date, int | None] = {}
    for r in counted:
        planned[week_start(local_day(r.started_at, tz))] = r.plan_per_week
    first = week_start(pain[0].day)
    last = week_start(max(pain[-1].day, until or pain[-1].day))
    n = (last - first).days // 7 + 1
    if max_weeks is not None:
        n = min(n, max_weeks)
    bars = []
    latest_plan: int | None = None
    for i in range(n - 1, -1, -1):
        week = last - timedelta(weeks=i)
        latest_plan = planned.get(week, latest_plan)
        bars.append(WeekBar(week, counts[week], latest_plan))
    per_week = next((r.plan_per_week for r in reversed(counted) if r.plan_per_week), None)
    return RoutineSeries(name, pain, tuple(bars), per_week)


def series_by_routine(
    sessions: Sequence[SessionRow], *, tz: tzinfo | None = None, max_weeks: int | None = None
) -> list[RoutineSeries]:
    """One series per routine that has counted sessions, by name."""
    by_name: dict[str, list[SessionRow]] = {}
    for r in sessions:
        by_name.setdefault(r.routine, []).append(r)
    out = [routine_series(n, rows, tz=tz, max_weeks=max_weeks) for n, rows in by_name.items()]
    return sorted((s for s in out if s.pain), key=lambda s: s.routine.casefold())

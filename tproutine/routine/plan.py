"""What a routine's ``plan`` means: its days, its reminders, and how it reads.

A plan says how often a routine is meant to be done (``per_week``), optionally
for how long (``weeks``), and when to be reminded (``reminder``, local times of
day). Weeks start on Monday, in the person's own time zone. The same days are
used by the calendar (``tproutine calendar``) and by ``tproutine due``, so that
what is "due today" is what the calendar reminded of.

Pure functions: no clock is read here; callers pass the moment they mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Protocol


class Plan(Protocol):
    """What the plan functions read of a plan: the file's (``model.Plan``) or the one a
    Library entry keeps (``checked.Plan``, cached without pydantic)."""

    @property
    def per_week(self) -> int: ...
    @property
    def weeks(self) -> int | None: ...
    @property
    def reminder(self) -> Sequence[str]: ...


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ICAL_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

# The days a plan of n sessions a week falls on (0 = Monday), spread through the
# week so that there is a day of rest between sessions where the number allows it.
_DAYS: dict[int, tuple[int, ...]] = {
    1: (0,),
    2: (0, 3),
    3: (0, 2, 4),
    4: (0, 1, 3, 5),
    5: (0, 1, 2, 4, 5),
    6: (0, 1, 2, 3, 4, 5),
}
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)
TIME_ACCEPTED = 'use a 24-hour time in quotes, like "08:00" or "18:30"'


def parse_time_of_day(value: object) -> time:
    """A reminder time: ``"8:00"``/``"08:00"``, or the number YAML 1.1 makes of an
    unquoted ``18:30`` (base 60: 18 * 60 + 30 = 1110). ValueError otherwise."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a time of day ({TIME_ACCEPTED})")
    if isinstance(value, int):
        # Only a base-60 number (h:mm) is 60 or more; a plain 8 is not a time.
        if value < 60:
            raise ValueError(f"{value!r} is not a time of day ({TIME_ACCEPTED})")
        hours, minutes = divmod(value, 60)
        shown = f"{hours}:{minutes:02d}"
    elif isinstance(value, str):
        shown = value.strip()
        hours_text, sep, minutes_text = shown.partition(":")
        if not (
            sep
            and hours_text.isdigit()
            and len(hours_text) <= 2
            and minutes_text.isdigit()
            and len(minutes_text) == 2
        ):
            raise ValueError(f"{value!r} is not a time of day ({TIME_ACCEPTED})")
        hours, minutes = int(hours_text), int(minutes_text)
    else:
        raise ValueError(f"expected a time of day ({TIME_ACCEPTED})")
    if hours > 23 or minutes > 59:
        raise ValueError(
            f"{shown!r} is not a time of day: hours go from 0 to 23, minutes from 0 to 59 "
            f"({TIME_ACCEPTED})"
        )
    return time(hours, minutes)


def plan_days(per_week: int) -> tuple[int, ...]:
    """The weekdays (0 = Monday) with a planned session; every day past 6 a week."""
    return _DAYS.get(per_week, EVERY_DAY)


def reminder_times(plan: Plan) -> list[time]:
    return sorted(parse_time_of_day(r) for r in plan.reminder)


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def plan_text(plan: Plan) -> str:
    """``3 times a week for 6 weeks``; ``every day``; ``twice a day for 2 weeks``."""
    n = plan.per_week
    if n == 7:
        how = "every day"
    elif n == 14:
        how = "twice a day"
    else:
        how = f"{_times(n)} a week"
    if plan.weeks:
        how += f" for {plan.weeks} week{'s' if plan.weeks != 1 else ''}"
    return how


def join_words(items: list[str]) -> str:
    """``a``; ``a and b``; ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def reminder_text(plan: Plan) -> str:
    """``reminder at 08:00`` / ``reminders at 08:00 and 18:30``; empty without one."""
    times = [t.strftime("%H:%M") for t in reminder_times(plan)]
    if not times:
        return ""
    return f"reminder{'s' if len(times) > 1 else ''} at {join_words(times)}"


def plan_days_text(per_week: int) -> str:
    """``Monday, Wednesday and Friday``; ``every day``."""
    days = plan_days(per_week)
    if days == EVERY_DAY:
        return "every day"
    return join_words([WEEKDAYS[d] for d in days])


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def due_by_end_of(weekday: int, per_week: int) -> int:
    """How many sessions the plan has asked for by the end of ``weekday`` (0 = Monday).

    Up to 6 a week: the planned days so far (a missed Monday is still due on
    Tuesday). More than that: the week's share so far, rounded up.
    """
    if per_week <= 6:
        return sum(1 for d in plan_days(per_week) if d <= weekday)
    return min(per_week, math.ceil(per_week * (weekday + 1) / 7))


def next_reminder(plan: Plan, now: datetime, tz: tzinfo | None = None) -> datetime | None:
    """The next reminder after ``now`` on a planned day, in ``tz`` (default: the
    machine's local zone).

    Wall-clock times: 08:00 stays 08:00 across a change to or from summer time.
    """
    times = reminder_times(plan)
    if not times:
        return None
    local = now.astimezone(tz)
    days = plan_days(plan.per_week)
    for ahead in range(8):
        day = local.date() + timedelta(days=ahead)
        if day.weekday() not in days:
            continue
        for at in times:
            moment = wall_clock(day, at, tz)
            if moment > local:
                return moment
    return None  # pragma: no cover - a planned day comes within a week


def wall_clock(day: date, at: time, tz: tzinfo | None = None) -> datetime:
    """``day`` at ``at`` on the clocks of ``tz`` (None: the machine's zone), as an aware moment."""
    if tz is None:
        # The C library knows the machine's summer-time rules; a fixed offset would not.
        return datetime.combine(day, at).astimezone()
    return datetime.combine(day, at, tzinfo=tz)

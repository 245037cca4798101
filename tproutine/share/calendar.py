"""Reminders in the person's own calendar: planned routines as an RFC 5545 calendar.

One recurring event per routine with a ``plan``: on the plan's days
(:func:`tproutine.routine.plan.plan_days`), at the first reminder time, as long
as the routine takes; the recurrence ends after ``per_week × weeks`` sessions
(``COUNT``) when the plan has ``weeks``. Each reminder time is a ``VALARM``. The
UID comes from the routine's name, so importing the file again updates the
events instead of adding them twice.

Times are wall-clock times in the person's time zone (a ``TZID`` with its
``VTIMEZONE``), so a reminder at 08:00 stays at 08:00 when summer time starts or
ends. Where the zone cannot be named, the times are "floating" (RFC 5545 §3.3.5):
08:00 wherever the calendar is.

Imported only by ``tproutine calendar``: the ``icalendar`` library loads here.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Alarm, Calendar, Event

from tproutine import __version__
from tproutine.routine.plan import (
    ICAL_DAYS,
    plan_days,
    plan_days_text,
    plan_text,
    reminder_times,
    week_start,
)
from tproutine.safetext import one_line

if TYPE_CHECKING:
    from tproutine.routine.model import Plan

PRODID = f"-//tproutine//tproutine {__version__}//EN"
CARE = (
    "A reminder from your routine's plan. Stop at once if something hurts sharply, and ask "
    "your practitioner or a doctor when in doubt: this routine does not replace medical care."
)


@dataclass(frozen=True)
class PlannedRoutine:
    """What the calendar needs of a routine."""

    name: str
    plan: Plan
    total_s: float
    summary: str | None = None
    path: str | None = None  # where it is kept, for "how to run it"


def local_zone() -> ZoneInfo | None:
    """The machine's time zone by its IANA name (``TZ``, ``/etc/localtime``,
    ``/etc/timezone``), or None when it cannot be named."""
    candidates = []
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        candidates.append(tz)
    target = os.path.realpath("/etc/localtime")
    if "zoneinfo/" in target:
        candidates.append(target.split("zoneinfo/", 1)[1])
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for name in candidates:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return None


def event_uid(name: str) -> str:
    """Stable for a routine's name (ignoring case and spacing): a new import updates."""
    key = " ".join(name.split()).casefold()
    return f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@tproutine"


def first_day(per_week: int, start: date) -> date:
    """The first planned day on or after ``start``."""
    days = plan_days(per_week)
    for ahead in range(7):
        day = start + timedelta(days=ahead)
        if day.weekday() in days:
            return day
    raise AssertionError("a plan has at least one day a week")  # pragma: no cover


def _description(routine: PlannedRoutine) -> str:
    plan = routine.plan
    how = plan_text(plan)
    days = plan_days_text(plan.per_week)
    lines = []
    if routine.summary:
        lines += [" ".join(routine.summary.split()), ""]
    lines.append(f"How often: {how} ({days}, or the days that suit you).")
    if plan.per_week > 7:
        lines.append(f"{plan.per_week} sessions a week: on some days twice.")
    lines.append(f"Run it: open tproutine and pick “{routine.name}” in the Library")
    if routine.path:
        # A file's name is anyone's text: a calendar (or a terminal it is printed to)
        # shows its control characters as tokens rather than acting on them.
        lines.append(f"or: tproutine run {one_line(routine.path)}")
    lines += ["", CARE]
    return "\n".join(lines)


def routine_event(
    routine: PlannedRoutine, *, start: date, stamp: datetime, tz: tzinfo | None
) -> Event:
    """The recurring event of one planned routine, from the first planned day on ``start``."""
    plan = routine.plan
    day = first_day(plan.per_week, start)
    times = reminder_times(plan)
    event = Event()
    event.add("uid", event_uid(routine.name))
    event.add("dtstamp", stamp.astimezone(timezone.utc))
    event.add("summary", f"tproutine: {routine.name}")
    event.add("description", _description(routine))
    event.add("categories", ["tproutine"])
    event.add("transp", "TRANSPARENT")  # a reminder does not make the person busy
    if times:
        begin = datetime.combine(day, times[0])
        event.add("dtstart", begin.replace(tzinfo=tz) if tz is not None else begin)
        minutes = max(1, math.ceil(routine.total_s / 60))
        event.add("duration", timedelta(minutes=minutes))
    else:
        event.add("dtstart", day)
        event.add("duration", timedelta(days=1))
    rule: dict[str, object]
    days = plan_days(plan.per_week)
    if len(days) == 7:
        rule = {"freq": "daily"}
        per_week_events = 7
    else:
        rule = {"freq": "weekly", "byday": [ICAL_DAYS[d] for d in days], "wkst": "MO"}
        per_week_events = len(days)
    if plan.weeks:
        rule["count"] = per_week_events * plan.weeks
    event.add("rrule", rule)
    for at in times:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"Time for {routine.name}")
        offset = datetime.combine(day, at) - datetime.combine(day, times[0])
        alarm.add("trigger", offset)
        event.add_component(alarm)
    return event


def planned_calendar(
    routines: list[PlannedRoutine],
    *,
    start: date,
    stamp: datetime,
    tz: tzinfo | None,
) -> bytes:
    """The whole calendar, as the bytes of an ``.ics`` file."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "tproutine")
    for routine in routines:
        cal.add_component(routine_event(routine, start=start, stamp=stamp, tz=tz))
    if tz is not None:
        # The zone's rules from the week before the start, for as long as the plans last.
        # Generous: calendar programs may show the events long after the import.
        weeks = max(max((r.plan.weeks or 104) for r in routines), 52) if routines else 52
        first = week_start(start) - timedelta(days=7)
        cal.add_missing_timezones(first_date=first, last_date=start + timedelta(weeks=weeks + 2))
    return bytes(cal.to_ical())

"""Reports of past sessions: the terminal table, CSV, JSON and a Markdown report.

Pure functions over :class:`~tproutine.history.store.SessionRow` lists, shared
by ``tproutine history`` and the TUI's History screen. Routine names come from
other people's files, so every format escapes them for where they land: no
terminal control sequences, no spreadsheet formulas, no Markdown or HTML.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta, tzinfo
from pathlib import PurePath
from statistics import fmean
from typing import Any

from tproutine.history.store import SessionRow
from tproutine.safetext import dumps, one_line

EXPORT_FIELDS: tuple[str, ...] = (
    "id",
    "routine",
    "file",
    "content_hash",
    "started_at",
    "ended_at",
    "status",
    "segments_done",
    "segments_total",
    "planned_s",
    "spent_s",
    "pain_before",
    "pain_after",
    "device",
    "preview",
    "adjustment",
    "adjustment_hash",
    "plan_per_week",
    "plan_weeks",
)

_SPARKS = "▁▂▃▄▅▆▇█"
_NO_RATING = "–"
# How many weeks the Markdown report lists one by one.
_WEEKS_SHOWN = 12


# --- small formatting helpers ------------------------------------------------------


def format_duration(seconds: float) -> str:
    """``762`` → ``12:42``; an hour or more → ``1:02:03``."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def local_time(moment: datetime, tz: tzinfo | None = None) -> str:
    """``2026-11-21 10:14`` in ``tz`` (the machine's local zone by default)."""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")
_MD_ENTITY = re.compile(r"&(?=#?\w+;)")


def md_escape(text: str) -> str:
    """Text that Markdown shows as written, on one line, inside a heading or a table cell."""
    flat = " ".join(one_line(text).split())
    flat = _MD_ENTITY.sub("&amp;", flat)
    flat = flat.replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", flat)


def csv_cell(text: str | None) -> str:
    """A text cell no spreadsheet will run as a formula (OWASP CSV injection)."""
    if not text:
        return ""
    return "'" + text if text[0] in "=+-@\t\r" else text


def sparkline(values: Iterable[int | None], top: int = 10) -> str:
    """``[0, 5, 10]`` → ``▁▄█`` on a 0..``top`` scale; a missing rating is ``·``."""
    out = []
    for v in values:
        if v is None:
            out.append("·")
        else:
            out.append(_SPARKS[round(min(max(v, 0), top) / top * (len(_SPARKS) - 1))])
    return "".join(out)


def pain_text(before: int | None, after: int | None) -> str:
    if before is None and after is None:
        return ""
    left = _NO_RATING if before is None else str(before)
    right = _NO_RATING if after is None else str(after)
    return f"{left} → {right}"


# --- terminal table ----------------------------------------------------------------


def status_text(row: SessionRow) -> str:
    """``completed``; ``completed, preview`` for a run at another speed; ``, adjusted``."""
    marks: list[str] = [row.status]
    if row.preview:
        marks.append("preview")
    if row.adjustment:
        marks.append("adjusted")
    return ", ".join(marks)


def file_name(path: str | None) -> str:
    """A routine file's name without its folders: a report leaves the computer, the
    person's folder names stay on it (``/home/sam/Private/neck.yaml`` → ``neck.yaml``)."""
    if not path:
        return ""
    return PurePath(path.replace("\\", "/")).name


def history_table(rows: Sequence[SessionRow], tz: tzinfo | None = None, width: int = 40) -> str:
    """The readable listing of ``tproutine history``: one aligned line per session."""
    header = ("Date", "Routine", "Status", "Segments", "Time", "Pain")
    body = [
        (
            local_time(r.started_at, tz),
            _clip(one_line(r.routine), width),
            status_text(r),
            f"{r.segments_done}/{r.segments_total}",
            format_duration(r.spent_s),
            pain_text(r.pain_before, r.pain_after),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in (header, *body)
    )


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# --- CSV and JSON --------------------------------------------------------------------


def export_record(row: SessionRow) -> dict[str, Any]:
    """One session as a flat record (the CSV and JSON exports): a report for someone
    else, so the routine file is named without the folders it is kept in."""
    return {
        "id": row.id,
        "routine": row.routine,
        "file": file_name(row.file) or None,
        "content_hash": row.content_hash,
        "started_at": row.started_at.isoformat(),
        "ended_at": row.ended_at.isoformat() if row.ended_at else None,
        "status": row.status,
        "segments_done": row.segments_done,
        "segments_total": row.segments_total,
        "planned_s": round(row.planned_s, 1),
        "spent_s": round(row.spent_s, 1),
        "pain_before": row.pain_before,
        "pain_after": row.pain_after,
        "device": row.device,
        "preview": row.preview,
        "adjustment": row.adjustment,
        "adjustment_hash": row.adjustment_hash,
        "plan_per_week": row.plan_per_week,
        "plan_weeks": row.plan_weeks,
    }


def sessions_csv(rows: Sequence[SessionRow]) -> str:
    """CSV with a header line, one row per session (text cells guarded against formulas)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        record = export_record(row)
        for key in ("routine", "file", "device", "adjustment"):
            # A spreadsheet shows the text; a terminal that `cat`s the file must not act on it.
            record[key] = csv_cell(one_line(record[key]) if record[key] else None)
        record["preview"] = int(record["preview"])
        writer.writerow({k: "" if v is None else v for k, v in record.items()})
    return buf.getvalue()


def sessions_json(rows: Sequence[SessionRow]) -> str:
    """A JSON array, one object per session."""
    return dumps([export_record(r) for r in rows], indent=2) + "\n"


# --- Markdown report -----------------------------------------------------------------


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _average(values: Sequence[int]) -> str:
    return f"{fmean(values):.1f}" if values else _NO_RATING


def _pain_line(label: str, values: Sequence[int | None]) -> str:
    rated = [v for v in values if v is not None]
    if not rated:
        return f"- Pain {label}: not rated"
    return (
        f"- Pain {label}: average {_average(rated)}, first {rated[0]}, latest {rated[-1]}"
        f" (rated in {len(rated)} of {len(values)} sessions)"
    )


def routine_facts(
    rows: Sequence[SessionRow],
    tz: tzinfo | None,
    *,
    esc: Callable[[str], str] = md_escape,
    code: Callable[[str], str] = lambda text: f"`{text}`",
    trend: bool = True,
) -> list[str]:
    """One routine's summary, a fact a line (``rows`` oldest first). Text from other
    people's files goes through ``esc``; the trend sparklines through ``code``."""
    days = [r.started_at.astimezone(tz).date() for r in rows]
    first_week, last_week = _monday(days[0]), _monday(days[-1])
    weeks = [first_week + timedelta(weeks=i) for i in range((last_week - first_week).days // 7 + 1)]
    per_week = {w: 0 for w in weeks}
    for day in days:
        per_week[_monday(day)] += 1
    finished = [r for r in rows if r.status != "running"]
    completed = sum(r.status == "completed" for r in finished)
    stopped = sum(r.status == "stopped" for r in finished)
    interrupted = sum(r.status == "interrupted" for r in finished)
    shown = weeks[-_WEEKS_SHOWN:]
    week_list = ", ".join(f"{w.isoformat()}: {per_week[w]}" for w in shown)
    versions = len({r.content_hash for r in rows if r.content_hash})

    out = []
    files = sorted({name for r in rows if (name := file_name(r.file))})
    if files:
        out.append("File: " + ", ".join(esc(f) for f in files))
    plan = _latest_plan(rows)
    if plan:
        out.append(f"Plan: {plan}")
    adjustments = sorted({r.adjustment for r in rows if r.adjustment})
    if adjustments:
        adjusted = sum(1 for r in rows if r.adjustment)
        out.append(
            f"Adjusted sessions: {adjusted} of {len(rows)} ("
            + "; ".join(esc(a) for a in adjustments)
            + ")"
        )
    if versions > 1:
        out.append(f"The routine file changed during this period ({versions} versions)")
    out.append(
        f"Sessions: {len(rows)} over {len(weeks)} week{'s' if len(weeks) != 1 else ''},"
        f" {len(rows) / len(weeks):.1f} per week"
    )
    latest = f", latest {_WEEKS_SHOWN}" if len(weeks) > _WEEKS_SHOWN else ""
    out.append(f"Sessions each week (weeks starting Monday{latest}): {week_list}")
    if finished:
        out.append(
            f"Completed: {completed} of {len(finished)}"
            f" ({round(100 * completed / len(finished))} %);"
            f" stopped early: {stopped}; interrupted: {interrupted}"
        )
    befores = [r.pain_before for r in rows]
    afters = [r.pain_after for r in rows]
    out.append(_pain_line("before", befores).removeprefix("- "))
    out.append(_pain_line("after", afters).removeprefix("- "))
    both = [(r.pain_before, r.pain_after) for r in rows]
    changes = [a - b for b, a in both if b is not None and a is not None]
    if changes:
        out.append(
            f"Change within a session: {fmean(changes):+.1f} on average"
            f" ({len(changes)} sessions rated before and after)"
        )
    if trend and any(v is not None for v in befores + afters):
        out.append(
            f"Trend, oldest to newest (0-10): before {code(sparkline(befores))},"
            f" after {code(sparkline(afters))}"
        )
    return out


def _routine_section(name: str, rows: Sequence[SessionRow], tz: tzinfo | None) -> list[str]:
    """One routine's summary and table; ``rows`` oldest first."""
    out = [f"## {md_escape(name)}", ""]
    out += [f"- {fact}" for fact in routine_facts(rows, tz)]
    out += [
        "",
        "| Date | Status | Segments | Time | Pain before → after |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {local_time(r.started_at, tz)} | {status_text(r)}"
            f" | {r.segments_done}/{r.segments_total}"
            f" | {format_duration(r.spent_s)} | {pain_text(r.pain_before, r.pain_after)} |"
        )
    out.append("")
    return out


def plan_words(per_week: int, weeks: int | None) -> str:
    """``3 times a week for 6 weeks`` from the plan a session recorded."""
    how = {1: "once", 2: "twice"}.get(per_week, f"{per_week} times") + " a week"
    return how + (f" for {weeks} week{'s' if weeks != 1 else ''}" if weeks else "")


def _latest_plan(rows: Sequence[SessionRow]) -> str | None:
    for r in reversed(rows):
        if r.plan_per_week:
            return plan_words(r.plan_per_week, r.plan_weeks)
    return None


def markdown_report(
    rows: Sequence[SessionRow], *, generated: datetime, tz: tzinfo | None = None
) -> str:
    """A report a person can send to their practitioner: per routine, how often,
    how completely, and how pain went, with every session listed."""
    ordered = sorted(rows, key=lambda r: (r.started_at, r.id))
    lines = ["# Self-care sessions", ""]
    if not ordered:
        return "\n".join([*lines, "No sessions recorded.", ""])
    by_routine: dict[str, list[SessionRow]] = {}
    for r in ordered:
        by_routine.setdefault(r.routine, []).append(r)
    first = ordered[0].started_at.astimezone(tz).date()
    last = ordered[-1].started_at.astimezone(tz).date()
    n = len(ordered)
    lines += [
        f"Generated on {generated.astimezone(tz):%Y-%m-%d} with tproutine:"
        f" {n} session{'s' if n != 1 else ''} of {len(by_routine)}"
        f" routine{'s' if len(by_routine) != 1 else ''}, from {first} to {last}.",
        "",
        "Pain is rated by the person from 0 (none) to 10 (worst imaginable)."
        " This is a personal log; it does not replace medical advice.",
        "",
    ]
    for name in sorted(by_routine, key=str.casefold):
        lines += _routine_section(name, by_routine[name], tz)
    return "\n".join(lines)

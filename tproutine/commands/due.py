"""``tproutine due [--json]``: what the plans in your library ask for this week.

For every routine in the library (bundled and yours) with a ``plan``: sessions
done this week, whether one is due today, the streak of weeks that met the
plan, and the next reminder. Reads routine files and the history only: no
Textual, bleak or Bumble.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tproutine.commands.common import EXIT_FAIL, EXIT_OK
from tproutine.history.progress import Progress, plan_progress
from tproutine.safetext import dumps, one_line

if TYPE_CHECKING:
    from tproutine.routine.model import Plan

NO_PLANS = (
    "None of the routines in your library has a plan. A practitioner adds one to a "
    "routine file (plan: per_week: 3); add that file with `tproutine add`."
)


def now() -> datetime:
    """The moment ``due`` is asked about (a function, so that tests can set it)."""
    return datetime.now().astimezone()


@dataclass(frozen=True)
class Planned:
    """A routine with a plan, found in the library."""

    name: str
    path: Path
    plan: Plan
    adjusted: bool


def planned_routines() -> list[Planned]:
    """Every valid routine in the library that has a plan, by name (yours first on a tie)."""
    from tproutine import paths
    from tproutine.routine.adjust import adjustment_files, load_adjustment
    from tproutine.routine.loader import load_routine
    from tproutine.share.library import ROUTINE_SUFFIXES, name_key
    from tproutine.yamlsafe import LoadError

    adjusted: set[str] = set()
    for path in adjustment_files(paths.user_adjustments_dir()):
        try:
            adjusted.add(name_key(load_adjustment(path).routine))
        except LoadError:
            continue
    found: dict[str, Planned] = {}
    for folder in (paths.user_routines_dir(), paths.bundled_routines_dir()):
        try:
            files = sorted(p for p in Path(folder).iterdir() if p.suffix in ROUTINE_SUFFIXES)
        except OSError:
            continue
        for path in files:
            try:
                routine = load_routine(path).routine
            except LoadError:
                continue  # `validate` says why; `due` lists what can run
            key = name_key(routine.name)
            if routine.plan is not None and key not in found:
                found[key] = Planned(routine.name, path, routine.plan, key in adjusted)
    return sorted(found.values(), key=lambda p: p.name.casefold())


def progress_of(planned: list[Planned], moment: datetime, previews: bool) -> list[Progress]:
    from tproutine.history.store import HistoryStore

    out = []
    with HistoryStore.open(reading=True) as store:
        store.mark_interrupted()
        for line in store.messages:
            print(one_line(line), file=sys.stderr)
        for p in planned:
            rows = store.sessions(p.name, previews=previews)
            out.append(plan_progress(p.name, p.plan, rows, moment, previews=previews))
    return out


def _when(moment: datetime | None, today: datetime) -> str:
    if moment is None:
        return "–"
    local = moment.astimezone()
    day = local.date()
    if day == today.date():
        return f"today {local:%H:%M}"
    if (day - today.date()).days == 1:
        return f"tomorrow {local:%H:%M}"
    return f"{local:%a %d %b %H:%M}"


def _plan_cell(p: Progress) -> str:
    how = f"{p.per_week}×/week"
    if p.weeks:
        how += f", {p.weeks} weeks"
        if p.finished:
            how += ", finished"
        elif p.plan_week is not None:
            how += f" (week {p.plan_week})"
    return how


def table(rows: list[Progress], adjusted: set[str], moment: datetime) -> str:
    header = ("Routine", "This week", "Due today", "Streak", "Next reminder", "Plan")
    body = []
    for p in rows:
        name = one_line(p.routine) + (" (adjusted)" if p.routine in adjusted else "")
        due = "yes" if p.due_today else ("done" if p.done_today else "no")
        streak = f"{p.streak_weeks} week{'s' if p.streak_weeks != 1 else ''}"
        body.append(
            (
                name,
                f"{p.done_this_week} of {p.per_week}",
                due,
                streak,
                _when(p.next_reminder, moment),
                _plan_cell(p),
            )
        )
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in (header, *body)
    )


def main(args: argparse.Namespace) -> int:
    moment = now()
    planned = planned_routines()
    if not planned:
        print(NO_PLANS, file=sys.stderr)
        if args.json:
            print("[]")
        return EXIT_OK
    try:
        rows = progress_of(planned, moment, bool(args.include_previews))
    except OSError as exc:
        print(f"tproutine due: cannot read the history: {exc}", file=sys.stderr)
        return EXIT_FAIL
    if args.json:
        out = []
        for p, found in zip(rows, planned, strict=True):
            out.append({**p.to_json(), "file": str(found.path), "adjusted": found.adjusted})
        print(dumps(out, indent=2))
        return EXIT_OK
    if not any(p.done_this_week or p.plan_week for p in rows):
        print("No sessions of a planned routine yet: each one is due from its first day.")
    print(table(rows, {p.name for p in planned if p.adjusted}, moment))
    return EXIT_OK

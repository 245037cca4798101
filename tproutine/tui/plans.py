"""What the Library shows of plans: which routines are due, the week's progress, and
which run adjusted.

Read in a worker after the routines are listed (it opens the history and the
adjustments folder), and applied to the list when it arrives: due routines first,
each planned routine with "● due · 1/3 this week" or "2/3 this week", and
"adjusted" where an adjustment in the person's library applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.message import Message

if TYPE_CHECKING:
    from tproutine.history.progress import Progress
    from tproutine.history.store import HistoryStore
    from tproutine.tui.catalog import RoutineEntry


@dataclass(frozen=True)
class LibraryPlans:
    """Per routine file: its progress against its plan; and the routines adjusted."""

    progress: dict[Path, Progress] = field(default_factory=dict)
    adjusted: frozenset[str] = frozenset()  # name keys (case and spacing ignored)

    def due(self, entry: RoutineEntry) -> bool:
        found = self.progress.get(entry.path)
        return found is not None and found.due_today

    def is_adjusted(self, entry: RoutineEntry) -> bool:
        from tproutine.share.names import name_key

        return bool(self.adjusted) and name_key(entry.name) in self.adjusted


class LibraryPlansRead(Message):
    """The plans' progress was read (in a worker)."""

    bubble = False

    def __init__(self, plans: LibraryPlans) -> None:
        super().__init__()
        self.plans = plans


def read_plans(entries: Sequence[RoutineEntry], store: HistoryStore, now: datetime) -> LibraryPlans:
    """Progress of every listed routine that has a plan, and the adjusted routines."""
    from tproutine import paths
    from tproutine.history.progress import plan_progress
    from tproutine.routine.adjust import adjustment_files, load_adjustment
    from tproutine.share.library import name_key
    from tproutine.yamlsafe import LoadError

    progress = {}
    for entry in entries:
        plan = entry.plan
        if plan is not None and not entry.errors:
            rows = store.sessions(entry.name, previews=False)
            progress[entry.path] = plan_progress(entry.name, plan, rows, now)
    adjusted = set()
    for path in adjustment_files(paths.user_adjustments_dir()):
        try:
            adjusted.add(name_key(load_adjustment(path).routine))
        except LoadError:
            continue
    return LibraryPlans(progress, frozenset(adjusted))


def ordered(entries: Sequence[RoutineEntry], plans: LibraryPlans) -> list[RoutineEntry]:
    """Due routines first, the rest as they were (a stable sort)."""
    return sorted(entries, key=lambda e: not plans.due(e))


def badge(entry: RoutineEntry, plans: LibraryPlans) -> str:
    """``● due · 1/3 this week``, ``2/3 this week``, ``adjusted``, or nothing."""
    parts = []
    found = plans.progress.get(entry.path)
    if found is not None and not found.finished:
        week = f"{found.done_this_week}/{found.per_week} this week"
        parts.append(f"● due · {week}" if found.due_today else week)
    if plans.is_adjusted(entry):
        parts.append("adjusted")
    return " · ".join(parts)


def preview_lines(entry: RoutineEntry, plans: LibraryPlans) -> Text:
    """The plan, the week so far and what is due, for the Library's preview."""
    from tproutine.routine.plan import plan_text, reminder_text

    out = Text()
    plan = entry.plan
    found = plans.progress.get(entry.path)
    if plan is not None:
        out.append("\nPlan\n", style="bold")
        line = plan_text(plan)
        reminder = reminder_text(plan)
        out.append(f"  {line[0].upper()}{line[1:]}" + (f"; {reminder}" if reminder else "") + "\n")
    if found is not None:
        if found.finished:
            out.append(f"  The {found.weeks} weeks of the plan are over.\n")
        else:
            due = "one is due today" if found.due_today else "nothing due today"
            streak = (
                f"; {found.streak_weeks} week{'s' if found.streak_weeks != 1 else ''} in a row"
                if found.streak_weeks
                else ""
            )
            out.append(
                f"  This week: {found.done_this_week} of {found.per_week} done, {due}{streak}\n"
            )
    if plans.is_adjusted(entry):
        out.append("\nAdjusted", style="bold")
        out.append(": an adjustment in your library applies when it runs.\n")
    return out

"""``tproutine calendar [FILE|NAME ...] [-o OUT.ics]``: reminders for planned routines.

Without arguments, every routine in the library with a plan. A FILE is read as
a routine file; anything else is a routine's name in the library. Writes an RFC
5545 calendar to OUT (or standard output) for any calendar program to import.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tproutine.commands.common import EXIT_FAIL, EXIT_OK, EXIT_USAGE, print_problems
from tproutine.safetext import one_line
from tproutine.yamlsafe import LoadError

if TYPE_CHECKING:
    from tproutine.routine.model import Plan


def now() -> datetime:
    """When the calendar is made (a function, so that tests can set it)."""
    return datetime.now().astimezone()


def _err(line: str) -> None:
    print(one_line(line), file=sys.stderr)


@dataclass(frozen=True)
class _Found:
    name: str
    plan: Plan | None
    total_s: float
    summary: str | None
    path: str


def _from_file(path: str) -> _Found:
    from tproutine.routine.expand import expand
    from tproutine.routine.loader import load_routine

    loaded = load_routine(path)
    routine = loaded.routine
    return _Found(routine.name, routine.plan, expand(loaded).total_s, routine.summary, path)


def _chosen(names: list[str]) -> list[_Found] | None:
    """Each routine asked for; None after an error (said on stderr)."""
    from tproutine.commands.due import planned_routines
    from tproutine.share.library import name_key

    found = []
    library = {name_key(p.name): p for p in planned_routines()}
    ok = True
    for name in names:
        if Path(name).is_file():
            try:
                found.append(_from_file(name))
            except LoadError as err:
                print_problems(err)
                ok = False
            continue
        known = library.get(name_key(name))
        if known is None:
            from tproutine.suggest import suggest

            hint = suggest(name, [p.name for p in library.values()])
            did = f" (did you mean {hint!r}?)" if hint else ""
            _err(
                f"tproutine calendar: {one_line(name)!r} is neither a file nor a planned "
                f"routine in your library{did}"
            )
            ok = False
            continue
        found.append(_from_file(str(known.path)))
    return found if ok else None


def main(args: argparse.Namespace) -> int:
    from tproutine.commands.due import planned_routines

    start: date | None = None
    if args.start:
        try:
            start = date.fromisoformat(args.start)
        except ValueError:
            _err(f"tproutine calendar: error: --start: {args.start!r} is not a date (YYYY-MM-DD)")
            return EXIT_USAGE
    if args.routines:
        chosen = _chosen(args.routines)
        if chosen is None:
            return EXIT_FAIL
    else:
        try:
            chosen = [_from_file(str(p.path)) for p in planned_routines()]
        except LoadError as err:  # changed since it was listed
            print_problems(err)
            return EXIT_FAIL
    without = [found.name for found in chosen if found.plan is None]
    for name in without:
        _err(
            f"{one_line(name)!r} has no plan (`plan:` in its file), "
            "so there is nothing to remind of"
        )
    if without:
        return EXIT_FAIL
    if not chosen:
        from tproutine.commands.due import NO_PLANS

        _err(NO_PLANS)
        return EXIT_FAIL
    from tproutine.share.calendar import PlannedRoutine, local_zone, planned_calendar

    moment = now()
    routines = [
        PlannedRoutine(f.name, f.plan, f.total_s, f.summary, str(Path(f.path).resolve()))
        for f in chosen
        if f.plan is not None
    ]
    data = planned_calendar(routines, start=start or moment.date(), stamp=moment, tz=local_zone())
    if not args.output or args.output == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return EXIT_OK
    try:
        Path(args.output).write_bytes(data)
    except OSError as exc:
        _err(f"tproutine calendar: cannot write {args.output}: {exc.strerror or exc}")
        return EXIT_FAIL
    n = len(routines)
    print(
        f"Wrote {n} recurring event{'s' if n != 1 else ''} to {args.output}. Import it into "
        "your calendar; importing it again later updates them."
    )
    return EXIT_OK

"""`validate`, `show` and `schema`: fast commands that never import the TUI or BLE.

`validate` and `show` read files with the quick check (``routine/quick.py``):
pydantic loads only to explain a file with mistakes.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from tproutine.commands.common import find_or_say, print_problems, say
from tproutine.routine.durations import format_clock, format_duration
from tproutine.routine.timeline import Segment, Timeline
from tproutine.safetext import dumps, one_line
from tproutine.yamlsafe import LoadError

if TYPE_CHECKING:
    from tproutine.routine.plan import Plan
    from tproutine.share.find import RoutineRef

CATALOGUE_MARK = b"tproutine-steps/"  # a step catalogue says so in its format
ADJUST_MARK = b"tproutine-adjust/"  # and an adjustment file in its (routine/adjust.py)


def is_adjustment_file(raw: bytes, name: str) -> bool:
    """Whether ``raw`` is an adjustment file (``format: tproutine-adjust/1``) rather than
    a routine: ``validate`` and ``add`` tell them apart by their ``format``."""
    if ADJUST_MARK not in raw:
        return False  # the usual case: no second look at the YAML (nor pydantic loaded)
    from tproutine.routine.adjust import ADJUST_FORMAT
    from tproutine.yamlsafe import load_yaml

    try:
        fmt = load_yaml(raw, name).data.get("format")
    except LoadError:
        return False  # the routine loader reports the YAML mistake
    return isinstance(fmt, str) and fmt.startswith(ADJUST_FORMAT.split("/")[0] + "/")


def _routine_named(name: str, given: list[str]) -> str | None:
    """A routine file called ``name``: on the command line, in the library, or bundled."""
    from pathlib import Path

    from tproutine import paths
    from tproutine.routine.loader import load_routine
    from tproutine.share.library import library_routines, name_key

    wanted = name_key(name)
    for file in given:
        try:
            if name_key(load_routine(file).routine.name) == wanted:
                return file
        except LoadError:
            continue
    for folder in (paths.user_routines_dir(), paths.bundled_routines_dir()):
        for path, found in library_routines(Path(folder)):
            if name_key(found) == wanted:
                return str(path)
    return None


def validate_adjustment(name: str, raw: bytes, routines: list[str]) -> bool:
    from tproutine.routine.adjust import adjust, parse_adjustment
    from tproutine.routine.loader import load_routine

    try:
        adj = parse_adjustment(raw, name)
    except LoadError as err:
        print_problems(err)
        return False
    target = _routine_named(adj.routine, routines)
    if target is None:
        say(
            f"{name}: ok as an adjustment; no routine named {adj.routine!r} in your library "
            f"or on this command line, so its steps were not checked "
            f"(`tproutine validate ROUTINE.yaml {name}` checks them)"
        )
        return True
    try:
        adjust(load_routine(target), adj)
    except LoadError as err:
        print_problems(err)
        return False
    say(f"{name}: ok (adjusts {adj.routine!r} in {target})")
    return True


def validate(files: list[str]) -> int:
    from pathlib import Path

    from tproutine.routine.quick import read_routine
    from tproutine.share.find import STDIN, STDIN_NAME, RoutineRef

    failed = False
    raws: dict[str, bytes] = {}
    # Files only (and `-`): a routine being written is checked where it is.
    refs = [RoutineRef(STDIN_NAME, None) if n == STDIN else RoutineRef(n, Path(n)) for n in files]
    for ref in refs:
        try:
            raws[ref.shown] = ref.read()
        except LoadError as err:
            print_problems(err)
            failed = True
    adjustments = [n for n, raw in raws.items() if is_adjustment_file(raw, n)]
    routines = [n for n in raws if n not in adjustments]
    for name in (ref.shown for ref in refs):
        if name not in raws:
            continue
        if name in adjustments:
            failed = not validate_adjustment(name, raws[name], routines) or failed
            continue
        if CATALOGUE_MARK in raws[name]:
            from tproutine.commands.steps import validate_catalogue

            if (ok := validate_catalogue(name, raws[name])) is not None:
                failed = not ok or failed
                continue
        try:
            read_routine(raws[name], name)
        except LoadError as err:
            print_problems(err)
            failed = True
        else:
            say(f"{name}: ok")
    return 1 if failed else 0


def _device_text(seg: Segment) -> str:
    d = seg.device
    if d is None:
        return ""
    if d.level is not None:
        return f"level {d.level}"
    if d.from_pct == d.to_pct:
        return f"{d.from_pct:g}%"
    return f"{d.from_pct:g}→{d.to_pct:g}%"


def render_table(timeline: Timeline) -> str:
    rows = [("start", "segment", "side", "rep", "time", "device")]
    for seg in timeline.segments:
        rep = f"{seg.rep}/{seg.reps}" if seg.rep is not None and seg.reps else ""
        # One cell on one line: a title may hold a tab or a line break.
        title = one_line(
            seg.title
            if seg.kind in ("rest", "switch", "get_ready")
            else f"{seg.kind.capitalize()} · {seg.title}"
        )
        rows.append(
            (
                format_clock(seg.start_s),
                title,
                seg.side or "",
                rep,
                format_duration(seg.duration_s),
                _device_text(seg),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(
        f"{one_line(timeline.name)}: {len(timeline.segments)} segments, "
        f"total {format_duration(timeline.total_s)} ({format_clock(timeline.total_s)})"
    )
    if timeline.plan is not None:
        lines.append(f"plan: {plan_summary(timeline.plan)}")
    if timeline.adjustment is not None:
        lines.append(f"adjusted: {one_line(timeline.adjustment.summary)}")
    if timeline.device_specific:
        lines.append(
            "note: this routine sets raw device levels (`level:`), so it is device-specific"
        )
    return "\n".join(lines)


def plan_summary(plan: Plan) -> str:
    """``3 times a week for 6 weeks (Monday, Wednesday and Friday), reminder at 08:00``."""
    from tproutine.routine.plan import plan_days_text, plan_text, reminder_text

    text = f"{plan_text(plan)} ({plan_days_text(plan.per_week)})"
    reminder = reminder_text(plan)
    return f"{text}, {reminder}" if reminder else text


def show_json(timeline: Timeline) -> dict[str, Any]:
    """``show --json``: the contract's shape, plus ``plan`` and ``adjustment`` when there are."""
    out = timeline.to_json()
    if timeline.plan is not None:
        plan = timeline.plan
        out["plan"] = {"per_week": plan.per_week, "weeks": plan.weeks, "reminder": [*plan.reminder]}
    if timeline.adjustment is not None:
        out["adjustment"] = {
            "hash": timeline.adjustment.hash,
            "summary": timeline.adjustment.summary,
        }
    return out


def _adjusted(ref: RoutineRef, adjust_file: str) -> Timeline:
    from tproutine.routine.adjust import adjust, load_adjustment, timeline_for
    from tproutine.routine.loader import parse_routine

    if ref.path is not None:
        return timeline_for(ref.path, adjust_file=adjust_file, library=False)
    return adjust(parse_routine(ref.read(), ref.shown), load_adjustment(adjust_file))


def show(name: str, as_json: bool, adjust_file: str | None = None) -> int:
    from tproutine.routine.quick import read_routine

    ref = find_or_say(name, stdin=True)
    if ref is None:
        return 1
    try:
        if adjust_file is None:
            # As written: the quick check reads a valid file without pydantic.
            timeline = read_routine(ref.read(), ref.shown)[1]
        else:
            timeline = _adjusted(ref, adjust_file)
    except LoadError as err:
        print_problems(err)
        return 1
    if as_json:
        print(dumps(show_json(timeline)))
    else:
        print(render_table(timeline))
    return 0


def main(args: argparse.Namespace) -> int:
    if args.command == "validate":
        return validate(args.files)
    if args.command == "show":
        return show(args.file, args.json, getattr(args, "adjust", None))
    from tproutine.routine.schema import schema_text

    sys.stdout.write(schema_text())
    return 0

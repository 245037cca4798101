"""`validate`, `show` and `schema`: fast commands that never import the TUI or BLE."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from tproutine.commands.common import print_problems
from tproutine.routine.durations import format_clock, format_duration
from tproutine.routine.loader import load_routine
from tproutine.routine.timeline import Segment, Timeline
from tproutine.yamlsafe import LoadError

if TYPE_CHECKING:
    from tproutine.routine.model import Plan


def validate(files: list[str]) -> int:
    from tproutine.routine.expand import expand

    failed = False
    for name in files:
        try:
            expand(load_routine(name))
        except LoadError as err:
            print_problems(err)
            failed = True
        else:
            print(f"{name}: ok")
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
        title = (
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
        f"{timeline.name}: {len(timeline.segments)} segments, "
        f"total {format_duration(timeline.total_s)} ({format_clock(timeline.total_s)})"
    )
    if timeline.plan is not None:
        lines.append(f"plan: {plan_summary(timeline.plan)}")
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
        out["plan"] = timeline.plan.model_dump()
    return out


def show(name: str, as_json: bool) -> int:
    from tproutine.routine.expand import expand

    try:
        timeline = expand(load_routine(name))
    except LoadError as err:
        print_problems(err)
        return 1
    if as_json:
        print(json.dumps(show_json(timeline), ensure_ascii=False))
    else:
        print(render_table(timeline))
    return 0


def main(args: argparse.Namespace) -> int:
    if args.command == "validate":
        return validate(args.files)
    if args.command == "show":
        return show(args.file, args.json)
    from tproutine.routine.schema import schema_text

    sys.stdout.write(schema_text())
    return 0

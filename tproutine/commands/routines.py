"""`validate`, `show` and `schema`: fast commands that never import the TUI or BLE."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tproutine.commands.common import find_or_say, print_problems
from tproutine.routine.durations import format_clock, format_duration
from tproutine.routine.loader import parse_routine
from tproutine.routine.timeline import Segment, Timeline
from tproutine.yamlsafe import LoadError


def validate(files: list[str]) -> int:
    from tproutine.routine.expand import expand
    from tproutine.share.find import STDIN, STDIN_NAME, RoutineRef

    failed = False
    for name in files:
        # Files only (and `-`): a routine being written is checked where it is.
        ref = RoutineRef(STDIN_NAME, None) if name == STDIN else RoutineRef(name, Path(name))
        try:
            expand(parse_routine(ref.read(), ref.shown))
        except LoadError as err:
            print_problems(err)
            failed = True
        else:
            print(f"{ref.shown}: ok")
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
    if timeline.device_specific:
        lines.append(
            "note: this routine sets raw device levels (`level:`), so it is device-specific"
        )
    return "\n".join(lines)


def show(name: str, as_json: bool) -> int:
    from tproutine.routine.expand import expand

    ref = find_or_say(name, stdin=True)
    if ref is None:
        return 1
    try:
        timeline = expand(parse_routine(ref.read(), ref.shown))
    except LoadError as err:
        print_problems(err)
        return 1
    if as_json:
        print(json.dumps(timeline.to_json(), ensure_ascii=False))
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

"""`validate`, `show` and `schema`: fast commands that never import the TUI or BLE.

`validate` and `show` read files with the quick check (``routine/quick.py``):
pydantic loads only to explain a file with mistakes.
"""

from __future__ import annotations

import argparse
import sys

from tproutine.commands.common import print_problems
from tproutine.routine.durations import format_clock, format_duration
from tproutine.routine.quick import load_timeline
from tproutine.routine.timeline import Segment, Timeline
from tproutine.yamlsafe import LoadError


def validate(files: list[str]) -> int:
    failed = False
    for name in files:
        try:
            load_timeline(name)
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
    if timeline.device_specific:
        lines.append(
            "note: this routine sets raw device levels (`level:`), so it is device-specific"
        )
    return "\n".join(lines)


def show(name: str, as_json: bool) -> int:
    try:
        timeline = load_timeline(name)
    except LoadError as err:
        print_problems(err)
        return 1
    if as_json:
        import json

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

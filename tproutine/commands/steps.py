"""``tproutine steps [ID...] [--area A] [--json]``: the catalogue steps a routine can use.

Without ids, one line per step, grouped by catalogue; with ids, each step in full,
as written in its catalogue (ready to copy). A mistake in any catalogue is printed
on stderr as ``file:line:col: path: what is wrong`` and the exit status is 1, but
the usable steps are still listed. Never imports Textual or Bluetooth.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tproutine.commands.common import EXIT_FAIL, EXIT_OK, say_error
from tproutine.routine.catalogue import Catalogue, CatalogueStep, StepIndex, index
from tproutine.routine.durations import format_duration
from tproutine.safetext import dumps, one_line, visible
from tproutine.yamlsafe import Problem, format_path


def matches_area(step: CatalogueStep, catalogue: Catalogue, area: str) -> bool:
    """``--area``: every word in the catalogue's name, its file name or the step's area."""
    text = " ".join(
        [catalogue.name, catalogue.region.replace("-", " "), step.step.area or ""]
    ).casefold()
    return all(word in text for word in area.casefold().split())


def when(step: CatalogueStep) -> str:
    """``45s ×2, each side``: how long the step takes, as a routine would run it."""
    s = step.step
    text = format_duration(s.duration)
    if s.reps > 1:
        text += f" ×{s.reps}"
    if s.side == "both":
        text += ", alternating sides" if s.alternate else ", each side"
    elif s.side:
        text += f", {s.side} side"
    return text


def _device(step: CatalogueStep) -> dict[str, Any] | None:
    d = step.step.device
    if d is None:
        return None
    return d.model_dump(exclude_none=True)


def step_json(step: CatalogueStep, catalogue: Catalogue) -> dict[str, Any]:
    s = step.step
    return {
        "id": step.id,
        "kind": step.kind,
        "title": step.title,
        "area": s.area,
        "tool": s.tool,
        "duration_s": s.duration,
        "reps": s.reps,
        "side": s.side,
        "alternate": s.alternate,
        "pressure": s.pressure,
        "device": _device(step),
        "catalogue": catalogue.name,
        "region": catalogue.region,
        "bundled": step.bundled,
        "file": step.file,
        "line": step.line,
    }


def _usable(idx: StepIndex) -> list[tuple[Catalogue, CatalogueStep]]:
    return [
        (cat, s)
        for cat in idx.catalogues
        for s in cat.steps
        if not cat.problems and idx.find(s.id) is s
    ]


def _table(rows: list[tuple[Catalogue, CatalogueStep]]) -> str:
    lines: list[str] = []
    width_id = max(len(s.id) for _, s in rows)
    width_what = max(len(f"{s.kind} · {one_line(s.title)}") for _, s in rows)
    width_when = max(len(when(s)) for _, s in rows)
    current: Catalogue | None = None
    for cat, s in rows:
        if cat is not current:
            if current is not None:
                lines.append("")
            whose = "bundled" if cat.bundled else f"yours: {one_line(cat.file)}"
            lines.append(f"{one_line(cat.name)} ({whose})")
            current = cat
        what = f"{s.kind} · {one_line(s.title)}"
        area = one_line(s.step.area or "")
        lines.append(
            f"  {s.id:<{width_id}}  {what:<{width_what}}  {when(s):<{width_when}}  {area}".rstrip()
        )
    lines.append("")
    lines.append(
        f"{len(rows)} steps. Use one in a routine with `- use: ID`; "
        "`tproutine steps ID` shows it in full."
    )
    return "\n".join(lines)


def source_text(step: CatalogueStep, catalogue: Catalogue, idx: StepIndex) -> str:
    """The lines that define ``step`` in its file, as written (comments too), dedented."""
    try:
        lines = catalogue.path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    later = [s.line for s in catalogue.steps if s.line > step.line]
    # A top-level key after the steps mapping ends it too.
    top = [n for n, text in enumerate(lines, 1) if n > step.line and text[:1].isalpha()]
    end = min([*later, *top, len(lines) + 1]) - 1
    block = lines[step.line - 1 : end]
    while block and (not block[-1].strip() or block[-1].lstrip().startswith("#")):
        block.pop()
    indent = step.col - 1
    return "\n".join(line[indent:] if line[:indent].isspace() else line for line in block)


def _show(ids: list[str], idx: StepIndex, as_json: bool) -> int:
    failed = False
    shown: list[tuple[Catalogue, CatalogueStep]] = []
    for step_id in ids:
        found = idx.find(step_id)
        if found is None:
            failed = True
            if step_id in idx.clashes:
                print(idx.clashes[step_id], file=sys.stderr)  # a Problem: one safe line
                continue
            near = idx.nearest(step_id)
            did = f" (did you mean {' or '.join(near)}?)" if near else ""
            say_error(f"no catalogue step {one_line(step_id)!r}{did}")
            continue
        cat = next(c for c in idx.catalogues if found in c.steps)
        shown.append((cat, found))
    if as_json:
        out = [{**step_json(s, c), "step": s.data} for c, s in shown]
        print(dumps(out, indent=2))
    else:
        blocks = []
        for cat, s in shown:
            head = f"# {s.id}: {one_line(cat.name)}, {one_line(s.where)}"
            blocks.append(head + "\n" + visible(source_text(s, cat, idx)))
        if blocks:
            print("\n\n".join(blocks))
    return EXIT_FAIL if failed else EXIT_OK


def validate_catalogue(name: str, raw: bytes) -> bool | None:
    """``tproutine validate`` of a step catalogue: its own mistakes, then any id that
    another catalogue already has. None when the file is not a catalogue after all."""
    from tproutine.routine.catalogue import is_catalogue, parse_catalogue

    if not is_catalogue(raw, name):
        return None
    found = parse_catalogue(raw, name, bundled=False, path=Path(name))
    problems = list(found.problems)
    idx = index()
    here = Path(name).resolve()
    for step in found.steps:
        other = idx.steps.get(step.id)
        if other is not None and Path(other.file).resolve() != here:
            problems.append(
                Problem(
                    name,
                    step.line,
                    step.col,
                    format_path(("steps", step.id)),
                    f"{step.id!r} is already a step in {other.where} "
                    "(ids are unique across all catalogues: choose another)",
                )
            )
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(one_line(f"{name}: ok (a step catalogue of {len(found.steps)} steps)"))
    return not problems


def main(args: argparse.Namespace) -> int:
    idx = index()
    for problem in idx.problems:
        print(problem, file=sys.stderr)
    status = EXIT_FAIL if idx.problems else EXIT_OK
    if args.ids:
        return max(status, _show(args.ids, idx, args.json))
    rows = _usable(idx)
    if args.area:
        rows = [(c, s) for c, s in rows if matches_area(s, c, args.area)]
        if not rows:
            regions = ", ".join(sorted({c.region for c in idx.catalogues if c.steps}))
            say_error(f"no steps for the area {one_line(args.area)!r} (try: {regions})")
            return EXIT_FAIL
    if args.json:
        print(dumps([step_json(s, c) for c, s in rows], indent=2))
    elif rows:
        print(_table(rows))
    else:
        say_error("no step catalogues found")
        return EXIT_FAIL
    return status

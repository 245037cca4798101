"""``tproutine new "Name" --steps ID,ID,...``: a routine built from catalogue steps.

The file has one ``- use: ID`` line per step (with a comment that says what the
step is and how long it takes), the safety warnings and avoid-if items of the
catalogues the steps come from (a starting point for the practitioner to edit),
and the line that the routine does not replace medical care. Every piece of text
that comes from a catalogue is written by PyYAML's emitter or sits in a comment
on one line, so nothing in a catalogue can change the document's structure.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import yaml

from tproutine.routine.catalogue import Catalogue, CatalogueStep, StepIndex
from tproutine.routine.durations import format_duration
from tproutine.routine.schema import SCHEMA_ID
from tproutine.safetext import one_line
from tproutine.share.starter import yaml_string

STOP_RULE = "Stop at once if you feel numbness, tingling, or sharp or shooting pain."
NOT_MEDICAL_CARE = (
    "This is self-care, not treatment. It does not replace medical care and it\n"
    "  cannot promise to cure anything."
)
_MAX_SUMMARY = 200


class UnknownSteps(ValueError):
    """Ids that are not usable steps; the message lists each with the nearest ids."""


def pick(index: StepIndex, ids: Sequence[str]) -> list[CatalogueStep]:
    """The steps for ``ids`` in order (repeats allowed), or UnknownSteps."""
    steps, wrong = [], []
    for step_id in ids:
        found = index.find(step_id)
        if found is None:
            if step_id in index.clashes:
                wrong.append(str(index.clashes[step_id]))
                continue
            near = index.nearest(step_id)
            did = f" (did you mean {' or '.join(near)}?)" if near else ""
            wrong.append(f"unknown catalogue step {one_line(step_id)!r}{did}")
        else:
            steps.append(found)
    if wrong:
        raise UnknownSteps("; ".join(wrong) + "; `tproutine steps` lists every step")
    return steps


def parse_ids(text: str) -> list[str]:
    """``a, b,,c`` → ``[a, b, c]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _comment(step: CatalogueStep) -> str:
    s = step.step
    parts = [f"{step.kind} · {step.title}", format_duration(s.duration)]
    if s.reps > 1:
        parts[-1] += f" ×{s.reps}"
    if s.side == "both":
        parts.append("alternating sides" if s.alternate else "left, then right")
    elif s.side:
        parts.append(f"{s.side} side")
    return one_line(", ".join(parts))


def yaml_text(text: str) -> str:
    """``text`` as one YAML scalar on one line: plain when that reads the same, else quoted."""
    dumped = yaml.safe_dump(text, allow_unicode=True, width=1 << 30)
    dumped = dumped.removesuffix("\n...\n").strip()
    return dumped if "\n" not in dumped else yaml_string(text)


def _list(key: str, items: Sequence[str], indent: str = "  ") -> str:
    lines = [f"{indent}{key}:"]
    lines += [f"{indent}  - {yaml_text(item)}" for item in items]
    return "\n".join(lines)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def safety_warnings(cats: Sequence[Catalogue]) -> list[str]:
    """The catalogues' warnings, with one "stop at once" rule (the first catalogue's)
    rather than one for each catalogue."""
    warnings = [w for c in cats for w in c.safety.warnings]
    stops = [w for w in warnings if w.startswith("Stop at once if you feel")]
    rest = [w for w in warnings if w not in stops]
    return _unique([stops[0] if stops else STOP_RULE, *rest])


def routine_from_steps(
    name: str, file_name: str, steps: Sequence[CatalogueStep], index: StepIndex, total_s: float
) -> str:
    """The routine's text. ``name`` comes from ``starter.clean_name``; ``total_s`` is the
    total the steps take (with the countdown), for the summary."""
    shown = file_name if file_name.isprintable() else "FILE"
    # The regions worked on: breathing steps alone bring no safety lists of their own.
    work = [s for s in steps if s.kind != "breathe"] or list(steps)
    cats: list[Catalogue] = []
    for step in work:
        cat = next(c for c in index.catalogues if step in c.steps)
        if cat not in cats:
            cats.append(cat)
    warnings = safety_warnings(cats)
    avoid = _unique([a for c in cats for a in c.safety.avoid_if])
    regions = ", ".join(one_line(c.name).lower() for c in cats)
    minutes = max(1, int(total_s / 60 + 0.5))  # 6.5 reads as 7, as people round
    summary = f"About {minutes} minute{'s' if minutes != 1 else ''}: {regions}"
    if len(summary) > _MAX_SUMMARY:
        summary = summary[: _MAX_SUMMARY - 1].rstrip(" ,") + "…"
    titles = ", ".join(one_line(s.title).lower() for s in _unique_steps(work))
    about = textwrap.wrap(f"In this routine: {titles}.", width=78)
    tags = ", ".join(yaml_text(c.region) for c in cats)
    lines = [
        f"# yaml-language-server: $schema={SCHEMA_ID}",
        "#",
        "# Built from catalogue steps by `tproutine new --steps`. Each `- use: ID` brings",
        "# in a complete step: where to press, what it should feel like, the cues and the",
        "# time. To change a step for your client, add keys under its use: line, e.g.",
        "#   - use: upper-trapezius-pinch",
        "#     pressure: 4          # {pressure} in the step's words follows this number",
        "#     reps: 3",
        "#     title: Top of the shoulder",
        "# Any field of the step's kind can be changed; `tproutine steps ID` shows a step",
        "# in full. Write the description for your client and check the safety lists.",
        "#",
        f"#   tproutine validate {shown}",
        f"#   tproutine show {shown}",
        f"#   tproutine export {shown} --format html -o handout.html",
        "",
        "format: tproutine/1",
        f"name: {yaml_string(name)}",
        f"summary: {yaml_text(summary)}",
        "# author: Your name, your practice",
        "description: |",
        *(f"  {line}" for line in about),
        "",
        "  Press only to a dull ache you can breathe through, never sharp, and stop if",
        "  anything tingles or goes numb. Short sessions every other day tend to help",
        "  more than one long one.",
        "",
        f"  {NOT_MEDICAL_CARE}",
        f"tags: [{tags}]",
        "safety:",
        _list("warnings", warnings),
    ]
    if avoid:
        lines.append(_list("avoid_if", avoid))
    lines += ["get_ready: 10s", "steps:"]
    width = max(len(s.id) for s in steps)
    lines += [f"  - use: {s.id:<{width}}  # {_comment(s)}" for s in steps]
    return "\n".join(lines) + "\n"


def _unique_steps(steps: Sequence[CatalogueStep]) -> list[CatalogueStep]:
    return list({s.id: s for s in steps}.values())


def build(name: str, file_name: str, ids_text: str) -> str:
    """The routine for ``--steps ID,ID,...``, checked: ValueError for unknown ids,
    LoadError if the catalogues cannot be read or the result would not load."""
    from tproutine.routine.catalogue import index
    from tproutine.routine.expand import expand
    from tproutine.routine.loader import parse_routine

    ids = parse_ids(ids_text)
    if not ids:
        raise ValueError("--steps needs at least one catalogue id (`tproutine steps` lists them)")
    idx = index()
    steps = pick(idx, ids)
    # Measure with a first draft, then write the summary with the real total; the
    # final text is loaded once more so that `new` never writes a file that fails.
    draft = routine_from_steps(name, file_name, steps, idx, 0.0)
    total = expand(parse_routine(draft, file_name)).total_s
    text = routine_from_steps(name, file_name, steps, idx, total)
    expand(parse_routine(text, file_name))
    return text

"""The bundled routines do what they did: their timelines are pinned.

``data/timelines/NAME.json`` is ``tproutine show routines/NAME.yaml --json`` as it
was saved before the routines were rewritten on top of the step catalogue;
``NAME.details.json`` adds what a person reads on each segment (area, tool,
instructions, pressure, breathing pattern) and the safety lists. Rewriting a
routine (for example with ``- use: ID``) must leave both unchanged. A deliberate
change to a bundled routine updates its fixtures: ``tproutine show FILE --json`` for
the first, ``python -m tests.routine.test_bundled_timelines`` for the details.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.routine import BUNDLED, DATA
from tproutine.routine.expand import expand
from tproutine.routine.loader import load_routine
from tproutine.routine.timeline import Timeline

FIXTURES = DATA / "timelines"
PINNED = sorted(p.name.removesuffix(".json") for p in FIXTURES.glob("*.json") if "." not in p.stem)


def details(timeline: Timeline) -> dict[str, Any]:
    """What each segment shows beyond ``show --json``: the words and settings a person reads."""
    return {
        "warnings": list(timeline.warnings),
        "avoid_if": list(timeline.avoid_if),
        "segments": [
            {
                "area": s.area,
                "tool": s.tool,
                "instructions": s.instructions,
                "pressure": s.pressure,
                "pattern": list(s.pattern) if s.pattern else None,
                "reps": s.reps,
                "step_path": s.step_path,
            }
            for s in timeline.segments
        ],
    }


def _timeline(name: str) -> Timeline:
    path = next(p for p in BUNDLED if p.stem == name)
    return expand(load_routine(path))


def test_the_ten_original_routines_are_pinned() -> None:
    assert len(PINNED) == 10


@pytest.mark.parametrize("name", PINNED)
def test_show_json_is_unchanged(name: str) -> None:
    saved = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    assert _timeline(name).to_json() == saved


@pytest.mark.parametrize("name", PINNED)
def test_what_each_segment_says_is_unchanged(name: str) -> None:
    saved = json.loads((FIXTURES / f"{name}.details.json").read_text(encoding="utf-8"))
    assert details(_timeline(name)) == saved


def _regenerate(root: Path) -> None:
    for name in PINNED:
        out = root / f"{name}.details.json"
        out.write_text(json.dumps(details(_timeline(name)), indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    _regenerate(FIXTURES)

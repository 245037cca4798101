"""The bundled library: every area the issue lists has a routine, and every routine
follows the guide's rules (docs/routine-format.md, "Writing routines that help").

Checked on the expanded timelines, so a value that comes from a catalogue step or
from the routine's own change to it is held to the same rules.
"""

from __future__ import annotations

import re

import pytest

from tests.routine import BUNDLED, ROOT
from tproutine.routine.expand import expand
from tproutine.routine.loader import load_routine

LOADED = {p.stem: load_routine(p) for p in BUNDLED}
TIMELINES = {name: expand(loaded) for name, loaded in LOADED.items()}
SOURCES = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")

# Issue 11: each of these areas has a routine of its own.
AREAS = {
    "upper back between the shoulder blades": "upper-back",
    "chest and front of the shoulder, desk posture": "chest-desk-posture",
    "back of the shoulder": "back-of-shoulder",
    "outer elbow and forearm extensors": "tennis-elbow",
    "outer thigh": "outer-thigh",
    "shins": "shins",
    "a 3-5 minute desk micro-break": "desk-micro-break",
    "a pre-run warm-up with a massage gun": "pre-run-warm-up",
    "a post-workout recovery with a massage gun": "post-workout-recovery",
}


def test_the_library_has_at_least_eighteen_routines_and_every_area() -> None:
    assert len(BUNDLED) >= 18
    assert set(AREAS.values()) <= set(LOADED)


@pytest.mark.parametrize("name", sorted(LOADED))
def test_every_routine_says_what_it_is_not(name: str) -> None:
    routine = LOADED[name].routine
    description = routine.description or ""
    assert re.search(r"does\s+not\s+replace\s+medical(\s+or\s+dental)?\s+care", description)
    assert re.search(r"cannot\s+promise\s+to\s+cure", description)
    assert re.match(r"Stop at once if you feel numbness, tingling", routine.safety.warnings[0])
    assert len(routine.safety.avoid_if) >= 4


@pytest.mark.parametrize("name", sorted(LOADED))
def test_holds_stretches_and_massage_guns_keep_to_the_rules(name: str) -> None:
    for seg in TIMELINES[name].segments:
        assert seg.duration_s >= 1
        if seg.kind == "hold":
            assert 30 <= seg.duration_s <= 90, seg.title
            assert seg.pressure is not None and 4 <= seg.pressure <= 6, seg.title
        if seg.kind == "stretch":
            assert 10 <= seg.duration_s <= 60, seg.title
        if seg.kind == "breathe":
            assert seg.pattern is not None and min(seg.pattern) >= 1
        if seg.device is not None:
            assert seg.kind == "massage" and "massage gun" in (seg.tool or ""), seg.title
            assert seg.device.level is None
            assert max(seg.device.from_pct or 0, seg.device.to_pct or 0) <= 45, seg.title
            assert seg.duration_s <= 120, seg.title  # about two minutes a muscle group


@pytest.mark.parametrize("name", sorted(set(AREAS.values())))
def test_every_new_routine_is_built_from_the_catalogue_and_cited(name: str) -> None:
    text = (ROOT / "routines" / f"{name}.yaml").read_text(encoding="utf-8")
    assert re.search(r"(?m)^  - use: ", text)
    assert f"## {LOADED[name].routine.name}" in SOURCES


def test_the_micro_break_takes_three_to_five_minutes() -> None:
    assert 180 <= TIMELINES["desk-micro-break"].total_s <= 300


@pytest.mark.parametrize("name", ["pre-run-warm-up", "post-workout-recovery"])
def test_the_sport_routines_drive_a_massage_gun(name: str) -> None:
    assert TIMELINES[name].uses_device


def test_the_outer_thigh_routine_says_the_it_band_is_not_the_aim() -> None:
    description = LOADED["outer-thigh"].routine.description or ""
    assert "Rolling the IT band itself is not the aim" in description

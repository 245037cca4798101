"""The step catalogues that ship with tproutine: valid, shipped, and safe to use as they are.

The content rules are the ones ``docs/routine-format.md`` ("Writing routines that
help") gives practitioners, checked here for every bundled step: holds start gently,
stretches are short and still, massage guns stay low and moving, text that names a
pressure follows the step's own pressure, and every catalogue carries the safety
lists that ``tproutine new --steps`` copies into a new routine.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.routine import ROOT
from tproutine.routine import model as m
from tproutine.routine.catalogue import Catalogue, CatalogueStep, parse_catalogue, scan_ids

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the project supports 3.10, where tomli is a dependency
    import tomli as tomllib

FILES = sorted((ROOT / "steps").glob("*.yaml"))
CATALOGUES = [parse_catalogue(p.read_bytes(), str(p), bundled=True, path=p) for p in FILES]
STEPS = [(c, s) for c in CATALOGUES for s in c.steps]
STOP_RULE = re.compile(r"^Stop at once if you feel numbness, tingling")
# A number that a person is told to press to must come from {pressure}.
PRESSURE_NUMBER = re.compile(r"\b(about a|at a|About a) \d\b|\b\d out of 10")


def ids(item: tuple[Catalogue, CatalogueStep]) -> str:
    return item[1].id


def test_every_catalogue_is_valid_and_the_ids_are_unique() -> None:
    assert len(FILES) >= 10
    problems = [str(p) for c in CATALOGUES for p in c.problems]
    assert problems == []
    all_ids = [s.id for _, s in STEPS]
    assert len(all_ids) == len(set(all_ids))


@pytest.mark.parametrize("cat", CATALOGUES, ids=lambda c: c.region)
def test_the_cheap_scan_finds_exactly_the_ids_the_parser_finds(cat: Catalogue) -> None:
    # A routine reads only the bundled catalogues whose scanned ids it needs.
    assert scan_ids(cat.path) == {s.id for s in cat.steps}


def test_at_least_forty_steps() -> None:
    assert len(STEPS) >= 40


def test_the_catalogues_ship_in_the_wheel() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    hatch = project["tool"]["hatch"]["build"]["targets"]
    assert hatch["wheel"]["force-include"]["steps"] == "tproutine/_bundled/steps"
    assert "steps" in hatch["sdist"]["include"]


@pytest.mark.parametrize("cat", CATALOGUES, ids=lambda c: c.region)
def test_every_catalogue_has_its_safety_lists(cat: Catalogue) -> None:
    assert cat.name and cat.description
    assert STOP_RULE.match(cat.safety.warnings[0]), cat.safety.warnings[0]
    assert len(cat.safety.avoid_if) >= 4
    assert any("blood thinners" in a for a in cat.safety.avoid_if)
    assert any("pregnant" in a for a in cat.safety.avoid_if)


@pytest.mark.parametrize("item", STEPS, ids=ids)
def test_every_step_says_where_and_how(item: tuple[Catalogue, CatalogueStep]) -> None:
    step = item[1].step
    assert step.instructions and len(step.instructions) >= 60
    assert step.cues
    if not isinstance(step, m.BreatheStep):
        assert step.cues[0].at == 0, "the first cue says where to start"


@pytest.mark.parametrize("item", STEPS, ids=ids)
def test_holds_start_gently(item: tuple[Catalogue, CatalogueStep]) -> None:
    step = item[1].step
    if isinstance(step, m.HoldStep):
        assert 30 <= step.duration <= 90
        assert step.pressure is not None and 4 <= step.pressure <= 6


@pytest.mark.parametrize("item", STEPS, ids=ids)
def test_stretches_are_short_and_still(item: tuple[Catalogue, CatalogueStep]) -> None:
    step = item[1].step
    if isinstance(step, m.StretchStep):
        assert 10 <= step.duration <= 60
        assert step.device is None


@pytest.mark.parametrize("item", STEPS, ids=ids)
def test_a_massage_gun_stays_low_on_muscle_and_moving(
    item: tuple[Catalogue, CatalogueStep],
) -> None:
    step = item[1].step
    device = step.device
    if device is None:
        assert "massage gun" not in (step.tool or "")
        return
    assert isinstance(step, m.MassageStep)
    assert "massage gun" in (step.tool or "")
    top = device.intensity if device.intensity is not None else max(device.ramp or [0])
    assert device.level is None and 0 < top <= 45
    assert step.duration <= 120  # about two minutes a muscle group at most
    text = (step.instructions or "").lower()
    assert re.search(r"glide|keep it moving|move", text), "the gun keeps moving"
    where = f"{step.area} {step.title}".lower()
    for never in ("neck", "spine", "joint", "knee", "ankle", "head"):
        assert never not in where, never


@pytest.mark.parametrize("item", STEPS, ids=ids)
def test_a_pressure_in_words_follows_the_pressure(item: tuple[Catalogue, CatalogueStep]) -> None:
    step = item[1].step
    texts = [step.instructions or "", *(c.say for c in step.cues)]
    assert not [t for t in texts if PRESSURE_NUMBER.search(t)]


@pytest.mark.parametrize("item", STEPS, ids=ids)
def test_segments_and_breaths_are_at_least_a_second(
    item: tuple[Catalogue, CatalogueStep],
) -> None:
    step = item[1].step
    assert step.duration >= 1
    if isinstance(step, m.BreatheStep):
        pattern = step.pattern or [4.0, 6.0]
        assert min(pattern) >= 1
        assert step.duration % sum(pattern) == 0, "ends at the end of a breath"


def test_the_outer_thigh_steps_say_the_it_band_is_not_the_aim() -> None:
    thighs = next(c for c in CATALOGUES if c.region == "thighs")
    assert "not on the IT band itself" in thighs.description
    text = Path(thighs.file).read_text(encoding="utf-8")
    assert "rolling it hard\n# is not the aim" in text

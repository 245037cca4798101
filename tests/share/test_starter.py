"""The starter routine validates, uses every feature, and survives any name."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tproutine.routine import model as m
from tproutine.routine.expand import expand
from tproutine.routine.loader import parse_routine
from tproutine.routine.schema import SCHEMA_ID, routine_schema
from tproutine.share.starter import (
    MAX_NAME,
    clean_name,
    default_filename,
    slug,
    starter_routine,
    yaml_string,
)


def _steps(steps: list[Any]) -> list[Any]:
    out: list[Any] = []
    for step in steps:
        out.append(step)
        if isinstance(step, m.RepeatBlock):
            out += _steps(step.steps)
    return out


def test_the_starter_validates_and_uses_every_feature() -> None:
    text = starter_routine("Neck reset", "neck-reset.yaml")
    loaded = parse_routine(text, "neck-reset.yaml")
    timeline = expand(loaded)
    routine = loaded.routine
    steps = _steps(routine.steps)
    kinds = {type(s) for s in steps}
    assert kinds == {
        m.HoldStep,
        m.StretchStep,
        m.MassageStep,
        m.BreatheStep,
        m.RestStep,
        m.RepeatBlock,
    }
    work = [
        s for s in steps if isinstance(s, (m.HoldStep, m.StretchStep, m.MassageStep, m.BreatheStep))
    ]
    assert any(s.side == "both" and not s.alternate and s.reps > 1 for s in work)
    assert any(s.alternate for s in work)
    assert any(s.pressure is not None for s in work) and routine.defaults.pressure is not None
    assert routine.defaults.rest and routine.defaults.switch
    assert any(s.rest is not None for s in work)
    assert any(c.at < 0 for s in work for c in s.cues)
    assert any(c.at > 0 for s in work for c in s.cues)
    assert any(isinstance(s, m.BreatheStep) and s.pattern for s in work)
    assert any(s.device and s.device.intensity is not None for s in work)
    assert any(s.device and s.device.ramp is not None for s in work)
    assert any(isinstance(s, m.RestStep) and isinstance(s.rest, float) for s in steps)
    assert any(isinstance(s, m.RestStep) and isinstance(s.rest, str) for s in steps)
    assert any(isinstance(s, m.RepeatBlock) and s.rest for s in steps)
    assert any(s.tool and s.area and s.instructions for s in work)
    assert routine.safety.warnings and routine.safety.avoid_if
    assert routine.author and routine.summary and routine.description and routine.tags
    assert "x-practice" in yaml.safe_load(text)
    assert timeline.uses_device and not timeline.device_specific
    assert routine.plan is not None and routine.plan.weeks and routine.plan.reminder
    assert any(getattr(s, "id", None) for s in steps)


def test_the_starter_names_the_schema_and_how_to_get_it_offline() -> None:
    text = starter_routine("Neck reset", "neck-reset.yaml")
    assert text.splitlines()[0] == f"# yaml-language-server: $schema={SCHEMA_ID}"
    assert "#   tproutine schema > routine.schema.json" in text
    assert "#   tproutine validate neck-reset.yaml" in text


def test_the_starter_agrees_with_the_json_schema() -> None:
    data = yaml.safe_load(starter_routine("Neck reset", "n.yaml"))
    jsonschema.Draft202012Validator(routine_schema()).validate(data)


HOSTILE_NAMES = [
    'Neck: "quick" one',
    "it's: {a: b} [c] & *ref !tag %x @y `z` | > #comment",
    "line one\nline two\r\n\tthree",
    "---\n...\nname: injected\nsteps: []",
    "\\ backslash \\n not a newline",
    "Ünïcödé 😀 שלום",
    "\x85nel\u2028ls\u2029ps\x7fdel\x1b[31mred\x00nul",
    "\ud83d lone surrogate",  # what a non-UTF-8 argv byte becomes
    "yes",
    "1:30",
    "null",
    "~",
    "a" * MAX_NAME,
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_stay_one_quoted_value(name: str) -> None:
    clean = clean_name(name)
    text = starter_routine(clean, default_filename(clean))
    loaded = parse_routine(text, "x.yaml")
    assert loaded.routine.name == clean
    expand(loaded)
    assert text.count("\nname: ") == 1
    assert len(text.splitlines()) == len(starter_routine("x", "x.yaml").splitlines())


@given(st.text(min_size=1, max_size=MAX_NAME))
@settings(max_examples=150, deadline=None)
def test_any_name_roundtrips(name: str) -> None:
    try:
        clean = clean_name(name)
    except ValueError as exc:
        assert "needs a name" in str(exc)  # within MAX_NAME, only an empty name fails
        return
    loaded = parse_routine(starter_routine(clean, "x.yaml"), "x.yaml")
    assert loaded.routine.name == clean


@pytest.mark.parametrize(
    ("name", "cleaned"),
    [
        ("  Neck   reset  ", "Neck reset"),
        ("one\ntwo", "one two"),
        ("a\u202eb", "ab"),
        ("\ud83d x", "\ufffd x"),
    ],
)
def test_clean_name(name: str, cleaned: str) -> None:
    assert clean_name(name) == cleaned


@pytest.mark.parametrize("name", ["", "   ", "\n\t", "\x00\x01"])
def test_an_empty_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="needs a name"):
        clean_name(name)


def test_a_too_long_name_is_refused() -> None:
    with pytest.raises(ValueError, match=f"at most {MAX_NAME} characters; this one has 121"):
        clean_name("a" * 121)


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("Neck reset", "neck-reset.yaml"),
        ("Hips & glutes: after running", "hips-glutes-after-running.yaml"),
        ("  --Low_back--  ", "low-back.yaml"),
        ("Шея и плечи", "шея-и-плечи.yaml"),
        ("ＦＵＬＬ width", "full-width.yaml"),
        ("../../etc/passwd", "etc-passwd.yaml"),
        ("!!!", "routine.yaml"),
    ],
)
def test_default_filename(name: str, file: str) -> None:
    assert default_filename(name) == file


def test_slug_is_short() -> None:
    assert len(slug("word " * 50)) <= 60
    assert not slug("word " * 50).endswith("-")


def test_yaml_string_is_one_double_quoted_line() -> None:
    assert yaml_string('a "b" \\ c') == '"a \\"b\\" \\\\ c"'
    assert "\n" not in yaml_string("x" * 500)


def test_example_commands_in_comments_stay_comments() -> None:
    text = starter_routine("x", "odd\nname.yaml")
    assert "#   tproutine validate FILE" in text
    parse_routine(text, "x.yaml")

"""The JSON Schema (draft 2020-12) of routine files agrees with the loader.

The schema describes the document as a YAML 1.1 loader delivers it, so every check
here feeds it ``yaml.safe_load`` of the text, just as an editor's YAML plug-in would.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.routine import BUNDLED, DOC_BLOCKS, HEAD, SPEC_EXAMPLE, problems, timeline
from tproutine.cli import main
from tproutine.routine.durations import (
    DURATION_PATTERN,
    PERCENT_PATTERN,
    SIGNED_DURATION_PATTERN,
    parse_duration,
    parse_percent,
)
from tproutine.routine.schema import routine_schema
from tproutine.yamlsafe import LoadError

SCHEMA = routine_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def schema_ok(text: str) -> bool:
    return VALIDATOR.is_valid(yaml.safe_load(text))


def loader_ok(text: str) -> bool:
    try:
        timeline(text)
    except LoadError:
        return False
    return True


def test_the_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["type"] == "object"
    assert set(SCHEMA["required"]) == {"format", "name", "steps"}


def test_tproutine_schema_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert json.loads(out) == SCHEMA


@pytest.mark.skipif(not BUNDLED, reason="routines/ holds no routine yet")
@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_every_bundled_routine_validates_against_the_schema(path: Any) -> None:
    errors = list(VALIDATOR.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8"))))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_the_specs_example_validates_against_the_schema() -> None:
    VALIDATOR.validate(yaml.safe_load(SPEC_EXAMPLE.read_text(encoding="utf-8")))


@pytest.mark.skipif(not DOC_BLOCKS, reason="docs/routine-format.md is not written yet")
@pytest.mark.parametrize(("line", "text"), DOC_BLOCKS, ids=[f"line{n}" for n, _ in DOC_BLOCKS])
def test_every_example_in_the_guide_validates_against_the_schema(line: int, text: str) -> None:
    errors = list(VALIDATOR.iter_errors(yaml.safe_load(text)))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


STEP = "steps:\n  - hold: A\n    duration: 45s\n"


@pytest.mark.parametrize(
    "text",
    [
        HEAD + "colour: blue\n" + STEP,
        HEAD + STEP + "    colour: blue\n",
        HEAD + STEP + "    device: {intensity: 40%, colour: blue}\n",
        HEAD + STEP + "    cues: [{at: 0s, say: hi, colour: blue}]\n",
        HEAD + "defaults: {colour: blue}\n" + STEP,
        HEAD + "safety: {colour: blue}\n" + STEP,
        HEAD + "steps:\n  - rest: 5s\n    colour: blue\n",
        HEAD + "steps:\n  - repeat: 2\n    colour: blue\n    steps: [{rest: 5s}]\n",
    ],
    ids=["top", "step", "device", "cue", "defaults", "safety", "rest", "repeat"],
)
def test_unknown_keys_are_refused_by_both(text: str) -> None:
    assert not schema_ok(text)
    assert "unknown key 'colour'" in problems(text)[-1].message


def test_x_keys_are_accepted_by_both() -> None:
    text = (
        HEAD + "x-a: 1\ndefaults: {x-b: 2}\nsafety: {x-c: 3}\n" + STEP + "    x-d: 4\n"
        "    device: {intensity: 40%, x-e: 5}\n    cues: [{at: 0s, say: hi, x-f: 6}]\n"
    )
    assert schema_ok(text)
    assert loader_ok(text)


# --- agreement on a corpus ------------------------------------------------------------------

T = HEAD + "steps:\n"

# Accepted by the loader: the schema must accept them too.
VALID = [
    T + "  - hold: A\n    duration: 45\n",
    T + "  - hold: A\n    duration: 1:30\n",
    T + "  - hold: A\n    duration: '1:30'\n",
    T + "  - hold: A\n    duration: 1m 30s\n",
    T + "  - hold: A\n    duration: 2.5s\n",
    T + "  - hold: A\n    duration: 1.5s\n",
    T + "  - hold: A\n    duration: '0:01'\n",
    T + "  - hold: A\n    duration: 0h 0m 1s\n    rest: 1s\n    reps: 2\n",
    T + "  - breathe: A\n    duration: 10s\n    pattern: [1s, 1]\n",
    T + "  - hold: A\n    duration: 1H\n",
    T + "  - hold: A\n    duration: 45s\n    rest: off\n    switch: 0\n    side: both\n",
    T + "  - hold: A\n    duration: 45s\n    device: off\n",
    T + "  - hold: A\n    duration: 45s\n    device: 'OFF'\n",
    T + "  - hold: A\n    duration: 45s\n    device: {intensity: 40}\n",
    T + "  - hold: A\n    duration: 45s\n    device: {intensity: ' 40 % '}\n",
    T + "  - hold: A\n    duration: 45s\n    device: {ramp: [0%, 100%]}\n",
    T + "  - hold: A\n    duration: 45s\n    device: {level: 3}\n",
    T + "  - hold: A\n    duration: 45s\n    area:\n    tool:\n    pressure:\n",
    T + "  - hold: A\n    duration: 45s\n    cues: [{at: -45s, say: a}, {at: '+1s', say: b}]\n",
    T + "  - breathe: A\n    duration: 1m\n    pattern: [4, 2, '6s', 1:00]\n",
    T + "  - rest: 20s\n",
    T + "  - rest: 1:30\n",
    T + "  - rest: Lie still\n    duration: 30s\n",
    T + "  - rest: 5\n    hold: A\n    duration: 10s\n",  # `rest` as the hold's field
    T + "  - repeat: 2\n    rest: off\n    steps: [{rest: 5s}]\n",
    HEAD + "get_ready: off\ndefaults: {device: off, rest: 0s}\n" + STEP,
    HEAD + "get_ready: 1h\n" + STEP,
    HEAD + "summary:\ndescription: ''\nauthor:\ntags: []\nsafety: {}\n" + STEP,
    HEAD + "plan: {per_week: 1}\n" + STEP,
    HEAD + "plan: {per_week: 14, weeks: 104, reminder: '8:00'}\n" + STEP,
    HEAD + "plan:\n  per_week: 3\n  reminder: 18:30\n" + STEP,
    HEAD + "plan:\n  per_week: 3\n  reminder: [' 07:05 ', 23:59, '0:00']\n" + STEP,
    T + "  - hold: A\n    id: upper-trap_2\n    duration: 5\n  - rest: 5s\n    id: R\n",
]

# Refused by the loader and by the schema.
INVALID = [
    T,  # steps: null
    HEAD + "steps: []\n",
    "name: A\n" + STEP,
    "format: tproutine/2\nname: A\n" + STEP,
    "format: tproutine/1\nname: ''\n" + STEP,
    "format: tproutine/1\nname: " + "n" * 121 + "\n" + STEP,
    HEAD + "summary: " + "s" * 201 + "\n" + STEP,
    HEAD + "tags: a\n" + STEP,
    HEAD + "tags: ['']\n" + STEP,
    HEAD + "get_ready: -1\n" + STEP,
    HEAD + "get_ready: 3601\n" + STEP,
    HEAD + "get_ready: on\n" + STEP,
    HEAD + "get_ready:\n" + STEP,
    T + "  - hold: A\n",
    T + "  - hold: ''\n    duration: 5\n",
    T + "  - hold: 5\n    duration: 5\n",
    T + "  - hold: A\n    stretch: B\n    duration: 5\n",
    T + "  - duration: 5\n",
    T + "  - 5\n",
    T + "  - hold: A\n    duration: 0\n",
    T + "  - hold: A\n    duration: 0s\n",
    T + "  - hold: A\n    duration: '0:00'\n",
    T + "  - hold: A\n    duration: 0h 0m 0.0s\n",
    # Shorter than a second: no segment and no breathing phase may be that short.
    T + "  - hold: A\n    duration: 0.5s\n",
    T + "  - hold: A\n    duration: 0.999\n",
    T + "  - hold: A\n    duration: 0m 0.5s\n",
    T + "  - hold: A\n    duration: 45s\n    rest: 0.5s\n    reps: 2\n",
    T + "  - hold: A\n    duration: 45s\n    switch: 0.1\n    side: both\n",
    T + "  - breathe: A\n    duration: 1h\n    pattern: [0.001s, 0.001s]\n",
    T + "  - rest: 0.5s\n",
    T + "  - rest: Lie still\n    duration: 0.5\n",
    HEAD + "get_ready: 0.5s\n" + STEP,
    T + "  - hold: A\n    duration: -5\n",
    T + "  - hold: A\n    duration: 3601\n",
    T + "  - hold: A\n    duration: off\n",
    T + "  - hold: A\n    duration: 1m70s\n",
    T + "  - hold: A\n    duration: 1h60m\n",
    T + "  - hold: A\n    duration: '1:60'\n",
    T + "  - hold: A\n    duration: '1 2'\n",
    T + "  - hold: A\n    duration: 1.5m\n",
    T + "  - hold: A\n    duration: ''\n",
    T + "  - hold: A\n    duration: '-5s'\n",
    T + "  - hold: A\n    duration: '+-5'\n",
    T + "  - hold: A\n    duration: .inf\n",
    T + "  - hold: A\n    duration: 5\n    reps: 0\n",
    T + "  - hold: A\n    duration: 5\n    reps: 101\n",
    T + "  - hold: A\n    duration: 5\n    reps: '3'\n",
    T + "  - hold: A\n    duration: 5\n    reps: true\n",
    T + "  - hold: A\n    duration: 5\n    pressure: 5.5\n",
    T + "  - hold: A\n    duration: 5\n    pressure: 11\n",
    T + "  - hold: A\n    duration: 5\n    side: up\n",
    T + "  - hold: A\n    duration: 5\n    alternate: 1\n",
    T + "  - hold: A\n    duration: 5\n    rest: on\n",
    T + "  - hold: A\n    duration: 5\n    pattern: [4, 6]\n",
    T + "  - breathe: A\n    duration: 5\n    pattern: [4]\n",
    T + "  - breathe: A\n    duration: 5\n    pattern: [4, 0]\n",
    T + "  - hold: A\n    duration: 5\n    device: on\n",
    T + "  - hold: A\n    duration: 5\n    device:\n",
    T + "  - hold: A\n    duration: 5\n    device: 40%\n",
    T + "  - hold: A\n    duration: 5\n    device: {intensity: 150%}\n",
    T + "  - hold: A\n    duration: 5\n    device: {intensity: -5}\n",
    T + "  - hold: A\n    duration: 5\n    device: {intensity: 1e1}\n",
    T + "  - hold: A\n    duration: 5\n    device: {intensity: '-0'}\n",
    T + "  - hold: A\n    duration: 5\n    device: {ramp: [20%]}\n",
    T + "  - hold: A\n    duration: 5\n    device: {level: -1}\n",
    T + "  - hold: A\n    duration: 5\n    device: {level: 3.5}\n",
    T + "  - hold: A\n    duration: 5\n    cues: [{at: 0s}]\n",
    T + "  - hold: A\n    duration: 5\n    cues: [{say: hi}]\n",
    T + "  - hold: A\n    duration: 5\n    cues: [{at: 'soon', say: hi}]\n",
    T + "  - hold: A\n    duration: 5\n    cues: {at: 0, say: hi}\n",
    T + "  - rest: 0s\n",
    T + "  - rest: 1m70s\n",
    T + "  - rest: off\n",
    T + "  - rest: 20s\n    pressure: 3\n",
    T + "  - repeat: 0\n    steps: [{rest: 5s}]\n",
    T + "  - repeat: 101\n    steps: [{rest: 5s}]\n",
    T + "  - repeat: 2\n    steps: []\n",
    T + "  - repeat: 2\n",
    HEAD + "defaults: {duration: 5}\n" + STEP,
    HEAD + "defaults: {pressure: 11}\n" + STEP,
    HEAD + "safety: {warnings: a}\n" + STEP,
    HEAD + "safety: {warnings: [1]}\n" + STEP,
    HEAD + "plan: {}\n" + STEP,
    HEAD + "plan: 3\n" + STEP,
    HEAD + "plan: {per_week: 0}\n" + STEP,
    HEAD + "plan: {per_week: 15}\n" + STEP,
    HEAD + "plan: {per_week: '3'}\n" + STEP,
    HEAD + "plan: {per_week: 3, weeks: 0}\n" + STEP,
    HEAD + "plan: {per_week: 3, weeks: 105}\n" + STEP,
    HEAD + "plan: {per_week: 3, often: yes}\n" + STEP,
    HEAD + "plan: {per_week: 3, reminder: '25:00'}\n" + STEP,
    HEAD + "plan:\n  per_week: 3\n  reminder: 25:00\n" + STEP,
    HEAD + "plan:\n  per_week: 3\n  reminder: 1:00:00\n" + STEP,
    HEAD + "plan:\n  per_week: 3\n  reminder: 18:30.5\n" + STEP,
    HEAD + "plan: {per_week: 3, reminder: 8}\n" + STEP,
    HEAD + "plan: {per_week: 3, reminder: '8'}\n" + STEP,
    HEAD + "plan: {per_week: 3, reminder: '08:00:00'}\n" + STEP,
    HEAD + "plan: {per_week: 3, reminder: '12:60'}\n" + STEP,
    HEAD + "plan: {per_week: 3, reminder: []}\n" + STEP,
    HEAD
    + "plan: {per_week: 3, reminder: ['1:00', '2:00', '3:00', '4:00', '5:00', '6:00', '7:00']}\n"
    + STEP,
    HEAD + "plan: {per_week: 3, reminder:}\n" + STEP,
    T + "  - hold: A\n    id: a b\n    duration: 5\n",
    T + "  - hold: A\n    id: -a\n    duration: 5\n",
    T + "  - hold: A\n    id: ''\n    duration: 5\n",
    T + "  - hold: A\n    id: 5\n    duration: 5\n",
    T + "  - repeat: 2\n    id: r\n    steps: [{rest: 5s}]\n",
]

# Refused by the loader for reasons the schema does not express (and accepted by it):
# each is a rule between fields or over the whole file, or a size that a text pattern
# cannot see. Anything the schema accepts beyond this list is a disagreement.
CROSS_FIELD = {
    "a cue offset outside its repetition": T
    + "  - hold: A\n    duration: 10s\n    cues: [{at: 10s, say: x}]\n",
    "a negative cue offset before the start": T
    + "  - hold: A\n    duration: 10s\n    cues: [{at: -11s, say: x}]\n",
    "alternate without side: both": T + "  - hold: A\n    duration: 5\n    alternate: true\n",
    "a device with two settings": T
    + "  - hold: A\n    duration: 5\n    device: {level: 1, intensity: 5}\n",
    "a device with no setting": T + "  - hold: A\n    duration: 5\n    device: {}\n",
    "a rest that gives its length twice": T + "  - rest: 5s\n    duration: 5s\n",
    "a titled rest without a duration": T + "  - rest: Lie still\n",
    "repeat blocks nested five deep": T
    + "  - repeat: 2\n    steps:\n    - repeat: 2\n      steps:\n      - repeat: 2\n"
    "        steps:\n        - repeat: 2\n          steps:\n          - repeat: 2\n"
    "            steps: [{rest: 5s}]\n",
    "more than 10,000 segments": T
    + "  - repeat: 100\n    steps:\n      - repeat: 100\n        steps: [{rest: 1s}]\n",
    "more than 8 hours": T + "  - repeat: 9\n    steps: [{rest: 1h}]\n",
    "a duration text over an hour (the pattern sees the shape, not the size)": T
    + "  - hold: A\n    duration: 2h\n",
    "two steps with the same id": T
    + "  - hold: A\n    id: a\n    duration: 5\n  - rest: 5s\n    id: a\n",
    "a whole number written as 3.0 (JSON Schema calls it an integer)": T
    + "  - hold: A\n    duration: 5\n    reps: 3.0\n",
}


@pytest.mark.parametrize("text", VALID)
def test_what_the_loader_accepts_the_schema_accepts(text: str) -> None:
    assert loader_ok(text), problems(text)
    errors = list(VALIDATOR.iter_errors(yaml.safe_load(text)))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


@pytest.mark.parametrize("text", INVALID)
def test_what_both_refuse(text: str) -> None:
    assert not loader_ok(text)
    assert not schema_ok(text), "the schema accepts what the loader refuses"


@pytest.mark.parametrize("text", CROSS_FIELD.values(), ids=CROSS_FIELD.keys())
def test_what_only_the_loader_refuses_and_why(text: str) -> None:
    assert not loader_ok(text)
    assert schema_ok(text), "now the schema refuses it too: move it to INVALID"


# --- the duration and percent patterns are the parser's language ---------------------------

_DURATION_CHARS = st.text(alphabet="0123456789hmsHMS:. +-\tx", max_size=12)


def _parses(value: str, **kw: bool) -> bool:
    try:
        parse_duration(value, **kw)
    except ValueError:
        return False
    return True


@settings(max_examples=1500, deadline=None)
@given(_DURATION_CHARS)
@example("1m 30s")
@example("1 2")
@example("1h60m")
@example("1h059m59.5s")
@example("-1:30")
@example("+-5")
@example("")
@example("1:5")
@example("1:60")
@example("0060s")
@example("1m060s")
def test_duration_text_pattern_agrees_with_the_parser(text: str) -> None:
    assert _parses(text) == bool(re.search(DURATION_PATTERN, text)), text
    assert _parses(text, signed=True) == bool(re.search(SIGNED_DURATION_PATTERN, text)), text


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="01234569.% -+e_\t", max_size=8))
@example("40%")
@example(" 40 % ")
@example("1e1")
@example("4_0")
@example("100.0%")
@example("100.5")
@example("0100")
@example("150%")
def test_percent_text_pattern_agrees_with_the_parser(text: str) -> None:
    try:
        parse_percent(text)
    except ValueError:
        accepted = False
    else:
        accepted = True
    assert accepted == bool(re.search(PERCENT_PATTERN, text)), text


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.floats(allow_nan=False, min_value=-1, max_value=2),
        st.booleans(),
        st.text(alphabet="0123456789hms:. ", max_size=8),
    )
)
def test_the_rest_field_agrees_on_off_or_at_least_a_second(value: object) -> None:
    text = yaml.safe_dump(
        {
            "format": "tproutine/1",
            "name": "T",
            "steps": [{"hold": "A", "duration": 5, "reps": 2, "rest": value}],
        }
    )
    if isinstance(value, str) and schema_ok(text) and not loader_ok(text):
        assert parse_duration(value) > 3600  # the pattern checks the shape, not the hour
        return
    assert loader_ok(text) == schema_ok(text), (value, problems(text) or "loader accepts")


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.integers(min_value=-10, max_value=4000),
        st.floats(allow_nan=False, min_value=-10, max_value=4000),
        st.booleans(),
        st.none(),
        st.text(alphabet=string.digits + "hms: ", max_size=6),
    )
)
def test_the_step_duration_field_agrees(value: object) -> None:
    text = yaml.safe_dump(
        {"format": "tproutine/1", "name": "T", "steps": [{"hold": "A", "duration": value}]}
    )
    loader = loader_ok(text)
    schema = schema_ok(text)
    if isinstance(value, str) and schema and not loader:
        # documented above: the pattern checks the shape of text, not whether it is over 1h
        assert parse_duration(value) > 3600
        return
    assert loader == schema, (value, problems(text) if not loader else "loader accepts")


def test_the_schema_file_in_docs_is_current() -> None:
    # The bundled routines point editors at docs/routine.schema.json; it must be what
    # `tproutine schema` prints (regenerate with: tproutine schema > docs/routine.schema.json).
    from tproutine.routine.schema import schema_text

    docs = Path(__file__).resolve().parents[2] / "docs" / "routine.schema.json"
    assert docs.read_text(encoding="utf-8") == schema_text()

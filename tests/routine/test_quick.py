"""The quick check (``routine/quick.py``) says what the models say, without pydantic.

It may be unsure (the models then decide and explain), but it must never accept a
file the models refuse, and what it accepts must be the routine the models build.
The fuzz tests hold it to that on thousands of mutated files; here: the fields and
limits it knows, every real routine, random valid routines, and the corners of
each rule.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings

from tests.routine import BUNDLED, DATA, DOC_BLOCKS, ROOT, SPEC_EXAMPLE, quick_agrees, routine
from tests.routine.test_expand import _docs
from tproutine.routine import checked as c
from tproutine.routine import loader, quick
from tproutine.routine import model as m
from tproutine.yamlsafe import LoadError

TUI_DATA = ROOT / "tests" / "tui" / "data" / "routines"


def _names(cls: Any) -> set[str]:
    return set(cls._fields)


def test_the_quick_check_knows_the_models_limits() -> None:
    assert quick.FORMAT == m.FORMAT
    assert quick.MAX_STEP_SECONDS == m.MAX_STEP_SECONDS
    assert loader.MAX_NESTING == quick.MAX_NESTING


def test_the_checked_routine_has_the_models_fields() -> None:
    # A field added to a model must be added to the quick check and to checked.py too.
    assert _names(c.Routine) == set(m.Routine.model_fields) == set(quick._ROUTINE)
    assert _names(c.Safety) == set(m.Safety.model_fields) == set(quick._SAFETY)
    assert _names(c.Defaults) == set(m.Defaults.model_fields) == set(quick._DEFAULTS)
    assert _names(c.Cue) == set(m.Cue.model_fields) == set(quick._CUE)
    assert _names(c.DeviceSpec) == set(m.DeviceSpec.model_fields) == set(quick._DEVICE)
    assert set(m.RestStep.model_fields) == set(quick._REST)
    # `rest` and `duration` become the title and the length (the models' properties).
    assert _names(c.RestStep) == set(m.RestStep.model_fields) - {"rest", "duration"} | {
        "title",
        "seconds",
    }
    assert _names(c.RepeatBlock) == set(m.RepeatBlock.model_fields) == set(quick._REPEAT)
    extra = {"kind", "title", "device_given"}  # the kind key's text, and `device` given
    for kind in c.WORK_KINDS:
        model = m.STEP_MODELS[kind]
        spec = quick._BREATHE if kind == "breathe" else quick._WORK
        assert set(model.model_fields) == set(spec) | {kind}
        assert set(spec) <= _names(c.WorkStep) - extra
    assert set(m.STEP_MODELS) == {*c.WORK_KINDS, "rest", "repeat"}


def _real_routines() -> list[tuple[str, bytes]]:
    files = [*BUNDLED, SPEC_EXAMPLE, *sorted(TUI_DATA.glob("*.yaml"))]
    found = [(p.name, p.read_bytes()) for p in files]
    found += [(f"routine-format.md:{line}", text.encode()) for line, text in DOC_BLOCKS]
    return found


REAL = _real_routines()


@pytest.mark.parametrize(("name", "raw"), REAL, ids=[n for n, _ in REAL])
def test_every_real_routine_is_read_quickly_and_the_same(name: str, raw: bytes) -> None:
    accepted = quick_agrees(raw, name)
    # Left to the models: the Library's test file with mistakes, and routines built on
    # catalogue steps (`- use: ID`: catalogues are read through the models).
    uses_catalogue = re.search(rb"^\s*- use:", raw, re.MULTILINE) is not None
    assert accepted == (name != "broken.yaml" and not uses_catalogue)


@settings(max_examples=150, deadline=None)
@given(_docs)
def test_random_valid_routines_are_read_quickly_and_the_same(doc: dict[str, Any]) -> None:
    text = yaml.safe_dump(doc, sort_keys=False)
    deep = quick_agrees(text)
    # Nested more than 4 deep is a mistake; everything else these make is valid.
    assert deep == (_depth(doc["steps"]) <= quick.MAX_NESTING)


def _depth(items: list[dict[str, Any]]) -> int:
    return max((1 + _depth(s["steps"]) for s in items if "repeat" in s), default=0)


def steps(text: str) -> str:
    return routine("steps:\n" + text)


STEP = "  - hold: A\n    duration: 30s\n"
INNER = "      - hold: A\n        duration: 30s\n"  # STEP inside a repeat block

# (document, whether the models accept it): each rule's edges, both sides of each.
CORNERS = [
    (steps(STEP), True),
    (routine(""), False),
    (routine("steps: []\n"), False),
    ("format: tproutine/2\nname: T\n" + "steps:\n" + STEP, False),
    ("format: ' tproutine/1'\nname: T\n" + "steps:\n" + STEP, False),
    ("format: tproutine/1\nname: ''\n" + "steps:\n" + STEP, False),
    ("format: tproutine/1\nname: " + "n" * 120 + "\nsteps:\n" + STEP, True),
    ("format: tproutine/1\nname: " + "n" * 121 + "\nsteps:\n" + STEP, False),
    ("format: tproutine/1\nname: 12\nsteps:\n" + STEP, False),
    (routine("summary: " + "s" * 200 + "\nsteps:\n" + STEP), True),
    (routine("summary: " + "s" * 201 + "\nsteps:\n" + STEP), False),
    (routine("summary: ''\nsteps:\n" + STEP), True),
    (routine("summary: ~\ndescription: ~\nauthor: ~\nsteps:\n" + STEP), True),
    (routine("description: ''\nauthor: ''\nsteps:\n" + STEP), True),
    (routine("tags: [a, '']\nsteps:\n" + STEP), False),
    (routine("tags: ~\nsteps:\n" + STEP), False),
    (routine("tags: a\nsteps:\n" + STEP), False),
    (routine("safety: ~\nsteps:\n" + STEP), False),
    (routine("safety: {}\nsteps:\n" + STEP), True),
    (routine("safety: {warnings: [w], avoid_if: [a], other: 1}\nsteps:\n" + STEP), False),
    (routine("get_ready: off\nsteps:\n" + STEP), True),
    (routine("get_ready: ~\nsteps:\n" + STEP), False),
    (routine("get_ready: 1:00:00\nsteps:\n" + STEP), True),
    (routine("get_ready: 1:00:01\nsteps:\n" + STEP), False),
    (routine("defaults: ~\nsteps:\n" + STEP), False),
    (routine("defaults: {pressure: 10, rest: off, switch: 0, tool: t}\nsteps:\n" + STEP), True),
    (routine("defaults: {area: a}\nsteps:\n" + STEP), True),
    (routine("defaults: {pressure: 11}\nsteps:\n" + STEP), False),
    (routine("defaults: {pressure: true}\nsteps:\n" + STEP), False),
    (routine("defaults: {device: off}\nsteps:\n" + STEP), True),
    (routine("defaults: {device: ~}\nsteps:\n" + STEP), False),
    (routine("x-note: ignored\nsteps:\n" + STEP), True),
    (routine("other: 1\nsteps:\n" + STEP), False),
    (steps("  - hold: A\n"), False),
    (steps("  - hold: ''\n    duration: 30s\n"), False),
    (steps("  - hold: A\n    duration: 0s\n"), False),
    (steps("  - hold: A\n    duration: 1h\n"), True),
    (steps("  - hold: A\n    duration: 3601\n"), False),
    (steps("  - hold: A\n    duration: 1:30\n"), True),
    (steps("  - hold: A\n    duration: ~\n"), False),
    (steps("  - hold: A\n    duration: '-5s'\n"), False),
    (steps("  - hold: A\n    duration: 1m70s\n"), False),
    (steps("  - hold: A\n    duration: .inf\n"), False),
    (steps(STEP + "    reps: 100\n"), True),
    (steps(STEP + "    reps: 101\n"), False),
    (steps(STEP + "    reps: 2.0\n"), False),
    (steps(STEP + "    reps: true\n"), False),
    (steps(STEP + "    pressure: ~\n    area: ~\n    tool: ~\n    side: ~\n"), True),
    (steps(STEP + "    side: up\n"), False),
    (steps(STEP + "    alternate: true\n"), False),
    (steps(STEP + "    side: both\n    alternate: true\n"), True),
    (steps(STEP + "    side: left\n    alternate: true\n"), False),
    (steps(STEP + "    alternate: 1\n    side: both\n"), False),
    (steps(STEP + "    rest: ~\n    switch: ~\n"), True),
    (steps(STEP + "    rest: 'off'\n"), False),
    (steps(STEP + "    pattern: [4s, 6s]\n"), False),
    (steps("  - breathe: B\n    duration: 1m\n    pattern: [4s, 6s]\n"), True),
    (steps("  - breathe: B\n    duration: 1m\n    pattern: [4s]\n"), False),
    (steps("  - breathe: B\n    duration: 1m\n    pattern: [1, 1, 1, 1, 1]\n"), False),
    (steps("  - breathe: B\n    duration: 1m\n    pattern: [4s, 0s]\n"), False),
    (steps("  - breathe: B\n    duration: 1m\n    pattern: ~\n"), True),
    (steps(STEP + "    device: off\n"), True),
    (steps(STEP + "    device: 'OFF '\n"), True),
    (steps(STEP + "    device: false\n"), True),
    (steps(STEP + "    device: true\n"), False),
    (steps(STEP + "    device: ~\n"), False),
    (steps(STEP + "    device: 40%\n"), False),
    (steps(STEP + "    device: {intensity: 40%}\n"), True),
    (steps(STEP + "    device: {intensity: 100}\n"), True),
    (steps(STEP + "    device: {intensity: 101}\n"), False),
    (steps(STEP + "    device: {intensity: ~}\n"), False),
    (steps(STEP + "    device: {intensity: 40%, level: 3}\n"), False),
    (steps(STEP + "    device: {intensity: ~, level: 3}\n"), True),
    (steps(STEP + "    device: {ramp: [20%, 60%]}\n"), True),
    (steps(STEP + "    device: {ramp: [20%]}\n"), False),
    (steps(STEP + "    device: {level: 10000}\n"), True),
    (steps(STEP + "    device: {level: 10001}\n"), False),
    (steps(STEP + "    device: {level: 3.0}\n"), False),
    (steps(STEP + "    cues: [{at: 0s, say: Go}, {at: -1s, say: Ease}]\n"), True),
    (steps(STEP + "    cues: [{at: 30s, say: Late}]\n"), False),
    (steps(STEP + "    cues: [{at: -30s, say: Start}]\n"), True),
    (steps(STEP + "    cues: [{at: -31s, say: Early}]\n"), False),
    (steps(STEP + "    cues: [{at: 1s}]\n"), False),
    (steps(STEP + "    cues: [{at: 1s, say: ''}]\n"), False),
    (steps(STEP + "    cues: ~\n"), False),
    (steps("  - rest: 20s\n"), True),
    (steps("  - rest: 0s\n"), False),
    (steps("  - rest: Lie still\n    duration: 30s\n"), True),
    (steps("  - rest: Lie still\n"), False),
    (steps("  - rest: 20s\n    duration: 30s\n"), False),
    (steps("  - rest: ''\n    duration: 30s\n"), True),
    (steps("  - rest: ~\n"), False),
    (steps("  - rest: 20s\n    cues: [{at: 19s, say: Up}]\n"), True),
    (steps("  - rest: 20s\n    cues: [{at: 20s, say: Up}]\n"), False),
    (steps("  - rest: 20s\n    tool: ball\n"), False),
    (steps("  - hold: A\n    stretch: B\n    duration: 30s\n"), False),
    (steps("  - duration: 30s\n"), False),
    (steps("  - just text\n"), False),
    (steps("  - hold: A\n    rest: 10s\n    reps: 2\n    duration: 30s\n"), True),
    (steps("  - repeat: 2\n    rest: 10s\n    steps:\n" + INNER), True),
    (steps("  - repeat: 0\n    steps:\n" + INNER), False),
    (steps("  - repeat: 2\n    steps: []\n"), False),
    (steps("  - repeat: 2\n"), False),
]  # fmt: skip


def _nested(depth: int) -> str:
    text = "hold: A\nduration: 30s\n"
    for _ in range(depth):
        text = "repeat: 2\nsteps:\n  - " + text.replace("\n", "\n    ").rstrip() + "\n"
    return steps("  - " + text.replace("\n", "\n    ").rstrip() + "\n")


CORNERS += [(_nested(4), True), (_nested(5), False)]


@pytest.mark.parametrize(("text", "valid"), CORNERS, ids=[str(i) for i in range(len(CORNERS))])
def test_the_corners_of_every_rule(text: str, valid: bool) -> None:
    # Each accepted document is accepted quickly too; each refused one is left to the models.
    assert quick_agrees(text) == valid


def test_a_file_nobody_checked_is_read_whole_the_quick_check_never_guesses() -> None:
    # A valid file with something the quick check does not know would still load
    # (through the models); here, a key it does not expect is a mistake for both.
    assert quick.check({"format": "tproutine/1", "name": "T", "steps": [{"use": "x"}]}) is None


def _run(code: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return result


READ = """
import json, sys
from tproutine.routine import load_timeline
from tproutine.yamlsafe import LoadError
try:
    load_timeline({path!r})
    said = ""
except LoadError as err:
    said = str(err)
print(json.dumps({{"pydantic": "pydantic" in sys.modules, "said": said}}))
"""


def test_a_valid_file_is_read_without_pydantic() -> None:
    assert _run(READ.format(path=str(SPEC_EXAMPLE))) == {"pydantic": False, "said": ""}


def test_a_file_with_mistakes_is_explained_by_the_models(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(steps("  - hold: A\n    durration: 30s\n"))
    result = _run(READ.format(path=str(bad)))
    assert result["pydantic"] is True
    with pytest.raises(LoadError) as err:
        loader.load_routine(bad)
    assert result["said"] == str(err.value)
    assert "5:5: steps[0].durration: unknown key 'durration' (did you mean 'duration'?" in str(
        err.value
    )


def test_the_timeline_remembers_the_file_and_its_content() -> None:
    from tproutine.routine.quick import load_timeline

    full = loader.load_routine(SPEC_EXAMPLE)
    tl = load_timeline(SPEC_EXAMPLE, shown="example.yaml")
    assert tl.source == "example.yaml"
    assert tl.content_hash == full.content_hash
    assert DATA.is_dir()

"""Random mutations of real routines: a valid Timeline or a clean LoadError, nothing else.

Each document also goes through the quick check (``quick_agrees``): it must never
accept a document the models refuse, and must agree with them on the rest.

The seeds are the bundled routines (or the spec's complete example while routines/
is empty). Mutations work on the text (truncate, insert random bytes, delete or
duplicate lines) and on the data (delete, duplicate or rename keys, replace values
with random YAML). Any exception other than LoadError fails, as does a problem
without a position, with an empty message, or spread over several lines.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.routine import BUNDLED, SPEC_EXAMPLE, quick_agrees
from tproutine.routine.expand import expand
from tproutine.routine.loader import parse_routine
from tproutine.routine.timeline import Timeline
from tproutine.yamlsafe import LoadError

SEEDS: list[bytes] = [p.read_bytes() for p in (BUNDLED or [SPEC_EXAMPLE])]
# PyYAML's C loader and dumper, when built, keep the data mutations fast.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
SEED_DOCS: list[Any] = [yaml.load(raw, Loader=_Loader) for raw in SEEDS]
# TPROUTINE_FUZZ_EXAMPLES=5000 for a long hunt; 200 keeps `make test` quick.
SETTINGS = settings(
    max_examples=int(os.environ.get("TPROUTINE_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check(raw: bytes | str, *, in_hypothesis: bool = True) -> Timeline | None:
    """Load and expand; the only failure allowed is a LoadError with clean problems.

    Inside a hypothesis test, the share of accepted and refused documents shows in
    ``pytest --hypothesis-show-statistics``.
    """
    quick = quick_agrees(raw, "fuzz.yaml")
    if in_hypothesis:
        event("quick check accepted" if quick else "quick check unsure")
    try:
        timeline = expand(parse_routine(raw, "fuzz.yaml"))
    except LoadError as err:
        if in_hypothesis:
            event("refused")
        assert err.problems
        for p in err.problems:
            assert p.file == "fuzz.yaml"
            assert isinstance(p.line, int) and p.line >= 0
            assert isinstance(p.col, int) and p.col >= 0
            assert p.message.strip(), p
            shown = str(p)
            assert len(shown.splitlines()) == 1, shown
            assert shown.startswith(f"fuzz.yaml:{p.line}:{p.col}: ")
        where = [(p.line, p.col) for p in err.problems]
        assert where == sorted(where), "problems are reported in the order of the file"
        return None
    if in_hypothesis:
        event("accepted")
    return timeline


def test_the_seeds_are_valid() -> None:
    for raw in SEEDS:
        assert check(raw, in_hypothesis=False) is not None


# --- text mutations ---------------------------------------------------------------------

_seed = st.sampled_from(SEEDS)


@SETTINGS
@given(_seed, st.floats(min_value=0, max_value=1))
def test_truncated_anywhere(raw: bytes, where: float) -> None:
    check(raw[: int(len(raw) * where)])


@SETTINGS
@given(_seed, st.floats(min_value=0, max_value=1), st.binary(min_size=1, max_size=8))
def test_random_bytes_inserted(raw: bytes, where: float, junk: bytes) -> None:
    i = int(len(raw) * where)
    check(raw[:i] + junk + raw[i:])


_YAML_BITS = st.sampled_from(
    [
        ":", "- ", "[", "]", "{", "}", "&a ", "*a", "!!", "!!python/name:os.system ", "<<: ",
        "'", '"', "#", "|", ">", "\t", "\n", "  ", "---\n", "? ", ",", "%YAML 1.1\n", "\\",
        "\x00", "\x85", "\u2028", "\ufeff", "~", "off", "1:30", "-", "@", "`",
    ]
)  # fmt: skip


@SETTINGS
@given(_seed, st.lists(st.tuples(st.floats(0, 1), _YAML_BITS), min_size=1, max_size=4))
def test_yaml_syntax_inserted(raw: bytes, edits: list[tuple[float, str]]) -> None:
    text = raw.decode("utf-8")
    for where, bit in edits:
        i = int(len(text) * where)
        text = text[:i] + bit + text[i:]
    check(text)


@SETTINGS
@given(_seed, st.data())
def test_lines_deleted_duplicated_or_swapped(raw: bytes, data: st.DataObject) -> None:
    lines = raw.decode("utf-8").splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["delete", "duplicate", "swap", "dedent", "indent"]))
        if action == "delete" and len(lines) > 1:
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif action == "dedent":
            lines[i] = lines[i].removeprefix("  ")
        elif action == "indent":
            lines[i] = "  " + lines[i]
    check("".join(lines))


# --- data mutations ----------------------------------------------------------------------

KEYS = [
    "format", "name", "steps", "hold", "stretch", "massage", "breathe", "rest", "repeat",
    "duration", "reps", "side", "alternate", "switch", "cues", "at", "say", "device",
    "intensity", "ramp", "level", "pattern", "defaults", "pressure", "get_ready", "safety",
    "warnings", "avoid_if", "tags", "x-note", "durration", "step",
]  # fmt: skip

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.integers(min_value=10**300, max_value=10**310),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        ["45s", "1m70s", "1:30", "-10s", "off", "on", "40%", "150%", "both", "hold", "x-a", ""]
    ),
    st.dates(),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(KEYS)), inner, max_size=4),
    ),
    max_leaves=8,
)


def _containers(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every mapping and list in the document (the root included)."""
    found = []
    if isinstance(node, (dict, list)):
        found.append(path)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            found.extend(_containers(v, (*path, k)))
    return found


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@SETTINGS
@given(st.sampled_from(range(len(SEED_DOCS))), st.data())
def test_keys_and_values_mutated(seed: int, data: st.DataObject) -> None:
    doc = copy.deepcopy(SEED_DOCS[seed])
    for _ in range(data.draw(st.integers(1, 3))):
        target = _at(doc, data.draw(st.sampled_from(_containers(doc))))
        if isinstance(target, list):
            if not target:
                continue
            i = data.draw(st.integers(0, len(target) - 1))
            action = data.draw(st.sampled_from(["delete", "duplicate", "replace"]))
            if action == "delete":
                del target[i]
            elif action == "duplicate":
                target.insert(i, target[i])
            else:
                target[i] = data.draw(_values)
            continue
        if not target:
            continue
        key = data.draw(st.sampled_from(sorted(target, key=str)))
        action = data.draw(st.sampled_from(["delete", "duplicate", "rename", "replace"]))
        if action == "delete":
            del target[key]
        elif action == "duplicate":
            target[data.draw(st.sampled_from(KEYS))] = target[key]
        elif action == "rename":
            target[data.draw(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)))] = target.pop(
                key
            )
        else:
            target[key] = data.draw(_values)
    text = yaml.dump(doc, Dumper=_Dumper, allow_unicode=data.draw(st.booleans()), sort_keys=False)
    check(text)

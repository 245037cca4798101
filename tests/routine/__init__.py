"""Tests of routine files: durations, the loader's errors, expansion, the schema, the CLI.

Shared helpers live here so that every test module builds documents the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

from tproutine.routine.checked import from_model
from tproutine.routine.expand import expand
from tproutine.routine.loader import parse_routine
from tproutine.routine.quick import WHAT, check, read_routine
from tproutine.routine.timeline import Timeline
from tproutine.yamlsafe import LoadError, Problem, load_yaml

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
SPEC_EXAMPLE = DATA / "spec_example.yaml"
BUNDLED = sorted((ROOT / "routines").glob("*.yaml"))

HEAD = "format: tproutine/1\nname: Test\n"


def routine(body: str, *, head: str = HEAD) -> str:
    """A document: the two required top-level keys, then ``body`` as written."""
    return head + body


def timeline(text: str, file: str = "t.yaml") -> Timeline:
    """Parse, validate and expand ``text``; a LoadError fails the calling test."""
    return expand(parse_routine(text, file))


def problems(text: str | bytes, file: str = "t.yaml") -> list[Problem]:
    """The problems that loading and expanding ``text`` reports (it must fail)."""
    try:
        expand(parse_routine(text, file))
    except LoadError as err:
        assert err.problems, "a LoadError must carry at least one problem"
        return err.problems
    raise AssertionError(f"this document was accepted:\n{text!r}")


DOC = ROOT / "docs" / "routine-format.md"
FRAGMENT = "<!-- fragment -->"


def yaml_blocks(markdown: str) -> list[tuple[int, str]]:
    """(line of the opening fence, text) of every ```yaml block that is not a fragment."""
    blocks: list[tuple[int, str]] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        if re.fullmatch(r"\s*```ya?ml\s*", lines[i]):
            start = i
            body: list[str] = []
            i += 1
            while i < len(lines) and not re.fullmatch(r"\s*```\s*", lines[i]):
                body.append(lines[i])
                i += 1
            before = [line.strip() for line in lines[:start] if line.strip()]
            if not (before and before[-1] == FRAGMENT):
                blocks.append((start + 1, "\n".join(body) + "\n"))
        i += 1
    return blocks


DOC_BLOCKS = yaml_blocks(DOC.read_text(encoding="utf-8")) if DOC.exists() else []


def quick_agrees(raw: bytes | str, file: str = "t.yaml") -> bool:
    """The quick check (``routine/quick.py``) against the models, on one document.

    It must never accept what the models refuse, must build the same routine as
    the models when it accepts, and reading the file must give the same timeline
    or the same problems either way. Returns whether the quick check accepted.
    """
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    full: Timeline | list[Problem]
    try:
        loaded = parse_routine(data, file)
        full = expand(loaded)
    except LoadError as err:
        full = err.problems
    quick: Timeline | list[Problem]
    try:
        quick = read_routine(data, file)[1]
    except LoadError as err:
        quick = err.problems
    assert quick == full
    try:
        accepted = check(load_yaml(data, file, what=WHAT).data)
    except LoadError:
        return False  # the same YAML loader refuses it on both paths
    if accepted is not None:
        assert isinstance(full, Timeline), f"the quick check accepted a refused file:\n{full}"
        assert accepted == from_model(loaded.routine)
    return accepted is not None

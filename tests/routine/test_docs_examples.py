"""Every example a person may copy validates and expands as written.

- each ```yaml block of docs/routine-format.md, unless the line before it (blank
  lines aside) is ``<!-- fragment -->``;
- the spec's complete example, copied into data/spec_example.yaml (the tests never
  read the shared spec at run time).
"""

from __future__ import annotations

import pytest

from tests.routine import DOC, DOC_BLOCKS, FRAGMENT, SPEC_EXAMPLE, timeline, yaml_blocks
from tproutine.routine.loader import load_routine, parse_routine
from tproutine.yamlsafe import LoadError


def test_yaml_blocks_finds_blocks_and_skips_fragments() -> None:
    markdown = (
        "intro\n\n```yaml\na: 1\n```\n\n<!-- fragment -->\n\n```yaml\nb: 2\n```\n"
        "```python\nc = 3\n```\n```yml\nd: 4\n```\n"
    )
    assert yaml_blocks(markdown) == [(3, "a: 1\n"), (15, "d: 4\n")]


@pytest.mark.skipif(not DOC.exists(), reason="docs/routine-format.md is not written yet")
def test_the_guide_has_examples() -> None:
    assert len(DOC_BLOCKS) >= 5


@pytest.mark.skipif(not DOC.exists(), reason="docs/routine-format.md is not written yet")
@pytest.mark.parametrize(("line", "text"), DOC_BLOCKS, ids=[f"line{n}" for n, _ in DOC_BLOCKS])
def test_every_example_in_the_guide_validates_and_expands(line: int, text: str) -> None:
    try:
        tl = timeline(text, f"docs/routine-format.md:{line}")
    except LoadError as err:
        pytest.fail(
            f"the ```yaml block at docs/routine-format.md line {line} is not a valid routine "
            f"(mark it `{FRAGMENT}` if it is only a part of one):\n{err}"
        )
    assert tl.segments
    assert tl.total_s == pytest.approx(sum(s.duration_s for s in tl.segments))


def test_the_specs_complete_example() -> None:
    loaded = load_routine(SPEC_EXAMPLE)
    assert loaded.routine.name == "Lower back release"
    tl = timeline(SPEC_EXAMPLE.read_text(encoding="utf-8"))
    assert tl.total_s == 655.0
    assert len(tl.segments) == 19
    assert tl.warnings == ("Stop at once if you feel numbness, tingling or sharp pain.",)
    assert tl.avoid_if == (
        "You are pregnant",
        "You have a recent injury or surgery in this area",
    )
    # the same file under another name expands the same way
    again = parse_routine(SPEC_EXAMPLE.read_bytes(), "other.yaml")
    assert again.content_hash == loaded.content_hash

"""The step catalogues shown in the guide are valid catalogues.

tests/routine/test_docs_examples.py checks every routine example (a routine that
uses catalogue steps included); a catalogue is not a routine, so the guide marks
it as a fragment and this test checks it as what it is.
"""

from __future__ import annotations

import re

from tests.routine import DOC
from tproutine.routine.catalogue import parse_catalogue

FENCE = re.compile(r"(?ms)^```ya?ml\n(.*?)^```")


def catalogue_blocks() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return [b for b in FENCE.findall(text) if b.startswith("format: tproutine-steps/1")]


def test_the_guides_catalogue_is_valid() -> None:
    blocks = catalogue_blocks()
    assert blocks
    for block in blocks:
        cat = parse_catalogue(block, "docs/routine-format.md", bundled=False)
        assert [str(p) for p in cat.problems] == []
        assert cat.steps

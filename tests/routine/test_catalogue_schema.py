"""The JSON Schema understands ``- use: ID`` and agrees with the loader about it.

The loader's catalogue has the ``catalogues`` fixture's steps; the schema is
generated from the same catalogues, so it offers their ids for completion.
"""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from tests.routine import HEAD, problems, timeline
from tests.routine.conftest import Catalogues
from tproutine.routine.schema import routine_schema
from tproutine.yamlsafe import LoadError

T = HEAD + "steps:\n"


def agree(text: str) -> tuple[bool, bool]:
    """(loader accepts, schema accepts)."""
    try:
        timeline(text)
    except LoadError:
        loader = False
    else:
        loader = True
    validator = jsonschema.Draft202012Validator(routine_schema())
    return loader, validator.is_valid(yaml.safe_load(text))


def test_the_schema_offers_the_bundled_ids(catalogues: Catalogues) -> None:
    schema = routine_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    use = schema["$defs"]["UseStep"]["properties"]["use"]
    assert use["anyOf"][0] == {"enum": ["doorway", "shoulders-gun", "slow-breath", "upper-trap"]}
    steps = schema["properties"]["steps"]["items"]["oneOf"]
    assert {"$ref": "#/$defs/UseStep"} in steps
    repeat = schema["$defs"]["RepeatBlock"]["properties"]["steps"]["items"]["oneOf"]
    assert {"$ref": "#/$defs/UseStep"} in repeat


@pytest.mark.parametrize(
    "text",
    [
        T + "  - use: doorway\n",
        T + "  - use: upper-trap\n    duration: 1:30\n    reps: 3\n    pressure: 4\n",
        T + "  - use: upper-trap\n    side: left\n    cues: [{at: 0s, say: Hi}]\n",
        T + "  - use: shoulders-gun\n    device: off\n    title: Mine\n    x-note: 1\n",
        T + "  - use: slow-breath\n    pattern: [3s, 5s]\n",
        T + "  - repeat: 2\n    rest: 5s\n    steps:\n      - use: doorway\n        rest: 5s\n",
    ],
)
def test_what_the_loader_accepts_the_schema_accepts(catalogues: Catalogues, text: str) -> None:
    assert agree(text) == (True, True), problems(text) if not agree(text)[0] else "schema"


@pytest.mark.parametrize(
    "text",
    [
        T + "  - use: Doorway\n",
        T + "  - use: 5\n",
        T + "  - use:\n",
        T + "  - use: doorway\n    stretch: Mine\n",
        T + "  - use: doorway\n    colour: red\n",
        T + "  - use: doorway\n    reps: 0\n",
        T + "  - use: doorway\n    duration: 1m70s\n",
        T + "  - use: doorway\n    title: ''\n",
    ],
)
def test_what_both_refuse(catalogues: Catalogues, text: str) -> None:
    assert agree(text) == (False, False)


@pytest.mark.parametrize(
    "text",
    [
        T + "  - use: no-such-step\n",  # ids in your own catalogues are not in the schema
        T + "  - use: doorway\n    pattern: [4s, 6s]\n",  # a key another kind takes
        T + "  - use: upper-trap\n    duration: 5s\n",  # leaves a catalogue cue outside
    ],
)
def test_what_only_the_loader_refuses(catalogues: Catalogues, text: str) -> None:
    assert agree(text) == (False, True)

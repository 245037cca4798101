"""The JSON Schema (draft 2020-12) of routine files, generated from the models."""

from __future__ import annotations

import json
from typing import Any

SCHEMA_ID = "https://tproutine.dev/schema/routine-1.json"


def _use_step(defs: dict[str, Any], bundled_ids: list[str]) -> dict[str, Any]:
    """``- use: ID`` and the keys a routine may change on it (see routine/uses.py).

    The keys are those of every kind a catalogue holds; which kind takes which
    is the loader's check (the schema cannot know a catalogue's kinds). The
    bundled ids are offered for completion; your own catalogues' ids match the
    id pattern.
    """
    from tproutine.routine.catalogue import ID_PATTERN, MAX_ID

    any_id = {"type": "string", "pattern": ID_PATTERN, "maxLength": MAX_ID}
    properties: dict[str, Any] = {
        "use": {
            "anyOf": [{"enum": bundled_ids}, any_id] if bundled_ids else [any_id],
            "description": "a step from a catalogue (`tproutine steps` lists them)",
        },
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
    }
    for kind in ("HoldStep", "BreatheStep"):
        for key, value in defs[kind]["properties"].items():
            if key not in ("hold", "breathe", "duration"):
                properties.setdefault(key, value)
    properties["duration"] = {
        k: v for k, v in defs["HoldStep"]["properties"]["duration"].items() if k != "description"
    }
    return {
        "additionalProperties": False,
        "patternProperties": {"^x-": {}},
        "properties": properties,
        "required": ["use"],
        "title": "UseStep",
        "description": "a catalogue step, with the routine's own values for any of its keys",
        "type": "object",
    }


def routine_schema() -> dict[str, Any]:
    from tproutine.routine.catalogue import bundled_ids
    from tproutine.routine.model import Routine

    schema = Routine.model_json_schema()
    defs = schema["$defs"]
    defs["UseStep"] = _use_step(defs, bundled_ids())
    use = {"$ref": "#/$defs/UseStep"}
    for owner in (schema, defs["RepeatBlock"]):
        owner["properties"]["steps"]["items"]["oneOf"].append(use)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


def schema_text() -> str:
    return json.dumps(routine_schema(), indent=2, ensure_ascii=False) + "\n"

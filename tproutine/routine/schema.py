"""The JSON Schema (draft 2020-12) of routine files, generated from the models."""

from __future__ import annotations

import json
from typing import Any

SCHEMA_ID = "https://tproutine.dev/schema/routine-1.json"


def routine_schema() -> dict[str, Any]:
    from tproutine.routine.model import Routine

    schema = Routine.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


def schema_text() -> str:
    return json.dumps(routine_schema(), indent=2, ensure_ascii=False) + "\n"

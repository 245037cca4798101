"""Routine files: the model, the loader with line numbers, expansion, the schema.

Importing the package (or any of its modules but ``model``, ``loader`` and
``schema``) does not import pydantic: ``load_timeline`` reads a valid file with
the quick check, and the names below load their modules on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tproutine.routine.loader import LoadedRoutine, load_routine, parse_routine
    from tproutine.routine.quick import load_timeline
    from tproutine.routine.timeline import Cue, DeviceSetting, Segment, Timeline

_WHERE = {
    "Cue": "timeline",
    "DeviceSetting": "timeline",
    "Segment": "timeline",
    "Timeline": "timeline",
    "LoadedRoutine": "loader",
    "load_routine": "loader",
    "parse_routine": "loader",
    "load_timeline": "quick",
}
__all__ = [
    "Cue",
    "DeviceSetting",
    "LoadedRoutine",
    "Segment",
    "Timeline",
    "load_routine",
    "load_timeline",
    "parse_routine",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

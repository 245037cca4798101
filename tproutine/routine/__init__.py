"""Routine files: the model, the loader with line numbers, expansion, the schema."""

from tproutine.routine.loader import LoadedRoutine, load_routine, load_timeline, parse_routine
from tproutine.routine.timeline import Cue, DeviceSetting, Segment, Timeline

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

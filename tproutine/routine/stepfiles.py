"""Step catalogues as files: where they are, their ids, their rules, without pydantic.

``catalogue.py`` reads catalogues through the pydantic models (every message at
its line); ``quickuse.py`` reads a valid one without them, so that a routine built
on catalogue steps starts as fast as one written out. Both find the files, name
the ids and apply the rules the same way: from here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

CATALOGUE_FORMAT = "tproutine-steps/1"
WHAT = "a step catalogue: a mapping with format, name and steps"
SUFFIXES = (".yaml", ".yml")
# The kinds a catalogue holds: a rest or a repeat block belongs to a routine.
KINDS = ("hold", "stretch", "massage", "breathe")
TOP_KEYS = ("format", "name", "description", "author", "safety", "steps")
ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_ID = re.compile(ID_PATTERN)
MAX_ID = 64
ID_RULE = "lower-case letters and digits in words joined by hyphens, like upper-trapezius-pinch"
PLACEHOLDER = "{pressure}"


def is_step_id(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_ID and _ID.match(value) is not None


def texts(step: Any) -> Iterator[str]:
    """A step's text a person reads or hears (a model's step or a checked one)."""
    if step.instructions:
        yield step.instructions
    for cue in step.cues:
        yield cue.say


def has_placeholder(step: Any) -> bool:
    return any(PLACEHOLDER in text for text in texts(step))


# --- the files ----------------------------------------------------------------------------

Stamp = tuple[tuple[str, int, int], ...]


def catalogue_files() -> list[tuple[Path, bool]]:
    """Every catalogue file, bundled first, each folder in name order: (path, bundled)."""
    from tproutine import paths

    out: list[tuple[Path, bool]] = []
    for folder, bundled in ((paths.bundled_steps_dir(), True), (paths.user_steps_dir(), False)):
        try:
            names = sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES)
        except OSError:  # no such folder (the person has no catalogues), or unreadable
            continue
        out.extend((p, bundled) for p in names)
    return out


def stat(path: Path) -> tuple[str, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (str(path), -1, -1)
    return (str(path), st.st_mtime_ns, st.st_size)


def stamp() -> Stamp:
    """What the catalogues are right now, without reading them: path, mtime and size of
    each file. Equal stamps mean every ``use:`` resolves as it did."""
    return tuple(stat(p) for p, _ in catalogue_files())


# The ids of a bundled catalogue, found without parsing it: the keys indented two
# spaces under the top-level `steps:` (the bundled files are written that way, and a
# test checks the scan against the parser for each of them). A wrong guess costs
# only time: an extra file read, or the full index when an id is not found.
_STEPS_KEY = re.compile(r"(?m)^steps:[ \t]*(?:#.*)?$")
_TOP_KEY = re.compile(r"(?m)^[^\s#]")
_ID_KEY = re.compile(r"(?m)^  ([a-z0-9][a-z0-9-]*):(?=[ \t]|$)")
_scans: dict[Path, tuple[tuple[str, int, int], frozenset[str]]] = {}


def scan_ids(path: Path, key: tuple[str, int, int] | None = None) -> frozenset[str]:
    """The ids a catalogue file seems to define, by a cheap look at its text."""
    key = key or stat(path)
    cached = _scans.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    # Imported here: the Library lists catalogues (for its cache's key) before its
    # first paint, and the quick reader brings YAML, which only a scan needs.
    from tproutine.routine.quick import read_file
    from tproutine.yamlsafe import LoadError

    try:
        text = read_file(path).decode("utf-8", errors="replace")
    except LoadError:
        text = ""
    found: frozenset[str] = frozenset()
    start = _STEPS_KEY.search(text)
    if start is not None:
        end = _TOP_KEY.search(text, start.end())
        body = text[start.end() : end.start() if end else len(text)]
        found = frozenset(_ID_KEY.findall(body))
    _scans[path] = (key, found)
    return found

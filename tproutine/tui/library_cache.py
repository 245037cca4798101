"""The Library's cache: each routine file's summary, so that a start lists them at once.

Reading a routine file means parsing its YAML, checking it and expanding it:
about 3 ms each, three seconds for a practitioner's 1,000 routines. What the
Library shows of a file (name, time, tags, author, preview, or its mistakes)
depends only on the file's bytes, the code that checks them and the step
catalogues it may use. So it is kept in the XDG cache folder
(``~/.cache/tproutine/library.json``):

- one record per file: its path, size, mtime and the SHA-256 of its bytes, and
  the summary. A record is used only when all four match the file as it is now:
  the file is read and hashed on every start (15 ms for 1,000 files), because an
  mtime alone misses an edit within the clock's resolution or a restored copy;
- everything is dropped when the code or the catalogues change (:func:`inputs`);
- a damaged cache (not JSON, wrong types, text with control characters) is read
  as empty and rewritten: it is trusted no more than a routine file;
- it only decides what the list shows: starting a routine always reads and
  checks the file again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from tproutine.cachefiles import plan_from, plan_record, texts, write_atomic
from tproutine.tui import catalog
from tproutine.tui.catalog import Details, RoutineEntry, StepLine, search_text

FORMAT = "tproutine-library-cache/2"
_ENTRY = ("name", "author", "tags", "areas", "errors", "total_s", "details", "device", "plan")
_DETAILS = ("summary", "warnings", "avoid_if", "steps")


def cache_path() -> Path:
    from tproutine import paths

    return paths.cache_dir() / "library.json"


def inputs() -> str:
    """What every summary depends on besides its file: the version, the code that reads
    routine files, and the step catalogues (each named with its size and mtime)."""
    from tproutine.cachefiles import inputs as depends

    return depends(FORMAT, [Path(catalog.__file__), Path(__file__)])


def _entry(data: Any, path: Path, origin: str) -> RoutineEntry | None:
    """A cached summary as an entry; None if anything in it is not as this code writes it.

    The preview's part stays JSON text until it is shown (:func:`details_from_json`).
    """
    if type(data) is not dict:
        return None
    found: list[Any] = [data.get(k) for k in _ENTRY]
    name, author, tags, areas, errors, total, more, device, plan_data = found
    if not texts([name, author], tags, areas, errors):
        return None
    if type(total) not in (int, float) or type(more) is not str or type(device) is not bool:
        return None
    plan = plan_from(plan_data)
    if isinstance(plan, bool):
        return None
    return RoutineEntry(
        path=path,
        origin=origin,
        name=name,
        total_s=float(total),
        author=author,
        tags=tuple(tags),
        areas=tuple(areas),
        errors=tuple(errors),
        uses_device=device,
        plan=plan,
        search_text=search_text(name, author, tags, areas),
        more=more,
    )


def details_from_json(text: str) -> Details | None:
    """The preview's part of a cached summary; None if it is damaged."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if type(data) is not dict:
        return None
    found: list[Any] = [data.get(k) for k in _DETAILS]
    summary, warnings, avoid_if, steps = found
    if not (texts([summary], warnings, avoid_if) and type(steps) is list):
        return None
    lines = []
    for step in steps:
        if not (type(step) is list and len(step) == 2 and texts(step[:1])):
            return None
        if type(step[1]) not in (int, float):
            return None
        lines.append(StepLine(step[0], float(step[1])))
    return Details(summary, tuple(warnings), tuple(avoid_if), tuple(lines))


def _record(entry: RoutineEntry) -> dict[str, Any]:
    d = entry.details
    details = {
        "summary": d.summary,
        "warnings": list(d.warnings),
        "avoid_if": list(d.avoid_if),
        "steps": [[s.text, s.seconds] for s in d.steps],
    }
    return {
        "name": entry.name,
        "total_s": entry.total_s,
        "author": entry.author,
        "tags": list(entry.tags),
        "areas": list(entry.areas),
        "errors": list(entry.errors),
        "details": json.dumps(details, separators=(",", ":")),
        "device": entry.uses_device,
        "plan": plan_record(entry.plan),
    }


def file_key(raw: bytes, st: os.stat_result) -> list[Any]:
    """What must match for a summary to be used: size, mtime and the bytes' SHA-256."""
    return [st.st_size, st.st_mtime_ns, hashlib.sha256(raw).hexdigest()]


class LibraryCache:
    """The summaries of the files the Library read last time, by path."""

    def __init__(self, path: Path, records: dict[str, Any], depends: str) -> None:
        self.path = path
        self._old = records
        self._new: dict[str, Any] = {}
        self._depends = depends
        self._changed = False

    @classmethod
    def open(cls, path: Path | None = None) -> LibraryCache:
        """The cache at ``path`` (the XDG cache folder by default); empty when it is
        missing, damaged, or written for other code or other catalogues."""
        path = path or cache_path()
        depends = inputs()
        records: dict[str, Any] = {}
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            data = None
        if (
            type(data) is dict
            and data.get("format") == FORMAT
            and data.get("depends") == depends
            and type(data.get("files")) is dict
        ):
            records = data["files"]
        return cls(path, records, depends)

    def get(self, path: Path, origin: str, key: list[Any]) -> RoutineEntry | None:
        """The summary of ``path`` if its record has this ``key`` (see :func:`file_key`)."""
        record = self._old.get(str(path))
        if type(record) is not dict or record.get("key") != key:
            self._changed = True  # a new, changed or damaged file: the cache is rewritten
            return None
        entry = _entry(record.get("entry"), path, origin)
        if entry is None:
            self._changed = True
            return None
        self._new[str(path)] = record
        return entry

    def put(self, entry: RoutineEntry, key: list[Any]) -> None:
        self._new[str(entry.path)] = {"key": key, "entry": _record(entry)}
        self._changed = True

    @property
    def dirty(self) -> bool:
        """Whether this scan found anything the file does not say (once it is complete)."""
        return self._changed or self._new.keys() != self._old.keys()

    def save(self) -> None:
        """Write the records of this scan (files no longer there are left out).

        Atomically (a new file renamed over the old), and silently: a cache that
        cannot be written only makes the next start slower.
        """
        if not self.dirty:
            return
        data = {"format": FORMAT, "depends": self._depends, "files": self._new}
        write_atomic(self.path, json.dumps(data, separators=(",", ":")))

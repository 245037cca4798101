"""The Library's cache: each routine file's summary, so that a start lists them at once.

Reading a routine file means parsing its YAML, checking it and expanding it:
about 3 ms each, three seconds for a practitioner's 1,000 routines. What the
Library shows of a file (name, time, tags, author, preview, or its mistakes)
depends only on the file's bytes, the code that checks them and the step
catalogues it may use. So it is kept in the XDG cache folder
(``~/.cache/tproutine/library.json``):

- one record per file: its path, its status (size, mtime, ctime, inode), the
  SHA-256 of its bytes, when it was read, and the summary. A file whose status is
  the record's is taken without being read, as git takes a file in its index: an
  edit, a copy put back, a file saved by renaming over it all change the ctime
  or the inode, and nobody can set a ctime. What a status cannot show is an edit
  within the same tick of the file system's clock as the one recorded: a file
  whose status changed less than :data:`RACY_NS` before it was read (git's
  "racily clean" file) is read and hashed again at each start, as is any file
  whose status differs; a file whose bytes still hash the same keeps its summary;
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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tproutine.cachefiles import plan_from, plan_record, texts, write_atomic
from tproutine.tui import catalog
from tproutine.tui.catalog import Details, RoutineEntry, StepLine, search_text

FORMAT = "tproutine-library-cache/3"
# A file whose status changed less than this before it was read may change again
# within the same tick of its clock and keep its status: it is hashed at every start.
# Two seconds: FAT's tick, the coarsest a person's disk may have.
RACY_NS = 2_000_000_000
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


def file_status(st: os.stat_result) -> list[int]:
    """What a file's status must still be for its summary to be taken without reading it."""
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def file_key(raw: bytes, st: os.stat_result, read_ns: int) -> dict[str, Any]:
    """A record's key: the file's status and bytes' SHA-256 when it was read (``read_ns``,
    the wall clock just before it was)."""
    return {"status": file_status(st), "sha256": hashlib.sha256(raw).hexdigest(), "read": read_ns}


class LibraryCache:
    """The summaries of the files the Library read last time, by path."""

    def __init__(
        self,
        path: Path,
        records: dict[str, Any],
        depends: str,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.path = path
        self._old = records
        self._new: dict[str, Any] = {}
        self._depends = depends
        self._changed = False
        # The wall clock, as the file system's times are: when each file is read.
        self.clock_ns = clock_ns

    @classmethod
    def open(
        cls, path: Path | None = None, *, clock_ns: Callable[[], int] = time.time_ns
    ) -> LibraryCache:
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
        return cls(path, records, depends, clock_ns)

    def take(self, path: Path, origin: str) -> RoutineEntry | None:
        """The summary of ``path`` if its file is as it was when the record was made:
        by its status alone when that can tell, else by its bytes' hash; None when the
        file must be read (new, changed, unreadable, or a damaged record)."""
        from tproutine.cachefiles import read_whole

        record = self._old.get(str(path))
        key = record.get("key") if type(record) is dict else None
        if type(record) is not dict or type(key) is not dict:
            self._changed = True  # a new file or a damaged record: the cache is rewritten
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None  # the loader says why
        read_ns = key.get("read")
        if (
            key.get("status") == file_status(st)
            and type(read_ns) is int
            and st.st_ctime_ns < read_ns - RACY_NS
        ):
            return self._use(path, origin, record)
        now = self.clock_ns()
        found = read_whole(path)
        if found is None:
            return None
        new_key = file_key(*found, now)
        if new_key["sha256"] != key.get("sha256"):
            self._changed = True
            return None
        # The same bytes: the summary stands; the new status lets the next start trust it.
        return self._use(path, origin, {**record, "key": new_key})

    def _use(self, path: Path, origin: str, record: dict[str, Any]) -> RoutineEntry | None:
        entry = _entry(record.get("entry"), path, origin)
        if entry is None:
            self._changed = True
            return None
        if record is not self._old.get(str(path)):
            self._changed = True
        self._new[str(path)] = record
        return entry

    def put(self, entry: RoutineEntry, key: dict[str, Any]) -> None:
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

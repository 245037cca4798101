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

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from tproutine.routine.checked import Plan
from tproutine.safetext import FORBIDDEN
from tproutine.tui.catalog import Details, RoutineEntry, StepLine, search_text

FORMAT = "tproutine-library-cache/2"
_ENTRY = ("name", "author", "tags", "areas", "errors", "total_s", "details", "device", "plan")
_DETAILS = ("summary", "warnings", "avoid_if", "steps")


def cache_path() -> Path:
    from tproutine import paths

    return paths.cache_dir() / "library.json"


def _catalogue_files() -> list[Path]:
    """The step catalogues a routine may `use:` (issue 11): bundled, and the person's own.

    A changed catalogue changes what a routine that uses it means, so their state is
    part of :func:`inputs`. Catalogues live in a ``steps`` folder beside the bundled
    routines and in the person's config folder; when their place changes, change it here.
    """
    from tproutine import paths

    folders = (paths.bundled_routines_dir().parent / "steps", paths.config_dir() / "steps")
    found: list[Path] = []
    for folder in folders:
        try:
            found += sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
        except OSError:
            continue
    return found


def inputs() -> str:
    """What every summary depends on besides its file: the version, the code that reads
    routine files, and the step catalogues (each named with its size and mtime)."""
    import tproutine

    package = Path(tproutine.__file__).parent
    code = [
        *sorted(package.glob("routine/*.py")),
        package / "yamlsafe.py",
        package / "safetext.py",
        package / "tui" / "catalog.py",
        Path(__file__),
    ]
    parts = [FORMAT, tproutine.__version__]
    for path in [*code, *_catalogue_files()]:
        try:
            st = path.stat()
        except OSError:
            parts.append(f"{path}:missing")
            continue
        parts.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _texts(*lists: Any) -> bool:
    """Lists of text, none of it with a control character (one search for them all:
    this runs for every routine at every start)."""
    if not all(type(values) is list for values in lists):
        return False
    texts = [v for values in lists for v in values]
    return all(type(v) is str for v in texts) and FORBIDDEN.search("\n".join(texts)) is None


def _entry(data: Any, path: Path, origin: str) -> RoutineEntry | None:
    """A cached summary as an entry; None if anything in it is not as this code writes it.

    The preview's part stays JSON text until it is shown (:func:`details_from_json`).
    """
    if type(data) is not dict:
        return None
    found: list[Any] = [data.get(k) for k in _ENTRY]
    name, author, tags, areas, errors, total, more, device, plan_data = found
    if not _texts([name, author], tags, areas, errors):
        return None
    if type(total) not in (int, float) or type(more) is not str or type(device) is not bool:
        return None
    plan = _plan(plan_data)
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


def _plan(data: Any) -> Plan | bool | None:
    """A cached plan (``[per_week, weeks, [reminders]]``), None for none, False if damaged."""
    if data is None:
        return None
    if type(data) is not list or len(data) != 3:
        return False
    per_week, weeks, reminders = data
    if type(per_week) is not int or not (weeks is None or type(weeks) is int):
        return False
    if not _texts(reminders):
        return False
    return Plan(per_week, weeks, tuple(reminders))


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
    if not (_texts([summary], warnings, avoid_if) and type(steps) is list):
        return None
    lines = []
    for step in steps:
        if not (type(step) is list and len(step) == 2 and _texts(step[:1])):
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
        "plan": None if entry.plan is None else [*entry.plan[:2], list(entry.plan.reminder)],
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
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".library-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(data, fh, separators=(",", ":"))
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError:
            return

"""What the caches in the XDG cache folder share: their key, their checks, their writes.

Two caches keep what reading a routine file gives, so that reading it again costs
a hash instead of a parse: the Library's summaries (``tui/library_cache.py``) and
the checked timelines of ``run FILE`` (``routine/timeline_cache.py``). Both hold
only what depends on a file's bytes, the code that reads routine files and the
step catalogues (:func:`inputs`), and both trust what they read back no more
than a routine file: every value's type is checked, text with a control
character is refused, and anything else is a miss, rewritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tproutine.problems import MAX_BYTES
from tproutine.safetext import FORBIDDEN

if TYPE_CHECKING:
    from tproutine.routine.checked import Plan


def _catalogue_files() -> list[Path]:
    """The step catalogues a routine may `use:` (issue 11): bundled, and the person's own.

    A changed catalogue changes what a routine that uses it means, so their state is
    part of :func:`inputs`.
    """
    from tproutine.routine.stepfiles import catalogue_files  # no pydantic

    return [path for path, _ in catalogue_files()]


def inputs(form: str, code: Iterable[Path] = ()) -> str:
    """What every cached result depends on besides its file: the cache's ``form``, the
    version, the code that reads routine files (and ``code``, the cache's own), and the
    step catalogues (each file named with its size and mtime)."""
    import tproutine

    package = Path(tproutine.__file__).parent
    readers = [
        *sorted(package.glob("routine/*.py")),
        package / "yamlsafe.py",
        package / "problems.py",
        package / "safetext.py",
        Path(__file__),
        *code,
    ]
    parts = [form, tproutine.__version__]
    for path in [*readers, *_catalogue_files()]:
        try:
            st = path.stat()
        except OSError:
            parts.append(f"{path}:missing")
            continue
        parts.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def read_whole(path: Path | str) -> tuple[bytes, os.stat_result] | None:
    """The file's bytes and status; None when it cannot be read whole (the loader then
    says why)."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            raw = f.read(MAX_BYTES + 1)  # never more: a growing file or a device never hangs
    except OSError:
        return None
    return (raw, st) if len(raw) <= MAX_BYTES else None


def replace_file(target: Path, raw: bytes) -> None:
    """Write ``raw`` beside ``target``, then rename it over: a crash or a reader sees the
    old file or the new one, never half of one (the rename also replaces a symlink
    rather than following it). The caches use it, and so does ``tproutine add``."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# A temporary file of a write older than this was left by a process that died while
# writing (a write takes milliseconds): the next write of that cache file removes it.
STALE_TEMP_S = 3600.0


def write_atomic(path: Path, data: str) -> bool:
    """Write ``data`` as ``path`` (:func:`replace_file`), silently: a cache that cannot
    be written (a read-only or full disk) only makes the next start slower."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, data.encode("utf-8"))
    except OSError:
        return False
    _remove_stale_temps(path)
    return True


def _remove_stale_temps(path: Path) -> None:
    """Remove the temporary files of ``path`` that a crashed write left behind."""
    import time

    prefix, too_old = f".{path.name}.", time.time() - STALE_TEMP_S
    try:
        with os.scandir(path.parent) as listing:
            for item in listing:
                if item.name.startswith(prefix) and item.name.endswith(".tmp"):
                    with contextlib.suppress(OSError):
                        if item.stat(follow_symlinks=False).st_mtime < too_old:
                            os.unlink(item.path)
    except OSError:
        return


# --- reading back: every value as this code writes it, or nothing ----------------------


def texts(*lists: Any) -> bool:
    """Lists of text, none of it with a control character (one search for them all:
    this runs for every routine at every start)."""
    if not all(type(values) is list for values in lists):
        return False
    found = [v for values in lists for v in values]
    return all(type(v) is str for v in found) and FORBIDDEN.search("\n".join(found)) is None


def number(value: Any, lo: float, hi: float) -> bool:
    """A JSON number (not a bool) within ``lo``..``hi``: no NaN (it compares false), no
    infinity or 1e999 (past any bound), no integer of 400 digits (no float at all)."""
    return type(value) in (int, float) and lo <= value <= hi


def plan_record(plan: Plan | None) -> list[Any] | None:
    """A plan as ``[per_week, weeks, [reminders]]``, None for none."""
    return None if plan is None else [plan.per_week, plan.weeks, list(plan.reminder)]


def plan_from(data: Any) -> Plan | bool | None:
    """A cached plan (see :func:`plan_record`), None for none, False if damaged."""
    if data is None:
        return None
    if type(data) is not list or len(data) != 3:
        return False
    per_week, weeks, reminders = data
    if type(per_week) is not int or not (weeks is None or type(weeks) is int):
        return False
    if not (1 <= per_week <= 14 and (weeks is None or 1 <= weeks <= 104)):
        return False  # the file format's bounds
    if not texts(reminders):
        return False
    # Imported here: its records cost a start 5 ms to build, and most routines have no plan.
    from tproutine.routine.checked import Plan

    return Plan(per_week, weeks, tuple(reminders))

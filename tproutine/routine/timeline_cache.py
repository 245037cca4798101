"""The checked timelines of ``run FILE``, so that a routine run again starts at once.

Reading a routine means importing the YAML reader and the quick check (about
25 ms) and parsing, checking and expanding the file (10 to 15 ms): time a person
waits for before the first step, every time they run the routine they ran
yesterday. What comes out, the :class:`Timeline`, depends only on the file's
bytes, the code that reads routine files and the step catalogues a routine may
use. So it is kept in the XDG cache folder, one small file per routine
(``~/.cache/tproutine/timelines/<SHA-256 of the resolved path>.json``):

- a timeline is used only when the file's bytes, read and hashed on every run,
  hash as they did (an mtime alone misses an edit within the clock's resolution
  or a restored copy) and the code and the catalogues are as they were
  (:func:`tproutine.cachefiles.inputs`). Anything else reads and checks the
  file the usual way, so a changed file or catalogue is checked again and one
  that fails now is never run;
- it is JSON, read back no more trustingly than a routine file: every value's
  type, bound and text is checked, and anything not as this code writes it
  (damaged, hostile, from another version) is a miss, then rewritten;
- it is written atomically and silently: a cache folder that is read-only,
  full or missing only costs the next run the usual read. The newest
  :data:`KEEP` routines are kept.

Only a routine run as written is cached: an adjusted one depends on more files
and goes through ``adjust.timeline_for``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tproutine.cachefiles import (
    inputs,
    number,
    plan_from,
    plan_record,
    read_whole,
    texts,
    write_atomic,
)
from tproutine.routine.timeline import (
    KIND_LABELS,
    MAX_SEGMENTS,
    MAX_TOTAL_S,
    Cue,
    DeviceSetting,
    Segment,
    Timeline,
)

FORMAT = "tproutine-timeline-cache/1"
# How many routines' timelines are kept (the least recently run go first).
KEEP = 200
# A bigger timeline (thousands of segments with long instructions) is read from its
# file each time: it is rare, and a cache file is never read whole past this.
MAX_CACHE_BYTES = 4 * 1024 * 1024


def folder() -> Path:
    from tproutine import paths

    return paths.cache_dir() / "timelines"


def entry_path(resolved: Path) -> Path:
    """The cache file of the routine file at ``resolved`` (an absolute, resolved path)."""
    return folder() / f"{hashlib.sha256(os.fsencode(str(resolved))).hexdigest()}.json"


def depends() -> str:
    """What every cached timeline depends on besides its file (this module is among the
    code that reads routine files)."""
    return inputs(FORMAT)


def load_timeline(path: str | Path, *, shown: str | None = None) -> Timeline:
    """What ``routine.quick.load_timeline`` gives (the same timeline, or the same
    LoadError), from the cache when the file and everything it depends on are as
    they were when it was last read."""
    name = shown or str(path)
    try:
        resolved = Path(path).resolve()
        regular = stat.S_ISREG(os.stat(resolved).st_mode)
    except (OSError, RuntimeError, ValueError):
        regular = False
    found = read_whole(resolved) if regular else None
    if found is None:
        # Not a regular file (a pipe is read once), missing, unreadable or too big:
        # the reader says what is wrong.
        from tproutine.routine.quick import load_timeline as read

        return read(path, shown=name)
    raw = found[0]
    digest = hashlib.sha256(raw).hexdigest()
    key = depends()
    entry = entry_path(resolved)
    timeline = _read(entry, str(resolved), digest, key, name)
    if timeline is not None:
        with contextlib.suppress(OSError):
            os.utime(entry)  # recently run: kept the longest
        return timeline
    from tproutine.routine.quick import read_routine

    timeline = read_routine(raw, name)[1]  # the bytes just hashed, not a second read
    store(entry, str(resolved), key, timeline)
    return timeline


# --- writing ---------------------------------------------------------------------------


def _segment(s: Segment) -> list[Any]:
    device = s.device
    return [
        s.index,
        s.kind,
        s.title,
        s.start_s,
        s.duration_s,
        s.side,
        s.rep,
        s.reps,
        None if device is None else [device.from_pct, device.to_pct, device.level],
        [[c.at_s, c.say] for c in s.cues],
        s.area,
        s.tool,
        s.instructions,
        s.pressure,
        None if s.pattern is None else list(s.pattern),
        s.step_path,
    ]


def record(timeline: Timeline) -> dict[str, Any]:
    """The timeline as JSON data (its ``source`` is the name it is run by, not kept)."""
    t = timeline
    return {
        "name": t.name,
        "total_s": t.total_s,
        "device_specific": t.device_specific,
        "uses_device": t.uses_device,
        "warnings": list(t.warnings),
        "avoid_if": list(t.avoid_if),
        "content_hash": t.content_hash,
        "plan": plan_record(t.plan),
        "segments": [_segment(s) for s in t.segments],
    }


def store(entry: Path, resolved: str, key: str, timeline: Timeline) -> None:
    """Keep ``timeline`` as ``entry``, then drop the least recently run past :data:`KEEP`."""
    if timeline.adjustment is not None:
        return
    data = {"format": FORMAT, "depends": key, "path": resolved, "timeline": record(timeline)}
    text = json.dumps(data, separators=(",", ":"))
    if len(text) > MAX_CACHE_BYTES or not write_atomic(entry, text):
        return
    prune(entry.parent)


def prune(where: Path, keep: int = KEEP) -> None:
    """Remove all but the ``keep`` most recently used cache files in ``where``."""
    try:
        found = []
        with os.scandir(where) as listing:
            for item in listing:
                if item.name.endswith(".json"):
                    with contextlib.suppress(OSError):
                        found.append((item.stat().st_mtime_ns, item.path))
    except OSError:
        return
    found.sort(reverse=True)
    for _, old in found[keep:]:
        with contextlib.suppress(OSError):
            os.unlink(old)


# --- reading back ----------------------------------------------------------------------


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not a number this cache writes")


def _read(entry: Path, resolved: str, digest: str, key: str, name: str) -> Timeline | None:
    """The timeline cached as ``entry`` if it is for this file, these bytes and this key."""
    try:
        with open(entry, "rb") as f:
            raw = f.read(MAX_CACHE_BYTES + 1)
        if len(raw) > MAX_CACHE_BYTES:
            return None
        data = json.loads(raw, parse_constant=_refuse)
    except (OSError, ValueError, RecursionError):
        return None
    if not (
        type(data) is dict
        and data.get("format") == FORMAT
        and data.get("depends") == key
        and data.get("path") == resolved
    ):
        return None
    return timeline_from(data.get("timeline"), digest, name)


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def _int(lo: int, hi: int) -> Callable[[Any], bool]:
    return lambda v: type(v) is int and lo <= v <= hi


def _seconds(v: Any) -> bool:
    return number(v, 0, MAX_TOTAL_S)


def _percent(v: Any) -> bool:
    return number(v, 0, 100)


def _text(v: Any) -> bool:
    return type(v) is str  # control characters: one search for the whole timeline


def _device(v: Any) -> bool:
    if type(v) is not list or len(v) != 3:
        return False
    from_pct, to_pct, level = v
    if level is not None:
        return from_pct is None and to_pct is None and _int(0, 10_000)(level)
    return _percent(from_pct) and _percent(to_pct)


def _cues(v: Any) -> bool:
    return type(v) is list and all(
        type(c) is list and len(c) == 2 and number(c[0], -MAX_TOTAL_S, MAX_TOTAL_S) and _text(c[1])
        for c in v
    )


def _pattern(v: Any) -> bool:
    return type(v) is list and 2 <= len(v) <= 4 and all(_seconds(x) for x in v)


# Segment's fields in the order :func:`_segment` writes them, each with its check.
_SEGMENT: tuple[Callable[[Any], bool], ...] = (
    _int(0, MAX_SEGMENTS - 1),  # index
    lambda v: type(v) is str and v in KIND_LABELS,  # kind
    _text,  # title
    _seconds,  # start_s
    _seconds,  # duration_s
    lambda v: v is None or v in ("left", "right"),  # side
    _optional(_int(1, MAX_SEGMENTS)),  # rep
    _optional(_int(1, MAX_SEGMENTS)),  # reps
    _optional(_device),
    _cues,
    _optional(_text),  # area
    _optional(_text),  # tool
    _optional(_text),  # instructions
    _optional(_int(0, 10)),  # pressure
    _optional(_pattern),
    _optional(_text),  # step_path
)


def _segment_from(v: Any, index: int, said: list[str]) -> Segment | None:
    if type(v) is not list or len(v) != len(_SEGMENT) or v[0] != index:
        return None
    if not all(check(value) for check, value in zip(_SEGMENT, v, strict=True)):
        return None
    (i, kind, title, start, duration, side, rep, reps, device, cues) = v[:10]
    area, tool, instructions, pressure, pattern, step_path = v[10:]
    said.extend(t for t in (title, area, tool, instructions, step_path) if t is not None)
    said.extend(c[1] for c in cues)
    return Segment(
        index=i,
        kind=kind,
        title=title,
        start_s=start,
        duration_s=duration,
        side=side,
        rep=rep,
        reps=reps,
        device=None if device is None else DeviceSetting(*device),
        cues=tuple(Cue(at, say) for at, say in cues),
        area=area,
        tool=tool,
        instructions=instructions,
        pressure=pressure,
        pattern=None if pattern is None else tuple(pattern),
        step_path=step_path,
    )


_TIMELINE = ("name", "total_s", "device_specific", "uses_device", "warnings", "avoid_if")


def timeline_from(data: Any, digest: str, name: str) -> Timeline | None:
    """A cached timeline, run as ``name``; None if anything in it is not as this code
    writes it, or it is not the timeline of the bytes that hash to ``digest``."""
    if type(data) is not dict or data.get("content_hash") != digest:
        return None
    found: list[Any] = [data.get(k) for k in (*_TIMELINE, "segments")]
    name_, total, specific, uses, warnings, avoid_if, segments_data = found
    if not (_seconds(total) and type(specific) is bool and type(uses) is bool):
        return None
    if type(segments_data) is not list or len(segments_data) > MAX_SEGMENTS:
        return None
    plan = plan_from(data.get("plan"))
    if isinstance(plan, bool):
        return None
    said: list[str] = []
    segments = []
    for index, item in enumerate(segments_data):
        segment = _segment_from(item, index, said)
        if segment is None:
            return None
        segments.append(segment)
    if not texts([name_], warnings, avoid_if, said):
        return None
    return Timeline(
        name=name_,
        segments=tuple(segments),
        total_s=total,
        device_specific=specific,
        uses_device=uses,
        warnings=tuple(warnings),
        avoid_if=tuple(avoid_if),
        content_hash=digest,
        source=name,
        plan=plan,
    )

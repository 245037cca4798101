"""The routine library as the Library screen shows it: one entry per file.

An entry is a file's summary: what the list and the preview show, never the
routine itself (starting one reads and checks the file again). Scanning takes
each summary from the cache (``library_cache.py``) when the file's bytes are
unchanged, and reads, checks and expands the others; the Library runs it in a
worker thread after the first paint, which fills the list as files arrive. A
file with mistakes becomes an entry too: the Library lists it and the preview
shows why it cannot run, instead of the file silently disappearing.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tproutine.routine.checked import Plan, Routine, Step
    from tproutine.routine.timeline import Timeline
    from tproutine.tui.library_cache import LibraryCache
    from tproutine.yamlsafe import LoadError

_TOP_STEP = re.compile(r"^steps\[(\d+)\]")


@dataclass(frozen=True)
class StepLine:
    """One top-level step of a routine in the preview: what it is and how long it takes."""

    text: str
    seconds: float


@dataclass(frozen=True)
class Details:
    """What only the preview shows of a routine."""

    summary: str = ""
    warnings: tuple[str, ...] = ()
    avoid_if: tuple[str, ...] = ()
    steps: tuple[StepLine, ...] = ()


@dataclass(frozen=True)
class RoutineEntry:
    """A routine file as the Library lists it."""

    path: Path
    origin: str  # "bundled", "yours" or "file" (named on the command line)
    name: str
    total_s: float = 0.0
    author: str = ""
    tags: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()  # why the file cannot run; empty when it can
    uses_device: bool = False  # a step drives a massage device
    plan: Plan | None = None  # how often it is meant to be done (the file's `plan`)
    search_text: str = field(default="", repr=False)
    # The preview's part, or (from the cache) its JSON text, read when first shown:
    # with 1,000 routines, reading every preview at start-up would cost more than
    # the rest of the list together. Compare `details` for it.
    more: Details | str = field(default=Details(), repr=False, compare=False)

    @cached_property
    def details(self) -> Details:
        if isinstance(self.more, Details):
            return self.more
        from tproutine.tui.library_cache import details_from_json

        found = details_from_json(self.more)
        # A damaged record: the file itself says it again.
        return found if found is not None else load_entry(self.path, self.origin).details

    @property
    def summary(self) -> str:
        return self.details.summary

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.details.warnings

    @property
    def avoid_if(self) -> tuple[str, ...]:
        return self.details.avoid_if

    @property
    def steps(self) -> tuple[StepLine, ...]:
        return self.details.steps

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def has_safety(self) -> bool:
        return bool(self.warnings or self.avoid_if)

    def matches(self, query: str) -> bool:
        """Every word of ``query`` appears in the name, a tag, an area or the author."""
        words = query.casefold().split()
        return all(word in self.search_text for word in words)


def search_text(name: str, author: str, tags: Iterable[str], areas: Iterable[str]) -> str:
    return " ".join([name, author, *tags, *areas]).casefold()


def _step_lines(routine: Routine, timeline: Timeline) -> tuple[StepLine, ...]:
    """The routine's own steps (a repeat block is one line) with their expanded times."""
    seconds: dict[int, float] = {}
    ready = 0.0
    for seg in timeline.segments:
        found = _TOP_STEP.match(seg.step_path or "")
        if found is None:
            ready += seg.duration_s  # the get-ready countdown belongs to no step
            continue
        index = int(found.group(1))
        seconds[index] = seconds.get(index, 0.0) + seg.duration_s
    lines: list[StepLine] = []
    if ready:
        lines.append(StepLine("Get ready", ready))
    for index, step in enumerate(routine.steps):
        lines.append(StepLine(_step_text(step), seconds.get(index, 0.0)))
    return tuple(lines)


def _step_text(step: Step) -> str:
    from tproutine.routine.checked import RepeatBlock, RestStep

    if isinstance(step, RepeatBlock):
        inner = ", ".join(_step_text(s) for s in step.steps)
        return f"{step.repeat}× {inner}"
    if isinstance(step, RestStep):
        return step.title
    extra = []
    if step.side == "both":
        extra.append("both sides")
    elif step.side:
        extra.append(step.side)
    if step.reps > 1:
        extra.append(f"{step.reps} reps")
    suffix = f" ({', '.join(extra)})" if extra else ""
    return f"{step.kind.capitalize()}: {step.title}{suffix}"


def summary_entry(path: Path, origin: str, routine: Routine, timeline: Timeline) -> RoutineEntry:
    """The entry of a routine that was read and checked."""
    areas = tuple(dict.fromkeys(s.area for s in timeline.segments if s.area))
    author = routine.author or ""
    return RoutineEntry(
        path=path,
        origin=origin,
        name=routine.name,
        total_s=timeline.total_s,
        author=author,
        tags=routine.tags,
        areas=areas,
        uses_device=timeline.uses_device,
        plan=routine.plan,
        search_text=search_text(routine.name, author, routine.tags, areas),
        more=Details(
            summary=routine.summary or "",
            warnings=routine.safety.warnings,
            avoid_if=routine.safety.avoid_if,
            steps=_step_lines(routine, timeline),
        ),
    )


def error_entry(path: Path, origin: str, err: LoadError) -> RoutineEntry:
    """The entry of a file that cannot be run: its name, and why."""
    problems = tuple(str(p) for p in err.problems) or (str(err),)
    return RoutineEntry(
        path=path, origin=origin, name=path.stem, errors=problems, search_text=path.stem.casefold()
    )


def read_entry(
    path: Path, origin: str, raw: bytes | None = None
) -> tuple[RoutineEntry, Timeline | None]:
    """Read (unless ``raw`` is given), check and expand one routine file: its entry, and
    its timeline when it can run."""
    from tproutine.routine.quick import read_file, read_routine
    from tproutine.yamlsafe import LoadError

    try:
        if raw is None:
            raw = read_file(path)
        routine, timeline = read_routine(raw, str(path))
    except LoadError as err:
        return error_entry(path, origin, err), None
    return summary_entry(path, origin, routine, timeline), timeline


def load_entry(path: Path, origin: str) -> RoutineEntry:
    """Read, check and expand one routine file into a Library entry."""
    return read_entry(path, origin)[0]


def _folder(folder: Path) -> list[tuple[str, bool]]:
    """The routine files in ``folder`` by name, each with whether it is a symbolic link."""
    try:
        with os.scandir(folder) as found:
            # DirEntry answers from the folder listing: no system call per file, but
            # for a link (is_file then follows it).
            return sorted(
                (e.name, e.is_symlink()) for e in found if _is_routine(e.name) and e.is_file()
            )
    except OSError:
        return []


def _is_routine(name: str) -> bool:
    return os.path.splitext(name)[1] in (".yaml", ".yml")


def routine_files(folder: Path) -> list[Path]:
    """The routine files in ``folder`` (not recursive), sorted by name; none if it is missing."""
    return [folder / name for name, _link in _folder(folder)]


def library_files(
    folders: Sequence[tuple[Path, str]], files: Sequence[Path] = ()
) -> list[tuple[Path, str]]:
    """Every routine file of ``folders`` (each with its origin label), then the extra
    ``files`` (origin "file"); a file named twice (a folder and the command line) once."""
    seen: set[str] = set()
    found: list[tuple[Path, str]] = []
    for folder, origin in folders:
        real = str(folder.resolve())
        for name, link in _folder(folder):
            path = folder / name
            # Only a link needs resolving: the rest are the folder's own files.
            key = str(path.resolve()) if link else os.path.join(real, name)
            if key not in seen:
                seen.add(key)
                found.append((path, origin))
    for path in files:
        key = str(path.resolve())
        if key not in seen:
            seen.add(key)
            found.append((path, "file"))
    return found


def ordered(entries: Iterable[RoutineEntry]) -> list[RoutineEntry]:
    """Files named on the command line first (the person just asked for them), then by
    name; files that cannot run last (they are there to be fixed, not chosen)."""
    extra = [e for e in entries if e.origin == "file"]
    rest = [e for e in entries if e.origin != "file"]
    rest.sort(key=lambda e: (bool(e.errors), e.name.casefold(), str(e.path)))
    return extra + rest


# How often a scan reports the entries read so far: each report refills the list.
PROGRESS_EVERY_S = 0.25


class LibraryScan:
    """One reading of the library, in two parts.

    :meth:`take_cached` takes every file whose summary the cache has: it looks at
    each file's status (and reads and hashes those whose status cannot vouch for
    them) but parses none, which is quick enough to run before the first paint
    (with a deadline, for a slow disk). :meth:`read_rest` reads, checks
    and expands the files the cache did not have (a worker thread runs it) and
    saves the cache.
    """

    def __init__(
        self,
        folders: Sequence[tuple[Path, str]],
        files: Sequence[Path] = (),
        cache: LibraryCache | None = None,
    ) -> None:
        self.cache = cache
        self.entries: list[RoutineEntry] = []
        self._todo = library_files(folders, files)[::-1]  # popped from the end
        self._unread: list[tuple[Path, str]] = []

    @property
    def done(self) -> bool:
        """Whether every file has its entry."""
        return not self._todo and not self._unread

    def ordered(self) -> list[RoutineEntry]:
        return ordered(self.entries)

    def take_cached(self, deadline: float | None = None) -> None:
        """The entries of the files the cache has, until ``deadline`` (monotonic clock)."""
        while self._todo:
            if deadline is not None and time.monotonic() > deadline:
                return
            path, origin = self._todo.pop()
            entry = self.cache.take(path, origin) if self.cache is not None else None
            if entry is None:
                self._unread.append((path, origin))
            else:
                self.entries.append(entry)

    def read_rest(
        self,
        progress: Callable[[list[RoutineEntry]], None] | None = None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> list[RoutineEntry]:
        """Every entry: the cached ones, then the other files read, checked and expanded.

        ``progress`` gets the entries so far (in order) every 0.25 s while files are
        read; ``cancelled`` stops between two files. The cache is saved in the end.
        """
        from tproutine.cachefiles import read_whole
        from tproutine.tui.library_cache import file_key

        self.take_cached()
        reported = time.monotonic()
        while self._unread and not cancelled():
            path, origin = self._unread.pop(0)
            read_ns = self.cache.clock_ns() if self.cache is not None else 0
            found = read_whole(path)
            if found is None:  # it cannot be read whole: the loader says why
                self.entries.append(read_entry(path, origin)[0])
                continue
            entry = read_entry(path, origin, found[0])[0]
            self.entries.append(entry)
            if self.cache is not None:
                self.cache.put(entry, file_key(*found, read_ns))
            if progress is not None and time.monotonic() - reported >= PROGRESS_EVERY_S:
                progress(self.ordered())
                reported = time.monotonic()
        if self.cache is not None:
            self.cache.save()
        return self.ordered()


def scan_library(
    folders: Sequence[tuple[Path, str]],
    files: Sequence[Path] = (),
    *,
    cache: LibraryCache | None = None,
) -> list[RoutineEntry]:
    """Every routine in ``folders`` and the extra ``files``, in the Library's order
    (unchanged files from the ``cache``, which is then saved)."""
    return LibraryScan(folders, files, cache).read_rest()

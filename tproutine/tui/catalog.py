"""The routine library as the Library screen shows it: one entry per file.

Scanning reads and expands every routine file once (the expansion gives the
total time and the areas worked). It runs in a worker thread after the first
paint, so a large library never delays the app's start. A file with mistakes
becomes an entry too: the Library lists it and the preview shows why it cannot
run, instead of the file silently disappearing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tproutine.routine.timeline import Timeline

_TOP_STEP = re.compile(r"^steps\[(\d+)\]")


@dataclass(frozen=True)
class StepLine:
    """One top-level step of a routine in the preview: what it is and how long it takes."""

    text: str
    seconds: float


@dataclass(frozen=True)
class RoutineEntry:
    """A routine file as the Library lists it."""

    path: Path
    origin: str  # "bundled", "yours" or "file" (named on the command line)
    name: str
    total_s: float = 0.0
    summary: str = ""
    author: str = ""
    tags: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    avoid_if: tuple[str, ...] = ()
    steps: tuple[StepLine, ...] = ()
    timeline: Timeline | None = None
    errors: tuple[str, ...] = ()  # why the file cannot run; empty when it can
    search_text: str = field(default="", repr=False)

    @property
    def ok(self) -> bool:
        return self.timeline is not None and not self.errors

    @property
    def has_safety(self) -> bool:
        return bool(self.warnings or self.avoid_if)

    def matches(self, query: str) -> bool:
        """Every word of ``query`` appears in the name, a tag, an area or the author."""
        words = query.casefold().split()
        return all(word in self.search_text for word in words)


def _search_text(name: str, author: str, tags: Iterable[str], areas: Iterable[str]) -> str:
    return " ".join([name, author, *tags, *areas]).casefold()


def _step_lines(routine: object, timeline: Timeline) -> tuple[StepLine, ...]:
    """The routine's own steps (a repeat block is one line) with their expanded times."""
    from tproutine.routine import model as m

    assert isinstance(routine, m.Routine)
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


def _step_text(step: object) -> str:
    from tproutine.routine import model as m

    if isinstance(step, m.RepeatBlock):
        inner = ", ".join(_step_text(s) for s in step.steps)
        return f"{step.repeat}× {inner}"
    if isinstance(step, m.RestStep):
        return step.title
    kind = getattr(step, "kind", "")
    title = getattr(step, "title", "")
    side = getattr(step, "side", None)
    reps = getattr(step, "reps", 1)
    extra = []
    if side == "both":
        extra.append("both sides")
    elif side:
        extra.append(side)
    if reps and reps > 1:
        extra.append(f"{reps} reps")
    suffix = f" ({', '.join(extra)})" if extra else ""
    return f"{kind.capitalize()}: {title}{suffix}"


def load_entry(path: Path, origin: str) -> RoutineEntry:
    """Read, validate and expand one routine file into a Library entry."""
    from tproutine.routine.expand import expand
    from tproutine.routine.loader import load_routine
    from tproutine.yamlsafe import LoadError

    try:
        loaded = load_routine(path)
        timeline = expand(loaded)
    except LoadError as err:
        problems = tuple(str(p) for p in err.problems) or (str(err),)
        return RoutineEntry(
            path=path,
            origin=origin,
            name=path.stem,
            errors=problems,
            search_text=path.stem.casefold(),
        )
    routine = loaded.routine
    areas = tuple(dict.fromkeys(s.area for s in timeline.segments if s.area))
    tags = tuple(routine.tags)
    author = routine.author or ""
    return RoutineEntry(
        path=path,
        origin=origin,
        name=routine.name,
        total_s=timeline.total_s,
        summary=routine.summary or "",
        author=author,
        tags=tags,
        areas=areas,
        warnings=tuple(routine.safety.warnings),
        avoid_if=tuple(routine.safety.avoid_if),
        steps=_step_lines(routine, timeline),
        timeline=timeline,
        search_text=_search_text(routine.name, author, tags, areas),
    )


def routine_files(folder: Path) -> list[Path]:
    """The routine files in ``folder`` (not recursive), sorted by name; none if it is missing."""
    try:
        return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    except OSError:
        return []


def scan_library(
    folders: Sequence[tuple[Path, str]], files: Sequence[Path] = ()
) -> list[RoutineEntry]:
    """Every routine in ``folders`` (each with its origin label) and the extra ``files``.

    Sorted by name; a file named twice (a folder and the command line) appears once.
    """
    seen: set[Path] = set()
    entries: list[RoutineEntry] = []
    for folder, origin in folders:
        for path in routine_files(folder):
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                entries.append(load_entry(path, origin))
    extra = [load_entry(p, "file") for p in files if p.resolve() not in seen]
    # Files that cannot run go last: they are there to be fixed, not chosen.
    entries.sort(key=lambda e: (bool(e.errors), e.name.casefold(), str(e.path)))
    # Files named on the command line come first: the person just asked for them.
    return extra + entries

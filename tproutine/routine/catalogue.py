"""Step catalogues: complete, reusable steps that a routine brings in with ``- use: ID``.

A catalogue file says ``format: tproutine-steps/1`` and maps ids to steps::

    format: tproutine-steps/1
    name: Neck and shoulders
    safety: {warnings: [...], avoid_if: [...]}   # suggested for routines that use them
    steps:
      upper-trapezius-pinch:
        hold: Upper trapezius
        duration: 45s
        pressure: 5
        cues: [{at: 0s, say: Squeeze until it is about a {pressure}.}]

Each step is a ``hold``, ``stretch``, ``massage`` or ``breathe`` step exactly as a
routine would write it, checked by the same models with the same messages, at the
catalogue's own ``file:line:col``. ``{pressure}`` in its instructions and cues is
replaced by the pressure the step runs at, so a routine that asks for less
pressure never hears the old number.

The bundled catalogues (top-level ``steps/``, one file per body region) ship in
the wheel; the person's own live in ``steps/`` in their config folder and may add
ids but never replace a bundled one: a clash is an error that names both files.

Catalogues come from other people too, so they go through :mod:`tproutine.yamlsafe`
with every limit a routine has. They are read lazily (only for a routine that has
a ``use:``, for ``tproutine steps``, ``new --steps`` and the schema) and each file
is kept in memory until its modification time or size changes. :func:`stamp` is
the cheap answer to "did any catalogue change?" (paths, mtimes and sizes, no YAML
read): a cache of routine summaries keys on it.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tproutine.routine import model as m
from tproutine.routine.loader import _check_semantics, _validation_problems, read_file
from tproutine.routine.stepfiles import (
    CATALOGUE_FORMAT,
    ID_PATTERN,
    ID_RULE,
    KINDS,
    MAX_ID,
    PLACEHOLDER,
    SUFFIXES,
    TOP_KEYS,
    WHAT,
    Stamp,
    catalogue_files,
    has_placeholder,
    is_step_id,
    scan_ids,
    stamp,
)
from tproutine.routine.stepfiles import stat as _stat
from tproutine.yamlsafe import Document, LoadError, Mark, Problem, format_path, load_yaml

__all__ = [  # what other modules and tests take from here (the files' part is stepfiles.py)
    "CATALOGUE_FORMAT",
    "ID_PATTERN",
    "ID_RULE",
    "KINDS",
    "MAX_ID",
    "PLACEHOLDER",
    "SUFFIXES",
    "TOP_KEYS",
    "WHAT",
    "Catalogue",
    "CatalogueStep",
    "Stamp",
    "StepIndex",
    "bundled_ids",
    "catalogue_files",
    "for_ids",
    "index",
    "is_catalogue",
    "is_step_id",
    "parse_catalogue",
    "scan_ids",
    "stamp",
]


def is_catalogue(raw: bytes, shown: str) -> bool:
    """Whether ``raw`` says ``format: tproutine-steps/...`` (cheap for everything else)."""
    if b"tproutine-steps/" not in raw:
        return False
    try:
        fmt = load_yaml(raw, shown).data.get("format")
    except LoadError:
        return False  # the routine loader reports the YAML mistake
    return isinstance(fmt, str) and fmt.startswith(CATALOGUE_FORMAT.split("/")[0] + "/")


@dataclass(frozen=True)
class CatalogueStep:
    """One step of a catalogue, checked, with where it was written."""

    id: str
    step: m.WorkStep  # as validated
    data: dict[str, Any]  # as written (x- keys dropped): what a routine's use: merges into
    catalogue: str  # the catalogue's name, e.g. "Neck and shoulders"
    file: str
    line: int
    col: int
    bundled: bool

    @property
    def kind(self) -> str:
        return self.step.kind

    @property
    def title(self) -> str:
        return self.step.title

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    @property
    def pressure(self) -> int | None:
        return self.step.pressure

    @property
    def has_placeholder(self) -> bool:
        return has_placeholder(self.step)


@dataclass(frozen=True)
class Catalogue:
    """One catalogue file. A file with any problem lends none of its steps."""

    path: Path
    file: str
    bundled: bool
    name: str = ""
    description: str = ""
    safety: m.Safety = field(default_factory=m.Safety)
    steps: tuple[CatalogueStep, ...] = ()
    problems: tuple[Problem, ...] = ()

    @property
    def region(self) -> str:
        """The file's stem (``neck-shoulders``): a short handle for ``--area``."""
        return self.path.stem


# --- reading one catalogue --------------------------------------------------------------


def _shadow(doc: Document, data: dict[str, Any], moves: dict[Any, Any] | None = None) -> Document:
    """A document of ``data`` that borrows ``doc``'s marks, so that the routine models'
    checks report at the catalogue's lines. ``moves`` maps a catalogue id to its
    place in ``data["steps"]`` (a list, as in a routine)."""
    if not moves:
        return Document(doc.file, data, doc.value_marks, doc.key_marks)

    def moved(marks: dict[Any, Mark]) -> dict[Any, Mark]:
        out: dict[Any, Mark] = {}
        for path, mark in marks.items():
            if len(path) >= 2 and path[0] == "steps" and path[1] in moves:
                out[("steps", moves[path[1]], *path[2:])] = mark
            elif len(path) < 2:
                out[path] = mark
        return out

    return Document(doc.file, data, moved(doc.value_marks), moved(doc.key_marks))


def _as_routine(fields: dict[str, Any], steps: list[Any]) -> dict[str, Any]:
    # The routine model checks a catalogue's parts with the routine's own messages.
    return {"format": m.FORMAT, "name": "catalogue", **fields, "steps": steps}


def _check_header(doc: Document) -> tuple[list[Problem], m.Routine | None]:
    data = doc.data
    problems: list[Problem] = []
    for key in data:
        if key not in TOP_KEYS:
            from tproutine.suggest import suggest

            hint = suggest(key, TOP_KEYS)
            did = f"did you mean '{hint}'? " if hint else ""
            problems.append(
                doc.problem(
                    (key,),
                    f"unknown key {key!r} ({did}a catalogue has: {', '.join(TOP_KEYS)}; "
                    "x- keys are ignored)",
                    key=True,
                )
            )
    fmt = data.get("format")
    if "format" not in data:
        problems.append(
            doc.problem(
                (), f"'format' is required (a step catalogue says format: {CATALOGUE_FORMAT})"
            )
        )
    elif fmt == m.FORMAT:
        problems.append(
            doc.problem(
                ("format",),
                f"this is a routine ({m.FORMAT}), not a step catalogue "
                f"(a catalogue says format: {CATALOGUE_FORMAT})",
            )
        )
    elif isinstance(fmt, str) and fmt.startswith("tproutine-steps/") and fmt != CATALOGUE_FORMAT:
        problems.append(
            doc.problem(
                ("format",),
                f"this catalogue is format {fmt!r}; this version of tproutine reads "
                f"{CATALOGUE_FORMAT!r}",
            )
        )
    elif fmt != CATALOGUE_FORMAT:
        problems.append(
            doc.problem(
                ("format",), f"{fmt!r} is not a catalogue format (use format: {CATALOGUE_FORMAT})"
            )
        )
    if "steps" not in data:
        problems.append(doc.problem((), "'steps' is required (a mapping of ids to steps)"))
    elif not isinstance(data["steps"], dict) or not data["steps"]:
        problems.append(
            doc.problem(
                ("steps",),
                "steps is a mapping of ids to steps, with at least one "
                "(upper-trapezius-pinch: {hold: Upper trapezius, duration: 45s})",
            )
        )
    # name, description, author and safety mean what they mean in a routine.
    fields: dict[str, Any] = {
        k: data[k] for k in ("name", "description", "author", "safety") if k in data
    }
    shadow = _shadow(doc, _as_routine(fields, [{"rest": 1.0}]))
    try:
        header = m.Routine.model_validate(shadow.data)
    except ValidationError as exc:
        return problems + _validation_problems(exc, shadow), None
    if "name" not in data:
        problems.append(doc.problem((), "'name' is required (the body region, e.g. Upper back)"))
    return problems, header


def _check_entry(
    doc: Document, step_id: str, entry: Any
) -> tuple[list[Problem], m.WorkStep | None]:
    here: tuple[str | int, ...] = ("steps", step_id)
    if not is_step_id(step_id):
        return [
            doc.problem(here, f"{step_id!r} is not a catalogue id (use {ID_RULE})", key=True)
        ], None
    if not isinstance(entry, dict):
        return [
            doc.problem(
                here,
                "a catalogue step is a mapping that starts with its kind "
                "(hold, stretch, massage or breathe) and its title",
            )
        ], None
    if "use" in entry:
        return [
            doc.problem(
                (*here, "use"),
                "a catalogue step cannot use another step (write this one out in full; "
                "only routines use steps)",
                key=True,
            )
        ], None
    if "id" in entry:
        return [
            doc.problem(
                (*here, "id"),
                f"a catalogue step's id is its key ({step_id!r}); remove id: here "
                "(a routine may give a step it uses an id of its own)",
                key=True,
            )
        ], None
    kind = m.step_kind(entry)
    if kind in ("rest", "repeat"):
        return [
            doc.problem(
                (*here, kind),
                f"a catalogue step is a hold, stretch, massage or breathe step "
                f"({kind} belongs in the routine itself)",
                key=True,
            )
        ], None
    shadow = _shadow(doc, _as_routine({}, [entry]), {step_id: 0})
    try:
        routine = m.Routine.model_validate(shadow.data)
    except ValidationError as exc:
        found = _validation_problems(exc, shadow)
    else:
        found = _check_semantics(routine, shadow)
        step = routine.steps[0]
        assert not isinstance(step, (m.RestStep, m.RepeatBlock))
        if step.pressure is None and has_placeholder(step):
            found.append(
                shadow.problem(
                    ("steps", 0, "pressure"),
                    f"{PLACEHOLDER} in the text needs the step's pressure (add pressure: 5)",
                )
            )
        if not found:
            return [], step
    # Problems name the path inside the catalogue: steps[0].x → steps.ID.x
    prefix = "steps[0]"
    return [
        p.replace(path=format_path(here) + p.path[len(prefix) :])
        if p.path.startswith(prefix)
        else p
        for p in found
    ], None


def _duplicate_ids(problems: Iterable[Problem]) -> list[Problem]:
    out = []
    for p in problems:
        parts = p.path.split(".")
        if len(parts) == 2 and parts[0] == "steps" and "appears twice" in p.message:
            p = p.replace(
                message=f"the id {parts[1]!r} appears twice in this catalogue "
                "(ids are unique: keep one, or rename one)",
            )
        out.append(p)
    return out


def parse_catalogue(
    raw: bytes | str, file: str, *, bundled: bool, path: Path | None = None
) -> Catalogue:
    """Check a catalogue from its bytes. Never raises: problems are in the result."""
    where = path or Path(file)
    try:
        doc = load_yaml(raw, file, what=WHAT)
    except LoadError as err:
        return Catalogue(where, file, bundled, problems=tuple(_duplicate_ids(err.problems)))
    problems, header = _check_header(doc)
    steps: list[CatalogueStep] = []
    entries = doc.data.get("steps")
    if isinstance(entries, dict):
        for step_id, entry in entries.items():
            found, step = _check_entry(doc, step_id, entry)
            problems.extend(found)
            if step is not None:
                mark = doc.mark(("steps", step_id), key=True)
                steps.append(
                    CatalogueStep(
                        id=step_id,
                        step=step,
                        data=entry,
                        catalogue=header.name if header else "",
                        file=file,
                        line=mark.line,
                        col=mark.col,
                        bundled=bundled,
                    )
                )
    problems.sort(key=lambda p: (p.line, p.col))
    return Catalogue(
        path=where,
        file=file,
        bundled=bundled,
        name=header.name if header else "",
        description=(header.description or "") if header else "",
        safety=header.safety if header else m.Safety(),
        steps=tuple(steps),
        problems=tuple(problems),
    )


# --- all catalogues: files, stamp, index ------------------------------------------------


@dataclass(frozen=True)
class StepIndex:
    """Every usable step by id, and why the others cannot be used."""

    catalogues: tuple[Catalogue, ...]
    steps: dict[str, CatalogueStep]
    clashes: dict[str, Problem]  # ids defined twice: the second definition's problem

    def find(self, step_id: str) -> CatalogueStep | None:
        return None if step_id in self.clashes else self.steps.get(step_id)

    @property
    def problems(self) -> list[Problem]:
        """Every catalogue's mistakes, then the clashes."""
        out = [p for c in self.catalogues for p in c.problems]
        return out + list(self.clashes.values())

    def unreadable(self) -> list[Problem]:
        """The problems of catalogues that lend no steps (an unknown id may be in one)."""
        return [p for c in self.catalogues for p in c.problems]

    def nearest(self, word: str, n: int = 3) -> list[str]:
        """The ids nearest to a misspelt or half-remembered one."""
        ids = sorted(self.steps)
        containing = [i for i in ids if word and word in i]
        close = difflib.get_close_matches(word, ids, n=n, cutoff=0.6)
        return list(dict.fromkeys([*close, *containing]))[:n]


def _build(catalogues: list[Catalogue]) -> StepIndex:
    steps: dict[str, CatalogueStep] = {}
    clashes: dict[str, Problem] = {}
    for cat in catalogues:
        if cat.problems:
            continue
        for s in cat.steps:
            first = steps.get(s.id)
            if first is None:
                steps[s.id] = s
                continue
            if s.id in clashes:
                continue
            if first.bundled and not s.bundled:
                why = (
                    f"{s.id!r} is a bundled step ({first.where}); your catalogues may add "
                    f"steps but not replace one: choose another id, such as 'my-{s.id}'"
                )
            else:
                why = (
                    f"{s.id!r} is already a step in {first.where} "
                    "(ids are unique across all catalogues: rename one)"
                )
            clashes[s.id] = Problem(s.file, s.line, s.col, format_path(("steps", s.id)), why)
    return StepIndex(tuple(catalogues), steps, clashes)


_lock = threading.Lock()
_files: dict[Path, tuple[tuple[str, int, int], Catalogue]] = {}
_index: tuple[Stamp, StepIndex] | None = None


def _load(path: Path, bundled: bool, key: tuple[str, int, int]) -> Catalogue:
    cached = _files.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        cat = parse_catalogue(read_file(path), str(path), bundled=bundled, path=path)
    except LoadError as err:  # too big, unreadable, gone
        cat = Catalogue(path, str(path), bundled, problems=tuple(err.problems))
    _files[path] = (key, cat)
    return cat


def index() -> StepIndex:
    """All catalogues, read once and again only when one changes (see :func:`stamp`)."""
    global _index
    with _lock:
        files = catalogue_files()
        now = tuple(_stat(p) for p, _ in files)
        if _index is not None and _index[0] == now:
            return _index[1]
        built = _build(
            [_load(p, bundled, key) for (p, bundled), key in zip(files, now, strict=True)]
        )
        _index = (now, built)
        return built


def for_ids(ids: Iterable[str]) -> StepIndex:
    """An index that resolves ``ids`` as :func:`index` would, reading less.

    Every catalogue of the person's own is read (so that a clash with a bundled id is
    never missed), but only those bundled catalogues that hold one of ``ids`` or of
    the person's ids. When an id is not found that way, or the full index is already
    at hand, it is the full index (an unknown id is then reported with the nearest).
    """
    wanted = set(ids)
    with _lock:
        files = catalogue_files()
        now = tuple(_stat(p) for p, _ in files)
        if _index is not None and _index[0] == now:
            return _index[1]
        keyed = list(zip(files, now, strict=True))
        user = [_load(p, False, key) for (p, bundled), key in keyed if not bundled]
        need = wanted | {s.id for c in user for s in c.steps}
        bundled = [_load(p, True, key) for (p, b), key in keyed if b and scan_ids(p, key) & need]
        part = _build([*bundled, *user])
    if all(part.find(i) is not None or i in part.clashes for i in wanted):
        return part
    return index()


def bundled_ids() -> list[str]:
    """The ids of the bundled steps, sorted (the schema offers them to editors)."""
    return sorted(i for i, s in index().steps.items() if s.bundled)

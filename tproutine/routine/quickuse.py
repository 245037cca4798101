"""Routines built on catalogue steps (``- use: ID``), read without pydantic.

The full loader brings each used step in with ``uses.py``, reading the catalogues
through the models (``catalogue.py``): that costs a one-file command about 100 ms
of imports. This module does the same for a routine whose catalogues are valid:
the same files (every one of the person's own, and the bundled ones whose ids the
cheap scan finds: exactly those ``catalogue.for_ids`` reads), the same rules for
the keys a routine may change, and the same merge (``uses.merge``), with each
catalogue step checked by the quick check's rules instead of the models.

Like the quick check, it answers "done" or "not sure". A catalogue with any
mistake or anything the quick check does not know, an id that is not found or
that two catalogues define, a key the routine may not change: the routine goes to
the full loader, which says what is wrong (or, when nothing is, builds the same
routine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from tproutine.routine import checked as c
from tproutine.routine.quick import _REQUIRED, _ROUTINE, FORMAT, _fields, _Unsure, check, read_file
from tproutine.routine.stepfiles import (
    CATALOGUE_FORMAT,
    WHAT,
    catalogue_files,
    has_placeholder,
    is_step_id,
    scan_ids,
    stat,
)
from tproutine.routine.uses import _sites, merge, override_keys, refusal
from tproutine.yamlsafe import LoadError, load_yaml

if TYPE_CHECKING:
    from pathlib import Path


class QuickStep(NamedTuple):
    """A catalogue step as ``uses.merge`` needs it."""

    data: dict[str, Any]  # as written (x- keys dropped), like CatalogueStep.data
    kind: str
    pressure: int | None
    has_placeholder: bool


Steps = dict[str, QuickStep]


def _format(value: Any) -> str:
    if value != CATALOGUE_FORMAT or type(value) is not str:
        raise _Unsure
    return CATALOGUE_FORMAT


def _entries(value: Any) -> dict[str, Any]:
    if type(value) is not dict or not value:
        raise _Unsure
    return value


# A catalogue's top level: name, description, author and safety mean what they mean
# in a routine (catalogue.py checks them with the routine model), so the quick
# check's own rules for them apply.
_HEADER = {
    "format": (_format, _REQUIRED),
    **{k: _ROUTINE[k] for k in ("name", "description", "author", "safety")},
    "steps": (_entries, _REQUIRED),
}


def parse(raw: bytes, file: str) -> Steps | None:
    """A catalogue's steps by id when it is certainly valid; else None."""
    try:
        doc = load_yaml(raw, file, what=WHAT)
        entries = _fields(doc.data, _HEADER)["steps"]
    except (LoadError, _Unsure, ValueError):
        return None
    out: Steps = {}
    for step_id, entry in entries.items():
        # The id is the key: a step gives none of its own, and uses no other step.
        if not is_step_id(step_id) or type(entry) is not dict or "use" in entry or "id" in entry:
            return None
        # Checked as the one step of a routine, as catalogue.py checks it with the models.
        routine = check({"format": FORMAT, "name": "catalogue", "steps": [entry]})
        step = routine.steps[0] if routine is not None else None
        if not isinstance(step, c.WorkStep):  # a rest or repeat belongs to a routine
            return None
        placeholder = has_placeholder(step)
        if placeholder and step.pressure is None:
            return None  # {pressure} needs the step's pressure
        out[step_id] = QuickStep(entry, step.kind, step.pressure, placeholder)
    return out


# Each file's steps, kept until its modification time or size changes (the Library
# reads many routines in one process). Two threads may read a file at once: the
# same answer twice, so no lock.
_files: dict[Path, tuple[tuple[str, int, int], Steps | None]] = {}


def _read(path: Path, key: tuple[str, int, int]) -> Steps | None:
    cached = _files.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        steps = parse(read_file(path), str(path))
    except LoadError:  # too big, unreadable, gone
        steps = None
    _files[path] = (key, steps)
    return steps


def find(ids: set[str]) -> Steps | None:
    """The steps ``ids`` name, read as ``catalogue.for_ids`` reads them; None when unsure."""
    keyed = [(path, bundled, stat(path)) for path, bundled in catalogue_files()]
    user = [_read(path, key) for path, bundled, key in keyed if not bundled]
    if any(steps is None for steps in user):
        return None
    # A bundled file that holds one of the person's ids is read too: they may clash.
    need = ids.union(*(steps or () for steps in user))
    bundled = [_read(path, key) for path, b, key in keyed if b and scan_ids(path, key) & need]
    found: Steps = {}
    twice: set[str] = set()
    for steps in [*bundled, *user]:
        if steps is None:
            return None
        for step_id, step in steps.items():
            if step_id in found:
                twice.add(step_id)  # the full loader says which files clash
            else:
                found[step_id] = step
    if twice & ids or not ids <= found.keys():
        return None
    return found


def resolve(data: dict[str, Any]) -> bool:
    """Replace each ``use:`` step of ``data`` in place, as ``uses.resolve_uses`` does.

    False when unsure (``data`` may then be half done: the full loader reads the
    file again).
    """
    sites = list(_sites(data.get("steps"), ("steps",)))
    if not sites:
        return True
    ids = [holder[i]["use"] for _, holder, i in sites]
    if not all(is_step_id(i) for i in ids):
        return False
    steps = find(set(ids))
    if steps is None:
        return False
    for _, holder, i in sites:
        given = {k: v for k, v in holder[i].items() if k != "use"}
        used = steps[holder[i]["use"]]
        allowed = override_keys(used.kind)
        if any(refusal(k, v, allowed) is not None for k, v in given.items()):
            return False
        holder[i] = merge(used, given, data.get("defaults"))
    return True

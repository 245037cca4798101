"""Receiving a step catalogue: ``tproutine add steps.yaml`` puts a checked copy in the
person's ``steps/`` folder, so that routines using its steps run on this computer.

A practitioner who builds routines from their own catalogue sends the catalogue
with them; the client adds both (catalogues first, whatever the order given). A
catalogue is copied byte for byte, never over a different one of the same file
name without ``--force``, and never when one of its ids is already a step here
(a bundled one, or one of another of the person's catalogues): the same rules
``tproutine steps`` applies.
"""

from __future__ import annotations

from pathlib import Path

from tproutine import paths
from tproutine.cachefiles import replace_file as _replace
from tproutine.routine.catalogue import index, parse_catalogue
from tproutine.routine.loader import read_file
from tproutine.share.library import Added, AddError, _same_bytes, _target_name, _write_new
from tproutine.yamlsafe import LoadError, Problem, format_path


def add_catalogue(source: str | Path, *, force: bool = False, folder: Path | None = None) -> Added:
    """Check ``source`` and copy it into the person's steps folder.

    LoadError for a catalogue with mistakes or an id that is already a step here;
    AddError when it would replace a different file without ``force``.
    """
    shown = str(source)
    raw = read_file(source, shown=shown)
    cat = parse_catalogue(raw, shown, bundled=False, path=Path(shown))
    if cat.problems:
        raise LoadError(cat.problems)
    folder = folder if folder is not None else paths.user_steps_dir()
    target = folder / _target_name(Path(source))
    if _same_bytes(target, raw):
        return Added(shown, target, cat.name, "unchanged")
    replacing = target.exists() or target.is_symlink()
    if replacing and not force:
        raise AddError(
            f"{shown}: {target} is already in your steps folder (another catalogue or "
            "another version of this one). Use --force to replace it, or rename the file "
            "and add it again."
        )
    clashes = []
    for step in cat.steps:
        other = index().steps.get(step.id)
        if other is not None and Path(other.file) != target:
            clashes.append(
                Problem(
                    shown,
                    step.line,
                    step.col,
                    format_path(("steps", step.id)),
                    f"{step.id!r} is already a step here ({other.where}); ids are unique "
                    "across all catalogues: rename it in this file and add it again",
                )
            )
    if clashes:
        raise LoadError(clashes)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (_replace if replacing else _write_new)(target, raw)
    except OSError as exc:
        raise AddError(f"{shown}: cannot write {target}: {exc.strerror or exc}") from None
    return Added(shown, target, cat.name, "replaced" if replacing else "added")

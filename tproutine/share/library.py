"""Receiving a routine: ``tproutine add FILE...`` puts checked copies in the library.

The library is the person's routines folder (:func:`tproutine.paths.user_routines_dir`);
the app lists every routine file in it. A file is copied byte for byte, so its
content hash (which history reports show) stays the one the practitioner sent.

Nothing already in the library is replaced without ``--force``: neither a file of
the same file name nor a routine of the same *name* in another file, since two
routines called "Low back release" could not be told apart in the list.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tproutine import paths
from tproutine.cachefiles import replace_file
from tproutine.routine.expand import expand
from tproutine.routine.loader import load_routine, parse_routine, read_file
from tproutine.safetext import file_name as safe_file_name
from tproutine.share.names import name_key as name_key  # where it always was
from tproutine.yamlsafe import LoadError

# What the app's library lists (tproutine.tui.catalog): exactly these suffixes.
ROUTINE_SUFFIXES = (".yaml", ".yml")

Outcome = Literal["added", "replaced", "unchanged"]


class AddError(Exception):
    """A valid routine that was not added; the message says why and what to do."""


@dataclass(frozen=True)
class Added:
    """What ``add`` did with one file."""

    source: str
    target: Path
    name: str
    outcome: Outcome


def library_routines(folder: Path) -> Iterator[tuple[Path, str]]:
    """Each readable, valid routine file in ``folder`` and its routine's name."""
    try:
        entries = sorted(folder.iterdir())
    except OSError:  # no library yet, or unreadable: nothing to clash with
        return
    for path in entries:
        if path.suffix not in ROUTINE_SUFFIXES or not path.is_file():
            continue
        try:
            yield path, load_routine(path).routine.name
        except LoadError:
            continue  # an invalid file cannot clash by name; it is only replaced by file name


def _target_name(source: Path) -> str:
    # The name came with the file (an attachment's): kept readable, without the
    # characters that could hide the file or rewrite a terminal that lists the folder.
    stem = safe_file_name(source.stem)
    if source.suffix in ROUTINE_SUFFIXES:
        return stem + source.suffix
    # The app lists `.yaml` and `.yml` files only: `routine.txt` from a mail client
    # (or `ROUTINE.YAML`) is kept as `routine.yaml` so that it shows up.
    return stem + ".yaml"


def _same_bytes(path: Path, raw: bytes) -> bool:
    try:
        return path.is_file() and path.read_bytes() == raw
    except OSError:
        return False


def _write_new(target: Path, raw: bytes) -> None:
    # Exclusive creation: a file that appeared since the checks is never clobbered.
    with open(target, "xb") as out:
        try:
            out.write(raw)
        except BaseException:
            out.close()
            target.unlink(missing_ok=True)
            raise


def add_routine(source: str | Path, *, force: bool = False, library: Path | None = None) -> Added:
    """Validate ``source`` and copy it into the library.

    Raises :class:`~tproutine.yamlsafe.LoadError` for an invalid file and
    :class:`AddError` when it would replace something without ``force`` or
    cannot be written.
    """
    shown = str(source)
    raw = read_file(source, shown=shown)
    loaded = parse_routine(raw, shown)
    expand(loaded)  # the timeline limits are part of "valid"
    name = loaded.routine.name
    folder = library if library is not None else paths.user_routines_dir()
    target = folder / _target_name(Path(source))
    existing = list(library_routines(folder))

    key = name_key(name)
    holders = [(p, n) for p, n in existing if name_key(n) == key and p != target]
    if holders:
        holder, held_name = holders[0]
        if _same_bytes(holder, raw):
            return Added(shown, holder, name, "unchanged")
        if not force:
            raise AddError(
                f"{shown}: a routine named {held_name!r} is already in your library, in "
                f"{holder}. Use --force to replace it, or give this one another name "
                f"(change `name:` in {shown}) and add it again."
            )
        target = holder  # "replace a routine of the same name": where that routine is
    elif _same_bytes(target, raw):
        return Added(shown, target, name, "unchanged")
    elif (target.exists() or target.is_symlink()) and not force:
        held = dict(existing).get(target)
        if held is None:
            what = "a file that is not a valid routine"
        elif name_key(held) == key:
            what = "another version of this routine"
        else:
            what = f"the routine {held!r}"
        raise AddError(
            f"{shown}: {target} is already in your library ({what}). "
            "Use --force to replace it, or rename the file and add it again."
        )

    replacing = target.exists() or target.is_symlink()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if replacing:
            replace_file(target, raw)
        else:
            _write_new(target, raw)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise AddError(f"{shown}: cannot write {target}: {reason}") from None
    return Added(shown, target, name, "replaced" if replacing else "added")


def add_adjustment(
    source: str | Path,
    *,
    force: bool = False,
    folder: Path | None = None,
    library: Path | None = None,
) -> Added:
    """Check an adjustment file and copy it into the person's adjustments folder,
    where it applies to the routine it names whenever that routine runs.

    One adjustment per routine: another file that adjusts the same routine is
    replaced only with ``force`` (and then in its own file).
    """
    from tproutine.routine.adjust import adjust, adjustment_files, load_adjustment, parse_adjustment

    shown = str(source)
    raw = read_file(source, shown=shown)
    adj = parse_adjustment(raw, shown)
    routines = library if library is not None else paths.user_routines_dir()
    for path, name in library_routines(routines):
        if name_key(name) == name_key(adj.routine):
            adjust(load_routine(path), adj)  # its steps and bounds, against that routine
            break
    folder = folder if folder is not None else paths.user_adjustments_dir()
    target = folder / _target_name(Path(source))
    key = name_key(adj.routine)
    for path in adjustment_files(folder):
        try:
            other = load_adjustment(path)
        except LoadError:
            continue
        if name_key(other.routine) != key or path == target:
            continue
        if _same_bytes(path, raw):
            return Added(shown, path, adj.routine, "unchanged")
        if not force:
            raise AddError(
                f"{shown}: {path} already adjusts {other.routine!r}. Use --force to replace "
                "it with this one."
            )
        target = path
        break
    if _same_bytes(target, raw):
        return Added(shown, target, adj.routine, "unchanged")
    if (target.exists() or target.is_symlink()) and not force:
        raise AddError(
            f"{shown}: {target} is already in your adjustments. Use --force to replace it, "
            "or rename the file and add it again."
        )
    replacing = target.exists() or target.is_symlink()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if replacing:
            replace_file(target, raw)
        else:
            _write_new(target, raw)
    except OSError as exc:
        raise AddError(f"{shown}: cannot write {target}: {exc.strerror or exc}") from None
    return Added(shown, target, adj.routine, "replaced" if replacing else "added")

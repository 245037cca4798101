"""Finding a routine the way a person names it: a file, ``-``, or a routine in the library.

``tproutine run low-back`` should not need the path of a file inside
``site-packages``. :func:`find_routine` takes what was typed and returns a
:class:`RoutineRef`:

1. ``-`` is standard input (where the command allows it);
2. an existing file, or anything written as a path (``a/b.yaml``), is that file
   (a missing one is reported by the loader, as ``FILE: no such file``);
3. otherwise the library is searched, the person's own routines and the bundled
   ones: by file stem (``low-back``, or ``low-back.yaml``), then by the routine's
   name (``"Low back release"``, any case), then by every word appearing in the
   stem or the name (``"low back"``). The first rule that matches decides; two
   or more matches under it are ambiguous and listed, never guessed between.

Headless and light (no Textual, no pydantic): ``run``, ``show``, ``export`` and
any other command that takes a routine use it. Names are read from the YAML of
each file only when no file stem matches.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tproutine.frozen import Frozen, set_field
from tproutine.safetext import one_line

STDIN = "-"
STDIN_NAME = "<stdin>"
_SUFFIXES = (".yaml", ".yml")
# How many candidates an ambiguous name lists before "and N more".
_LISTED = 12


# RoutineRef and Candidate are not dataclasses: see ``frozen.py`` (start-up).
class RoutineRef(Frozen):
    """A routine to read: a file, or standard input when ``path`` is None."""

    __slots__ = ("shown", "path")
    shown: str  # the name in messages: the path as typed or found, or "<stdin>"
    path: Path | None

    def __init__(self, shown: str, path: Path | None) -> None:
        set_field(self, "shown", shown)
        set_field(self, "path", path)

    def read(self) -> bytes:
        """The routine's bytes; a :class:`~tproutine.yamlsafe.LoadError` says why not."""
        if self.path is not None:
            from tproutine.routine.quick import read_file

            return read_file(self.path, shown=self.shown)
        return read_stdin(self.shown)


class Candidate(Frozen):
    """A routine file in the library."""

    __slots__ = ("path", "origin", "name")
    path: Path
    origin: str  # "yours" or "bundled"
    name: str | None  # the routine's `name:`, when it was read

    def __init__(self, path: Path, origin: str, name: str | None = None) -> None:
        set_field(self, "path", path)
        set_field(self, "origin", origin)
        set_field(self, "name", name)


class FindError(Exception):
    """No routine, or more than one, answers to what was typed; ``lines`` say which."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))


def library_folders() -> tuple[tuple[Path, str], ...]:
    """The library's folders, the person's own first: (folder, origin)."""
    from tproutine import paths

    return ((paths.user_routines_dir(), "yours"), (paths.bundled_routines_dir(), "bundled"))


def read_stdin(shown: str = STDIN_NAME) -> bytes:
    """A routine from standard input, with the same size limit as a file."""
    from tproutine.yamlsafe import MAX_BYTES, LoadError, Problem

    if sys.stdin is None or sys.stdin.isatty():
        raise LoadError(
            [Problem(shown, 0, 0, "", "nothing is piped in (try: cat FILE | tproutine ... -)")]
        )
    data = sys.stdin.buffer.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        limit = f"more than {MAX_BYTES:,} bytes; the limit is 1 MiB"
        raise LoadError([Problem(shown, 1, 1, "", f"the routine on standard input is {limit}")])
    return data


def _looks_like_a_path(text: str) -> bool:
    return os.sep in text or "/" in text or (os.altsep is not None and os.altsep in text)


def _files(folders: Sequence[tuple[Path, str]]) -> list[Candidate]:
    found: list[Candidate] = []
    for folder, origin in folders:
        try:
            paths = sorted(p for p in folder.iterdir() if p.suffix in _SUFFIXES and p.is_file())
        except OSError:
            continue  # no library of one's own yet
        found.extend(Candidate(p, origin) for p in paths)
    return found


def _with_name(candidate: Candidate) -> Candidate:
    from tproutine.routine.quick import read_file
    from tproutine.yamlsafe import LoadError, load_yaml

    try:
        data = load_yaml(read_file(candidate.path), str(candidate.path)).data
    except LoadError:
        return candidate  # a broken file is still found by its stem
    name = data.get("name") if isinstance(data, dict) else None
    return Candidate(candidate.path, candidate.origin, name if isinstance(name, str) else None)


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def find_routine(
    text: str,
    *,
    stdin: bool = False,
    folders: Sequence[tuple[Path, str]] | None = None,
) -> RoutineRef:
    """What ``text`` names: see the module's rules. Raises :class:`FindError`."""
    if text == STDIN and stdin:
        return RoutineRef(STDIN_NAME, None)
    path = Path(text)
    if text == STDIN or path.exists() or _looks_like_a_path(text):
        return RoutineRef(text, path)
    candidates = _files(library_folders() if folders is None else folders)
    key = _key(text)
    stem_key = key.removesuffix(".yaml").removesuffix(".yml")
    by_stem = [c for c in candidates if c.path.stem.casefold() == stem_key]
    if by_stem:
        return _one(text, by_stem)
    named = [_with_name(c) for c in candidates]
    by_name = [c for c in named if c.name is not None and _key(c.name) == key]
    if by_name:
        return _one(text, by_name)
    words = key.split()
    by_words = [
        c
        for c in named
        if words and all(w in f"{c.path.stem} {c.name or ''}".casefold() for w in words)
    ]
    if by_words:
        return _one(text, by_words)
    raise FindError([_not_found(text, named)])


def _one(text: str, matches: list[Candidate]) -> RoutineRef:
    if len(matches) == 1:
        return RoutineRef(str(matches[0].path), matches[0].path)
    matches = [_with_name(c) if c.name is None else c for c in matches]
    lines = [
        f"{one_line(text)!r} matches {len(matches)} routines; "
        "name one by its file name (first column) or give a path:"
    ]
    width = max(len(c.path.stem) for c in matches[:_LISTED])
    for c in matches[:_LISTED]:
        name = one_line(c.name) if c.name else "(no name)"
        lines.append(f"  {one_line(c.path.stem):<{width}}  {name}  ({c.origin}: {c.path})")
    if len(matches) > _LISTED:
        lines.append(f"  … and {len(matches) - _LISTED} more")
    raise FindError(lines)


def _not_found(text: str, named: list[Candidate]) -> str:
    from tproutine.suggest import suggest

    shown = one_line(text)
    choices = {c.path.stem: c for c in named}
    choices.update({c.name: c for c in named if c.name})
    near = suggest(text, choices)
    hint = (
        f"; did you mean {one_line(choices[near].path.stem)!r}?"
        if near is not None
        else "; `tproutine` lists the library"
    )
    return f"{shown}: no such file, and no routine in your library by that name{hint}"

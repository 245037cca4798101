"""``export``, ``add`` and ``new``: handouts, receiving routines, starting one.

Like ``validate`` and ``show``, these never import Textual, bleak or Bumble.
Exit status: 0 done, 1 invalid input or the work failed (reasons on stderr).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from tproutine.commands.common import find_or_say, print_problems, say
from tproutine.routine.expand import expand
from tproutine.routine.loader import parse_routine
from tproutine.safetext import one_line
from tproutine.yamlsafe import LoadError

EXIT_OK, EXIT_FAIL = 0, 1


def _err(message: str) -> None:
    print(one_line(message), file=sys.stderr)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def export(file: str, fmt: str, output: str | None) -> int:
    from tproutine.share.handout import html_handout, markdown_handout

    ref = find_or_say(file, stdin=True)
    if ref is None:
        return EXIT_FAIL
    try:
        loaded = parse_routine(ref.read(), ref.shown)
        timeline = expand(loaded)
    except LoadError as err:
        print_problems(err)
        return EXIT_FAIL
    file = ref.shown
    render = html_handout if fmt == "html" else markdown_handout
    text = render(loaded, timeline)
    if output is None or output == "-":
        # Bytes, so that a terminal or pipe with a non-UTF-8 locale still gets the
        # handout exactly as a file would.
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:  # a text-only stream (redirected in-process)
            sys.stdout.write(text)
        else:
            sys.stdout.flush()
            buffer.write(text.encode("utf-8"))
            buffer.flush()
        return EXIT_OK
    if _same_file(output, file):
        _err(f"{output}: that is the routine itself; choose another name for the handout")
        return EXIT_FAIL
    try:
        Path(output).write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        _err(f"{output}: cannot write the handout: {exc.strerror or exc}")
        return EXIT_FAIL
    say(f"wrote {output}")
    return EXIT_OK


def add(files: list[str], force: bool) -> int:
    from tproutine.routine.catalogue import is_catalogue
    from tproutine.routine.quick import read_file
    from tproutine.share.library import AddError

    failed = False
    raws: dict[str, bytes] = {}
    for file in files:
        try:
            raws[file] = read_file(file)
        except LoadError:
            raws[file] = b""  # add_routine reports why it cannot be read
    # Step catalogues first: the routines given with them may use their steps.
    catalogues = [f for f in files if is_catalogue(raws[f], f)]
    for file in catalogues + [f for f in files if f not in catalogues]:
        try:
            say(_add_one(file, raws[file], force, catalogue=file in catalogues))
        except LoadError as err:
            print_problems(err)
            failed = True
        except AddError as err:
            _err(str(err))
            failed = True
    return EXIT_FAIL if failed else EXIT_OK


def _add_one(file: str, raw: bytes, force: bool, *, catalogue: bool) -> str:
    """Add one step catalogue, adjustment or routine; what to say about it."""
    from tproutine.commands.routines import is_adjustment_file
    from tproutine.share.catalogues import add_catalogue
    from tproutine.share.library import add_adjustment, add_routine

    if catalogue:
        done = add_catalogue(file, force=force)
        if done.outcome == "unchanged":
            return f"{file}: this step catalogue is already in your steps folder ({done.target})"
        return f"{file}: {done.outcome} the step catalogue {done.name!r} ({done.target})"
    if is_adjustment_file(raw, file):
        done = add_adjustment(file, force=force)
        if done.outcome == "unchanged":
            return f"{file}: this adjustment is already in your library ({done.target})"
        return (
            f"{file}: {done.outcome} an adjustment of {done.name!r} in your library "
            f"({done.target}); it applies whenever that routine runs"
        )
    done = add_routine(file, force=force)
    if done.outcome == "added":
        return f"{file}: added {done.name!r} to your library ({done.target})"
    if done.outcome == "replaced":
        return f"{file}: replaced {done.target} with {done.name!r}"
    return f"{file}: {done.name!r} is already in your library, unchanged ({done.target})"


def new(name: str, output: str | None, steps: str | None = None) -> int:
    from tproutine.share.starter import clean_name, default_filename, starter_routine

    try:
        clean = clean_name(name)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_FAIL
    target = Path(output) if output else Path(default_filename(clean))
    if steps is None:
        text = starter_routine(clean, str(target))
    else:
        from tproutine.share.from_steps import build

        try:
            text = build(clean, str(target), steps)
        except LoadError as err:
            print_problems(err)
            return EXIT_FAIL
        except ValueError as exc:
            _err(str(exc))
            return EXIT_FAIL
    try:
        # "x": never overwrite a routine someone has been working on.
        with open(target, "x", encoding="utf-8", newline="\n") as out:
            out.write(text)
    except FileExistsError:
        _err(f"{target} already exists; choose another file with -o FILE, or move it away first")
        return EXIT_FAIL
    except OSError as exc:
        _err(f"{target}: cannot write it: {exc.strerror or exc}")
        return EXIT_FAIL
    shown = shlex.quote(str(target))
    say(f"wrote {target}: edit it, then check it with `tproutine validate {shown}`")
    return EXIT_OK


def main(args: argparse.Namespace) -> int:
    if args.command == "export":
        return export(args.file, args.format, args.output)
    if args.command == "add":
        return add(args.files, args.force)
    return new(args.name, args.output, args.steps)

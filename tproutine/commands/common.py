"""What every command shares: exit codes and one-line error output."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

# Re-exported: the commands take their exit codes from here with the rest.
from tproutine.commands import EXIT_FAIL as EXIT_FAIL
from tproutine.commands import EXIT_INTERRUPTED as EXIT_INTERRUPTED
from tproutine.commands import EXIT_OK as EXIT_OK
from tproutine.commands import EXIT_USAGE as EXIT_USAGE
from tproutine.safetext import one_line

if TYPE_CHECKING:
    from tproutine.commands.logs import OneLineHandler
    from tproutine.share.find import RoutineRef
    from tproutine.yamlsafe import LoadError


def say(line: str) -> None:
    """One line on stdout, with any control character in it (a file's name, a device's)
    made visible: every line a command prints that echoes what it was given."""
    print(one_line(line), flush=True)


def say_error(line: str, prefix: str = "tproutine") -> None:
    """One line on stderr, named after the program that says it (made safe like :func:`say`)."""
    print(one_line(f"{prefix}: {line}"), file=sys.stderr, flush=True)


def print_problems(err: LoadError) -> None:
    """Every mistake of a file, one ``file:line:col: ...`` line each."""
    for problem in err.problems:
        print(problem, file=sys.stderr, flush=True)


def find_or_say(text: str, *, stdin: bool = False) -> RoutineRef | None:
    """The routine ``text`` names (a file, ``-``, or a routine in the library), or None
    after saying on stderr why there is none (not found, or which ones it could be)."""
    from tproutine.share.find import FindError, find_routine

    try:
        return find_routine(text, stdin=stdin)
    except FindError as err:
        for line in err.lines:
            print(one_line(line), file=sys.stderr)
        return None


def quiet_logging(prefix: str = "tproutine") -> OneLineHandler:
    """Route the package's errors to one-line messages; everything quieter stays out.

    Warnings reach the person through the runtime's own report (once each); only
    errors (a listener that failed, a write that failed twice) come through here.
    Returns the handler, which counts the exceptions it was given.
    """
    # Imported here: `validate` and `show` never log, and logging would cost them
    # a tenth of their start-up.
    import logging

    from tproutine.commands.logs import OneLineHandler

    logger = logging.getLogger("tproutine")
    handler = next((h for h in logger.handlers if isinstance(h, OneLineHandler)), None)
    if handler is None:
        handler = OneLineHandler(prefix)
        logger.addHandler(handler)
    logger.propagate = False
    return handler

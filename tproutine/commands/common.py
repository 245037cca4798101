"""What every command shares: exit codes and one-line error output."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

# Re-exported: the commands take their exit codes from here with the rest.
from tproutine.commands import EXIT_FAIL as EXIT_FAIL
from tproutine.commands import EXIT_INTERRUPTED as EXIT_INTERRUPTED
from tproutine.commands import EXIT_OK as EXIT_OK
from tproutine.commands import EXIT_USAGE as EXIT_USAGE

if TYPE_CHECKING:
    from tproutine.yamlsafe import LoadError


def say_error(line: str, prefix: str = "tproutine") -> None:
    """One line on stderr, named after the program that says it."""
    print(f"{prefix}: {line}", file=sys.stderr, flush=True)


def print_problems(err: LoadError) -> None:
    """Every mistake of a file, one ``file:line:col: ...`` line each."""
    for problem in err.problems:
        print(problem, file=sys.stderr)


def quiet_logging(prefix: str = "tproutine") -> None:
    """Route the package's errors to one-line messages; everything quieter stays out.

    Warnings reach the person through the runtime's own report (once each); only
    errors (a listener that failed, a write that failed twice) come through here.
    """
    # Imported here: `validate` and `show` never log, and logging would cost them
    # a tenth of their start-up.
    import logging

    from tproutine.commands.logs import OneLineHandler

    logger = logging.getLogger("tproutine")
    if not any(isinstance(h, OneLineHandler) for h in logger.handlers):
        logger.addHandler(OneLineHandler(prefix))
    logger.propagate = False

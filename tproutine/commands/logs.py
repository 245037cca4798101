"""Errors from the package's loggers as one line on stderr (see ``common.quiet_logging``)."""

from __future__ import annotations

import contextlib
import logging

from tproutine.commands.common import say_error


class OneLineHandler(logging.Handler):
    """Log errors as one line on stderr (with the exception's message, no traceback)."""

    def __init__(self, prefix: str = "tproutine", level: int = logging.ERROR) -> None:
        super().__init__(level=level)
        self.prefix = prefix
        # Exceptions caught and logged (a listener that failed): bugs, which the command
        # must not end with status 0.
        self.exceptions = 0

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            self.exceptions += 1
            text += f": {record.exc_info[1]}"
        with contextlib.suppress(Exception):
            say_error(text, self.prefix)

"""``--events``: every session event as one JSON object per line, flushed as it happens."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable
from typing import TextIO

from tproutine.engine.events import Event
from tproutine.safetext import dumps

log = logging.getLogger(__name__)


class EventLog:
    """A session listener that writes JSON lines to ``stream``.

    A write that fails (a full disk, a reader that went away) is reported once
    through ``report`` and ends the log; the session itself goes on.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        owned: bool = False,
        report: Callable[[str], None] | None = None,
        name: str = "the event log",
    ) -> None:
        self._stream: TextIO | None = stream
        self._owned = owned
        self._report = report or (lambda line: log.warning("%s", line))
        self.name = name

    @classmethod
    def open(cls, target: str, *, report: Callable[[str], None] | None = None) -> EventLog:
        """``-`` for stdout, else a file path (created or truncated).

        Raises ``OSError`` when the file cannot be opened, so the caller can
        refuse to start rather than run without the log it was asked for.
        """
        if target == "-":
            return cls(sys.stdout, report=report, name="standard output")
        stream = open(target, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
        return cls(stream, owned=True, report=report, name=target)

    def __call__(self, event: Event) -> None:
        if self._stream is None:
            return
        try:
            self._stream.write(dumps(event.to_json()) + "\n")
            # Flushed per event: another process may follow the file as it grows.
            self._stream.flush()
        except (OSError, ValueError) as exc:
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        stream, self._stream = self._stream, None
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        self._report(f"events: stopped writing to {self.name}: {reason}")
        if stream is not None and self._owned:
            with contextlib.suppress(OSError, ValueError):
                stream.close()

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None and self._owned:
            try:
                stream.close()
            except OSError as exc:
                self._report(f"events: could not finish {self.name}: {exc.strerror or exc}")

"""A file's mistakes as one-line problems, without the YAML library.

``yamlsafe`` reads files and raises :class:`LoadError`; commands that only catch
it, or print its problems, import it from here: ``tproutine run FILE`` with a
cached timeline (``routine/timeline_cache.py``) never reads YAML, and importing
PyYAML alone costs it about 20 ms.
"""

from __future__ import annotations

from collections.abc import Sequence

from tproutine.frozen import Frozen, set_field
from tproutine.safetext import one_line

# The largest routine, catalogue or profile file read (1 MiB).
MAX_BYTES = 1024 * 1024


class Problem(Frozen):  # not a dataclass: see ``frozen.py`` (start-up)
    """One mistake in a file, printed as ``file:line:col: path: message``."""

    __slots__ = ("file", "line", "col", "path", "message")
    file: str
    line: int
    col: int
    path: str
    message: str

    def __init__(self, file: str, line: int, col: int, path: str, message: str) -> None:
        set_field(self, "file", file)
        set_field(self, "line", line)
        set_field(self, "col", col)
        set_field(self, "path", path)
        set_field(self, "message", message)

    def __str__(self) -> str:
        # Line 0: a problem of the whole file (missing, unreadable), with no place in it.
        # The file name and any value a message echoes come from other people: one
        # line, every control character shown as a visible token.
        file = one_line(self.file)
        where = f"{file}:{self.line}:{self.col}" if self.line > 0 else file
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return one_line(text)


class LoadError(Exception):
    """A file could not be accepted; ``problems`` lists every mistake found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

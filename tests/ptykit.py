"""A program on a pseudo-terminal, read as it writes: for tests of what a person sees
and types on a real terminal (``run --plain`` keys, questions, terminal modes)."""

from __future__ import annotations

import os
import select
import subprocess
import termios
import time


class Terminal:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, self.slave = os.openpty()
        self.proc = subprocess.Popen(
            args,
            env=env | {"TERM": "xterm"},
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            close_fds=True,
        )
        self.seen = ""

    def expect(self, text: str, timeout: float = 60.0, count: int = 1) -> None:
        """Wait until ``text`` has been written ``count`` times (polling, with a generous
        deadline: a busy machine is slow, never wrong)."""
        deadline = time.monotonic() + timeout
        while self.seen.count(text) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"never saw {text!r} ×{count}; the screen:\n{self.seen}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096).decode("utf-8", "replace")
                except OSError:
                    raise AssertionError(f"the app left before {text!r}:\n{self.seen}") from None

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def finish(self, timeout: float = 60.0) -> int:
        return self.proc.wait(timeout=timeout)

    def mode(self) -> tuple[bool, bool]:
        """(canonical, echo) of the terminal now."""
        lflag = termios.tcgetattr(self.slave)[3]
        return bool(lflag & termios.ICANON), bool(lflag & termios.ECHO)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)

"""``run --plain``: get the device ready before the session's clock starts.

One line says what is being connected and for how long at most; the clock
starts once the device is ready. When it is not ready in time, ``--yes`` (or no
terminal to ask on) says why in one line and runs the routine as a timer; on a
terminal the person chooses: start without it, try again, or not start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable
from typing import TextIO

from tproutine.runtime import Runtime
from tproutine.safetext import one_line

QUESTION = "Start without the device, as a timer? [Y]es, [r] try again, [n]o: "


async def ask_line(prompt: str, stream: TextIO, fd: int | None = None) -> str | None:
    """One line typed on the terminal, read without blocking the event loop (so a
    signal is handled at once); None at the end of input."""
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno() if fd is None else fd
    stream.write(prompt)
    stream.flush()
    answer: asyncio.Future[str | None] = loop.create_future()
    typed = bytearray()

    def readable() -> None:
        try:
            data = os.read(fd, 1024)
        except OSError:
            data = b""
        if answer.done():
            return
        if not data:
            answer.set_result(None)
            return
        typed.extend(data)
        if b"\n" in typed:
            line = typed.split(b"\n", 1)[0]
            answer.set_result(line.decode("utf-8", "replace").strip())

    loop.add_reader(fd, readable)
    try:
        return await answer
    finally:
        loop.remove_reader(fd)


async def connect_first(
    rt: Runtime,
    timeout: float,
    *,
    say: Callable[[str], None],
    err: Callable[[str], None],
    ask: TextIO | None,
) -> bool:
    """Connect the runtime's device before its session starts; whether to start.

    ``say`` prints a line of the session's text, ``err`` one line on stderr;
    ``ask`` is where to ask the person when the device is not ready (None: do not
    ask, go on as a timer).
    """
    text = rt.connecting_text(timeout)
    if text is None:
        return True
    while True:
        say(one_line(text))
        reason = await rt.connect_device(timeout)
        if reason is None:
            return True
        reason = one_line(reason)
        if ask is None:
            err(f"device: {reason}; running as a timer only")
            return True
        ask.write(f"The device is not ready: {reason}\n")
        while True:
            answer = await ask_line(QUESTION, ask)
            if answer is None:
                return False
            choice = answer.lower()[:1]
            if choice in ("", "y"):
                return True
            if choice == "n":
                return False
            if choice == "r":
                break
            with contextlib.suppress(OSError, ValueError):
                ask.write("Please type y, r or n.\n")

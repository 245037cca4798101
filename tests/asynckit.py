"""Waiting for conditions and finding leaked tasks, for tests on a real event loop.

Shared by the simulator's tests and the device controller's: both run real
asyncio I/O on the virtual radio, so they wait (briefly, with a deadline) for
conditions rather than sleeping fixed amounts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest


async def eventually(condition: Callable[[], object], timeout: float, what: str = "") -> None:
    """Wait until ``condition()`` is true, yielding to the loop; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    spins = 0
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or condition}")
        # Most conditions need only a few loop iterations; only then pay for timers.
        spins += 1
        await asyncio.sleep(0 if spins < 50 else 0.001)


def leaks(loop: asyncio.AbstractEventLoop, baseline: set[asyncio.Task[Any]]) -> list[str]:
    """Tasks still pending (beyond ``baseline`` and the caller) and timers still armed."""
    current = asyncio.current_task()
    found = [
        f"task {task!r}"
        for task in asyncio.all_tasks(loop)
        if task not in baseline and task is not current and not task.done()
    ]
    # The loop's timer heap and ready queue are private but stable across
    # CPython versions. A timer that is due sits in the ready queue until it
    # runs (and re-arms itself), so both are searched; cancelled handles stay
    # in the heap until the loop sweeps them.
    for handle in [*getattr(loop, "_scheduled", []), *getattr(loop, "_ready", [])]:
        if isinstance(handle, asyncio.TimerHandle) and not handle.cancelled():
            found.append(f"timer {handle!r}")
    return found

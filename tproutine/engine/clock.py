"""Clocks for the session engine: a real monotonic one and a fake one for tests.

A clock gives ``now()`` in seconds on its own monotonic scale (the session keeps
its own origin) and ``sleep_until(deadline)`` on that same scale. Deadlines are
absolute: the engine never adds sleeps together, so whatever latency one wake-up
has is not carried into the next one and an hour-long routine ends on time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What the session needs from time."""

    def now(self) -> float:
        """Monotonic seconds on this clock's scale (not tied to any session)."""

    async def sleep_until(self, deadline: float) -> None:
        """Return once ``now() >= deadline`` (at once when it already is)."""


class RealClock:
    """``time.monotonic()``, optionally running ``speed`` times faster.

    At ``speed=10`` ``now()`` advances ten units per wall second, so a 60 s hold
    takes 6 s of wall time while the session clock still counts 60.
    """

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be above 0, not {speed!r}")
        self.speed = speed
        self._origin = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._origin) * self.speed

    def monotonic_at(self, t: float) -> float:
        """The ``time.monotonic()`` value at which ``now()`` reaches ``t``."""
        return self._origin + t / self.speed

    async def sleep_until(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        # Loop until the deadline has really passed: the loop's timer may wake a
        # hair early, and converting between scales can lose the last bit.
        while True:
            delay = self.monotonic_at(deadline) - time.monotonic()
            if delay <= 0:
                return
            waiter: asyncio.Future[None] = loop.create_future()
            # call_at on the loop's own clock rather than asyncio.sleep(delay):
            # same thing today, but it states that the target is a point in time.
            handle = loop.call_at(loop.time() + delay, _resolve, waiter)
            try:
                await waiter
            finally:
                handle.cancel()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class FakeClock:
    """A clock that moves only when a test moves it; nothing really sleeps.

    ``await clock.advance(s)`` (or ``await clock.set(t)``) walks through every
    pending deadline up to the target in order, setting ``now()`` to exactly that
    deadline, waking its sleepers and letting the event loop settle before going
    on, so a sleeper that schedules a new, earlier deadline is woken in turn.
    """

    # How many event-loop turns to give woken tasks at each step. A woken session
    # needs a handful (future -> task -> asyncio.wait -> task); this is generous.
    SETTLE_ROUNDS = 30

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._seq), fut))
        await fut  # a cancelled sleeper stays in the heap and is skipped when reached

    @property
    def pending(self) -> list[float]:
        """Deadlines that somebody is sleeping towards, earliest first."""
        return sorted(d for d, _, f in self._sleepers if not f.done())

    async def settle(self) -> None:
        """Let every task that can run, run (no time passes)."""
        for _ in range(self.SETTLE_ROUNDS):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go back")
        await self.set(self._now + seconds)

    async def set(self, t: float) -> None:
        if t < self._now:
            raise ValueError("a monotonic clock cannot go back")
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= t:
            deadline = self._sleepers[0][0]
            self._now = max(self._now, deadline)
            while self._sleepers and self._sleepers[0][0] <= deadline:
                _, _, fut = heapq.heappop(self._sleepers)
                _resolve(fut)
            await self.settle()
        self._now = t
        await self.settle()

    async def run_until_idle(self, limit: float = 1e9) -> None:
        """Jump from deadline to deadline until nobody sleeps (or ``limit`` is hit)."""
        await self.settle()
        while True:
            live = self.pending
            if not live or live[0] > limit:
                return
            await self.set(live[0])

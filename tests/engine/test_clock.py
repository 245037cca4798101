"""The clocks: the fake one steps deterministically; the real one honours speed."""

from __future__ import annotations

import asyncio
import time

import pytest

from tproutine.engine.clock import Clock, FakeClock, RealClock


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(FakeClock(), Clock)
    assert isinstance(RealClock(), Clock)


async def test_fake_clock_wakes_each_sleeper_at_exactly_its_deadline_in_order() -> None:
    clock = FakeClock(10.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, deadline: float) -> None:
        await clock.sleep_until(deadline)
        woke.append((name, clock.now()))

    tasks = [
        asyncio.create_task(sleeper("c", 13.0)),
        asyncio.create_task(sleeper("a", 11.0)),
        asyncio.create_task(sleeper("b", 12.5)),
        asyncio.create_task(sleeper("late", 100.0)),
    ]
    await clock.settle()
    assert clock.pending == [11.0, 12.5, 13.0, 100.0]
    await clock.advance(5.0)
    assert woke == [("a", 11.0), ("b", 12.5), ("c", 13.0)]
    assert clock.now() == 15.0
    assert clock.pending == [100.0]
    tasks[-1].cancel()
    await clock.settle()
    assert clock.pending == []
    await clock.set(200.0)  # the cancelled sleeper is skipped, nothing breaks
    assert woke == [("a", 11.0), ("b", 12.5), ("c", 13.0)]


async def test_fake_clock_wakes_sleepers_that_appear_while_advancing() -> None:
    clock = FakeClock()
    ticks: list[float] = []

    async def ticker() -> None:
        deadline = 0.0
        for _ in range(5):
            deadline += 1.0
            await clock.sleep_until(deadline)
            ticks.append(clock.now())

    task = asyncio.create_task(ticker())
    await clock.advance(10.0)
    await task
    assert ticks == [1.0, 2.0, 3.0, 4.0, 5.0]


async def test_fake_clock_returns_at_once_for_a_past_deadline() -> None:
    clock = FakeClock(5.0)
    await clock.sleep_until(5.0)
    await clock.sleep_until(1.0)
    assert clock.pending == []


async def test_fake_clock_refuses_to_go_back() -> None:
    clock = FakeClock(5.0)
    with pytest.raises(ValueError):
        await clock.set(4.0)
    with pytest.raises(ValueError):
        await clock.advance(-1.0)


async def test_fake_clock_never_sleeps_for_real() -> None:
    clock = FakeClock()
    started = time.monotonic()
    task = asyncio.create_task(clock.sleep_until(86_400.0))
    await clock.run_until_idle()
    await task
    assert clock.now() == 86_400.0
    assert time.monotonic() - started < 30.0  # a day of clock time, no wall time to speak of


def _bracketed(clock: RealClock) -> tuple[float, float, float]:
    """``clock.now()`` between two readings of ``time.monotonic()``."""
    before = time.monotonic()
    now = clock.now()
    return before, now, time.monotonic()


def test_real_clock_runs_at_its_speed() -> None:
    # Bracketed readings, so that the checks hold however long the process is paused
    # between two lines (a busy machine): no tolerance is needed.
    clock = RealClock(speed=50.0)
    b0, t0, a0 = _bracketed(clock)
    time.sleep(0.02)
    b1, t1, a1 = _bracketed(clock)
    eps = 1e-6
    assert (b1 - a0) * 50.0 - eps <= t1 - t0 <= (a1 - b0) * 50.0 + eps
    assert t1 - t0 >= 0.02 * 50.0 - eps
    for before, now, after in ((b0, t0, a0), (b1, t1, a1)):
        assert before - eps <= clock.monotonic_at(now) <= after + eps


async def test_real_clock_sleeps_until_an_absolute_deadline() -> None:
    clock = RealClock(speed=100.0)
    deadline = clock.now() + 2.0  # 20 ms of wall time
    started = time.monotonic()
    await clock.sleep_until(deadline)
    assert clock.now() >= deadline  # never early
    assert 0.019 <= time.monotonic() - started < 30.0  # and it returns (honest slack)
    # A deadline already past returns without waiting for anything: the coroutine
    # finishes at its first step.
    past = clock.sleep_until(deadline - 1.0)
    with pytest.raises(StopIteration):
        past.send(None)


def test_real_clock_refuses_a_bad_speed() -> None:
    with pytest.raises(ValueError):
        RealClock(speed=0.0)

"""The leak check can fail, the benchmark measures, and Bumble stays off the normal paths."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys

import pytest

from tproutine.devices.sim.bench import write_round_trip

from .conftest import leaks


async def test_the_leak_check_sees_tasks_and_timers() -> None:
    loop = asyncio.get_running_loop()
    baseline = set(asyncio.all_tasks(loop))
    assert leaks(loop, baseline) == []
    task = asyncio.ensure_future(asyncio.Event().wait())
    timer = loop.call_later(3600, lambda: None)
    found = leaks(loop, baseline)
    task.cancel()
    timer.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert [item.split()[0] for item in found] == ["task", "timer"]
    assert leaks(loop, baseline) == []


async def test_the_leak_check_sees_a_timer_that_is_due() -> None:
    # A due timer moves from the heap to the ready queue just before it runs
    # (and re-arms, for a periodic one): the check must look there too, or a
    # 20 ms advertising timer slips through now and then.
    loop = asyncio.get_running_loop()
    baseline = set(asyncio.all_tasks(loop))
    fired: list[bool] = []
    loop.call_later(0, fired.append, True)
    await asyncio.sleep(0)  # resumes in the loop pass that moved the timer to the ready queue
    assert not fired
    assert [item.split()[0] for item in leaks(loop, baseline)] == ["timer"]
    await asyncio.sleep(0)
    assert fired == [True]
    assert leaks(loop, baseline) == []


@pytest.mark.parametrize("transport", ["local", "tcp"])
async def test_write_round_trip_measures_each_write(transport: str) -> None:
    times = await write_round_trip(20, transport, separate_process=False)  # type: ignore[arg-type]
    assert len(times) == 20
    assert all(0 < t < 0.1 for t in times)


async def test_write_round_trip_validates_its_arguments() -> None:
    with pytest.raises(ValueError):
        await write_round_trip(0)
    with pytest.raises(ValueError):
        await write_round_trip(1, "radio")  # type: ignore[arg-type]


def test_bumble_logs_stay_off_stderr() -> None:
    logger = logging.getLogger("bumble")
    assert logger.propagate is False
    assert logger.handlers


def test_the_devices_package_does_not_import_bumble() -> None:
    # Bumble costs about 0.4 s at start-up and only the simulator needs it.
    code = (
        "import sys, tproutine.devices\n"
        "assert 'bumble' not in sys.modules, 'tproutine.devices imported bumble'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)

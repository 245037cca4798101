"""Every stop path of docs/devices.md, on BlueZ.

The app is ``tproutine run --plain --adapter system`` (keys through a
pseudo-terminal, signals from here) or a small script on the same runtime (an
exception in the app). Each test reads the massager's log: the motor ran, then
the last write before the disconnect decodes as a stop and nothing follows it.
"""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bluez.vmkit import (
    OnAir,
    disconnected,
    finish,
    motor_on,
    motor_writes,
    routine_file,
    tproutine,
)
from tests.devices.test_stop_paths import assert_log_stopped_before_disconnect

ROUTINE = """\
format: tproutine/1
name: Stop paths
summary: A long massage that drives the device.
get_ready: 2s
steps:
  - massage: Calf with the gun
    duration: 120s
    device: {intensity: 40%}
  - hold: Press
    duration: 10s
"""

SHORT = """\
format: tproutine/1
name: Ends
summary: A short massage, then the end.
get_ready: 2s
steps:
  - massage: Calf
    duration: 5s
    device: {intensity: 40%}
"""


@pytest.fixture
def routine(tmp_path: Path) -> Path:
    return routine_file(tmp_path, ROUTINE)


def run_args(routine: Path, air: OnAir) -> list[str]:
    return ["run", str(routine), "--plain", "--yes", "--adapter", "system", "--device", air.address]


def test_the_routine_ends(air: OnAir, tmp_path: Path) -> None:
    code, out, err = finish(tproutine(run_args(routine_file(tmp_path, SHORT), air), tmp_path))
    assert code == 0, (out, err)
    # The massager logs the disconnect when the kernel's word reaches it, which
    # may be a moment after the app has gone.
    assert_log_stopped_before_disconnect(air.wait_for(disconnected, "the disconnect"))


@pytest.mark.parametrize(
    ("sig", "code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 1), (signal.SIGHUP, 1)],
    ids=["ctrl-c", "sigterm", "sighup"],
)
def test_a_signal(
    air: OnAir, routine: Path, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    process = tproutine(run_args(routine, air), tmp_path)
    air.wait_for(motor_on, "the motor running")
    process.send_signal(sig)
    returncode, out, err = finish(process)
    assert returncode == code, (out, err)
    assert "Traceback" not in err, err
    assert_log_stopped_before_disconnect(air.wait_for(disconnected, "the disconnect"))


class Terminal:
    """The app on a pseudo-terminal: keys as a person types them."""

    def __init__(self, args: list[str], tmp: Path) -> None:
        self.master, slave = pty.openpty()
        self.process = tproutine(args, tmp, stdin=slave, stdout=subprocess.PIPE)
        os.close(slave)

    def press(self, key: str) -> None:
        os.write(self.master, key.encode())

    def quit(self) -> None:
        """``q`` asks whether to end the session (pausing it); ``y`` ends it."""
        self.press("q")
        self.press("y")

    def close(self) -> tuple[int, str, str]:
        try:
            return finish(self.process)
        finally:
            os.close(self.master)


@pytest.fixture
def terminal(air: OnAir, routine: Path, tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(run_args(routine, air), tmp_path)
    try:
        yield term
    finally:
        if term.process.poll() is None:
            term.process.kill()
            term.close()


def test_pause_stops_the_motor_and_resume_restarts_it(air: OnAir, terminal: Terminal) -> None:
    air.wait_for(motor_on, "the motor running")
    since = air.mark()
    terminal.press(" ")
    paused = air.wait_for(
        lambda r: any(w["kind"] == "stop" for w in motor_writes(r)), "the stop on pause", since
    )
    assert not disconnected(paused), paused  # paused, still connected
    since = air.mark()
    terminal.press(" ")
    air.wait_for(motor_on, "the motor on again after resuming", since)
    terminal.quit()
    code, out, err = terminal.close()
    assert code == 0, (out, err)
    assert_log_stopped_before_disconnect(air.wait_for(disconnected, "the disconnect"))


def test_s_stops_the_motor_and_keeps_it_off(air: OnAir, terminal: Terminal) -> None:
    air.wait_for(motor_on, "the motor running")
    since = air.mark()
    terminal.press("s")
    air.wait_for(
        lambda r: any(w["kind"] == "stop" for w in motor_writes(r)), "the emergency stop", since
    )
    # The step still asks for 40 %; the stop holds until `s` again. The worker
    # would have written within 0.1 s; give it many times that.
    held = air.mark()
    air.holds(lambda r: not motor_on(r), 3.0, "the motor off while stopped", held)
    terminal.press("s")
    air.wait_for(motor_on, "the motor on again after `s` again", held)
    terminal.quit()
    code, out, err = terminal.close()
    assert code == 0, (out, err)
    assert_log_stopped_before_disconnect(air.wait_for(disconnected, "the disconnect"))


SCRIPT = """\
import asyncio, sys

from tproutine.devices.controller import DeviceController
from tproutine.routine import load_timeline
from tproutine.runtime import build_runtime

address, routine, mode = sys.argv[1], sys.argv[2], sys.argv[3]


def make():
    controller = DeviceController("system", address)
    rt = build_runtime(load_timeline(routine), history=False, voice=False, device=controller)
    return controller, rt


async def until_running(controller, rt):
    task = asyncio.ensure_future(rt.run())
    while not controller.status.running:
        await asyncio.sleep(0.05)
    return task


async def main():
    controller, rt = make()
    async with rt:
        await until_running(controller, rt)
        raise RuntimeError("a bug in the app")


if mode == "excepthook":
    # An app that drives its own loop and leaves it open: only the process-wide
    # hook can still stop the motor.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    controller, rt = make()
    loop.run_until_complete(until_running(controller, rt))
    raise RuntimeError("a bug in the app")
asyncio.run(main())
"""


@pytest.mark.parametrize("mode", ["in-the-runtime", "excepthook"])
def test_an_exception_in_the_app(air: OnAir, routine: Path, tmp_path: Path, mode: str) -> None:
    script = tmp_path / "app.py"
    script.write_text(SCRIPT, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(script), air.address, str(routine), mode],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    code, out, err = finish(process)
    assert code == 1, (out, err)
    assert "RuntimeError: a bug in the app" in err, err
    assert_log_stopped_before_disconnect(air.wait_for(disconnected, "the disconnect"))


def test_sigkill_the_guardian_stops_the_motor(air: OnAir, routine: Path, tmp_path: Path) -> None:
    """kill -9: nothing in the app runs; its guardian process writes the stop.

    Without a guardian (before issue 10's item 4) this is what happened on
    BlueZ: the link belongs to bluetoothd, so it stayed up after the process
    was gone, the device heard nothing and ran on. The guardian writes on that
    same link. The target is a stop within 2 s (measured by the benchmarks on
    the host); here, under emulation, the time is printed and bounded loosely.
    """
    process = tproutine(run_args(routine, air), tmp_path)
    air.wait_for(motor_on, "the motor running")
    since = air.mark()
    process.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    finish(process)
    records = air.wait_for(
        lambda r: any(w["kind"] == "stop" for w in motor_writes(r)),
        "the guardian's stop after kill -9",
        since,
    )
    stop = next(w for w in motor_writes(records) if w["kind"] == "stop")
    # The massager's log and this process share the clock (the radio runs here).
    print(f"kill -9 to the stop at the device: {stop['mono'] - killed:.2f} s", flush=True)
    assert not motor_on(records[records.index(stop) :]), records
    assert not air.massager.running

"""Devices that misbehave: one line, and the routine goes on as a timer.

A real ``tproutine sim --fault ...`` process plays a device that advertises but
refuses every connection, one that drops the link when service discovery
starts, and one whose write characteristic is missing; a real ``tproutine run
--plain`` process meets each, with the device connected before the clock
(the default) and while the clock runs (``--connect-timeout 0``). What is
checked is what the person sees (one line on stderr, the whole routine on
stdout, never a traceback) and what the device saw (its log), never how fast.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .simproc import TIMEOUT, env, read, run, sim_process

SHORT = """\
format: tproutine/1
name: Calf release
get_ready: 0s
steps:
  - massage: Calf
    duration: 4s
    device: {intensity: 40%}
"""

LONG = SHORT.replace("duration: 4s", "duration: 10m")

# What the one line says, by fault (the rest of it names the device and the
# tries; the line always ends with what happens next).
SAYS = {
    "refuse": "device: could not connect to tproutine-massager: ",
    "drop-on-discovery": "device: could not connect to tproutine-massager: ",
    "no-write": (
        "device: tproutine-massager has no write characteristic 7470726f-… in its service, "
        "so it cannot be driven (another model or firmware than the profile "
        "tproutine-virtual describes?)"
    ),
}
TIMER = "; running as a timer only"


def what_the_device_saw(fault: str, log: Path) -> None:
    records = read(log)
    kinds = [r["event"] for r in records]
    # Whatever happened, nothing was ever written to the motor.
    assert "write" not in kinds, records
    if fault == "refuse":
        assert kinds and set(kinds) == {"refused"}, kinds
    elif fault == "drop-on-discovery":
        assert kinds[:2] == ["connect", "disconnect"] and records[1]["reason"] == 8, records
    else:
        # Connected, looked, and left at once: a missing characteristic is not retried.
        assert kinds == ["connect", "disconnect"], records


@pytest.mark.parametrize("fault", ["refuse", "drop-on-discovery", "no-write"])
def test_a_faulty_device_before_the_clock_is_one_line_then_a_timer(
    fault: str, tmp_path: Path
) -> None:
    routine = tmp_path / "calf.yaml"
    routine.write_text(SHORT)
    with sim_process(tmp_path, "--fault", fault) as (port, log):
        done = run(tmp_path, str(routine), "--plain", "--yes", "--speed", "4",
                   "--adapter", f"tcp:127.0.0.1:{port}", "--connect-timeout", "3")  # fmt: skip
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"tproutine: {SAYS[fault]}") and line.endswith(TIMER), line
    out = done.stdout.splitlines()
    assert out[1].startswith("Connecting to the first device a profile knows")
    assert out[-1].startswith("00:04  Routine complete · Calf release · 1 of 1"), out
    what_the_device_saw(fault, log)


def read_line(stream: int, deadline: float) -> str:
    """One line from a pipe's file descriptor, waiting until ``deadline`` at most."""
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([stream], [], [], max(left, 0))
        if not ready:
            raise AssertionError(f"no line before the deadline (so far: {data!r})")
        chunk = os.read(stream, 1)
        if not chunk:
            raise AssertionError(f"the stream ended (so far: {data!r})")
        data += chunk
    return data.decode()


@pytest.mark.parametrize("fault", ["refuse", "drop-on-discovery", "no-write"])
def test_a_faulty_device_met_while_the_clock_runs_is_one_line_and_the_routine_goes_on(
    fault: str, tmp_path: Path
) -> None:
    routine = tmp_path / "calf.yaml"
    routine.write_text(LONG)
    with sim_process(tmp_path, "--fault", fault) as (port, log):
        app = subprocess.Popen(
            [sys.executable, "-m", "tproutine", "run", str(routine), "--plain", "--yes",
             "--adapter", f"tcp:127.0.0.1:{port}", "--connect-timeout", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env(tmp_path),
        )  # fmt: skip
        assert app.stderr is not None
        try:
            line = read_line(app.stderr.fileno(), time.monotonic() + TIMEOUT)
            # The session is still running: the person ends it, as they would.
            assert app.poll() is None
            app.send_signal(signal.SIGINT)
            out, err = app.communicate(timeout=TIMEOUT)
        finally:
            if app.poll() is None:
                app.kill()
                app.wait()
    assert line.startswith(f"tproutine: {SAYS[fault]}") and line.rstrip().endswith(TIMER), line
    assert app.returncode == 130 and err == b"", err
    assert b"Massage \xc2\xb7 Calf \xc2\xb7 10m" in out
    what_the_device_saw(fault, log)


def test_an_unknown_fault_is_refused(tmp_path: Path) -> None:
    from tproutine.devices.sim.massager import VirtualMassager

    with pytest.raises(ValueError, match="fault is one of refuse, drop-on-discovery, no-write"):
        VirtualMassager(fault="explode")  # type: ignore[arg-type]
    done = subprocess.run(
        [sys.executable, "-m", "tproutine", "sim", "--fault", "explode"],
        capture_output=True, text=True, env=env(tmp_path), timeout=TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 2 and "--fault: invalid choice: 'explode'" in done.stderr

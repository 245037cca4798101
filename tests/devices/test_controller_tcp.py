"""Fault injection across processes: ``tproutine sim --drop-every --garbage`` and ``run``.

The simulator drops every connection a while after it was made and sends
malformed notifications now and then; the routine must go on, reconnect each
time, and restore the level the session wants at that moment (a ramp has moved
on meanwhile), all read from the two processes' logs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tproutine.devices.codec import percent_to_level

from .simkit import profile

TIMEOUT = 60.0

# 60 s of ramp at speed 10: 6 s of wall time, with a drop every 1.5 s.
ROUTINE = """\
format: tproutine/1
name: Faults
summary: A ramp while the link keeps dropping.
get_ready: 5s
steps:
  - massage: Ramp
    duration: 60s
    device: {ramp: [20%, 80%]}
"""


def env(tmp: Path) -> dict[str, str]:
    out = dict(os.environ)
    out["XDG_DATA_HOME"] = str(tmp / "data")
    out["XDG_CONFIG_HOME"] = str(tmp / "config")
    return out


@pytest.fixture
def faulty_sim(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    log = tmp_path / "sim.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "tproutine", "sim", "--port", "0", "--log", str(log),
         "--drop-every", "1.5", "--garbage"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(tmp_path),
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on" in line, line
    try:
        yield int(line.rsplit(":", 1)[1]), log
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(TIMEOUT)


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_drops_and_garbage_the_routine_goes_on_and_the_level_is_restored(
    faulty_sim: tuple[int, Path], tmp_path: Path
) -> None:
    port, sim_log = faulty_sim
    routine = tmp_path / "faults.yaml"
    routine.write_text(ROUTINE)
    events_path = tmp_path / "events.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "tproutine", "run", str(routine), "--plain", "--yes",
         "--adapter", f"tcp:127.0.0.1:{port}", "--speed", "10", "--events", str(events_path)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env(tmp_path),
        timeout=TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Routine complete" in done.stdout
    events = read(events_path)
    sim = read(sim_log)

    # The link was lost mid-ramp, more than once, and came back each time.
    lost = [e for e in events if e["event"] == "device" and e.get("reason") == "link lost"]
    back = [e for e in events if e["event"] == "device" and e["action"] == "reconnect"]
    ramp = next(e for e in events if e["event"] == "segment_start" and e["kind"] == "massage")
    ramp_end = next(e for e in events if e["event"] == "segment_end" and e["index"] == 1)
    during = [e for e in back if ramp["t"] < e["t"] < ramp_end["t"] - 0.5]
    assert len(lost) >= 2 and len(during) >= 2, events
    assert sum(1 for r in sim if r["event"] == "disconnect" and r["reason"] == 8) >= 2

    # After each reconnect, the first level written is the ramp's level at the moment it
    # was decided: between the reconnect and the write (the ramp only rises; a busy
    # machine may take a while in between). Both logs share time.monotonic().
    p = profile()

    def level_at(t: float) -> int:
        return percent_to_level(p, min(20 + 60 * (t - ramp["t"]) / 60, 80))[0]

    for reconnect in during:
        first = next(r for r in sim if r["event"] == "write" and r["mono"] > reconnect["mono"])
        written_t = reconnect["t"] + (first["mono"] - reconnect["mono"]) * 10  # --speed 10
        low, high = level_at(reconnect["t"]), level_at(written_t)
        assert first["kind"] == "set" and low - 1 <= first["level"] <= high + 1, (first, low, high)

    # Garbage went out, and none of it was taken for a change made on the device.
    assert not [e for e in events if e["event"] == "device" and e.get("by") == "device"]
    end = next(e for e in events if e["event"] == "segment_end" and e["index"] == 1)
    assert end["manual_changes"] == 0 and 0 < end["motor_s"] < 60
    # And the session ended with the stop before the last disconnect.
    last_disconnect = max(i for i, r in enumerate(sim) if r["event"] == "disconnect")
    writes = [r for r in sim[:last_disconnect] if r["event"] == "write"]
    assert writes[-1]["kind"] == "stop"

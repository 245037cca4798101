"""Helpers for tests that run the real processes: ``tproutine sim`` and ``tproutine run``.

Each process gets its own data and config folders under the test's temporary
folder. Conditions on the simulator's log are polled with generous deadlines
(the machine may be very busy), never waited for with fixed sleeps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

TIMEOUT = 60.0

Records = list[dict[str, Any]]


def env(tmp: Path) -> dict[str, str]:
    out = dict(os.environ)
    out["XDG_DATA_HOME"] = str(tmp / "data")
    out["XDG_CONFIG_HOME"] = str(tmp / "config")
    out["PYTHONUNBUFFERED"] = "1"
    return out


def read(path: Path) -> Records:
    """The JSON lines written so far (a line being written is left for the next read)."""
    if not path.exists():
        return []
    records = []
    for text in path.read_text().splitlines():
        try:
            records.append(json.loads(text))
        except ValueError:
            break
    return records


def wait_log(
    path: Path, ok: Callable[[Records], bool], what: str, timeout: float = TIMEOUT
) -> Records:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = read(path)
        if ok(records):
            return records
        time.sleep(0.02)
    pytest.fail(f"the simulator log never showed {what}: {read(path)}")


@contextmanager
def sim_process(tmp: Path, *args: str) -> Iterator[tuple[int, Path]]:
    """A ``tproutine sim`` process on a free port with a log: ``(port, log)``."""
    log = tmp / "sim.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "tproutine", "sim", "--port", "0", "--log", str(log), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(tmp),
    )  # fmt: skip
    assert process.stdout is not None
    try:
        ready = process.stdout.readline()
        assert "listening on" in ready, (ready, process.stderr and process.stderr.read())
        yield int(ready.rsplit(":", 1)[1]), log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.communicate(timeout=TIMEOUT)


def run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``tproutine run ARGS`` to its end, no terminal on stdin."""
    return subprocess.run(
        [sys.executable, "-m", "tproutine", "run", *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env(tmp), timeout=TIMEOUT,
    )  # fmt: skip

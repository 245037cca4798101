"""``tproutine run --plain`` connects before the clock starts: a real ``tproutine sim``
process, a real ``run`` process, read through both logs.

What is checked is the order of things (the device was connected before the first
step began; nothing connects after the person went on without it), never how fast
the machine is: the numbers are ``bench/bench_devices.py``'s.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import ptykit
from tproutine.history.store import HistoryStore

from .simproc import TIMEOUT, env, read, run, sim_process

FIRST_STEP_ON = """\
format: tproutine/1
name: First step on
get_ready: 0s
steps:
  - massage: Calf
    duration: 10s
    device: {intensity: 40%}
  - hold: Press
    duration: 4s
"""


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    with sim_process(tmp_path_factory.mktemp("sim")) as found:
        yield found


@pytest.fixture
def routine(tmp_path: Path) -> Path:
    path = tmp_path / "first.yaml"
    path.write_text(FIRST_STEP_ON)
    return path


def test_the_device_is_connected_before_the_first_step_begins(
    sim: tuple[int, Path], routine: Path, tmp_path: Path
) -> None:
    port, sim_log = sim
    since = len(read(sim_log))
    events_path = tmp_path / "events.jsonl"
    done = run(tmp_path, str(routine), "--plain", "--yes", "--adapter", f"tcp:127.0.0.1:{port}",
               "--speed", "10", "--events", str(events_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = done.stdout.splitlines()
    connecting = f"Connecting to the first device a profile knows on the simulator at 127.0.0.1:{port} (up to 10 s)…"  # noqa: E501
    assert out[1] == connecting, out  # after the preview note, before the routine starts
    assert out[2].endswith("First step on · 14s · 2 segments")
    events = read(events_path)
    assert [e["event"] for e in events[:3]] == ["session_start", "device", "segment_start"]
    assert events[1]["action"] == "connect" and events[2]["due"] == 0
    # On the simulator's side: connected (and the motor made sure off) before the
    # step began; the step's own command is the first write after it.
    seen = read(sim_log)[since:]
    step = events[2]["mono"]
    before = [r for r in seen if r["mono"] < step]
    assert [r["event"] for r in before] == ["connect", "write"] and before[1]["kind"] == "stop"
    first = next(r for r in seen if r["event"] == "write" and r["mono"] >= step)
    assert first["kind"] == "set" and first["level"] == 8


def test_a_device_that_is_not_there_is_one_line_and_a_timer(
    sim: tuple[int, Path], routine: Path, tmp_path: Path
) -> None:
    port, sim_log = sim
    since = len(read(sim_log))
    done = run(tmp_path, str(routine), "--plain", "--yes", "--adapter", f"tcp:127.0.0.1:{port}",
               "--device", "Nope-1", "--connect-timeout", "1", "--speed", "20")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f'tproutine: device: "Nope-1" was not found within 1 s on the simulator at '
        f"127.0.0.1:{port}; running as a timer only"
    ]
    assert 'Connecting to "Nope-1" on the simulator' in done.stdout
    assert "Routine complete" in done.stdout and "Traceback" not in done.stderr
    # The virtual massager was there all along, under another name: never touched.
    assert not [r for r in read(sim_log)[since:] if r["event"] == "connect"]


def test_ctrl_c_while_connecting_ends_at_once_and_records_nothing(
    sim: tuple[int, Path], routine: Path, tmp_path: Path
) -> None:
    port, _log = sim
    process = subprocess.Popen(
        [sys.executable, "-m", "tproutine", "run", str(routine), "--plain", "--yes",
         "--adapter", f"tcp:127.0.0.1:{port}", "--device", "Nope-2", "--connect-timeout", "120"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env(tmp_path),
    )  # fmt: skip
    assert process.stdout is not None
    try:
        line = process.stdout.readline()
        assert line.startswith('Connecting to "Nope-2"'), line
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, (out, err)
    assert "Traceback" not in err and "First step on ·" not in out
    with HistoryStore.open(tmp_path / "data" / "tproutine" / "history.sqlite3") as store:
        assert store.sessions() == []


class Terminal(ptykit.Terminal):
    """``tproutine run ARGS`` on a pseudo-terminal."""

    def __init__(self, tmp: Path, *args: str) -> None:
        super().__init__([sys.executable, "-m", "tproutine", "run", *args], env(tmp))


def test_on_a_terminal_the_person_chooses_try_again_then_not_to_start(
    sim: tuple[int, Path], routine: Path, tmp_path: Path
) -> None:
    port, _log = sim
    config = tmp_path / "config" / "tproutine"
    config.mkdir(parents=True)
    (config / "config.toml").write_text("pain_prompts = false\n")
    term = Terminal(tmp_path, str(routine), "--plain", "--adapter", f"tcp:127.0.0.1:{port}",
                    "--device", "Nope-3", "--connect-timeout", "0.5")  # fmt: skip
    try:
        term.expect('The device is not ready: "Nope-3" was not found within 0.5 s')
        term.expect("[Y]es, [r] try again, [n]o: ")
        term.send("r\n")
        term.expect('Connecting to "Nope-3"', count=2)
        term.expect("[Y]es, [r] try again, [n]o: ", count=2)
        term.send("n\n")
        assert term.proc.wait(TIMEOUT) == 1
        term.expect("not started: the device is not ready")
        assert "First step on ·" not in term.seen
    finally:
        term.close()

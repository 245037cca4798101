"""`tproutine run FILE --plain` end to end, in subprocesses: files, signals, crashes, a pty.

Each test has its own data and config folders (XDG_DATA_HOME / XDG_CONFIG_HOME
under tmp_path), as the CLI spec promises.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests import ptykit
from tproutine.history.store import HistoryStore

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted((ROOT / "routines").glob("*.yaml"))

SMALL = """\
format: tproutine/1
name: Small
get_ready: 2s
steps:
  - hold: Piriformis
    duration: 10s
    reps: 2
    rest: 3s
    pressure: 5
    cues:
      - at: 0s
        say: Lean in.
  - stretch: Child's pose
    duration: 5s
"""

SAFE = """\
format: tproutine/1
name: Careful
safety:
  warnings:
    - Stop at once if you feel numbness.
  avoid_if:
    - You are pregnant
get_ready: 0s
steps:
  - hold: Quadratus lumborum
    side: both
    duration: 60s
    cues:
      - at: 0s
        say: Ease onto the ball.
  - massage: Glutes
    duration: 60s
    device: {intensity: 40%}
"""

# Many short segments: signals arrive mid-session with several segments committed.
LONG = "format: tproutine/1\nname: Long\nget_ready: 1s\nsteps:\n" + "".join(
    f"  - hold: Point {i}\n    duration: 2s\n" for i in range(40)
)


def env_for(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONWARNINGS", None)
    return env


def history_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "tproutine" / "history.sqlite3"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tproutine", "run", *args]


def run(tmp_path: Path, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args),
        env=env_for(tmp_path),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def events_of(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    # The last line may be half-written while the process runs.
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return out


def wait_for_events(path: Path, predicate: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = events_of(path)
        if predicate(events):
            return events
        time.sleep(0.02)
    raise AssertionError(f"timed out; events so far: {events_of(path)[-3:]}")


def ended_segments(events: list[dict[str, Any]]) -> int:
    return sum(1 for e in events if e["event"] == "segment_end")


def assert_no_traceback(text: str) -> None:
    assert "Traceback" not in text, text


# --- every bundled routine ---------------------------------------------------------------


@pytest.mark.skipif(not BUNDLED, reason="no bundled routines yet")
def test_every_bundled_routine_runs_to_the_end_at_speed_100(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    # A few at a time: the library keeps growing, and a machine busy with all of them
    # at once would only measure its own scheduling delays.
    for batch in range(0, len(BUNDLED), 5):
        _run_to_the_end(BUNDLED[batch : batch + 5], env, tmp_path)
    with HistoryStore.open(history_path(tmp_path)) as store:
        rows = store.sessions()
        assert len(rows) == len(BUNDLED)
        assert {r.status for r in rows} == {"completed"}
        assert all(r.segments_done == r.segments_total for r in rows)


def _run_to_the_end(routines: list[Path], env: dict[str, str], tmp_path: Path) -> None:
    procs = {}
    for routine in routines:
        log = tmp_path / f"{routine.stem}.jsonl"
        procs[routine] = (
            log,
            subprocess.Popen(
                command(
                    str(routine),
                    "--plain",
                    "--yes",
                    "--speed",
                    "100",
                    "--adapter",
                    "none",
                    "--events",
                    str(log),
                ),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
    for routine, (log, proc) in procs.items():
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, (routine.name, err)
        assert_no_traceback(err)
        assert out.splitlines()[-1].split("  ", 1)[1].startswith("Routine complete"), routine
        events = events_of(log)
        start, end = events[0], events[-1]
        assert start["event"] == "session_start" and end["event"] == "session_end"
        assert end["status"] == "completed"
        begun = [e for e in events if e["event"] == "segment_start"]
        assert [e["index"] for e in begun] == list(range(start["segments"]))
        # Due exactly at the total, whenever the machine got there (t >= due).
        assert end["due"] == start["total_s"] and end["t"] >= end["due"] - 1e-6


# --- small files ---------------------------------------------------------------------------


def test_a_small_routine_prints_one_line_per_event(tmp_path: Path) -> None:
    routine = write(tmp_path, "small.yaml", SMALL)
    result = run(tmp_path, str(routine), "--plain", "--speed", "20", "--adapter", "none")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "Preview at 20× speed: kept in your history as a preview, not counted as a session done.",
        "00:00  Small · 30s · 5 segments",
        "00:00  Get ready · 2s",
        "00:02  Hold · Piriformis · rep 1 of 2 · 10s · pressure 5/10",
        "00:02  “Lean in.”",
        "00:09  3",
        "00:10  2",
        "00:11  1",
        "00:12  Rest · 3s",
        "00:15  Hold · Piriformis · rep 2 of 2 · 10s · pressure 5/10",
        "00:15  “Lean in.”",
        "00:22  3",
        "00:23  2",
        "00:24  1",
        "00:25  Stretch · Child's pose · 5s",
        "00:27  3",
        "00:28  2",
        "00:29  1",
        "00:30  Routine complete · Small · 5 of 5 segments done",
    ]


def test_events_to_stdout_keep_stdout_pure_json(tmp_path: Path) -> None:
    routine = write(tmp_path, "small.yaml", SMALL)
    result = run(tmp_path, str(routine), "--plain", "--speed", "200", "--events", "-")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "session_start" and events[-1]["status"] == "completed"
    assert all({"event", "t", "mono"} <= e.keys() for e in events)
    dues = [e["due"] for e in events if e["event"] == "segment_start"]
    assert dues == [0.0, 2.0, 12.0, 15.0, 25.0]
    assert "Routine complete" in result.stderr  # the text lines moved to stderr


def test_scale_and_max_intensity_reach_the_engine(tmp_path: Path) -> None:
    routine = write(tmp_path, "safe.yaml", SAFE)
    log = tmp_path / "ev.jsonl"
    result = run(tmp_path, str(routine), "--plain", "--yes", "--speed", "500", "--scale", "1.5",
                 "--max-intensity", "50", "--adapter", "none", "--events", str(log))  # fmt: skip
    assert result.returncode == 0, result.stderr
    clamp = [e for e in events_of(log) if e["event"] == "clamp"]
    assert clamp == [
        {**clamp[0], "index": 3, "asked": 60.0, "given": 50.0, "why": "your max intensity"}
    ]
    assert "Intensity capped at 50% (the routine asks 60%): your max intensity" in result.stdout


def test_safety_items_need_yes_when_stdin_is_not_a_terminal(tmp_path: Path) -> None:
    routine = write(tmp_path, "safe.yaml", SAFE)
    result = run(tmp_path, str(routine), "--plain", "--speed", "500")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "--yes" in result.stderr
    assert "Stop at once if you feel numbness." in result.stdout  # shown all the same
    assert "You are pregnant" in result.stdout
    assert (
        not history_path(tmp_path).exists()
        or not HistoryStore.open(history_path(tmp_path)).sessions()
    )
    ok = run(tmp_path, str(routine), "--plain", "--speed", "500", "--yes", "--adapter", "none")
    assert ok.returncode == 0, ok.stderr


def test_an_invalid_routine_is_one_clear_error(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", SMALL.replace("duration: 10s", "duration: 1m70s"))
    result = run(tmp_path, str(bad), "--plain")
    assert result.returncode == 1
    assert_no_traceback(result.stderr)
    assert "bad.yaml:" in result.stderr and "duration" in result.stderr
    missing = run(tmp_path, str(tmp_path / "nope.yaml"), "--plain")
    assert missing.returncode == 1 and "nope.yaml" in missing.stderr
    assert_no_traceback(missing.stderr)


def test_without_plain_a_broken_routine_is_one_line_and_no_app(tmp_path: Path) -> None:
    # The routine is checked before the app takes the screen.
    bad = write(tmp_path, "bad.yaml", SMALL.replace("duration: 10s", "duration: 1m70s"))
    result = run(tmp_path, str(bad))
    assert result.returncode == 1
    assert_no_traceback(result.stderr)
    assert result.stderr.count("\n") == 1 and "bad.yaml:" in result.stderr
    assert "\x1b[" not in result.stdout + result.stderr  # no screen was drawn


def test_an_events_file_that_cannot_be_written_refuses_to_start(tmp_path: Path) -> None:
    routine = write(tmp_path, "small.yaml", SMALL)
    result = run(tmp_path, str(routine), "--plain", "--events", str(tmp_path / "no" / "ev.jsonl"))
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_a_bad_adapter_is_reported_once_and_the_routine_runs_as_a_timer(tmp_path: Path) -> None:
    routine = write(tmp_path, "safe.yaml", SAFE)
    # Well formed, but nobody listens there (a malformed one is a usage error, exit 2).
    result = run(tmp_path, str(routine), "--plain", "--yes", "--speed", "500",
                 "--adapter", "tcp:127.0.0.1:1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "running as a timer only" in lines[0], lines
    assert "Routine complete" in result.stdout


def test_plain_run_imports_no_textual_bleak_or_bumble(tmp_path: Path) -> None:
    routine = write(tmp_path, "small.yaml", SMALL)
    device_routine = write(tmp_path, "safe.yaml", SAFE)  # uses the device
    probe = textwrap.dedent(
        f"""
        import sys
        from tproutine.cli import main
        code = main(["run", {str(routine)!r}, "--plain", "--speed", "1000", "--adapter", "none"])
        code += main(["run", {str(device_routine)!r}, "--plain", "--speed", "1000", "--yes",
                      "--adapter", "none"])
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "bleak", "bumble"))
        print("HEAVY", heavy, "CODE", code)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env_for(tmp_path), capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "HEAVY [] CODE 0"


# --- faults ----------------------------------------------------------------------------------


def start_long(tmp_path: Path, speed: str = "10") -> tuple[subprocess.Popen[str], Path]:
    routine = write(tmp_path, "long.yaml", LONG)
    log = tmp_path / "long.jsonl"
    proc = subprocess.Popen(
        command(
            str(routine), "--plain", "--speed", speed, "--adapter", "none", "--events", str(log)
        ),
        env=env_for(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, log


@pytest.mark.parametrize(
    ("signum", "code", "said"),
    [
        (signal.SIGINT, 130, ""),
        (signal.SIGTERM, 1, "tproutine: stopped: received SIGTERM\n"),
        (signal.SIGHUP, 1, "tproutine: stopped: received SIGHUP\n"),
    ],
)
def test_a_signal_ends_the_session_cleanly_as_stopped(
    tmp_path: Path, signum: int, code: int, said: str
) -> None:
    proc, log = start_long(tmp_path)
    wait_for_events(log, lambda ev: ended_segments(ev) >= 2)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert err == said
    events = events_of(log)
    assert events[-1]["event"] == "session_end" and events[-1]["status"] == "stopped"
    assert out.splitlines()[-1].split("  ", 1)[1].startswith("Stopped · Long")
    with HistoryStore.open(history_path(tmp_path)) as store:
        (row,) = store.sessions()
        assert row.status == "stopped" and row.ended_at is not None
        assert row.segments_done >= 2
        done = [s for s in store.segments(row.id) if not s.record.skipped]
        assert len(done) == row.segments_done


def test_kill_9_leaves_the_session_interrupted_at_the_next_start(tmp_path: Path) -> None:
    proc, log = start_long(tmp_path)
    events = wait_for_events(log, lambda ev: ended_segments(ev) >= 3)
    proc.kill()
    proc.communicate(timeout=30)  # reaped: no zombie left to look alive
    with HistoryStore.open(history_path(tmp_path)) as store:
        (row,) = store.sessions()
        assert row.status == "running"
        kept = len(store.segments(row.id))
        assert kept >= 3
    assert len(events) >= 3
    # The next start of the app finds it and marks it.
    routine = write(tmp_path, "small.yaml", SMALL)
    again = run(tmp_path, str(routine), "--plain", "--speed", "500", "--adapter", "none")
    assert again.returncode == 0, again.stderr
    with HistoryStore.open(history_path(tmp_path)) as store:
        crashed = next(r for r in store.sessions() if r.routine == "Long")
        assert crashed.status == "interrupted"
        assert len(store.segments(crashed.id)) == kept  # the finished segments are kept
        assert crashed.segments_done == kept


def test_a_missing_voice_program_is_reported_once_and_the_session_goes_on(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config" / "tproutine"
    config.mkdir(parents=True)
    (config / "config.toml").write_text('voice_command = "/nonexistent/espeak-ng -s 150"\n')
    routine = write(tmp_path, "small.yaml", SMALL)
    result = run(tmp_path, str(routine), "--plain", "--speed", "100", "--adapter", "none")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "/nonexistent/espeak-ng" in lines[0], lines
    assert "Routine complete" in result.stdout


def test_the_voice_program_speaks_cues_and_titles(tmp_path: Path) -> None:
    said = tmp_path / "said.txt"
    voice = write(tmp_path, "voice", f'#!/bin/sh\nfor a; do :; done\necho "$a" >> "{said}"\n')
    voice.chmod(0o755)
    config = tmp_path / "config" / "tproutine"
    config.mkdir(parents=True)
    (config / "config.toml").write_text(f'voice_command = ["{voice}"]\ncountdown = 0\n')
    routine = write(tmp_path, "small.yaml", SMALL)
    result = run(tmp_path, str(routine), "--plain", "--adapter", "none", "--speed", "2")
    assert result.returncode == 0, result.stderr
    assert said.read_text().splitlines() == [
        "Get ready",
        "Piriformis. Lean in.",  # the title and the cue at 0 s, said together
        "Rest",
        "Piriformis. Lean in.",
        "Child's pose",
        "Routine complete.",
    ]


def test_an_unwritable_data_folder_is_reported_and_the_session_runs(tmp_path: Path) -> None:
    routine = write(tmp_path, "small.yaml", SMALL)
    env = env_for(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the data folder should be")
    env["XDG_DATA_HOME"] = str(blocker)
    result = subprocess.run(
        command(str(routine), "--plain", "--speed", "200", "--adapter", "none"),
        env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "history is not being saved" in lines[0]
    assert "Routine complete" in result.stdout


def test_plain_output_is_the_same_on_any_machine_at_speed_500(tmp_path: Path) -> None:
    # At --speed 500 a millisecond late is half a routine second: every scheduled line
    # prints the time it was due, so two runs (the second one slowed by a busy loop
    # on every core) print byte for byte the same.
    routine = write(
        tmp_path,
        "busy.yaml",
        SMALL
        + "  - breathe: Slow breathing\n    duration: 20s\n    pattern: [2s, 3s]\n"
        + "    cues:\n      - at: -4s\n        say: Last breaths.\n",
    )
    args = (str(routine), "--plain", "--speed", "500", "--adapter", "none")
    first = run(tmp_path, *args)
    busy = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        second = run(tmp_path, *args)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert first.returncode == second.returncode == 0, (first.stderr, second.stderr)
    assert first.stdout.encode() == second.stdout.encode()
    assert "00:30  Breathe · Slow breathing · 20s" in first.stdout
    assert "00:46  “Last breaths.”" in first.stdout
    assert first.stdout.endswith("00:50  Routine complete · Small · 6 of 6 segments done\n")


def test_a_bad_settings_file_is_reported_and_the_defaults_used(tmp_path: Path) -> None:
    config = tmp_path / "config" / "tproutine"
    config.mkdir(parents=True)
    (config / "config.toml").write_text("countdown = 99\n")
    routine = write(tmp_path, "small.yaml", SMALL)
    result = run(tmp_path, str(routine), "--plain", "--speed", "500", "--adapter", "none")
    assert result.returncode == 0
    assert "countdown" in result.stderr and "defaults" in result.stderr
    assert "00:09  3" in result.stdout


# --- on a terminal -------------------------------------------------------------------------


class Terminal(ptykit.Terminal):
    """``tproutine ARGS`` on a pseudo-terminal."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        super().__init__(command(*args), env_for(tmp_path))


def test_on_a_terminal_confirm_rate_pain_and_drive_with_keys(tmp_path: Path) -> None:
    routine = write(tmp_path, "safe.yaml", SAFE)
    term = Terminal(tmp_path, str(routine), "--plain", "--speed", "5", "--adapter", "none")
    try:
        term.expect("You are pregnant")
        term.expect("[Y/n]")
        term.send("y\n")
        term.expect("Pain right now, 0–10")
        term.send("11\n")  # out of range: asked again
        term.expect("Please type a whole number from 0 to 10")
        term.send("5\n")
        term.expect("Keys: space pause/resume")
        term.expect("“Ease onto the ball.”")
        assert "\a" in term.seen  # the bell rings for the cue on a terminal
        assert term.mode() == (False, False)  # cbreak while the session runs
        term.send(" ")
        term.expect("Paused (space to resume)")
        term.send(" ")
        term.expect("Resumed")
        term.send("n")
        term.expect("Skipped: Quadratus lumborum")
        term.expect("Hold · Quadratus lumborum · right")
        term.send("+")
        term.expect("Intensity ×1.1 for the rest of the session")
        term.send("s")
        term.expect("Motor stopped (s to allow it again)")
        term.send("s")
        term.expect("Motor allowed again")
        term.send("?")
        assert term.seen.count("Keys: space pause/resume") >= 1
        term.send("q")
        term.expect("Stopped · Careful")
        term.expect("Pain now, 0–10")
        term.send("3\n")
        assert term.finish() == 0
        assert term.mode() == (True, True)  # the terminal is as it was
    finally:
        term.close()
    with HistoryStore.open(history_path(tmp_path)) as store:
        (row,) = store.sessions()
        assert row.status == "stopped"
        assert row.pain_before == 5 and row.pain_after == 3


def test_on_a_terminal_ctrl_c_restores_the_terminal_and_exits_130(tmp_path: Path) -> None:
    routine = write(tmp_path, "long.yaml", LONG)
    term = Terminal(tmp_path, str(routine), "--plain", "--speed", "2", "--adapter", "none")
    try:
        term.expect("Pain right now")
        term.send("\n")  # skipped
        term.expect("Keys:")
        term.expect("Point 0")
        assert term.mode() == (False, False)
        term.proc.send_signal(signal.SIGINT)
        assert term.finish() == 130
        assert term.mode() == (True, True)
        assert "Pain now" not in term.seen  # an interrupted person is not asked
    finally:
        term.close()
    with HistoryStore.open(history_path(tmp_path)) as store:
        (row,) = store.sessions()
        assert row.status == "stopped" and row.pain_before is None


def test_on_a_terminal_declining_the_checklist_does_not_start(tmp_path: Path) -> None:
    routine = write(tmp_path, "safe.yaml", SAFE)
    term = Terminal(tmp_path, str(routine), "--plain", "--adapter", "none")
    try:
        term.expect("[Y/n]")
        term.send("n\n")
        assert term.finish() == 1
        term.expect("not started")
    finally:
        term.close()


DEVICE = """\
format: tproutine/1
name: With the gun
get_ready: 0s
steps:
  - massage: Glutes
    duration: 60s
    device: {intensity: 30%}
"""


def test_with_a_device_q_asks_and_a_pause_is_one_line(tmp_path: Path) -> None:
    routine = write(tmp_path, "gun.yaml", DEVICE)
    term = Terminal(tmp_path, str(routine), "--plain", "--adapter", "sim")
    try:
        term.expect("Pain right now")
        term.send("\n")
        term.expect("Device · 30%")
        term.send(" ")
        term.expect("Paused, the motor off (space to resume)")
        term.send(" ")
        term.expect("Resumed")
        term.send("q")
        term.expect("End this session? y or enter ends it; any other key goes on.")
        term.send("n")
        term.expect("Resumed", count=2)
        term.send("q")
        term.expect("End this session?", count=2)
        term.send("y")
        term.expect("Stopped · With the gun")
        term.expect("Pain now")
        term.send("\n")
        assert term.finish() == 0
    finally:
        term.close()
    assert "stop · level 0 · paused" not in term.seen and "level 0 · paused" not in term.seen

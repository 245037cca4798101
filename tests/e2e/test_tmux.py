"""The real app in a real terminal: tmux on a private socket, driven by keys.

Opens the demo (its virtual massager connects), starts a routine (confirming
the Before-start modal), pauses, skips, ends the session, reaches the summary
and quits; then reads the history with ``tproutine history --json``. The XDG
folders are in tmp_path, so nothing of the person's is touched. Skipped, with
the reason, where tmux is missing.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(
    TMUX is None, reason="tmux is not installed (the CI script installs it; apt install tmux)"
)

BIN = Path(sys.executable).parent
POLL_S = 0.1
# How long to wait for the app to show something: generous, because the machine may be
# busy; a test that passes never waits this long.
WAIT_S = 60.0
LOADED = re.compile(r"\b\d+ routines?\b")


def library_read(screen: str) -> bool:
    """Every routine listed, with the Library's keys: "9 routines", not "Reading the
    routines…" nor "7 routines, reading the others…" (on a cold cache the list fills
    as files are read, and enter then starts whatever is highlighted so far)."""
    return bool(LOADED.search(screen)) and ", reading" not in screen and "q Quit" in screen


class Terminal:
    """One tmux session on its own server socket."""

    def __init__(self, socket: str, env: dict[str, str]) -> None:
        self.socket = socket
        self.env = env

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert TMUX is not None
        return subprocess.run(
            [TMUX, "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=check,
            env=self.env,
            timeout=10,
        )

    def screen(self) -> str:
        result = self.tmux("capture-pane", "-t", "app", "-p", check=False)
        return result.stdout if result.returncode == 0 else ""

    def wait_for(self, *texts: str, timeout: float = WAIT_S) -> str:
        """Poll the screen until every text is on it; fail with the screen otherwise."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(t in screen for t in texts):
                return screen
            time.sleep(POLL_S)
        pytest.fail(f"waited {timeout:g}s for {texts!r}; the screen was:\n{screen}")

    def wait_for_library(self) -> str:
        """The Library with its routines read ("9 routines", not "Reading the routines…")."""
        deadline = time.monotonic() + WAIT_S
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if library_read(screen):
                return screen
            time.sleep(POLL_S)
        pytest.fail(f"the Library did not list its routines; the screen was:\n{screen}")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "app", *keys)

    def alive(self) -> bool:
        return self.tmux("has-session", "-t", "app", check=False).returncode == 0


def step_lines(screen: str) -> list[str]:
    """The Player's digits, kind and title lines (frozen while paused)."""
    return screen.splitlines()[2:6]


def _open(tmp_path: Path, *args: str, in_shell: bool = False) -> Terminal:
    """``tproutine ARGS`` in a fresh 100×30 tmux, with the XDG folders in tmp_path.

    ``in_shell``: started by a shell that stays when the app is gone (the pane's
    process is then the shell, the app its child), as in a person's terminal."""
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "TERM": "xterm-256color",
    }
    term = Terminal(f"tproutine-e2e-{uuid.uuid4().hex[:12]}", env)
    command = " ".join(
        [
            "cd",
            shlex.quote(str(tmp_path)),
            "&&",
            "env" if in_shell else "exec env",
            f"XDG_DATA_HOME={shlex.quote(env['XDG_DATA_HOME'])}",
            f"XDG_CONFIG_HOME={shlex.quote(env['XDG_CONFIG_HOME'])}",
            f"XDG_CACHE_HOME={shlex.quote(env['XDG_CACHE_HOME'])}",
            "TERM=xterm-256color",
            shlex.quote(str(BIN / "tproutine")),
            *(shlex.quote(a) for a in args),
            *(["; echo '[the app ended]'; exec sleep 600"] if in_shell else []),
        ]
    )
    term.tmux("new-session", "-d", "-s", "app", "-x", "100", "-y", "30", command)
    return term


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = _open(tmp_path, "demo", "--speed", "20")
    try:
        yield term
    finally:
        term.tmux("kill-server", check=False)


def test_demo_session_from_start_to_history(terminal: Terminal, tmp_path: Path) -> None:
    terminal.wait_for_library()
    terminal.keys("Enter")
    terminal.wait_for("Before you start", "Pain right now")
    # Enter reads on through a long safety list, then confirms.
    deadline = time.monotonic() + WAIT_S
    while "Before you start" in terminal.screen() and time.monotonic() < deadline:
        terminal.keys("Enter")
        time.sleep(0.3)
    terminal.wait_for("Running", "This step", "Next:")
    # The demo's virtual massager, connected after the first paint, in the device panel.
    terminal.wait_for("Device: connected", "tproutine-massager")

    terminal.keys("Space")
    screen = terminal.wait_for("Paused")
    step_before = step_lines(screen)

    terminal.keys("n")  # a paused session stays paused, on the next segment
    deadline = time.monotonic() + WAIT_S
    while step_lines(terminal.screen()) == step_before and time.monotonic() < deadline:
        time.sleep(POLL_S)
    screen = terminal.screen()
    assert step_lines(screen) != step_before, screen
    assert "Paused" in screen

    terminal.keys("q")
    terminal.wait_for("End this session?")
    terminal.keys("y")
    terminal.wait_for("Session ended.", "Saved to history.")
    terminal.keys("Enter")
    terminal.wait_for_library()
    terminal.keys("q")
    deadline = time.monotonic() + WAIT_S
    while terminal.alive() and time.monotonic() < deadline:
        time.sleep(POLL_S)
    assert not terminal.alive(), terminal.screen()

    out = subprocess.run(
        [str(BIN / "tproutine"), "history", "--json"],
        capture_output=True,
        text=True,
        env=terminal.env,
        timeout=30,
        check=True,
    )
    sessions = json.loads(out.stdout)
    assert len(sessions) == 1
    assert sessions[0]["status"] == "stopped"
    assert sessions[0]["segments_total"] > 1 and sessions[0]["ended_at"] is not None


def test_run_opens_the_player_straight_away(tmp_path: Path) -> None:
    # `tproutine run FILE` (no --plain) skips the Library: with --yes, straight in.
    routine = tmp_path / "short.yaml"
    routine.write_text(
        "format: tproutine/1\nname: Short test\nget_ready: 0s\n"
        "steps:\n  - hold: Upper trapezius\n    duration: 30s\n    pressure: 5\n",
        encoding="utf-8",
    )
    term = _open(tmp_path, "run", str(routine), "--yes", "--adapter", "none", "--speed", "10")
    try:
        term.wait_for("Short test", "Upper trapezius", "This step")
        term.keys("q")
        term.wait_for("End this session?")
        term.keys("y")
        term.wait_for("Saved to history.")
    finally:
        term.tmux("kill-server", check=False)
    out = subprocess.run(
        [str(BIN / "tproutine"), "history", "--json"],
        capture_output=True,
        text=True,
        env=term.env,
        timeout=30,
        check=True,
    )
    [session] = json.loads(out.stdout)
    assert session["routine"] == "Short test" and session["status"] == "stopped"
    assert session["file"].endswith("short.yaml")


def test_kill_9_of_the_full_screen_app_mid_massage_is_followed_by_the_stop(
    tmp_path: Path,
) -> None:
    """The hard death of the app a person really uses: the full-screen Player,
    driving a simulator process whose massager runs on when its app goes away
    (``--on-link-loss run``, as some devices do). Nothing of the app runs after
    SIGKILL; its guardian stops the motor and says so in the app's terminal."""
    from tests.devices.simproc import read, sim_process, wait_log
    from tests.devices.test_guardian import LONG, STOP_SLACK_S, children, motor_on, settled

    routine = tmp_path / "long.yaml"
    routine.write_text(LONG, encoding="utf-8")
    with sim_process(tmp_path, "--on-link-loss", "run", "--auto-off", "0") as (port, log):
        term = _open(
            tmp_path,
            *("run", str(routine), "--yes", "--adapter", f"tcp:127.0.0.1:{port}"),
            in_shell=True,
        )
        try:
            term.wait_for("Long massage", "Calf")
            wait_log(log, motor_on, "the motor running")
            shell = int(term.tmux("display-message", "-p", "-t", "app", "#{pane_pid}").stdout)
            (app,) = children(shell)
            (guardian,) = children(app)
            settled(guardian)
            killed = time.monotonic()
            os.kill(app, 9)
            records = wait_log(
                log,
                lambda rs: any(
                    r["event"] == "write" and r["kind"] == "stop" and r["mono"] > killed for r in rs
                ),
                "a stop after the kill",
            )
            # The app's link went with it and the device ran on (as this kind does)...
            lost = next(r for r in records if r["event"] == "disconnect")
            assert lost["mono"] >= killed and lost["running"] is True, records
            # ... until the guardian connected through a radio of its own and stopped it.
            after = [r for r in records if r["mono"] > lost["mono"]]
            assert [r["event"] for r in after][:2] == ["connect", "write"], after
            the_stop = after[1]
            assert the_stop["kind"] == "stop" and the_stop["running"] is False, after
            assert the_stop["mono"] - killed < STOP_SLACK_S
            print(f"kill -9 of the full-screen app -> stop: {the_stop['mono'] - killed:.3f} s")
            # Said in the terminal the person was using, given back first: the main
            # screen with lines that wrap, so the whole line is there, to its end.
            screen = term.wait_for(
                "tproutine guardian: the app ended while tproutine-massager may have been "
            )
            assert "Intensity:" not in screen  # the Player's screen is gone
            said = "".join(screen.split("tproutine guardian: ")[1].splitlines())
            assert said.startswith("the app ended while tproutine-massager may have been ")
            assert said.rstrip().endswith("running; the motor was stopped"), screen
        finally:
            term.tmux("kill-server", check=False)
        # Nothing ran the motor again afterwards.
        time.sleep(0.5)
        assert read(log)[-1]["running"] is False

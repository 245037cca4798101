"""The app in a real terminal (tmux) with hostile names everywhere: nothing acts on it.

A routine file and a broken one whose *file names* hold window-title (OSC 2) and
clipboard (OSC 52) sequences and a direction override, a ``config.toml`` whose
values would break markup (``"[/x]"``) or hold escapes, and a virtual massager
that advertises a window-title sequence as its name. tmux is set to obey OSC 52
(``set-clipboard on``), so a sequence that got through would change the pane's
title or fill a paste buffer. The screen must show the characters as tokens
(``␛]2;…␇``), and ``capture-pane -e`` must hold no escape but colours.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.test_tmux import BIN, TMUX, Terminal

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt install tmux)")

# The reference profile knows names that start "tproutine"; the rest retitles a window.
TITLE = "tproutine\x1b]2;P1\x07"
FILE_TITLE = "\x1b]2;PWNED2\x07"
CLIPBOARD = "\x1b]52;c;UFdORUQz\x07"  # "PWNED3"
RLO = "\u202e"
GOOD = """\
format: tproutine/1
name: Hostile file name
get_ready: 0s
steps:
  - massage: Upper trapezius
    duration: 30s
    device: {intensity: 20%}
"""
SETTINGS = 'max_intensity = "[/x]"\ntheme = "[b]x\\u001b]2;PWNED4\\u0007"\n'
# Only colours and attributes (SGR) may be in the captured screen: no other escape.
NOT_SGR = re.compile(r"\x1b(?!\[[0-9;:]*m)")
RAW = re.compile("[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _screen(term: Terminal, *, escapes: bool = False) -> str:
    args = ["capture-pane", "-t", "app", "-p"] + (["-e"] if escapes else [])
    result = term.tmux(*args, check=False)
    return result.stdout if result.returncode == 0 else ""


def _assert_nothing_got_through(term: Terminal) -> None:
    title = term.tmux("display-message", "-p", "-t", "app", "#{pane_title}").stdout
    assert "PWNED" not in title and title.strip() != "P1", title
    buffers = term.tmux("list-buffers", check=False).stdout
    assert buffers == "", buffers
    raw = _screen(term, escapes=True)
    assert NOT_SGR.search(raw) is None, repr(raw)
    assert RAW.search(raw) is None, repr(raw)


def test_hostile_names_in_the_app_are_shown_not_obeyed(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "TERM": "xterm-256color",
    }
    config = tmp_path / "config" / "tproutine" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(SETTINGS, encoding="utf-8")
    (tmp_path / f"good{FILE_TITLE}{CLIPBOARD}.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / f"broken{FILE_TITLE}{RLO}.yaml").write_text("format: tproutine/1\n")
    sim = subprocess.Popen(
        [sys.executable, "-m", "tproutine", "sim", "--port", "0", "--name", TITLE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PATH": str(BIN) + ":/usr/bin:/bin"},
    )
    assert sim.stdout is not None
    line = sim.stdout.readline()
    assert "listening on 127.0.0.1:" in line, line
    port = int(line.rsplit(":", 1)[1])
    conf = tmp_path / "tmux.conf"
    conf.write_text("set -g set-clipboard on\nset -g allow-rename on\n")
    term = Terminal(f"tproutine-hostile-{uuid.uuid4().hex[:12]}", env)
    command = (
        f"cd {tmp_path} && exec {BIN / 'tproutine'} demo --adapter tcp:127.0.0.1:{port} *.yaml"
    )
    term.tmux("-f", str(conf), "new-session", "-d", "-s", "app", "-x", "120", "-y", "32", command)
    try:
        screen = term.wait_for("routines", "q Quit", "␛]2;PWNED2␇", timeout=60)
        assert "broken␛]2;PWNED2␇⟨U+202E⟩" in screen
        # The settings' mistakes were said (not parsed as markup, which used to kill it).
        term.wait_for("'[/x]' is not a number", timeout=60)
        _assert_nothing_got_through(term)
        term.keys("d")
        term.wait_for("tproutine · Devices", "tproutine␛]2;P1␇", "connected", timeout=60)
        _assert_nothing_got_through(term)
        term.keys("Escape")
        term.wait_for("q Quit", timeout=60)
        term.keys("q")
        deadline = time.monotonic() + 30
        while term.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not term.alive(), _screen(term)
    finally:
        term.tmux("kill-server", check=False)
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(30)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait()

"""The whole sharing loop, as two people would run it, in separate processes.

Practitioner: ``new`` → ``validate`` → ``export`` (HTML and Markdown).
Client: ``add`` → ``run`` the added routine → ``history export``.

Each side has its own private XDG folders, so nothing touches the real home.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

NAME = 'Neck reset: "desk days"'
FILE = "neck-reset-desk-days.yaml"


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    for var, sub in (
        ("XDG_DATA_HOME", "data"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        env[var] = str(home / sub)
    env["HOME"] = str(home)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _tproutine(
    *args: str, cwd: Path, home: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tproutine", *args],
        cwd=cwd,
        env=_env(home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _practitioner(tmp_path: Path) -> Path:
    """new → validate → export; the routine file the practitioner sends."""
    desk = tmp_path / "practitioner"
    desk.mkdir()
    _ok(_tproutine("new", NAME, cwd=desk, home=desk))
    routine = desk / FILE
    assert _ok(_tproutine("validate", FILE, cwd=desk, home=desk)) == f"{FILE}: ok\n"
    _ok(_tproutine("export", FILE, "--format", "html", "-o", "handout.html", cwd=desk, home=desk))
    _ok(_tproutine("export", FILE, "--format", "md", "-o", "handout.md", cwd=desk, home=desk))
    page = (desk / "handout.html").read_text(encoding="utf-8")
    md = (desk / "handout.md").read_text(encoding="utf-8")
    assert "<h1><bdi>Neck reset: &quot;desk days&quot;</bdi></h1>" in page
    assert md.startswith('# Neck reset: "desk days"\n')
    for handout in (page, md):
        assert f"tproutine run {FILE}" in handout
        assert "Repeat 2 times:" in handout
        assert hashlib.sha256(routine.read_bytes()).hexdigest()[:12] in handout
    return routine


def _client_adds(tmp_path: Path, routine: Path) -> tuple[Path, Path]:
    """The client saves the attachment and adds it; returns (home, the library copy)."""
    home = tmp_path / "client"
    downloads = home / "Downloads"
    downloads.mkdir(parents=True)
    received = downloads / routine.name
    received.write_bytes(routine.read_bytes())
    out = _ok(_tproutine("add", str(received), cwd=home, home=home))
    added = home / "data" / "tproutine" / "routines" / FILE
    assert out == f"{received}: added {NAME!r} to your library ({added})\n"
    assert added.read_bytes() == routine.read_bytes()
    return home, added


def test_practitioner_to_client_library(tmp_path: Path) -> None:
    routine = _practitioner(tmp_path)
    home, added = _client_adds(tmp_path, routine)
    # The same name again, edited, is refused until the client says --force.
    edited = home / "Downloads" / "edited.yaml"
    edited.write_bytes(routine.read_bytes() + b"# edited\n")
    again = _tproutine("add", str(edited), cwd=home, home=home)
    assert again.returncode == 1
    assert "Use --force to replace it" in again.stderr
    _ok(_tproutine("add", "--force", str(edited), cwd=home, home=home))
    assert added.read_bytes().endswith(b"# edited\n")


def _needs(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} does not exist yet: {what} is being written by another engineer")


def test_client_runs_it_and_sends_a_report(tmp_path: Path) -> None:
    _needs("tproutine.commands.run", "the session engine (`tproutine run`)")
    routine = _practitioner(tmp_path)
    home, added = _client_adds(tmp_path, routine)

    events = home / "events.jsonl"
    run = _tproutine(
        "run",
        str(added),
        "--plain",
        "--yes",
        "--speed",
        "1000",
        "--adapter",
        "none",
        "--events",
        str(events),
        cwd=home,
        home=home,
    )
    _ok(run)
    lines = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["event"] == "session_start"
    assert lines[0]["routine"] == NAME
    assert lines[-1] == {**lines[-1], "event": "session_end", "status": "completed"}

    _needs("tproutine.commands.history", "`tproutine history export`")
    # A run at 1000× is a preview: kept, but no report counts it unless asked to.
    empty = _tproutine("history", "export", "--format", "md", cwd=home, home=home)
    assert empty.returncode == 0 and "desk days" not in empty.stdout
    assert "left out 1 preview run" in empty.stderr
    previews = ("--include-previews",)
    report = _ok(_tproutine("history", "export", "--format", "md", *previews, cwd=home, home=home))
    assert "desk days" in report and "completed, preview" in report
    rows = list(
        csv.DictReader(
            io.StringIO(
                _ok(
                    _tproutine(
                        "history", "export", "--format", "csv", *previews, cwd=home, home=home
                    )
                )
            )
        )
    )
    assert len(rows) == 1
    assert rows[0]["routine"] == NAME
    assert rows[0]["status"] == "completed" and rows[0]["preview"] == "1"
    # The report names the exact version the practitioner sent, and no folder of the client's.
    assert rows[0]["content_hash"] == hashlib.sha256(routine.read_bytes()).hexdigest()
    assert rows[0]["file"] == added.name
    _ok(
        _tproutine(
            "history", "export", "--format", "md", "-o", "report.md", *previews, cwd=home, home=home
        )
    )
    assert "desk days" in (home / "report.md").read_text(encoding="utf-8")


def test_an_empty_history_export_says_so(tmp_path: Path) -> None:
    _needs("tproutine.commands.history", "`tproutine history export`")
    result = _tproutine("history", "export", "--format", "md", cwd=tmp_path, home=tmp_path)
    assert result.returncode == 0
    assert "No sessions" in result.stdout + result.stderr

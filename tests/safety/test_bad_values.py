"""Bad values, clean words: every number typed is checked, every error is one line,
usage errors exit 2, and nothing that fails inside ends with status 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tproutine.cli import main

ROUTINE = "format: tproutine/1\nname: Short\nget_ready: 0s\nsteps:\n  - hold: A\n    duration: 3s\n"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["run", "r.yaml", "--speed", "inf"], "argument --speed: 'inf' is not a finite number"),
        (["run", "r.yaml", "--speed", "nan"], "argument --speed: 'nan' is not a finite number"),
        (["run", "r.yaml", "--speed", "1e308"], "argument --speed: '1e308' is out of range"),
        (["run", "r.yaml", "--speed", "0"], "argument --speed: '0' is out of range"),
        (["run", "r.yaml", "--speed", "fast"], "argument --speed: 'fast' is not a number"),
        (["demo", "--speed=-inf"], "argument --speed: '-inf' is not a finite number"),
        (["run", "r.yaml", "--scale", "inf"], "argument --scale: 'inf' is not a finite number"),
        (["run", "r.yaml", "--scale", "0"], "argument --scale: '0' is out of range"),
        (["run", "r.yaml", "--max-intensity", "nan%"], "--max-intensity: 'nan%' is not a percent"),
        (["run", "r.yaml", "--max-intensity", "101"], "--max-intensity: '101' is outside 0-100"),
        (["run", "r.yaml", "--adapter", "bogus"], "argument --adapter: unknown adapter 'bogus'"),
        (["run", "r.yaml", "--adapter", "tcp:x:0"], "expected tcp:HOST:PORT"),
        (["devices", "scan", "--timeout", "1e9"], "argument --timeout: '1e9' is out of range"),
        (["devices", "info", "--seconds", "inf"], "argument --seconds: 'inf' is not a finite"),
        (["devices", "info", "--adapter", "bogus"], "unknown adapter 'bogus'"),
        (["sim", "--port", "99999"], "argument --port: '99999' is not a TCP port"),
        (["sim", "--auto-off", "-1"], "argument --auto-off: '-1' is out of range"),
        (["sim", "--drop-every", "nan"], "argument --drop-every: 'nan' is not a finite"),
        (["show", "r.yaml", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_a_bad_number_or_word_is_a_usage_error(
    args: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    # The command's usage, then one line that says what is wrong (and what is accepted).
    prog = " ".join(["tproutine", *[a for a in args[:2] if not a.startswith("-")]])
    prog = prog.removesuffix(" r.yaml")
    usage, *_, last = err.splitlines()
    assert usage.startswith(f"usage: {prog} ")
    assert last.startswith(f"{prog}: error: ") and said in last, err


def test_numbers_in_range_are_taken(tmp_path: Path) -> None:
    from tproutine.cli import build_parser

    args = build_parser().parse_args(
        ["run", "r.yaml", "--speed", "0.5", "--scale", "2", "--max-intensity", "40%"]
    )
    assert (args.speed, args.scale, args.max_intensity) == (0.5, 2.0, 40.0)


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    return env


def test_an_absent_simulator_is_one_line_not_a_python_tuple(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tproutine", "devices", "info", "--adapter", "tcp:127.0.0.1:1"],
        env=_env(tmp_path),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("tproutine: no virtual massager at 127.0.0.1:1")
    assert "BleakBluetoothNotAvailableReason" not in done.stderr


def test_a_bug_in_a_command_is_one_line_and_a_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tproutine.commands.routines as routines

    def broken(args: Any) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(routines, "main", broken)
    monkeypatch.delenv("TPROUTINE_DEBUG", raising=False)
    assert main(["schema"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("tproutine: internal error: ZeroDivisionError: division by zero")
    monkeypatch.setenv("TPROUTINE_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["schema"])


def test_a_listener_that_fails_in_run_plain_is_never_a_success(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tproutine.engine import plain

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    routine = tmp_path / "r.yaml"
    routine.write_text(ROUTINE, encoding="utf-8")
    real = plain.PlainFormatter.body

    def body(self: plain.PlainFormatter, event: Any) -> str | None:
        if event.event == "cue":
            raise ValueError("cannot convert float NaN to integer")
        return real(self, event)

    monkeypatch.setattr(plain.PlainFormatter, "body", body)
    code = main(["run", str(routine), "--plain", "--speed", "100", "--adapter", "none"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Routine complete" in out  # the routine ran on
    lines = err.splitlines()
    assert (
        lines[-1] == "tproutine: the session ran to its end, but with internal errors (said above)"
    )
    assert all(line.startswith("tproutine: ") for line in lines)
    assert "Traceback" not in err

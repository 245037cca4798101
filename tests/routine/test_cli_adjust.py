"""Adjustments through the command line: `validate ADJ`, `show --adjust`, `add ADJ`, `run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.routine.test_adjust import ISSUE_EXAMPLE, ROUTINE
from tproutine import paths
from tproutine.cli import main
from tproutine.history.store import HistoryStore


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "neck.yaml").write_text(ROUTINE, encoding="utf-8")
    (tmp_path / "easier.yaml").write_text(ISSUE_EXAMPLE, encoding="utf-8")
    return tmp_path


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_knows_an_adjustment_by_its_format(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(["validate", "neck.yaml", "easier.yaml"], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "neck.yaml: ok",
        "easier.yaml: ok (adjusts 'Neck and shoulders' in neck.yaml)",
    ]


def test_validate_an_adjustment_alone(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # No routine of that name anywhere: the file itself is checked, and it says what was not.
    (home / "hips.yaml").write_text(
        "format: tproutine-adjust/1\nroutine: Hips only\ntime_scale: 0.8\n", encoding="utf-8"
    )
    code, out, _ = cli(["validate", "hips.yaml"], capsys)
    assert code == 0
    assert "hips.yaml: ok as an adjustment; no routine named 'Hips only'" in out
    # Once the routine is in the library, its steps are checked against it.
    assert cli(["add", "neck.yaml"], capsys)[0] == 0
    code, out, _ = cli(["validate", "easier.yaml"], capsys)
    assert code == 0 and "adjusts 'Neck and shoulders' in " in out


def test_validate_reports_bounds_against_the_routine(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (home / "bad.yaml").write_text(
        ISSUE_EXAMPLE.replace("pressure: 4", "pressure: 8"), encoding="utf-8"
    )
    code, _, err = cli(["validate", "neck.yaml", "bad.yaml"], capsys)
    assert code == 1
    assert err == (
        "bad.yaml:5:26: steps.upper-trap.pressure: 8 is more than 2 below or 1 above the "
        "routine's 6 (use 4 to 7)\n"
    )


def test_an_adjustment_given_as_a_routine_says_what_it_is(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(["show", "easier.yaml"], capsys)
    assert code == 1
    assert err.startswith("easier.yaml:1:9: format: this is an adjustment file, not a routine")


def test_show_with_an_adjustment(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["show", "neck.yaml", "--adjust", "easier.yaml"], capsys)
    assert code == 0
    assert "Stretch · Doorway chest stretch" not in out
    assert out.splitlines()[-1] == (
        "adjusted: time ×0.75; upper-trap: pressure 4, 30s; Doorway chest stretch: skipped"
    )
    code, out, _ = cli(["show", "neck.yaml", "--adjust", "easier.yaml", "--json"], capsys)
    shown = json.loads(out)
    assert shown["adjustment"]["summary"].startswith("time ×0.75")
    assert len(shown["adjustment"]["hash"]) == 64
    # Without --adjust, show is the routine as written, even with one in the library.
    assert cli(["add", "easier.yaml"], capsys)[0] == 0
    code, out, _ = cli(["show", "neck.yaml", "--json"], capsys)
    assert "adjustment" not in json.loads(out)


def test_another_routines_adjustment_is_refused(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (home / "hips.yaml").write_text(
        "format: tproutine-adjust/1\nroutine: Hips\ntime_scale: 0.8\n", encoding="utf-8"
    )
    code, _, err = cli(["show", "neck.yaml", "--adjust", "hips.yaml"], capsys)
    assert code == 1
    assert err.startswith(
        "hips.yaml:2:10: routine: this adjustment is for 'Hips', not for 'Neck and shoulders'"
    )


def test_add_puts_an_adjustment_in_the_library_once(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(["add", "easier.yaml"], capsys)
    assert code == 0 and "added an adjustment of 'Neck and shoulders'" in out
    assert (paths.user_adjustments_dir() / "easier.yaml").read_text() == ISSUE_EXAMPLE
    code, out, _ = cli(["add", "easier.yaml"], capsys)
    assert code == 0 and "already in your library" in out
    # A second adjustment of the same routine replaces the first only with --force.
    (home / "other.yaml").write_text(ISSUE_EXAMPLE.replace("0.75", "0.8"), encoding="utf-8")
    code, _, err = cli(["add", "other.yaml"], capsys)
    assert code == 1 and "already adjusts 'Neck and shoulders'. Use --force" in err
    assert cli(["add", "--force", "other.yaml"], capsys)[0] == 0
    assert "0.8" in (paths.user_adjustments_dir() / "easier.yaml").read_text()
    assert not (paths.user_adjustments_dir() / "other.yaml").exists()


def test_add_checks_the_adjustment_against_the_routine_in_the_library(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["add", "neck.yaml"], capsys)[0] == 0
    (home / "bad.yaml").write_text(ISSUE_EXAMPLE.replace("upper-trap", "upper"), encoding="utf-8")
    code, _, err = cli(["add", "bad.yaml"], capsys)
    assert code == 1 and "bad.yaml:5:3: steps.upper: no step of 'Neck and shoulders'" in err
    assert not paths.user_adjustments_dir().exists()


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "cfg"))
    return subprocess.run(
        [sys.executable, "-m", "tproutine", "run", "neck.yaml", "--plain", "--yes",
         "--adapter", "none", "--speed", "1000", *args],
        cwd=home, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_run_applies_the_library_adjustment_and_history_records_it(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["add", "easier.yaml"], capsys)[0] == 0
    adjusted = _run(home)
    assert adjusted.returncode == 0, adjusted.stderr
    assert "Adjusted: time ×0.75; upper-trap: pressure 4, 30s" in adjusted.stdout
    assert "Stretch · Doorway chest stretch" not in adjusted.stdout
    as_written = _run(home, "--no-adjust")
    assert as_written.returncode == 0, as_written.stderr
    assert "Adjusted" not in as_written.stdout
    assert "Stretch · Doorway chest stretch" in as_written.stdout
    with HistoryStore.open(paths.history_path()) as store:
        second, first = store.sessions()
    assert first.adjustment is not None and first.adjustment.startswith("time ×0.75")
    assert first.adjustment_hash is not None and len(first.adjustment_hash) == 64
    assert second.adjustment is None and second.adjustment_hash is None
    _, out, _ = cli(["history"], capsys)
    assert "completed, preview, adjusted" in out

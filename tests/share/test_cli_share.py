"""``tproutine export``, ``add`` and ``new`` through the real argument parser."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tproutine.cli import main
from tproutine.paths import bundled_routines_dir
from tproutine.routine.loader import load_routine

LOW_BACK = bundled_routines_dir() / "low-back.yaml"


@pytest.fixture(autouse=True)
def private_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


# --- export ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_export_to_stdout(fmt: str, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["export", str(LOW_BACK), "--format", fmt]) == 0
    out = capsysbinary.readouterr().out.decode("utf-8")
    assert "Low back release" in out
    assert "tproutine run low-back.yaml" in out
    assert out.startswith("# Low back release\n" if fmt == "md" else "<!DOCTYPE html>")


def test_export_to_a_file(private_folders: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(LOW_BACK), "--format", "html", "-o", "out.html"]) == 0
    assert capsys.readouterr().out == "wrote out.html\n"
    page = (private_folders / "out.html").read_text(encoding="utf-8")
    assert page.endswith("</html>\n")
    assert "Quadratus lumborum" in page
    # An existing handout is simply brought up to date.
    assert main(["export", str(LOW_BACK), "--format", "md", "-o", "out.html"]) == 0
    assert (private_folders / "out.html").read_text(encoding="utf-8").startswith("# Low back")


def test_export_of_an_invalid_routine_prints_each_problem(
    private_folders: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (private_folders / "bad.yaml").write_text(
        "format: tproutine/1\nname: Bad\nsteps:\n  - hold: X\n    duration: 1m70s\n"
        "  - stretch: Y\n    duratoin: 30s\n"
    )
    assert main(["export", "bad.yaml", "--format", "md", "-o", "bad.md"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("bad.yaml:5:15: steps[0].duration: '1m70s' is not a duration")
    assert err[1].startswith("bad.yaml:6:5: steps[1].duration: 'duration' is required")
    assert err[2].startswith("bad.yaml:7:5: steps[1].duratoin: unknown key 'duratoin'")
    assert len(err) == 3
    assert not (private_folders / "bad.md").exists()


def test_export_never_writes_over_the_routine_itself(
    private_folders: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    routine = private_folders / "low-back.yaml"
    routine.write_bytes(LOW_BACK.read_bytes())
    assert main(["export", "low-back.yaml", "--format", "md", "-o", "./low-back.yaml"]) == 1
    assert "that is the routine itself" in capsys.readouterr().err
    assert routine.read_bytes() == LOW_BACK.read_bytes()


def test_export_to_a_folder_that_does_not_exist(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(LOW_BACK), "--format", "md", "-o", "no/such/dir/x.md"]) == 1
    assert capsys.readouterr().err == (
        "no/such/dir/x.md: cannot write the handout: No such file or directory\n"
    )


def test_export_needs_a_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(LOW_BACK)])
    assert exit_.value.code == 2


# --- new ---------------------------------------------------------------------------------


def test_new_writes_a_starter_named_after_the_routine(
    private_folders: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new", "Hips & glutes: after running"]) == 0
    out = capsys.readouterr().out
    assert out == (
        "wrote hips-glutes-after-running.yaml: edit it, then check it with "
        "`tproutine validate hips-glutes-after-running.yaml`\n"
    )
    path = private_folders / "hips-glutes-after-running.yaml"
    assert load_routine(path).routine.name == "Hips & glutes: after running"
    assert main(["validate", str(path)]) == 0


def test_new_never_overwrites(private_folders: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (private_folders / "neck.yaml").write_text("my work\n")
    assert main(["new", "Neck", "-o", "neck.yaml"]) == 1
    assert capsys.readouterr().err == (
        "neck.yaml already exists; choose another file with -o FILE, or move it away first\n"
    )
    assert (private_folders / "neck.yaml").read_text() == "my work\n"
    assert main(["new", "Neck"]) == 1  # the default name is the same file


def test_new_with_an_output_path(private_folders: Path) -> None:
    (private_folders / "drafts").mkdir()
    assert main(["new", 'The "quick": one', "-o", "drafts/q.yaml"]) == 0
    assert load_routine(private_folders / "drafts" / "q.yaml").routine.name == 'The "quick": one'


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("  ", 'the routine needs a name (for example: tproutine new "Neck reset")\n'),
        ("x" * 121, "a routine name has at most 120 characters; this one has 121\n"),
    ],
)
def test_new_refuses_a_name_the_format_cannot_hold(
    name: str, message: str, private_folders: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new", name]) == 1
    assert capsys.readouterr().err == message
    assert list(private_folders.iterdir()) == []


def test_new_into_a_missing_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "Neck", "-o", "nowhere/neck.yaml"]) == 1
    assert (
        capsys.readouterr().err == "nowhere/neck.yaml: cannot write it: No such file or directory\n"
    )


# --- add ---------------------------------------------------------------------------------


def test_add_reports_each_file_and_fails_if_any_failed(
    tmp_path: Path, private_folders: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new", "Neck reset"]) == 0
    capsys.readouterr()
    (private_folders / "bad.yaml").write_text("format: tproutine/2\nname: X\nsteps: []\n")
    library = tmp_path / "data" / "tproutine" / "routines"

    assert main(["add", "neck-reset.yaml", "bad.yaml", str(LOW_BACK)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"neck-reset.yaml: added 'Neck reset' to your library ({library / 'neck-reset.yaml'})",
        f"{LOW_BACK}: added 'Low back release' to your library ({library / 'low-back.yaml'})",
    ]
    assert err.startswith("bad.yaml:1:9: format: this file is format 'tproutine/2'")
    assert sorted(p.name for p in library.iterdir()) == ["low-back.yaml", "neck-reset.yaml"]

    assert main(["add", "neck-reset.yaml"]) == 0
    assert "is already in your library, unchanged" in capsys.readouterr().out


def test_add_asks_for_force_or_a_new_name(
    tmp_path: Path, private_folders: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    library = tmp_path / "data" / "tproutine" / "routines"
    assert main(["new", "Neck reset", "-o", "a.yaml"]) == 0
    assert main(["new", "neck RESET", "-o", "b.yaml"]) == 0
    assert main(["add", "a.yaml"]) == 0
    capsys.readouterr()
    assert main(["add", "b.yaml"]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"b.yaml: a routine named 'Neck reset' is already in your library, in "
        f"{library / 'a.yaml'}. Use --force to replace it, or give this one another name "
        "(change `name:` in b.yaml) and add it again.\n"
    )
    assert main(["add", "--force", "b.yaml"]) == 0
    assert capsys.readouterr().out == f"b.yaml: replaced {library / 'a.yaml'} with 'neck RESET'\n"
    assert load_routine(library / "a.yaml").routine.name == "neck RESET"


# --- the headless core -------------------------------------------------------------------


def test_the_share_commands_import_no_tui_or_bluetooth() -> None:
    code = (
        "import sys\n"
        "import tproutine.commands.share, tproutine.share.handout, tproutine.share.library\n"
        "import tproutine.share.starter\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'textual', 'bleak', 'bumble', 'rich'})\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""

"""Finding a routine by file, ``-``, file stem or name; then the commands that use it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tproutine.cli import main
from tproutine.paths import bundled_routines_dir
from tproutine.share.find import STDIN_NAME, FindError, find_routine

BIN = Path(sys.executable).parent


def routine(name: str, *, tags: str = "[]") -> str:
    return (
        f"format: tproutine/1\nname: {name}\ntags: {tags}\nget_ready: 0s\n"
        "steps:\n  - stretch: Reach\n    duration: 10s\n"
    )


@pytest.fixture
def library(tmp_path: Path) -> tuple[tuple[Path, str], ...]:
    """The person's own folder and a bundled one, each with a few routines."""
    yours, bundled = tmp_path / "yours", tmp_path / "bundled"
    yours.mkdir()
    bundled.mkdir()
    (bundled / "low-back.yaml").write_text(routine("Low back release"))
    (bundled / "neck-shoulders.yaml").write_text(routine("Neck and shoulders"))
    (bundled / "tension-headache.yml").write_text(routine("Tension-type headache routine"))
    (bundled / "broken.yaml").write_text("format: tproutine/1\nname: [not, a, name\n")
    (yours / "desk-neck.yaml").write_text(routine("Desk neck reset"))
    return ((yours, "yours"), (bundled, "bundled"))


def found(text: str, library: tuple[tuple[Path, str], ...]) -> str:
    ref = find_routine(text, folders=library)
    assert ref.path is not None
    return ref.path.name


@pytest.mark.parametrize(
    ("typed", "file"),
    [
        ("low-back", "low-back.yaml"),  # the file stem
        ("LOW-BACK.yaml", "low-back.yaml"),  # the file name, any case
        ("tension-headache", "tension-headache.yml"),
        ("Low back release", "low-back.yaml"),  # the routine's name
        ("  neck AND   shoulders ", "neck-shoulders.yaml"),  # spaces and case do not matter
        ("headache", "tension-headache.yml"),  # a word of the name
        ("desk reset", "desk-neck.yaml"),  # every word, in the stem or the name
        ("broken", "broken.yaml"),  # an invalid file is found (the loader then says why)
    ],
)
def test_a_routine_is_found_by_stem_name_or_words(
    library: tuple[tuple[Path, str], ...], typed: str, file: str
) -> None:
    assert found(typed, library) == file


def test_an_ambiguous_name_lists_every_candidate(library: tuple[tuple[Path, str], ...]) -> None:
    with pytest.raises(FindError) as caught:
        find_routine("neck", folders=library)
    lines = caught.value.lines
    assert (
        lines[0]
        == "'neck' matches 2 routines; name one by its file name (first column) or give a path:"
    )
    assert [line.split()[0] for line in lines[1:]] == ["desk-neck", "neck-shoulders"]
    assert "Desk neck reset  (yours: " in lines[1] and "Neck and shoulders  (bundled: " in lines[2]


def test_the_same_stem_in_both_folders_is_ambiguous_too(
    library: tuple[tuple[Path, str], ...],
) -> None:
    (yours, _), (bundled, _) = library
    (yours / "low-back.yaml").write_text(routine("My low back"))
    with pytest.raises(FindError) as caught:
        find_routine("low-back", folders=library)
    assert str(yours / "low-back.yaml") in caught.value.lines[1]
    assert str(bundled / "low-back.yaml") in caught.value.lines[2]


def test_an_exact_stem_beats_a_name_and_a_name_beats_words(
    library: tuple[tuple[Path, str], ...],
) -> None:
    (yours, _), _ = library
    # "neck-shoulders" is a stem; this routine only mentions it in its name.
    (yours / "other.yaml").write_text(routine("neck-shoulders but mine"))
    assert found("neck-shoulders", library) == "neck-shoulders.yaml"
    (yours / "reset.yaml").write_text(routine("Desk"))
    assert found("desk", library) == "reset.yaml"  # the exact name, not desk-neck's words


def test_nothing_found_says_so_and_suggests_the_nearest(
    library: tuple[tuple[Path, str], ...],
) -> None:
    with pytest.raises(FindError) as caught:
        find_routine("low-bak", folders=library)
    assert caught.value.lines == [
        "low-bak: no such file, and no routine in your library by that name; "
        "did you mean 'low-back'?"
    ]
    with pytest.raises(FindError) as caught:
        find_routine("zzz", folders=library)
    assert caught.value.lines[0].endswith("; `tproutine` lists the library")


def test_files_and_paths_are_taken_as_they_are(
    library: tuple[tuple[Path, str], ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "low-back").write_text(routine("A file in the current folder"))
    ref = find_routine("low-back", folders=library)
    assert ref.path == Path("low-back") and ref.shown == "low-back"
    # Written as a path, it is a path, even when missing (the loader says so).
    ref = find_routine("sub/low-back.yaml", folders=library)
    assert ref.path == Path("sub/low-back.yaml")
    # `-` is a file called "-" unless the command reads standard input.
    assert find_routine("-", folders=library).path == Path("-")
    stdin = find_routine("-", stdin=True, folders=library)
    assert stdin.path is None and stdin.shown == STDIN_NAME


def test_standard_input_is_read_with_the_file_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from tproutine.yamlsafe import LoadError

    class Piped(io.TextIOWrapper):
        def isatty(self) -> bool:
            return False

    monkeypatch.setattr(sys, "stdin", Piped(io.BytesIO(b"x" * (1024 * 1024 + 10))))
    with pytest.raises(LoadError) as caught:
        find_routine("-", stdin=True).read()
    assert "more than 1,048,576 bytes" in str(caught.value)


# ---------------------------------------------------------------- the commands


@pytest.fixture
def private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_show_and_export_find_a_bundled_routine_by_name(
    private: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "low-back"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("Low back release: 30 segments")
    assert main(["show", "Neck and shoulders", "--json"]) == 0
    assert '"name": "Neck and shoulders"' in capsys.readouterr().out
    assert main(["export", "low back", "--format", "md", "-o", "h.md"]) == 0
    assert (private / "h.md").read_text(encoding="utf-8").startswith("# Low back release")


def test_the_persons_own_routines_are_found_too(
    private: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = private / "data" / "tproutine" / "routines"
    mine.mkdir(parents=True)
    (mine / "my-neck.yaml").write_text(routine("My neck"))
    assert main(["show", "my-neck"]) == 0
    assert "My neck: 1 segments" in capsys.readouterr().out
    # "neck" is now both the bundled neck routine and this one: both are listed.
    assert main(["show", "neck"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("'neck' matches 2 routines")
    assert {line.split()[0] for line in err[1:]} == {"my-neck", "neck-shoulders"}


def test_run_finds_a_bundled_routine_and_records_where_it_is(private: Path) -> None:
    env = {"XDG_DATA_HOME": str(private / "data"), "XDG_CONFIG_HOME": str(private / "config")}
    args = ["run", "jaw-tmj", "--plain", "--yes", "--adapter", "none", "--speed", "1000"]
    result = subprocess.run(
        [str(BIN / "tproutine"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env},
        cwd=private,
    )
    assert result.returncode == 0, result.stderr
    assert "00:00  Jaw (TMJ) relaxation" in result.stdout
    history = subprocess.run(
        [str(BIN / "tproutine"), "history", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=True,
    )
    assert str(bundled_routines_dir() / "jaw-tmj.yaml") in history.stdout


def test_run_of_an_unknown_name_is_one_line(
    private: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "low-bak", "--plain"]) == 1
    assert capsys.readouterr().err == (
        "low-bak: no such file, and no routine in your library by that name; "
        "did you mean 'low-back'?\n"
    )

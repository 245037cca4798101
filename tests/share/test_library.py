"""``add``: checked copies into the library, and nothing replaced without --force."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tproutine.share.library import AddError, add_routine, library_routines
from tproutine.yamlsafe import LoadError

ROUTINE = """\
format: tproutine/1
name: {name}
steps:
  - hold: Upper trapezius
    duration: {seconds}s
"""


def _write(folder: Path, file: str, name: str = "Neck reset", seconds: int = 30) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file
    path.write_text(ROUTINE.format(name=name, seconds=seconds), encoding="utf-8")
    return path


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    return tmp_path / "inbox"


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return tmp_path / "data" / "routines"  # not created yet: add makes it


def test_add_copies_the_file_byte_for_byte(inbox: Path, library: Path) -> None:
    source = _write(inbox, "neck.yaml")
    source.write_bytes(source.read_bytes() + b"# a comment, kept\n")
    done = add_routine(source, library=library)
    assert done.outcome == "added"
    assert done.target == library / "neck.yaml"
    assert done.name == "Neck reset"
    assert done.target.read_bytes() == source.read_bytes()
    # ...so the content hash that history records is the practitioner's.
    assert (
        hashlib.sha256(done.target.read_bytes()).digest()
        == hashlib.sha256(source.read_bytes()).digest()
    )


def test_add_uses_the_user_routines_dir_by_default(
    inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    done = add_routine(_write(inbox, "neck.yaml"))
    assert done.target == tmp_path / "xdg" / "tproutine" / "routines" / "neck.yaml"
    assert done.target.is_file()


def test_an_invalid_file_is_refused_with_the_usual_errors(inbox: Path, library: Path) -> None:
    bad = inbox / "bad.yaml"
    inbox.mkdir()
    bad.write_text("format: tproutine/1\nname: Bad\nsteps:\n  - hold: X\n    duration: 1m70s\n")
    with pytest.raises(LoadError) as err:
        add_routine(bad, library=library)
    assert [str(p) for p in err.value.problems] == [
        f"{bad}:5:15: steps[0].duration: '1m70s' is not a duration: seconds after minutes go "
        "up to 59 (use 45s, 2m, 1m30s or 1:30)"
    ]
    assert not library.exists()


def test_a_file_past_the_timeline_limits_is_refused(inbox: Path, library: Path) -> None:
    inbox.mkdir()
    big = inbox / "big.yaml"
    big.write_text(
        "format: tproutine/1\nname: Big\nsteps:\n"
        "  - repeat: 100\n    steps:\n      - hold: X\n        duration: 1h\n"
    )
    with pytest.raises(LoadError, match="the limit is 8 h"):
        add_routine(big, library=library)
    assert not library.exists()


def test_a_missing_file_is_a_load_error(library: Path, tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no such file"):
        add_routine(tmp_path / "nope.yaml", library=library)


def test_the_same_file_again_changes_nothing(inbox: Path, library: Path) -> None:
    source = _write(inbox, "neck.yaml")
    add_routine(source, library=library)
    again = add_routine(source, library=library)
    assert again.outcome == "unchanged"
    # Adding the library's own copy is the same thing.
    assert add_routine(library / "neck.yaml", library=library).outcome == "unchanged"
    assert sorted(p.name for p in library.iterdir()) == ["neck.yaml"]


def test_a_new_version_needs_force(inbox: Path, library: Path) -> None:
    add_routine(_write(inbox, "neck.yaml"), library=library)
    newer = _write(inbox / "later", "neck.yaml", seconds=45)
    with pytest.raises(AddError) as err:
        add_routine(newer, library=library)
    assert str(err.value) == (
        f"{newer}: {library / 'neck.yaml'} is already in your library (another version of "
        "this routine). Use --force to replace it, or rename the file and add it again."
    )
    assert "30s" in (library / "neck.yaml").read_text()
    done = add_routine(newer, force=True, library=library)
    assert done.outcome == "replaced"
    assert (library / "neck.yaml").read_bytes() == newer.read_bytes()
    assert sorted(p.name for p in library.iterdir()) == ["neck.yaml"]  # no temporary left


def test_the_same_file_name_for_another_routine_needs_force(inbox: Path, library: Path) -> None:
    add_routine(_write(inbox, "routine.yaml", name="Jaw"), library=library)
    other = _write(inbox / "b", "routine.yaml", name="Calves")
    with pytest.raises(AddError, match=r"already in your library \(the routine 'Jaw'\)"):
        add_routine(other, library=library)
    assert add_routine(other, force=True, library=library).outcome == "replaced"


def test_an_invalid_file_in_the_library_is_still_not_overwritten(
    inbox: Path, library: Path
) -> None:
    library.mkdir(parents=True)
    (library / "neck.yaml").write_text("my notes, not a routine\n")
    with pytest.raises(AddError, match=r"\(a file that is not a valid routine\)"):
        add_routine(_write(inbox, "neck.yaml"), library=library)
    assert (library / "neck.yaml").read_text() == "my notes, not a routine\n"


def test_the_same_routine_name_in_another_file_is_refused(inbox: Path, library: Path) -> None:
    add_routine(_write(inbox, "neck.yaml"), library=library)
    clash = _write(inbox, "neck-v2.yaml", name="  neck   RESET ", seconds=50)
    with pytest.raises(AddError) as err:
        add_routine(clash, library=library)
    message = str(err.value)
    assert message == (
        f"{clash}: a routine named 'Neck reset' is already in your library, in "
        f"{library / 'neck.yaml'}. Use --force to replace it, or give this one another name "
        f"(change `name:` in {clash}) and add it again."
    )
    assert sorted(p.name for p in library.iterdir()) == ["neck.yaml"]


def test_force_replaces_the_routine_of_the_same_name_where_it_is(
    inbox: Path, library: Path
) -> None:
    add_routine(_write(inbox, "neck.yaml"), library=library)
    add_routine(_write(inbox, "jaw.yaml", name="Jaw"), library=library)
    clash = _write(inbox, "jaw.yaml", name="Neck reset", seconds=50)  # named like neck.yaml
    done = add_routine(clash, force=True, library=library)
    assert done.outcome == "replaced"
    assert done.target == library / "neck.yaml"
    assert "50s" in (library / "neck.yaml").read_text()
    assert "name: Jaw" in (library / "jaw.yaml").read_text()  # the file-name twin is untouched


def test_identical_content_under_another_file_name_is_unchanged(inbox: Path, library: Path) -> None:
    add_routine(_write(inbox, "neck.yaml"), library=library)
    copy = _write(inbox, "copy-of-neck.yaml")
    done = add_routine(copy, library=library)
    assert done.outcome == "unchanged"
    assert done.target == library / "neck.yaml"
    assert sorted(p.name for p in library.iterdir()) == ["neck.yaml"]


def test_a_non_yaml_name_is_kept_as_yaml_so_the_library_lists_it(
    inbox: Path, library: Path
) -> None:
    assert add_routine(_write(inbox, "neck.txt"), library=library).target == library / "neck.yaml"
    upper = _write(inbox, "JAW.YAML", name="Jaw")
    assert add_routine(upper, library=library).target == library / "JAW.yaml"
    yml = _write(inbox, "calf.yml", name="Calf")
    assert add_routine(yml, library=library).target == library / "calf.yml"
    assert sorted(n for _, n in library_routines(library)) == ["Calf", "Jaw", "Neck reset"]


def test_an_unwritable_library_is_an_add_error(inbox: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(AddError, match=r"cannot write .*blocker/routines/neck.yaml"):
        add_routine(_write(inbox, "neck.yaml"), library=blocker / "routines")


def test_library_routines_skips_what_is_not_a_valid_routine(library: Path) -> None:
    _write(library, "ok.yaml", name="Fine")
    (library / "broken.yaml").write_text("format: tproutine/1\n")
    (library / "notes.txt").write_text(ROUTINE.format(name="Hidden", seconds=5))
    (library / "folder.yaml").mkdir()
    assert list(library_routines(library)) == [(library / "ok.yaml", "Fine")]
    assert list(library_routines(library / "missing")) == []

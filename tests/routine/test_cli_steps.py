"""The commands around catalogues: ``steps``, ``new --steps``, ``validate`` of a catalogue,
and ``show``, ``export`` and ``run`` of a routine written only of ``use:`` lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.routine import HEAD, ROOT
from tests.routine.conftest import Catalogues
from tproutine.cli import main

ONLY_USE = (
    HEAD + "steps:\n  - use: upper-trap\n  - use: doorway\n    reps: 1\n  - use: slow-breath\n"
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# --- tproutine steps ----------------------------------------------------------------------


def test_steps_lists_every_step_by_catalogue(
    catalogues: Catalogues, capsys: pytest.CaptureFixture[str]
) -> None:
    catalogues.write(
        "mine.yaml",
        "format: tproutine-steps/1\nname: Mine\nsteps:\n"
        "  my-calf: {hold: Calf, area: calf, duration: 45s, side: left}\n",
        bundled=False,
    )
    code, out, err = run(capsys, "steps")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Neck (bundled)"
    assert lines[1].split() == [
        "upper-trap",
        "hold",
        "·",
        "Upper",
        "trapezius",
        "45s",
        "×2,",
        "alternating",
        "sides",
        "top",
        "of",
        "the",
        "shoulder",
    ]
    assert f"Mine (yours: {catalogues.user / 'mine.yaml'})" in lines
    assert "  my-calf" in out and "45s, left side" in out
    assert lines[-1].startswith("5 steps. Use one in a routine with `- use: ID`")


def test_steps_json(catalogues: Catalogues, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "steps", "--json")
    assert code == 0
    data = json.loads(out)
    assert [s["id"] for s in data] == ["upper-trap", "doorway", "slow-breath", "shoulders-gun"]
    assert data[0] == {
        "id": "upper-trap",
        "kind": "hold",
        "title": "Upper trapezius",
        "area": "top of the shoulder",
        "tool": "your fingers",
        "duration_s": 45.0,
        "reps": 2,
        "side": "both",
        "alternate": True,
        "pressure": 5,
        "device": None,
        "catalogue": "Neck",
        "region": "neck",
        "bundled": True,
        "file": str(catalogues.bundled / "neck.yaml"),
        "line": 6,
    }
    assert data[3]["device"] == {"ramp": [20.0, 40.0]}


def test_steps_area(catalogues: Catalogues, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "steps", "--area", "SHOULDER", "--json")
    assert code == 0 and [s["id"] for s in json.loads(out)] == ["upper-trap"]
    code, out, _ = run(capsys, "steps", "--area", "neck", "--json")
    assert len(json.loads(out)) == 4  # the catalogue's name matches every step in it
    code, out, err = run(capsys, "steps", "--area", "knee")
    assert (code, out) == (1, "")
    assert err == "tproutine: no steps for the area 'knee' (try: neck)\n"


def test_steps_id_shows_the_step_as_written(
    catalogues: Catalogues, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "steps", "doorway")
    assert code == 0
    assert out == (
        f"# doorway: Neck, {catalogues.bundled / 'neck.yaml'}:20:3\n"
        "doorway:\n  stretch: Doorway chest stretch\n  duration: 30s\n  reps: 2\n"
    )
    code, out, _ = run(capsys, "steps", "doorway", "--json")
    assert json.loads(out)[0]["step"] == {
        "stretch": "Doorway chest stretch",
        "duration": "30s",
        "reps": 2,
    }
    code, out, err = run(capsys, "steps", "dorway")
    assert (code, out) == (1, "")
    assert err == "tproutine: no catalogue step 'dorway' (did you mean doorway?)\n"


def test_steps_reports_catalogue_mistakes_and_still_lists(
    catalogues: Catalogues, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = catalogues.write(
        "bad.yaml", "format: tproutine-steps/1\nname: Bad\nsteps:\n  a: 5\n", bundled=False
    )
    code, out, err = run(capsys, "steps")
    assert code == 1
    assert err.startswith(f"{bad}:4:6: steps.a: a catalogue step is a mapping")
    assert "upper-trap" in out


def test_steps_output_is_safe_for_a_terminal(
    catalogues: Catalogues, capsys: pytest.CaptureFixture[str]
) -> None:
    catalogues.write(
        "mine.yaml",
        'format: tproutine-steps/1\nname: "Mine\\u2028x"\nsteps:\n'
        '  a: {hold: "A\\u0085B", duration: 5s}\n',
        bundled=False,
    )
    _, out, _ = run(capsys, "steps")
    assert "\x85" not in out and "\u2028" not in out


# --- validate, show, export and run ------------------------------------------------------


def test_validate_a_catalogue(catalogues: Catalogues, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "validate", str(catalogues.bundled / "neck.yaml"))
    assert (code, err) == (0, "")
    assert out == f"{catalogues.bundled / 'neck.yaml'}: ok (a step catalogue of 4 steps)\n"
    other = catalogues.write(
        "../other.yaml",
        "format: tproutine-steps/1\nname: O\nsteps:\n  doorway: {stretch: D, duration: 5s}\n",
    )
    code, out, err = run(capsys, "validate", str(other))
    assert (code, out) == (1, "")
    assert err == (
        f"{other}:4:3: steps.doorway: 'doorway' is already a step in "
        f"{catalogues.bundled / 'neck.yaml'}:20:3 (ids are unique across all catalogues: "
        "choose another)\n"
    )


def test_show_a_catalogue_says_what_it_is(
    catalogues: Catalogues, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "show", str(catalogues.bundled / "neck.yaml"))
    assert code == 1
    assert err == (
        f"{catalogues.bundled / 'neck.yaml'}:1:9: format: this is a step catalogue, not a "
        "routine (a routine uses its steps with `- use: ID`; `tproutine steps` lists them)\n"
    )


def test_show_and_export_a_routine_of_only_use_lines(
    catalogues: Catalogues, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(ONLY_USE)
    code, out, _ = run(capsys, "show", str(path), "--json")
    assert code == 0
    segments = json.loads(out)["segments"]
    work = [s["title"] for s in segments if s["kind"] in ("hold", "stretch", "breathe")]
    assert work == [*["Upper trapezius"] * 4, "Doorway chest stretch", "Slow breathing"]
    code, out, _ = run(capsys, "export", str(path), "--format", "md")
    assert code == 0
    assert "Squeeze until it is about a 5 out of 10." in out
    assert "Doorway chest stretch" in out and "does not replace medical care" in out


def test_run_a_routine_of_only_use_lines(tmp_path: Path) -> None:
    steps = tmp_path / "config" / "tproutine" / "steps"
    steps.mkdir(parents=True)
    (steps / "mine.yaml").write_text(
        "format: tproutine-steps/1\nname: Mine\nsteps:\n"
        "  my-hold: {hold: My hold, duration: 3s, pressure: 4,"
        " cues: [{at: 0s, say: 'Press to a {pressure}.'}]}\n"
        "  my-stretch: {stretch: My stretch, duration: 2s}\n"
    )
    routine = tmp_path / "r.yaml"
    routine.write_text(
        HEAD + "get_ready: 0s\nsteps:\n  - use: my-hold\n    pressure: 3\n  - use: my-stretch\n"
    )
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tproutine",
            "run",
            str(routine),
            "--plain",
            "--speed",
            "50",
            "--adapter",
            "none",
            "--yes",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "My hold" in proc.stdout and "Press to a 3." in proc.stdout
    assert "My stretch" in proc.stdout


# --- tproutine new --steps ----------------------------------------------------------------


def test_new_from_steps(
    catalogues: Catalogues,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(
        capsys, "new", 'Neck: "quick" #1', "--steps", "upper-trap, doorway,,slow-breath,doorway"
    )
    assert (code, err) == (0, "")
    path = tmp_path / "neck-quick-1.yaml"
    assert out.startswith(f"wrote {path.name}")
    text = path.read_text()
    data = yaml.safe_load(text)
    assert data["name"] == 'Neck: "quick" #1'
    assert data["steps"] == [
        {"use": i} for i in ["upper-trap", "doorway", "slow-breath", "doorway"]
    ]
    assert data["safety"]["warnings"] == [
        "Stop at once if you feel numbness, tingling, or sharp or shooting pain."
    ]
    assert "does not replace medical care" in data["description"]
    assert data["summary"] == "About 7 minutes: neck"
    assert "  - use: upper-trap   # hold · Upper trapezius, 45s ×2, alternating sides" in text
    code, out, _ = run(capsys, "validate", str(path))
    assert (code, out) == (0, f"{path}: ok\n")


def test_new_from_unknown_steps_writes_nothing(
    catalogues: Catalogues,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "new", "X", "--steps", "upper-trp,doorway,zzz")
    assert (code, out) == (1, "")
    assert err == (
        "unknown catalogue step 'upper-trp' (did you mean upper-trap?); unknown catalogue "
        "step 'zzz'; `tproutine steps` lists every step\n"
    )
    code, _, err = run(capsys, "new", "X", "--steps", " , ")
    assert code == 1 and "at least one catalogue id" in err
    assert list(tmp_path.glob("*.yaml")) == []


def test_new_from_steps_with_odd_catalogue_text(
    catalogues: Catalogues,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Text from a catalogue lands in comments, the description and the safety lists:
    # none of it may change the structure of the file written.
    catalogues.write(
        "odd.yaml",
        'format: tproutine-steps/1\nname: "A: b # c"\n'
        'safety: {warnings: ["- x: y", "#z"], avoid_if: ["\'q\'"]}\nsteps:\n'
        '  odd: {hold: "T: \\"x\\" # y\\nz", duration: 5s}\n',
    )
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "new", "X", "--steps", "odd")
    assert (code, err) == (0, "")
    data = yaml.safe_load((tmp_path / "x.yaml").read_text())
    assert data["steps"] == [{"use": "odd"}]
    assert data["safety"]["warnings"][1:] == ["- x: y", "#z"]
    assert data["safety"]["avoid_if"] == ["'q'"]
    assert data["tags"] == ["neck", "odd"][1:]


@pytest.mark.parametrize("args", [["steps"], ["steps", "--json"], ["schema"]])
def test_steps_imports_no_tui_and_no_bluetooth(args: list[str]) -> None:
    from tests.routine.test_imports import run as run_fresh

    result = run_fresh(args)
    assert result["heavy"] == []


# --- tproutine add of a catalogue ---------------------------------------------------------


def test_add_a_catalogue_with_the_routine_that_uses_it(
    catalogues: Catalogues,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    sent = tmp_path / "sent"
    sent.mkdir()
    (sent / "my-steps.yaml").write_text(
        "format: tproutine-steps/1\nname: Mine\nsteps:\n  my-calf: {hold: Calf, duration: 45s}\n"
    )
    (sent / "calf.yaml").write_text(HEAD + "steps:\n  - use: my-calf\n  - use: doorway\n")
    # The routine first on the command line: the catalogue is still added before it.
    code, out, err = run(capsys, "add", str(sent / "calf.yaml"), str(sent / "my-steps.yaml"))
    assert (code, err) == (0, "")
    installed = catalogues.user / "my-steps.yaml"
    assert out.splitlines()[0] == (
        f"{sent / 'my-steps.yaml'}: added the step catalogue 'Mine' ({installed})"
    )
    assert "added 'Test' to your library" in out.splitlines()[1]
    assert installed.read_bytes() == (sent / "my-steps.yaml").read_bytes()
    code, out, _ = run(capsys, "add", str(sent / "my-steps.yaml"))
    assert code == 0 and "already in your steps folder" in out
    # Another file of that name is replaced only with --force ...
    (sent / "my-steps.yaml").write_text(
        "format: tproutine-steps/1\nname: Mine 2\nsteps:\n  my-calf: {hold: Calf, duration: 30s}\n"
    )
    code, _, err = run(capsys, "add", str(sent / "my-steps.yaml"))
    assert code == 1 and "Use --force to replace it" in err
    assert run(capsys, "add", "--force", str(sent / "my-steps.yaml"))[0] == 0
    # ... and a catalogue whose id is already a step here is refused.
    (sent / "other.yaml").write_text(
        "format: tproutine-steps/1\nname: O\nsteps:\n  doorway: {stretch: D, duration: 5s}\n"
    )
    code, out, err = run(capsys, "add", str(sent / "other.yaml"))
    assert (code, out) == (1, "")
    assert err.startswith(f"{sent / 'other.yaml'}:4:3: steps.doorway: 'doorway' is already a step")
    assert not (catalogues.user / "other.yaml").exists()


def test_new_from_bundled_steps_has_one_stop_rule_and_the_regions_worked_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ids = "slow-breathing-seated,upper-trapezius-pinch,doorway-chest-stretch,finish-breathing"
    assert run(capsys, "new", "Desk neck", "--steps", ids)[0] == 0
    data = yaml.safe_load((tmp_path / "desk-neck.yaml").read_text())
    warnings = data["safety"]["warnings"]
    assert [w for w in warnings if w.startswith("Stop at once")] == [warnings[0]]
    # Breathing steps bring no region, no tags and no safety lists of their own.
    assert data["tags"] == ["neck-shoulders", "chest"]
    assert data["summary"].endswith(": neck and shoulders, chest and front of the shoulders")
    assert "In this routine: upper trapezius, doorway chest stretch." in data["description"]
    assert not any("pulse" in w for w in warnings)  # from the breathing catalogue's list

"""`tproutine validate`, `show [--json]` and `schema` as the CLI contract describes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.routine import BUNDLED, HEAD, SPEC_EXAMPLE
from tproutine.cli import main

QL = "Quadratus lumborum"
CUES = [
    {"at_s": 0.0, "say": "Ease onto the ball until the discomfort is about a 6 out of 10."},
    {"at_s": 50.0, "say": "Ten seconds left. Keep breathing."},
]


def seg(
    index: int,
    kind: str,
    title: str,
    start: float,
    duration: float,
    side: str | None = None,
    rep: int | None = None,
    device: dict[str, Any] | None = None,
    cues: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "index": index,
        "kind": kind,
        "title": title,
        "start_s": start,
        "duration_s": duration,
        "side": side,
        "rep": rep,
        "device": device,
    }
    if cues:
        out["cues"] = cues
    return out


# The spec's complete example, segment by segment.
SPEC_JSON = {
    "name": "Lower back release",
    "total_s": 655.0,
    "segments": [
        seg(0, "get_ready", "Get ready", 0.0, 5.0),
        seg(1, "hold", QL, 5.0, 60.0, "left", 1, cues=CUES),
        seg(2, "rest", "Rest", 65.0, 10.0),
        seg(3, "hold", QL, 75.0, 60.0, "left", 2, cues=CUES),
        seg(4, "switch", "Switch sides", 135.0, 5.0),
        seg(5, "hold", QL, 140.0, 60.0, "right", 1, cues=CUES),
        seg(6, "rest", "Rest", 200.0, 10.0),
        seg(7, "hold", QL, 210.0, 60.0, "right", 2, cues=CUES),
        seg(8, "stretch", "Child's pose", 270.0, 30.0, None, 1),
        seg(9, "rest", "Rest", 300.0, 10.0),
        seg(10, "stretch", "Child's pose", 310.0, 30.0, None, 2),
        seg(11, "rest", "Rest", 340.0, 10.0),
        seg(12, "stretch", "Child's pose", 350.0, 30.0, None, 3),
        seg(13, "massage", "Glutes", 380.0, 90.0, None, 1, {"from": 20.0, "to": 50.0}),
        seg(14, "breathe", "Slow breathing", 470.0, 60.0, None, 1),
        seg(15, "rest", "Rest", 530.0, 20.0),
        seg(16, "hold", "Piriformis", 550.0, 45.0, "left", 1, {"from": 30.0, "to": 30.0}),
        seg(17, "rest", "Rest", 595.0, 15.0),
        seg(18, "hold", "Piriformis", 610.0, 45.0, "left", 1, {"from": 30.0, "to": 30.0}),
    ],
}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_show_json_of_the_specs_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "show", str(SPEC_EXAMPLE), "--json")
    assert (code, err) == (0, "")
    assert out.count("\n") == 1  # one JSON document on one line
    data = json.loads(out)
    assert data == SPEC_JSON
    assert list(data) == ["name", "total_s", "segments"]
    for s in data["segments"]:
        keys = ["index", "kind", "title", "start_s", "duration_s", "side", "rep", "device"]
        assert list(s) == keys + (["cues"] if "cues" in s else [])
        assert isinstance(s["start_s"], float) and isinstance(s["duration_s"], float)


def test_show_json_devices_levels_and_rest_cues(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        HEAD + "get_ready: 0s\nsteps:\n"
        "  - massage: A\n    duration: 10s\n    device: {level: 3}\n"
        "  - massage: B\n    duration: 10s\n    device: {intensity: 0%}\n"
        "  - rest: 20s\n    cues: [{at: -5s, say: Ready}]\n"
        "  - breathe: C\n    duration: 10s\n    device: off\n    cues: []\n"
    )
    code, out, _ = run(capsys, "show", str(path), "--json")
    assert code == 0
    assert json.loads(out) == {
        "name": "Test",
        "total_s": 50.0,
        "segments": [
            seg(0, "massage", "A", 0.0, 10.0, None, 1, {"level": 3}),
            seg(1, "massage", "B", 10.0, 10.0, None, 1, {"from": 0.0, "to": 0.0}),
            seg(2, "rest", "Rest", 20.0, 20.0, cues=[{"at_s": 15.0, "say": "Ready"}]),
            seg(3, "breathe", "C", 40.0, 10.0, None, 1),
        ],
    }


def test_show_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "show", str(SPEC_EXAMPLE))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["start", "segment", "side", "rep", "time", "device"]
    assert lines[2].split() == ["00:00", "Get", "ready", "5s"]
    assert lines[3].split() == ["00:05", "Hold", "·", "Quadratus", "lumborum", "left", "1/2", "1m"]
    assert "20→50%" in out
    assert lines[-1] == "Lower back release: 19 segments, total 10m55s (10:55)"
    assert "device-specific" not in out


def test_show_table_says_when_a_routine_is_device_specific(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(HEAD + "steps:\n  - massage: A\n    duration: 10s\n    device: {level: 3}\n")
    code, out, _ = run(capsys, "show", str(path))
    assert code == 0
    assert "level 3" in out
    assert out.rstrip().endswith("so it is device-specific")


def test_show_of_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + "steps: []\n")
    assert run(capsys, "show", str(path), "--json") == (
        1,
        "",
        f"{path}:3:8: steps: there must be at least one step\n",
    )


def test_validate_prints_ok_per_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "validate", str(SPEC_EXAMPLE)) == (0, f"{SPEC_EXAMPLE}: ok\n", "")


@pytest.mark.skipif(not BUNDLED, reason="routines/ holds no routine yet")
def test_every_bundled_routine_validates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "validate", *map(str, BUNDLED))
    assert err == ""
    assert code == 0
    assert out.splitlines() == [f"{p}: ok" for p in BUNDLED]


@pytest.mark.skipif(not BUNDLED, reason="routines/ holds no routine yet")
@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_every_bundled_routine_shows(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "show", str(path), "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["segments"]
    assert data["total_s"] == pytest.approx(sum(s["duration_s"] for s in data["segments"]))


def test_schema_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "schema")
    assert (code, err) == (0, "")
    assert json.loads(out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize(
    "args", [["validate"], ["show"], ["show", "a.yaml", "--bogus"], ["schema", "extra"]]
)
def test_wrong_usage_exits_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "usage: tproutine" in err


@pytest.mark.parametrize("command", ["validate", "show", "schema"])
def test_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"usage: tproutine {command}" in capsys.readouterr().out

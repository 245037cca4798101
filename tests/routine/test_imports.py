"""`validate`, `show` and `schema` never import Textual, bleak or Bumble.

Each command runs in a fresh interpreter (a subprocess), so that nothing another
test imported can hide a heavy import, and reports what ended up in sys.modules.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.routine import ROOT, SPEC_EXAMPLE

HEAVY = ("textual", "bleak", "bumble")

SCRIPT = """
import contextlib, io, json, sys
from tproutine.cli import main
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    code = main(sys.argv[1:])
{extra}
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {heavy!r})
print(json.dumps({{"code": code, "heavy": heavy, "out": len(out.getvalue())}}))
"""


def run(args: list[str], extra: str = "", heavy: tuple[str, ...] = HEAVY) -> dict[str, object]:
    script = SCRIPT.format(extra=extra, heavy=set(heavy))
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "args",
    [
        ["validate", str(SPEC_EXAMPLE)],
        ["show", str(SPEC_EXAMPLE)],
        ["show", str(SPEC_EXAMPLE), "--json"],
        ["schema"],
        ["validate", "no-such-file.yaml"],
    ],
    ids=["validate", "show", "show-json", "schema", "validate-missing"],
)
def test_fast_commands_import_no_tui_and_no_bluetooth(args: list[str]) -> None:
    result = run(args)
    assert result["heavy"] == []
    assert result["code"] == (1 if "no-such-file.yaml" in args else 0)


def test_the_check_would_see_a_heavy_import() -> None:
    # The same measurement, with Textual imported on purpose, must report it.
    pytest.importorskip("textual")
    result = run(["schema"], extra="import textual")
    assert result["heavy"] == ["textual"]


# A routine written out, and a bundled one built on catalogue steps (`- use: ID`).
VALID = [SPEC_EXAMPLE, ROOT / "routines" / "low-back.yaml"]


@pytest.mark.parametrize("path", VALID, ids=["written-out", "uses-catalogue-steps"])
@pytest.mark.parametrize("command", ["validate", "show"])
def test_a_valid_file_is_checked_without_pydantic(command: str, path: Path) -> None:
    # pydantic costs more start-up than the rest of the command: it loads only to
    # explain a file with mistakes (routine/quick.py, routine/quickuse.py).
    assert path.is_file()
    result = run([command, str(path)], heavy=("pydantic",))
    assert result["code"] == 0 and result["heavy"] == []
    assert isinstance(result["out"], int) and result["out"] > 0


@pytest.mark.parametrize("command", ["validate", "show"])
def test_a_one_file_command_finds_folders_and_sizes_its_help_without_their_modules(
    command: str,
) -> None:
    # platformdirs (6-10 ms) for the person's folders, shutil (zlib, bz2, lzma: 3 ms)
    # for argparse's help width: tproutine.paths and cli._Help do without them.
    result = run(
        [command, str(ROOT / "routines" / "low-back.yaml")], heavy=("platformdirs", "shutil")
    )
    assert result["heavy"] == [] and result["code"] == 0


@pytest.mark.parametrize("path", VALID, ids=["written-out", "uses-catalogue-steps"])
@pytest.mark.parametrize("command", ["validate", "show"])
def test_a_one_file_command_builds_its_values_without_dataclasses(command: str, path: Path) -> None:
    # dataclasses and the inspect it imports, with each frozen class's methods
    # compiled at import, were 18 ms of these commands: their values are
    # tproutine.frozen.Frozen classes.
    result = run([command, str(path)], heavy=("dataclasses", "inspect"))
    assert result["heavy"] == [] and result["code"] == 0


def test_the_help_is_as_wide_as_the_terminal_says() -> None:
    env = {**os.environ, "COLUMNS": "50"}
    proc = subprocess.run(
        [sys.executable, "-m", "tproutine", "validate", "--help"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, env=env,
    )  # fmt: skip
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and len(lines) > 4
    widest = max(map(len, lines))
    assert 40 <= widest <= 48  # wrapped at 50 columns less argparse's margin of 2

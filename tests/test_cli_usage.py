"""The command line as people know it: help for every argument, a command's own usage on a
mistake, ``-`` for standard input, and file problems without a made-up line number."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tproutine.cli import build_parser
from tproutine.paths import bundled_routines_dir

BIN = Path(sys.executable).parent
FEET = bundled_routines_dir() / "feet.yaml"


def tproutine(
    *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(BIN / "tproutine"), *args],
        input=stdin.decode() if stdin is not None else None,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, "XDG_DATA_HOME": "/nonexistent/data", "XDG_CONFIG_HOME": "/nonexistent"},
    )
    return result


def parsers(
    parser: argparse.ArgumentParser, path: str = "tproutine"
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.extend(parsers(sub, f"{path} {name}"))
    return found


def test_every_command_and_argument_is_explained() -> None:
    for path, parser in parsers(build_parser()):
        assert parser.description, f"{path} --help has no description"
        for action in parser._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
                continue
            name = "/".join(action.option_strings) or str(action.metavar or action.dest)
            assert action.help, f"{path} --help does not explain {name}"


@pytest.mark.parametrize(
    ("args", "usage"),
    [
        (["validate", "x.yaml", "--bogus"], "usage: tproutine validate"),
        (["devices", "scan", "--bogus"], "usage: tproutine devices scan"),
        (["history", "export", "--format", "md", "--zz"], "usage: tproutine history export"),
        (["show", "a", "b"], "usage: tproutine show"),
    ],
)
def test_a_wrong_option_shows_that_commands_usage(args: list[str], usage: str) -> None:
    done = tproutine(*args)
    assert done.returncode == 2
    assert done.stderr.startswith(usage), done.stderr
    assert "unrecognized arguments:" in done.stderr


def test_validate_bogus_alone_shows_validates_usage() -> None:
    done = tproutine("validate", "--bogus")
    assert done.returncode == 2 and done.stderr.startswith("usage: tproutine validate")


def test_validate_and_show_read_standard_input() -> None:
    text = FEET.read_bytes()
    done = tproutine("validate", "-", stdin=text)
    assert (done.returncode, done.stdout) == (0, "<stdin>: ok\n")
    done = tproutine("show", "-", stdin=text)
    assert done.returncode == 0
    assert done.stdout.splitlines()[-1].startswith("Feet and arches: 29 segments")
    bad = tproutine("validate", "-", stdin=b"format: tproutine/1\nname: X\nsteps: 3\n")
    assert bad.returncode == 1 and bad.stderr.startswith("<stdin>:3:8: steps: ")


def test_file_problems_name_the_file_without_a_line(tmp_path: Path) -> None:
    done = tproutine("validate", "nowhere.yaml", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "nowhere.yaml: no such file",
        f"{tmp_path}: this is a folder, not a routine file",
    ]


def test_the_docs_stand_on_their_own() -> None:
    # Readers have the docs folder and the README, not the project's working notes.
    repo = Path(__file__).resolve().parents[1]
    for page in [repo / "README.md", *sorted((repo / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        assert "spec/" not in text and "shared/" not in text, page.name

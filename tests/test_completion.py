"""Shell completion: each script is run by its own shell, asked what it completes.

bash through its completion function (``COMP_WORDS``/``COMPREPLY``, as readline
would call it), fish through ``complete -C`` (its own answer for a command line),
zsh with its completion builtins replaced by functions that print what they get.
A shell that is not installed skips its tests, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tproutine.cli import build_parser, main
from tproutine.commands.completion import commands

BIN = Path(sys.executable).parent


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The venv's tproutine first on the PATH; a library with one routine of the person's."""
    mine = tmp_path / "data" / "tproutine" / "routines"
    mine.mkdir(parents=True)
    (mine / "my-neck.yaml").write_text("format: tproutine/1\n")
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }


def shell(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (apt install {name})")
    return found


def run(args: list[str], env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_tree_is_the_parsers() -> None:
    tree = {c.path: c for c in commands(build_parser())}
    top = [name for name, _ in tree[""].subcommands]
    assert {"run", "show", "validate", "devices", "history", "completion"} <= set(top)
    assert [n for n, _ in tree["devices"].subcommands] == ["scan", "profiles", "info"]
    assert tree["run"].positional == "routines" and tree["validate"].positional == "files"
    fmt = next(o for o in tree["export"].options if "--format" in o.flags)
    assert fmt.words == ("md", "html")
    # The hidden option is nobody's business but the scripts'.
    assert all("--routines" not in o.flags for o in tree["completion"].options)


def test_completion_needs_a_shell(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["completion"])
    assert caught.value.code == 2
    assert "usage: tproutine completion" in capsys.readouterr().err


# ---------------------------------------------------------------- bash


BASH_ASK = """
source <(tproutine completion bash)
complete -p tproutine
ask() { COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
        _tproutine; echo "${COMPREPLY[*]}"; }
ask tproutine ''
ask tproutine dev
ask tproutine devices ''
ask tproutine run --ada
ask tproutine run --adapter ''
ask tproutine export x --format ''
ask tproutine run low
ask tproutine show my
ask tproutine validate dra
ask tproutine history export --f
"""


def test_bash_completes_commands_options_values_and_routines(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "draft.yaml").write_text("")
    out = run([shell("bash"), "-c", BASH_ASK], env, tmp_path).splitlines()
    assert out[0] == "complete -F _tproutine tproutine"
    commands_ = out[1].split()
    assert {"demo", "run", "validate", "show", "export", "devices", "history"} <= set(commands_)
    assert out[2:] == [
        "devices",
        "scan profiles info",
        "--adapter",
        "system sim none",
        "md html",
        "low-back",  # a bundled routine
        "my-neck",  # and one of the person's own
        "draft.yaml",  # files for validate
        "--format",
    ]


# ---------------------------------------------------------------- zsh


ZSH_ASK = """
compdef() { print -r -- "compdef $*" }
source <(tproutine completion zsh)
compadd() { print -r -- "compadd ${(j: :)${@:#-*}} ${(j: :)${(P)${@[-1]}}}" }
_describe() { print -r -- "describe ${(j:|:)${(P)2}}" }
_files() { print files }
ask() { words=("$@"); CURRENT=$#; _tproutine }
ask tproutine ''
ask tproutine devices ''
ask tproutine run --adapter ''
ask tproutine run --sp
ask tproutine run low
"""


def test_zsh_completes_commands_options_values_and_routines(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = run([shell("zsh"), "-f", "-c", ZSH_ASK], env, tmp_path).splitlines()
    assert out[0] == "compdef _tproutine tproutine"
    assert out[1].startswith("describe demo:open the app with the virtual massager connected|")
    assert out[2].startswith("describe scan:find nearby devices|profiles:")
    assert out[3].startswith("compadd system sim none")
    options = out[4].removeprefix("describe ").split("|")
    assert "--speed:run the clock N times faster" in options
    # A colon in a description is escaped, or zsh would cut the description there.
    assert any("tcp\\:HOST\\:PORT" in o for o in options)
    assert "low-back" in out[5].split() and "my-neck" in out[5].split()
    assert out[6] == "files"


# ---------------------------------------------------------------- fish


FISH_ASK = """
source (tproutine completion fish | psub)
for line in 'tproutine dev' 'tproutine devices ' 'tproutine run --ada' \\
        'tproutine run --adapter ' 'tproutine run low' 'tproutine history export --format '
    echo "== $line"
    complete -C "$line"
end
"""


def test_fish_completes_commands_options_values_and_routines(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = run([shell("fish"), "--no-config", "-c", FISH_ASK], env, tmp_path)
    answers: dict[str, list[str]] = {}
    for block in out.split("== ")[1:]:
        line, *rest = block.splitlines()
        answers[line.strip()] = [r.split("\t")[0] for r in rest]
    assert answers["tproutine dev"] == ["devices"]
    assert answers["tproutine devices"] == ["info", "profiles", "scan"]
    assert answers["tproutine run --ada"] == ["--adapter"]
    assert answers["tproutine run --adapter"] == ["none", "sim", "system"]
    assert answers["tproutine run low"] == ["low-back"]
    assert answers["tproutine history export --format"] == ["csv", "html", "json", "md"]

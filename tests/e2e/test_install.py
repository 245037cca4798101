"""What a person gets from ``pip install tproutine``: the built package, installed for real.

The sdist is built from the checkout, the wheel from the sdist (as ``python -m
build`` does, so a file the sdist forgets breaks the wheel too), once per test
session. The wheel goes into a fresh virtual environment of its own — no
``--system-site-packages``, no ``--no-deps``, no extras — with its dependencies
resolved by pip as a person's install would (pip's own cache makes that quick
after the first run). Then ``tproutine demo`` runs from that environment in tmux.
"""

from __future__ import annotations

import email
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.test_tmux import POLL_S, TMUX, Terminal, library_read

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path


@dataclass(frozen=True)
class Installed:
    venv: Path

    @property
    def tproutine(self) -> Path:
        return self.venv / "bin" / "tproutine"


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        pytest.fail(f"{shlex.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)])
    [sdist] = out.glob("tproutine-*.tar.gz")
    [wheel] = out.glob("tproutine-*.whl")
    return Built(sdist, wheel)


@pytest.fixture(scope="session")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    # Exactly what the README says a person types, with the wheel for the name.
    _run([*pip, str(built.wheel)])
    return Installed(venv)


def test_a_plain_install_brings_the_virtual_massager(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        [member] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        meta = email.message_from_bytes(wheel.read(member))
    requires = meta.get_all("Requires-Dist") or []
    assert any(r.startswith("bumble==0.0.236") and "extra" not in r for r in requires), requires


# ---------------------------------------------------------------- the package


def test_the_licence_is_in_the_sdist_and_the_wheel(built: Built) -> None:
    licence = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License")
    with tarfile.open(built.sdist) as sdist:
        names = {Path(n).relative_to(Path(n).parts[0]).as_posix() for n in sdist.getnames()}
        assert "LICENSE" in names
    with zipfile.ZipFile(built.wheel) as wheel:
        [member] = [n for n in wheel.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert wheel.read(member).decode("utf-8") == licence


def _metadata(built: Built) -> email.message.Message:
    with zipfile.ZipFile(built.wheel) as wheel:
        [member] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(wheel.read(member))


def test_the_wheel_says_where_it_comes_from_and_what_it_runs_on(built: Built) -> None:
    meta = _metadata(built)
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Source", "Issues"} <= set(urls), urls
    assert all(u.startswith("https://") for u in urls.values())
    classifiers = set(meta.get_all("Classifier") or [])
    assert any(c.startswith("Development Status ::") for c in classifiers)
    assert any(c.startswith("Operating System ::") for c in classifiers)
    for version in ("3.10", "3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert meta["License-Expression"] == "MIT"
    assert meta["License-File"] == "LICENSE"


def test_the_readme_on_the_package_index_links_to_real_pages(built: Built) -> None:
    # A package index shows the README without the repository around it: a relative
    # link there leads nowhere.
    body = _metadata(built).get_payload()
    assert isinstance(body, str)
    assert "pipx install tproutine" in body
    links = [part.split(")", 1)[0] for part in body.split("](")[1:]]
    assert links, "the README has links to the docs"
    for link in links:
        assert link.startswith("https://"), link


# ---------------------------------------------------------------- the demo


@pytest.fixture
def terminal(installed: Installed, tmp_path: Path) -> Iterator[Terminal]:
    if TMUX is None:
        pytest.skip("tmux is not installed (apt install tmux)")
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "TERM": "xterm-256color",
    }
    # Not the test's own environment: only the fresh one is on the PATH.
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = os.pathsep.join([str(installed.venv / "bin"), "/usr/bin", "/bin"])
    term = Terminal(f"tproutine-install-{uuid.uuid4().hex[:12]}", env)
    command = " ".join(
        [
            "cd",
            shlex.quote(str(tmp_path)),
            "&&",
            "exec env",
            *(f"{k}={shlex.quote(env[k])}" for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "PATH")),
            "TERM=xterm-256color",
            # Session time 4× faster: the 10 s get-ready passes in 2.5 s.
            "tproutine demo --speed 4",
        ]
    )
    term.tmux("new-session", "-d", "-s", "app", "-x", "100", "-y", "30", command)
    try:
        yield term
    finally:
        term.tmux("kill-server", check=False)


def test_the_demo_drives_the_virtual_massager_after_a_plain_install(
    terminal: Terminal, installed: Installed
) -> None:
    # Nothing of the checkout is reachable from the fresh environment.
    where = _run(
        [str(installed.venv / "bin" / "python"), "-c", "import tproutine as t; print(t.__file__)"],
        cwd=installed.venv,
    )
    assert Path(where.stdout.strip()).is_relative_to(installed.venv), where.stdout

    deadline = time.monotonic() + 30
    while not library_read(terminal.screen()):
        if time.monotonic() > deadline:
            pytest.fail(f"the Library did not list its routines:\n{terminal.screen()}")
        time.sleep(POLL_S)
    # The demo opens on a routine that uses the device: enter starts it.
    terminal.keys("Enter")
    terminal.wait_for("Before you start")
    deadline = time.monotonic() + 20
    while "Before you start" in terminal.screen() and time.monotonic() < deadline:
        terminal.keys("Enter")  # read on through the safety list, then confirm
        time.sleep(0.3)
    screen = terminal.wait_for("MASSAGE", "connected, motor running", "tproutine-massager")

    def intensity_shown(screen: str) -> bool:
        lines = [line for line in screen.splitlines() if "Intensity" in line]
        return bool(lines) and not lines[-1].rstrip().endswith(" 0%")

    # The bar follows the level the device reports, a moment after "motor running".
    deadline = time.monotonic() + 20
    while not intensity_shown(screen) and time.monotonic() < deadline:
        time.sleep(POLL_S)
        screen = terminal.screen()
    assert intensity_shown(screen), screen
    terminal.keys("q")
    terminal.wait_for("End this session?")
    terminal.keys("y")
    terminal.wait_for("Saved to history.")


def test_the_demo_needs_no_source_checkout(installed: Installed) -> None:
    # The bundled routines and device profiles ship inside the wheel.
    out = _run([str(installed.tproutine), "devices", "profiles"], cwd="/")
    assert "tproutine-virtual" in out.stdout
    assert shutil.which("tproutine", path=str(installed.venv / "bin")) is not None

"""Without its simulator, ``tproutine demo`` stops with one line naming the fix.

Bumble is a normal dependency, so this happens only on Python 3.10 (Bumble needs
3.11) or in an install made without dependencies; both are imitated here.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tproutine import cli
from tproutine.devices import simcheck


def test_the_simulator_is_there_in_a_normal_install() -> None:
    assert simcheck.simulator_missing() is None


def _hide_bumble(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "bumble" else real(name, *a)
    )


def test_an_install_without_bumble_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide_bumble(monkeypatch)
    missing = simcheck.simulator_missing()
    assert missing is not None and "pip install 'tproutine[sim]'" in missing


def test_python_3_10_is_told_what_bumble_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "version_info", (3, 10, 14, "final", 0))
    missing = simcheck.simulator_missing()
    assert missing is not None
    assert "Python 3.11 or newer" in missing and "this is Python 3.10" in missing


@pytest.mark.parametrize("argv", [["demo"], ["demo", "--adapter", "sim"]])
def test_demo_stops_before_the_app_opens(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    _hide_bumble(monkeypatch)
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("tproutine demo: the virtual massager needs Bumble")
    assert "tproutine[sim]" in err


def test_the_demo_without_a_device_still_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    # `demo --adapter none` asks for no simulator, so a missing one stops nothing.
    _hide_bumble(monkeypatch)
    opened: list[object] = []
    monkeypatch.setattr("tproutine.commands.app._run", lambda app: opened.append(app) or 0)
    assert cli.main(["demo", "--adapter", "none"]) == 0
    assert len(opened) == 1

"""Where things are kept: the XDG folders, as platformdirs gives them, without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from tproutine import paths

pytestmark = pytest.mark.skipif(not paths._XDG, reason="the XDG folders are Linux's and BSDs'")

VARIABLES = ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME")


@pytest.mark.parametrize(
    "value",
    [None, "", "relative/folder", "/abs/olute", "/with space/ünïcode", "~/tilde"],
    ids=["unset", "empty", "relative", "absolute", "unicode", "tilde"],
)
def test_the_folders_are_platformdirs_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str | None
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for variable in VARIABLES:
        if value is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, value)
    assert paths.data_dir() == platformdirs.user_data_path(paths.APP)
    assert paths.config_dir() == platformdirs.user_config_path(paths.APP)
    assert paths.cache_dir() == platformdirs.user_cache_path(paths.APP)
    assert paths.log_path() == platformdirs.user_log_path(paths.APP) / "tproutine.log"


def test_finding_the_folders_does_not_import_platformdirs() -> None:
    code = (
        "import sys\n"
        "from tproutine import paths\n"
        "paths.config_path(); paths.history_path(); paths.cache_dir(); paths.log_path()\n"
        "print('platformdirs' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

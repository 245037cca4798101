"""Where tproutine finds and keeps things.

Bundled routines, step catalogues and device profiles ship inside the wheel
(``_bundled/``); in a source checkout they are the top-level ``routines/``,
``steps/`` and ``devices/`` folders. The person's data and settings live in the
platform's user folders; on Linux ``XDG_DATA_HOME`` and ``XDG_CONFIG_HOME`` are
honoured (tests rely on that). The Library's cache of routine summaries lives in
the user cache folder (``XDG_CACHE_HOME``); deleting it only makes the next start
slower. Nothing is written anywhere else.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "tproutine"
# Linux and the BSDs: the XDG base directories, written out here as platformdirs
# reads them (importing platformdirs costs every command 6-10 ms of its start).
_XDG = not sys.platform.startswith(("darwin", "win32", "cygwin", "emscripten", "wasi"))
_PKG = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    installed = _PKG / "_bundled" / name
    return installed if installed.is_dir() else _PKG.parent / name


def bundled_routines_dir() -> Path:
    return _bundled("routines")


def bundled_devices_dir() -> Path:
    return _bundled("devices")


def bundled_steps_dir() -> Path:
    """The bundled step catalogues (one file per body region)."""
    return _bundled("steps")


def _xdg_dir(variable: str, default: str) -> Path:
    """``$variable/tproutine`` when the variable holds an absolute path, else
    ``default/tproutine`` under the home folder (what platformdirs gives on Linux)."""
    base = os.environ.get(variable, "")
    if not os.path.isabs(base):
        base = os.path.expanduser(default)
    return Path(base, APP)


def data_dir() -> Path:
    if _XDG:
        return _xdg_dir("XDG_DATA_HOME", "~/.local/share")
    import platformdirs

    return platformdirs.user_data_path(APP)


def config_dir() -> Path:
    if _XDG:
        return _xdg_dir("XDG_CONFIG_HOME", "~/.config")
    import platformdirs

    return platformdirs.user_config_path(APP)


def cache_dir() -> Path:
    if _XDG:
        return _xdg_dir("XDG_CACHE_HOME", "~/.cache")
    import platformdirs

    return platformdirs.user_cache_path(APP)


def user_routines_dir() -> Path:
    return data_dir() / "routines"


def user_adjustments_dir() -> Path:
    """Adjustment files (``tproutine-adjust/1``) that apply to the routines they name."""
    return data_dir() / "adjustments"


def has_adjustments() -> bool:
    """Whether the person's library holds any adjustment file (one folder listing).

    Without one a routine runs as its file says, and is read without the
    adjustments' code (which loads pydantic).
    """
    try:
        with os.scandir(user_adjustments_dir()) as found:
            return any(e.name.endswith((".yaml", ".yml")) for e in found)
    except OSError:
        return False


def user_devices_dir() -> Path:
    return config_dir() / "devices"


def user_steps_dir() -> Path:
    """The person's own step catalogues: they add ids, never replace bundled ones."""
    return config_dir() / "steps"


def history_path() -> Path:
    return data_dir() / "history.sqlite3"


def config_path() -> Path:
    return config_dir() / "config.toml"


def log_path() -> Path:
    if _XDG:
        return _xdg_dir("XDG_STATE_HOME", "~/.local/state") / "log" / "tproutine.log"
    import platformdirs

    return platformdirs.user_log_path(APP) / "tproutine.log"

"""The person's settings: ``config.toml`` in the config folder.

They hold the person's defaults (preferred device, intensity cap, cues and
voice, theme); command-line options override them and a routine file can never
set them (CLI spec, "Set-up, paths and configuration"). A missing file means
the defaults. A file with mistakes raises :class:`SettingsError` whose message
names ``config.toml:LINE: key: what is wrong (what is accepted)`` for each one;
callers print it and carry on with the defaults.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from tproutine import paths
from tproutine.safetext import one_line, refusal
from tproutine.suggest import suggest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# The longest wait for a device before a session starts that a setting may ask for.
MAX_CONNECT_TIMEOUT = 120.0

# Tried in this order when voice is on but no command is named.
VOICE_COMMANDS = ("espeak-ng", "espeak", "spd-say", "say")


@dataclass(frozen=True, slots=True)
class Settings:
    """The person's defaults. Every field has a safe default."""

    max_intensity: float = 100.0  # percent of the device's range
    voice_command: tuple[str, ...] | None = None  # argv; the text to say is appended
    voice: bool = False  # speak cues (else the terminal bell)
    countdown: int = 3  # seconds counted aloud (or rung) at the end of holds and stretches
    pain_prompts: bool = True  # ask "pain now, 0-10" before and after a session
    preferred_device: str | None = None  # a name or an address
    adapter: str = "system"  # system | sim | none | tcp:HOST:PORT
    theme: str | None = None
    keep_timer_on_disconnect: bool = True  # a lost device does not pause the routine
    # Seconds to wait for the device before a session's clock starts (0: do not wait).
    connect_timeout: float = 10.0

    @classmethod
    def load(cls, path: Path | str | None = None) -> Settings:
        """Read the settings file (default :func:`tproutine.paths.config_path`)."""
        return load_settings(path)

    def speech_command(
        self, detect: Callable[[], list[str] | None] | None = None
    ) -> list[str] | None:
        """The command that speaks cues, or ``None`` for the terminal bell.

        With voice on and no command named, the first speech program found on PATH.
        """
        if not self.voice:
            return None
        if self.voice_command:
            return list(self.voice_command)
        return (detect or detect_voice)()


KEYS: tuple[str, ...] = tuple(f.name for f in fields(Settings))


# When the settings file cannot be read, the person's intensity cap is unknown: they
# may have set a low one and mistyped something else. Guess low, never high.
SAFE_FALLBACK_MAX_INTENSITY = 20.0


class SettingsError(Exception):
    """The settings file has mistakes; ``problems`` holds one line for each.

    ``settings`` is what could be read: the valid keys over the defaults, except
    that an unreadable ``max_intensity`` becomes a low cap
    (:data:`SAFE_FALLBACK_MAX_INTENSITY`), because a cap must never silently rise.
    """

    def __init__(self, problems: Sequence[str], settings: Settings | None = None) -> None:
        # A key or a value echoed in a message may hold anything: one line, no control
        # character reaches the terminal (or the app's markup).
        self.problems = [one_line(p) for p in problems]
        self.settings = settings or Settings(max_intensity=SAFE_FALLBACK_MAX_INTENSITY)
        super().__init__("\n".join(self.problems))


def detect_voice() -> list[str] | None:
    """A speech command found on PATH (espeak-ng, espeak, spd-say, say), or None."""
    for name in VOICE_COMMANDS:
        found = shutil.which(name)
        if found:
            return [found]
    return None


# --- validating one value --------------------------------------------------------


class _Invalid(ValueError):
    """A value is not acceptable; the message says what is wrong and what is accepted."""


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"{_describe(value)} is not true or false (use true or false, no quotes)")
    return value


def _percent(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _Invalid(f"{_describe(value)} is not a number (use a number from 0 to 100)")
    if not 0 <= value <= 100:
        raise _Invalid(f"{_describe(value)} is outside 0-100 (use a number from 0 to 100)")
    return float(value)


def _connect_timeout(value: Any) -> float:
    accepted = f"(use 0 to {MAX_CONNECT_TIMEOUT:g} seconds; 0 = start at once, connect meanwhile)"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _Invalid(f"{_describe(value)} is not a number {accepted}")
    if not 0 <= value <= MAX_CONNECT_TIMEOUT:
        raise _Invalid(f"{_describe(value)} is outside 0-{MAX_CONNECT_TIMEOUT:g} {accepted}")
    return float(value)


def _countdown(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"{_describe(value)} is not a whole number (use 0 to 10 seconds; 0 = off)")
    if not 0 <= value <= 10:
        raise _Invalid(f"{value} is outside 0-10 (use 0 to 10 seconds; 0 = off)")
    return value


def _command(value: Any) -> tuple[str, ...]:
    accepted = '(use a command like "espeak-ng -s 150" or a list like ["espeak-ng", "-s", "150"])'
    if isinstance(value, str):
        try:
            argv = shlex.split(value)
        except ValueError as exc:
            raise _Invalid(f"cannot split {value!r}: {exc} {accepted}") from None
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        argv = list(value)
    else:
        raise _Invalid(f"{_describe(value)} is not a command {accepted}")
    if not argv or not argv[0].strip():
        raise _Invalid(f"the command is empty {accepted}")
    return tuple(argv)


def _text(value: Any, accepted: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"{_describe(value)} is not a non-empty text ({accepted})")
    return value


def _device(value: Any) -> str:
    return _text(value, 'a device name or address in quotes; leave the key out for "auto"')


def _theme(value: Any) -> str:
    return _text(value, "a theme name in quotes")


_ADAPTERS = ("system", "sim", "none")
_TCP = re.compile(r"tcp:(?P<host>[^\s:]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})")


def _adapter(value: Any) -> str:
    accepted = '(use "system", "sim", "none" or "tcp:HOST:PORT")'
    if not isinstance(value, str):
        raise _Invalid(f"{_describe(value)} is not an adapter {accepted}")
    if value in _ADAPTERS:
        return value
    m = _TCP.fullmatch(value)
    if m and 1 <= int(m["port"]) <= 65535:
        return value
    raise _Invalid(f"{value!r} is not an adapter {accepted}")


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "max_intensity": _percent,
    "voice_command": _command,
    "voice": _bool,
    "countdown": _countdown,
    "pain_prompts": _bool,
    "preferred_device": _device,
    "adapter": _adapter,
    "theme": _theme,
    "keep_timer_on_disconnect": _bool,
    "connect_timeout": _connect_timeout,
}
assert set(_CHECKS) == set(KEYS)


# --- reading the file ------------------------------------------------------------

_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)|\(at end of document\)")


def _key_line(text: str, key: str) -> int | None:
    """The line where top-level ``key`` is set (tomllib keeps no positions for values)."""
    quoted = f"(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')"
    assign = re.compile(rf"\s*{quoted}\s*[.=]")
    header = re.compile(rf"\s*\[\[?\s*{quoted}\s*[.\]]")
    in_table = False
    for number, line in enumerate(text.splitlines(), start=1):
        if header.match(line):
            return number
        if line.lstrip().startswith("["):
            in_table = True
        elif not in_table and assign.match(line):
            return number
    return None


def _where(label: str, line: int | None) -> str:
    return f"{label}:{line}" if line else label


def _parse_text(raw: bytes, label: str) -> tuple[str, dict[str, Any]]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = raw[: exc.start].count(b"\n") + 1
        raise SettingsError(
            [f"{label}:{bad_line}: this is not valid UTF-8 text (save the file as UTF-8)"]
        ) from None
    text = text.removeprefix("\ufeff")
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = _TOML_POSITION.search(message)
        if m and m.group(1):
            line: int | None = int(m.group(1))
        elif m:
            line = text.count("\n") + 1
        else:
            line = None
        detail = _TOML_POSITION.sub("", message).strip()
        raise SettingsError(
            [f"{_where(label, line)}: invalid TOML: {detail} (see https://toml.io)"]
        ) from None


def _refusal(key: str, value: Any) -> str | None:
    """Why a key or any text in its value (TOML escapes already undone) is refused."""
    why = refusal(key, "key")
    if why is not None:
        return why
    if isinstance(value, str):
        return refusal(value)
    if isinstance(value, list):
        return next((w for v in value if (w := _refusal("", v)) is not None), None)
    if isinstance(value, dict):
        return next((w for k, v in value.items() if (w := _refusal(k, v)) is not None), None)
    return None


def parse_settings(raw: bytes | str, label: str = "config.toml") -> Settings:
    """Settings from the text of a ``config.toml``; ``label`` names it in messages."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    text, table = _parse_text(data, label)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in table.items():
        where = _where(label, _key_line(text, key))
        why = _refusal(key, value)
        if why is not None:
            shown = key if key.isprintable() else repr(key)
            problems.append(f"{where}: {shown}: {why}")
            continue
        check = _CHECKS.get(key)
        if check is None:
            near = suggest(key, KEYS)
            hint = f"did you mean {near!r}?" if near else f"known settings: {', '.join(KEYS)}"
            problems.append(f"{where}: {key}: unknown setting ({hint})")
            continue
        try:
            values[key] = check(value)
        except _Invalid as exc:
            problems.append(f"{where}: {key}: {exc}")
    # Naming a voice command is asking for a voice, unless voice = false says otherwise.
    if "voice_command" in values and "voice" not in table:
        values["voice"] = True
    if "max_intensity" in table and "max_intensity" not in values:
        values["max_intensity"] = SAFE_FALLBACK_MAX_INTENSITY
        problems.append(
            f"{label}: max_intensity: using {SAFE_FALLBACK_MAX_INTENSITY:g}% until the "
            "settings file is fixed (a cap is never raised by a mistake)"
        )
    settings = Settings(**values)
    if problems:
        raise SettingsError(problems, settings)
    return settings


def load_settings(path: Path | str | None = None) -> Settings:
    """Read the settings file; missing means the defaults. Raises :class:`SettingsError`."""
    file = Path(path) if path is not None else paths.config_path()
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise SettingsError([f"{file}: cannot read the settings ({exc.strerror or exc})"]) from None
    return parse_settings(raw, str(file))


# --- writing one key -------------------------------------------------------------


def _toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")  # TOML allows no raw control characters here
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    """One setting's value written as TOML (text, true/false, a number, a list of text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} cannot be saved (use a finite number)")
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise ValueError(f"{type(value).__name__} cannot be saved as a setting")


def _key_extent(lines: list[str], key: str) -> tuple[int, int] | None:
    """The lines ``[start, end)`` holding top-level ``key`` (a list may span several)."""
    line = _key_line("\n".join(lines), key)
    if line is None:
        return None
    start = line - 1
    if lines[start].lstrip().startswith("["):
        return None  # a [key] table: left for the person to mend by hand
    for end in range(start + 1, len(lines) + 1):
        try:
            if key in tomllib.loads("\n".join(lines[start:end])):
                return start, end
        except tomllib.TOMLDecodeError:
            continue
    return None


def save_setting(key: str, value: Any, path: Path | str | None = None) -> None:
    """Write one setting, keeping every other line (and comment) of the file.

    ``None`` removes the key (back to its default). The value is checked first,
    and a file that does not parse is left alone: raises :class:`SettingsError`.
    """
    file = Path(path) if path is not None else paths.config_path()
    label = str(file)
    check = _CHECKS.get(key)
    if check is None:
        near = suggest(key, KEYS)
        raise SettingsError(
            [f"{label}: {key}: unknown setting" + (f" (did you mean {near!r}?)" if near else "")]
        )
    if value is not None:
        plain = list(value) if isinstance(value, tuple) else value
        why = _refusal(key, plain)
        if why is not None:
            raise SettingsError([f"{label}: {key}: {why}"])
        try:
            check(plain)
        except _Invalid as exc:
            raise SettingsError([f"{label}: {key}: {exc}"]) from None
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raw = b""
    except OSError as exc:
        raise SettingsError(
            [f"{label}: cannot read the settings ({exc.strerror or exc})"]
        ) from None
    text, _ = _parse_text(raw, label)  # refuse to edit a file that does not parse
    lines = text.splitlines()
    new_line = [f"{key} = {toml_value(value)}"] if value is not None else []
    extent = _key_extent(lines, key)
    if extent is not None:
        lines[extent[0] : extent[1]] = new_line
    elif _key_line(text, key) is not None:
        raise SettingsError([f"{_where(label, _key_line(text, key))}: {key}: set it by hand here"])
    else:
        # Top-level keys must come before the first [table].
        at = next((i for i, line in enumerate(lines) if line.lstrip().startswith("[")), len(lines))
        while at > 0 and not lines[at - 1].strip():
            at -= 1  # keep the blank lines that set the table apart
        lines[at:at] = new_line
    new_text = "\n".join(lines) + "\n" if lines else ""
    try:
        tomllib.loads(new_text)  # the edit must leave a file that still parses
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError([f"{label}: {key}: cannot be saved here ({exc})"]) from None
    _write_atomically(file, new_text)


def _write_atomically(file: Path, text: str) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    # A crash mid-write must not leave half a settings file: write beside it, then rename.
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = [
    "KEYS",
    "Settings",
    "SettingsError",
    "detect_voice",
    "load_settings",
    "parse_settings",
    "save_setting",
]

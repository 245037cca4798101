"""Settings: config.toml in the config folder, read with tomllib, written one key at a time."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tproutine import paths
from tproutine.settings import (
    KEYS,
    Settings,
    SettingsError,
    detect_voice,
    load_settings,
    parse_settings,
    save_setting,
    toml_value,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = paths.config_path()
    assert path.is_relative_to(tmp_path)
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems(text: str) -> list[str]:
    with pytest.raises(SettingsError) as info:
        parse_settings(text, "config.toml")
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


# --- reading ---------------------------------------------------------------------------


def test_a_missing_file_means_the_defaults(config: Path) -> None:
    assert not config.exists()
    settings = load_settings()
    assert settings == Settings()
    assert (settings.max_intensity, settings.countdown, settings.adapter) == (100.0, 3, "system")
    assert settings.voice is False and settings.voice_command is None
    assert settings.pain_prompts is True and settings.keep_timer_on_disconnect is True
    assert settings.preferred_device is None and settings.theme is None


def test_every_key_is_read(config: Path) -> None:
    write(
        config,
        """# my settings
max_intensity = 60
voice_command = "espeak-ng -s 150 -v 'en-gb'"
countdown = 5
pain_prompts = false
preferred_device = "Massager 2"
adapter = "tcp:127.0.0.1:9100"
theme = "textual-dark"
keep_timer_on_disconnect = false
""",
    )
    s = Settings.load()
    assert s == Settings(
        max_intensity=60.0,
        voice_command=("espeak-ng", "-s", "150", "-v", "en-gb"),
        voice=True,  # naming a command turns the voice on
        countdown=5,
        pain_prompts=False,
        preferred_device="Massager 2",
        adapter="tcp:127.0.0.1:9100",
        theme="textual-dark",
        keep_timer_on_disconnect=False,
    )
    assert s.speech_command() == ["espeak-ng", "-s", "150", "-v", "en-gb"]


def test_voice_false_wins_over_a_named_command() -> None:
    s = parse_settings('voice = false\nvoice_command = ["say", "-r", "180"]\n')
    assert s.voice_command == ("say", "-r", "180") and s.speech_command() is None


def test_voice_on_without_a_command_looks_on_the_path() -> None:
    s = parse_settings("voice = true\n")
    assert s.speech_command(detect=lambda: ["/usr/bin/spd-say"]) == ["/usr/bin/spd-say"]
    assert s.speech_command(detect=lambda: None) is None  # nothing found: the bell
    assert Settings().speech_command(detect=lambda: ["unused"]) is None


@pytest.mark.parametrize("adapter", ["system", "sim", "none", "tcp:localhost:1", "tcp:[::1]:9100"])
def test_adapters_accepted(adapter: str) -> None:
    assert parse_settings(f'adapter = "{adapter}"').adapter == adapter


def test_mistakes_name_the_line_the_key_and_what_is_accepted() -> None:
    text = """# settings
voice = true

max_intensity = 150
countdown = "3"
adapter = "bluetooth"
voic_command = "say"
keep_timer_on_disconect = true
pain_prompts = "yes"
voice_command = []
theme = ""
volume = 3
"""
    assert problems(text) == [
        "config.toml:4: max_intensity: 150 is outside 0-100 (use a number from 0 to 100)",
        "config.toml:5: countdown: '3' is not a whole number (use 0 to 10 seconds; 0 = off)",
        "config.toml:6: adapter: 'bluetooth' is not an adapter"
        ' (use "system", "sim", "none" or "tcp:HOST:PORT")',
        "config.toml:7: voic_command: unknown setting (did you mean 'voice_command'?)",
        "config.toml:8: keep_timer_on_disconect: unknown setting"
        " (did you mean 'keep_timer_on_disconnect'?)",
        "config.toml:9: pain_prompts: 'yes' is not true or false (use true or false, no quotes)",
        "config.toml:10: voice_command: the command is empty"
        ' (use a command like "espeak-ng -s 150" or a list like ["espeak-ng", "-s", "150"])',
        "config.toml:11: theme: '' is not a non-empty text (a theme name in quotes)",
        "config.toml:12: volume: unknown setting (known settings: " + ", ".join(KEYS) + ")",
        "config.toml: max_intensity: using 20% until the settings file is fixed"
        " (a cap is never raised by a mistake)",
    ]


def test_the_valid_part_of_a_file_with_mistakes_is_kept() -> None:
    with pytest.raises(SettingsError) as info:
        parse_settings("max_intensity = 40\ncountdown = 99\n")
    assert info.value.settings == Settings(max_intensity=40.0)


def test_tables_and_dotted_keys_point_at_their_line() -> None:
    assert problems("countdown = 2\n\n[voice]\nengine = 'x'\n") == [
        "config.toml:3: voice: a table is not true or false (use true or false, no quotes)"
    ]
    assert problems("theme.name = 'x'\n")[0].startswith("config.toml:1: theme: a table")


def test_a_key_inside_a_table_is_not_mistaken_for_a_top_level_one() -> None:
    # `voice` inside [other] must not be reported at line 2.
    [message] = problems("[other]\nvoice = 1\n")
    assert message.startswith("config.toml:1: other: unknown setting (")


@pytest.mark.parametrize(
    ("text", "line"),
    [("countdown = 3\nvoice = \n", 2), ("a = 1\nb = [1,\n", 3), ("[a]\n[a]\n", 2)],
)
def test_toml_syntax_errors_have_a_line(text: str, line: int) -> None:
    [message] = problems(text)
    assert message.startswith(f"config.toml:{line}: invalid TOML: ")
    assert "(at line" not in message


def test_text_that_is_not_utf8(config: Path) -> None:
    config.parent.mkdir(parents=True)
    config.write_bytes(b"theme = 'ok'\ntheme2 = '\xff'\n")
    with pytest.raises(SettingsError, match=r"config\.toml:2: this is not valid UTF-8"):
        load_settings()


def test_a_folder_where_the_file_should_be(config: Path) -> None:
    config.mkdir(parents=True)
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings()


# --- writing ---------------------------------------------------------------------------


ORIGINAL = """# tproutine settings
max_intensity = 70   # my physio said so
voice_command = [
  "espeak-ng",
  "-s", "140",
]
countdown = 3

[x-notes]
written = "by hand"
"""


def test_save_setting_changes_one_key_and_keeps_the_rest(config: Path) -> None:
    write(config, ORIGINAL)
    save_setting("preferred_device", "AA:BB:CC:DD:EE:FF")
    text = config.read_text()
    # New top-level keys go before the first table, where TOML needs them.
    assert text == ORIGINAL.replace(
        "countdown = 3\n", 'countdown = 3\npreferred_device = "AA:BB:CC:DD:EE:FF"\n'
    )
    with pytest.raises(SettingsError, match="x-notes"):
        load_settings()  # the hand-written table is still there, and still reported

    save_setting("preferred_device", "Massager 2")
    save_setting("countdown", 0)
    text = config.read_text()
    assert 'preferred_device = "Massager 2"' in text and "AA:BB" not in text
    assert "countdown = 0\n" in text
    assert text.startswith("# tproutine settings\nmax_intensity = 70   # my physio said so\n")


def test_save_a_multi_line_value(config: Path) -> None:
    write(config, ORIGINAL)
    save_setting("voice_command", ["say", "-v", "Daniel"])
    text = config.read_text()
    assert '"-s", "140"' not in text
    assert 'voice_command = ["say", "-v", "Daniel"]\ncountdown = 3\n' in text


def test_saving_none_removes_the_key(config: Path) -> None:
    write(config, "max_intensity = 70\ntheme = 'x'\n")
    save_setting("theme", None)
    assert config.read_text() == "max_intensity = 70\n"
    assert load_settings() == Settings(max_intensity=70.0)


def test_save_creates_the_file_and_folders(config: Path) -> None:
    assert not config.parent.exists()
    save_setting("max_intensity", 55)
    save_setting("voice", True)
    assert config.read_text() == "max_intensity = 55\nvoice = true\n"
    assert load_settings() == Settings(max_intensity=55.0, voice=True)
    assert not [p for p in config.parent.iterdir() if p.name != config.name]  # no temp left


def test_save_refuses_bad_values_unknown_keys_and_broken_files(config: Path) -> None:
    write(config, "theme = 'x'\n")
    with pytest.raises(SettingsError, match=r"max_intensity: 120 is outside 0-100"):
        save_setting("max_intensity", 120)
    with pytest.raises(SettingsError, match=r"did you mean 'preferred_device'"):
        save_setting("prefered_device", "x")
    assert config.read_text() == "theme = 'x'\n"
    broken = "theme = 'x'\nvoice = \n"
    write(config, broken)
    with pytest.raises(SettingsError, match=r"config\.toml:2: invalid TOML"):
        save_setting("theme", "y")
    assert config.read_text() == broken


def test_save_refuses_a_control_character(config: Path) -> None:
    with pytest.raises(SettingsError, match=r"preferred_device: the text holds U\+001B \(escape\)"):
        save_setting("preferred_device", "TP\x1b[2J")
    assert not config.exists()


@given(st.text())
def test_any_text_is_written_as_toml_that_reads_back(text: str) -> None:
    assert tomllib.loads(f"k = {toml_value(text)}")["k"] == text


@pytest.mark.parametrize("value", ['a "quoted" \\ name ✓\tx', ("say", "-v", "x y"), 12.5, False])
def test_round_trip_through_the_file(config: Path, value: Any) -> None:
    key = {str: "preferred_device", tuple: "voice_command", float: "max_intensity", bool: "voice"}[
        type(value)
    ]
    save_setting(key, value)
    assert getattr(load_settings(), key) == value


# --- finding a voice -------------------------------------------------------------------


def _program(folder: Path, name: str) -> Path:
    folder.mkdir(exist_ok=True)
    program = folder / name
    program.write_text("#!/bin/sh\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program


@pytest.mark.skipif(os.name == "nt", reason="PATH executables differ on Windows")
def test_detect_voice_prefers_espeak_ng(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    monkeypatch.setenv("PATH", str(bin_dir))
    bin_dir.mkdir()
    assert detect_voice() is None
    say = _program(bin_dir, "say")
    assert detect_voice() == [str(say)]
    espeak = _program(bin_dir, "espeak-ng")
    assert detect_voice() == [str(espeak)]


def test_a_broken_settings_file_never_raises_the_intensity_cap() -> None:
    # A typo elsewhere must not drop a cap the person may have set: guess low.
    from tproutine.settings import SAFE_FALLBACK_MAX_INTENSITY, SettingsError, parse_settings

    with pytest.raises(SettingsError) as err:
        parse_settings("max_intensity = 40\ncountdwn = 3\n")
    assert err.value.settings.max_intensity == 40  # read fine: kept
    with pytest.raises(SettingsError) as err:
        parse_settings("countdwn = 3\n")
    assert err.value.settings.max_intensity == 100  # never set: the default stands
    with pytest.raises(SettingsError) as err:
        parse_settings("max_intensity = 'lots'\n")
    assert err.value.settings.max_intensity == SAFE_FALLBACK_MAX_INTENSITY
    assert any("using 20%" in p for p in err.value.problems)
    with pytest.raises(SettingsError) as err:
        parse_settings("max_intensity = = 40\n")  # not TOML at all
    assert err.value.settings.max_intensity == SAFE_FALLBACK_MAX_INTENSITY

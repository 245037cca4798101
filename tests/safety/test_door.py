"""Refused at the door: no control or direction-override character in any text of a file.

Routine files, adjustment files, device profiles and ``config.toml`` come from other
people. Every text value and key is checked after YAML (or TOML) has undone its
escapes, so ``"\\e[2J"`` is as hostile as a raw ESC, and the refusal is the usual
``file:line:col: path: what is wrong (what is accepted)``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.routine.test_loader_errors import refused_path
from tests.safety.texts import toy_profile
from tproutine.cli import main
from tproutine.devices.profile import load_profile
from tproutine.settings import SettingsError, parse_settings
from tproutine.yamlsafe import LoadError

ACCEPTED = "(write printable text, tabs and line breaks only)"

# (as written in a double-quoted YAML string, the character it stands for)
ESCAPES = [
    ("\\e[2J", "U+001B (escape)"),
    ("\\x9b2J", "U+009B (CSI)"),
    ("\\0", "U+0000 (NUL)"),
    ("\\a", "U+0007 (bell)"),
    ("\\roverwrite", "U+000D (carriage return)"),
    ("\\x7f", "U+007F (delete)"),
    ("\\x85", "U+0085 (next line)"),
    ("\\u202egnp.exe", "U+202E (right-to-left override)"),
    ("\\u2066x\\u2069", "U+2066 (left-to-right isolate)"),
    ("\\e]52;c;aGVsbG8=\\a", "U+001B (escape)"),
]


def routine_with(name: str = "Test", title: str = "A", say: str = "Go") -> str:
    return (
        "format: tproutine/1\n"
        f'name: "{name}"\n'
        "steps:\n"
        f'  - hold: "{title}"\n'
        "    duration: 45s\n"
        "    cues:\n"
        "      - at: 0s\n"
        f'        say: "{say}"\n'
    )


@pytest.mark.parametrize(("escape", "named"), ESCAPES)
def test_an_escaped_control_character_in_a_routine_is_refused_with_its_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], escape: str, named: str
) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(routine_with(say=f"Lean {escape} in"), encoding="utf-8")
    message = refused_path(path, capsys).one("8:14", "steps[0].cues[0].say")
    assert message.startswith(f"the text holds {named} at character 6: ")
    assert message.endswith(ACCEPTED)


@pytest.mark.parametrize(
    ("text", "where", "path"),
    [
        (routine_with(name="\\e]8;;http://x\\e\\\\link"), "2:7", "name"),
        (routine_with(title="\\x9b31m red"), "4:11", "steps[0].hold"),
        (
            'format: tproutine/1\nname: T\ntags: [ok, "a\\u202eb"]\nsteps:\n'
            "  - hold: A\n    duration: 45s\n",
            "3:12",
            "tags[1]",
        ),
        (
            'format: tproutine/1\nname: T\nsafety:\n  warnings:\n    - "Stop\\a"\nsteps:\n'
            "  - hold: A\n    duration: 45s\n",
            "5:7",
            "safety.warnings[0]",
        ),
    ],
)
def test_every_text_value_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, where: str, path: str
) -> None:
    file = tmp_path / "r.yaml"
    file.write_text(text, encoding="utf-8")
    assert "the text holds U+" in refused_path(file, capsys).one(where, path)


def test_a_key_with_a_control_character_is_refused_at_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "r.yaml"
    file.write_text(
        'format: tproutine/1\nname: T\n"x\\e[2J": 1\nsteps:\n  - hold: A\n    duration: 45s\n',
        encoding="utf-8",
    )
    lines = refused_path(file, capsys).lines
    assert lines[0].startswith(f"{file}:3:1: 'x\\x1b[2J': the key holds U+001B (escape)")
    assert all("\x1b" not in line for line in lines)


def test_a_raw_control_character_is_refused_by_the_reader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "r.yaml"
    file.write_bytes(routine_with(name="a\x1b[2Jb").encode())
    message = refused_path(file, capsys).one("2:9")
    assert message.startswith("the control character U+001B (escape) is not allowed")
    assert "\x1b" not in message


def test_a_raw_direction_override_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # U+202E is printable to YAML's reader: the converter finds it.
    file = tmp_path / "r.yaml"
    file.write_text(routine_with(title="exe.\u202etxt"), encoding="utf-8")
    message = refused_path(file, capsys).one("4:11", "steps[0].hold")
    assert message.startswith("the text holds U+202E (right-to-left override) at character 5: ")


def test_block_text_in_a_literal_is_checked_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "r.yaml"
    file.write_text(
        "format: tproutine/1\nname: T\nsteps:\n  - hold: A\n    duration: 45s\n"
        "    instructions: |\n      Breathe out.\n      Press \u2067gently\u2069.\n",
        encoding="utf-8",
    )
    assert "U+2067" in refused_path(file, capsys).one("6:19", "steps[0].instructions")


def test_printable_text_in_any_script_tabs_and_line_breaks_are_welcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "r.yaml"
    file.write_text(
        'format: tproutine/1\nname: "Nacken · 首 · الرقبة 👩‍⚕️"\nsteps:\n'
        '  - hold: "Upper\\ttrapezius"\n    duration: 45s\n'
        '    instructions: "Line one.\\nLine two (\\u200d joins emoji)."\n',
        encoding="utf-8",
    )
    assert main(["validate", str(file)]) == 0
    assert capsys.readouterr().out == f"{file}: ok\n"


def test_an_adjustment_file_is_checked_at_the_door(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "adj.yaml"
    file.write_text(
        'format: tproutine-adjust/1\nroutine: "Neck\\e]0;pwned\\a"\nsteps: {}\n',
        encoding="utf-8",
    )
    assert main(["validate", str(file)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"{file}:2:10: routine: the text holds U+001B (escape) at character 5")
    assert "\x1b" not in err and "\x07" not in err


@pytest.mark.parametrize(("escape", "named"), ESCAPES[:4] + ESCAPES[7:8])
def test_a_device_profile_is_checked_at_the_door(tmp_path: Path, escape: str, named: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(toy_profile("test-door", f"Toy {escape}"), encoding="utf-8")
    with pytest.raises(LoadError) as exc:
        load_profile(path)
    lines = [str(p) for p in exc.value.problems]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}:2:7: name: the text holds {named} at character 5: ")
    assert lines[0].endswith(ACCEPTED)


@pytest.mark.parametrize(
    ("toml", "start"),
    [
        ('theme = "dark\\u001b[2J"', "config.toml:1: theme: the text holds U+001B (escape)"),
        (
            'voice_command = ["espeak", "\\u009b1m"]',
            "config.toml:1: voice_command: the text holds U+009B (CSI)",
        ),
        (
            'preferred_device = "TP\\u202e10"',
            "config.toml:1: preferred_device: the text holds U+202E",
        ),
        ('"key\\u0007" = 1', "config.toml: 'key\\x07': the key holds U+0007 (bell)"),
    ],
)
def test_settings_are_checked_at_the_door(toml: str, start: str) -> None:
    with pytest.raises(SettingsError) as exc:
        parse_settings(toml)
    assert exc.value.problems[0].startswith(start), exc.value.problems
    assert exc.value.problems[0].endswith(ACCEPTED)
    assert all(p.isprintable() for p in exc.value.problems)


def test_a_refused_cap_in_the_settings_becomes_a_low_one() -> None:
    with pytest.raises(SettingsError) as exc:
        parse_settings('max_intensity = "\\u001b[31m"')
    assert exc.value.settings.max_intensity == 20.0

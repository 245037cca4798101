"""Bad input, one test each, through `tproutine validate` in-process.

Every test checks the whole contract of a refusal: exit status 1, nothing on stdout
for the bad file, no traceback, and one line per problem on stderr that starts with
the exact ``file:line:col: path:`` and says what is accepted.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.routine import HEAD, SPEC_EXAMPLE
from tproutine.cli import main
from tproutine.routine.durations import DURATION_HELP, PERCENT_HELP

STEP = "steps:\n  - hold: A\n    duration: 45s\n"


class Refused:
    """What `tproutine validate FILE` printed for one refused file."""

    def __init__(self, path: Path, lines: list[str]) -> None:
        self.path = path
        self.lines = lines

    def one(self, where: str, path: str = "") -> str:
        """The only problem; it starts ``FILE:where: path: ``. Returns the message."""
        assert len(self.lines) == 1, self.lines
        return self.at(0, where, path)

    def at(self, i: int, where: str, path: str = "") -> str:
        # A problem of the whole file (``where`` empty) has no line: ``FILE: message``.
        place = f"{self.path}:{where}: " if where else f"{self.path}: "
        prefix = place + (f"{path}: " if path else "")
        line = self.lines[i]
        assert line.startswith(prefix), f"{line!r} does not start with {prefix!r}"
        message = line[len(prefix) :]
        assert message.strip(), line
        return message


Run = Callable[..., Refused]


@pytest.fixture
def refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    def run(content: str | bytes, name: str = "bad.yaml") -> Refused:
        path = tmp_path / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return refused_path(path, capsys)

    return run


def refused_path(path: Path, capsys: pytest.CaptureFixture[str]) -> Refused:
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code == 1, (out, err)
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines, "a refused file must print at least one problem"
    for line in lines:
        assert line.startswith(f"{path}:")
    return Refused(path, lines)


# --- untrusted YAML: tags, aliases, size, encoding ---------------------------------


def test_python_tags_are_refused_and_never_run(refused: Run, tmp_path: Path) -> None:
    canary = tmp_path / "ran"
    r = refused(
        f"format: tproutine/1\nname: !!python/object/apply:os.system ['touch {canary}']\n" + STEP
    )
    msg = r.one("2:7", "name")
    assert msg == (
        "the tag !!python/object/apply:os.system is not allowed "
        "(use plain YAML: text, numbers, true/false, lists and mappings)"
    )
    assert not canary.exists()


def test_a_python_tag_on_the_whole_document(refused: Run, tmp_path: Path) -> None:
    canary = tmp_path / "ran"
    r = refused(f"!!python/object/apply:os.system ['touch {canary}']\n")
    assert "the tag !!python/object/apply:os.system is not allowed (use plain YAML" in r.one("1:1")
    assert not canary.exists()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("!!python/name:os.system", "!!python/name:os.system"),
        ("!!binary aGVsbG8=", "!!binary"),
        ("!custom x", "!custom"),
        ("!!set {a, b}", "!!set"),
    ],
)
def test_other_tags_are_refused(refused: Run, value: str, shown: str) -> None:
    r = refused(f"format: tproutine/1\nname: {value}\n" + STEP)
    assert r.one("2:7", "name").startswith(f"the tag {shown} is not allowed (use plain YAML")


@pytest.mark.parametrize("value", ["!!bool maybe", "!!int ''", "!!timestamp soon", "!!float x"])
def test_a_standard_tag_on_a_value_it_cannot_read(refused: Run, value: str) -> None:
    # PyYAML's constructors raise KeyError, IndexError, AttributeError on these.
    r = refused(HEAD + STEP + f"    pressure: {value}\n")
    msg = r.one("6:15", "steps[0].pressure")
    assert "cannot be read as !!" in msg
    assert msg.endswith("(write a valid value, or quote it and drop any tag to make it text)")


def test_billion_laughs_is_refused_in_well_under_a_second(refused: Run) -> None:
    text = 'format: tproutine/1\nname: &a0 "lol"\n'
    for i in range(1, 10):
        text += f"x-l{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n"
    text += "steps:\n  - rest: 5s\n"
    # CPU time of this process: what the refusal costs, whatever else the machine runs.
    started = time.process_time()
    r = refused(text)
    elapsed = time.process_time() - started
    assert elapsed < 1.0, f"the alias bomb took {elapsed:.2f}s of CPU"
    # Refused at the alias that passes 250,000 values (line 8), long before 9**9.
    assert r.one("8:22") == (
        "the document expands to more than 250,000 values "
        "(aliases repeat too much, or the file is too big)"
    )


def test_a_recursive_alias(refused: Run) -> None:
    r = refused(HEAD + "x-loop: &a\n  self: *a\n" + STEP)
    assert r.one("4:9") == (
        "an alias refers to the value that contains it "
        "(an alias can only repeat a value that is complete before it)"
    )


def test_a_recursive_alias_in_a_flow_list(refused: Run) -> None:
    r = refused(HEAD + "x-loop: &a [1, *a]\n" + STEP)
    assert r.one("3:16").startswith("an alias refers to the value that contains it")


def test_an_undefined_alias(refused: Run) -> None:
    r = refused(HEAD + "x-a: *nowhere\n" + STEP)
    assert r.one("3:6") == "YAML syntax error: found undefined alias 'nowhere'"


def test_nesting_deeper_than_32(refused: Run) -> None:
    r = refused(HEAD + "x-deep: " + "[" * 40 + "]" * 40 + "\n" + STEP)
    # the mapping is level 1, so the 32nd bracket is the 33rd level
    assert r.one("3:40") == "nested more than 32 levels deep"


def test_more_than_one_mib(refused: Run) -> None:
    text = HEAD + STEP + "#" * (1024 * 1024)
    r = refused(text)
    size = len(text.encode())
    assert r.one("1:1") == f"the file is {size:,} bytes; the limit is 1 MiB"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_file_is_read_only_up_to_the_limit(capsys: pytest.CaptureFixture[str]) -> None:
    r = refused_path(Path("/dev/zero"), capsys)
    assert r.one("1:1") == "the file is more than 1,048,576 bytes; the limit is 1 MiB"


def test_invalid_utf8_names_the_bad_bytes_line_and_column(refused: Run) -> None:
    # The column counts characters: "é" before the bad byte is one column, not two.
    r = refused(HEAD.encode() + b"steps:\n  - hold: Q\xc3\xa9\xff\n    duration: 45s\n")
    assert r.one("4:13") == "this is not valid UTF-8 text (save the file as UTF-8)"


def test_a_control_character(refused: Run) -> None:
    r = refused(HEAD + "steps:\n  - hold: A\x00B\n    duration: 45s\n")
    assert r.one("4:12") == (
        "the control character U+0000 (NUL) is not allowed in a YAML file "
        "(remove it; write printable text, tabs and line breaks only)"
    )


def test_a_utf8_byte_order_mark_is_fine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + (HEAD + STEP).encode())
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: ok\n"


# --- the shape of the document ----------------------------------------------------

WHAT = "a routine: a mapping with format, name and steps"


def test_a_top_level_list(refused: Run) -> None:
    r = refused("- hold: A\n  duration: 45s\n")
    assert r.one("1:1") == f"the file holds a list; expected {WHAT}"


def test_a_single_value(refused: Run) -> None:
    r = refused("just some words\n")
    assert r.one("1:1") == f"the file holds a single value; expected {WHAT}"


def test_an_empty_file(refused: Run) -> None:
    assert refused("").one("1:1") == f"the file is empty (expected {WHAT})"


def test_a_file_with_only_comments(refused: Run) -> None:
    r = refused("# a routine, one day\n\n# nothing yet\n")
    assert r.one("1:1") == f"the file is empty (expected {WHAT})"


def test_a_file_with_only_a_document_marker(refused: Run) -> None:
    assert refused("---\n").one("1:1") == f"the file is empty (expected {WHAT})"


def test_two_documents(refused: Run) -> None:
    r = refused(HEAD + STEP + "---\n" + HEAD + STEP)
    msg = r.one("6:1")
    assert msg.startswith("YAML syntax error: but found another document")
    assert "expected a single document" in msg


def test_tab_indentation(refused: Run) -> None:
    r = refused(HEAD + "steps:\n  - hold: A\n\tduration: 45s\n")
    assert r.one("5:1") == (
        "YAML syntax error: found character '\\t' that cannot start any token "
        "(while scanning for the next token) (indent with spaces, not tabs)"
    )


def test_an_unclosed_bracket(refused: Run) -> None:
    r = refused(HEAD + "steps: [{hold: A, duration: 45s}\n")
    assert r.one("4:1") == (
        "YAML syntax error: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence)"
    )


def test_a_bad_indentation(refused: Run) -> None:
    r = refused(HEAD + "steps:\n  - hold: A\n      duration: 45s\n   reps: 2\n")
    assert r.one("5:15").startswith("YAML syntax error: mapping values are not allowed here")


# --- types --------------------------------------------------------------------------


def test_name_is_a_number(refused: Run) -> None:
    r = refused("format: tproutine/1\nname: 42\n" + STEP)
    assert r.one("2:7", "name") == "expected text, got the number 42 (put it in quotes)"


def test_reps_is_text(refused: Run) -> None:
    r = refused(HEAD + STEP + '    reps: "3"\n')
    assert r.one("6:11", "steps[0].reps") == "expected a whole number, got text"


def test_pressure_is_a_fraction(refused: Run) -> None:
    r = refused(HEAD + STEP + "    pressure: 5.5\n")
    assert r.one("6:15", "steps[0].pressure") == "expected a whole number, got the number 5.5"


def test_pressure_outside_its_scale(refused: Run) -> None:
    r = refused(HEAD + STEP + "    pressure: 11\n")
    assert r.one("6:15", "steps[0].pressure") == "11 is outside the pressure scale (use 0 to 10)"


def test_tags_is_text(refused: Run) -> None:
    r = refused(HEAD + "tags: lower-back\n" + STEP)
    assert r.one("3:7", "tags") == "expected a list, got text"


def test_side_is_not_a_side(refused: Run) -> None:
    r = refused(HEAD + STEP + "    side: up\n")
    assert r.one("6:11", "steps[0].side") == "'up' is not accepted (use 'left', 'right' or 'both')"


def test_an_empty_title(refused: Run) -> None:
    r = refused(HEAD + "steps:\n  - hold:\n    duration: 45s\n")
    assert r.one("4:10", "steps[0].hold") == "expected text, got nothing"


def test_steps_is_empty(refused: Run) -> None:
    assert refused(HEAD + "steps: []\n").one("3:8", "steps") == "there must be at least one step"


def test_a_step_that_is_not_a_mapping(refused: Run) -> None:
    r = refused(HEAD + STEP + "  - just rest\n")
    assert r.one("6:5", "steps[1]") == (
        "a step is a mapping that starts with its kind, like '- hold: Upper trapezius'"
    )


def test_a_step_without_a_kind(refused: Run) -> None:
    r = refused(HEAD + "steps:\n  - duration: 45s\n")
    assert r.one("4:5", "steps[0]") == (
        "this step has no kind: start it with one of hold, stretch, massage, breathe, "
        "rest or repeat (or use: a step from a catalogue)"
    )


def test_missing_required_keys(refused: Run) -> None:
    r = refused("format: tproutine/1\nsteps:\n  - hold: A\n")
    assert len(r.lines) == 2
    assert r.at(0, "1:1", "name") == "'name' is required"
    assert r.at(1, "3:5", "steps[0].duration") == (
        "'duration' is required (how long one repetition lasts, e.g. 45s)"
    )


# --- keys ---------------------------------------------------------------------------


def test_a_misspelt_step_key(refused: Run) -> None:
    r = refused(HEAD + "steps:\n  - hold: A\n    durration: 45s\n")
    assert len(r.lines) == 2  # sorted by line: the step (missing duration), then the key
    assert r.at(0, "4:5", "steps[0].duration").startswith("'duration' is required")
    msg = r.at(1, "5:5", "steps[0].durration")
    assert msg.startswith("unknown key 'durration' (did you mean 'duration'? known keys: ")
    assert msg.endswith("; x- keys are ignored)")


def test_a_misspelt_top_level_key(refused: Run) -> None:
    r = refused(HEAD + "step:\n  - hold: A\n    duration: 45s\n")
    assert r.at(0, "1:1", "steps") == "'steps' is required"
    msg = r.at(1, "3:1", "step")
    assert msg.startswith("unknown key 'step' (did you mean 'steps'? known keys: format, name,")


@pytest.mark.parametrize(
    ("line", "where", "path", "hint"),
    [
        ("    device: {intensty: 40%}\n", "6:14", "steps[0].device.intensty", "intensity"),
        ("    cues: [{at: 0s, sya: hi}]\n", "6:21", "steps[0].cues[0].sya", "say"),
    ],
)
def test_misspelt_keys_deeper_down(
    refused: Run, line: str, where: str, path: str, hint: str
) -> None:
    msgs = refused(HEAD + STEP + line).lines
    found = [m for m in msgs if f":{where}: {path}: " in m]
    assert len(found) == 1, msgs
    assert f"did you mean '{hint}'?" in found[0]


def test_a_key_of_another_kind_of_step(refused: Run) -> None:
    r = refused(HEAD + STEP + "    pattern: [4s, 6s]\n")
    assert r.one("6:5", "steps[0].pattern") == (
        "'pattern' is not a field of this kind of step (it belongs to: breathe)"
    )


def test_x_keys_are_ignored_anywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(
        HEAD + "x-editor: {theme: dark}\n" + STEP + "    x-note: [1, 2]\n"
        "    device: {intensity: 40%, x-why: gentle}\n"
        "    cues: [{at: 0s, say: go, x-voice: calm}]\n"
    )
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr() == (f"{path}: ok\n", "")


def test_duplicate_keys(refused: Run) -> None:
    r = refused(HEAD + STEP + "    duration: 60s\n")
    assert r.one("6:5", "steps[0].duration") == (
        "this key appears twice in the same mapping (keep one)"
    )


@pytest.mark.parametrize(
    ("key", "shown"), [("1", "'1'"), ("yes", "'yes'"), ("~", "'~'"), ("2024-01-01", "'2024-01-01'")]
)
def test_keys_that_are_not_text(refused: Run, key: str, shown: str) -> None:
    r = refused(HEAD + STEP + f"    {key}: x\n")
    assert r.one("6:5", "steps[0]") == (
        f"the key {shown} is not text (keys are words like 'name' or 'duration')"
    )


def test_a_list_as_a_key(refused: Run) -> None:
    r = refused(HEAD + STEP + "    ? [a, b]\n    : x\n")
    assert r.one("6:7", "steps[0]") == (
        "the key 'a list or mapping' is not text (keys are words like 'name' or 'duration')"
    )


@pytest.mark.parametrize("key", ["a[1]", "function-x", "steps[0]"])
def test_unknown_keys_that_look_like_pydantic_locations(refused: Run, key: str) -> None:
    r = refused(HEAD + STEP + f'"{key}": 1\n')
    assert r.one("6:1", key).startswith(f"unknown key '{key}' (")


def test_a_key_with_a_line_break_stays_on_one_line(refused: Run) -> None:
    r = refused(HEAD + STEP + '"two\\nlines": 1\n')
    msg = r.one("6:1", "'two\\nlines'")
    assert msg.startswith("unknown key 'two\\nlines' (known keys: format, name")


def test_merge_keys_are_supported_nested_and_overridden(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text(
        HEAD + "get_ready: 0s\n"
        "x-base: &base {duration: 30s, pressure: 4}\n"
        "x-both: &both {<<: *base, side: both, reps: 2}\n"
        "steps:\n"
        "  - hold: A\n    <<: *both\n    reps: 1\n"
        "  - stretch: B\n    <<: [*base]\n"
    )
    assert main(["show", str(path), "--json"]) == 0
    import json

    segs = json.loads(capsys.readouterr().out)["segments"]
    assert [(s["kind"], s["side"], s["rep"], s["duration_s"]) for s in segs] == [
        ("hold", "left", 1, 30.0),
        ("switch", None, None, 5.0),
        ("hold", "right", 1, 30.0),
        ("stretch", None, 1, 30.0),
    ]


def test_a_merge_of_something_that_is_not_a_mapping(refused: Run) -> None:
    r = refused(HEAD + STEP + "    <<: 5\n")
    assert r.one("6:9", "steps[0]") == "'<<' merges only mappings (an alias like *common)"


# --- step rules ---------------------------------------------------------------------


def test_a_cue_at_the_end_of_its_repetition(refused: Run) -> None:
    r = refused(
        HEAD + "steps:\n  - hold: A\n    duration: 60s\n    cues:\n      - {at: 60s, say: x}\n"
    )
    msg = r.one("7:14", "steps[0].cues[0].at")
    assert msg.startswith("this cue falls outside its repetition of 60s (use ")
    assert "60s after the start" in msg
    assert "-60s before the end" in msg


def test_a_negative_cue_before_the_start(refused: Run) -> None:
    r = refused(
        HEAD + "steps:\n  - hold: A\n    duration: 60s\n    cues:\n"
        "      - {at: -60s, say: fine}\n      - {at: -61s, say: x}\n"
    )
    msg = r.one("8:14", "steps[0].cues[1].at")
    assert msg.startswith("this cue falls outside its repetition of 60s (use ")
    assert "-60s before the end" in msg


def test_a_cue_outside_a_rest_step(refused: Run) -> None:
    r = refused(HEAD + "steps:\n  - rest: 20s\n    cues: [{at: 25s, say: x}]\n")
    assert r.one("5:17", "steps[0].cues[0].at").startswith(
        "this cue falls outside its repetition of 20s"
    )


@pytest.mark.parametrize(
    ("value", "col", "shown"), [("150%", 25, "'150%'"), ("-5", 25, "-5"), ("101", 25, "101")]
)
def test_intensity_outside_0_to_100(refused: Run, value: str, col: int, shown: str) -> None:
    r = refused(HEAD + STEP + f"    device: {{intensity: {value}}}\n")
    assert r.one(f"6:{col}", "steps[0].device.intensity") == (
        f"{shown} is outside 0–100% ({PERCENT_HELP})"
    )


def test_a_ramp_end_outside_0_to_100(refused: Run) -> None:
    r = refused(HEAD + STEP + "    device: {ramp: [20%, 120%]}\n")
    assert r.one("6:26", "steps[0].device.ramp[1]") == f"'120%' is outside 0–100% ({PERCENT_HELP})"


def test_a_ramp_with_one_value(refused: Run) -> None:
    r = refused(HEAD + STEP + "    device: {ramp: [20%]}\n")
    assert r.one("6:20", "steps[0].device.ramp") == (
        "a ramp has two percents, from and to: [20%, 60%]"
    )


def test_a_second_kind_key(refused: Run) -> None:
    r = refused(HEAD + "steps:\n  - hold: A\n    stretch: B\n    duration: 45s\n")
    assert r.one("5:5", "steps[0].stretch") == (
        "a step has one kind key, this one has 'hold' and 'stretch' (split it into two steps)"
    )


def test_device_on(refused: Run) -> None:
    r = refused(HEAD + STEP + "    device: on\n")
    assert r.one("6:13", "steps[0].device") == (
        "'on' does not say how strong: use {intensity: 40%}, {ramp: [20%, 50%]} or {level: 3}"
    )


@pytest.mark.parametrize(
    ("setting", "has"),
    [
        ("{intensity: 40%, ramp: [20%, 60%]}", "intensity and ramp"),
        ("{intensity: 40%, level: 3}", "intensity and level"),
        ("{ramp: [20%, 60%], level: 3}", "ramp and level"),
        ("{}", "none"),
    ],
)
def test_device_with_not_exactly_one_setting(refused: Run, setting: str, has: str) -> None:
    r = refused(HEAD + STEP + f"    device: {setting}\n")
    assert r.one("6:13", "steps[0].device") == (
        f"a device setting has exactly one of intensity, ramp or level (this one has {has})"
    )


def test_repeat_nested_five_deep(refused: Run) -> None:
    text = HEAD + "steps:\n"
    indent = "  "
    for _ in range(5):
        text += f"{indent}- repeat: 2\n{indent}  steps:\n"
        indent += "    "
    text += f"{indent}- hold: A\n{indent}  duration: 1s\n"
    r = refused(text)
    assert r.one("12:21", "steps[0].steps[0].steps[0].steps[0].steps[0].repeat") == (
        "repeat blocks nest at most 4 deep"
    )


def test_another_format_version(refused: Run) -> None:
    r = refused("format: tproutine/2\nname: Test\n" + STEP)
    msg = r.one("1:9", "format")
    assert msg == "this file is format 'tproutine/2'; this version of tproutine reads 'tproutine/1'"


def test_not_a_format_at_all(refused: Run) -> None:
    r = refused("format: yaml\nname: Test\n" + STEP)
    assert r.one("1:9", "format") == "'yaml' is not a routine format (use `format: tproutine/1`)"


def test_alternate_without_both_sides(refused: Run) -> None:
    r = refused(HEAD + STEP + "    reps: 2\n    alternate: true\n")
    assert r.one("7:16", "steps[0].alternate") == (
        "alternate needs side: both (it swaps sides between repetitions)"
    )


def test_a_rest_with_a_title_and_no_duration(refused: Run) -> None:
    r = refused(HEAD + "steps:\n  - rest: Lie still\n")
    assert r.one("4:5", "steps[0]") == "the rest 'Lie still' needs a duration (add `duration: 30s`)"


def test_a_rest_with_two_lengths(refused: Run) -> None:
    r = refused(HEAD + "steps:\n  - rest: 20s\n    duration: 20s\n")
    assert r.one("4:5", "steps[0]") == (
        "this rest gives its length twice: keep `rest: 20s` or `duration`"
    )


def test_a_zero_rest_step(refused: Run) -> None:
    r = refused(HEAD + "steps:\n  - rest: 0s\n")
    assert r.one("4:11", "steps[0].rest") == "'0s' is too short for a rest step (use at least 1s)"


def test_a_huge_number(refused: Run) -> None:
    r = refused(HEAD + "steps:\n  - hold: A\n    duration: 1" + "0" * 400 + "\n")
    assert r.one("5:15", "steps[0].duration") == (
        f"this number is too large for a duration ({DURATION_HELP})"
    )


# --- limits of the expanded timeline --------------------------------------------------


def test_a_repeat_explosion_past_10000_segments(refused: Run) -> None:
    r = refused(
        HEAD + "steps:\n  - repeat: 100\n    steps:\n      - repeat: 100\n        steps:\n"
        "          - hold: A\n            duration: 1s\n"
    )
    # 100 × 100 holds and the get-ready countdown
    assert r.one("3:1", "steps") == (
        "the routine expands to 10,001 segments; the limit is 10,000 (fewer reps or repeat rounds)"
    )


def test_a_hundred_million_segments_are_refused_without_building_them(refused: Run) -> None:
    text = HEAD + "steps:\n"
    indent = "  "
    for _ in range(4):
        text += f"{indent}- repeat: 100\n{indent}  steps:\n"
        indent += "    "
    text += f"{indent}- hold: A\n{indent}  duration: 1s\n"
    started = time.process_time()  # CPU time: the machine may be busy with other work
    r = refused(text)
    assert time.process_time() - started < 1.0
    assert r.one("3:1", "steps").startswith("the routine expands to 100,000,001 segments;")


def test_longer_than_8_hours(refused: Run) -> None:
    r = refused(HEAD + "steps:\n  - repeat: 9\n    steps:\n      - hold: A\n        duration: 1h\n")
    assert r.one("3:1", "steps") == (
        "the routine lasts 9 h 0 min 5 s; the limit is 8 h (fewer or shorter steps, reps or rounds)"
    )


# --- files --------------------------------------------------------------------------


def test_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = refused_path(tmp_path / "nowhere.yaml", capsys)
    assert r.one("") == "no such file"


def test_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = refused_path(tmp_path, capsys)
    assert r.one("") == "this is a folder, not a routine file"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_an_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text(HEAD + STEP)
    path.chmod(0)
    r = refused_path(path, capsys)
    assert r.one("") == "cannot read it: Permission denied"


# --- several problems, several files ------------------------------------------------


def test_every_problem_is_reported_sorted_by_line(refused: Run) -> None:
    r = refused(
        "format: tproutine/1\n"
        "name: 42\n"  # 2
        "steps:\n"
        "  - hold: A\n"
        "    duration: 1m70s\n"  # 5
        "    side: up\n"  # 6
        "  - stretch: B\n"
        "    duration: 30s\n"
        "    reps: 0\n"  # 9
        "defaults:\n"
        "  pressure: 12\n"  # 11
        "  tooll: ball\n"  # 12
    )
    assert len(r.lines) == 6, r.lines
    assert r.at(0, "2:7", "name").startswith("expected text")
    assert r.at(1, "5:15", "steps[0].duration").startswith("'1m70s' is not a duration")
    assert r.at(2, "6:11", "steps[0].side").startswith("'up' is not accepted")
    assert r.at(3, "9:11", "steps[1].reps") == "0 is out of range (reps is at least 1)"
    assert r.at(4, "11:13", "defaults.pressure").startswith("12 is outside the pressure scale")
    assert r.at(5, "12:3", "defaults.tooll").startswith("unknown key 'tooll' (did you mean 'tool'?")


def test_good_and_bad_files_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEAD + "steps: []\n")
    code = main(["validate", str(SPEC_EXAMPLE), str(bad), str(SPEC_EXAMPLE)])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == f"{SPEC_EXAMPLE}: ok\n{SPEC_EXAMPLE}: ok\n"
    assert err == f"{bad}:3:8: steps: there must be at least one step\n"

"""Handouts say what the routine says: every step, resolved the way the runner runs it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tproutine.paths import bundled_routines_dir
from tproutine.routine.expand import expand
from tproutine.routine.loader import LoadedRoutine, load_routine, parse_routine
from tproutine.share.handout import (
    DISCLAIMER,
    build_handout,
    cue_time,
    html_handout,
    markdown_handout,
    spoken_duration,
)

BUNDLED = sorted(bundled_routines_dir().glob("*.yaml"))


def _load(doc: dict[str, Any], file: str = "test.yaml") -> LoadedRoutine:
    return parse_routine(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), file)


def _md(doc: dict[str, Any]) -> str:
    loaded = _load(doc)
    return markdown_handout(loaded, expand(loaded))


def _html(doc: dict[str, Any]) -> str:
    loaded = _load(doc)
    return html_handout(loaded, expand(loaded))


def _routine(*steps: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"format": "tproutine/1", "name": "Test routine", **top, "steps": list(steps)}


# --- wording helpers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (45, "45 s"),
        (2.5, "2.5 s"),
        (60, "1 min"),
        (90, "1 min 30 s"),
        (3600, "1 h"),
        (3900, "1 h 5 min"),
        (3723, "1 h 2 min 3 s"),
    ],
)
def test_spoken_duration(seconds: float, words: str) -> None:
    assert spoken_duration(seconds) == words


@pytest.mark.parametrize(
    ("at", "words"),
    [
        (0, "at 0:00"),
        (20, "at 0:20"),
        (75, "at 1:15"),
        (2.5, "at 0:02.5"),
        (59.96, "at 1:00"),
        (-10, "10 s before the end"),
        (-90, "1 min 30 s before the end"),
    ],
)
def test_cue_time(at: float, words: str) -> None:
    assert cue_time(at) == words


# --- the bundled routines ----------------------------------------------------------------


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_bundled_routine_has_a_complete_handout(path: Path) -> None:
    loaded = load_routine(path)
    timeline = expand(loaded)
    routine = loaded.routine
    total = spoken_duration(timeline.total_s)
    for text in (markdown_handout(loaded, timeline), html_handout(loaded, timeline)):
        assert total in text
        assert f"tproutine run {path.name}" in text
        assert DISCLAIMER in text
        assert loaded.content_hash[:12] in text
    md = markdown_handout(loaded, timeline)
    assert md.startswith(f"# {routine.name}\n")
    assert f"Run it with tproutine: `tproutine run {path.name}`" in md
    for warning in routine.safety.warnings:
        assert f"- **{warning}**" in md  # bold: the warnings must stand out
    for item in routine.safety.avoid_if:
        assert f"- {item}" in md
    # One heading per step, nested ones included.
    headings = re.findall(r"^#{3,6} \d+(?:\.\d+)*\.? ", md, flags=re.MULTILINE)
    assert len(headings) == _count_steps(routine.steps)


def _count_steps(steps: list[Any]) -> int:
    return sum(1 + (_count_steps(s.steps) if hasattr(s, "repeat") else 0) for s in steps)


def test_low_back_handout_reads_as_written() -> None:
    loaded = load_routine(bundled_routines_dir() / "low-back.yaml")
    md = markdown_handout(loaded, expand(loaded))
    expected = """\
### 2. Pressure hold: Quadratus lumborum

- **Time:** 1 min per repetition on each side
- **Sides:** left then right, 10 s to switch sides
- **Repetitions:** 2 on each side, 10 s rest between
- **Pressure:** 4/10
- **Tool:** tennis ball
- **Area:** lower back, side
- **In all:** 4 min 30 s
"""
    assert expected in md
    assert "- at 0:20: “It should feel like a deep, dull ache" in md
    assert "- 10 s before the end: “Ten seconds left. Breathe out slowly" in md
    assert "- **Sides:** alternating left and right, 5 s to switch sides" in md
    assert "- **Breathing:** in 4 s, out 6 s" in md
    assert "- **By:** tproutine team" in md
    assert "- **Total time:** 14 min 45 s, including a 10 s countdown to get ready" in md


# --- resolved the way the runner resolves them ---------------------------------------------


def test_defaults_reps_rest_and_switch_come_from_the_timeline() -> None:
    md = _md(
        _routine(
            {"hold": "Calf", "duration": "40s", "side": "both", "reps": 3},
            {
                "stretch": "Calf stretch",
                "duration": "30s",
                "pressure": 2,
                "switch": "0s",
                "side": "both",
                "rest": "0s",
                "reps": 2,
            },
            defaults={"pressure": 6, "rest": "15s", "switch": "8s", "tool": "ball", "area": "calf"},
        )
    )
    assert "- **Time:** 40 s per repetition on each side" in md
    assert "- **Sides:** left then right, 8 s to switch sides" in md
    assert "- **Repetitions:** 3 on each side, 15 s rest between" in md
    assert "- **Pressure:** 6/10" in md
    assert "- **Tool:** ball" in md
    # The step's own values beat the defaults; a 0 s switch or rest is not mentioned.
    assert "- **Pressure:** 2/10" in md
    assert "- **Sides:** left then right\n" in md
    assert "- **Repetitions:** 2 on each side\n" in md
    # 3 × 40 × 2 + 2 × 2 × 15 + 8 = 308 s
    assert "- **In all:** 5 min 8 s" in md


def test_one_side_alternate_and_single_rep() -> None:
    md = _md(
        _routine(
            {"hold": "Left only", "duration": "30s", "side": "left"},
            {
                "stretch": "Swap",
                "duration": "20s",
                "side": "both",
                "alternate": True,
                "reps": 2,
                "switch": "3s",
            },
            {"massage": "Once", "duration": "1m"},
            get_ready=0,
        )
    )
    assert "- **Side:** left\n" in md
    assert "- **Sides:** alternating left and right, 3 s to switch sides" in md
    assert "### 3. Massage: Once\n\n- **Time:** 1 min\n\n" in md  # nothing else to say
    assert "countdown" not in md


@pytest.mark.parametrize(
    ("device", "words"),
    [
        ({"intensity": "30%"}, "massage device at 30% of its range"),
        ({"intensity": 0}, "massage device stopped (0%)"),
        ({"ramp": ["20%", "50%"]}, "massage device from 20% rising to 50% of its range"),
        ({"ramp": [60, 25]}, "massage device from 60% falling to 25% of its range"),
        ({"level": 3}, "massage device at level 3 (a setting for one particular device)"),
    ],
)
def test_device_settings_in_words(device: dict[str, Any], words: str) -> None:
    md = _md(_routine({"massage": "Glutes", "duration": "1m", "device": device}))
    assert f"- **Device:** {words}" in md
    assert "run a connected massage device for you" in md
    assert ("written for one particular device" in md) == ("level" in device)


def test_a_default_device_applies_and_off_turns_it_off() -> None:
    md = _md(
        _routine(
            {"massage": "With", "duration": "1m"},
            {"massage": "Without", "duration": "1m", "device": False},
            defaults={"device": {"intensity": 40}},
        )
    )
    with_step, without_step = md.split("### 2.")
    assert "- **Device:** massage device at 40% of its range" in with_step
    assert "Device" not in without_step


def test_repeat_blocks_read_as_repeat_n_times_with_nested_numbers() -> None:
    md = _md(
        _routine(
            {"breathe": "Start", "duration": "30s", "pattern": ["4s", "2s", "6s", "2s"]},
            {
                "repeat": 3,
                "rest": "15s",
                "steps": [
                    {
                        "hold": "Piriformis",
                        "duration": "45s",
                        "cues": [
                            {"at": "-5s", "say": "Five seconds."},
                            {"at": "10s", "say": "Breathe."},
                            {"at": 0, "say": "Lean in."},
                        ],
                    },
                    {"repeat": 2, "steps": [{"rest": "Shake out", "duration": "10s"}]},
                ],
            },
            {"rest": "20s"},
        )
    )
    assert "- **Breathing:** in 4 s, hold 2 s, out 6 s, hold 2 s" in md
    assert "### 2. Repeat 3 times:\n\n- **Rounds:** 3\n- **Rest between rounds:** 15 s\n" in md
    # (45 + 2 × 10) × 3 + 2 × 15 = 225 s
    assert "- **In all:** 3 min 45 s" in md
    assert "#### 2.1 Pressure hold: Piriformis" in md
    assert "#### 2.2 Repeat 2 times:" in md
    assert "##### 2.2.1 Rest: Shake out" in md
    assert "### 3. Rest\n\n- **Time:** 20 s\n" in md
    # Cues in the order they are said, whatever the file's order.
    cues = re.findall(r"^- (at 0:\d\d|\d+ s before the end): “(.*)”$", md, flags=re.MULTILINE)
    assert cues == [
        ("at 0:00", "Lean in."),
        ("at 0:10", "Breathe."),
        ("5 s before the end", "Five seconds."),
    ]


def test_total_time_is_the_timeline_total() -> None:
    loaded = _load(_routine({"hold": "A", "duration": "1m30s", "reps": 2, "rest": "30s"}))
    timeline = expand(loaded)
    handout = build_handout(loaded, timeline)
    assert handout.total_s == timeline.total_s == 5 + 90 + 30 + 90
    assert (
        "- **Total time:** 3 min 35 s, including a 5 s countdown to get ready"
        in markdown_handout(loaded, timeline)
    )


def test_optional_parts_are_left_out_when_absent() -> None:
    md = _md(_routine({"stretch": "Reach", "duration": "30s"}))
    for absent in (
        "By:",
        "Stop at once",
        "Do not do this routine",
        "About this routine",
        "Pressure is how",
        "Cues",
    ):
        assert absent not in md
    assert DISCLAIMER in md  # always


def test_summary_description_and_instructions_keep_their_paragraphs() -> None:
    md = _md(
        _routine(
            {"hold": "A", "duration": "30s", "instructions": "First line\nsecond line\n\nNew para"},
            summary="One line",
            description="Para one\nstill one\n\n\nPara two",
            author="Sam Rivera, LMT",
        )
    )
    assert "# Test routine\n\nOne line\n\n- **By:** Sam Rivera, LMT\n" in md
    assert "## About this routine\n\nPara one\nstill one\n\nPara two\n" in md
    assert "First line\nsecond line\n\nNew para" in md


# --- HTML specifics ----------------------------------------------------------------------


def test_html_is_one_self_contained_printable_page() -> None:
    loaded = load_routine(bundled_routines_dir() / "hips-glutes.yaml")
    page = html_handout(loaded, expand(loaded))
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">')
    assert page.count("<style>") == 1
    lowered = page.lower()
    # Nothing is fetched: no scripts, stylesheets, fonts, images or links.
    for outside in (
        "src=",
        "href=",
        "<script",
        "<link",
        "<img",
        "<iframe",
        "url(",
        "@import",
        "http://",
        "https://",
    ):
        assert outside not in lowered, outside
    print_css = page[page.index("@media print") :]
    assert "break-inside: avoid" in print_css
    assert "background: #fff !important" in print_css
    assert "@page { margin:" in page
    assert "overflow-wrap: anywhere" in page
    assert "<title>Hips and glutes · routine handout</title>" in page
    # Every step is its own box that printing keeps whole.
    assert page.count('<section class="step ') == 6
    assert '<section class="repeat">' in page
    assert "Repeat 2 times:" in page
    assert "<dd>massage device from 20% rising to 45% of its range in each repetition</dd>" in page
    assert '<span class="when">10 s before the end</span>' in page
    assert "Run it with tproutine: <code><bdi>tproutine run hips-glutes.yaml</bdi></code>" in page


def test_html_isolates_every_piece_of_routine_text() -> None:
    page = _html(
        _routine(
            {
                "hold": "Title",
                "duration": "30s",
                "tool": "Tool",
                "area": "Area",
                "instructions": "Do it",
                "cues": [{"at": 0, "say": "Say it"}],
            },
            summary="Summary",
            author="Author",
            description="Description",
            safety={"warnings": ["Warning"], "avoid_if": ["Avoid"]},
        )
    )
    for text in (
        "Test routine",
        "Summary",
        "Author",
        "Description",
        "Warning",
        "Avoid",
        "Title",
        "Tool",
        "Area",
        "Do it",
        "Say it",
    ):
        assert f"<bdi>{text}</bdi>" in page, text

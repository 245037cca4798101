"""Adjustment files (``tproutine-adjust/1``): parsing, bounds, applying, "easier today"."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tproutine.routine.adjust import (
    Adjustment,
    adjust,
    easier_today,
    find_adjustment,
    parse_adjustment,
    timeline_for,
)
from tproutine.routine.loader import LoadedRoutine, parse_routine
from tproutine.yamlsafe import LoadError

ROUTINE = """\
format: tproutine/1
name: Neck and shoulders
defaults:
  pressure: 6
steps:
  - hold: Upper trapezius
    id: upper-trap
    duration: 45s
    side: both
    cues:
      - at: 30s
        say: Breathe out.
      - at: -10s
        say: Ten seconds left.
  - stretch: Doorway chest stretch
    duration: 30s
    reps: 2
    rest: 10s
  - massage: Shoulders
    duration: 1m
    device: {ramp: [20%, 40%]}
  - repeat: 2
    steps:
      - breathe: Slow breaths
        duration: 40s
      - rest: 20s
        id: pause
"""

ISSUE_EXAMPLE = """\
format: tproutine-adjust/1
routine: Neck and shoulders        # the routine's name; another name is an error
time_scale: 0.75                   # holds and stretches only
steps:
  upper-trap: {pressure: 4, duration: 30s}
  Doorway chest stretch: skip
"""


def loaded(text: str = ROUTINE) -> LoadedRoutine:
    return parse_routine(text, "neck.yaml")


def adjustment(text: str) -> Adjustment:
    return parse_adjustment(text, "adj.yaml")


def errors(text: str, routine: str = ROUTINE) -> list[str]:
    """The one-line problems of ``text``, from the file alone or against ``routine``."""
    try:
        adjust(loaded(routine), adjustment(text))
    except LoadError as err:
        lines = [str(p) for p in err.problems]
        assert all("\n" not in line for line in lines)
        return lines
    raise AssertionError("the adjustment was accepted")


HEAD = "format: tproutine-adjust/1\nroutine: Neck and shoulders\n"


def test_the_issues_example_works_as_written() -> None:
    tl = adjust(loaded(), adjustment(ISSUE_EXAMPLE))
    titles = [s.title for s in tl.segments]
    assert "Doorway chest stretch" not in titles
    holds = [s for s in tl.segments if s.title == "Upper trapezius"]
    # The step's own duration wins over time_scale; pressure 6 → 4 within the bounds.
    assert [(s.duration_s, s.pressure) for s in holds] == [(30.0, 4), (30.0, 4)]
    # Massage and breathing are not holds or stretches: time_scale leaves them alone.
    assert [s.duration_s for s in tl.segments if s.kind == "massage"] == [60.0]
    assert [s.duration_s for s in tl.segments if s.kind == "breathe"] == [40.0, 40.0]
    assert tl.adjustment is not None
    assert tl.adjustment.summary == (
        "time ×0.75; upper-trap: pressure 4, 30s; Doorway chest stretch: skipped"
    )
    assert tl.adjustment.hash == hashlib.sha256(ISSUE_EXAMPLE.encode()).hexdigest()
    assert tl.adjustment.source == "adj.yaml"
    # The practitioner's version is still the one recorded.
    assert tl.content_hash == loaded().content_hash


def test_time_scale_scales_holds_and_stretches_and_keeps_cues_in_place() -> None:
    tl = adjust(loaded(), adjustment(HEAD + "time_scale: 0.5\n"))
    hold = next(s for s in tl.segments if s.kind == "hold")
    assert hold.duration_s == 22.5
    # "at 30s" of 45s stays at two thirds; "-10s" still counts back from the end.
    assert [(c.at_s, c.say) for c in hold.cues] == [
        (12.5, "Ten seconds left."),
        (15.0, "Breathe out."),
    ]
    stretches = [s.duration_s for s in tl.segments if s.kind == "stretch"]
    assert stretches == [15.0, 15.0]


def test_durations_round_to_whole_seconds_within_the_bounds() -> None:
    tl = adjust(loaded(), adjustment(HEAD + "time_scale: 0.75\n"))
    assert next(s for s in tl.segments if s.kind == "hold").duration_s == 34.0  # 33.75


def test_reps_rest_steps_in_repeat_blocks_and_devices() -> None:
    text = HEAD + (
        "steps:\n"
        "  Doorway chest stretch: {reps: 3}\n"
        "  pause: {duration: 10s}\n"
        "  Shoulders: {device: {ramp: [10%, 40%]}}\n"
        "  Slow breaths: {duration: 1m}\n"
    )
    tl = adjust(loaded(), adjustment(text))
    assert sum(1 for s in tl.segments if s.kind == "stretch") == 3
    # The rest step inside the repeat block, in both rounds.
    assert [s.duration_s for s in tl.segments if s.step_path == "steps[3].steps[1]"] == [10.0, 10.0]
    massage = next(s for s in tl.segments if s.kind == "massage")
    assert massage.device is not None and (massage.device.from_pct, massage.device.to_pct) == (
        10.0,
        40.0,
    )
    assert [s.duration_s for s in tl.segments if s.kind == "breathe"] == [60.0, 60.0]


def test_device_off_and_lower_intensities() -> None:
    for setting, expected in [("off", None), ("{intensity: 15%}", (15.0, 15.0))]:
        tl = adjust(loaded(), adjustment(HEAD + f"steps:\n  Shoulders: {{device: {setting}}}\n"))
        device = next(s for s in tl.segments if s.kind == "massage").device
        assert (device and (device.from_pct, device.to_pct)) == expected


def test_skipping_every_step_of_a_repeat_block_removes_the_block() -> None:
    text = HEAD + "steps:\n  Slow breaths: skip\n  pause: skip\n"
    tl = adjust(loaded(), adjustment(text))
    assert not any(s.step_path and s.step_path.startswith("steps[3]") for s in tl.segments)


# --- bad input: one line each, with line, column and what is accepted -----------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "steps:\n  Upper trap: skip\n",
            "adj.yaml:4:3: steps.Upper trap: no step of 'Neck and shoulders' has this id or "
            "title (did you mean 'upper-trap'? steps: upper-trap, Doorway chest stretch, "
            "Shoulders, Slow breaths, pause)",
        ),
        (
            "steps:\n  upper-trap: {pressure: 8}\n",
            "adj.yaml:4:26: steps.upper-trap.pressure: 8 is more than 2 below or 1 above the "
            "routine's 6 (use 4 to 7)",
        ),
        (
            "steps:\n  upper-trap: {pressure: 3}\n",
            "adj.yaml:4:26: steps.upper-trap.pressure: 3 is more than 2 below or 1 above the "
            "routine's 6 (use 4 to 7)",
        ),
        (
            "steps:\n  Shoulders: {device: {intensity: 30%}}\n",
            "adj.yaml:4:23: steps.Shoulders.device: 30% is above the routine's 20% to 40% (an "
            "adjustment may only lower it: at most 20%, or off)",
        ),
        (
            "steps:\n  Shoulders: {device: {ramp: [20%, 50%]}}\n",
            "adj.yaml:4:23: steps.Shoulders.device: 20→50% is above the routine's 20% to 40% "
            "(an adjustment may only lower it: at most [20%, 40%], or off)",
        ),
        (
            "steps:\n  upper-trap: {device: off}\n",
            "adj.yaml:4:24: steps.upper-trap.device: this step does not use the device; an "
            "adjustment cannot add it",
        ),
        (
            "steps:\n  upper-trap: {duration: 70s}\n",
            "adj.yaml:4:26: steps.upper-trap.duration: 1m10s is outside 0.5× to 1.5× of the "
            "routine's 45s (use 22.5s to 1m08s)",
        ),
        (
            "steps:\n  Doorway chest stretch: {reps: 4}\n",
            "adj.yaml:4:33: steps.Doorway chest stretch.reps: 4 is outside 0.5× to 1.5× of the "
            "routine's 2 reps (use 1 to 3)",
        ),
        (
            "steps:\n  pause: {reps: 2}\n",
            "adj.yaml:4:17: steps.pause.reps: a rest step has no reps",
        ),
        (
            "time_scale: 2\n",
            "adj.yaml:3:13: time_scale: 2 is out of range (use 0.5 to 1.5: half to one and a "
            "half times the routine's holds and stretches)",
        ),
        (
            "steps:\n  upper-trap: {presure: 4}\n",
            "adj.yaml:4:16: steps.upper-trap.presure: unknown key 'presure' (did you mean "
            "'pressure'? known keys: skip, duration, reps, pressure, device; x- keys are "
            "ignored)",
        ),
        (
            "steps:\n  upper-trap: skipped\n",
            "adj.yaml:4:15: steps.upper-trap: expected `skip` or a mapping like {pressure: 4, "
            "duration: 30s}, got the text 'skipped'",
        ),
        (
            "steps:\n  upper-trap: skip\n  Upper trapezius: {pressure: 5}\n",
            "adj.yaml:5:3: steps.Upper trapezius: names the same step as 'upper-trap': keep one",
        ),
        (
            "steps:\n  upper-trap: skip\n  Doorway chest stretch: skip\n  Shoulders: skip\n"
            "  Slow breaths: skip\n  pause: skip\n",
            "adj.yaml:3:1: steps: an adjustment cannot skip every step",
        ),
        (
            "colour: blue\n",
            "adj.yaml:3:1: colour: unknown key 'colour' (known keys: format, routine, note, "
            "time_scale, steps; x- keys are ignored)",
        ),
        ("", "adj.yaml:1:1: this adjustment changes nothing (give time_scale or steps)"),
    ],
)
def test_each_mistake_is_one_line_at_its_place(body: str, expected: str) -> None:
    assert errors(HEAD + body) == [expected]


def test_another_routines_name_is_an_error() -> None:
    text = "format: tproutine-adjust/1\nroutine: Hips\ntime_scale: 0.8\n"
    assert errors(text) == [
        "adj.yaml:2:10: routine: this adjustment is for 'Hips', not for 'Neck and shoulders' "
        "(neck.yaml); use it with the routine it names"
    ]


def test_the_routine_name_ignores_case_and_spacing() -> None:
    text = "format: tproutine-adjust/1\nroutine: '  neck AND  shoulders'\ntime_scale: 0.8\n"
    assert adjust(loaded(), adjustment(text)).adjustment is not None


def test_a_title_that_names_two_steps_asks_for_an_id() -> None:
    routine = ROUTINE + "  - stretch: Doorway chest stretch\n    duration: 20s\n"
    assert errors(HEAD + "steps:\n  Doorway chest stretch: skip\n", routine) == [
        "adj.yaml:4:3: steps.Doorway chest stretch: 2 steps have this title (steps[1], "
        "steps[4]); give the step an `id` in the routine and name it by that"
    ]


def test_a_step_without_pressure_cannot_have_its_pressure_changed() -> None:
    routine = ROUTINE.replace("defaults:\n  pressure: 6\n", "")
    assert errors(HEAD + "steps:\n  upper-trap: {pressure: 4}\n", routine) == [
        "adj.yaml:4:26: steps.upper-trap.pressure: this step has no target pressure in the "
        "routine, so there is none to change"
    ]


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("format: tproutine/1\nroutine: A\n", "adj.yaml:1:9: format: this is a routine"),
        ("routine: A\ntime_scale: 1\n", "adj.yaml:1:1: 'format' is required"),
        ("format: tproutine-adjust/1\ntime_scale: 1\n", "adj.yaml:1:1: 'routine' is required"),
        ("format: tproutine-adjust/1\nroutine: A\nsteps: [a]\n", "adj.yaml:3:8: steps: expected"),
        ("- a\n", "adj.yaml:1:1: the file holds a list; expected an adjustment"),
        ("format: tproutine-adjust/1\nroutine: A\nsteps: {a: !!python/object x}\n", "adj.yaml:3"),
    ],
)
def test_structure_mistakes(text: str, start: str) -> None:
    with pytest.raises(LoadError) as err:
        parse_adjustment(text, "adj.yaml")
    assert str(err.value.problems[0]).startswith(start), err.value


def test_x_keys_and_a_note_are_accepted() -> None:
    adj = adjustment(HEAD + "x-by: Sam\nnote: For the week after the flight.\ntime_scale: 1\n")
    assert adj.note == "For the week after the flight." and adj.time_scale == 1.0


# --- easier today -----------------------------------------------------------------------------


def test_easier_today_shortens_lowers_and_says_so() -> None:
    tl = easier_today(loaded())
    hold = next(s for s in tl.segments if s.kind == "hold")
    assert (hold.duration_s, hold.pressure) == (34.0, 5)
    massage = next(s for s in tl.segments if s.kind == "massage")
    assert massage.device is not None
    assert (massage.device.from_pct, massage.device.to_pct) == (10.0, 30.0)
    assert massage.duration_s == 60.0  # not a hold or a stretch
    assert tl.adjustment is not None
    assert tl.adjustment.summary == "easier today (time ×0.75, pressure −1, device −10 points)"


def test_easier_today_on_an_adjustment_stays_within_the_bounds() -> None:
    adj = adjustment(HEAD + "time_scale: 0.5\nsteps:\n  upper-trap: {pressure: 4}\n")
    tl = easier_today(loaded(), adj)
    hold = next(s for s in tl.segments if s.kind == "hold")
    # 0.5 × 0.75 would be below half of the routine's 45 s; pressure stops at 6 − 2.
    assert (hold.duration_s, hold.pressure) == (22.5, 4)
    assert tl.adjustment is not None
    assert (
        tl.adjustment.summary.startswith("easier today (") and "time ×0.5" in tl.adjustment.summary
    )
    assert tl.adjustment.hash != adj.content_hash


def test_easier_today_never_goes_below_zero() -> None:
    routine = ROUTINE.replace("ramp: [20%, 40%]", "intensity: 5%").replace(
        "pressure: 6", "pressure: 0"
    )
    tl = easier_today(loaded(routine))
    massage = next(s for s in tl.segments if s.kind == "massage")
    assert massage.device is not None and massage.device.from_pct == 0.0
    assert next(s for s in tl.segments if s.kind == "hold").pressure == 0


# --- adjustments in the library ---------------------------------------------------------------


def test_the_librarys_adjustment_applies_and_a_stale_one_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    routine = tmp_path / "neck.yaml"
    routine.write_text(ROUTINE, encoding="utf-8")
    folder = tmp_path / "data" / "tproutine" / "adjustments"
    folder.mkdir(parents=True)
    (folder / "broken.yaml").write_text("format: tproutine-adjust/1\n", encoding="utf-8")
    (folder / "neck-easier.yaml").write_text(ISSUE_EXAMPLE, encoding="utf-8")
    found = find_adjustment("NECK and shoulders")
    assert found is not None and found.source.endswith("neck-easier.yaml")
    assert timeline_for(routine).adjustment is not None
    assert timeline_for(routine, library=False).adjustment is None
    # The practitioner renamed the step since: the routine runs as written, and says why.
    routine.write_text(ROUTINE.replace("id: upper-trap", "id: trapezius"), encoding="utf-8")
    said: list[str] = []
    assert timeline_for(routine, report=said.append).adjustment is None
    assert len(said) == 1 and "does not fit 'Neck and shoulders' any more" in said[0]
    assert said[0].endswith("running the routine as written")

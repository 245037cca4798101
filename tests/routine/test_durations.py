"""Durations and percents in every form the format accepts, and every refusal."""

from __future__ import annotations

import math

import pytest

from tests.routine import problems, routine, timeline
from tproutine.routine.durations import (
    DURATION_HELP,
    PERCENT_HELP,
    format_clock,
    format_duration,
    parse_duration,
    parse_percent,
)
from tproutine.yamlsafe import load_yaml


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (45, 45.0),
        (2.5, 2.5),
        ("45", 45.0),
        ("45s", 45.0),
        ("2.5s", 2.5),
        ("2.5", 2.5),
        ("2m", 120.0),
        ("90m", 5400.0),
        ("1m30s", 90.0),
        ("1m 30s", 90.0),
        ("45 s", 45.0),
        ("1m59.5s", 119.5),
        ("1h", 3600.0),
        ("1h5m", 3900.0),
        ("1h5m3s", 3903.0),
        ("1h30s", 3630.0),
        ("1H5M", 3900.0),
        ("1:30", 90.0),
        ("0:45", 45.0),
        ("1:02:03", 3723.0),
        ("  1:30  ", 90.0),
        ("+45s", 45.0),
        ("0s", 0.0),
    ],
)
def test_accepted_forms(value: object, seconds: float) -> None:
    got = parse_duration(value)
    assert got == seconds
    assert isinstance(got, float)


def test_yaml_1_1_reads_unquoted_clock_times_as_their_seconds() -> None:
    # `1:30` unquoted is the base-60 integer 90; quoted it is text. Both mean 90 s.
    doc = load_yaml(
        'a: 1:30\nb: "1:30"\nc: 1:02:03\nd: "1:02:03"\ne: 45\nf: off\ng: 1:30.5\n', "d.yaml"
    )
    assert doc.data == {
        "a": 90,
        "b": "1:30",
        "c": 3723,
        "d": "1:02:03",
        "e": 45,
        "f": False,
        "g": 90.5,
    }
    assert parse_duration(doc.data["a"]) == parse_duration(doc.data["b"]) == 90.0
    assert parse_duration(doc.data["c"]) == parse_duration(doc.data["d"]) == 3723.0
    assert parse_duration(doc.data["e"]) == 45.0
    assert parse_duration(doc.data["f"], allow_off=True) == 0.0
    assert parse_duration(doc.data["g"]) == 90.5


@pytest.mark.parametrize("written", ["1:30", '"1:30"', "'1:30'", "90", "90s", "1m30s", "1.5m"])
def test_a_step_duration_in_every_spelling(written: str) -> None:
    text = routine(f"get_ready: 0s\nsteps:\n  - hold: A\n    duration: {written}\n")
    if written == "1.5m":  # fractions only in the seconds form
        [p] = problems(text)
        assert p.path == "steps[0].duration"
        assert DURATION_HELP in p.message
        return
    [seg] = timeline(text).segments
    assert seg.duration_s == 90.0


def test_clock_forms_longer_than_an_hour_parse_but_a_step_is_at_most_one_hour() -> None:
    assert parse_duration("1:02:03") == 3723.0
    [p] = problems(routine("steps:\n  - hold: A\n    duration: 1:02:03\n"))
    assert p.path == "steps[0].duration"
    assert p.message == "3723 lasts 1 h 2 min 3 s; the limit for a repetition is 1 h"
    # exactly one hour is allowed
    [_, seg] = timeline(routine("steps:\n  - hold: A\n    duration: 1h\n")).segments
    assert seg.duration_s == 3600.0


@pytest.mark.parametrize(("field", "written"), [("rest", "off"), ("switch", "off")])
def test_off_means_zero_where_a_duration_may_be_zero(field: str, written: str) -> None:
    text = routine(
        "get_ready: off\nsteps:\n  - hold: A\n    duration: 10s\n    side: both\n"
        f"    reps: 2\n    {field}: {written}\n"
    )
    kinds = [s.kind for s in timeline(text).segments]
    assert field not in kinds
    assert kinds.count("hold") == 4
    assert kinds[0] == "hold"  # get_ready: off


@pytest.mark.parametrize("written", ["off", "0s", "0", "false", "'0:00'"])
def test_get_ready_off(written: str) -> None:
    tl = timeline(routine(f"get_ready: {written}\nsteps:\n  - rest: 10s\n"))
    assert [s.kind for s in tl.segments] == ["rest"]


def test_off_is_not_a_step_duration() -> None:
    [p] = problems(routine("steps:\n  - hold: A\n    duration: off\n"))
    assert p.message == f"'off' is not a duration ({DURATION_HELP})"
    [p] = problems(routine("steps:\n  - rest: off\n"))
    assert p.message == f"'off' is not a duration ({DURATION_HELP})"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("-10s", -10.0), ("-1:30", -90.0), (-10, -10.0), ("-0.5s", -0.5), ("+10s", 10.0)],
)
def test_signed_offsets(value: object, seconds: float) -> None:
    assert parse_duration(value, signed=True) == seconds


def test_negative_cue_offsets_count_back_from_the_end() -> None:
    text = routine(
        "get_ready: 0s\nsteps:\n  - hold: A\n    duration: 60s\n    cues:\n"
        "      - {at: -10s, say: ten}\n      - {at: '-1:00', say: start}\n"
        "      - {at: -0.5, say: half}\n"
    )
    [seg] = timeline(text).segments
    assert [(c.at_s, c.say) for c in seg.cues] == [(0.0, "start"), (50.0, "ten"), (59.5, "half")]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "1m70s",
            f"'1m70s' is not a duration: seconds after minutes go up to 59 ({DURATION_HELP})",
        ),
        ("1h60m", f"'1h60m' is not a duration: minutes after hours go up to 59 ({DURATION_HELP})"),
        (
            "1h70s",
            f"'1h70s' is not a duration: seconds after minutes go up to 59 ({DURATION_HELP})",
        ),
        ("1:60", f"'1:60' is not a duration: seconds go up to 59 ({DURATION_HELP})"),
        (
            "1:60:00",
            f"'1:60:00' is not a duration: minutes and seconds go up to 59 ({DURATION_HELP})",
        ),
        ("abc", f"'abc' is not a duration ({DURATION_HELP})"),
        ("", f"'' is not a duration ({DURATION_HELP})"),
        ("   ", f"'' is not a duration ({DURATION_HELP})"),
        ("1 2", f"'1 2' is not a duration ({DURATION_HELP})"),
        ("1.5m", f"'1.5m' is not a duration ({DURATION_HELP})"),
        ("5x", f"'5x' is not a duration ({DURATION_HELP})"),
        ("1:2:3:4", f"'1:2:3:4' is not a duration ({DURATION_HELP})"),
        ("1:300", f"'1:300' is not a duration ({DURATION_HELP})"),
        ("s", f"'s' is not a duration ({DURATION_HELP})"),
        (".5s", f"'.5s' is not a duration ({DURATION_HELP})"),
        ("1e3", f"'1e3' is not a duration ({DURATION_HELP})"),
        ("+-5", f"'-5' is not a duration ({DURATION_HELP})"),
        ("-10s", f"'-10s' is negative; a duration here is 0 or more ({DURATION_HELP})"),
        (-10, f"-10 is negative; a duration here is 0 or more ({DURATION_HELP})"),
        (True, f"'on' is not a duration ({DURATION_HELP})"),
        (False, f"'off' is not a duration ({DURATION_HELP})"),
        (None, f"None is not a duration ({DURATION_HELP})"),
        ([1], f"[1] is not a duration ({DURATION_HELP})"),
        ({"a": 1}, f"{{'a': 1}} is not a duration ({DURATION_HELP})"),
        (math.inf, f"inf is not a duration ({DURATION_HELP})"),
        (math.nan, f"nan is not a duration ({DURATION_HELP})"),
        (10**400, f"this number is too large for a duration ({DURATION_HELP})"),
        ("9" * 50 + "s", f"this text is too long for a duration ({DURATION_HELP})"),
    ],
)
def test_refusals_say_what_is_accepted(value: object, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_duration(value)
    assert str(exc.value) == message


def test_signed_refusals() -> None:
    for bad in ("- 5s", "--5s", "-+5", "-", "-abc"):
        with pytest.raises(ValueError, match="is not a duration"):
            parse_duration(bad, signed=True)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("0", "0 is too short for a repetition (use at least 1s)"),
        ("0s", "'0s' is too short for a repetition (use at least 1s)"),
        ("0.999s", "'0.999s' is too short for a repetition (use at least 1s)"),
        ("2h", "'2h' lasts 2 h; the limit for a repetition is 1 h"),
        ("3601", "3601 lasts 1 h 0 min 1 s; the limit for a repetition is 1 h"),
        ("-5s", f"'-5s' is negative; a duration here is 0 or more ({DURATION_HELP})"),
        (
            "1m70s",
            f"'1m70s' is not a duration: seconds after minutes go up to 59 ({DURATION_HELP})",
        ),
    ],
)
def test_step_duration_bounds(written: str, message: str) -> None:
    [p] = problems(routine(f"steps:\n  - hold: A\n    duration: {written}\n"))
    assert (p.line, p.col, p.path, p.message) == (5, 15, "steps[0].duration", message)


def test_the_specs_example_message() -> None:
    # spec: `back.yaml:14:15: steps[2].duration: '1m70s' is not a duration (use 45s, 2m, ...)`
    text = routine(
        "steps:\n  - rest: 5s\n  - rest: 5s\n  - hold: A\n    duration: 1m70s\n", head=HEAD_14
    )
    [p] = problems(text, "back.yaml")
    assert str(p).startswith("back.yaml:14:15: steps[2].duration: '1m70s' is not a duration")
    assert str(p).endswith("(use 45s, 2m, 1m30s or 1:30)")


HEAD_14 = "format: tproutine/1\nname: Back\n" + "# comment\n" * 7


@pytest.mark.parametrize(
    ("value", "pct"),
    [
        (40, 40.0),
        (0, 0.0),
        (100, 100.0),
        (40.5, 40.5),
        ("40%", 40.0),
        ("40", 40.0),
        (" 40 % ", 40.0),
        ("0%", 0.0),
        ("100%", 100.0),
        ("12.5%", 12.5),
    ],
)
def test_percents(value: object, pct: float) -> None:
    assert parse_percent(value) == pct


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("150%", f"'150%' is outside 0–100% ({PERCENT_HELP})"),
        (-5, f"-5 is outside 0–100% ({PERCENT_HELP})"),
        (100.5, f"100.5 is outside 0–100% ({PERCENT_HELP})"),
        ("1e1", f"'1e1' is not a percent ({PERCENT_HELP})"),
        ("4_0", f"'4_0' is not a percent ({PERCENT_HELP})"),
        ("-0", f"'-0' is not a percent ({PERCENT_HELP})"),
        ("inf", f"'inf' is not a percent ({PERCENT_HELP})"),
        ("40%%", f"'40%%' is not a percent ({PERCENT_HELP})"),
        ("high", f"'high' is not a percent ({PERCENT_HELP})"),
        (True, f"'on' is not a percent ({PERCENT_HELP})"),
        (None, f"None is not a percent ({PERCENT_HELP})"),
        (math.nan, f"nan is outside 0–100% ({PERCENT_HELP})"),
        (10**400, f"this number is outside 0–100% ({PERCENT_HELP})"),
    ],
)
def test_percent_refusals(value: object, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_percent(value)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45s"), (2.5, "2.5s"), (60, "1m"), (90, "1m30s"), (3600, "1h00m"), (3723, "1h02m03s")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "00:00"), (65, "01:05"), (655, "10:55"), (3723, "1:02:03")]
)
def test_format_clock(seconds: float, text: str) -> None:
    assert format_clock(seconds) == text

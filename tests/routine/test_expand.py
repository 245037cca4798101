"""Expansion into a timeline, rule by rule as the spec's "Expansion into a timeline" says.

A compact signature stands for each segment: ``(kind, side, rep, seconds)``.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.routine import BUNDLED, SPEC_EXAMPLE, problems, routine, timeline
from tproutine.routine.checked import from_model
from tproutine.routine.expand import MAX_SEGMENTS, MAX_TOTAL_S, expand, measure
from tproutine.routine.loader import parse_routine
from tproutine.routine.timeline import DeviceSetting, Timeline

Sig = tuple[str, str | None, int | None, float]

GR: Sig = ("get_ready", None, None, 5.0)


def sig(tl: Timeline) -> list[Sig]:
    return [(s.kind, s.side, s.rep, s.duration_s) for s in tl.segments]


def steps(body: str, *, top: str = "get_ready: 0s\n") -> list[Sig]:
    return sig(timeline(routine(top + "steps:\n" + body)))


def H(side: str | None, rep: int, seconds: float = 10.0) -> Sig:
    return ("hold", side, rep, seconds)


def REST(seconds: float) -> Sig:
    return ("rest", None, None, seconds)


def SWITCH(seconds: float = 5.0) -> Sig:
    return ("switch", None, None, seconds)


def check_contiguous(tl: Timeline) -> None:
    start = 0.0
    for i, seg in enumerate(tl.segments):
        assert seg.index == i
        assert seg.start_s == pytest.approx(start)
        assert seg.duration_s > 0
        start += seg.duration_s
    assert tl.total_s == pytest.approx(start)
    assert tl.total_s == pytest.approx(sum(s.duration_s for s in tl.segments))


# --- 1. get_ready ---------------------------------------------------------------------


def test_get_ready_comes_first_5s_by_default() -> None:
    tl = timeline(routine("steps:\n  - hold: A\n    duration: 10s\n"))
    assert sig(tl) == [GR, H(None, 1)]
    assert tl.segments[0].title == "Get ready"
    assert tl.segments[1].start_s == 5.0


@pytest.mark.parametrize(("written", "seconds"), [("10s", 10.0), ("1m", 60.0), ("2.5", 2.5)])
def test_get_ready_length(written: str, seconds: float) -> None:
    got = steps("  - hold: A\n    duration: 10s\n", top=f"get_ready: {written}\n")
    assert got == [("get_ready", None, None, seconds), H(None, 1)]


@pytest.mark.parametrize("written", ["0s", "off", "0"])
def test_get_ready_off(written: str) -> None:
    assert steps("  - hold: A\n    duration: 10s\n", top=f"get_ready: {written}\n") == [H(None, 1)]


# --- 2. reps and rest -------------------------------------------------------------------


def test_reps_with_rest_between_not_after_the_last() -> None:
    got = steps("  - hold: A\n    duration: 10s\n    reps: 3\n    rest: 4s\n")
    assert got == [H(None, 1), REST(4), H(None, 2), REST(4), H(None, 3)]


@pytest.mark.parametrize("rest", ["", "    rest: 0s\n", "    rest: off\n"])
def test_reps_without_rest(rest: str) -> None:
    got = steps("  - hold: A\n    duration: 10s\n    reps: 3\n" + rest)
    assert got == [H(None, 1), H(None, 2), H(None, 3)]


def test_reps_count_and_titles() -> None:
    tl = timeline(
        routine("get_ready: 0s\nsteps:\n  - stretch: Calf\n    duration: 10s\n    reps: 2\n")
    )
    assert [(s.title, s.rep, s.reps) for s in tl.segments] == [("Calf", 1, 2), ("Calf", 2, 2)]


# --- 3. sides, switch, alternate ---------------------------------------------------------


@pytest.mark.parametrize("side", ["left", "right"])
def test_one_side(side: str) -> None:
    got = steps(f"  - hold: A\n    duration: 10s\n    side: {side}\n    reps: 2\n")
    assert got == [H(side, 1), H(side, 2)]


def test_both_sides_exact_order() -> None:
    got = steps("  - hold: A\n    duration: 10s\n    side: both\n    reps: 2\n    rest: 3s\n")
    assert got == [
        H("left", 1),
        REST(3),
        H("left", 2),
        SWITCH(5),
        H("right", 1),
        REST(3),
        H("right", 2),
    ]


def test_switch_segment_title() -> None:
    tl = timeline(routine("steps:\n  - hold: A\n    duration: 10s\n    side: both\n"))
    [switch] = [s for s in tl.segments if s.kind == "switch"]
    assert (switch.title, switch.side, switch.rep, switch.device) == (
        "Switch sides",
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("step", "defaults", "expected"),
    [
        ("", "", 5.0),  # the default
        ("    switch: 8s\n", "", 8.0),
        ("", "defaults:\n  switch: 7s\n", 7.0),
        ("    switch: 3s\n", "defaults:\n  switch: 7s\n", 3.0),  # the step wins
        ("    switch: 0s\n", "defaults:\n  switch: 7s\n", None),
        ("", "defaults:\n  switch: off\n", None),
    ],
)
def test_switch_length(step: str, defaults: str, expected: float | None) -> None:
    got = steps(
        "  - hold: A\n    duration: 10s\n    side: both\n" + step, top="get_ready: 0\n" + defaults
    )
    middle = [SWITCH(expected)] if expected else []
    assert got == [H("left", 1), *middle, H("right", 1)]


def test_alternate_gives_l1_switch_r1_rest_l2() -> None:
    got = steps(
        "  - hold: A\n    duration: 10s\n    side: both\n    alternate: true\n"
        "    reps: 3\n    rest: 4s\n"
    )
    assert got == [
        H("left", 1),
        SWITCH(),
        H("right", 1),
        REST(4),
        H("left", 2),
        SWITCH(),
        H("right", 2),
        REST(4),
        H("left", 3),
        SWITCH(),
        H("right", 3),
    ]


def test_alternate_without_switch_or_rest() -> None:
    got = steps(
        "  - hold: A\n    duration: 10s\n    side: both\n    alternate: true\n"
        "    reps: 2\n    switch: 0s\n"
    )
    assert got == [H("left", 1), H("right", 1), H("left", 2), H("right", 2)]


def test_alternate_with_one_rep_is_like_both() -> None:
    base = "  - hold: A\n    duration: 10s\n    side: both\n"
    assert (
        steps(base + "    alternate: true\n")
        == steps(base)
        == [
            H("left", 1),
            SWITCH(),
            H("right", 1),
        ]
    )


# --- 4. repeat blocks -------------------------------------------------------------------


def test_repeat_with_rest_between_rounds_only() -> None:
    got = steps(
        "  - repeat: 3\n    rest: 15s\n    steps:\n"
        "      - hold: A\n        duration: 10s\n      - stretch: B\n        duration: 20s\n"
    )
    round_ = [H(None, 1), ("stretch", None, 1, 20.0)]
    assert got == [*round_, REST(15), *round_, REST(15), *round_]


def test_repeat_without_rest_and_one_round() -> None:
    body = "    steps:\n      - hold: A\n        duration: 10s\n"
    assert steps("  - repeat: 2\n" + body) == [H(None, 1), H(None, 1)]
    assert steps("  - repeat: 1\n    rest: 9s\n" + body) == [H(None, 1)]


def test_nested_repeats() -> None:
    got = steps(
        "  - repeat: 2\n    rest: 10s\n    steps:\n"
        "      - hold: A\n        duration: 10s\n"
        "      - repeat: 2\n        rest: 5s\n        steps:\n"
        "          - stretch: B\n            duration: 20s\n"
    )
    b: Sig = ("stretch", None, 1, 20.0)
    round_ = [H(None, 1), b, REST(5), b]
    assert got == [*round_, REST(10), *round_]


def test_repeats_nest_four_deep() -> None:
    body = ""
    indent = "  "
    for _ in range(4):
        body += f"{indent}- repeat: 2\n{indent}  steps:\n"
        indent += "    "
    body += f"{indent}- hold: A\n{indent}  duration: 1s\n"
    assert steps(body) == [H(None, 1, 1.0)] * 16


def test_step_paths_name_where_a_segment_came_from() -> None:
    tl = timeline(
        routine(
            "steps:\n  - rest: 5s\n  - repeat: 2\n    rest: 3s\n    steps:\n"
            "      - hold: A\n        duration: 10s\n        side: both\n"
        )
    )
    assert [s.step_path for s in tl.segments] == [None, "steps[0]"] + ["steps[1].steps[0]"] * 3 + [
        "steps[1]"
    ] + ["steps[1].steps[0]"] * 3


# --- 5. rest steps ---------------------------------------------------------------------


def test_a_rest_step_is_one_segment() -> None:
    tl = timeline(routine("get_ready: 0s\nsteps:\n  - rest: 20s\n"))
    assert sig(tl) == [REST(20)]
    assert tl.segments[0].title == "Rest"


def test_a_titled_rest_step() -> None:
    tl = timeline(
        routine(
            "get_ready: 0s\nsteps:\n  - rest: Lie still\n    duration: 30s\n"
            "    instructions: Let the back sink.\n    cues: [{at: -5s, say: Up soon}]\n"
        )
    )
    [seg] = tl.segments
    assert (seg.kind, seg.title, seg.duration_s, seg.instructions) == (
        "rest",
        "Lie still",
        30.0,
        "Let the back sink.",
    )
    assert [(c.at_s, c.say) for c in seg.cues] == [(25.0, "Up soon")]


# --- cues ----------------------------------------------------------------------------


def test_cues_are_resolved_per_repetition_and_sorted() -> None:
    tl = timeline(
        routine(
            "get_ready: 0s\nsteps:\n  - hold: A\n    duration: 30s\n    side: both\n"
            "    reps: 2\n    rest: 5s\n    cues:\n"
            "      - {at: -10s, say: ten left}\n      - {at: 0s, say: start}\n"
            "      - {at: 5s, say: five in}\n"
        )
    )
    for seg in tl.segments:
        if seg.kind == "hold":
            assert [(c.at_s, c.say) for c in seg.cues] == [
                (0.0, "start"),
                (5.0, "five in"),
                (20.0, "ten left"),
            ]
        else:
            assert seg.cues == ()
    assert sum(1 for s in tl.segments if s.kind == "hold") == 4


# --- defaults ----------------------------------------------------------------------------

DEFAULTS = (
    "defaults:\n  pressure: 6\n  tool: ball\n  area: back\n  rest: 4s\n  switch: 2s\n"
    "  device: {intensity: 30%}\n"
)


@pytest.mark.parametrize("kind", ["hold", "stretch", "massage", "breathe"])
def test_defaults_apply_to_work_steps(kind: str) -> None:
    tl = timeline(
        routine(
            "get_ready: 0s\n" + DEFAULTS + f"steps:\n  - {kind}: A\n    duration: 10s\n"
            "    side: both\n    reps: 2\n"
        )
    )
    assert [s.kind for s in tl.segments] == [kind, "rest", kind, "switch", kind, "rest", kind]
    assert [s.duration_s for s in tl.segments if s.kind in ("rest", "switch")] == [4.0, 2.0, 4.0]
    for seg in tl.segments:
        if seg.kind == kind:
            assert (seg.pressure, seg.tool, seg.area) == (6, "ball", "back")
            assert seg.device == DeviceSetting(from_pct=30.0, to_pct=30.0)
        else:
            assert (seg.pressure, seg.tool, seg.area, seg.device) == (None, None, None, None)


def test_a_steps_own_values_beat_the_defaults() -> None:
    tl = timeline(
        routine(
            "get_ready: 0s\n" + DEFAULTS + "steps:\n  - hold: A\n    duration: 10s\n"
            "    pressure: 3\n    tool: thumb\n    area: neck\n    reps: 2\n    rest: 1s\n"
            "    device: {ramp: [10%, 20%]}\n"
        )
    )
    first = tl.segments[0]
    assert (first.pressure, first.tool, first.area) == (3, "thumb", "neck")
    assert first.device == DeviceSetting(from_pct=10.0, to_pct=20.0)
    assert sig(tl) == [H(None, 1), REST(1), H(None, 2)]


@pytest.mark.parametrize("off", ["off", "false", "'off'", "no"])
def test_device_off_in_a_step_beats_a_default_device(off: str) -> None:
    tl = timeline(
        routine(DEFAULTS + f"steps:\n  - hold: A\n    duration: 10s\n    device: {off}\n")
    )
    assert tl.segments[1].device is None
    assert not tl.uses_device


def test_defaults_never_apply_to_rest_steps_or_repeat_blocks() -> None:
    tl = timeline(
        routine(
            "get_ready: 0s\n" + DEFAULTS + "steps:\n  - rest: 20s\n"
            "  - repeat: 2\n    steps:\n      - rest: 5s\n"
        )
    )
    # no rest between repeat rounds from defaults.rest, no device on rest segments
    assert sig(tl) == [REST(20), REST(5), REST(5)]
    assert all(s.device is None and s.pressure is None and s.tool is None for s in tl.segments)


def test_a_step_without_device_runs_with_the_device_off() -> None:
    tl = timeline(routine("steps:\n  - massage: A\n    duration: 10s\n"))
    assert tl.segments[1].device is None
    assert (tl.uses_device, tl.device_specific) == (False, False)


# --- breathe and devices -------------------------------------------------------------------


def test_breathe_pattern_defaults_to_4_6() -> None:
    tl = timeline(
        routine(
            "steps:\n  - breathe: Slow\n    duration: 60s\n"
            "  - breathe: Box\n    duration: 60s\n    pattern: [4s, 4s, 4s, 4s]\n"
            "  - breathe: Three\n    duration: 60s\n    pattern: ['0:03', 2.5, 5]\n"
            "  - hold: A\n    duration: 10s\n"
        )
    )
    assert [s.pattern for s in tl.segments[1:]] == [
        (4.0, 6.0),
        (4.0, 4.0, 4.0, 4.0),
        (3.0, 2.5, 5.0),
        None,
    ]


@pytest.mark.parametrize(
    ("written", "setting"),
    [
        ("{intensity: 40%}", DeviceSetting(from_pct=40.0, to_pct=40.0)),
        ("{intensity: 40}", DeviceSetting(from_pct=40.0, to_pct=40.0)),
        ("{intensity: 0%}", DeviceSetting(from_pct=0.0, to_pct=0.0)),
        ("{ramp: [20%, 60%]}", DeviceSetting(from_pct=20.0, to_pct=60.0)),
        ("{ramp: [60, 20.5%]}", DeviceSetting(from_pct=60.0, to_pct=20.5)),
        ("{level: 3}", DeviceSetting(level=3)),
    ],
)
def test_device_settings(written: str, setting: DeviceSetting) -> None:
    tl = timeline(routine(f"steps:\n  - massage: A\n    duration: 10s\n    device: {written}\n"))
    assert tl.segments[1].device == setting
    assert tl.uses_device
    assert tl.device_specific == (setting.level is not None)


def test_a_level_in_defaults_makes_the_routine_device_specific() -> None:
    tl = timeline(
        routine("defaults:\n  device: {level: 2}\nsteps:\n  - hold: A\n    duration: 10s\n")
    )
    assert tl.device_specific
    assert tl.segments[1].device == DeviceSetting(level=2)


def test_an_unused_default_device_is_not_device_specific() -> None:
    tl = timeline(
        routine(
            "defaults:\n  device: {level: 2}\nsteps:\n  - hold: A\n    duration: 10s\n"
            "    device: off\n  - rest: 5s\n"
        )
    )
    assert (tl.uses_device, tl.device_specific) == (False, False)


def test_ramp_percent_at() -> None:
    d = DeviceSetting(from_pct=20.0, to_pct=60.0)
    assert [d.percent_at(f) for f in (-1, 0, 0.5, 1, 2)] == [20.0, 20.0, 40.0, 60.0, 60.0]


# --- the timeline as a whole ---------------------------------------------------------------


@pytest.mark.parametrize("path", [SPEC_EXAMPLE, *BUNDLED], ids=lambda p: p.name)
def test_indexes_and_start_times_are_contiguous(path: Any) -> None:
    tl = timeline(path.read_text(encoding="utf-8"), str(path))
    check_contiguous(tl)
    loaded = parse_routine(path.read_bytes(), str(path))
    routine = from_model(loaded.routine)
    count, seconds = measure(routine.steps, routine.defaults)
    gr = loaded.routine.get_ready
    assert count + (1 if gr > 0 else 0) == len(tl.segments)
    assert seconds + gr == pytest.approx(tl.total_s)


# --- limits ---------------------------------------------------------------------------------


def _nested(rounds: list[int], leaf: str, top: str = "get_ready: 0s\n") -> str:
    body = ""
    indent = "  "
    for n in rounds:
        body += f"{indent}- repeat: {n}\n{indent}  steps:\n"
        indent += "    "
    body += "".join(f"{indent}{line}\n" for line in leaf.splitlines())
    return routine(top + "steps:\n" + body)


def test_exactly_10000_segments_is_allowed() -> None:
    tl = timeline(_nested([100, 100], "- hold: A\n  duration: 1s"))
    assert len(tl.segments) == MAX_SEGMENTS == 10_000
    check_contiguous(tl)


def test_10001_segments_is_not() -> None:
    [p] = problems(_nested([100, 100], "- hold: A\n  duration: 1s", top="get_ready: 1s\n"))
    assert p.path == "steps"
    assert p.message.startswith("the routine expands to 10,001 segments; the limit is 10,000")


def test_exactly_8_hours_is_allowed_and_a_second_more_is_not() -> None:
    tl = timeline(_nested([8], "- hold: A\n  duration: 1h"))
    assert tl.total_s == 8 * 3600
    [p] = problems(_nested([8], "- hold: A\n  duration: 1h", top="get_ready: 1s\n"))
    # Says by how much: a second.
    assert p.message == (
        "the routine lasts 8 h 0 min 1 s; the limit is 8 h (fewer or shorter steps, reps or rounds)"
    )


def test_alternating_steps_are_measured_as_they_expand() -> None:
    # Alternating rests once per round (L R rest L R): 30 × (200 + 99) = 8,970 segments.
    # Counting a rest per side would make it 11,940 and refuse a valid routine.
    tl = timeline(
        _nested(
            [30],
            "- hold: A\n  duration: 1s\n  side: both\n  alternate: true\n  reps: 100\n"
            "  rest: 1s\n  switch: 0s",
        )
    )
    assert len(tl.segments) == 8_970
    assert tl.total_s == 8_970.0


# --- a reference expansion, written from the spec's rules, on random routines ---------------


def _reference(doc: dict[str, Any]) -> list[Sig]:
    """The spec's five rules, literally, for documents whose durations are plain seconds."""
    out: list[Sig] = []
    defaults = doc.get("defaults", {})
    if doc.get("get_ready", 5) > 0:
        out.append(("get_ready", None, None, float(doc.get("get_ready", 5))))

    def work(s: dict[str, Any]) -> None:
        kind = next(k for k in ("hold", "stretch", "massage", "breathe") if k in s)
        n = s.get("reps", 1)
        rest = s.get("rest", defaults.get("rest", 0))
        switch = s.get("switch", defaults.get("switch", 5))
        d = float(s["duration"])

        def one_side(side: str | None) -> None:
            for k in range(1, n + 1):
                if k > 1 and rest > 0:
                    out.append(("rest", None, None, float(rest)))
                out.append((kind, side, k, d))

        if s.get("side") != "both":
            one_side(s.get("side"))
        elif s.get("alternate"):
            for k in range(1, n + 1):
                if k > 1 and rest > 0:
                    out.append(("rest", None, None, float(rest)))
                out.append((kind, "left", k, d))
                if switch > 0:
                    out.append(("switch", None, None, float(switch)))
                out.append((kind, "right", k, d))
        else:
            one_side("left")
            if switch > 0:
                out.append(("switch", None, None, float(switch)))
            one_side("right")

    def walk(items: list[dict[str, Any]]) -> None:
        for s in items:
            if "repeat" in s:
                for r in range(s["repeat"]):
                    if r > 0 and s.get("rest", 0) > 0:
                        out.append(("rest", None, None, float(s["rest"])))
                    walk(s["steps"])
            elif "hold" in s or "stretch" in s or "massage" in s or "breathe" in s:
                work(s)
            else:
                out.append(("rest", None, None, float(s["rest"])))

    walk(doc["steps"])
    return out


_seconds = st.integers(min_value=0, max_value=20)
_work = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["hold", "stretch", "massage", "breathe"]),
        "duration": st.integers(min_value=1, max_value=90),
    },
    optional={
        "side": st.sampled_from(["left", "right", "both"]),
        "reps": st.integers(min_value=1, max_value=4),
        "rest": _seconds,
        "switch": _seconds,
    },
).map(lambda d: {d.pop("kind"): "Step", **d})


def _with_alternate(step: dict[str, Any], flag: bool) -> dict[str, Any]:
    if flag and step.get("side") == "both":
        return {**step, "alternate": True}
    return step


_leaf = st.one_of(
    st.builds(_with_alternate, _work, st.booleans()),
    st.integers(min_value=1, max_value=30).map(lambda s: {"rest": s}),
)
_steps = st.recursive(
    st.lists(_leaf, min_size=1, max_size=4),
    lambda inner: st.lists(
        st.one_of(
            _leaf,
            st.fixed_dictionaries(
                {"repeat": st.integers(min_value=1, max_value=3), "steps": inner},
                optional={"rest": _seconds},
            ),
        ),
        min_size=1,
        max_size=4,
    ),
    max_leaves=12,
)
_docs = st.fixed_dictionaries(
    {"format": st.just("tproutine/1"), "name": st.just("Random"), "steps": _steps},
    optional={
        "get_ready": _seconds,
        "defaults": st.fixed_dictionaries({}, optional={"rest": _seconds, "switch": _seconds}),
    },
)


def _depth(items: list[dict[str, Any]]) -> int:
    return max((1 + _depth(s["steps"]) for s in items if "repeat" in s), default=0)


_OVER_EIGHT_HOURS = {
    "format": "tproutine/1",
    "name": "Random",
    "steps": [
        {
            "repeat": 3,
            "steps": [
                {
                    "repeat": 3,
                    "steps": [
                        {"hold": "Step", "duration": 56},
                        {
                            "repeat": 2,
                            "steps": [
                                {
                                    "repeat": 3,
                                    "steps": [
                                        {"hold": "Step", "duration": 6},
                                        {"hold": "Step", "duration": 53, "side": "both", "reps": 4},
                                        {"hold": "Step", "duration": 89},
                                    ],
                                }
                            ],
                        },
                    ],
                }
            ],
        }
    ],
}


@settings(max_examples=150, deadline=None)
@example(_OVER_EIGHT_HOURS)
@given(_docs)
def test_expansion_matches_the_specs_rules_on_random_routines(doc: dict[str, Any]) -> None:
    text = yaml.safe_dump(doc, sort_keys=False)
    if _depth(doc["steps"]) > 4:
        assert problems(text)[0].message == "repeat blocks nest at most 4 deep"
        return
    reference = _reference(doc)
    if len(reference) > MAX_SEGMENTS or sum(r[3] for r in reference) > MAX_TOTAL_S:
        # Nested repeats multiply: the generator can go past the limits, which the
        # loader must then refuse (it once found one of 8 h and a few seconds).
        assert "the limit is" in problems(text)[0].message
        return
    loaded = parse_routine(text, "random.yaml")
    tl = expand(loaded)
    assert sig(tl) == reference
    check_contiguous(tl)
    routine = from_model(loaded.routine)
    count, seconds = measure(routine.steps, routine.defaults)
    gr = loaded.routine.get_ready
    assert count + (1 if gr > 0 else 0) == len(tl.segments)
    assert seconds + gr == pytest.approx(tl.total_s)

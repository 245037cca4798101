"""Step catalogues and ``- use: ID``: what a routine gets, and every way it can go wrong.

Each test builds its own bundled and personal catalogues in ``tmp_path`` (the
``catalogues`` fixture points tproutine at them), so nothing here depends on the
steps that ship with tproutine; ``test_bundled_steps.py`` checks those.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.routine import HEAD, ROOT, problems, timeline
from tests.routine.conftest import NECK, Catalogues
from tproutine.routine import catalogue
from tproutine.routine.catalogue import parse_catalogue
from tproutine.routine.loader import parse_routine
from tproutine.yamlsafe import MAX_BYTES, LoadError


def one_problem(text: str) -> str:
    found = problems(text)
    assert len(found) == 1, [str(p) for p in found]
    return str(found[0])


# --- what a routine gets --------------------------------------------------------------------


def test_a_routine_of_only_use_lines_is_the_routine_written_out(catalogues: Catalogues) -> None:
    used = timeline(HEAD + "steps:\n  - use: upper-trap\n  - use: doorway\n  - use: slow-breath\n")
    written = timeline(
        HEAD + "steps:\n"
        "  - hold: Upper trapezius\n    area: top of the shoulder\n    tool: your fingers\n"
        "    side: both\n    alternate: true\n    duration: 45s\n    reps: 2\n    rest: 10s\n"
        "    pressure: 5\n    instructions: Squeeze until it is about a 5 out of 10.\n"
        "    cues: [{at: 0s, say: 'Squeeze to about a 5.'}, {at: -10s, say: Ten seconds left.}]\n"
        "  - stretch: Doorway chest stretch\n    duration: 30s\n    reps: 2\n"
        "  - breathe: Slow breathing\n    duration: 1m\n    pattern: [4s, 6s]\n"
    )
    assert used.segments == written.segments
    assert used.total_s == written.total_s == 5 + 4 * 45 + 2 * 5 + 10 + 60 + 60


def test_the_routine_changes_a_used_step_in_place(catalogues: Catalogues) -> None:
    tl = timeline(
        HEAD + "steps:\n"
        "  - use: upper-trap\n    duration: 30s\n    reps: 1\n    pressure: 3\n    side: left\n"
        "    title: Top of the shoulder\n"
        "  - use: shoulders-gun\n    device: {intensity: 25%}\n"
        "  - use: doorway\n    cues: [{at: 5s, say: Breathe.}]\n"
    )
    hold, gun, s1, s2 = tl.segments[1:]
    assert (hold.kind, hold.title, hold.duration_s, hold.side, hold.pressure) == (
        "hold",
        "Top of the shoulder",
        30.0,
        "left",
        3,
    )
    # {pressure} follows the routine's pressure, in the instructions and the cues.
    assert hold.instructions == "Squeeze until it is about a 3 out of 10."
    assert [c.say for c in hold.cues] == ["Squeeze to about a 3.", "Ten seconds left."]
    assert hold.area == "top of the shoulder"  # what the routine did not change stays
    assert gun.device is not None and (gun.device.from_pct, gun.device.to_pct) == (25.0, 25.0)
    assert [c.say for c in s1.cues] == [c.say for c in s2.cues] == ["Breathe."]


def test_one_side_drops_the_catalogues_alternate(catalogues: Catalogues) -> None:
    tl = timeline(HEAD + "get_ready: 0s\nsteps:\n  - use: upper-trap\n    side: right\n")
    assert [(s.kind, s.side) for s in tl.segments] == [
        ("hold", "right"),
        ("rest", None),
        ("hold", "right"),
    ]


def test_defaults_and_repeat_blocks_apply_to_used_steps(catalogues: Catalogues) -> None:
    tl = timeline(
        HEAD + "get_ready: 0s\ndefaults: {rest: 7s, pressure: 2}\nsteps:\n"
        "  - repeat: 2\n    steps:\n      - use: doorway\n"
    )
    assert [s.kind for s in tl.segments] == ["stretch", "rest", "stretch"] * 2
    assert {s.duration_s for s in tl.segments if s.kind == "rest"} == {7.0}
    assert {s.pressure for s in tl.segments if s.kind == "stretch"} == {2}
    assert tl.segments[0].step_path == "steps[0].steps[0]"


def test_a_used_step_has_no_id_of_its_own(catalogues: Catalogues) -> None:
    # Issue 12's step `id` belongs to the routine: the same catalogue step may be used
    # twice, so a used step has none unless the routine gives one.
    loaded = parse_routine(HEAD + "steps:\n  - use: doorway\n  - use: doorway\n", "r.yaml")
    for step in loaded.routine.steps:
        assert getattr(step, "id", None) is None


def test_routine_defaults_fill_pressure_for_a_placeholder_when_the_routine_clears_it(
    catalogues: Catalogues,
) -> None:
    tl = timeline(HEAD + "defaults: {pressure: 4}\nsteps:\n  - use: upper-trap\n    pressure:\n")
    assert tl.segments[1].pressure == 4
    assert tl.segments[1].cues[0].say == "Squeeze to about a 4."


# --- a routine's mistakes, at the routine's lines ------------------------------------------


def test_an_unknown_id_suggests_the_nearest(catalogues: Catalogues) -> None:
    assert one_problem(HEAD + "steps:\n  - use: upper-trp\n") == (
        "t.yaml:4:10: steps[0].use: unknown catalogue step 'upper-trp' "
        "(did you mean upper-trap? `tproutine steps` lists every step you have)"
    )


def test_an_unknown_id_with_nothing_near(catalogues: Catalogues) -> None:
    assert one_problem(HEAD + "steps:\n  - use: zzzz\n") == (
        "t.yaml:4:10: steps[0].use: unknown catalogue step 'zzzz' "
        "(`tproutine steps` lists every step you have)"
    )


def test_a_part_of_an_id_finds_the_ids_that_hold_it(catalogues: Catalogues) -> None:
    assert "did you mean upper-trap?" in one_problem(HEAD + "steps:\n  - use: trap\n")


def test_an_override_of_a_key_the_kind_does_not_take(catalogues: Catalogues) -> None:
    assert one_problem(HEAD + "steps:\n  - use: doorway\n    pattern: [4s, 6s]\n") == (
        "t.yaml:5:5: steps[0].pattern: 'pattern' cannot be changed here ('doorway' is a "
        "stretch step, and pattern belongs to breathe steps; a used stretch step takes title, "
        "id, duration, area, tool, instructions, pressure, side, alternate, reps, rest, switch, "
        "cues, device)"
    )


def test_an_unknown_key_on_a_used_step(catalogues: Catalogues) -> None:
    message = one_problem(HEAD + "steps:\n  - use: doorway\n    durations: 1m\n")
    assert message.startswith(
        "t.yaml:5:5: steps[0].durations: 'durations' cannot be changed here "
        "(unknown key; did you mean 'duration'?"
    )


def test_a_kind_key_beside_use(catalogues: Catalogues) -> None:
    assert one_problem(HEAD + "steps:\n  - use: doorway\n    stretch: Mine\n") == (
        "t.yaml:5:5: steps[0].stretch: 'stretch' cannot go with use: ('doorway' is a stretch "
        "step; to give it another title, write title:)"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [("Upper Trap", "the text 'Upper Trap'"), ("5", "the number 5"), ("[a]", "a list")],
)
def test_a_use_that_is_not_an_id(catalogues: Catalogues, value: str, shown: str) -> None:
    assert one_problem(HEAD + f"steps:\n  - use: {value}\n") == (
        f"t.yaml:4:10: steps[0].use: {shown} is not a catalogue id (lower-case letters and digits "
        "in words joined by hyphens, like upper-trapezius-pinch; `tproutine steps` lists them)"
    )


def test_an_empty_title(catalogues: Catalogues) -> None:
    assert one_problem(HEAD + "steps:\n  - use: doorway\n    title: ''\n") == (
        "t.yaml:5:12: steps[0].title: expected a title of 1 to 200 characters, got text"
    )


def test_a_bad_override_value_is_the_routines_mistake(catalogues: Catalogues) -> None:
    assert one_problem(HEAD + "steps:\n  - use: doorway\n    reps: 0\n") == (
        "t.yaml:5:11: steps[0].reps: 0 is out of range (reps is at least 1)"
    )


def test_a_shorter_duration_that_leaves_a_catalogue_cue_outside(catalogues: Catalogues) -> None:
    message = one_problem(HEAD + "steps:\n  - use: upper-trap\n    duration: 5s\n")
    assert message.startswith("t.yaml:4:5: steps[0].cues[1].at: this cue falls outside")
    where = catalogues.bundled / "neck.yaml"
    assert message.endswith(
        f"(this comes from 'upper-trap', {where}:6:3; change it here, under use:)"
    )


def test_every_mistake_of_a_routine_at_once(catalogues: Catalogues) -> None:
    found = problems(HEAD + "steps:\n  - use: nope\n  - use: doorway\n    pattern: [1, 2]\n")
    assert [(p.line, p.path) for p in found] == [(4, "steps[0].use"), (6, "steps[1].pattern")]


# --- a catalogue's mistakes, at the catalogue's lines --------------------------------------


def cat(body: str, head: str = "format: tproutine-steps/1\nname: Mine\n") -> list[str]:
    found = parse_catalogue(head + body, "mine.yaml", bundled=False)
    return [str(p) for p in found.problems]


def test_a_catalogue_step_cannot_use_another() -> None:
    assert cat("steps:\n  a:\n    use: b\n  b:\n    hold: B\n    duration: 5s\n") == [
        "mine.yaml:5:5: steps.a.use: a catalogue step cannot use another step (write this one "
        "out in full; only routines use steps)"
    ]


def test_two_equal_ids_in_a_catalogue() -> None:
    assert cat(
        "steps:\n  a:\n    hold: A\n    duration: 5s\n  a:\n    hold: B\n    duration: 5s\n"
    ) == [
        "mine.yaml:7:3: steps.a: the id 'a' appears twice in this catalogue (ids are unique: "
        "keep one, or rename one)"
    ]


def test_a_catalogue_steps_own_mistakes() -> None:
    assert cat("steps:\n  a:\n    hold: A\n    duration: 1m70s\n    reps: 0\n") == [
        "mine.yaml:6:15: steps.a.duration: '1m70s' is not a duration: seconds after minutes "
        "go up to 59 (use 45s, 2m, 1m30s or 1:30)",
        "mine.yaml:7:11: steps.a.reps: 0 is out of range (reps is at least 1)",
    ]


def test_a_cue_outside_a_catalogue_steps_repetition() -> None:
    assert cat("steps:\n  a:\n    hold: A\n    duration: 5s\n    cues: [{at: 9s, say: x}]\n")[
        0
    ].startswith("mine.yaml:7:17: steps.a.cues[0].at: this cue falls outside")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "steps:\n  Upper Trap:\n    hold: A\n    duration: 5s\n",
            "mine.yaml:4:3: steps.Upper Trap: 'Upper Trap' is not a catalogue id (use lower-case "
            "letters and digits in words joined by hyphens, like upper-trapezius-pinch)",
        ),
        (
            "steps:\n  a: 5\n",
            "mine.yaml:4:6: steps.a: a catalogue step is a mapping that starts with its kind "
            "(hold, stretch, massage or breathe) and its title",
        ),
        (
            "steps:\n  a:\n    rest: Lie still\n    duration: 5s\n",
            "mine.yaml:5:5: steps.a.rest: a catalogue step is a hold, stretch, massage or "
            "breathe step (rest belongs in the routine itself)",
        ),
        (
            "steps:\n  a:\n    repeat: 2\n    steps: [{rest: 5s}]\n",
            "mine.yaml:5:5: steps.a.repeat: a catalogue step is a hold, stretch, massage or "
            "breathe step (repeat belongs in the routine itself)",
        ),
        (
            "steps:\n  a:\n    hold: A\n    id: a\n    duration: 5s\n",
            "mine.yaml:6:5: steps.a.id: a catalogue step's id is its key ('a'); remove id: here "
            "(a routine may give a step it uses an id of its own)",
        ),
        (
            "steps:\n  a:\n    hold: A\n    duration: 5s\n    cues: [{at: 0s, say: '{pressure}'}]"
            "\n",
            "mine.yaml:5:5: steps.a.pressure: {pressure} in the text needs the step's pressure "
            "(add pressure: 5)",
        ),
        (
            "steps:\n  a:\n    duration: 5s\n",
            "mine.yaml:5:5: steps.a: this step has no kind: start it with one of hold, stretch, "
            "massage, breathe, rest or repeat (or use: a step from a catalogue)",
        ),
        ("steps: {}\n", None),
        ("steps: [a]\n", None),
        ("colour: red\nsteps:\n  a: {hold: A, duration: 5s}\n", None),
    ],
    ids=[
        "bad-id",
        "not-a-mapping",
        "rest",
        "repeat",
        "id-key",
        "placeholder",
        "no-kind",
        "empty",
        "a-list",
        "unknown-key",
    ],
)
def test_catalogue_mistakes(body: str, expected: str | None) -> None:
    found = cat(body)
    assert len(found) == 1, found
    if expected:
        assert found[0] == expected
    else:
        assert found[0].startswith("mine.yaml:")


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            "name: Mine\n",
            "mine.yaml:1:1: 'format' is required (a step catalogue says format: tproutine-steps/1)",
        ),
        (
            "format: tproutine/1\nname: Mine\n",
            "mine.yaml:1:9: format: this is a routine "
            "(tproutine/1), not a step catalogue (a catalogue says format: tproutine-steps/1)",
        ),
        (
            "format: tproutine-steps/2\nname: Mine\n",
            "mine.yaml:1:9: format: this catalogue is "
            "format 'tproutine-steps/2'; this version of tproutine reads 'tproutine-steps/1'",
        ),
        (
            "format: tproutine-steps/1\n",
            "mine.yaml:1:1: 'name' is required (the body region, e.g. Upper back)",
        ),
        (
            "format: tproutine-steps/1\nname: ''\n",
            "mine.yaml:2:7: name: this text is empty (write something, or leave the key out)",
        ),
        (
            "format: tproutine-steps/1\nname: A\nsafety: {warnings: [1]}\n",
            "mine.yaml:3:21: "
            "safety.warnings[0]: expected text, got the number 1 (put it in quotes)",
        ),
    ],
)
def test_catalogue_header_mistakes(head: str, expected: str) -> None:
    assert cat("steps:\n  a: {hold: A, duration: 5s}\n", head=head) == [expected]


def test_a_good_catalogue(catalogues: Catalogues) -> None:
    found = parse_catalogue(NECK, "neck.yaml", bundled=True)
    assert found.problems == ()
    assert [s.id for s in found.steps] == ["upper-trap", "doorway", "slow-breath", "shoulders-gun"]
    assert (found.steps[0].line, found.steps[0].col) == (6, 3)
    assert found.safety.warnings[0].startswith("Stop at once")


# --- catalogues from other people: issue 2's limits apply --------------------------------


def alias_bomb() -> bytes:
    """Nine levels of nine aliases: 9**9 values once expanded, in a few hundred bytes."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (
            b"format: tproutine-steps/1\nname: A\nsteps: !!python/object/apply:os.system [ls]\n",
            "the tag !!python/object/apply:os.system is not allowed",
        ),
        (alias_bomb(), "expands to more than"),
        (
            b"format: tproutine-steps/1\nname: A\nsteps:\n  a:\n    hold: \x1b[2J\n",
            "control character",
        ),
        (b"x: " + b"[" * 40 + b"]" * 40 + b"\n", "nested more than 32 levels deep"),
        (
            b"format: tproutine-steps/1\nname: A\nsteps: {a: {hold: A, duration: 5s, hold: B}}\n",
            "appears twice",
        ),
        (b"\xff\xfe", "not valid UTF-8"),
    ],
    ids=["python-tag", "alias-bomb", "control-character", "too-deep", "duplicate-key", "not-utf8"],
)
def test_a_catalogue_goes_through_the_same_door(raw: bytes, says: str) -> None:
    found = parse_catalogue(raw, "mine.yaml", bundled=False)
    assert len(found.problems) == 1 and says in found.problems[0].message, found.problems
    assert found.steps == ()


def test_a_catalogue_over_the_size_limit(catalogues: Catalogues) -> None:
    big = catalogues.write("big.yaml", "# " + "x" * MAX_BYTES + "\n", bundled=False)
    found = next(c for c in catalogue.index().catalogues if c.path == big)
    assert [p.message for p in found.problems] == [
        f"the file is {big.stat().st_size:,} bytes; the limit is 1 MiB"
    ]


# --- the person's catalogues beside the bundled ones -------------------------------------


MINE = """\
format: tproutine-steps/1
name: Mine
steps:
  my-calf:
    hold: Calf
    duration: 45s
"""


def test_your_catalogue_adds_steps(catalogues: Catalogues) -> None:
    catalogues.write("mine.yaml", MINE, bundled=False)
    tl = timeline(HEAD + "steps:\n  - use: my-calf\n  - use: doorway\n")
    assert [s.title for s in tl.segments[1:]] == ["Calf", *["Doorway chest stretch"] * 2]


def test_your_catalogue_cannot_replace_a_bundled_step(catalogues: Catalogues) -> None:
    mine = catalogues.write(
        "mine.yaml", MINE + "  doorway:\n    stretch: My doorway\n    duration: 5s\n", bundled=False
    )
    bundled = catalogues.bundled / "neck.yaml"
    expected = (
        f"{mine}:7:3: steps.doorway: 'doorway' is a bundled step ({bundled}:20:3); your "
        "catalogues may add steps but not replace one: choose another id, such as 'my-doorway'"
    )
    # Using the id is an error that names both files ...
    assert one_problem(HEAD + "steps:\n  - use: doorway\n") == expected
    # ... and the other steps of both catalogues stay usable.
    assert timeline(HEAD + "steps:\n  - use: my-calf\n  - use: upper-trap\n").segments
    assert [str(p) for p in catalogue.index().problems] == [expected]


def test_two_of_your_catalogues_with_one_id(catalogues: Catalogues) -> None:
    first = catalogues.write("a.yaml", MINE, bundled=False)
    second = catalogues.write("b.yaml", MINE.replace("name: Mine", "name: Other"), bundled=False)
    assert one_problem(HEAD + "steps:\n  - use: my-calf\n") == (
        f"{second}:4:3: steps.my-calf: 'my-calf' is already a step in {first}:4:3 "
        "(ids are unique across all catalogues: rename one)"
    )


def test_a_broken_catalogue_of_yours_breaks_nothing_else(catalogues: Catalogues) -> None:
    broken = catalogues.write("mine.yaml", MINE + "  bad:\n    hold: [\n", bundled=False)
    assert timeline(HEAD + "steps:\n  - use: doorway\n").segments
    # An id that is nowhere else may be in it: its mistakes come first, then the routine's.
    found = [str(p) for p in problems(HEAD + "steps:\n  - use: my-calf\n")]
    assert len(found) == 2
    assert found[0].startswith(f"{broken}:9:1:") and "YAML syntax error" in found[0]
    assert found[1].startswith("t.yaml:4:10: steps[0].use: unknown catalogue step 'my-calf'")


# --- cheap: read lazily, once, and again only when a file changes ------------------------


def test_the_index_is_read_once_and_again_when_a_catalogue_changes(
    catalogues: Catalogues,
) -> None:
    first = catalogue.index()
    assert catalogue.index() is first
    before = catalogue.stamp()
    path = catalogues.write("neck.yaml", NECK.replace("name: Neck", "name: Neck!"))
    os.utime(path, ns=(1, 1))  # a new mtime however coarse the file system's clock is
    assert catalogue.stamp() != before
    again = catalogue.index()
    assert again is not first and again.catalogues[0].name == "Neck!"
    mine = catalogues.write("mine.yaml", MINE, bundled=False)
    assert str(mine) in {p for p, _, _ in catalogue.stamp()}
    assert catalogue.index().find("my-calf") is not None


def test_a_routine_without_use_reads_no_catalogue() -> None:
    script = (
        "import sys\n"
        "from tproutine.routine.loader import parse_routine\n"
        "parse_routine('format: tproutine/1\\nname: A\\nsteps: [{rest: 5s}]\\n', 'a.yaml')\n"
        "print('tproutine.routine.catalogue' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert out.stdout.strip() == "False", out.stderr


def test_loading_a_routine_never_raises_anything_but_load_error(catalogues: Catalogues) -> None:
    for body in [
        "steps:\n  - use:\n",
        "steps:\n  - use: {a: 1}\n",
        "steps:\n  - repeat: 2\n    use: doorway\n",
    ]:
        with pytest.raises(LoadError):
            parse_routine(HEAD + body, "t.yaml")


def test_a_routine_reads_only_the_bundled_catalogues_it_needs(
    catalogues: Catalogues, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalogues.write(
        "feet.yaml",
        "format: tproutine-steps/1\nname: Feet\nsteps:\n  arch: {hold: Arch, duration: 45s}\n",
    )
    mine = catalogues.write("mine.yaml", MINE, bundled=False)
    read: list[str] = []
    real = catalogue.parse_catalogue

    def counting(raw: bytes | str, file: str, **kw: object) -> catalogue.Catalogue:
        read.append(Path(file).name)
        return real(raw, file, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(catalogue, "parse_catalogue", counting)
    assert timeline(HEAD + "steps:\n  - use: arch\n").segments[1].title == "Arch"
    # The person's own catalogues are always read (a clash must never be missed).
    assert sorted(read) == ["feet.yaml", mine.name]
    read.clear()
    assert problems(HEAD + "steps:\n  - use: arc\n")[0].message.startswith(
        "unknown catalogue step 'arc' (did you mean arch?"
    )
    assert "neck.yaml" in read  # an unknown id looks everywhere, for the nearest


def test_the_scan_finds_the_ids_the_parser_finds(catalogues: Catalogues) -> None:
    path = catalogues.bundled / "neck.yaml"
    assert catalogue.scan_ids(path) == {"upper-trap", "doorway", "slow-breath", "shoulders-gun"}

"""The starter routine that ``tproutine new "Name"`` writes.

A practitioner's first routine file: every feature of the format in use, each with
a comment that says what it does, written as a real routine that validates as it
stands. Only the name comes from outside; it goes into one double-quoted YAML
scalar written by PyYAML's own emitter, so quotes, colons, ``#`` or any other
character cannot change the document's structure.
"""

from __future__ import annotations

import re
import unicodedata

import yaml

from tproutine.routine.schema import SCHEMA_ID
from tproutine.share.handout import BIDI_CONTROLS

MAX_NAME = 120  # the format's limit on `name`
_SLUG_MAX = 60
_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_name(name: str) -> str:
    """The name as the routine will carry it: one line, no control characters.

    Raises ValueError when nothing is left or it is longer than the format allows.
    """
    # Bytes that were not UTF-8 reach Python as lone surrogates (from argv); they
    # cannot be written to a file, so they become U+FFFD like any broken text.
    text = _SURROGATES.sub("\ufffd", name)
    text = "".join(ch if unicodedata.category(ch) != "Cc" else " " for ch in text)
    # A name is shown in lists and titles everywhere: an override would reorder them.
    text = BIDI_CONTROLS.sub("", text)
    text = " ".join(text.split())
    if not text:
        raise ValueError('the routine needs a name (for example: tproutine new "Neck reset")')
    if len(text) > MAX_NAME:
        raise ValueError(
            f"a routine name has at most {MAX_NAME} characters; this one has {len(text)}"
        )
    return text


def slug(name: str) -> str:
    """A file name stem from a routine name: ``Neck: quick reset`` → ``neck-quick-reset``."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = re.sub(r"[\W_]+", "-", text).strip("-")[:_SLUG_MAX].strip("-")
    return text or "routine"


def default_filename(name: str) -> str:
    return slug(name) + ".yaml"


def yaml_string(text: str) -> str:
    """``text`` as one double-quoted YAML scalar on one line."""
    dumped = yaml.safe_dump(text, default_style='"', allow_unicode=True, width=1 << 30)
    # A bare scalar document may end with an explicit end marker; drop it.
    dumped = dumped.removesuffix("\n...\n").strip()
    if "\n" in dumped:  # never expected: the emitter folds long lines only past `width`
        raise ValueError("the name could not be written on one line")
    return dumped


_TEMPLATE = """\
# yaml-language-server: $schema={schema_id}
#
# A starter routine from `tproutine new`. It runs as it stands, and it uses every
# part of the routine format so you can see each one at work: change the words and
# the numbers, delete what you do not need, and keep your client in mind as you
# write. Lines that start with # are comments; tproutine ignores them.
#
# Check your work as you go:
#   tproutine validate {{file}}     # every mistake, with its line and what is accepted
#   tproutine show {{file}}         # the timeline, step by step, and the total time
#   tproutine export {{file}} --format html -o handout.html   # a printable handout
#
# Editors that use the YAML language server (such as VS Code with the YAML
# extension) complete and check keys from the schema named on the first line.
# To work offline, save the schema beside this file with
#   tproutine schema > routine.schema.json
# and change the first line to: # yaml-language-server: $schema=routine.schema.json
#
# Durations: 45s, 2m, 1m30s or 1:30. Pressure: the discomfort to aim for, 0-10.

format: tproutine/1
name: {name}
summary: Twelve calm minutes for a stiff neck and tight shoulders, at the end of a working day
author: Your name, your practice
description: |
  A few sentences for your client: what this routine is for, what it should
  feel like and how often to do it. For example:

  Tight muscles at the top of the shoulders and the back of the neck often come
  with long hours at a desk. Short, gentle sessions every other day help more
  than one long, hard one. The pressure should feel like a dull ache that eases
  as you breathe: never sharp, and never more than the number given.
tags: [neck, shoulders, desk-work]

# Shown before the start: your client reads the warnings and confirms that nothing
# on the avoid_if list applies to them.
safety:
  warnings:
    - Stop at once if you feel numbness, tingling, dizziness, or sharp or shooting pain.
    - Keep the pressure on muscle. Stay off the spine, the collarbone and the front
      and sides of the neck.
  avoid_if:
    - You have had surgery or an injury to your neck or shoulders in the last few months
    - You have a bleeding disorder or take blood thinners
    - You are pregnant (ask me first)

get_ready: 10s          # a countdown before the first step; 0s turns it off

# Values for every hold, stretch, massage and breathe step that leaves them out.
defaults:
  pressure: 4           # target discomfort, 0-10
  rest: 10s             # between repetitions on the same side
  switch: 5s            # to change from the left side to the right

# How often, for how long, and when to be reminded. Your client sees it on the
# handout, in `tproutine due`, and in their calendar (`tproutine calendar`).
plan:
  per_week: 3           # sessions a week, 1-14 (3: Monday, Wednesday, Friday)
  weeks: 6              # how long the programme lasts; leave it out to go on
  reminder: "18:00"     # a local time in quotes, or a list: ["08:00", "18:00"]

# Keys that start with x- are yours: tproutine ignores them, wherever they are.
x-practice:
  client: initials or a reference
  next-review: "in four weeks"

steps:
  - breathe: Settle in
    duration: 1m
    pattern: [4s, 2s, 6s]   # in, hold, out. Also [in, out] or [in, hold, out, hold]
    instructions: >-
      Sit comfortably with both feet on the floor. Breathe in through your nose,
      pause, and breathe out slowly. Let your shoulders drop a little more with
      every breath out.

  - hold: Upper trapezius
    id: upper-trap          # optional: a name that adjustment files use for this step
    area: top of the shoulder
    tool: tennis ball against a wall
    side: both              # left, then right: left, right or both
    duration: 45s           # one repetition on one side
    reps: 2
    pressure: 5             # this step asks for a little more than the default
    instructions: >-
      Stand with your back to a wall and the ball between the wall and the top of
      your shoulder, halfway between the neck and the shoulder tip. Bend your knees
      a little and lean back until the ache is about a 5.
    cues:
      - at: 0s              # from the start of each repetition
        say: Lean back into the ball until the ache is about a 5 out of 10.
      - at: 20s
        say: If the ache fades, you may lean in a little more. If it turns sharp, ease off.
      - at: -10s            # negative: counted back from the end
        say: Ten seconds left. Breathe out slowly.

  - stretch: Side neck stretch
    area: side of the neck
    side: both
    alternate: true         # left, right, left, right instead of left, left, right, right
    duration: 30s
    reps: 2
    rest: 5s                # overrides the default rest
    pressure: 2
    instructions: >-
      Sit tall. Let one ear sink toward the shoulder on the same side, without
      lifting that shoulder. Stop at a mild, comfortable pull.
    cues:
      - at: 0s
        say: Let your ear sink gently toward your shoulder.
      - at: -5s
        say: Bring your head back to the middle, slowly.

  - massage: Shoulders with a massage device
    area: top of the shoulder
    tool: massage gun, soft round head
    side: both
    duration: 45s
    device: {{intensity: 25%}}   # a share of the connected device's own range
    instructions: >-
      Glide the device slowly over the top of the shoulder, from the base of the
      neck out to the shoulder tip and back. Keep it moving and keep it on muscle.
      Without a device, knead the muscle gently with your other hand.

  - rest: 20s               # a rest step: nothing to do but breathe

  - repeat: 2               # the steps below, twice
    rest: 15s               # between the rounds
    steps:
      - massage: Between the shoulder blades
        area: upper back
        tool: massage gun, soft round head
        duration: 1m
        pressure: 3
        device:
          ramp: [15%, 35%]  # rises slowly over each repetition
          # level: 3        # a raw level instead: only for one particular device
        instructions: >-
          Reach over or have someone help you. Glide slowly along the muscle
          beside the shoulder blade, never on the spine itself.
      - rest: Shake out your arms
        duration: 10s
        instructions: Let your arms hang and shake them loosely.

  - breathe: Finish
    duration: 1m
    pattern: [4s, 6s]
    device: off             # say so explicitly; steps without `device` are off too
    instructions: >-
      Breathe in for 4 and out for 6. Notice how your neck and shoulders feel now.
"""


def starter_routine(name: str, file_name: str) -> str:
    """The starter file's text; ``name`` must come from :func:`clean_name`.

    ``file_name`` fills the example commands in the comments; it is written only
    if it is plain enough to sit in a comment (no line breaks).
    """
    shown = file_name if file_name.isprintable() else "FILE"
    text = _TEMPLATE.format(schema_id=SCHEMA_ID, name=yaml_string(name))
    return text.replace("{file}", shown)

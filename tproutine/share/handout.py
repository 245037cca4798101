"""Handouts: a routine as Markdown (for email and notes) or as one HTML page to print.

Pure functions: a loaded routine and its timeline in, text out. The handout walks
the routine's own steps (so a repeat block reads "Repeat 3 times" rather than
listing every round) but takes every resolved value (defaults applied, rests,
switches, device settings, the total time) from the expanded timeline, so it can
never disagree with what ``tproutine run`` and ``show`` do.

Every piece of text from the routine file is untrusted: routines arrive by email
from other people. In HTML it is escaped and wrapped in ``<bdi>`` so that
right-to-left text stays inside its own box; in Markdown the characters that
would make formatting, links or HTML are backslash-escaped. A control or
direction character (the loader refuses them in the routine's text, but a file's
name may hold one) is shown as a visible token by :func:`tproutine.safetext.visible`.
"""

from __future__ import annotations

import html
import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import TypeAlias

from tproutine import __version__
from tproutine.routine import model as m
from tproutine.routine.loader import LoadedRoutine
from tproutine.routine.timeline import DeviceSetting, Segment, Timeline
from tproutine.safetext import visible

# --- cleaning and escaping -----------------------------------------------------------

# Embeddings, overrides (U+202A–U+202E) and isolates (U+2066–U+2069): they reorder
# whatever follows them on the line, including our own labels.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("\r\n|[\r\x85\u2028\u2029]")

# Markdown characters that start formatting, links, HTML or tables anywhere in a line.
_MD_ANYWHERE = re.compile(r"([\\`*_\[\]<>|~#])")
# ...and those that matter only at the start of a line: list markers ("- ", "+ ",
# "1. ", "2) ") and lines of "-" or "=" (rules, setext heading underlines).
_MD_BULLET = re.compile(r"[+\-](?=\s|$)|[-=]+\s*$")
_MD_NUMBERED = re.compile(r"(\d{1,9})(?=[.)](\s|$))")
# `&amp;` or `&#x202E;` would be decoded by a Markdown renderer: keep them literal.
_MD_ENTITY = re.compile(r"&(?=#?\w+;)")
# A scheme that runs code when a renderer turns text into a link despite the escaping.
_MD_SCRIPT_SCHEME = re.compile(r"(?i)\b(javascript|vbscript)(\s*):")


def clean(text: str) -> str:
    """Line breaks made plain, tabs made spaces, and any other control or direction
    character shown as a visible token (:func:`tproutine.safetext.visible`).

    Routine text cannot hold them (the loader refuses them); a file's name can, and
    a handout printed to a terminal must not act on it, nor reorder a line on paper.
    """
    return visible(_LINE_BREAKS.sub("\n", text)).replace("\t", " ")


def one_line(text: str) -> str:
    """``clean`` with every run of whitespace, newlines included, made one space."""
    return " ".join(clean(text).split())


def paragraphs(text: str) -> list[list[str]]:
    """Blank-line separated paragraphs, each a list of stripped, non-empty lines."""
    out: list[list[str]] = []
    current: list[str] = []
    for line in clean(text).split("\n"):
        line = line.strip()
        if line:
            current.append(line)
        elif current:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def _md_escape_line(line: str) -> str:
    line = line.strip()
    line = _MD_ANYWHERE.sub(r"\\\1", line)
    line = _MD_ENTITY.sub(r"\\&", line)
    line = _MD_SCRIPT_SCHEME.sub(r"\1\2\\:", line)
    # Escaping the start of the text is harmless mid-line and needed when the text
    # does start a line (a paragraph, or a renderer that rewraps).
    if _MD_BULLET.match(line):
        return "\\" + line
    numbered = _MD_NUMBERED.match(line)
    if numbered:
        return f"{numbered[1]}\\{line[numbered.end() :]}"
    return line


def md_inline(text: str) -> str:
    """Routine text for one line of Markdown: a heading, a list item, a table cell."""
    return _md_escape_line(one_line(text))


def md_block(text: str) -> str:
    """Routine text as Markdown paragraphs, shown exactly as written."""
    return "\n\n".join(
        "\n".join(_md_escape_line(line) for line in para) for para in paragraphs(text)
    )


def md_code(text: str) -> str:
    """A Markdown code span for ``text``, whatever backticks it holds."""
    text = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def html_text(text: str) -> str:
    """Routine text for HTML: escaped and isolated, on one line."""
    return f"<bdi>{html.escape(one_line(text), quote=True)}</bdi>"


def html_block(text: str) -> str:
    """Routine text as HTML paragraphs, each isolated."""
    return "\n".join(
        f"<p><bdi>{html.escape(' '.join(para), quote=True)}</bdi></p>" for para in paragraphs(text)
    )


# --- wording ---------------------------------------------------------------------------


def spoken_duration(seconds: float) -> str:
    """``45`` → ``45 s``, ``90`` → ``1 min 30 s``, ``3900`` → ``1 h 5 min``."""
    if seconds < 60:
        return f"{seconds:g} s"
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    parts.append(f"{secs} s" if secs else "")
    return " ".join(p for p in parts if p)


def _clock(seconds: float) -> str:
    # Round first: 59.96 s must read 1:00, not 0:60.0.
    minutes, secs = divmod(round(seconds, 1), 60)
    whole = secs == int(secs)
    return f"{int(minutes)}:{int(secs):02d}" if whole else f"{int(minutes)}:{secs:04.1f}"


def cue_time(at: float) -> str:
    """When a cue is said: ``at 0:20``, or ``10 s before the end`` for a negative offset."""
    return f"at {_clock(at)}" if at >= 0 else f"{spoken_duration(-at)} before the end"


def device_words(device: DeviceSetting) -> str:
    """A device setting as a client reads it."""
    if device.level is not None:
        return f"massage device at level {device.level} (a setting for one particular device)"
    start, end = device.from_pct, device.to_pct
    assert start is not None and end is not None
    if start == end:
        if start == 0:
            return "massage device stopped (0%)"
        return f"massage device at {start:g}% of its range"
    way = "rising" if end > start else "falling"
    return f"massage device from {start:g}% {way} to {end:g}% of its range in each repetition"


def _pattern_words(pattern: Sequence[float]) -> str:
    phases = {
        2: ("in", "out"),
        3: ("in", "hold", "out"),
        4: ("in", "hold", "out", "hold"),
    }[len(pattern)]
    return ", ".join(f"{p} {spoken_duration(s)}" for p, s in zip(phases, pattern, strict=True))


_KIND_LABEL = {
    "hold": "Pressure hold",
    "stretch": "Stretch",
    "massage": "Massage",
    "breathe": "Breathing",
    "rest": "Rest",
}


def repeat_heading(rounds: int) -> str:
    return "Do once" if rounds == 1 else f"Repeat {rounds} times"


# --- the handout, independent of the output format --------------------------------------


@dataclass(frozen=True)
class Fact:
    """One labelled value of a step; ``from_file`` marks untrusted routine text."""

    label: str
    value: str
    from_file: bool = False


@dataclass(frozen=True)
class CueView:
    when: str
    say: str


@dataclass(frozen=True)
class StepView:
    number: str  # "3", or "6.1" inside a repeat block
    kind: str
    label: str  # "Pressure hold"
    title: str | None  # from the file; None for an untitled rest
    facts: tuple[Fact, ...]
    instructions: str | None
    cues: tuple[CueView, ...]
    cues_repeat: bool  # the cues come again in every repetition


@dataclass(frozen=True)
class RepeatView:
    number: str
    rounds: int
    facts: tuple[Fact, ...]
    steps: tuple[Item, ...]


Item: TypeAlias = StepView | RepeatView


@dataclass(frozen=True)
class Handout:
    """Everything a handout shows, in the order it shows it."""

    name: str
    summary: str | None
    author: str | None
    description: str | None
    warnings: tuple[str, ...]
    avoid_if: tuple[str, ...]
    steps: tuple[Item, ...]
    total_s: float
    get_ready_s: float
    uses_pressure: bool
    uses_device: bool
    device_specific: bool
    file_name: str
    content_hash: str
    plan: str | None = None  # "3 times a week for 6 weeks (Monday, Wednesday and Friday)"

    @property
    def run_command(self) -> str:
        return f"tproutine run {shlex.quote(self.file_name)}"

    @property
    def add_command(self) -> str:
        return f"tproutine add {shlex.quote(self.file_name)}"

    @property
    def version(self) -> str:
        return self.content_hash[:12]


class _Segments:
    """The timeline's segments grouped by the step they came from."""

    def __init__(self, timeline: Timeline) -> None:
        self.first: dict[tuple[str, str], Segment] = {}
        self.total: dict[str, float] = {}
        for seg in timeline.segments:
            if seg.step_path is None:
                continue
            self.first.setdefault((seg.step_path, seg.kind), seg)
            top = seg.step_path.split(".", 1)[0]
            self.total[top] = self.total.get(top, 0.0) + seg.duration_s

    def get(self, path: str, kind: str) -> Segment | None:
        return self.first.get((path, kind))


def _work_step(step: m.WorkStep, number: str, path: str, segs: _Segments) -> StepView:
    work = segs.get(path, step.kind)
    assert work is not None  # every work step expands to at least one segment
    rest = segs.get(path, "rest")
    switch = segs.get(path, "switch")
    both = step.side == "both"
    reps = step.reps
    facts: list[Fact] = []

    time = spoken_duration(step.duration)
    time += " per repetition" if reps > 1 else ""
    time += " on each side" if both else ""
    facts.append(Fact("Time", time))
    if step.side in ("left", "right"):
        facts.append(Fact("Side", step.side))
    elif both:
        side = "alternating left and right" if step.alternate and reps > 1 else "left then right"
        if switch is not None:
            side += f", {spoken_duration(switch.duration_s)} to switch sides"
        facts.append(Fact("Sides", side))
    if reps > 1:
        text = f"{reps} on each side" if both else str(reps)
        if rest is not None:
            text += f", {spoken_duration(rest.duration_s)} rest between"
        facts.append(Fact("Repetitions", text))
    if work.pressure is not None:
        facts.append(Fact("Pressure", f"{work.pressure}/10"))
    if work.tool is not None:
        facts.append(Fact("Tool", work.tool, from_file=True))
    if work.area is not None:
        facts.append(Fact("Area", work.area, from_file=True))
    if work.pattern is not None:
        facts.append(Fact("Breathing", _pattern_words(work.pattern)))
    if work.device is not None:
        facts.append(Fact("Device", device_words(work.device)))
    return StepView(
        number=number,
        kind=step.kind,
        label=_KIND_LABEL[step.kind],
        title=step.title,
        facts=tuple(facts),
        instructions=step.instructions,
        cues=_cue_views(step.cues, step.duration),
        cues_repeat=reps > 1 or both,
    )


def _cue_views(cues: Sequence[m.Cue], seconds: float) -> tuple[CueView, ...]:
    ordered = sorted(cues, key=lambda c: c.at if c.at >= 0 else seconds + c.at)
    return tuple(CueView(cue_time(c.at), c.say) for c in ordered)


def _rest_step(step: m.RestStep, number: str) -> StepView:
    return StepView(
        number=number,
        kind="rest",
        label="Rest",
        title=step.rest if isinstance(step.rest, str) else None,
        facts=(Fact("Time", spoken_duration(step.seconds)),),
        instructions=step.instructions,
        cues=_cue_views(step.cues, step.seconds),
        cues_repeat=False,
    )


def _items(steps: Sequence[object], prefix: str, number: str, segs: _Segments) -> Iterator[Item]:
    for i, step in enumerate(steps):
        path = f"{prefix}[{i}]"
        here = f"{number}.{i + 1}" if number else str(i + 1)
        item: Item
        if isinstance(step, m.RepeatBlock):
            facts = [Fact("Rounds", str(step.repeat))]
            if step.rest and step.repeat > 1:
                facts.append(Fact("Rest between rounds", spoken_duration(step.rest)))
            inner = tuple(_items(step.steps, f"{path}.steps", here, segs))
            item = RepeatView(here, step.repeat, tuple(facts), inner)
        elif isinstance(step, m.RestStep):
            item = _rest_step(step, here)
        else:
            assert isinstance(step, (m.HoldStep, m.StretchStep, m.MassageStep, m.BreatheStep))
            item = _work_step(step, here, path, segs)
        if not number:
            item = _with_total(item, segs.total.get(path, 0.0))
        yield item


def _with_total(item: Item, total: float) -> Item:
    """A top-level step with its time in all, where that says more than its time."""
    if isinstance(item, StepView) and item.facts[0].value == spoken_duration(total):
        return item
    return replace(item, facts=(*item.facts, Fact("In all", spoken_duration(total))))


def build_handout(
    loaded: LoadedRoutine, timeline: Timeline, *, file_name: str | None = None
) -> Handout:
    """The handout of ``loaded``; ``timeline`` is its expansion (``expand(loaded)``)."""
    routine = loaded.routine
    segs = _Segments(timeline)
    return Handout(
        name=routine.name,
        summary=routine.summary,
        author=routine.author,
        description=routine.description,
        warnings=tuple(routine.safety.warnings),
        avoid_if=tuple(routine.safety.avoid_if),
        steps=tuple(_items(routine.steps, "steps", "", segs)),
        total_s=timeline.total_s,
        get_ready_s=routine.get_ready,
        uses_pressure=any(s.pressure is not None for s in timeline.segments),
        uses_device=timeline.uses_device,
        device_specific=timeline.device_specific,
        file_name=one_line(file_name or PurePath(loaded.source).name),
        content_hash=loaded.content_hash,
        plan=_plan_line(routine.plan),
    )


def _plan_line(plan: m.Plan | None) -> str | None:
    from tproutine.routine.plan import plan_days_text, plan_text, reminder_text

    if plan is None:
        return None
    text = plan_text(plan)
    if plan.per_week <= 6:
        text += f" ({plan_days_text(plan.per_week)}, or the days that suit you)"
    reminder = reminder_text(plan)
    return f"{text[0].upper()}{text[1:]}; {reminder}" if reminder else text[0].upper() + text[1:]


# --- shared wording --------------------------------------------------------------------

DISCLAIMER = (
    "This handout does not replace medical care. If your pain is new, severe, getting "
    "worse or unexplained, see a doctor or physiotherapist before you go on."
)
PRESSURE_NOTE = (
    "Pressure is how strong the discomfort should feel, from 0 (nothing) to 10 (the worst "
    "you can imagine). Stay at or below the number given: less is always fine."
)
DEVICE_NOTE = (
    "Steps with a device setting run a connected massage device for you. A percent is a "
    "share of your own device's range, and the maximum you set in tproutine always wins. "
    "Without a device, do these steps by hand or with the tool named."
)
LEVEL_NOTE = "Some steps set raw device levels: they were written for one particular device."
AVOID_INTRO = "Do not do this routine, and ask your practitioner or a doctor first, if:"


def _total_line(h: Handout) -> str:
    text = spoken_duration(h.total_s)
    if h.get_ready_s > 0:
        text += f", including a {spoken_duration(h.get_ready_s)} countdown to get ready"
    return text


def _version_line(h: Handout) -> str:
    return (
        f"Version {h.version} (the start of the file's content hash). "
        "`tproutine history export --format csv` lists the content hash of every session, "
        "so you can tell which version was run."
    )


# --- Markdown ---------------------------------------------------------------------------


def _numbered(number: str) -> str:
    """``3`` → ``3.``; ``3.1`` stays (a trailing dot there reads as a typo)."""
    return number if "." in number else f"{number}."


def _md_item(item: Item, depth: int) -> list[str]:
    hashes = "#" * min(3 + depth, 6)
    if isinstance(item, RepeatView):
        out = [f"{hashes} {_numbered(item.number)} {repeat_heading(item.rounds)}:", ""]
        out += [f"- **{f.label}:** {md_inline(f.value)}" for f in item.facts]
        out.append("")
        for inner in item.steps:
            out += _md_item(inner, depth + 1)
        return out
    heading = item.label + (f": {md_inline(item.title)}" if item.title is not None else "")
    out = [f"{hashes} {_numbered(item.number)} {heading}", ""]
    out += [f"- **{f.label}:** {md_inline(f.value)}" for f in item.facts]
    out.append("")
    if item.instructions:
        out += [md_block(item.instructions), ""]
    if item.cues:
        out += ["Cues, in each repetition:" if item.cues_repeat else "Cues:", ""]
        out += [f"- {c.when}: “{md_inline(c.say)}”" for c in item.cues]
        out.append("")
    return out


def render_markdown(h: Handout) -> str:
    """The handout as Markdown: readable as plain text in an email, and rendered."""
    out = [f"# {md_inline(h.name)}", ""]
    if h.summary:
        out += [md_block(h.summary), ""]
    if h.author:
        out.append(f"- **By:** {md_inline(h.author)}")
    out.append(f"- **Total time:** {_total_line(h)}")
    if h.plan:
        out.append(f"- **How often:** {md_inline(h.plan)}")
    out += [f"- **Steps:** {len(h.steps)}", ""]

    out += ["## Before you start", ""]
    if h.warnings:
        out += ["**Stop at once and take care:**", ""]
        out += [f"- **{md_inline(w)}**" for w in h.warnings]
        out.append("")
    if h.avoid_if:
        out += [f"**{AVOID_INTRO}**", ""]
        out += [f"- {md_inline(a)}" for a in h.avoid_if]
        out.append("")
    out += [DISCLAIMER, ""]

    if h.description:
        out += ["## About this routine", "", md_block(h.description), ""]

    out += ["## Step by step", ""]
    notes = [PRESSURE_NOTE] if h.uses_pressure else []
    notes += [DEVICE_NOTE] if h.uses_device else []
    notes += [LEVEL_NOTE] if h.device_specific else []
    for note in notes:
        out += [note, ""]
    for item in h.steps:
        out += _md_item(item, 0)

    out += ["---", ""]
    out += [f"Run it with tproutine: {md_code(h.run_command)}", ""]
    out += [
        f"To keep it in your library: {md_code(h.add_command)}, then start `tproutine` "
        "and pick it from the list.",
        "",
    ]
    out += [f"Routine file: {md_code(h.file_name)}. {_version_line(h)}", ""]
    out += [f"Made with tproutine {__version__}."]
    return "\n".join(out) + "\n"


# --- HTML -------------------------------------------------------------------------------

# The page's only styles. No fonts, images or scripts are fetched: the file must
# work offline, in an email attachment, and print the same everywhere.
_CSS = """
:root {
  --ink: #1f2328; --muted: #57606a; --line: #d0d7de; --accent: #0b6e69;
  --warn: #a4251c; --warn-bg: #fff4f2; --card: #ffffff; --page: #f6f8fa;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--page); color: var(--ink);
  font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", Arial, sans-serif;
  overflow-wrap: anywhere; word-break: normal;
}
main { max-width: 48rem; margin: 0 auto; padding: 2rem 1.25rem 3rem; }
h1, h2, h3, h4, h5, h6 { line-height: 1.25; break-after: avoid; page-break-after: avoid; }
h1 { font-size: 2rem; margin: .2rem 0 .5rem; }
h2 { font-size: 1.3rem; margin: 2rem 0 .75rem; color: var(--accent); }
.eyebrow {
  margin: 0; color: var(--muted); font-size: .8rem; letter-spacing: .08em;
  text-transform: uppercase;
}
.summary { font-size: 1.15rem; margin: .25rem 0 .75rem; }
.meta { display: flex; flex-wrap: wrap; gap: .25rem 1.5rem; margin: 0; padding: 0; }
.meta div { display: flex; gap: .4rem; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; font-weight: 600; }
.safety {
  margin: 1.5rem 0; padding: 1rem 1.25rem; background: var(--warn-bg);
  border: 2px solid var(--warn); border-radius: 10px; break-inside: avoid;
  page-break-inside: avoid;
}
.safety h2 { margin-top: 0; color: var(--warn); }
.safety h3 { font-size: 1rem; margin: .9rem 0 .3rem; }
.safety ul { margin: .2rem 0; padding-left: 1.3rem; }
.safety li { margin: .2rem 0; }
.warnings li { font-weight: 600; }
.care { margin: .8rem 0 0; font-style: italic; }
.about p { margin: .5rem 0; }
.notes p { color: var(--muted); margin: .4rem 0; font-size: .95rem; }
.step, .repeat {
  background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: .9rem 1.1rem; margin: .8rem 0;
}
.step { break-inside: avoid; page-break-inside: avoid; }
.repeat { border-left: 4px solid var(--accent); }
.repeat > .step { border-style: dashed; margin: .6rem 0; }
.step-title {
  display: flex; gap: .6rem; align-items: baseline; margin: 0 0 .5rem; font-size: 1.1rem;
}
.num {
  flex: none; min-width: 1.9rem; padding: 0 .35rem; border-radius: 1rem; text-align: center;
  background: var(--accent); color: #fff; font-size: .9rem; line-height: 1.6rem;
}
.kind { color: var(--muted); font-weight: 500; }
.facts { display: flex; flex-wrap: wrap; gap: .15rem 1.25rem; margin: 0 0 .4rem; padding: 0; }
.facts div { display: flex; gap: .4rem; align-items: baseline; min-width: 0; }
.facts dt {
  flex: none; color: var(--muted); font-size: .72rem; letter-spacing: .05em;
  text-transform: uppercase;
}
.facts dd { margin: 0; min-width: 0; }
.instructions p { margin: .4rem 0; }
.cues-intro { margin: .5rem 0 .1rem; color: var(--muted); font-size: .9rem; }
.cues { margin: 0; padding-left: 1.2rem; }
.cues li { margin: .15rem 0; }
.when { font-weight: 600; }
footer {
  margin-top: 2rem; padding-top: 1rem; border-top: 1px solid var(--line); color: var(--muted);
}
footer p { margin: .4rem 0; }
footer .run { color: var(--ink); font-size: 1.05rem; }
code {
  font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace;
  font-size: .92em; background: #eef1f4; border-radius: 4px; padding: .05rem .3rem;
}
@page { margin: 14mm 14mm 16mm; }
@media print {
  :root { --ink: #000; --muted: #333; --line: #999; --accent: #000; --warn: #000; }
  html, body, main, .step, .repeat, .safety, code { background: #fff !important; }
  html { font-size: 10pt; }
  body { line-height: 1.3; color: #000; }
  * { box-shadow: none !important; text-shadow: none !important; }
  main { max-width: none; padding: 0; }
  h1 { font-size: 18pt; margin: 0 0 .3rem; }
  h2 { font-size: 12.5pt; margin: .9rem 0 .4rem; }
  .safety { border-width: 1.5pt; padding: .5rem .8rem; margin: .8rem 0; }
  .safety h3 { margin: .5rem 0 .2rem; }
  .about p, .notes p { margin: .3rem 0; }
  .step, .repeat { padding: .45rem .65rem; margin: .4rem 0; border-radius: 6px; }
  .repeat > .step { margin: .35rem 0; }
  .step-title { margin-bottom: .3rem; }
  .num { background: #fff !important; color: #000; border: 1pt solid #000; line-height: 1.35rem; }
  .instructions p { margin: .25rem 0; }
  .cues-intro { margin-top: .3rem; }
  code { border: .5pt solid #999; }
  footer { margin-top: 1rem; break-inside: avoid; page-break-inside: avoid; }
}
"""


def _html_facts(facts: Sequence[Fact]) -> str:
    rows = "".join(
        f"<div><dt>{html.escape(f.label)}</dt>"
        f"<dd>{html_text(f.value) if f.from_file else html.escape(f.value)}</dd></div>"
        for f in facts
    )
    return f'<dl class="facts">{rows}</dl>'


def _html_item(item: Item, depth: int) -> str:
    level = min(3 + depth, 6)
    num = f'<span class="num">{html.escape(item.number)}</span>'
    if isinstance(item, RepeatView):
        inner = "\n".join(_html_item(s, depth + 1) for s in item.steps)
        return (
            f'<section class="repeat">\n'
            f'<h{level} class="step-title">{num} <span>{repeat_heading(item.rounds)}:</span>'
            f"</h{level}>\n{_html_facts(item.facts)}\n{inner}\n</section>"
        )
    title = f" {html_text(item.title)}" if item.title is not None else ""
    parts = [
        f'<section class="step step-{item.kind}">',
        f'<h{level} class="step-title">{num} <span><span class="kind">{item.label}'
        f"{':' if title else ''}</span>{title}</span></h{level}>",
        _html_facts(item.facts),
    ]
    if item.instructions:
        parts.append(f'<div class="instructions">{html_block(item.instructions)}</div>')
    if item.cues:
        intro = "Cues, in each repetition" if item.cues_repeat else "Cues"
        cues = "".join(
            f'<li><span class="when">{html.escape(c.when)}</span> “{html_text(c.say)}”</li>'
            for c in item.cues
        )
        parts.append(f'<p class="cues-intro">{intro}:</p><ul class="cues">{cues}</ul>')
    parts.append("</section>")
    return "\n".join(parts)


def render_html(h: Handout) -> str:
    """The handout as one self-contained HTML page that prints well."""
    title = html.escape(one_line(h.name), quote=True)
    meta = []
    if h.author:
        meta.append(f"<div><dt>By</dt><dd>{html_text(h.author)}</dd></div>")
    meta.append(f"<div><dt>Total time</dt><dd>{html.escape(_total_line(h))}</dd></div>")
    if h.plan:
        meta.append(f"<div><dt>How often</dt><dd>{html.escape(h.plan)}</dd></div>")
    meta.append(f"<div><dt>Steps</dt><dd>{len(h.steps)}</dd></div>")

    safety = [
        '<section class="safety" aria-labelledby="safety">',
        '<h2 id="safety">Before you start</h2>',
    ]
    if h.warnings:
        items = "".join(f"<li>{html_text(w)}</li>" for w in h.warnings)
        safety.append(f'<h3>Stop at once and take care:</h3><ul class="warnings">{items}</ul>')
    if h.avoid_if:
        items = "".join(f"<li>{html_text(a)}</li>" for a in h.avoid_if)
        safety.append(f'<h3>{html.escape(AVOID_INTRO)}</h3><ul class="avoid">{items}</ul>')
    safety += [f'<p class="care">{html.escape(DISCLAIMER)}</p>', "</section>"]

    notes = [PRESSURE_NOTE] if h.uses_pressure else []
    notes += [DEVICE_NOTE] if h.uses_device else []
    notes += [LEVEL_NOTE] if h.device_specific else []

    body = [
        "<header>",
        '<p class="eyebrow">Routine handout</p>',
        f"<h1>{html_text(h.name)}</h1>",
    ]
    if h.summary:
        body.append(f'<div class="summary">{html_block(h.summary)}</div>')
    body += [f'<dl class="meta">{"".join(meta)}</dl>', "</header>", *safety]
    if h.description:
        body.append(
            '<section class="about"><h2>About this routine</h2>'
            f"{html_block(h.description)}</section>"
        )
    body.append('<section class="steps"><h2>Step by step</h2>')
    if notes:
        body.append(
            '<div class="notes">' + "".join(f"<p>{html.escape(n)}</p>" for n in notes) + "</div>"
        )
    body += [_html_item(item, 0) for item in h.steps]
    body.append("</section>")
    run = html_text(h.run_command)
    add = html_text(h.add_command)
    version = re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(_version_line(h)))
    body += [
        "<footer>",
        f'<p class="run">Run it with tproutine: <code>{run}</code></p>',
        f"<p>To keep it in your library: <code>{add}</code>, then start "
        "<code>tproutine</code> and pick it from the list.</p>",
        f"<p>Routine file: <code>{html_text(h.file_name)}</code>. {version}</p>",
        f"<p>Made with tproutine {html.escape(__version__)}.</p>",
        "</footer>",
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="tproutine {html.escape(__version__)}">\n'
        f"<title>{title} · routine handout</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
    )


# --- entry points -----------------------------------------------------------------------


def markdown_handout(
    loaded: LoadedRoutine, timeline: Timeline, *, file_name: str | None = None
) -> str:
    """The Markdown handout of a loaded routine and its timeline."""
    return render_markdown(build_handout(loaded, timeline, file_name=file_name))


def html_handout(loaded: LoadedRoutine, timeline: Timeline, *, file_name: str | None = None) -> str:
    """The HTML handout of a loaded routine and its timeline."""
    return render_html(build_handout(loaded, timeline, file_name=file_name))

"""A routine that passed every check, as plain immutable records.

Expansion and the Library read these, whichever way the file was checked: the
quick check (``quick.py``) builds them straight from the YAML data, and a file
checked by the pydantic models (``model.py``, the format's one description) is
converted with :func:`from_model`. They hold the same fields as the models,
with the values the models give (a test holds the two to the same fields), and
nothing of pydantic, so that reading a valid file never has to import it.

Named tuples rather than dataclasses: a one-file command builds these classes
at every start, and a dataclass takes twenty times longer to create.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from tproutine.routine import model as m

Side = Literal["left", "right", "both"]
WORK_KINDS = ("hold", "stretch", "massage", "breathe")


class Cue(NamedTuple):
    at: float  # from the start of each repetition; negative counts back from its end
    say: str


class DeviceSpec(NamedTuple):
    """Exactly one of ``intensity``, ``ramp`` or ``level``."""

    intensity: float | None = None
    ramp: tuple[float, float] | None = None
    level: int | None = None


class WorkStep(NamedTuple):
    """A hold, stretch, massage or breathe step (``kind``); ``title`` is its kind key's text."""

    kind: str
    title: str
    duration: float
    id: str | None = None  # the routine's name for the step (adjustment files use it)
    area: str | None = None
    tool: str | None = None
    instructions: str | None = None
    pressure: int | None = None
    side: Side | None = None
    alternate: bool = False
    reps: int = 1
    rest: float | None = None
    switch: float | None = None
    cues: tuple[Cue, ...] = ()
    device: DeviceSpec | None = None
    # Whether the step says `device:` itself (`device: off` then beats a default device).
    device_given: bool = False
    pattern: tuple[float, ...] | None = None  # breathe steps only


class RestStep(NamedTuple):
    """A rest step: `rest: 20s` (titled "Rest"), or `rest: TITLE` with `duration`."""

    title: str
    seconds: float
    id: str | None = None
    instructions: str | None = None
    cues: tuple[Cue, ...] = ()

    @property
    def kind(self) -> str:
        return "rest"


class RepeatBlock(NamedTuple):
    repeat: int
    steps: tuple[Step, ...]
    rest: float | None = None

    @property
    def kind(self) -> str:
        return "repeat"


Step = WorkStep | RestStep | RepeatBlock


class Safety(NamedTuple):
    warnings: tuple[str, ...] = ()
    avoid_if: tuple[str, ...] = ()


class Defaults(NamedTuple):
    pressure: int | None = None
    rest: float | None = None
    switch: float | None = None
    tool: str | None = None
    device: DeviceSpec | None = None
    area: str | None = None


class Plan(NamedTuple):
    """A routine's plan as the Library keeps it (see ``routine/plan.py``)."""

    per_week: int
    weeks: int | None = None
    reminder: tuple[str, ...] = ()


class Routine(NamedTuple):
    format: str
    name: str
    steps: tuple[Step, ...]
    summary: str | None = None
    description: str | None = None
    author: str | None = None
    tags: tuple[str, ...] = ()
    safety: Safety = Safety()
    get_ready: float = 5.0
    defaults: Defaults = Defaults()
    plan: Plan | None = None


# --- from the pydantic models ---------------------------------------------------------


def _device(spec: m.DeviceSpec | None) -> DeviceSpec | None:
    if spec is None:
        return None
    ramp = (spec.ramp[0], spec.ramp[1]) if spec.ramp is not None else None
    return DeviceSpec(intensity=spec.intensity, ramp=ramp, level=spec.level)


def _cues(cues: list[m.Cue]) -> tuple[Cue, ...]:
    return tuple(Cue(c.at, c.say) for c in cues)


def _step(step: Any) -> Step:
    # `Any`: the models' Step is a union pydantic builds; each member names its kind.
    if step.kind == "repeat":
        return RepeatBlock(
            repeat=step.repeat, steps=tuple(_step(s) for s in step.steps), rest=step.rest
        )
    if step.kind == "rest":
        return RestStep(
            title=step.title,
            seconds=step.seconds,
            id=step.id,
            instructions=step.instructions,
            cues=_cues(step.cues),
        )
    pattern = getattr(step, "pattern", None)
    return WorkStep(
        kind=step.kind,
        title=step.title,
        duration=step.duration,
        id=step.id,
        area=step.area,
        tool=step.tool,
        instructions=step.instructions,
        pressure=step.pressure,
        side=step.side,
        alternate=step.alternate,
        reps=step.reps,
        rest=step.rest,
        switch=step.switch,
        cues=_cues(step.cues),
        device=_device(step.device),
        device_given="device" in step.model_fields_set,
        pattern=tuple(pattern) if pattern is not None else None,
    )


def from_model(routine: m.Routine) -> Routine:
    """The same routine as :class:`Routine`, from the models' validated one."""
    d = routine.defaults
    return Routine(
        format=routine.format,
        name=routine.name,
        steps=tuple(_step(s) for s in routine.steps),
        summary=routine.summary,
        description=routine.description,
        author=routine.author,
        tags=tuple(routine.tags),
        safety=Safety(tuple(routine.safety.warnings), tuple(routine.safety.avoid_if)),
        get_ready=routine.get_ready,
        defaults=Defaults(
            pressure=d.pressure,
            rest=d.rest,
            switch=d.switch,
            tool=d.tool,
            device=_device(d.device),
            area=d.area,
        ),
        plan=None if (p := routine.plan) is None else Plan(p.per_week, p.weeks, tuple(p.reminder)),
    )

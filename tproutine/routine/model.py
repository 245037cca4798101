"""The routine file format, version 1, as pydantic models.

These models are the single description of the format: the loader validates with
them and the JSON Schema (``tproutine schema``) is generated from them. They
describe the document as a YAML 1.1 loader delivers it: durations may be numbers
(``1:30`` arrives as 90) and ``device: off`` arrives as ``false``.

Rules that need the whole file (cue offsets against the step's duration,
nesting, limits on the expanded timeline) live in ``loader.py`` and ``expand.py``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tproutine.routine.durations import (
    AT_LEAST_A_SECOND_PATTERN,
    LOOKS_LIKE_DURATION,
    LOOKS_LIKE_DURATION_PATTERN,
    MIN_SEGMENT_S,
    OFF_OR_A_SECOND_PATTERN,
    PERCENT_PATTERN,
    SIGNED_DURATION_PATTERN,
    exact_length,
    parse_duration,
    parse_percent,
)

FORMAT = "tproutine/1"
MAX_STEP_SECONDS = 3600.0
KIND_KEYS = ("hold", "stretch", "massage", "breathe", "rest", "repeat")

# --- JSON Schema pieces for values that YAML 1.1 may deliver in several types ---

_DURATION_DESC = "seconds (45), or text: 45s, 2.5s, 2m, 1m30s, 1h5m, 1:30, 1:02:03"


def _duration_schema(*, zero: bool, allow_off: bool, signed: bool = False) -> dict[str, Any]:
    # The text patterns are the parser's own language (see durations.py), and numbers
    # have the loader's bounds, so that the schema agrees with the loader. ``zero``: 0
    # (off) is accepted besides at least a second; ``signed``: a cue's offset.
    number: dict[str, Any] = {"type": "number", "maximum": MAX_STEP_SECONDS}
    choices: list[dict[str, Any]] = [number]
    if signed:
        number["minimum"] = -MAX_STEP_SECONDS
        pattern = SIGNED_DURATION_PATTERN
    else:
        # At least a second: a shorter segment or breathing phase would only make noise.
        number["minimum"] = MIN_SEGMENT_S
        pattern = OFF_OR_A_SECOND_PATTERN if zero else AT_LEAST_A_SECOND_PATTERN
        if zero:
            choices.append({"const": 0, "description": "off: 0 s"})
    choices.append({"type": "string", "pattern": pattern})
    if allow_off:
        choices.append({"const": False, "description": "off: 0 s"})
    return {"anyOf": choices, "description": _DURATION_DESC}


def _too_long(value: object, seconds: float, what: str) -> ValueError:
    return ValueError(
        f"{value!r} lasts {exact_length(abs(seconds))}; the limit for {what} is "
        f"{exact_length(MAX_STEP_SECONDS)}"
    )


def _at_least_a_second(what: str) -> Any:
    """A duration of at least 1 s for ``what`` ("a repetition", "a breathing phase")."""

    def check(value: object) -> float:
        seconds = parse_duration(value)
        if seconds < MIN_SEGMENT_S:
            raise ValueError(f"{value!r} is too short for {what} (use at least {MIN_SEGMENT_S:g}s)")
        if seconds > MAX_STEP_SECONDS:
            raise _too_long(value, seconds, what)
        return seconds

    return check


_positive_duration = _at_least_a_second("a repetition")
_rest_step_duration = _at_least_a_second("a rest step")


def _zero_or_more_duration(value: object) -> float:
    seconds = parse_duration(value, allow_off=True)
    if 0 < seconds < MIN_SEGMENT_S:
        raise ValueError(
            f"{value!r} is too short for a rest or a switch (use at least {MIN_SEGMENT_S:g}s, "
            "or 0s or off to leave it out)"
        )
    if seconds > MAX_STEP_SECONDS:
        raise _too_long(value, seconds, "a rest or a switch")
    return seconds


def _signed_duration(value: object) -> float:
    seconds = parse_duration(value, signed=True)
    if abs(seconds) > MAX_STEP_SECONDS:
        raise _too_long(value, seconds, "a cue's offset")
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(_positive_duration),
    WithJsonSchema(_duration_schema(zero=False, allow_off=False)),
]
RestStepDuration = Annotated[
    float,
    BeforeValidator(_rest_step_duration),
    WithJsonSchema(_duration_schema(zero=False, allow_off=False)),
]
PhaseDuration = Annotated[
    float,
    BeforeValidator(_at_least_a_second("a breathing phase")),
    WithJsonSchema(_duration_schema(zero=False, allow_off=False)),
]
OptionalDuration = Annotated[
    float,
    BeforeValidator(_zero_or_more_duration),
    WithJsonSchema(_duration_schema(zero=True, allow_off=True)),
]
SignedDuration = Annotated[
    float,
    BeforeValidator(_signed_duration),
    WithJsonSchema(_duration_schema(zero=True, allow_off=False, signed=True)),
]
Percent = Annotated[
    float,
    BeforeValidator(parse_percent),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 100},
                {"type": "string", "pattern": PERCENT_PATTERN},
            ],
            "description": "a share of the device's range: 40% or 40",
        }
    ),
]
Text = Annotated[str, Field(min_length=1)]


# `device: off` unquoted arrives as false; quoted, any case, as the text "off".
_OFF_PATTERN = r"^\s*[oO][fF][fF]\s*$"


def _extensions(schema: dict[str, Any]) -> None:
    # `x-` keys are accepted anywhere and ignored (the loader drops them).
    schema["patternProperties"] = {"^x-": {}}
    device = schema.get("properties", {}).get("device")
    if device:
        device["anyOf"] = [
            {
                "anyOf": [{"const": False}, {"type": "string", "pattern": _OFF_PATTERN}],
                "description": "the device is off",
            }
            if choice == {"type": "null"}
            else choice
            for choice in device["anyOf"]
        ]
        device.pop("default", None)


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, json_schema_extra=_extensions
    )


class Cue(_Model):
    """Something to say during each repetition of a step."""

    at: SignedDuration = Field(
        description="from the start of each repetition; negative counts back from its end"
    )
    say: Text


class DeviceSpec(_Model):
    """Exactly one of intensity, ramp or level."""

    intensity: Percent | None = Field(default=None, description="a share of the device's range")
    ramp: Annotated[list[Percent], Field(min_length=2, max_length=2)] | None = Field(
        default=None, description="from and to, changing linearly over each repetition"
    )
    level: Annotated[int, Field(ge=0, le=10_000)] | None = Field(
        default=None, description="a raw device level (device-specific), clamped to the device"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> DeviceSpec:
        given = [k for k in ("intensity", "ramp", "level") if getattr(self, k) is not None]
        if len(given) != 1:
            what = "none" if not given else " and ".join(given)
            raise ValueError(
                "a device setting has exactly one of intensity, ramp or level "
                f"(this one has {what})"
            )
        return self


def _device_value(value: object) -> object:
    """``off``/``false`` → None (off); a mapping is validated as a DeviceSpec."""
    if value is False or (isinstance(value, str) and value.strip().lower() == "off"):
        return None
    if value is True:
        raise ValueError(
            "'on' does not say how strong: use {intensity: 40%}, {ramp: [20%, 50%]} or {level: 3}"
        )
    if not isinstance(value, dict):
        raise ValueError(
            f"{value!r} is not a device setting (use off, {{intensity: 40%}}, "
            "{ramp: [20%, 50%]} or {level: 3})"
        )
    return value


# In the schema, the `null` that pydantic writes for "off" becomes `false`/"off" (see
# `_extensions`): YAML 1.1 delivers `device: off` as false, and null is not accepted.
DeviceField = Annotated[DeviceSpec | None, BeforeValidator(_device_value)]

Side = Literal["left", "right", "both"]
Pressure = Annotated[int, Field(ge=0, le=10, description="target discomfort, 0–10")]


# A step's own name for adjustment files (``tproutine-adjust/1``): unique in the routine.
STEP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


def _step_id(value: object) -> object:
    import re

    if isinstance(value, str) and not re.fullmatch(STEP_ID_PATTERN, value):
        raise ValueError(
            f"{value!r} is not a step id (use up to 64 letters, digits, - and _, "
            "starting with a letter or digit: upper-trap, neck_2)"
        )
    return value


StepId = Annotated[
    str,
    BeforeValidator(_step_id),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": STEP_ID_PATTERN,
            "description": "a unique name for this step (letters, digits, - and _), "
            "used by adjustment files",
        }
    ),
]


class _Work(_Model):
    """Fields shared by hold, stretch, massage and breathe steps."""

    id: StepId | None = None
    duration: Duration = Field(description="one repetition on one side")
    area: Text | None = None
    tool: Text | None = None
    instructions: Text | None = None
    pressure: Pressure | None = None
    side: Side | None = None
    alternate: bool = False
    reps: Annotated[int, Field(ge=1, le=100)] = 1
    rest: OptionalDuration | None = Field(default=None, description="between repetitions")
    switch: OptionalDuration | None = Field(default=None, description="between the two sides")
    cues: list[Cue] = Field(default_factory=list)
    device: DeviceField = None

    KIND: ClassVar[str] = ""  # each step kind names itself

    @property
    def kind(self) -> str:
        return self.KIND

    @property
    def title(self) -> str:
        return str(getattr(self, self.KIND))


class HoldStep(_Work):
    hold: Text = Field(description="a sustained pressure hold on a trigger point")

    KIND: ClassVar[str] = "hold"


class StretchStep(_Work):
    stretch: Text

    KIND: ClassVar[str] = "stretch"


class MassageStep(_Work):
    massage: Text

    KIND: ClassVar[str] = "massage"


class BreatheStep(_Work):
    breathe: Text
    pattern: Annotated[list[PhaseDuration], Field(min_length=2, max_length=4)] | None = Field(
        default=None,
        description="inhale, exhale; or inhale, hold, exhale; or inhale, hold, exhale, hold",
    )

    KIND: ClassVar[str] = "breathe"


def _rest_value(value: object) -> object:
    # `- rest: 20s` is a 20 s rest; `- rest: Lie still` is a title (duration then needed).
    if isinstance(value, str) and not LOOKS_LIKE_DURATION.match(value):
        return value
    return _rest_step_duration(value)


class RestStep(_Model):
    rest: Annotated[
        float | str,
        BeforeValidator(_rest_value),
        WithJsonSchema(
            {
                "anyOf": [
                    _duration_schema(zero=False, allow_off=False),
                    # A title is text that does not look like a duration ("0s" or
                    # "1m70s" are mistakes, not titles).
                    {
                        "type": "string",
                        "minLength": 1,
                        "not": {"pattern": LOOKS_LIKE_DURATION_PATTERN},
                    },
                ],
                "description": "a duration (a rest titled 'Rest'), or a title with `duration`",
            }
        ),
    ]
    id: StepId | None = None
    duration: RestStepDuration | None = None
    instructions: Text | None = None
    cues: list[Cue] = Field(default_factory=list)

    @model_validator(mode="after")
    def _duration_once(self) -> RestStep:
        if isinstance(self.rest, float) and self.duration is not None:
            raise ValueError("this rest gives its length twice: keep `rest: 20s` or `duration`")
        if isinstance(self.rest, str) and self.duration is None:
            raise ValueError(f"the rest {self.rest!r} needs a duration (add `duration: 30s`)")
        return self

    @property
    def kind(self) -> str:
        return "rest"

    @property
    def title(self) -> str:
        return self.rest if isinstance(self.rest, str) else "Rest"

    @property
    def seconds(self) -> float:
        if isinstance(self.rest, float):
            return self.rest
        assert self.duration is not None
        return self.duration


class RepeatBlock(_Model):
    repeat: Annotated[int, Field(ge=1, le=100, description="how many rounds")]
    rest: OptionalDuration | None = Field(default=None, description="between rounds")
    steps: Annotated[list[Step], Field(min_length=1)]

    @property
    def kind(self) -> str:
        return "repeat"


# `rest` is both a kind (`- rest: 20s`) and a field of other steps (rest between
# repetitions or rounds), so it names the kind only when no other kind key is there.
_PRIMARY_KINDS = ("hold", "stretch", "massage", "breathe", "repeat")


def _kind_keys(value: dict[Any, Any]) -> list[str]:
    found = [k for k in value if k in _PRIMARY_KINDS]  # in the order written
    return found or (["rest"] if "rest" in value else [])


def step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        found = _kind_keys(value)
        if len(found) == 1:
            return found[0]
    return None


def _check_step(value: object) -> object:
    """Explain a step without exactly one kind key before the union gives up."""
    if not isinstance(value, dict):
        raise PydanticCustomError(
            "step_type",
            "a step is a mapping that starts with its kind, like '- hold: Upper trapezius'",
        )
    found = _kind_keys(value)
    if not found:
        raise PydanticCustomError(
            "step_kind_missing",
            "this step has no kind: start it with one of hold, stretch, massage, breathe, "
            "rest or repeat (or use: a step from a catalogue)",
        )
    if len(found) > 1:
        raise PydanticCustomError(
            "step_kind_twice",
            "a step has one kind key, this one has {both} (split it into two steps)",
            {"both": " and ".join(repr(k) for k in found), "key": found[1]},
        )
    return value


Step = Annotated[
    Union[  # noqa: UP007 - Tag()ed members read better one per line
        Annotated[HoldStep, Tag("hold")],
        Annotated[StretchStep, Tag("stretch")],
        Annotated[MassageStep, Tag("massage")],
        Annotated[BreatheStep, Tag("breathe")],
        Annotated[RestStep, Tag("rest")],
        Annotated[RepeatBlock, Tag("repeat")],
    ],
    # Order matters: the discriminator belongs to the union, the check runs before it.
    Discriminator(step_kind),
    BeforeValidator(_check_step),
]
WorkStep = HoldStep | StretchStep | MassageStep | BreatheStep
STEP_MODELS: dict[str, type[_Model]] = {
    "hold": HoldStep,
    "stretch": StretchStep,
    "massage": MassageStep,
    "breathe": BreatheStep,
    "rest": RestStep,
    "repeat": RepeatBlock,
}


class Safety(_Model):
    warnings: list[Text] = Field(default_factory=list, description="acknowledged before the start")
    avoid_if: list[Text] = Field(
        default_factory=list, description="a checklist; the person confirms none applies"
    )


class Defaults(_Model):
    """Values for hold, stretch, massage and breathe steps that leave them out."""

    pressure: Pressure | None = None
    rest: OptionalDuration | None = None
    switch: OptionalDuration | None = None
    tool: Text | None = None
    device: DeviceField = None
    area: Text | None = None


MAX_REMINDERS = 6
_TIME_PATTERN = r"^\s*([01]?[0-9]|2[0-3]):[0-5][0-9]\s*$"


def _reminder_value(value: object) -> object:
    """``"08:00"`` → ``"08:00"``; YAML 1.1 reads an unquoted ``18:30`` as 1110 (base 60)."""
    from tproutine.routine.plan import parse_time_of_day

    return parse_time_of_day(value).strftime("%H:%M")


_REMINDER_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": _TIME_PATTERN},
        # An unquoted 18:30 is a base-60 number in YAML 1.1: 18 * 60 + 30.
        {"type": "integer", "minimum": 60, "maximum": 1439},
    ],
    "description": 'a local time of day, 24-hour: "08:00", "18:30"',
}
Reminder = Annotated[str, BeforeValidator(_reminder_value), WithJsonSchema(_REMINDER_SCHEMA)]


def _reminder_list(value: object) -> object:
    if not isinstance(value, list):
        # One time on its own is checked here, so that its errors name `plan.reminder`.
        return [_reminder_value(value)]
    if not 1 <= len(value) <= MAX_REMINDERS:
        raise ValueError(
            f"a list of {len(value)} reminders (give 1 to {MAX_REMINDERS} times, "
            "or leave `reminder` out)"
        )
    return value


def _in_range(low: int, high: int, what: str) -> BeforeValidator:
    """A whole number from ``low`` to ``high``, with a message that says so."""

    def check(value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high:
            raise ValueError(f"{value!r} is out of range (use {low} to {high} {what})")
        return value

    return BeforeValidator(check)


PerWeek = Annotated[
    int,
    _in_range(1, 14, "sessions a week"),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 14, "description": "1–14"}),
]
Weeks = Annotated[
    int,
    _in_range(1, 104, "weeks"),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 104}),
]


class Plan(_Model):
    """How often the routine is meant to be done: shown by ``due``, ``calendar``, handouts."""

    per_week: PerWeek = Field(description="sessions a week")
    weeks: Weeks | None = Field(default=None, description="how many weeks the programme lasts")
    reminder: Annotated[
        list[Reminder],
        BeforeValidator(_reminder_list),
        Field(min_length=1, max_length=MAX_REMINDERS),
        WithJsonSchema(
            {
                "anyOf": [
                    _REMINDER_SCHEMA,
                    {
                        "type": "array",
                        "items": _REMINDER_SCHEMA,
                        "minItems": 1,
                        "maxItems": MAX_REMINDERS,
                    },
                ],
                "description": 'a local time ("08:00") or a list of them',
            }
        ),
    ] = Field(default_factory=list)


def _format_value(value: object) -> object:
    if isinstance(value, str) and value != FORMAT and value.startswith("tproutine/"):
        raise ValueError(
            f"this file is format {value!r}; this version of tproutine reads {FORMAT!r}"
        )
    if value != FORMAT:
        raise ValueError(f"{value!r} is not a routine format (use `format: {FORMAT}`)")
    return value


class Routine(_Model):
    """A tproutine routine file, format version 1."""

    model_config = ConfigDict(title="tproutine routine (format tproutine/1)")

    format: Annotated[str, BeforeValidator(_format_value), WithJsonSchema({"const": FORMAT})] = (
        Field(description=f"exactly {FORMAT}")
    )
    name: Annotated[str, Field(min_length=1, max_length=120)]
    summary: Annotated[str, Field(max_length=200)] | None = None
    description: str | None = None
    author: str | None = None
    tags: list[Text] = Field(default_factory=list)
    safety: Safety = Field(default_factory=Safety)
    get_ready: OptionalDuration = Field(default=5.0, description="countdown before the first step")
    defaults: Defaults = Field(default_factory=Defaults)
    plan: Plan | None = Field(default=None, description="how often, for how long, reminders")
    steps: Annotated[list[Step], Field(min_length=1)]


RepeatBlock.model_rebuild()
Routine.model_rebuild()

"""Device profiles (``tproutine-device/1``): the format, its loader and its validation.

A profile is one YAML file describing one family of Bluetooth LE massage
devices: how to recognise it in a scan (``match``), where to write and listen
(``gatt``), its raw level range (``levels``), how to encode commands and
decode replies (``commands``, ``reads``, templates described in
:mod:`tproutine.devices.template`) and its ``safety`` limits. The contract is
``device-profiles.md``; a commented example is ``devices/tproutine-virtual.yaml``.

Bundled profiles ship with the package; the person's own live in the user
config folder (``devices/``) and replace a bundled profile with the same
``id``. A broken profile is reported with ``file:line:col`` for every mistake
and never stops the others from loading. Nothing here touches Bluetooth.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, cast

from tproutine import paths
from tproutine.devices.template import (
    COMMAND_FIELDS,
    FIXED_TOPS,
    REPLY_FIELDS,
    Template,
    TemplateError,
    parse_template,
)
from tproutine.suggest import suggest
from tproutine.yamlsafe import MAX_BYTES, Document, LoadError, Problem, describe_value, load_yaml

log = logging.getLogger(__name__)

FORMAT = "tproutine-device/1"
WHAT = (
    "a device profile: a mapping with format, id, name, kind, status, source, "
    "match, gatt, levels, commands and safety"
)

_BASE_UUID = "-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE = "0000180f" + _BASE_UUID
BATTERY_LEVEL = "00002a19" + _BASE_UUID
DEVICE_INFORMATION_SERVICE = "0000180a" + _BASE_UUID
FIRMWARE_REVISION = "00002a26" + _BASE_UUID

Kind = Literal["percussion", "vibration"]
Status = Literal["reference", "verified", "community"]
Standard = Literal["standard"]
KINDS: tuple[Kind, ...] = ("percussion", "vibration")
STATUSES: tuple[Status, ...] = ("reference", "verified", "community")

_ID = re.compile(r"[a-z0-9-]+")
_MAX_LEVEL = 0xFFFF  # levels travel as 16-bit numbers at most
#: The longest ``safety.max_on``: clinicians hold a massage on one spot for
#: seconds to a few minutes, and a motor left running on the body for half an
#: hour is a fault, not a routine.
MAX_ON_CEILING = 30 * 60

# ------------------------------------------------------------------------
# UUIDs
# ------------------------------------------------------------------------

_HEX4 = re.compile(r"[0-9a-f]{4}")
_HEX8 = re.compile(r"[0-9a-f]{8}")
_HEX32 = re.compile(r"[0-9a-f?]{32}")
_UUID = re.compile(r"[0-9a-f?]{8}-[0-9a-f?]{4}-[0-9a-f?]{4}-[0-9a-f?]{4}-[0-9a-f?]{12}")


def normalize_uuid(text: str, *, wildcards: bool = False) -> str:
    """A UUID as lowercase 128-bit text, the way bleak spells it.

    Accepts the 16-bit short form (``FFE0``, ``0xFFE0``), the 32-bit form and
    the full form with or without dashes. With ``wildcards``, the full form may
    use ``?`` for any one hex digit (a family of services, like Lovense's).
    Raises ValueError.
    """
    t = text.strip().lower()
    t = t.removeprefix("0x")
    if _HEX4.fullmatch(t):
        return f"0000{t}{_BASE_UUID}"
    if _HEX8.fullmatch(t):
        return t + _BASE_UUID
    if _HEX32.fullmatch(t):
        t = f"{t[:8]}-{t[8:12]}-{t[12:16]}-{t[16:20]}-{t[20:]}"
    if _UUID.fullmatch(t) and (wildcards or "?" not in t):
        return t
    raise ValueError(
        f"{text!r} is not a UUID (write 4 hex digits like FFE0, or the full form like "
        "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
        + ("; ? stands for any one hex digit)" if wildcards else ")")
    )


def uuid_matches(pattern: str, uuid: str) -> bool:
    """Whether a normalised ``uuid`` fits a normalised ``pattern`` (``?`` = any hex digit)."""
    if len(pattern) != len(uuid):
        return False
    return all(
        p == u or (p == "?" and u in "0123456789abcdef") for p, u in zip(pattern, uuid, strict=True)
    )


def try_uuid(text: object) -> str | None:
    """``text`` as a normalised UUID, or None when it is not one (advertisements are untrusted)."""
    if not isinstance(text, str):
        return None
    try:
        return normalize_uuid(text)
    except ValueError:
        return None


# ------------------------------------------------------------------------
# The model
# ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gatt:
    """Where commands go and replies come from.

    UUIDs are lowercase 128-bit. ``service`` may be a pattern with ``?`` for
    hex digits that vary by model; ``write`` and ``notify`` then take the
    digits at the same positions from the service found (see :meth:`resolve`).
    """

    service: str
    write: str
    notify: str | None
    write_response: bool

    @property
    def is_pattern(self) -> bool:
        return "?" in self.service

    def resolve(self, service_uuid: str) -> Gatt | None:
        """This block for a discovered service: wildcards filled in, or None if it does not fit."""
        found = try_uuid(service_uuid)
        if found is None or not uuid_matches(self.service, found):
            return None

        def fill(pattern: str) -> str:
            return "".join(found[i] if c == "?" else c for i, c in enumerate(pattern))

        return Gatt(
            service=found,
            write=fill(self.write),
            notify=None if self.notify is None else fill(self.notify),
            write_response=self.write_response,
        )


@dataclass(frozen=True, slots=True)
class Match:
    """How a scan recognises the device (the rules are in :mod:`tproutine.devices.matching`).

    ``names`` and ``services`` given together are both required: the name must
    fit, and a device that advertises a vendor service must advertise one of
    these. ``not_names`` and ``not_services`` pick out devices the names also
    catch that are not massagers (Lovense's sex machines and strokers): the
    app names them in a scan and never connects to them.
    """

    names: tuple[str, ...] = ()  # glob patterns, case-sensitive like the names themselves
    services: tuple[str, ...] = ()  # normalised UUIDs (patterns allowed)
    company_id: int | None = None
    not_names: tuple[str, ...] = ()
    not_services: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Keepalive:
    """Resend something every ``every`` seconds while the motor runs.

    ``send`` is its own template, or None to resend the set command.
    """

    every: float
    send: Template | None


@dataclass(frozen=True, slots=True)
class Commands:
    set: Template
    stop: Template
    init: tuple[Template, ...] = ()
    keepalive: Keepalive | None = None


@dataclass(frozen=True, slots=True)
class VendorRead:
    """A value read by writing ``query`` and waiting for a notification matching ``reply``.

    ``write_response`` overrides the gatt block's choice for the query (None: the same).
    ``reply_while_running`` is the answer's other form, sent while the motor
    runs (a Lovense answers ``s85;`` instead of ``85;``); either is accepted.
    """

    query: Template
    reply: Template
    write_response: bool | None = None
    reply_while_running: Template | None = None

    @property
    def replies(self) -> tuple[Template, ...]:
        """Every form the answer can take."""
        extra = () if self.reply_while_running is None else (self.reply_while_running,)
        return (self.reply, *extra)


@dataclass(frozen=True, slots=True)
class Reads:
    """What the app can learn from the device.

    ``battery`` is ``"standard"`` (Battery Service 0x180F, Battery Level
    0x2A19), a vendor query, or None. ``state`` is the template of the state
    notification. ``firmware`` is ``"standard"`` (Device Information 0x180A,
    Firmware Revision 0x2A26), a vendor query, or None.
    """

    battery: VendorRead | Standard | None = None
    state: Template | None = None
    firmware: VendorRead | Standard | None = None


@dataclass(frozen=True, slots=True)
class Safety:
    max_level: int  # never sent above this level (defaults to the top of ``levels``)
    max_on: float  # seconds of continuous running before the app stops the motor itself


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """One validated device profile. ``file`` is where it was loaded from."""

    id: str
    name: str
    kind: Kind
    status: Status
    source: str
    match: Match
    gatt: tuple[Gatt, ...]  # alternatives: the first whose service the device has is used
    levels: tuple[int, int]
    commands: Commands
    reads: Reads
    safety: Safety
    models: tuple[str, ...] = ()
    file: str = ""
    replaces: str | None = None  # the bundled profile this one of the person's own replaces
    own: bool = False  # the person's own (not bundled): never shown as verified

    @property
    def shown_status(self) -> str:
        """The status to show people: ``yours`` for a profile of their own, whatever it claims."""
        return "yours" if self.own else self.status

    @property
    def highest_level(self) -> int:
        """The top of the device's raw range (``levels[1]``)."""
        return self.levels[1]

    def gatt_for(self, services: Iterable[str]) -> Gatt | None:
        """The first gatt block whose service is among the discovered ``services``, resolved."""
        found = [s for s in (try_uuid(x) for x in services) if s is not None]
        for block in self.gatt:
            for uuid in found:
                resolved = block.resolve(uuid)
                if resolved is not None:
                    return resolved
        return None


# ------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------


def _describe(value: object) -> str:
    return describe_value(value, show_text=True)


Path_ = tuple[str | int, ...]


class _Checker:
    """Collects every problem in one document instead of stopping at the first."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def error(self, path: Path_, message: str, *, key: bool = False) -> None:
        self.problems.append(self.doc.problem(path, message, key=key))

    def mapping(
        self,
        value: object,
        path: Path_,
        *,
        known: Sequence[str],
        required: Sequence[str],
        hints: Mapping[str, str],
    ) -> dict[str, Any] | None:
        """``value`` as a mapping with only ``known`` keys; missing required keys reported."""
        if not isinstance(value, dict):
            self.error(path, f"expected a mapping with {', '.join(known)}, got {_describe(value)}")
            return None
        for key in value:
            if key not in known:
                hint = suggest(key, known)
                did = f"did you mean '{hint}'? " if hint else ""
                self.error(
                    (*path, key),
                    f"unknown key '{key}' ({did}known keys: {', '.join(known)}; "
                    "x- keys are ignored)",
                    key=True,
                )
        for key in required:
            if key not in value:
                self.error((*path, key), f"'{key}' is required ({hints[key]})")
        return value

    def text(self, value: object, path: Path_) -> str | None:
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, str):
            self.error(path, "expected text, got an empty text")
        else:
            quote = " (put it in quotes)" if not isinstance(value, (list, dict, type(None))) else ""
            self.error(path, f"expected text, got {_describe(value)}{quote}")
        return None

    def choice(self, value: object, path: Path_, choices: Sequence[str]) -> str | None:
        if isinstance(value, str) and value in choices:
            return value
        shown = repr(value) if isinstance(value, str) else _describe(value)
        hint = suggest(value, choices) if isinstance(value, str) else None
        did = f"did you mean '{hint}'? " if hint else ""
        self.error(path, f"{shown} is not accepted ({did}use one of: {', '.join(choices)})")
        return None

    def integer(self, value: object, path: Path_, lo: int, hi: int, what: str) -> int | None:
        if not isinstance(value, int) or isinstance(value, bool):
            self.error(path, f"expected a whole number ({what}), got {_describe(value)}")
            return None
        if not lo <= value <= hi:
            self.error(path, f"{value} is outside {lo}..{hi} ({what})")
            return None
        return value

    def seconds(self, value: object, path: Path_, what: str) -> float | None:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            self.error(path, f"expected a number of seconds ({what}), got {_describe(value)}")
            return None
        if not 0 < value < float("inf"):
            self.error(path, f"{value} is not above 0 ({what})")
            return None
        return float(value)

    def boolean(self, value: object, path: Path_) -> bool | None:
        if isinstance(value, bool):
            return value
        self.error(path, f"expected true or false, got {_describe(value)}")
        return None

    def uuid(self, value: object, path: Path_, *, wildcards: bool = False) -> str | None:
        if not isinstance(value, str):
            self.error(
                path,
                f'expected a UUID in quotes like "FFE0", got {_describe(value)} '
                "(YAML reads unquoted digits as a number)",
            )
            return None
        try:
            return normalize_uuid(value, wildcards=wildcards)
        except ValueError as exc:
            self.error(path, str(exc))
            return None

    def strings(self, value: object, path: Path_, what: str) -> list[str] | None:
        if not isinstance(value, list):
            self.error(path, f"expected a list of {what}, got {_describe(value)}")
            return None
        out = [self.text(item, (*path, i)) for i, item in enumerate(value)]
        return [s for s in out if s is not None] if all(s is not None for s in out) else None

    def template(
        self,
        value: object,
        path: Path_,
        *,
        fields: Mapping[str, int | None],
        wildcards: bool = False,
    ) -> Template | None:
        try:
            return parse_template(value, fields=fields, wildcards=wildcards)
        except TemplateError as exc:
            where = path if exc.item is None else (*path, exc.item)
            self.error(where, exc.message)
            return None


_TOP_KEYS = (
    "format", "id", "name", "kind", "status", "source", "match", "gatt",
    "levels", "commands", "reads", "safety", "models", "replaces",
)  # fmt: skip
_TOP_REQUIRED = (
    "format", "id", "name", "kind", "status", "source", "match", "gatt",
    "levels", "commands", "safety",
)  # fmt: skip
_TOP_HINTS = {
    "format": f"add format: {FORMAT}",
    "id": "a short name of lowercase letters, digits and dashes",
    "name": "the name people see",
    "kind": "percussion or vibration",
    "status": "reference, verified or community",
    "source": "where the protocol facts come from",
    "match": "how a scan recognises the device: names, services or company_id",
    "gatt": "the service and characteristics to use",
    "levels": "the raw range, like [0, 20]",
    "commands": "at least set and stop",
    "safety": "at least max_on, the longest run in seconds",
}
_GATT_KEYS = ("service", "write", "notify", "write_response")
_GATT_HINTS = {
    "service": 'the service UUID, like "FFE0"',
    "write": "the characteristic that takes commands",
}


def _check_profile(doc: Document) -> DeviceProfile:
    """Validate a loaded document; raises LoadError listing every problem."""
    c = _Checker(doc)
    top = c.mapping(doc.data, (), known=_TOP_KEYS, required=_TOP_REQUIRED, hints=_TOP_HINTS)
    assert top is not None  # load_yaml guarantees a mapping at the top

    if "format" in top and top["format"] != FORMAT:
        shown = repr(top["format"]) if isinstance(top["format"], str) else _describe(top["format"])
        c.error(("format",), f"unknown format {shown} (this version reads {FORMAT})")
    pid: str | None = None
    if "id" in top:
        pid = c.text(top["id"], ("id",))
        if pid is not None and (not _ID.fullmatch(pid) or len(pid) > 64):
            c.error(
                ("id",),
                f"{pid!r} is not accepted (use lowercase letters, digits and dashes; at most 64)",
            )
            pid = None
    name = c.text(top["name"], ("name",)) if "name" in top else None
    kind = c.choice(top["kind"], ("kind",), KINDS) if "kind" in top else None
    status = c.choice(top["status"], ("status",), STATUSES) if "status" in top else None
    source = c.text(top["source"], ("source",)) if "source" in top else None
    models = c.strings(top["models"], ("models",), "model names") if "models" in top else []
    replaces = c.text(top["replaces"], ("replaces",)) if "replaces" in top else None
    if replaces is not None and not _ID.fullmatch(replaces):
        c.error(("replaces",), f"{replaces!r} is not a profile id (lowercase letters, digits, -)")

    levels = _levels(c, top["levels"]) if "levels" in top else None
    # Templates are checked even when the levels are broken, against a stand-in
    # range, so one mistake does not hide the others.
    level_top = levels[1] if levels else 1

    match = _match(c, top["match"]) if "match" in top else None
    gatt = _gatt_blocks(c, top["gatt"]) if "gatt" in top else None
    commands = _commands(c, top["commands"], level_top) if "commands" in top else None
    reads = _reads(c, top.get("reads"), level_top)
    safety = _safety(c, top["safety"], levels) if "safety" in top else None

    if gatt and reads is not None and "reads" in top:
        needs = [
            k
            for k, v in (
                ("state", reads.state),
                ("battery", reads.battery),
                ("firmware", reads.firmware),
            )
            if isinstance(v, Template | VendorRead)
        ]
        for i, block in enumerate(gatt):
            if needs and block.notify is None:
                where: Path_ = ("gatt", i) if isinstance(top["gatt"], list) else ("gatt",)
                c.error(
                    where,
                    f"reads.{needs[0]} arrives as notifications, so the gatt block needs "
                    "'notify' (the characteristic the device notifies on)",
                )

    if commands is not None and reads is not None:
        _check_stop(c, commands, reads)

    if c.problems:
        raise LoadError(sorted(c.problems, key=lambda p: (p.line, p.col)))
    if not (pid and name and kind and status and source and match and gatt and levels) or not (
        commands and reads and safety and models is not None
    ):  # pragma: no cover
        # Every failed part reports a problem above; this keeps a missed case a
        # LoadError rather than a crash.
        raise LoadError([doc.problem((), "the profile is incomplete")])
    return DeviceProfile(
        id=pid,
        name=name,
        kind=cast(Kind, kind),
        status=cast(Status, status),
        source=source,
        match=match,
        gatt=gatt,
        levels=levels,
        commands=commands,
        reads=reads,
        safety=safety,
        models=tuple(models),
        file=doc.file,
        replaces=replaces,
    )


def _check_stop(c: _Checker, commands: Commands, reads: Reads) -> None:
    """A stop must not read, under the profile's own templates, as a running motor.

    A profile whose stop is its set command at some level (or looks like a
    state saying "running") would have the app report "stopped" at every stop
    while the motor runs.
    """
    stop = commands.stop.encode({})
    candidates = [("the set command", commands.set)]
    if commands.keepalive is not None and commands.keepalive.send is not None:
        candidates.append(("the keepalive", commands.keepalive.send))
    if reads.state is not None:
        candidates.append(("a state notification", reads.state))
    for what, template in candidates:
        values = template.decode(stop)
        if values is None:
            continue
        level = values.get("level", 0)
        running = values.get("on", values.get("running", 0)) == 1
        if level > 0 or running:
            said = f"level {level}" if level > 0 else "running"
            c.error(
                ("commands", "stop"),
                f"these bytes read as {what} at {said}: a stop must turn the motor off "
                "(use the device's own off command, or the set command at level 0)",
            )
            return


def _levels(c: _Checker, value: object) -> tuple[int, int] | None:
    path: Path_ = ("levels",)
    shape = "two whole numbers, 0 (off) and the highest level, like [0, 20]"
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        got = f"a list of {len(value)}" if isinstance(value, list) else _describe(value)
        if isinstance(value, list) and len(value) == 2:
            got = "[" + ", ".join(_describe(v) for v in value) + "]"
        c.error(path, f"expected {shape}, got {got}")
        return None
    low, high = value
    if low != 0 or high < 1:
        c.error(
            path,
            f"expected {shape}, got [{low}, {high}] (the first must be 0, the second above it)",
        )
        return None
    if high > _MAX_LEVEL:
        c.error(path, f"the highest level {high} is above {_MAX_LEVEL}")
        return None
    return (low, high)


_MATCH_KEYS = ("names", "services", "company_id", "not_massagers")


def _uuid_list(c: _Checker, value: object, path: Path_) -> list[str] | None:
    if not isinstance(value, list):
        c.error(path, f"expected a list of UUIDs, got {_describe(value)}")
        return None
    out = [c.uuid(item, (*path, i), wildcards=True) for i, item in enumerate(value)]
    return [u for u in out if u is not None] if all(u is not None for u in out) else None


def _match(c: _Checker, value: object) -> Match | None:
    m = c.mapping(value, ("match",), known=_MATCH_KEYS, required=(), hints={})
    if m is None:
        return None
    ok = True
    names: list[str] = []
    services: list[str] = []
    company: int | None = None
    if "names" in m:
        got = c.strings(m["names"], ("match", "names"), 'advertised-name patterns like "LVS-*"')
        ok = ok and got is not None
        names = got or []
    if "services" in m:
        found = _uuid_list(c, m["services"], ("match", "services"))
        ok = ok and found is not None
        services = found or []
    if "company_id" in m:
        company = c.integer(
            m["company_id"], ("match", "company_id"), 0, 0xFFFF, "a Bluetooth company id"
        )
        ok = ok and company is not None
    not_names: list[str] = []
    not_services: list[str] = []
    if "not_massagers" in m:
        path: Path_ = ("match", "not_massagers")
        n = c.mapping(m["not_massagers"], path, known=("names", "services"), required=(), hints={})
        ok = ok and n is not None
        if n is not None:
            if "names" in n:
                got = c.strings(n["names"], (*path, "names"), 'name patterns like "LVS-F[0-9]*"')
                ok = ok and got is not None
                not_names = got or []
            if "services" in n:
                found = _uuid_list(c, n["services"], (*path, "services"))
                ok = ok and found is not None
                not_services = found or []
            if ok and not not_names and not not_services and set(n) <= {"names", "services"}:
                c.error(path, "give names or services of the devices that are not massagers")
                ok = False
    # With a misspelt key the unknown-key message already says what is wrong.
    if ok and not names and not services and company is None and set(m) <= set(_MATCH_KEYS):
        c.error(("match",), "give at least one of names, services or company_id")
        ok = False
    if not ok:
        return None
    return Match(tuple(names), tuple(services), company, tuple(not_names), tuple(not_services))


def _gatt_blocks(c: _Checker, value: object) -> tuple[Gatt, ...] | None:
    if isinstance(value, list):
        if not value:
            c.error(
                ("gatt",), "expected a gatt mapping, or a list of alternatives; got an empty list"
            )
            return None
        blocks = [_gatt(c, item, ("gatt", i)) for i, item in enumerate(value)]
    else:
        blocks = [_gatt(c, value, ("gatt",))]
    if any(b is None for b in blocks):
        return None
    return tuple(b for b in blocks if b is not None)


def _gatt(c: _Checker, value: object, path: Path_) -> Gatt | None:
    g = c.mapping(value, path, known=_GATT_KEYS, required=("service", "write"), hints=_GATT_HINTS)
    if g is None:
        return None
    service = c.uuid(g["service"], (*path, "service"), wildcards=True) if "service" in g else None
    write = c.uuid(g["write"], (*path, "write"), wildcards=True) if "write" in g else None
    notify = c.uuid(g["notify"], (*path, "notify"), wildcards=True) if "notify" in g else None
    response = (
        c.boolean(g["write_response"], (*path, "write_response"))
        if "write_response" in g
        else False
    )
    if service is None or write is None or response is None or ("notify" in g and notify is None):
        return None
    bad = False
    for key, uuid in (("write", write), ("notify", notify)):
        if uuid is None:
            continue
        if any(ch == "?" and service[i] != "?" for i, ch in enumerate(uuid)):
            c.error(
                (*path, key),
                "a '?' here must stand where the service has one too "
                "(it takes the digit of the service found)",
            )
            bad = True
    return None if bad else Gatt(service, write, notify, response)


def _commands(c: _Checker, value: object, level_top: int) -> Commands | None:
    path: Path_ = ("commands",)
    m = c.mapping(
        value,
        path,
        known=("set", "stop", "init", "keepalive"),
        required=("set", "stop"),
        hints={"set": "the template that sets a level", "stop": "the template that stops"},
    )
    if m is None:
        return None
    cmd_fields: dict[str, int | None] = {"level": level_top, "on": 1}
    assert tuple(cmd_fields) == COMMAND_FIELDS
    set_t = c.template(m["set"], (*path, "set"), fields=cmd_fields) if "set" in m else None
    if (
        set_t is not None
        and "level" not in set_t.fields
        and not ("on" in set_t.fields and level_top == 1)
    ):
        c.error(
            (*path, "set"),
            "the set command must carry {level} (or {on} when the levels are [0, 1])",
        )
        set_t = None
    stop_t = c.template(m["stop"], (*path, "stop"), fields={}) if "stop" in m else None
    init: list[Template] = []
    init_ok = True
    if "init" in m:
        if not isinstance(m["init"], list):
            c.error(
                (*path, "init"),
                f"expected a list of templates (each a text or a list of bytes), "
                f"got {_describe(m['init'])}",
            )
            init_ok = False
        else:
            for i, item in enumerate(m["init"]):
                t = c.template(item, (*path, "init", i), fields={})
                init_ok = init_ok and t is not None
                if t is not None:
                    init.append(t)
    keepalive: Keepalive | None = None
    keep_ok = True
    if "keepalive" in m:
        k = c.mapping(
            m["keepalive"],
            (*path, "keepalive"),
            known=("every", "send"),
            required=("every",),
            hints={"every": "seconds between resends"},
        )
        keep_ok = k is not None
        if k is not None:
            every = (
                c.seconds(k["every"], (*path, "keepalive", "every"), "seconds between resends")
                if "every" in k
                else None
            )
            send = (
                c.template(k["send"], (*path, "keepalive", "send"), fields=cmd_fields)
                if "send" in k
                else None
            )
            keep_ok = every is not None and ("send" not in k or send is not None)
            if every is not None and keep_ok:
                keepalive = Keepalive(every, send)
    if set_t is None or stop_t is None or not init_ok or not keep_ok:
        return None
    return Commands(set_t, stop_t, tuple(init), keepalive)


def _reply_fields(level_top: int) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for name in REPLY_FIELDS:
        out[name] = level_top if name == "level" else FIXED_TOPS[name]
    return out


def _vendor_read(
    c: _Checker,
    value: object,
    path: Path_,
    *,
    reply_fields: Mapping[str, int | None],
    needs: str | None,
) -> VendorRead | Standard | None:
    if value == "standard":
        return "standard"
    if not isinstance(value, dict):
        shown = repr(value) if isinstance(value, str) else _describe(value)
        c.error(path, f"expected 'standard' or a mapping with query and reply, got {shown}")
        return None
    m = c.mapping(
        value,
        path,
        known=("query", "reply", "reply_while_running", "write_response"),
        required=("query", "reply"),
        hints={"query": "the template to write", "reply": "the template of the answer"},
    )
    assert m is not None
    query = c.template(m["query"], (*path, "query"), fields={}) if "query" in m else None
    replies: dict[str, Template | None] = {}
    for key in ("reply", "reply_while_running"):
        if key not in m:
            continue
        reply = c.template(m[key], (*path, key), fields=reply_fields, wildcards=True)
        if reply is not None and needs is not None and needs not in reply.fields:
            c.error((*path, key), f"the reply must carry {{{needs}}}")
            reply = None
        replies[key] = reply
    response = (
        c.boolean(m["write_response"], (*path, "write_response")) if "write_response" in m else None
    )
    if (
        query is None
        or any(r is None for r in replies.values())
        or "reply" not in replies
        or ("write_response" in m and response is None)
    ):
        return None
    reply_main = replies["reply"]
    assert reply_main is not None
    return VendorRead(query, reply_main, response, replies.get("reply_while_running"))


def _reads(c: _Checker, value: object, level_top: int) -> Reads | None:
    if value is None:
        return Reads()
    path: Path_ = ("reads",)
    m = c.mapping(value, path, known=("battery", "state", "firmware"), required=(), hints={})
    if m is None:
        return None
    fields = _reply_fields(level_top)
    problems_before = len(c.problems)
    battery = (
        _vendor_read(
            c, m["battery"], (*path, "battery"), reply_fields={"battery": 100}, needs="battery"
        )
        if "battery" in m
        else None
    )
    firmware = (
        _vendor_read(c, m["firmware"], (*path, "firmware"), reply_fields={}, needs=None)
        if "firmware" in m
        else None
    )
    state: Template | None = None
    if "state" in m:
        state = c.template(m["state"], (*path, "state"), fields=fields, wildcards=True)
        if state is not None and not state.fields:
            c.error(
                (*path, "state"),
                "the state must carry at least one of "
                + ", ".join("{" + f + "}" for f in REPLY_FIELDS),
            )
            state = None
    if len(c.problems) > problems_before:
        return None
    return Reads(battery, state, firmware)


def _safety(c: _Checker, value: object, levels: tuple[int, int] | None) -> Safety | None:
    path: Path_ = ("safety",)
    m = c.mapping(
        value,
        path,
        known=("max_level", "max_on"),
        required=("max_on",),
        hints={"max_on": "the longest continuous run in seconds before the app stops the motor"},
    )
    if m is None:
        return None
    max_on = (
        c.seconds(m["max_on"], (*path, "max_on"), "the longest continuous run")
        if "max_on" in m
        else None
    )
    if max_on is not None and max_on > MAX_ON_CEILING:
        c.error(
            (*path, "max_on"),
            f"{max_on:g} seconds is above the ceiling of {MAX_ON_CEILING} (30 minutes): "
            "the app stops a motor that has run this long without a break",
        )
        max_on = None
    max_level: int | None = levels[1] if levels else None
    if "max_level" in m:
        top = levels[1] if levels else _MAX_LEVEL
        max_level = c.integer(m["max_level"], (*path, "max_level"), 1, top, "a level within levels")
    if max_on is None or max_level is None:
        return None
    return Safety(max_level, max_on)


# ------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------


def _parse(source: bytes | str, file: str) -> tuple[DeviceProfile, Document]:
    doc = load_yaml(source, file, what=WHAT)
    return _check_profile(doc), doc


def parse_profile(source: bytes | str, file: str = "<profile>") -> DeviceProfile:
    """Validate one profile given as YAML text or bytes; ``file`` names it in messages.

    Raises :class:`~tproutine.yamlsafe.LoadError` (and nothing else) for any mistake.
    """
    return _parse(source, file)[0]


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            # One byte over the limit is enough for load_yaml to refuse a huge file.
            return fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise LoadError(
            [Problem(str(path), 1, 1, "", f"cannot read the file ({exc.strerror})")]
        ) from None


def load_profile(path: str | Path) -> DeviceProfile:
    """Load and validate one profile file. Raises :class:`~tproutine.yamlsafe.LoadError`."""
    p = Path(path)
    return parse_profile(_read(p), str(p))


@dataclass(frozen=True)
class ProfileSet:
    """The profiles found, and the files that could not be used (each with its problems)."""

    profiles: dict[str, DeviceProfile]
    errors: tuple[LoadError, ...]

    @property
    def problems(self) -> list[Problem]:
        return [p for e in self.errors for p in e.problems]


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def _replacing_problem(
    profile: DeviceProfile, *, own: bool, bundled: set[str]
) -> tuple[Path_, str] | None:
    """Why a profile may not take its place: a bundled id reused without ``replaces``."""
    if not own:
        if profile.replaces is not None:
            return (("replaces",), "only a profile of your own replaces a bundled one")
        return None
    if profile.replaces is not None and profile.replaces not in bundled:
        known = ", ".join(sorted(bundled))
        return (
            ("replaces",),
            f"there is no bundled profile {profile.replaces!r} to replace (bundled: {known})",
        )
    if profile.id in bundled and profile.replaces != profile.id:
        return (
            ("id",),
            f"{profile.id!r} is a bundled profile's id: to use yours instead, add "
            f"'replaces: {profile.id}'; or give yours another id",
        )
    return None


def load_profile_set(
    extra_dirs: Iterable[str | Path] | None = None, *, user: bool = True
) -> ProfileSet:
    """Every profile: bundled, then the person's own (``user``), then ``extra_dirs``.

    A profile of the person's own replaces a bundled one only when it says so
    (``replaces: ID``); reusing a bundled id without it is an error, so
    nothing is replaced by accident. A later folder's profile replaces an
    earlier one of the person's own with the same ``id``. Within one folder an
    ``id`` must be unique (the first file by name keeps it). Profiles from any
    folder but the bundled one are marked ``own``. Broken files are reported
    in ``errors`` and skipped; they never stop the others.
    """
    folders = [paths.bundled_devices_dir()]
    if user:
        folders.append(paths.user_devices_dir())
    folders.extend(Path(d) for d in extra_dirs or ())
    profiles: dict[str, DeviceProfile] = {}
    errors: list[LoadError] = []
    bundled: set[str] = set()
    for index, folder in enumerate(folders):
        own = index > 0
        seen: dict[str, str] = {}
        for file in _files(folder):
            try:
                profile, doc = _parse(_read(file), str(file))
                problem = _replacing_problem(profile, own=own, bundled=bundled)
                if problem is not None:
                    raise LoadError([doc.problem(*problem)])
            except LoadError as exc:
                errors.append(exc)
                continue
            if profile.id in seen:
                errors.append(
                    LoadError(
                        [
                            doc.problem(
                                ("id",),
                                f"the id {profile.id!r} is already used by {seen[profile.id]} "
                                "in the same folder (ids must be unique)",
                            )
                        ]
                    )
                )
                continue
            seen[profile.id] = file.name
            if own:
                profile = replace(profile, own=True)
                if profile.replaces is not None:
                    log.debug("%s replaces the bundled profile %s", file, profile.replaces)
                    profiles.pop(profile.replaces, None)
            profiles[profile.id] = profile
        if not own:
            bundled = set(profiles)
    return ProfileSet(profiles, tuple(errors))


def load_profiles(extra_dirs: Iterable[str | Path] | None = None) -> dict[str, DeviceProfile]:
    """The usable profiles by id (see :func:`load_profile_set`).

    Broken files are logged as warnings on this module's logger (the app's log file).
    """
    found = load_profile_set(extra_dirs)
    for problem in found.problems:
        log.warning("device profile not loaded: %s", problem)
    return found.profiles

"""The template language of device profiles: bytes in, bytes out, no Bluetooth.

Every command and reply in a profile is a
template, so a simple new protocol needs YAML only. The same template both
encodes (the app building a command, a simulator building a notification) and
decodes (the app reading a notification, the simulator understanding a
command). There are two kinds:

* A **text template** is a YAML string: ASCII text whose placeholders are
  written as decimal numbers. ``"Vibrate:{level};"`` with level 10 is the bytes
  of ``Vibrate:10;``. Write ``{{`` and ``}}`` for literal braces.
* A **byte template** is a YAML list of strings. Each string holds hex bytes
  (two hex digits each, spaces between bytes optional, an ``0x`` prefix
  allowed) and placeholders, separated by spaces:
  ``["AA", "{sum:2..6}", "01 03", "{level:u16be}", "03"]``. An item may also be
  ``{text: "abc"}`` for ASCII bytes inside a byte template.

Placeholders (``{name}``, optionally ``{name->LO..HI}`` and, in byte templates,
``{name:TYPE}``):

=================  =====================================================
``{level}``        the raw level, ``0..max`` of the profile's ``levels``
``{on}``           in commands: 1 when the level is above 0, else 0
``{running}``      in replies: the motor runs (0 or 1)
``{battery}``      in replies: battery charge in percent, 0..100
``{force}``        in replies: applied force in whole newtons
``{force_cn}``     in replies: applied force in centinewtons (0.01 N)
``{sum:A..B}``     one byte: the sum of the bytes at positions A..B
                   (inclusive, counted from 0) modulo 256
``{any}``          in replies: one byte of any value (encodes as 00)
``{rest}``         in replies, last: any number of further bytes
=================  =====================================================

``TYPE`` is ``u8`` (the default), ``u16le`` or ``u16be``. ``->LO..HI`` maps the
field's own range linearly onto ``LO..HI`` on the wire, rounding to the
nearest whole number: ``{level->0..255}`` with levels ``[0, 15]`` sends level 7
as 119 (0x77), ``{on->0..3}`` sends 3 when running. Decoding maps back to the
nearest value; a wire value outside ``LO..HI`` (or, unmapped, outside the
field's range) means the bytes were not understood.

The profile-level functions that apply a profile's templates are in
:mod:`tproutine.devices.codec`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from tproutine.suggest import suggest

# --------------------------------------------------------------------------
# The template language
# --------------------------------------------------------------------------

NumberType = Literal["u8", "u16le", "u16be"]
_WIDTH: dict[str, int] = {"u8": 1, "u16le": 2, "u16be": 2}
_TYPE_MAX: dict[str, int] = {"u8": 0xFF, "u16le": 0xFFFF, "u16be": 0xFFFF}

#: Fields a command (set, keepalive) may carry.
COMMAND_FIELDS = ("level", "on")
#: Fields a reply (state, battery, firmware) may carry.
REPLY_FIELDS = ("running", "level", "battery", "force", "force_cn")

# The own range of each field with a fixed one; ``level`` comes from the
# profile, and forces have no upper bound (so they cannot be mapped).
FIXED_TOPS: dict[str, int | None] = {
    "on": 1,
    "running": 1,
    "battery": 100,
    "force": None,
    "force_cn": None,
}

# A text template's numbers: at most 9 digits, so a garbage notification can
# never ask int() for a huge conversion.
_DECIMAL = r"([0-9]{1,9})"
_HEX_TOKEN = re.compile(r"(?:0[xX])?([0-9A-Fa-f]+)")
_PLACEHOLDER = re.compile(
    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:->(?P<lo>[0-9]+)\.\.(?P<hi>[0-9]+))?"
    r"(?::(?P<tail>[A-Za-z0-9.]+))?"
)
_RANGE = re.compile(r"([0-9]+)\.\.([0-9]+)")


class TemplateError(ValueError):
    """A template is not valid; ``item`` is the index of the faulty list item, if any."""

    def __init__(self, message: str, item: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.item = item


@dataclass(frozen=True, slots=True)
class Bytes:
    """Literal bytes that must appear as written."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Field:
    """A number taken from (or given to) a named field.

    ``top`` is the field's own range ``0..top`` (None: unbounded); ``wire`` the
    ``LO..HI`` it is mapped onto, if any. ``kind`` is a byte layout, or ``dec``
    for decimal digits in a text template.
    """

    name: str
    kind: Literal["u8", "u16le", "u16be", "dec"]
    top: int | None
    wire: tuple[int, int] | None = None

    @property
    def width(self) -> int:
        return _WIDTH.get(self.kind, 0)

    def to_wire(self, value: int) -> int:
        """The number written for ``value``; ValueError when it is out of range."""
        if value < 0 or (self.top is not None and value > self.top):
            top = "" if self.top is None else f"..{self.top}"
            raise ValueError(f"{self.name}={value} is outside 0{top}")
        if self.wire is None or self.top is None:
            out = value
        else:
            lo, hi = self.wire
            # Round half up in integers: lo + value * (hi - lo) / top.
            out = lo + (2 * value * (hi - lo) + self.top) // (2 * self.top)
        if self.kind != "dec" and out > _TYPE_MAX[self.kind]:
            raise ValueError(f"{self.name}={value} does not fit {self.kind}")
        return out

    def from_wire(self, out: int) -> int | None:
        """The field value for a wire number, or None when it cannot be one."""
        if self.wire is None or self.top is None:
            if self.top is not None and out > self.top:
                return None
            return out
        lo, hi = self.wire
        if not lo <= out <= hi:
            return None
        return (2 * (out - lo) * self.top + (hi - lo)) // (2 * (hi - lo))


@dataclass(frozen=True, slots=True)
class Checksum:
    """One byte: the sum of the bytes at ``start..end`` (inclusive) modulo 256."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class AnyByte:
    """One byte of any value (replies only)."""


@dataclass(frozen=True, slots=True)
class Rest:
    """Any number of trailing bytes (replies only, always last)."""


Part = Bytes | Field | Checksum | AnyByte | Rest


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed command or reply template; see the module docstring for the syntax."""

    text: bool
    parts: tuple[Part, ...]
    source: str = field(compare=False)
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @property
    def fields(self) -> frozenset[str]:
        """The names of the fields this template carries."""
        return frozenset(p.name for p in self.parts if isinstance(p, Field))

    @property
    def length(self) -> int | None:
        """The exact length of a byte template, or None when it varies."""
        if self.text or any(isinstance(p, Rest) for p in self.parts):
            return None
        return sum(_part_width(p) for p in self.parts)

    def encode(self, values: Mapping[str, int]) -> bytes:
        """The bytes for ``values`` (one int per field; wildcards encode as zero bytes).

        Raises ValueError when a field is missing or out of its range.
        """
        missing = sorted(self.fields - values.keys())
        if missing:
            raise ValueError(f"the template {self.source} needs a value for {', '.join(missing)}")
        if self.text:
            out_text = "".join(
                str(p.to_wire(values[p.name])) if isinstance(p, Field) else _text_of(p)
                for p in self.parts
            )
            return out_text.encode("ascii")
        out = bytearray()
        sums: list[tuple[int, Checksum]] = []
        for p in self.parts:
            if isinstance(p, Bytes):
                out += p.data
            elif isinstance(p, Field):
                out += _pack(p.kind, p.to_wire(values[p.name]))
            elif isinstance(p, Checksum):
                sums.append((len(out), p))
                out.append(0)
            elif isinstance(p, AnyByte):
                out.append(0)
            # Rest encodes as nothing.
        for pos, s in sums:
            out[pos] = sum(out[s.start : s.end + 1]) & 0xFF
        return bytes(out)

    def decode(self, data: bytes) -> dict[str, int] | None:
        """The field values in ``data``, or None when the bytes do not fit this template.

        Never raises: wrong length, wrong literal bytes, a bad checksum, a value
        out of range or a field that repeats with two different values all give None.
        """
        if self.text:
            return self._decode_text(data)
        return self._decode_bytes(data)

    def _decode_text(self, data: bytes) -> dict[str, int] | None:
        if self._pattern is None:  # pragma: no cover - text templates always have one
            return None
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            return None
        m = self._pattern.fullmatch(text)
        if m is None:
            return None
        found: dict[str, int] = {}
        fields = [p for p in self.parts if isinstance(p, Field)]
        for f, raw in zip(fields, m.groups(), strict=True):
            if not _put(found, f, int(raw)):
                return None
        return found

    def _decode_bytes(self, data: bytes) -> dict[str, int] | None:
        fixed = sum(_part_width(p) for p in self.parts)
        has_rest = any(isinstance(p, Rest) for p in self.parts)
        if len(data) < fixed or (not has_rest and len(data) != fixed):
            return None
        found: dict[str, int] = {}
        pos = 0
        for p in self.parts:
            if isinstance(p, Bytes):
                if data[pos : pos + len(p.data)] != p.data:
                    return None
                pos += len(p.data)
            elif isinstance(p, Field):
                if not _put(found, p, _unpack(p.kind, data[pos : pos + p.width])):
                    return None
                pos += p.width
            elif isinstance(p, Checksum):
                if data[pos] != sum(data[p.start : p.end + 1]) & 0xFF:
                    return None
                pos += 1
            elif isinstance(p, AnyByte):
                pos += 1
            else:
                break
        return found


def _part_width(p: Part) -> int:
    if isinstance(p, Bytes):
        return len(p.data)
    if isinstance(p, Field):
        return p.width
    if isinstance(p, (Checksum, AnyByte)):
        return 1
    return 0


def _text_of(p: Part) -> str:
    return p.data.decode("ascii") if isinstance(p, Bytes) else ""


def _put(found: dict[str, int], f: Field, wire: int) -> bool:
    value = f.from_wire(wire)
    if value is None:
        return False
    # A field written twice (We-Vibe's two motors) must say the same both times.
    return found.setdefault(f.name, value) == value


def _pack(kind: str, value: int) -> bytes:
    if kind == "u8":
        return bytes([value])
    return value.to_bytes(2, "little" if kind == "u16le" else "big")


def _unpack(kind: str, data: bytes) -> int:
    if kind == "u8":
        return data[0]
    return int.from_bytes(data, "little" if kind == "u16le" else "big")


def _describe_spec(spec: object) -> str:
    if isinstance(spec, str):
        return repr(spec)
    if isinstance(spec, list):
        return "[" + ", ".join(_describe_spec(s) for s in spec) + "]"
    if isinstance(spec, dict) and set(spec) == {"text"}:
        return "{text: " + repr(spec["text"]) + "}"
    return str(spec)


def parse_template(
    spec: object,
    *,
    fields: Mapping[str, int | None],
    wildcards: bool = False,
) -> Template:
    """Parse a template as written in YAML (a string or a list).

    ``fields`` names the fields allowed here with their own range top (None
    for unbounded). ``wildcards`` allows ``{any}`` and ``{rest}`` (replies only).
    Raises :class:`TemplateError`.
    """
    if isinstance(spec, str):
        return _parse_text(spec, fields=fields, wildcards=wildcards)
    if isinstance(spec, list):
        return _parse_bytes(spec, fields=fields, wildcards=wildcards)
    raise TemplateError(
        'expected a template: text like "Vibrate:{level};" or a list of hex bytes '
        'and placeholders like ["AA", "{level}"]'
    )


def _placeholder(
    inner: str,
    *,
    text: bool,
    fields: Mapping[str, int | None],
    wildcards: bool,
) -> Part:
    """One ``{...}`` placeholder (``inner`` is what is between the braces)."""
    where_ok = (
        "here you can use " + ", ".join("{" + f + "}" for f in fields)
        if fields
        else "no fields can be used here"
    )
    if inner in ("any", "rest"):
        if not wildcards:
            raise TemplateError(
                f"{{{inner}}} only matches bytes in replies from the device; "
                "a command must spell out every byte"
            )
        if inner == "any":
            if text:
                raise TemplateError("{any} matches one byte in a byte template; in text use {rest}")
            return AnyByte()
        return Rest()
    m = _PLACEHOLDER.fullmatch(inner)
    if m is None:
        raise TemplateError(
            f"cannot read the placeholder {{{inner}}} "
            "(write {name}, {name:u16be}, {name->0..255} or {sum:2..6})"
        )
    name, lo, hi, tail = m.group("name"), m.group("lo"), m.group("hi"), m.group("tail")
    if name == "sum":
        if text:
            raise TemplateError("a checksum needs a byte template (a list), not text")
        r = _RANGE.fullmatch(tail or "")
        if r is None or lo is not None:
            raise TemplateError(
                f"write the checksum as {{sum:A..B}}, the byte positions it adds up "
                f"(counted from 0), not {{{inner}}}"
            )
        return Checksum(int(r.group(1)), int(r.group(2)))
    if name not in fields:
        hint = suggest(name, list(fields))
        did = f"did you mean {{{hint}}}? " if hint else ""
        raise TemplateError(f"unknown placeholder {{{name}}} ({did}{where_ok})")
    kind: Literal["u8", "u16le", "u16be", "dec"] = "dec" if text else "u8"
    if tail is not None:
        if text:
            raise TemplateError(
                f"in a text template numbers are written in decimal: write {{{name}}}, "
                f"not {{{inner}}} (use a byte template for binary numbers)"
            )
        if tail not in _WIDTH:
            raise TemplateError(f"unknown number type '{tail}' (use u8, u16le or u16be)")
        kind = tail  # type: ignore[assignment]
    top = fields[name]
    wire: tuple[int, int] | None = None
    if lo is not None and hi is not None:
        if top is None:
            raise TemplateError(
                f"{{{name}}} has no fixed range, so it cannot be mapped onto {lo}..{hi}"
            )
        wire = (int(lo), int(hi))
        if wire[0] >= wire[1]:
            raise TemplateError(f"in {{{inner}}} the range {lo}..{hi} must go from low to high")
        if wire[1] - wire[0] < top:
            raise TemplateError(
                f"in {{{inner}}} the range {lo}..{hi} has fewer steps than {name} (0..{top}), "
                "so values would not decode back"
            )
    if kind != "dec":
        biggest = wire[1] if wire is not None else top
        if biggest is not None and biggest > _TYPE_MAX[kind]:
            raise TemplateError(
                f"{{{inner}}}: values up to {biggest} do not fit {kind} "
                f"(0..{_TYPE_MAX[kind]}); use u16le or u16be"
            )
    return Field(name, kind, top, wire)


def _parse_text(spec: str, *, fields: Mapping[str, int | None], wildcards: bool) -> Template:
    if not spec:
        raise TemplateError("the template is empty (a command needs at least one byte)")
    if not spec.isascii():
        raise TemplateError("text templates are ASCII only (use a byte template for other bytes)")
    parts: list[Part] = []
    literal: list[str] = []
    i = 0

    def flush() -> None:
        if literal:
            parts.append(Bytes("".join(literal).encode("ascii")))
            literal.clear()

    while i < len(spec):
        c = spec[i]
        if c in "{}" and spec.startswith(c * 2, i):
            literal.append(c)
            i += 2
            continue
        if c == "}":
            raise TemplateError("a '}' without its '{' (write }} for a literal brace)")
        if c == "{":
            end = spec.find("}", i)
            if end < 0:
                raise TemplateError("a '{' without its '}' (write {{ for a literal brace)")
            flush()
            part = _placeholder(spec[i + 1 : end], text=True, fields=fields, wildcards=wildcards)
            if parts and not isinstance(parts[-1], Bytes):
                raise TemplateError(
                    "two placeholders need text between them, or the numbers cannot be read back"
                )
            parts.append(part)
            i = end + 1
            continue
        literal.append(c)
        i += 1
    flush()
    _check_rest_last(parts, None)
    regex = "".join(
        _DECIMAL
        if isinstance(p, Field)
        else "(?:.*)"
        if isinstance(p, Rest)
        else re.escape(_text_of(p))
        for p in parts
    )
    return Template(True, tuple(parts), repr(spec), re.compile(regex, re.DOTALL))


def _parse_bytes(
    spec: list[object], *, fields: Mapping[str, int | None], wildcards: bool
) -> Template:
    if not spec:
        raise TemplateError("the template is empty (a command needs at least one byte)")
    parts: list[Part] = []
    owner: list[int] = []  # which list item each part came from, for messages
    for index, item in enumerate(spec):
        if isinstance(item, dict) and set(item) == {"text"} and isinstance(item["text"], str):
            raw = item["text"]
            if not raw or not raw.isascii():
                raise TemplateError("{text: ...} needs non-empty ASCII text", index)
            parts.append(Bytes(raw.encode("ascii")))
            owner.append(index)
            continue
        if not isinstance(item, str):
            raise TemplateError(
                'each item is text in quotes: hex bytes like "0A 1B" or a placeholder like '
                f'"{{level}}" (got {_describe_spec(item)}; numbers must be quoted so that '
                "YAML does not read them as decimal)",
                index,
            )
        tokens = item.split()
        if not tokens:
            raise TemplateError("an empty item (write hex bytes or a placeholder)", index)
        for token in tokens:
            try:
                if token.startswith("{"):
                    if not token.endswith("}") or token.count("{") != 1 or token.count("}") != 1:
                        raise TemplateError(
                            f"cannot read {token!r}: write placeholders as {{name}} with a "
                            "space before and after"
                        )
                    parts.append(
                        _placeholder(token[1:-1], text=False, fields=fields, wildcards=wildcards)
                    )
                else:
                    parts.append(Bytes(_hex(token)))
            except TemplateError as exc:
                raise TemplateError(exc.message, index) from None
            owner.append(index)
    _check_rest_last(parts, owner)
    fixed = 0
    sum_at: list[tuple[int, Checksum, int]] = []
    for p, index in zip(parts, owner, strict=True):
        if isinstance(p, Checksum):
            sum_at.append((fixed, p, index))
        fixed += _part_width(p)
    positions = {pos for pos, _, _ in sum_at}
    for pos, s, index in sum_at:
        if s.start > s.end:
            raise TemplateError(
                f"{{sum:{s.start}..{s.end}}}: the range must go from low to high", index
            )
        if s.end >= fixed:
            raise TemplateError(
                f"{{sum:{s.start}..{s.end}}}: the message has only {fixed} fixed bytes "
                f"(positions 0..{fixed - 1})",
                index,
            )
        covered = {q for q in positions if s.start <= q <= s.end}
        if pos in covered:
            raise TemplateError(
                f"{{sum:{s.start}..{s.end}}} is at position {pos}, inside its own range", index
            )
        if covered:
            raise TemplateError(
                f"{{sum:{s.start}..{s.end}}} covers another checksum (at {min(covered)})", index
            )
    source = "[" + ", ".join(_describe_spec(s) for s in spec) + "]"
    return Template(False, tuple(_merge_bytes(parts)), source)


def _merge_bytes(parts: list[Part]) -> list[Part]:
    """Join neighbouring literal parts, so decoding compares one slice per run."""
    out: list[Part] = []
    for p in parts:
        if isinstance(p, Bytes) and out and isinstance(out[-1], Bytes):
            out[-1] = Bytes(out[-1].data + p.data)
        else:
            out.append(p)
    return out


def _check_rest_last(parts: list[Part], owner: list[int] | None) -> None:
    for i, p in enumerate(parts[:-1]):
        if isinstance(p, Rest):
            raise TemplateError("{rest} must be the last part", owner[i] if owner else None)


def _hex(token: str) -> bytes:
    m = _HEX_TOKEN.fullmatch(token)
    if m is None or len(m.group(1)) % 2:
        raise TemplateError(
            f"{token!r} is not hex bytes (two hex digits per byte, like 0A or FF; "
            "text goes in {text: ...} or a text template)"
        )
    return bytes.fromhex(m.group(1))

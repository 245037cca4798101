"""The pure codecs: golden vectors, round trips, percent mapping, garbage."""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tproutine.devices import codec, profile, template
from tproutine.devices.codec import (
    Clamp,
    Command,
    Reading,
    clamp_level,
    decode_battery_level,
    decode_command,
    decode_firmware,
    decode_notification,
    encode_battery_level,
    encode_battery_query,
    encode_battery_reply,
    encode_firmware_query,
    encode_firmware_reply,
    encode_init,
    encode_keepalive,
    encode_set,
    encode_state,
    encode_stop,
    level_to_percent,
    percent_to_level,
)
from tproutine.devices.profile import DeviceProfile, load_profile_set, parse_profile
from tproutine.devices.template import TemplateError, parse_template

SHIPPED = load_profile_set(user=False).profiles
IDS = sorted(SHIPPED)


def shipped(pid: str) -> DeviceProfile:
    return SHIPPED[pid]


def test_the_shipped_profiles_are_all_there() -> None:
    assert set(IDS) >= {
        *("magic-motion-v2", "magic-motion-v3", "magic-motion-v4", "kiiroo-prowand"),
        *(f"svakom-v{v}" for v in range(2, 7)),
        *("wevibe-8bit", "wevibe-8bit-22", "wevibe-8bit-27"),
        "tproutine-virtual",
        "theragun-gen4",
        "theragun-prime",
        "lovense",
        "magic-motion-v1",
        "wevibe",
        "svakom-v1",
        "foreo",
        "foreo-ufo",
    }


# --------------------------------------------------------------------------
# Golden vectors from device-profiles.md
# --------------------------------------------------------------------------


def test_lovense_golden_vectors() -> None:
    lovense = shipped("lovense")
    assert encode_set(lovense, 10) == b"Vibrate:10;"  # ASCII, level in decimal
    assert encode_set(lovense, 0) == b"Vibrate:0;"
    assert encode_stop(lovense) == b"Vibrate:0;"  # "Vibrate:0;" stops
    assert encode_battery_query(lovense) == b"Battery;"
    assert decode_notification(lovense, b"85;") == Reading(battery=85)


def test_theragun_golden_vector() -> None:
    gun = shipped("theragun-gen4")
    assert encode_set(gun, 2400) == bytes(
        [
            0xAA,  # start
            0x70,  # checksum: 0x01 + 0x03 + 0x09 + 0x60 + 0x03 = 0x70
            0x01,  # command: set speed
            0x03,
            0x09,  # RPM high byte: 2400 = 0x0960
            0x60,  # RPM low byte
            0x03,
        ]
    )
    assert encode_stop(gun) == bytes(
        [0xAA, 0x07, 0x01, 0x03, 0x00, 0x00, 0x03]  # 0 RPM; checksum 01+03+00+00+03
    )
    # The Prime differs only in its top speed.
    assert encode_set(shipped("theragun-prime"), 2400) == encode_set(gun, 2400)
    assert shipped("theragun-gen4").highest_level == 3616
    assert shipped("theragun-prime").highest_level == 3584


def test_theragun_firmware_query_and_reply() -> None:
    gun = shipped("theragun-gen4")
    assert encode_firmware_query(gun) == bytes([0xAA, 0x20, 0x20, 0x00])
    # Any reply with 0x20 at byte 2 is a version reply.
    assert decode_firmware(gun, bytes([0xBB, 0x12, 0x20, 0x01, 0x02])) == "BB 12 20 01 02"
    assert decode_firmware(gun, bytes([0xBB, 0x12, 0x21, 0x01])) is None  # not a version reply
    assert decode_firmware(gun, bytes([0xBB, 0x12])) is None  # too short
    assert encode_firmware_reply(gun) == bytes([0x00, 0x00, 0x20])
    assert decode_command(gun, bytes([0xAA, 0x20, 0x20, 0x00])) == Command("firmware_query")
    read = gun.reads.firmware
    assert not isinstance(read, str) and read is not None and read.write_response is False


def test_magic_motion_golden_vector() -> None:
    mm = shipped("magic-motion-v1")
    assert encode_set(mm, 50) == bytes(
        [
            *(0x0B, 0xFF, 0x04, 0x0A, 0x32, 0x32, 0x00, 0x04, 0x08),  # fixed header
            0x32,  # level 50
            *(0x64, 0x00),  # fixed tail
        ]
    )


def test_wevibe_golden_vectors() -> None:
    wv = shipped("wevibe")
    assert encode_set(wv, 7) == bytes(
        [
            0x0F,
            0x03,  # on
            0x00,
            0x77,  # external 7 | internal 7 << 4
            0x00,
            0x03,  # on
            0x00,
            0x00,
        ]
    )
    off = bytes([0x0F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00])
    assert encode_set(wv, 0) == off
    assert encode_stop(wv) == off
    assert encode_set(wv, 15) == bytes([0x0F, 0x03, 0x00, 0xFF, 0x00, 0x03, 0x00, 0x00])


def test_svakom_golden_vectors() -> None:
    sv = shipped("svakom-v1")
    assert encode_set(sv, 5) == bytes([0x55, 0x04, 0x03, 0x00, 0x01, 0x05])  # on, level 5
    assert encode_set(sv, 0) == bytes([0x55, 0x04, 0x03, 0x00, 0x00, 0x00])  # off, level 0
    assert encode_stop(sv) == bytes([0x55, 0x04, 0x03, 0x00, 0x00, 0x00])


def test_foreo_modes() -> None:
    # "01 MODE SS": mode 0 for the LUNA 3/4 and BEAR, 1 for the UFO, 3 for play smart 2.
    assert encode_set(shipped("foreo"), 7) == bytes([0x01, 0x00, 0x07])
    assert encode_set(shipped("foreo-ufo"), 7) == bytes([0x01, 0x01, 0x07])
    assert encode_set(shipped("foreo-play-smart-2"), 10) == bytes([0x01, 0x03, 0x0A])
    assert encode_stop(shipped("foreo")) == bytes([0x01, 0x00, 0x00])


def test_virtual_massager_layout() -> None:
    v = shipped("tproutine-virtual")
    assert encode_set(v, 10) == bytes(
        [
            0x54,  # "T"
            0x01,  # set
            0x01,  # running
            0x0A,  # level 10
            0x60,  # checksum: 0x54 + 0x01 + 0x01 + 0x0A = 0x60
        ]
    )
    assert encode_set(v, 0) == bytes([0x54, 0x01, 0x00, 0x00, 0x55])  # off: flag 0, level 0
    assert encode_stop(v) == bytes([0x54, 0x02, 0x00, 0x00, 0x56])  # stop; 54 + 02 = 56
    state = encode_state(v, Reading(running=True, level=10, battery=87, force_n=12.34))
    assert state == bytes(
        [
            0x54,  # "T"
            0x81,  # state notification
            0x01,  # running
            0x0A,  # level 10
            0x57,  # battery 87 %
            0xD2,  # force 1234 cN = 0x04D2, little-endian: low byte
            0x04,  # high byte
            0x0D,  # checksum: 54+81+01+0A+57+D2+04 = 0x20D -> 0x0D
        ]
    )
    assert decode_notification(v, state) == Reading(
        running=True, level=10, battery=87, force_n=12.34
    )
    assert v.reads.battery == "standard"
    assert v.reads.firmware == "standard"


# --------------------------------------------------------------------------
# Round trips for every shipped profile and every level
# --------------------------------------------------------------------------


@pytest.mark.parametrize("pid", IDS)
def test_every_level_round_trips(pid: str) -> None:
    profile = shipped(pid)
    seen: set[bytes] = set()
    for level in range(profile.safety.max_level + 1):
        data = encode_set(profile, level)
        cmd = decode_command(profile, data)
        assert cmd is not None, (pid, level, data.hex())
        assert cmd.level == level
        assert cmd.running is (level > 0)
        assert cmd.kind == "set" or (level == 0 and cmd.kind == "stop")
        seen.add(data)
    # Every level has its own bytes.
    assert len(seen) == profile.safety.max_level + 1


@pytest.mark.parametrize("pid", IDS)
def test_stop_decodes_as_stop(pid: str) -> None:
    profile = shipped(pid)
    assert decode_command(profile, encode_stop(profile)) == Command("stop", 0, False)


@pytest.mark.parametrize("pid", IDS)
def test_percent_and_level_are_inverse(pid: str) -> None:
    profile = shipped(pid)
    for level in range(profile.highest_level + 1):
        pct = level_to_percent(profile, level)
        assert 0 <= pct <= 100
        if level <= profile.safety.max_level:
            assert percent_to_level(profile, pct) == (level, ())


@pytest.mark.parametrize("pid", IDS)
@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=40))
def test_garbage_never_raises(pid: str, data: bytes) -> None:
    profile = shipped(pid)
    decode_command(profile, data)
    decode_notification(profile, data)
    decode_firmware(profile, data)


@settings(max_examples=300, deadline=None)
@given(
    running=st.booleans(),
    level=st.integers(0, 20),
    battery=st.integers(0, 100),
    centinewtons=st.integers(0, 0xFFFF),
)
def test_virtual_state_round_trips(
    running: bool, level: int, battery: int, centinewtons: int
) -> None:
    v = shipped("tproutine-virtual")
    reading = Reading(running, level, battery, centinewtons / 100)
    assert decode_notification(v, encode_state(v, reading)) == reading


@settings(max_examples=500, deadline=None)
@given(data=st.binary(min_size=8, max_size=8))
def test_virtual_accepts_only_canonical_state(data: bytes) -> None:
    # Anything the decoder accepts re-encodes to the same bytes: no field can
    # hide out of range and no checksum is skipped.
    v = shipped("tproutine-virtual")
    reading = decode_notification(v, data)
    if reading is not None:
        assert encode_state(v, reading) == data


@settings(max_examples=200, deadline=None)
@given(battery=st.integers(0, 100))
def test_lovense_battery_reply_round_trips(battery: int) -> None:
    lovense = shipped("lovense")
    assert decode_notification(lovense, encode_battery_reply(lovense, battery)) == Reading(
        battery=battery
    )


def _virtual_state(*body: int) -> bytes:
    return bytes([*body, sum(body) & 0xFF])


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00",
        b"\x54\x81\x01\x0a\x57\xd2\x04",  # one byte short
        b"\x54\x81\x01\x0a\x57\xd2\x04\x0d\x00",  # one byte too many
        b"\x54\x81\x01\x0a\x57\xd2\x04\x0e",  # bad checksum
        _virtual_state(0x54, 0x80, 0x01, 0x0A, 0x57, 0xD2, 0x04),  # not a state message
        _virtual_state(0x54, 0x81, 0x02, 0x0A, 0x57, 0xD2, 0x04),  # running is 0 or 1
        _virtual_state(0x54, 0x81, 0x01, 0x15, 0x57, 0xD2, 0x04),  # level 21 of 20
        _virtual_state(0x54, 0x81, 0x01, 0x0A, 0x65, 0xD2, 0x04),  # battery 101 %
        b"Vibrate:10;",
    ],
)
def test_virtual_garbage_is_none(data: bytes) -> None:
    assert decode_notification(shipped("tproutine-virtual"), data) is None


@pytest.mark.parametrize(
    "data",
    [
        *(b"", b"OK;", b";", b"85", b"s;", b"ss85;", b"s101;", b"101;", b"85;;"),
        *(b"\xff\xfe;", b"9" * 5000 + b";"),
    ],
)
def test_lovense_garbage_is_none(data: bytes) -> None:
    assert decode_notification(shipped("lovense"), data) is None


def test_profiles_without_notifications_read_nothing() -> None:
    assert decode_notification(shipped("svakom-v1"), b"\x55\x04") is None
    with pytest.raises(ValueError, match="no state notification"):
        encode_state(shipped("svakom-v1"), Reading(running=True))
    with pytest.raises(ValueError, match="no vendor battery reply"):
        encode_battery_reply(shipped("svakom-v1"), 50)
    with pytest.raises(ValueError, match="no vendor firmware reply"):
        encode_firmware_reply(shipped("svakom-v1"))
    assert encode_battery_query(shipped("svakom-v1")) is None
    assert encode_firmware_query(shipped("svakom-v1")) is None


def test_encode_state_needs_every_field() -> None:
    with pytest.raises(ValueError, match="needs a value for battery"):
        encode_state(shipped("tproutine-virtual"), Reading(running=True, level=3, force_n=0.0))


@pytest.mark.parametrize(
    ("pid", "data", "expected"),
    [
        ("lovense", b"Vibrate:7;", Command("set", 7, True)),
        ("lovense", b"Vibrate:21;", None),  # above the device's range
        ("lovense", b"Vibrate:-1;", None),
        ("lovense", b"Battery;", Command("battery_query")),
        ("lovense", b"Vibrate:7", None),
        # The virtual massager's running flag is honoured: level 5 with flag 0 is off.
        ("tproutine-virtual", bytes([0x54, 0x01, 0x00, 0x05, 0x5A]), Command("set", 5, False)),
        ("tproutine-virtual", bytes([0x54, 0x01, 0x01, 0x05, 0x00]), None),  # bad checksum
        # We-Vibe: the two on-flags must agree, and 0x03 maps back to on.
        ("wevibe", bytes([0x0F, 0x03, 0x00, 0x77, 0x00, 0x00, 0x00, 0x00]), None),
        (
            "wevibe",
            bytes([0x0F, 0x03, 0x00, 0x77, 0x00, 0x03, 0x00, 0x00]),
            Command("set", 7, True),
        ),
        (
            "theragun-gen4",
            bytes([0xAA, 0x70, 0x01, 0x03, 0x09, 0x60, 0x03]),
            Command("set", 2400, True),
        ),
        ("theragun-gen4", bytes([0xAA, 0x71, 0x01, 0x03, 0x09, 0x60, 0x03]), None),
        ("theragun-gen4", bytes([0xAA, 0x17, 0x01, 0x03, 0x0E, 0x21, 0x03]), None),  # 3617 RPM
        ("svakom-v1", bytes([0x55, 0x04, 0x03, 0x00, 0x01, 0x14]), None),  # level 20 of 19
    ],
)
def test_decode_command(pid: str, data: bytes, expected: Command | None) -> None:
    assert decode_command(shipped(pid), data) == expected


# --------------------------------------------------------------------------
# Percent, levels and caps
# --------------------------------------------------------------------------


def _capped(max_level: int) -> DeviceProfile:
    return parse_profile(
        f"""
format: tproutine-device/1
id: capped
name: Capped
kind: vibration
status: community
source: tests
match: {{names: ["C*"]}}
gatt: {{service: "FFE0", write: "FFE1"}}
levels: [0, 20]
commands: {{set: ["A0", "{{level}}"], stop: ["A0 00"]}}
safety: {{max_level: {max_level}, max_on: 60}}
""",
        "capped.yaml",
    )


@pytest.mark.parametrize(
    ("percent", "level"),
    [
        (0, 0),  # 0 % is off
        (0.0001, 1),  # anything above 0 % runs at least at level 1
        (1, 1),
        (2.5, 1),  # 0.5 rounds up
        (5, 1),
        (7.5, 2),  # 1.5 rounds up
        (50, 10),
        (52.5, 11),
        (99, 20),  # 19.8
        (100, 20),
    ],
)
def test_percent_to_level_is_linear_onto_one_to_max(percent: float, level: int) -> None:
    assert percent_to_level(shipped("tproutine-virtual"), percent) == (level, ())


def test_percent_to_level_in_rpm() -> None:
    gun = shipped("theragun-gen4")
    assert percent_to_level(gun, level_to_percent(gun, 2400)) == (2400, ())
    assert percent_to_level(gun, 50) == (1808, ())
    assert level_to_percent(gun, 3616) == 100


def test_person_cap_is_reported() -> None:
    v = shipped("tproutine-virtual")
    assert percent_to_level(v, 80, cap_percent=60) == (
        12,
        (Clamp("max_intensity", 80, 60, 16, 12),),
    )
    # Under the cap nothing is reported.
    assert percent_to_level(v, 40, cap_percent=60) == (8, ())
    assert percent_to_level(v, 40, cap_percent=0) == (0, (Clamp("max_intensity", 40, 0, 8, 0),))


def test_out_of_range_percent_is_reported() -> None:
    v = shipped("tproutine-virtual")
    assert percent_to_level(v, 150) == (20, (Clamp("range", 150, 100, 30, 20),))
    assert percent_to_level(v, -5) == (0, (Clamp("range", -5, 0, 0, 0),))


def test_profile_cap_is_reported_after_the_person_cap() -> None:
    capped = _capped(15)
    assert percent_to_level(capped, 100) == (15, (Clamp("max_level", 100, 75, 20, 15),))
    level, clamps = percent_to_level(capped, 130, cap_percent=90)
    assert level == 15
    assert [c.cap for c in clamps] == ["range", "max_intensity", "max_level"]
    assert [(c.asked, c.given) for c in clamps] == [(130, 100), (100, 90), (90, 75)]
    assert clamps[2].why == "the device profile's safety cap (level 15)"
    assert clamps[1].why == "your max intensity (90%)"


def test_the_safety_cap_is_the_last_gate() -> None:
    capped = _capped(15)
    assert encode_set(capped, 15) == bytes([0xA0, 0x0F])
    with pytest.raises(ValueError, match="safety cap"):
        encode_set(capped, 16)
    with pytest.raises(ValueError, match="outside"):
        encode_set(shipped("lovense"), -1)
    with pytest.raises(ValueError, match="outside"):
        level_to_percent(capped, 21)


def test_clamp_level_for_raw_levels() -> None:
    capped = _capped(15)
    assert clamp_level(capped, 3) == (3, ())
    assert clamp_level(capped, 18) == (15, (Clamp("max_level", 90, 75, 18, 15),))
    assert clamp_level(capped, 25) == (
        15,
        (Clamp("range", 125, 100, 25, 20), Clamp("max_level", 100, 75, 20, 15)),
    )
    assert clamp_level(capped, -2) == (0, (Clamp("range", -10, 0, -2, 0),))


def test_bad_percent_arguments() -> None:
    v = shipped("tproutine-virtual")
    with pytest.raises(ValueError):
        percent_to_level(v, math.nan)
    with pytest.raises(ValueError):
        percent_to_level(v, 50, cap_percent=120)


@settings(max_examples=300, deadline=None)
@given(percent=st.floats(-50, 250, allow_nan=False), cap=st.floats(0, 100))
def test_percent_mapping_never_exceeds_a_cap(percent: float, cap: float) -> None:
    capped = _capped(15)
    level, clamps = percent_to_level(capped, percent, cap_percent=cap)
    assert 0 <= level <= 15
    assert level <= max(percent_to_level(capped, cap)[0], 0)
    assert (level > 0) == (min(percent, cap) > 0)
    for c in clamps:
        assert c.given <= c.asked or c.cap == "range"


# --------------------------------------------------------------------------
# Init, keepalive, and the template language itself
# --------------------------------------------------------------------------

WITH_EXTRAS = """
format: tproutine-device/1
id: extras
name: Extras
kind: vibration
status: community
source: tests
match: {names: ["X*"]}
gatt: {service: "FFE0", write: "FFE1", notify: "FFE2"}
levels: [0, 10]
commands:
  set: ["C1", "{level:u16le}", "{level->0..25}"]
  stop: ["C0"]
  init: [["AA 01"], "HELLO;"]
  keepalive: {every: 2.5, send: ["CC", "{on}"]}
reads:
  state: ["{any}", "{force}", "{running->0..255}", "{rest}"]
safety: {max_on: 60}
"""


def test_init_and_keepalive() -> None:
    p = parse_profile(WITH_EXTRAS, "extras.yaml")
    assert encode_init(p) == (bytes([0xAA, 0x01]), b"HELLO;")
    assert encode_keepalive(p, 5) == bytes([0xCC, 0x01])
    assert encode_keepalive(p, 0) == bytes([0xCC, 0x00])
    assert p.commands.keepalive is not None and p.commands.keepalive.every == 2.5
    assert decode_command(p, b"HELLO;") == Command("init")
    assert decode_command(p, bytes([0xAA, 0x01])) == Command("init")
    # A keepalive with only an on-flag means "keep running at the top".
    assert decode_command(p, bytes([0xCC, 0x01])) == Command("keepalive", 10, True)
    # Without a keepalive there is nothing to resend; without its own template
    # the set command is resent.
    assert encode_keepalive(shipped("lovense"), 5) is None
    assert encode_init(shipped("lovense")) == ()


def test_u16le_and_mapped_fields() -> None:
    p = parse_profile(WITH_EXTRAS, "extras.yaml")
    # 10 as u16 little-endian (0A 00), then 10 mapped from 0..10 onto 0..25.
    assert encode_set(p, 10) == bytes([0xC1, 0x0A, 0x00, 0x19])
    assert encode_set(p, 1) == bytes([0xC1, 0x01, 0x00, 0x03])  # 2.5 rounds up to 3
    assert encode_set(p, 3) == bytes([0xC1, 0x03, 0x00, 0x08])  # 7.5 rounds up to 8
    for level in range(11):
        assert decode_command(p, encode_set(p, level)) == Command("set", level, level > 0)
    # The same field twice must agree: u16 says 3, the mapped byte says 1.
    assert decode_command(p, bytes([0xC1, 0x03, 0x00, 0x03])) is None
    # A mapped byte above its range is not understood.
    assert decode_command(p, bytes([0xC1, 0x0A, 0x00, 0x1A])) is None


def test_wildcards_in_replies() -> None:
    p = parse_profile(WITH_EXTRAS, "extras.yaml")
    # {any} {force} {running->0..255} {rest}
    assert decode_notification(p, bytes([0x99, 0x07, 0xFF, 0x01, 0x02])) == Reading(
        running=True, force_n=7.0
    )
    assert decode_notification(p, bytes([0x99, 0x07, 0x00])) == Reading(running=False, force_n=7.0)
    assert decode_notification(p, bytes([0x99, 0x07])) is None
    assert encode_state(p, Reading(running=True, force_n=7.4)) == bytes([0x00, 0x07, 0xFF])


def test_template_text_escapes_and_rest() -> None:
    t = parse_template("{{x}}={battery};{rest}", fields={"battery": 100}, wildcards=True)
    assert t.encode({"battery": 42}) == b"{x}=42;"
    assert t.decode(b"{x}=42; and more") == {"battery": 42}
    assert t.decode(b"{x}=42;") == {"battery": 42}
    assert t.decode(b"{x}=;") is None
    assert t.decode(b"{x}=42") is None
    assert t.length is None


def test_template_mixed_text_in_bytes() -> None:
    t = parse_template(["02", {"text": "GO"}, "{level}", "03"], fields={"level": 9})
    assert t.encode({"level": 9}) == b"\x02GO\x09\x03"
    assert t.length == 5
    assert t.decode(b"\x02GO\x0a\x03") is None  # 10 is above the level range
    assert parse_template(["0xAA 0x01 FF00"], fields={}).encode({}) == b"\xaa\x01\xff\x00"


@pytest.mark.parametrize(
    ("spec", "fields", "message", "item"),
    [
        ([], {}, "the template is empty", None),
        ("", {}, "the template is empty", None),
        (3, {}, "expected a template", None),
        (["AA", "ZZ"], {}, "'ZZ' is not hex bytes", 1),
        (["A"], {}, "'A' is not hex bytes", 0),
        (["AA", 3], {}, "each item is text in quotes", 1),
        (["AA {levle}"], {"level": 20}, "unknown placeholder {levle} (did you mean {level}?", 0),
        (["{level:u32}"], {"level": 20}, "unknown number type 'u32'", 0),
        (["{level}"], {"level": 3616}, "values up to 3616 do not fit u8", 0),
        (["{level->0..10}"], {"level": 20}, "has fewer steps than level", 0),
        (["{level->9..3}"], {"level": 2}, "must go from low to high", 0),
        (["{force_cn->0..9}"], {"force_cn": None}, "has no fixed range", 0),
        (["AA", "{sum:0..1}"], {}, "inside its own range", 1),
        (["AA", "{sum:0..5}"], {}, "only 2 fixed bytes", 1),
        (["AA", "{sum:1..0}"], {}, "from low to high", 1),
        (["AA", "{sum:0..0}", "{sum:0..1}"], {}, "covers another checksum", 2),
        (["AA", "{sum}"], {}, "write the checksum as {sum:A..B}", 1),
        (["AA", "{any}"], {}, "only matches bytes in replies", 1),
        (["AA {level}x"], {"level": 20}, "write placeholders as {name}", 0),
        (["{rest}", "AA"], {}, "only matches bytes in replies", 0),
        ("V:{level:u8};", {"level": 20}, "numbers are written in decimal", None),
        ("V:{sum:0..1};", {}, "a checksum needs a byte template", None),
        ("{level}{on}", {"level": 20, "on": 1}, "two placeholders need text between them", None),
        ("V:{level;", {"level": 20}, "a '{' without its '}'", None),
        ("V:level};", {"level": 20}, "a '}' without its '{'", None),
        ("Vibré:{level};", {"level": 20}, "ASCII only", None),
        ("V:{bad name}", {}, "cannot read the placeholder", None),
    ],
)
def test_template_errors(
    spec: object, fields: dict[str, int | None], message: str, item: int | None
) -> None:
    with pytest.raises(TemplateError) as exc:
        parse_template(spec, fields=fields)
    assert message in exc.value.message
    assert exc.value.item == item


def test_rest_must_be_last_in_replies() -> None:
    with pytest.raises(TemplateError, match="must be the last part") as exc:
        parse_template(["{rest}", "AA"], fields={}, wildcards=True)
    assert exc.value.item == 0


# --------------------------------------------------------------------------
# The standard Battery Level characteristic
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x55", 85),
        (b"\x00", 0),
        (b"\x64", 100),
        (b"\x65", None),
        (b"", None),
        (b"\x10\x00", None),
    ],
)
def test_battery_level(data: bytes, expected: int | None) -> None:
    assert decode_battery_level(data) == expected


def test_encode_battery_level() -> None:
    assert encode_battery_level(85) == b"\x55"
    with pytest.raises(ValueError):
        encode_battery_level(101)


@pytest.mark.parametrize("module", [codec, template])
def test_module_documents_every_public_function(module: ModuleType) -> None:
    for name in dir(module):
        obj = getattr(module, name)
        if (
            callable(obj)
            and not name.startswith("_")
            and getattr(obj, "__module__", "") == module.__name__
        ):
            assert obj.__doc__, name


def test_the_codec_layers_import_one_way() -> None:
    """template <- profile <- codec: no circle, not even one for type checking."""
    for module, forbidden in ((template, ("profile", "codec")), (profile, ("codec",))):
        text = Path(module.__file__ or "").read_text()
        for name in forbidden:
            assert f"from tproutine.devices.{name} import" not in text, (module.__name__, name)
            assert f"import tproutine.devices.{name}" not in text, (module.__name__, name)


# --------------------------------------------------------------------------
# Golden vectors of the profiles added from Buttplug's data-only protocols
# (shared/notes/device-protocols.md, section 3; the handlers named in each profile)
# --------------------------------------------------------------------------


def test_magic_motion_v2_v3_v4_golden_vectors() -> None:
    block = (0x04, 0x08)  # a motor block: 04 08 SS 64 II
    v2 = shipped("magic-motion-v2")
    assert encode_set(v2, 50) == bytes(
        [0x10, 0xFF, 0x04, 0x0A, 0x32, 0x0A, 0x00, *block, 0x32, 0x64, 0x00, *block, 0x32, 0x64,
         0x01]
    )  # fmt: skip
    assert encode_stop(v2) == bytes.fromhex("10ff040a320a000408006400040800 6401".replace(" ", ""))
    v3 = shipped("magic-motion-v3")
    assert v3.levels == (0, 77)
    assert encode_set(v3, 77) == bytes.fromhex("0bff040a46460004084d6400")  # 77 = 0x4D
    assert encode_stop(v3) == bytes.fromhex("0bff040a4646000408006400")
    v4 = shipped("magic-motion-v4")
    assert encode_set(v4, 100) == bytes(
        [0x10, 0xFF, 0x04, 0x0A, 0x32, 0x32, 0x00, *block, 0x64, 0x64, 0x00, *block, 0x64, 0x64,
         0x01]
    )  # fmt: skip
    # v1 and v3 are written without response, v4 with.
    assert [shipped(p).gatt[0].write_response for p in ("magic-motion-v2", "magic-motion-v4")] == [
        False,
        True,
    ]
    for mm in (v2, v3, v4):
        assert mm.reads.battery == "standard"
        assert mm.gatt[0].service == "78667579-7b48-43db-b8c5-7928a6b0a335"


@pytest.mark.parametrize(
    ("pid", "level5", "stop", "response"),
    [
        ("svakom-v2", "55 03 03 00 01 05", "55 03 03 00 00 00", True),
        ("svakom-v3", "55 03 03 00 01 05", "55 03 03 00 00 00", False),
        ("svakom-v4", "55 03 00 00 01 05 00", "55 03 00 00 00 00 00", False),
        ("svakom-v5", "55 03 00 00 01 05", "55 03 00 00 00 00", False),
        ("svakom-v6", "55 03 00 00 01 05 00", "55 03 00 00 00 00 00", False),
    ],
)
def test_svakom_v2_to_v6_golden_vectors(pid: str, level5: str, stop: str, response: bool) -> None:
    sv = shipped(pid)
    assert sv.levels == (0, 10)
    assert encode_set(sv, 5) == bytes.fromhex(level5)  # on flag 01, level 5
    assert encode_set(sv, 10) == bytes.fromhex(level5.replace("01 05", "01 0a"))
    assert encode_stop(sv) == bytes.fromhex(stop)
    assert sv.gatt[0].write_response is response


@pytest.mark.parametrize(
    ("pid", "top", "models"),
    [
        ("wevibe-8bit", 12, ["Moxie", "Vector", "Jive 2"]),
        ("wevibe-8bit-22", 22, ["Melt", "Melt 2", "Wand", "Wand 2"]),
        ("wevibe-8bit-27", 27, ["Bond", "Nelson", "Nova2", "Nova_2", "Nova 2"]),
    ],
)
def test_wevibe_8bit_golden_vectors(pid: str, top: int, models: list[str]) -> None:
    wv = shipped(pid)
    assert wv.levels == (0, top) and list(wv.match.names) == models
    # 0F 03 00 (L+3) (L+3) 03 00 00: both motors at L, "03" both on.
    assert encode_set(wv, 7) == bytes([0x0F, 0x03, 0x00, 0x0A, 0x0A, 0x03, 0x00, 0x00])
    assert encode_set(wv, 1) == bytes([0x0F, 0x03, 0x00, 0x04, 0x04, 0x03, 0x00, 0x00])
    assert encode_set(wv, top) == bytes([0x0F, 0x03, 0x00, top + 3, top + 3, 0x03, 0x00, 0x00])
    assert encode_stop(wv) == bytes([0x0F, 0, 0, 0, 0, 0, 0, 0])
    assert wv.gatt[0].write_response is True


def test_kiiroo_prowand_golden_vectors() -> None:
    wand = shipped("kiiroo-prowand")
    assert wand.levels == (0, 255)
    assert encode_set(wand, 128) == bytes([0x00, 0x00, 0x64, 0xFF, 0x80, 0x80])  # on, 128 twice
    assert encode_set(wand, 255) == bytes([0x00, 0x00, 0x64, 0xFF, 0xFF, 0xFF])
    assert encode_stop(wand) == bytes([0x00, 0x00, 0x64, 0x00, 0x00, 0x00])
    assert wand.gatt[0].service == "00001400-0000-1000-8000-00805f9b34fb"
    assert wand.gatt[0].write == "00001401-0000-1000-8000-00805f9b34fb"
    assert wand.gatt[0].write_response is False and wand.reads.battery == "standard"

"""Device profiles: the shipped files, validation messages, loading and matching."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tproutine import paths
from tproutine.devices.matching import match_advertisement
from tproutine.devices.profile import (
    BATTERY_SERVICE,
    DeviceProfile,
    Gatt,
    load_profile,
    load_profile_set,
    load_profiles,
    normalize_uuid,
    parse_profile,
    uuid_matches,
)
from tproutine.yamlsafe import LoadError

BUNDLED = paths.bundled_devices_dir()

# A valid profile; the error tests below change one line of it. Line numbers
# in the expected messages refer to this text.
BASE = """\
format: tproutine-device/1
id: test-device
name: Test device
kind: vibration
status: community
source: the tests
match:
  names: ["TEST-*"]
gatt:
  service: "FFE0"
  write: "FFE1"
  notify: "FFE2"
levels: [0, 20]
commands:
  set: ["A0", "{level}"]
  stop: ["A0 00"]
reads:
  battery: standard
  state: ["B0", "{running}", "{level}", "{sum:0..2}"]
safety:
  max_on: 600
"""


def _line(n: int, text: str, base: str = BASE) -> str:
    """``base`` with line ``n`` (1-based) replaced by ``text``."""
    lines = base.splitlines()
    lines[n - 1] = text
    return "\n".join(lines) + "\n"


def _errors(tmp_path: Path, text: str, name: str = "p.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LoadError) as exc:
        load_profile(path)
    out = [str(p) for p in exc.value.problems]
    assert out, "a LoadError always lists at least one problem"
    for line in out:
        assert "\n" not in line
        assert line.startswith(f"{path}:")
    return [line.removeprefix(f"{path}:") for line in out]


# --------------------------------------------------------------------------
# The shipped profiles
# --------------------------------------------------------------------------


def test_every_shipped_file_loads() -> None:
    found = load_profile_set(user=False)
    assert found.errors == ()
    files = sorted(p.stem for p in BUNDLED.glob("*.yaml"))
    assert files == sorted(found.profiles)  # one profile per file, named by its id
    for pid, profile in found.profiles.items():
        assert Path(profile.file).stem == pid
        assert profile.file == str(BUNDLED / f"{pid}.yaml")


@pytest.mark.parametrize("path", sorted(BUNDLED.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_sources_are_cited(path: Path) -> None:
    profile = load_profile(path)
    if profile.id == "tproutine-virtual":
        assert profile.status == "reference"
        return
    assert profile.status == "community"
    assert "Buttplug" in profile.source or "STPIHKAL" in profile.source
    if "device configuration" in profile.source:
        assert "BSD-3-Clause" in profile.source
    if "STPIHKAL" in profile.source:
        assert "CC BY-NC-SA 4.0" in profile.source


def _u(short: str) -> str:
    return f"0000{short.lower()}-0000-1000-8000-00805f9b34fb"


def test_virtual_massager_profile() -> None:
    v = load_profile(BUNDLED / "tproutine-virtual.yaml")
    assert v.gatt == (
        Gatt(
            service="7470726f-7574-696e-6500-000000000001",
            write="7470726f-7574-696e-6500-000000000002",
            notify="7470726f-7574-696e-6500-000000000003",
            write_response=True,
        ),
    )
    assert v.levels == (0, 20)
    assert v.safety.max_level == 20 and v.safety.max_on == 600
    assert v.commands.keepalive is None and v.commands.init == ()
    assert v.reads.state is not None
    assert v.reads.state.fields == {"running", "level", "battery", "force_cn"}


@pytest.mark.parametrize(
    ("pid", "service", "write", "notify", "response"),
    [
        ("theragun-gen4", _u("FFE0"), _u("FFE2"), _u("FFE1"), True),
        ("theragun-prime", _u("FFE0"), _u("FFE2"), _u("FFE1"), True),
        (
            "magic-motion-v1",
            "78667579-7b48-43db-b8c5-7928a6b0a335",
            "78667579-a914-49a4-8333-aa3c0cd8fedc",
            None,
            False,
        ),
        (
            # f000b000 is a read-only information record: nothing to listen to.
            "wevibe",
            "f000bb03-0451-4000-b000-000000000000",
            "f000c000-0451-4000-b000-000000000000",
            None,
            True,
        ),
        ("svakom-v1", _u("FFE0"), _u("FFE1"), None, False),
        ("foreo", _u("FFF0"), _u("FFF1"), None, True),
        ("foreo-ufo", _u("FFF0"), _u("FFF1"), None, True),
    ],
)
def test_shipped_gatt_facts(
    pid: str, service: str, write: str, notify: str | None, response: bool
) -> None:
    profile = load_profile(BUNDLED / f"{pid}.yaml")
    assert profile.gatt == (Gatt(service, write, notify, response),)


def test_lovense_has_four_gatt_layouts() -> None:
    lovense = load_profile(BUNDLED / "lovense.yaml")
    assert [g.service for g in lovense.gatt] == [
        _u("FFF0"),
        "6e400001-b5a3-f393-e0a9-e50e24dcca9e",
        "????0001-002?-4bd4-bbd5-a6920e4c5653",
        "????0011-002?-4bd4-bbd5-a6920e4c5653",
    ]
    # The fourth: the Edge's service, 50300011-0023-... ("P0" in ASCII).
    assert lovense.gatt_for(["50300011-0023-4bd4-bbd5-a6920e4c5653"]) == Gatt(
        "50300011-0023-4bd4-bbd5-a6920e4c5653",
        "50300012-0023-4bd4-bbd5-a6920e4c5653",
        "50300013-0023-4bd4-bbd5-a6920e4c5653",
        False,
    )
    assert lovense.gatt[0].write == _u("FFF2") and lovense.gatt[0].notify == _u("FFF1")
    assert lovense.gatt[1].write == "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
    assert lovense.gatt[1].notify == "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
    # The model-specific layout takes the digits of the service found.
    found = lovense.gatt_for([BATTERY_SERVICE, "4C410001-0023-4BD4-BBD5-A6920E4C5653"])
    assert found == Gatt(
        "4c410001-0023-4bd4-bbd5-a6920e4c5653",
        "4c410002-0023-4bd4-bbd5-a6920e4c5653",
        "4c410003-0023-4bd4-bbd5-a6920e4c5653",
        False,
    )
    # The first layout the device has wins, in the profile's order.
    assert lovense.gatt_for(["6e400001-b5a3-f393-e0a9-e50e24dcca9e", "fff0"]) == lovense.gatt[0]
    assert lovense.gatt_for([BATTERY_SERVICE, "not a uuid"]) is None


# --------------------------------------------------------------------------
# Matching advertisements
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> dict[str, DeviceProfile]:
    return load_profile_set(user=False).profiles


@pytest.mark.parametrize(
    ("name", "services", "companies", "expected"),
    [
        ("LVS-Lush3", [], [], "lovense"),
        ("LOVE-Hush", [_u("FFF0")], [], "lovense"),
        ("Emma NEO", [_u("FFE0")], [], "svakom-v1"),
        ("Pro", [_u("FFE0")], [], "theragun-gen4"),
        ("Elite", [], [], "theragun-gen4"),
        ("Prime", [], [], "theragun-prime"),
        ("Smart Mini Vibe3", [], [], "magic-motion-v1"),
        ("Nova", [], [], "wevibe"),
        ("LUNA 4 plus", [], [], "foreo"),
        ("UFO mini 2", [], [], "foreo-ufo"),
        ("LUNA play smart 2", [], [], "foreo-play-smart-2"),
        ("tproutine-virtual", [], [], "tproutine-virtual"),
        # Its service in any spelling; the name is required as well.
        ("tproutine-1", ["7470726F-7574-696E-6500-000000000001"], [], "tproutine-virtual"),
        (None, ["7470726F-7574-696E-6500-000000000001"], [], None),
        ("Massager", ["7470726f74756e696500000000000001"], [], None),
        # FFE0 is on countless gadgets: no profile matches on it alone.
        ("HMSoft", [_u("FFE0")], [], None),
        # A "Pro" that advertises another vendor's service is somebody else's.
        ("Pro", [_u("FEAA")], [], None),
        ("Pro", ["6e400001-b5a3-f393-e0a9-e50e24dcca9e"], [], None),
        # Standard services say nothing about the maker.
        ("Pro", [_u("180F"), _u("180A")], [], "theragun-gen4"),
        # Lovense's machines and strokers are known, and are no massagers.
        ("LVS-F012", [], [], None),
        ("LVS-Z001", ["5a300001-0024-4bd4-bbd5-a6920e4c5653"], [], "lovense"),
        ("LVS-Edge", ["50300011-0023-4bd4-bbd5-a6920e4c5653"], [], "lovense"),
        ("pro", [], [], None),  # names match case-sensitively
        (None, [], [], None),
        ("LVS-x", ["garbage", ""], [0xFFFF], "lovense"),  # unreadable UUIDs are ignored
    ],
)
def test_match_advertisement(
    shipped: dict[str, DeviceProfile],
    name: str | None,
    services: list[str],
    companies: list[int],
    expected: str | None,
) -> None:
    found = match_advertisement(shipped, name, services, companies)
    assert (found.id if found else None) == expected


def test_match_prefers_stronger_evidence() -> None:
    by_company = parse_profile(
        _line(8, "  company_id: 0x026C", _line(2, "id: by-company")), "c.yaml"
    )
    assert by_company.match.company_id == 620
    by_service = parse_profile(
        _line(8, '  services: ["FFE0"]', _line(2, "id: by-service")), "s.yaml"
    )
    by_name = parse_profile(_line(2, "id: by-name"), "n.yaml")
    verified = parse_profile(_line(5, "status: verified", _line(2, "id: z-verified")), "v.yaml")
    everything = [by_company, by_service, by_name]
    assert match_advertisement(everything, "TEST-1", [_u("FFE0")], [620]) is by_name
    assert match_advertisement(everything, "other", ["ffe0"], [620]) is by_service
    assert match_advertisement(everything, "other", [], [620]) is by_company
    assert match_advertisement(everything, "other", [], [621]) is None
    # Equal evidence: the better-checked profile wins, then the id.
    assert match_advertisement([by_name, verified], "TEST-2", [], []) is verified
    assert match_advertisement({"b": by_name}, "TEST-2", [], []) is by_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FFE0", "0000ffe0-0000-1000-8000-00805f9b34fb"),
        ("0xffe0", "0000ffe0-0000-1000-8000-00805f9b34fb"),
        ("0000FFE0", "0000ffe0-0000-1000-8000-00805f9b34fb"),
        (" 6E400001-B5A3-F393-E0A9-E50E24DCCA9E ", "6e400001-b5a3-f393-e0a9-e50e24dcca9e"),
        ("6e400001b5a3f393e0a9e50e24dcca9e", "6e400001-b5a3-f393-e0a9-e50e24dcca9e"),
    ],
)
def test_normalize_uuid(text: str, expected: str) -> None:
    assert normalize_uuid(text) == expected


@pytest.mark.parametrize("text", ["", "FFE", "FFG0", "????0001-0023-4bd4-bbd5-a6920e4c5653"])
def test_normalize_uuid_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="is not a UUID"):
        normalize_uuid(text)


def test_uuid_patterns() -> None:
    pattern = normalize_uuid("????0001-002?-4bd4-bbd5-a6920e4c5653", wildcards=True)
    assert uuid_matches(pattern, "5a300001-0024-4bd4-bbd5-a6920e4c5653")
    assert not uuid_matches(pattern, "5a300002-0024-4bd4-bbd5-a6920e4c5653")
    assert not uuid_matches(pattern, "5a300001-0024-4bd4-bbd5-a6920e4c565")


# --------------------------------------------------------------------------
# Clean one-line errors with file:line:col
# --------------------------------------------------------------------------


def test_the_base_is_valid() -> None:
    profile = parse_profile(BASE, "base.yaml")
    assert profile.id == "test-device" and profile.file == "base.yaml"
    assert profile.safety.max_level == 20  # defaults to the top of the levels


def test_unknown_key_with_suggestion(tmp_path: Path) -> None:
    assert _errors(tmp_path, _line(11, '  wirte: "FFE1"')) == [
        "10:3: gatt.write: 'write' is required (the characteristic that takes commands)",
        "11:3: gatt.wirte: unknown key 'wirte' (did you mean 'write'? known keys: service, "
        "write, notify, write_response; x- keys are ignored)",
    ]


def test_unknown_top_level_key(tmp_path: Path) -> None:
    assert _errors(tmp_path, BASE + "saftey: {max_on: 5}\nx-notes: ignored\n") == [
        "22:1: saftey: unknown key 'saftey' (did you mean 'safety'? known keys: format, id, "
        "name, kind, status, source, match, gatt, levels, commands, reads, safety, models, "
        "replaces; "
        "x- keys are ignored)"
    ]


@pytest.mark.parametrize(
    ("line", "text", "expected"),
    [
        (3, "name: 3", "3:7: name: expected text, got the number 3 (put it in quotes)"),
        (
            4,
            "kind: percusion",
            "4:7: kind: 'percusion' is not accepted (did you mean 'percussion'? "
            "use one of: percussion, vibration)",
        ),
        (
            2,
            "id: Test_Device",
            "2:5: id: 'Test_Device' is not accepted (use lowercase letters, digits and dashes; "
            "at most 64)",
        ),
        (
            1,
            "format: tproutine-device/2",
            "1:9: format: unknown format 'tproutine-device/2' (this version reads "
            "tproutine-device/1)",
        ),
        (
            13,
            "levels: zero to twenty",
            "13:9: levels: expected two whole numbers, 0 (off) and the highest level, "
            "like [0, 20], got the text 'zero to twenty'",
        ),
        (
            13,
            "levels: [20, 0]",
            "13:9: levels: expected two whole numbers, 0 (off) and the highest level, "
            "like [0, 20], got [20, 0] (the first must be 0, the second above it)",
        ),
        (
            13,
            "levels: [0, 2.5]",
            "13:9: levels: expected two whole numbers, 0 (off) and the highest level, "
            "like [0, 20], got [the number 0, the number 2.5]",
        ),
        (
            12,
            '  notify: "FFE2"\n  write_response: sometimes',
            "13:19: gatt.write_response: expected true or false, got the text 'sometimes'",
        ),
        (
            10,
            '  service: "FFG0"',
            "10:12: gatt.service: 'FFG0' is not a UUID (write 4 hex digits like FFE0, or the "
            "full form like 6e400001-b5a3-f393-e0a9-e50e24dcca9e; ? stands for any one hex digit)",
        ),
        (
            11,
            "  write: 2019",
            '11:10: gatt.write: expected a UUID in quotes like "FFE0", got the number 2019 '
            "(YAML reads unquoted digits as a number)",
        ),
        (
            11,
            '  write: "????0002-0023-4bd4-bbd5-a6920e4c5653"',
            "11:10: gatt.write: a '?' here must stand where the service has one too "
            "(it takes the digit of the service found)",
        ),
        (
            15,
            '  set: ["A0", "{levle}"]',
            "15:15: commands.set[1]: unknown placeholder {levle} (did you mean {level}? "
            "here you can use {level}, {on})",
        ),
        (
            15,
            '  set: ["A0", "{level:u8}", "Z1"]',
            "15:29: commands.set[2]: 'Z1' is not hex bytes (two hex digits per byte, like 0A or "
            "FF; text goes in {text: ...} or a text template)",
        ),
        (
            15,
            '  set: ["A0", 10, "{level}"]',
            '15:15: commands.set[1]: each item is text in quotes: hex bytes like "0A 1B" or a '
            'placeholder like "{level}" (got 10; numbers must be quoted so that YAML does not '
            "read them as decimal)",
        ),
        (
            15,
            '  set: ["A0 01"]',
            "15:8: commands.set: the set command must carry {level} (or {on} when the levels "
            "are [0, 1])",
        ),
        (
            16,
            '  stop: ["A0", "{level}"]',
            "16:16: commands.stop[1]: unknown placeholder {level} (no fields can be used here)",
        ),
        (
            19,
            '  state: ["B0", "{running}", "{level}", "{sum:0..3}"]',
            "19:41: reads.state[3]: {sum:0..3} is at position 3, inside its own range",
        ),
        (
            18,
            "  battery: {query: Battery;, reply: Vibrate;}",
            "18:37: reads.battery.reply: the reply must carry {battery}",
        ),
        (
            18,
            "  battery: yes",
            "18:12: reads.battery: expected 'standard' or a mapping with query and reply, "
            "got true/false",
        ),
        (
            21,
            "  max_on: 0",
            "21:11: safety.max_on: 0 is not above 0 (the longest continuous run)",
        ),
        (
            21,
            "  max_on: 60\n  max_level: 21",
            "22:14: safety.max_level: 21 is outside 1..20 (a level within levels)",
        ),
        (
            8,
            "  names: []",
            "8:3: match: give at least one of names, services or company_id",
        ),
        (
            3,
            'name: !!python/object/apply:os.system ["echo hi"]',
            "3:7: name: the tag !!python/object/apply:os.system is not allowed (use plain YAML: "
            "text, numbers, true/false, lists and mappings)",
        ),
        (
            13,
            "levels: [0, 20",
            "14:9: YAML syntax error: expected ',' or ']', but got ':' (while parsing a flow "
            "sequence)",
        ),
        (
            3,
            "name: Test\nname: Again",
            "4:1: name: this key appears twice in the same mapping (keep one)",
        ),
    ],
)
def test_one_line_errors(tmp_path: Path, line: int, text: str, expected: str) -> None:
    assert _errors(tmp_path, _line(line, text)) == [expected]


def test_a_reply_while_running(tmp_path: Path) -> None:
    both = '  battery: {query: "B;", reply: "{battery};", reply_while_running: "s{battery};"}'
    text = _line(18, both)
    read = parse_profile(text, "p.yaml").reads.battery
    assert not isinstance(read, str) and read is not None
    assert [r.source for r in read.replies] == ["'{battery};'", "'s{battery};'"]
    wrong = _line(18, '  battery: {query: "B;", reply: "{battery};", reply_while_running: "s;"}')
    assert _errors(tmp_path, wrong) == [
        "18:68: reads.battery.reply_while_running: the reply must carry {battery}"
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # The set command at the top level, given as the stop.
        (
            {16: '  stop: ["A0 14"]'},
            "16:9: commands.stop: these bytes read as the set command at level 20: a stop must "
            "turn the motor off (use the device's own off command, or the set command at level 0)",
        ),
        # An on/off device whose "stop" switches it on.
        (
            {13: "levels: [0, 1]", 15: '  set: ["A0", "{on}"]', 16: '  stop: ["A0 01"]'},
            "16:9: commands.stop: these bytes read as the set command at running: a stop must "
            "turn the motor off (use the device's own off command, or the set command at level 0)",
        ),
        # Bytes that look like the device's own "running at level 5" state.
        (
            {16: '  stop: ["B0 01 05 B6"]'},
            "16:9: commands.stop: these bytes read as a state notification at level 5: a stop "
            "must turn the motor off (use the device's own off command, or the set command at "
            "level 0)",
        ),
        (
            {21: "  max_on: 1801"},
            "21:11: safety.max_on: 1801 seconds is above the ceiling of 1800 (30 minutes): the "
            "app stops a motor that has run this long without a break",
        ),
        (
            {21: "  max_on: 86400"},
            "21:11: safety.max_on: 86400 seconds is above the ceiling of 1800 (30 minutes): the "
            "app stops a motor that has run this long without a break",
        ),
    ],
)
def test_a_profile_cannot_lie(tmp_path: Path, changes: dict[int, str], expected: str) -> None:
    text = BASE
    for line, new in changes.items():
        text = _line(line, new, text)
    assert _errors(tmp_path, text) == [expected]


def test_a_stop_that_is_the_set_command_at_level_0_is_fine() -> None:
    assert parse_profile(_line(16, '  stop: ["A0 00"]'), "p.yaml").commands.stop is not None
    assert parse_profile(_line(21, "  max_on: 1800"), "p.yaml").safety.max_on == 1800


def test_replies_need_a_notify_characteristic(tmp_path: Path) -> None:
    assert _errors(tmp_path, _line(12, "")) == [
        "10:3: gatt: reads.state arrives as notifications, so the gatt block needs 'notify' "
        "(the characteristic the device notifies on)"
    ]


def test_missing_keys(tmp_path: Path) -> None:
    text = "\n".join(line for line in BASE.splitlines() if not line.startswith("levels"))
    assert _errors(tmp_path, text + "\n") == [
        "1:1: levels: 'levels' is required (the raw range, like [0, 20])"
    ]


def test_every_mistake_is_listed_in_file_order(tmp_path: Path) -> None:
    text = _line(21, "  max_on: -1", _line(4, "kind: gun", _line(16, "  stop: 7")))
    assert [e.split(":")[0] for e in _errors(tmp_path, text)] == ["4", "16", "21"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "",
            "1:1: the file is empty (expected a device profile: a mapping with format, id, "
            "name, kind, status, source, match, gatt, levels, commands and safety)",
        ),
        (
            "# only a comment\n",
            "1:1: the file is empty (expected a device profile: a mapping with format, id, "
            "name, kind, status, source, match, gatt, levels, commands and safety)",
        ),
        (
            "- format: tproutine-device/1\n",
            "1:1: the file holds a list; expected a device profile: a mapping with format, "
            "id, name, kind, status, source, match, gatt, levels, commands and safety",
        ),
        (
            "just text\n",
            "1:1: the file holds a single value; expected a device profile: a mapping with "
            "format, id, name, kind, status, source, match, gatt, levels, commands and safety",
        ),
    ],
)
def test_not_a_profile_at_all(tmp_path: Path, text: str, expected: str) -> None:
    assert _errors(tmp_path, text) == [expected]


def test_unreadable_and_huge_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(LoadError) as exc:
        load_profile(missing)
    assert str(exc.value) == f"{missing}:1:1: cannot read the file (No such file or directory)"
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (1024 * 1024 + 10))
    with pytest.raises(LoadError, match="the limit is 1,048,576 bytes"):
        load_profile(big)


def _mutations() -> st.SearchStrategy[Any]:
    junk = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True),
        st.text(max_size=12),
        st.sampled_from(["{level}", "{sum:0..9}", "{rest}", "????", "FFE0", "standard", "{"]),
        st.lists(st.sampled_from(["AA", "{level}", "{any}", "{sum:0..1}", "0x", "{on->0..1}"])),
        st.dictionaries(st.sampled_from(["query", "reply", "every", "send", "text"]), st.text()),
    )
    return junk


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


BASE_DATA = yaml.safe_load(BASE)
BASE_PATHS = [p for p in _paths(BASE_DATA) if p]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(BASE_PATHS), junk=_mutations())
def test_malformed_profiles_raise_only_load_error(where: tuple[Any, ...], junk: Any) -> None:
    data = yaml.safe_load(BASE)
    node = data
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = junk
    text = yaml.safe_dump(data)
    try:
        profile = parse_profile(text, "fuzz.yaml")
    except LoadError as exc:
        assert exc.problems
        assert all(str(p).startswith("fuzz.yaml:") for p in exc.problems)
    else:
        assert isinstance(profile, DeviceProfile)


# --------------------------------------------------------------------------
# Loading folders: the person's own profiles
# --------------------------------------------------------------------------


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    folder = paths.user_devices_dir()
    assert folder == tmp_path / "config" / "tproutine" / "devices"
    folder.mkdir(parents=True)
    return folder


def test_user_profile_replaces_the_bundled_one_when_it_says_so(user_dir: Path) -> None:
    own = (BUNDLED / "lovense.yaml").read_text(encoding="utf-8")
    own = own.replace("levels: [0, 20]", "levels: [0, 10]").replace("name: Lovense", "name: Mine")
    own = own.replace("status: community", "status: verified\nreplaces: lovense")
    (user_dir / "my-lovense.yaml").write_text(own, encoding="utf-8")
    profiles = load_profiles()
    assert profiles["lovense"].name == "Mine"
    assert profiles["lovense"].levels == (0, 10)
    assert profiles["lovense"].file == str(user_dir / "my-lovense.yaml")
    # It claims "verified"; it is shown as the person's own, and never ranks above others.
    assert profiles["lovense"].own and profiles["lovense"].shown_status == "yours"
    assert not profiles["wevibe"].own and profiles["wevibe"].shown_status == "community"
    assert "wevibe" in profiles  # the other bundled profiles stay


def test_reusing_a_bundled_id_without_replaces_is_refused(user_dir: Path) -> None:
    own = (BUNDLED / "lovense.yaml").read_text(encoding="utf-8").replace("name: Lovense", "name: X")
    (user_dir / "my-lovense.yaml").write_text(own, encoding="utf-8")
    found = load_profile_set()
    line = own.splitlines().index("id: lovense") + 1
    assert [str(p) for p in found.problems] == [
        f"{user_dir / 'my-lovense.yaml'}:{line}:5: id: 'lovense' is a bundled profile's id: to "
        "use yours instead, add 'replaces: lovense'; or give yours another id"
    ]
    assert found.profiles["lovense"].name == "Lovense" and not found.profiles["lovense"].own


def test_replaces_with_an_id_of_its_own(user_dir: Path) -> None:
    (user_dir / "m.yaml").write_text(
        _line(2, "id: my-gun\nreplaces: theragun-gen4"), encoding="utf-8"
    )
    profiles = load_profiles()
    assert "theragun-gen4" not in profiles and profiles["my-gun"].replaces == "theragun-gen4"
    (user_dir / "m.yaml").write_text(_line(2, "id: my-gun\nreplaces: nope"), encoding="utf-8")
    problems = [str(p) for p in load_profile_set().problems]
    assert (
        len(problems) == 1
        and ":3:11: replaces: there is no bundled profile 'nope'" in (problems[0])
    )


def test_only_ones_own_profiles_replace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    (bundled / "t.yaml").write_text(_line(2, "id: t\nreplaces: t"), encoding="utf-8")
    monkeypatch.setattr(paths, "bundled_devices_dir", lambda: bundled)
    found = load_profile_set(user=False)
    assert [str(p).split(":", 1)[1] for p in found.problems] == [
        "3:11: replaces: only a profile of your own replaces a bundled one"
    ]


def test_a_broken_user_profile_is_reported_and_the_rest_load(
    user_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (user_dir / "broken.yaml").write_text(_line(4, "kind: gun"), encoding="utf-8")
    (user_dir / "mine.yml").write_text(_line(2, "id: mine"), encoding="utf-8")
    (user_dir / "notes.txt").write_text("not a profile", encoding="utf-8")
    found = load_profile_set()
    assert [str(p) for p in found.problems] == [
        f"{user_dir / 'broken.yaml'}:4:7: kind: 'gun' is not accepted (use one of: "
        "percussion, vibration)"
    ]
    assert "mine" in found.profiles and "tproutine-virtual" in found.profiles
    assert "test-device" not in found.profiles
    with caplog.at_level(logging.WARNING, logger="tproutine.devices.profile"):
        profiles = load_profiles()
    assert "mine" in profiles
    assert "broken.yaml:4:7: kind:" in caplog.text


def test_same_id_twice_in_one_folder(user_dir: Path) -> None:
    (user_dir / "a.yaml").write_text(BASE, encoding="utf-8")
    (user_dir / "b.yaml").write_text(_line(3, "name: Second"), encoding="utf-8")
    found = load_profile_set()
    assert found.profiles["test-device"].name == "Test device"  # the first file by name
    assert [str(p) for p in found.problems] == [
        f"{user_dir / 'b.yaml'}:2:5: id: the id 'test-device' is already used by a.yaml in "
        "the same folder (ids must be unique)"
    ]


def test_extra_dirs_come_last(user_dir: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (user_dir / "t.yaml").write_text(_line(3, "name: From the user"), encoding="utf-8")
    (extra / "t.yaml").write_text(_line(3, "name: From extra"), encoding="utf-8")
    assert load_profiles([extra])["test-device"].name == "From extra"
    assert load_profile_set([tmp_path / "absent"]).errors == ()
    assert "test-device" not in load_profile_set(user=False).profiles

"""Recognising devices: names and services together, common words, devices that are no massagers.

The rules are in ``tproutine.devices.matching``; the scan and the controller's
``--device auto`` are checked on the virtual radio, with devices that
advertise whatever name and service a test gives them.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from tproutine.devices.adapters import AdapterSpec, Backends
from tproutine.devices.controller import DeviceController, DeviceError
from tproutine.devices.matching import is_bare_word, match_device
from tproutine.devices.profile import load_profile, load_profile_set, parse_profile
from tproutine.devices.scan import scan_backends
from tproutine.devices.sim.backend import BumbleAdapter
from tproutine.devices.sim.massager import VirtualMassager
from tproutine.devices.status import FoundDevice
from tproutine.yamlsafe import LoadError

from .simkit import assert_no_leaks, profile

SHIPPED = load_profile_set(user=False).profiles
FFE0 = "0000ffe0-0000-1000-8000-00805f9b34fb"
FEAA = "0000feaa-0000-1000-8000-00805f9b34fb"


def _u(short: str) -> str:
    return f"0000{short.lower()}-0000-1000-8000-00805f9b34fb"


@pytest.fixture(autouse=True)
async def no_leaks() -> AsyncIterator[None]:
    baseline = set(asyncio.all_tasks())
    yield
    await assert_no_leaks(baseline)


# ---------------------------------------------------------------- the rules


@pytest.mark.parametrize(
    ("glob", "bare"),
    [("Pro", True), ("Classic", True), ("Wish", True), ("ProWand", True), ("116", True),
     ("Emma NEO", False), ("4plus", False), ("LVS-*", False), ("Smart Mini Vibe*", False),
     ("Nova 2", False), ("CBT002", False)],
)  # fmt: skip
def test_a_bare_common_word_is_one_word_of_letters(glob: str, bare: bool) -> None:
    assert is_bare_word(glob) is bare


COMMON = "name {} only, a common word: --device auto passes it by"
NOT_MASSAGER = "not a massager (lovense lists {}): never connected"


@pytest.mark.parametrize(
    ("name", "services", "pid", "auto", "why"),
    [
        ("Pro", [FFE0], "theragun-gen4", True, "name Pro + service FFE0"),
        (
            "Pro",
            [],
            "theragun-gen4",
            False,
            "name Pro only, a common word: --device auto passes it by",
        ),
        ("Wish", [_u("180F")], "wevibe", False, COMMON.format("Wish")),
        (
            "Wish",
            ["f000bb03-0451-4000-b000-000000000000"],
            "wevibe",
            True,
            "name Wish + service f000bb03-…",
        ),
        (
            "LVS-Z001",
            [],
            "lovense",
            True,
            "name LVS-* (service not advertised; checked on connecting)",
        ),
        (
            "LVS-F012",
            [],
            "lovense",
            False,
            "not a massager (lovense lists LVS-F[0-9]*): never connected",
        ),
        (
            "LVS-Machine",
            ["46300001-0023-4bd4-bbd5-a6920e4c5653"],
            "lovense",
            False,
            "not a massager (lovense lists 46300001-…): never connected",
        ),
        ("LVS-H001", [], "lovense", False, NOT_MASSAGER.format("LVS-H[0-9]*")),
        ("LVS-BA01", [], "lovense", False, NOT_MASSAGER.format("LVS-BA[0-9]*")),
    ],
)  # fmt: skip
def test_why_a_device_matched_and_whether_auto_takes_it(
    name: str, services: list[str], pid: str, auto: bool, why: str
) -> None:
    fit = match_device(SHIPPED, name, services)
    assert fit is not None and fit.profile.id == pid
    assert fit.auto is auto
    assert fit.why == why


def test_no_shipped_name_is_a_common_word_without_a_service() -> None:
    # Wherever a shipped profile names a bare word, it gives a service to confirm it.
    for p in SHIPPED.values():
        if any(is_bare_word(g) for g in p.match.names):
            assert p.match.services, p.id


def test_a_profile_may_require_its_service_as_well_as_its_name(tmp_path: Path) -> None:
    both = parse_profile(
        BASE.replace('  names: ["Gadget"]', '  names: ["Gadget"]\n  services: ["FFE0"]'), "b.yaml"
    )
    assert match_device([both], "Gadget", [FFE0]) is not None
    assert match_device([both], "Gadget", []) is not None  # not advertised: checked later
    assert match_device([both], "Gadget", [FEAA]) is None  # another maker's service
    assert match_device([both], "Other", [FFE0]) is None  # the name is required too
    name_only = parse_profile(BASE, "n.yaml")
    assert match_device([name_only], "Gadget", [FEAA]) is not None


BASE = """\
format: tproutine-device/1
id: gadget
name: Gadget
kind: vibration
status: community
source: the tests
match:
  names: ["Gadget"]
gatt: {service: "FFE0", write: "FFE1"}
levels: [0, 10]
commands: {set: ["A0", "{level}"], stop: ["A0 00"]}
safety: {max_on: 600}
"""


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        (
            '  names: ["LVS-*"]\n  not_massagers: {names: "LVS-F*"}',
            "9:26: match.not_massagers.names: expected a list of name patterns like "
            "\"LVS-F[0-9]*\", got the text 'LVS-F*'",
        ),
        (
            '  names: ["LVS-*"]\n  not_massagers: {}',
            "9:18: match.not_massagers: give names or services of the devices that are not "
            "massagers",
        ),
        (
            '  names: ["LVS-*"]\n  not_massagers: {services: ["F0"]}',
            "9:30: match.not_massagers.services[0]: 'F0' is not a UUID (write 4 hex digits like "
            "FFE0, or the full form like 6e400001-b5a3-f393-e0a9-e50e24dcca9e; ? stands for any "
            "one hex digit)",
        ),
    ],
)
def test_not_massagers_mistakes(tmp_path: Path, match: str, expected: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(BASE.replace('  names: ["Gadget"]', match))
    with pytest.raises(LoadError) as exc:
        load_profile(path)
    assert [str(p).removeprefix(f"{path}:") for p in exc.value.problems] == [expected]


# ---------------------------------------------------------------- on the radio


async def _scan(*massagers: VirtualMassager) -> list[FoundDevice]:
    adapter = await BumbleAdapter.in_process(list(massagers))
    try:
        backends = Backends(
            AdapterSpec("sim"), adapter.scanner_backend, adapter.client_backend, adapter
        )
        return await scan_backends(backends, 0.5, SHIPPED)
    finally:
        await adapter.close()


def _pro(advertise: bool | str) -> VirtualMassager:
    return VirtualMassager(profile("theragun-gen4"), name="Pro", advertise=advertise, auto_off=0)


async def test_a_pro_with_another_service_is_not_offered() -> None:
    found = await _scan(_pro(FEAA))
    assert [(f.name, f.profile_id) for f in found] == [("Pro", None)]
    assert found[0].why == "named like theragun-gen4, but advertises another service (FEAA)"


async def test_a_pro_is_a_theragun_when_it_advertises_ffe0_and_a_maybe_without_it() -> None:
    found = await _scan(_pro(True))
    assert [(f.profile_id, f.auto, f.why) for f in found] == [
        ("theragun-gen4", True, "name Pro + service FFE0")
    ]
    found = await _scan(_pro(False))
    assert [(f.profile_id, f.auto) for f in found] == [("theragun-gen4", False)]


async def _connect(device: str, *massagers: VirtualMassager) -> DeviceController:
    adapter = await BumbleAdapter.in_process(list(massagers))
    backends = Backends(
        AdapterSpec("sim"), adapter.scanner_backend, adapter.client_backend, adapter
    )
    ctl = DeviceController(
        AdapterSpec("sim"), device, profiles=dict(SHIPPED), backends=backends,
        scan_timeout=1.0, connect_timeout=2.0,
    )  # fmt: skip
    try:
        await ctl.connect()
    finally:
        await ctl.close()
        await adapter.close()
    return ctl


async def test_auto_passes_a_common_word_by_and_a_named_choice_takes_it() -> None:
    with pytest.raises(DeviceError) as exc:
        await _connect("auto", _pro(False))
    assert "no device that a profile knows was found within 1 s" in str(exc.value)
    assert "passed by Pro: name Pro only, a common word" in str(exc.value)
    assert "choose one with --device NAME" in str(exc.value)
    ctl = await _connect("Pro", _pro(False))
    assert ctl.profile is not None and ctl.profile.id == "theragun-gen4"


async def test_auto_never_takes_a_machine_and_a_named_one_is_refused() -> None:
    lovense = profile("lovense")
    machine = VirtualMassager(lovense, name="LVS-F012", auto_off=0)
    hush = VirtualMassager(lovense, name="LVS-Z036", auto_off=0)
    with pytest.raises(DeviceError, match="no device that a profile knows"):
        await _connect("auto", machine)
    with pytest.raises(DeviceError, match=r"LVS-F012 is not a massager \(lovense says so\)"):
        await _connect("LVS-F012", machine)
    ctl = await _connect("auto", machine, hush)
    assert ctl.profile is not None and ctl.profile.id == "lovense"


# ---------------------------------------------------------------- devices scan


async def test_devices_scan_shows_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tproutine.commands import devices as command
    from tproutine.devices import scan as scan_module

    massagers: Sequence[VirtualMassager] = [
        _pro(FEAA),
        VirtualMassager(profile("lovense"), name="LVS-F012", auto_off=0),
        VirtualMassager(profile("lovense"), name="LVS-Z036", auto_off=0),
    ]

    async def fake_scan(_adapter: str, _timeout: float) -> list[FoundDevice]:
        return await _scan(*massagers)

    monkeypatch.setattr(scan_module, "scan", fake_scan)
    loop = asyncio.get_running_loop()
    # The command runs its own event loop: run it in a thread.
    code = await loop.run_in_executor(
        None, command.scan, argparse.Namespace(adapter="sim", timeout=0.5)
    )
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "address", "profile", "signal", "why"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert "lovense" in rows["LVS-Z036"] and "name LVS-* + service FFF0" in rows["LVS-Z036"]
    assert (
        " - " in rows["LVS-F012"]
        and "not a massager (lovense lists LVS-F[0-9]*)" in rows["LVS-F012"]
    )
    assert "named like theragun-gen4, but advertises another service (FEAA)" in rows["Pro"]
    assert "theragun-gen4  " not in rows["Pro"]

"""Every shipped profile, end to end, against its own emulation on the in-process radio.

For each profile: ``--device auto`` finds and connects to the virtual device
the profile describes, a session sets 30 %, ramps from 10 % to 60 %, and ends
with the motor off; the device reports its battery; a device the profile
knows to be no massager is never connected to. A profile that cannot connect
to its own emulation, or whose bytes the device reads otherwise than the app
meant, fails here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tproutine.devices.codec import decode_command, percent_to_level
from tproutine.devices.profile import DeviceProfile, load_profile_set

from .simkit import Rig, assert_no_leaks, eventually, make_rig, on, timeline

SHIPPED = load_profile_set(user=False).profiles


@pytest.fixture(autouse=True)
async def no_leaks() -> AsyncIterator[None]:
    baseline = set(asyncio.all_tasks())
    yield
    await assert_no_leaks(baseline)


async def _at(rig: Rig, profile: DeviceProfile, percent: float) -> None:
    level, _ = percent_to_level(profile, percent)
    await rig.motor(level > 0, level, what=f"{profile.id} at {percent:g} % (level {level})")


@pytest.mark.parametrize("pid", sorted(SHIPPED))
async def test_a_shipped_profile_drives_its_own_emulation(pid: str) -> None:
    profile = SHIPPED[pid]
    tl = timeline(
        ("massage", 10, on(30)),
        ("massage", 10, on(10, 60)),
        ("hold", 5, None),
    )
    rig = await make_rig(
        tl,
        device_profile=profile,
        profiles=dict(SHIPPED),
        massager={"battery": 93},
    )
    try:
        assert rig.controller.profile is not None and rig.controller.profile.id == pid
        # Every profile's device has a battery reading: its own query, the
        # standard service it names, or the standard service as a fallback.
        await eventually(lambda: rig.controller.status.battery == 93, what=f"{pid}'s battery")
        await rig.run()
        await _at(rig, profile, 30)
        await rig.advance(10)
        await _at(rig, profile, 10)
        for step in (2.5, 5.0, 7.5):
            await rig.advance(2.5)
            await _at(rig, profile, 10 + 50 * step / 10)
        await rig.advance(2.5)
        await rig.motor(False, 0, what=f"{pid} off after the ramp")
        # What the device made of every write: the app's meaning, nothing else.
        assert all(w.command is not None for w in rig.massager.writes), [
            w.data.hex() for w in rig.massager.writes if w.command is None
        ]
        last = decode_command(profile, rig.massager.writes[-1].data)
        assert last is not None and last.kind == "stop"
    finally:
        await rig.close()


NOT_MASSAGERS = sorted((pid, glob) for pid, p in SHIPPED.items() for glob in p.match.not_names)


@pytest.mark.parametrize(("pid", "glob"), NOT_MASSAGERS)
async def test_a_device_a_profile_knows_to_be_no_massager_is_never_connected(
    pid: str, glob: str
) -> None:
    name = glob.replace("[0-9]", "0").replace("*", "12")
    rig = await make_rig(
        timeline(("massage", 10, on(30))),
        device_profile=SHIPPED[pid],
        profiles=dict(SHIPPED),
        massager={"name": name},
        connect=False,
        scan_timeout=0.5,
    )
    try:
        await eventually(lambda: rig.controller.status.state == "failed", what="gave up")
        assert rig.massager.connects == []
        assert "no device that a profile knows" in (rig.controller.status.message or "")
        assert f"{name}: not a massager" in (rig.controller.status.message or "")
    finally:
        await rig.close()

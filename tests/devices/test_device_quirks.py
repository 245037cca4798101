"""Real devices that differ from what their profile's source says, each reproduced in the simulator.

Every case here was a device that would not connect, or a reading the app
dropped: We-Vibe's read-only f000b000, a Lovense on its fourth GATT layout,
a Lovense battery reply sent while it vibrates (``s85;``), a Lovense that
indicates instead of notifying, and the standard Battery Service on a device
whose profile says nothing about the battery.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest

from tproutine.devices.codec import Reading, decode_notification, encode_battery_reply
from tproutine.devices.profile import Gatt, parse_profile

from .simkit import assert_no_leaks, eventually, make_rig, on, profile, timeline

WEVIBE_SERVICE = "f000bb03-0451-4000-b000-000000000000"
WEVIBE_WRITE = "f000c000-0451-4000-b000-000000000000"
WEVIBE_INFO = "f000b000-0451-4000-b000-000000000000"


@pytest.fixture(autouse=True)
async def no_leaks() -> AsyncIterator[None]:
    baseline = set(asyncio.all_tasks())
    yield
    await assert_no_leaks(baseline)


async def test_wevibe_with_a_read_only_information_characteristic_connects() -> None:
    # Buttplug lists f000b000 as the We-Vibe "rx"; STPIHKAL says it is [read]
    # only. A profile that names it as notify (as ours did) must still connect:
    # the controller listens only where the device can notify.
    bp_style = dataclasses.replace(
        profile("wevibe"), gatt=(Gatt(WEVIBE_SERVICE, WEVIBE_WRITE, WEVIBE_INFO, True),)
    )
    rig = await make_rig(
        timeline(("massage", 10, on(50))),
        device_profile=bp_style,
        massager={"characteristics": {WEVIBE_INFO: ["read"]}},
    )
    try:
        peripheral = rig.massager.peripheral
        assert peripheral is not None and not peripheral.is_subscribed(WEVIBE_INFO)
        await rig.run()
        await rig.motor(True, 8)
        assert rig.massager.writes[-1].data == bytes.fromhex("0f030088000300 00".replace(" ", ""))
    finally:
        await rig.close()


async def test_the_shipped_wevibe_profile_on_a_device_as_it_really_is() -> None:
    rig = await make_rig(
        timeline(("massage", 10, on(100))),
        device_profile=profile("wevibe"),
        massager={"characteristics": {WEVIBE_INFO: ["read"]}},
    )
    try:
        await rig.run()
        await rig.motor(True, 15)
    finally:
        await rig.close()


def _lovense_on(service: str) -> str:
    """The Lovense profile's text with one GATT layout: ``service``, its write and notify."""
    write = service[:6] + "12" + service[8:]
    notify = service[:6] + "13" + service[8:]
    return f"""\
format: tproutine-device/1
id: lovense-edge
name: Lovense on its fourth layout
kind: vibration
status: community
source: the tests
match:
  names: ["LVS-*"]
gatt:
  service: "{service}"
  write: "{write}"
  notify: "{notify}"
levels: [0, 20]
commands:
  set: "Vibrate:{{level}};"
  stop: "Vibrate:0;"
reads:
  battery: {{query: "Battery;", reply: "{{battery}};"}}
safety:
  max_on: 600
"""


async def test_a_lovense_on_the_fourth_gatt_layout_connects() -> None:
    # 50300011-0023-...: "P0" in ASCII, the Edge; write ...0012..., notify ...0013...
    edge = parse_profile(_lovense_on("50300011-0023-4bd4-bbd5-a6920e4c5653"), "edge.yaml")
    rig = await make_rig(
        timeline(("massage", 10, on(50))),
        device_profile=edge,
        controller_profile=profile("lovense"),
        profiles={"lovense": profile("lovense")},
        massager={"battery": 64},
    )
    try:
        assert rig.controller.profile is not None and rig.controller.profile.id == "lovense"
        await eventually(lambda: rig.controller.status.battery == 64, what="the battery reply")
        await rig.run()
        await rig.motor(True, 10)
        assert rig.massager.writes[-1].char == "50300012-0023-4bd4-bbd5-a6920e4c5653"
    finally:
        await rig.close()


def test_the_simulator_emulates_every_lovense_layout() -> None:
    from tproutine.devices.sim.massager import peripheral_config

    lovense = profile("lovense")
    fourth = peripheral_config(lovense, layout=3)
    assert fourth.service_uuid.endswith("0011-0020-4bd4-bbd5-a6920e4c5653")
    assert fourth.write_uuid.endswith("0012-0020-4bd4-bbd5-a6920e4c5653")
    with pytest.raises(ValueError, match="has 4 GATT layout"):
        peripheral_config(lovense, layout=4)


def test_lovense_battery_replies_while_vibrating() -> None:
    lovense = profile("lovense")
    assert decode_notification(lovense, b"85;") == Reading(battery=85)
    assert decode_notification(lovense, b"s85;") == Reading(battery=85)
    assert decode_notification(lovense, b"s;") is None
    assert decode_notification(lovense, b"x85;") is None
    assert encode_battery_reply(lovense, 85, running=True) == b"s85;"
    assert encode_battery_reply(lovense, 85) == b"85;"


async def test_a_lovense_that_runs_when_the_app_connects_reports_its_battery() -> None:
    # A reconnect while the toy vibrates: the answer to "Battery;" is "s77;".
    lovense = profile("lovense")
    rig = await make_rig(
        timeline(("hold", 10, None)),
        device_profile=lovense,
        connect=False,
        massager={"battery": 77},
    )
    try:
        rig.massager.press_button(12)
        await eventually(lambda: rig.controller.status.battery == 77, what="the battery reply")
        queries = [w for w in rig.massager.commands() if w.kind == "battery_query"]
        assert queries and rig.controller.ignored_notifications == 0
    finally:
        await rig.close()


async def test_a_lovense_that_indicates_instead_of_notifying() -> None:
    # The Max and the Nora indicate on their rx characteristic.
    lovense = profile("lovense")
    rx = "0000fff1-0000-1000-8000-00805f9b34fb"
    rig = await make_rig(
        timeline(("massage", 10, on(50))),
        device_profile=lovense,
        massager={"battery": 55, "characteristics": {rx: ["indicate"]}},
    )
    try:
        await eventually(lambda: rig.controller.status.battery == 55, what="the indication")
    finally:
        await rig.close()


async def test_the_standard_battery_service_when_the_profile_says_nothing() -> None:
    svakom = profile("svakom-v1")
    assert svakom.reads.battery is None
    rig = await make_rig(
        timeline(("hold", 10, None)), device_profile=svakom, massager={"battery": 42}
    )
    try:
        await eventually(lambda: rig.controller.status.battery == 42, what="the battery level")
        # Notified on change, as the profile's own "standard" would be.
        rig.massager.peripheral.set_battery(41)  # type: ignore[union-attr]
        await eventually(lambda: rig.controller.status.battery == 41, what="the notification")
    finally:
        await rig.close()


async def test_no_battery_service_no_battery_and_no_harm() -> None:
    rig = await make_rig(
        timeline(("massage", 10, on(50))),
        device_profile=profile("svakom-v1"),
        massager={"battery_service": False},
    )
    try:
        assert rig.controller.status.battery is None
        await rig.run()
        await rig.motor(True)
    finally:
        await rig.close()

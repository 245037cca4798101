"""The device controller against the virtual massager on the in-process Bumble radio.

The session runs on a fake clock (session time moves only when a test moves
it); the radio and the controller's own timing (write spacing, keepalive,
max_on, reconnect) run in real time, so conditions are polled with timeouts.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tproutine.devices.codec import percent_to_level
from tproutine.devices.controller import MIN_WRITE_INTERVAL, DeviceController, DeviceError
from tproutine.devices.status import DeviceStatus

from .simkit import (
    Rig,
    assert_no_leaks,
    eventually,
    holds,
    level,
    make_rig,
    on,
    profile,
    reference_with,
    timeline,
)


@pytest.fixture(autouse=True)
async def no_leaks() -> AsyncIterator[None]:
    baseline = set(asyncio.all_tasks())
    yield
    await assert_no_leaks(baseline)


def set_levels(rig: Rig) -> list[int]:
    return [c.level or 0 for c in rig.massager.commands() if c.kind == "set"]


# ---------------------------------------------------------------- connecting and status


async def test_connects_reads_the_battery_and_makes_sure_the_motor_is_off() -> None:
    seen: list[DeviceStatus] = []
    rig = await make_rig(timeline(("hold", 5, None)), massager={"battery": 87})
    try:
        rig.controller.subscribe(seen.append)
        status = rig.controller.status
        assert status.state == "connected"
        assert status.name == "tproutine-massager"
        assert status.profile == "tproutine virtual massager"
        assert status.battery == 87
        assert status.max_level == 20
        # The first write is a stop: the device starts from a known state.
        assert [c.kind for c in rig.massager.commands()] == ["stop"]
        # Connected before the session started: said right after its start, so that
        # `session_start` stays the first event of the stream.
        assert rig.events == []
        await rig.run()
        assert [e.event for e in rig.events[:2]] == ["session_start", "device"]
        connect = rig.device_events("connect")
        assert len(connect) == 1 and connect[0]["name"] == "tproutine-massager"
        assert connect[0]["profile"] == "tproutine-virtual"
    finally:
        await rig.close()
    assert seen[-1].state == "none"


async def test_a_device_segment_turns_the_motor_on_and_every_other_state_off() -> None:
    tl = timeline(("get_ready", 2, None), ("massage", 10, on(40)), ("hold", 5, None),
                  ("massage", 10, on(60)))  # fmt: skip
    rig = await make_rig(tl)
    try:
        await rig.run()
        await holds(lambda: not rig.massager.running, 0.1, "off in get-ready")
        await rig.advance(2)  # the massage segment
        await rig.motor(True, 8)
        set_event = rig.device_events("set")[-1]
        assert set_event["percent"] == 40.0 and set_event["level"] == 8
        assert rig.controller.status.running and rig.controller.status.level == 8

        rig.session.pause()
        await rig.motor(False)
        assert rig.device_events("stop")[-1]["reason"] == "paused"
        rig.session.resume()
        await rig.motor(True, 8)

        await rig.advance(10)  # the hold: no device
        await rig.motor(False)
        assert "without the device" in rig.device_events("stop")[-1]["reason"]

        await rig.advance(5)
        await rig.motor(True, 12)
        await rig.advance(10)  # the end of the routine
        await rig.motor(False)
        assert rig.session.status == "completed"
    finally:
        await rig.close()
    # Closing sent (and awaited) the stop before the link went.
    stops = [w.mono for w in rig.massager.writes if w.command and w.command.kind == "stop"]
    assert stops and stops[-1] <= rig.massager.disconnects[-1]
    assert rig.massager.writes[-1].command is not None
    assert rig.massager.writes[-1].command.kind == "stop"


async def test_segment_end_carries_what_the_motor_really_did() -> None:
    tl = timeline(("massage", 10, on(50)), ("hold", 4, None))
    rig = await make_rig(tl)
    try:
        await rig.run()
        await rig.motor(True, 10)
        # Let a few force readings arrive (the massager notifies every 0.2 s).
        await eventually(lambda: rig.controller.status.force, what="a force reading")
        await rig.advance(10)
        await rig.motor(False)
        await rig.advance(4)
    finally:
        await rig.close()
    ends = {e["index"]: e for e in rig.of("segment_end")}
    massage, hold = ends[0], ends[1]
    assert massage["motor_s"] == pytest.approx(10, abs=0.01)
    assert massage["mean_level"] == pytest.approx(10, abs=0.01)
    assert massage["peak_force"] > 5  # the simulated force grows with the level
    assert massage["manual_changes"] == 0
    # The motor ran a few milliseconds into the hold at most, before the stop arrived.
    assert hold["motor_s"] < 0.2 and hold["manual_changes"] == 0


async def test_a_ramp_is_sent_as_level_changes_at_most_every_100_ms() -> None:
    # 20% -> 100% on 20 levels: 16 level changes, walked through faster than
    # 100 ms each, so the controller must coalesce them.
    tl = timeline(("massage", 16, on(20, 100)), ("massage", 10, on(30)))
    rig = await make_rig(tl)
    sent: list[tuple[float, bytes]] = []  # when the app handed each write to the radio
    try:
        link = rig.controller._link
        assert link is not None
        write = link.client.write_gatt_char

        async def timed(char: Any, data: Any, response: bool = False) -> None:
            sent.append((time.monotonic(), bytes(data)))
            await write(char, data, response=response)

        link.client.write_gatt_char = timed  # type: ignore[method-assign]
        await rig.run()
        await rig.motor(True, 4)
        for _ in range(31):  # up to 15.5 s: 97.5%, level 20, still in the ramp
            await rig.advance(0.5)
            await asyncio.sleep(0.01)
        await eventually(lambda: rig.massager.level == 20, what="the top of the ramp")
        ramp_writes = [
            w for w in rig.massager.writes if w.command is not None and w.command.kind == "set"
        ]
    finally:
        await rig.close()
    levels = [w.command.level or 0 for w in ramp_writes if w.command is not None]
    # Only changes, never the same level twice in a row; never more writes than changes.
    assert all(a != b for a, b in itertools.pairwise(levels))
    assert levels == sorted(levels) and len(levels) <= 17
    # The spacing is the app's: measured where it sends, since a busy machine can
    # delay one arrival more than the next. The sends of those same writes, in order:
    wanted = [w.data for w in ramp_writes]
    ramp_sent = [t for t, data in sent if data in wanted]
    assert [data for _t, data in sent if data in wanted] == wanted
    gaps = [b - a for a, b in itertools.pairwise(ramp_sent)]
    assert gaps and min(gaps) >= MIN_WRITE_INTERVAL - 0.002, gaps


async def test_clamps_are_reported_and_never_exceeded() -> None:
    capped = reference_with(max_level=10)
    tl = timeline(("massage", 10, on(80)), ("massage", 10, level(50)), ("massage", 5, on(40)))
    rig = await make_rig(tl, device_profile=capped, max_intensity=60)
    try:
        await rig.run()
        await rig.motor(True, 10)
        await rig.advance(10)
        await eventually(lambda: len(rig.of("clamp", index=1)) >= 1, what="the level clamps")
        await rig.advance(10)
        await rig.motor(True, 8)
    finally:
        await rig.close()
    # The session caps 80% at the person's 60% itself; the profile caps level 12 at 10.
    first = rig.of("clamp", index=0)
    assert {c.get("by") for c in first} == {None, "device"}
    device_clamp = rig.of("clamp", index=0, by="device")[0]
    assert device_clamp["cap"] == "max_level"
    assert device_clamp["asked"] == 60 and device_clamp["given"] == 50
    assert "level 10" in device_clamp["why"]
    # A raw level beyond the device's range: range then the safety cap, once each.
    second = [c["cap"] for c in rig.of("clamp", index=1)]
    assert second == ["range", "max_level"]
    assert max(set_levels(rig)) == 10


async def test_the_emergency_stop_is_latched_until_released() -> None:
    tl = timeline(("massage", 5, on(50)), ("massage", 5, on(30)))
    rig = await make_rig(tl)
    try:
        await rig.run()
        await rig.motor(True, 10)
        rig.controller.emergency_stop()
        await rig.motor(False)
        assert rig.session.device_halted  # the engine knows: its `device` stop event went out
        assert rig.of("device", action="stop", by="session")
        assert rig.controller.status.held_off and rig.controller.status.label == "stopped by you"
        await rig.advance(5)  # a new device segment does not restart it
        await holds(lambda: not rig.massager.running, 0.3, "held off")
        rig.controller.release_stop()
        await rig.motor(True, 6)
        # The `s` key goes through the session; the controller obeys it just the same.
        rig.session.halt_device()
        await rig.motor(False)
        assert rig.controller.held
        rig.session.release_device()
        await rig.motor(True, 6)
    finally:
        await rig.close()


async def test_max_on_stops_the_motor_and_says_so() -> None:
    short = reference_with(max_on=0.4)
    tl = timeline(("massage", 60, on(50)), ("massage", 60, on(30)))
    rig = await make_rig(tl, device_profile=short)
    try:
        await rig.run()
        await rig.motor(True, 10)
        started = rig.massager.writes[-1].mono
        await rig.motor(False, what="the max_on stop")
        stopped = rig.massager.writes[-1].mono
        # Not before max_on (less the write's own latency); the upper bound is slack for
        # a busy machine, far below the minute the step would otherwise run.
        assert 0.35 <= stopped - started < 10.0
        reason = rig.device_events("stop")[-1]["reason"]
        assert "0.4 s without a break" in reason
        assert any("0.4 s without a break" in r for r in rig.reports)
        await holds(lambda: not rig.massager.running, 0.2, "kept off in the same step")
        await rig.advance(60)  # the next step may run again
        await rig.motor(True, 6)
    finally:
        await rig.close()


async def test_keepalive_resends_while_the_motor_runs() -> None:
    keep = reference_with(keepalive=0.1)
    rig = await make_rig(timeline(("massage", 60, on(50))), device_profile=keep)
    try:
        await rig.run()
        await rig.motor(True, 10)
        await eventually(lambda: set_levels(rig).count(10) >= 4, what="keepalive resends")
        rig.session.pause()
        await rig.motor(False)
        count = len(rig.massager.writes)
        await holds(lambda: len(rig.massager.writes) == count, 0.3, "no keepalive while off")
    finally:
        await rig.close()


async def test_a_change_made_on_the_device_is_recorded_not_fought() -> None:
    tl = timeline(("massage", 20, on(40)), ("massage", 20, on(60)))
    rig = await make_rig(tl)
    try:
        await rig.run()
        await rig.motor(True, 8)
        rig.massager.press_button(3)
        await eventually(lambda: rig.of("device", by="device"), what="the manual change")
        manual = rig.of("device", by="device")[-1]
        assert manual["level"] == 3 and manual["reason"] == "changed on the device"
        assert rig.controller.status.level == 3
        # Not overwritten while the plan stays the same.
        await holds(lambda: rig.massager.level == 3, 0.5, "the person's level kept")
        await rig.advance(20)  # the next planned change wins again
        await rig.motor(True, 12)
    finally:
        await rig.close()
    assert rig.of("segment_end", index=0)[0]["manual_changes"] == 1
    assert rig.of("segment_end", index=1)[0]["manual_changes"] == 0


async def test_a_device_switched_on_by_hand_in_a_step_without_it_is_left_alone() -> None:
    tl = timeline(("hold", 20, None), ("massage", 20, on(30)))
    rig = await make_rig(tl)
    try:
        await rig.run()
        rig.massager.press_button(5)
        await eventually(lambda: rig.of("device", by="device"), what="the manual change")
        await holds(lambda: rig.massager.level == 5, 0.4, "the person's level kept")
        await rig.advance(20)
        await rig.motor(True, 6)
    finally:
        await rig.close()


async def test_a_failed_write_is_retried_once_then_reported() -> None:
    tl = timeline(("massage", 10, on(50)), ("massage", 10, on(30)), ("massage", 10, on(20)))
    rig = await make_rig(tl)
    try:
        rig.massager.reject_writes = 1  # the retry gets through: nothing to report
        await rig.run()
        await rig.motor(True, 10)
        assert rig.reports == []
        assert [w.rejected for w in rig.massager.writes[-2:]] == [True, False]

        rig.massager.reject_writes = 2  # both tries fail: reported once, in one line
        await rig.advance(10)
        await eventually(lambda: rig.reports, what="the report")
        assert len(rig.reports) == 1
        assert rig.reports[0].startswith("device: could not send level 6 (tried twice")
        assert "could not send" in (rig.controller.status.message or "")
        tries = [w for w in rig.massager.writes if w.command and w.command.level == 6]
        assert [w.rejected for w in tries[:2]] == [True, True]
        # Tried again a little later, and the message clears once it works.
        await rig.motor(True, 6)
        await eventually(lambda: rig.controller.status.message is None, what="message cleared")
    finally:
        await rig.close()


async def test_garbage_notifications_are_ignored() -> None:
    rig = await make_rig(
        timeline(("massage", 30, on(50))), massager={"garbage": True, "garbage_every": 0.02}
    )
    try:
        await rig.run()
        await rig.motor(True, 10)
        await eventually(lambda: rig.controller.ignored_notifications >= 10, what="garbage")
        assert rig.massager.garbage_sent >= 10
        status = rig.controller.status
        assert status.state == "connected" and status.level == 10 and status.battery == 100
        assert not rig.of("device", by="device")  # never taken for a change on the device
        await rig.advance(30)
    finally:
        await rig.close()
    assert rig.of("segment_end")[0]["manual_changes"] == 0


async def test_a_lost_link_reconnects_and_restores_the_level_wanted_now() -> None:
    tl = timeline(("massage", 20, on(20, 80)), ("hold", 5, None))
    rig = await make_rig(tl)
    try:
        await rig.run()
        await rig.motor(True, 4)
        assert rig.massager.drop_link()
        await eventually(lambda: rig.controller.status.state == "reconnecting", what="reconnecting")
        assert rig.device_events("disconnect")[-1]["reason"] == "link lost"
        # The routine goes on as a timer meanwhile: the ramp moves on.
        await rig.advance(10)
        assert rig.session.state == "running"
        await eventually(lambda: rig.device_events("reconnect"), what="the reconnect")
        wanted, _ = percent_to_level(profile(), rig.session.planned_percent() or 0)
        assert wanted == 10
        await rig.motor(True, wanted, what="the level the session wants now")
        assert rig.controller.status.state == "connected"
    finally:
        await rig.close()


async def test_an_absent_device_leaves_a_timer_with_one_line() -> None:
    rig = await make_rig(
        # The virtual massager advertises, but no profile the controller knows matches it.
        timeline(("massage", 5, on(50))), profiles={"lovense": profile("lovense")},
        connect=False, scan_timeout=0.3,
    )  # fmt: skip
    try:
        await eventually(lambda: rig.reports, what="the report")
        assert rig.reports == [
            "device: no device that a profile knows was found within 0.3 s on "
            "the in-process virtual massager; running as a timer only"
        ]
        assert rig.controller.status.state == "failed"
        await rig.run()
        await rig.advance(5)
        assert rig.session.status == "completed"
    finally:
        await rig.close()


async def test_a_named_device_and_an_address() -> None:
    rig = await make_rig(timeline(("hold", 5, None)))
    try:
        address = rig.controller.status.address
        assert address is not None
        states: list[str] = []
        rig.controller.subscribe(
            lambda status: None if states[-1:] == [status.state] else states.append(status.state)
        )
        await rig.controller.disconnect()
        await rig.controller.connect(address)
        assert states == ["none", "scanning", "connecting", "connected"]
        await rig.controller.connect("TPROUTINE-MASSAGER")  # names compare without case
        assert rig.controller.status.address == address
        with pytest.raises(DeviceError, match="'Nope' was not found"):
            rig.controller.scan_timeout = 0.2
            await rig.controller.connect("Nope")
        found = await rig.controller.scan(0.2)
        assert [f.profile_id for f in found] == ["tproutine-virtual"]
    finally:
        await rig.close()


async def test_test_runs_the_motor_briefly_and_obeys_the_stop() -> None:
    rig = await make_rig(timeline(("hold", 5, None)))
    try:
        rig.session.stop()  # no session running: the Devices screen's "test"
        await rig.controller.test(seconds=0.2, percent=50)
        assert [c.level for c in rig.massager.commands()][-2:] == [10, 0]
        assert not rig.massager.running
        task = asyncio.create_task(rig.controller.test(seconds=5, percent=50))
        await rig.motor(True, 10)
        rig.controller.emergency_stop()
        await asyncio.wait_for(task, 1.0)
        assert not rig.massager.running
        with pytest.raises(DeviceError, match="release the stop"):
            await rig.controller.test()
    finally:
        await rig.close()


async def test_test_refuses_while_a_session_runs_and_without_a_device() -> None:
    rig = await make_rig(timeline(("hold", 5, None)))
    try:
        await rig.run()
        with pytest.raises(DeviceError, match="a session is running"):
            await rig.controller.test()
    finally:
        await rig.close()
    idle = DeviceController("none")
    with pytest.raises(DeviceError, match="no device is connected"):
        await idle.test()


async def test_a_text_protocol_with_a_vendor_battery_query() -> None:
    # Lovense: ASCII commands, "Battery;" answered by "85;" on the notify characteristic.
    lovense = profile("lovense")
    rig = await make_rig(
        timeline(("massage", 10, on(50))), device_profile=lovense, massager={"battery": 85}
    )
    try:
        await eventually(lambda: rig.controller.status.battery == 85, what="the battery reply")
        await rig.run()
        await rig.motor(True, 10)
        assert rig.massager.writes[-1].data == b"Vibrate:10;"
        await rig.advance(10)
        await rig.motor(False)
        assert rig.massager.writes[-1].data == b"Vibrate:0;"
    finally:
        await rig.close()

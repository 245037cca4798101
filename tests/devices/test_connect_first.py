"""Connect before the clock: the session starts once the device is ready, or as a timer
by the person's choice, and then nothing connects behind their back.

The session runs on a fake clock that only the test moves: "no routine time is
lost" is checked as session time, which cannot depend on how busy the machine is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tproutine.devices.adapters import AdapterSpec, Backends
from tproutine.devices.controller import DeviceController
from tproutine.devices.sim.backend import BumbleAdapter
from tproutine.devices.sim.massager import VirtualMassager
from tproutine.engine.clock import FakeClock
from tproutine.engine.events import Event
from tproutine.engine.session import Session
from tproutine.runtime import ConnectsFirst, build_runtime

from .simkit import assert_no_leaks, eventually, holds, make_rig, on, profile, timeline

FIRST_STEP_ON = timeline(("massage", 10, on(40)), ("hold", 5, None))


@pytest.fixture
async def no_leaks() -> AsyncIterator[None]:
    baseline = set(asyncio.all_tasks())
    yield
    await assert_no_leaks(baseline)


async def test_the_device_is_ready_before_the_clock_starts_and_the_first_step_loses_nothing(
    no_leaks: None,
) -> None:
    rig = await make_rig(FIRST_STEP_ON, connect=False)
    try:
        ctl = rig.controller
        assert isinstance(ctl, ConnectsFirst)
        assert await ctl.connect_first(rig.session, 5.0) is None
        # Ready: connected, and the motor known to be off (the first stop went out).
        assert ctl.status.state == "connected" and ctl.sent_level == 0
        assert [c.kind for c in rig.massager.commands()] == ["stop"]
        assert rig.session.state == "idle" and rig.events == []
        await rig.run()
        # The first step's level goes out at once: the session clock has not moved.
        await rig.motor(True, 8, "the first step's level")
        assert rig.session.elapsed() == 0.0
        assert [e.event for e in rig.events[:3]] == ["session_start", "device", "segment_start"]
        assert rig.events[1]["action"] == "connect"
        await rig.advance(10)
        end = rig.of("segment_end", index=0)[0]
        assert end["motor_s"] == pytest.approx(10.0)
    finally:
        await rig.close()


async def test_a_device_not_ready_in_time_gives_one_line_and_nothing_connects_later(
    no_leaks: None,
) -> None:
    # An empty radio: the massager is switched on only after the person chose to go on.
    adapter = await BumbleAdapter.in_process([])
    backends = Backends(AdapterSpec("sim"), adapter.scanner_backend, adapter.client_backend)
    ctl = DeviceController(AdapterSpec("sim"), "auto", backends=backends, scan_timeout=5.0)
    clock = FakeClock()
    session = Session(FIRST_STEP_ON, clock, countdown=0)
    events: list[Event] = []
    session.subscribe(events.append)
    session.subscribe(ctl.on_event)
    massager = VirtualMassager(profile(), auto_off=0, notify_every=0.2, seed=1)
    task: asyncio.Task[object] | None = None
    try:
        reason = await ctl.connect_first(session, 0.3)
        assert reason is not None and "\n" not in reason
        assert reason.startswith("the first device a profile knows was not found within 0.3 s")
        assert ctl.status.state == "failed" and ctl.status.message == reason
        await adapter.add_peripheral(massager)
        # The person goes on as a timer: the session starts, and the device that has
        # just appeared is left alone.
        await ctl.start(session)
        task = asyncio.get_running_loop().create_task(session.run())
        await clock.settle()
        await holds(lambda: not massager.connected, 0.5, "nothing connects behind their back")
        assert not [e for e in events if e.event == "device"]
        # Another connect-first (the person asked to try again) does connect.
        session.stop()
        await task
        again = Session(FIRST_STEP_ON, clock, countdown=0)
        again.subscribe(ctl.on_event)
        assert await ctl.connect_first(again, 5.0) is None
        assert massager.connected
    finally:
        if task is not None and not task.done():
            session.stop()
            await task
        await ctl.close()
        await adapter.close()


async def test_no_wait_connects_in_the_background_as_before(no_leaks: None) -> None:
    rig = await make_rig(FIRST_STEP_ON, connect=False)
    try:
        # 0: start at once; start() connects while the routine runs.
        assert await rig.controller.connect_first(rig.session, 0) is None
        assert rig.controller.status.state == "none"
        await rig.run()
        await rig.motor(True, 8, "the level once connected")
    finally:
        await rig.close()


async def test_giving_up_the_wait_leaves_the_device_alone(no_leaks: None) -> None:
    rig = await make_rig(FIRST_STEP_ON, connect=False, profiles={})  # no profile knows it
    try:
        waiting = asyncio.ensure_future(rig.controller.connect_first(rig.session, 30.0))
        await eventually(lambda: rig.controller.status.state == "scanning", what="scanning")
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert rig.controller.status.state == "none"
        await rig.controller.start(rig.session)
        await rig.run()
        await holds(lambda: not rig.massager.connected, 0.3, "no connection")
    finally:
        await rig.close()


async def test_a_device_kept_between_sessions_is_named_in_the_next_one(no_leaks: None) -> None:
    rig = await make_rig(FIRST_STEP_ON, keep_connected=True)
    try:
        await rig.run()
        await rig.motor(True, 8)
        rig.session.stop()
        assert rig.task is not None
        await rig.task
        await rig.controller.aclose()  # keeps the link: the app keeps its device
        assert rig.controller.connected
        # The second session: already connected, ready at once, and its stream (and
        # so the history) names the device.
        second = Session(FIRST_STEP_ON, rig.clock, countdown=0)
        seen: list[Event] = []
        second.subscribe(seen.append)
        second.subscribe(rig.controller.on_event)
        assert await rig.controller.connect_first(second, 5.0) is None
        rig.session = second
        await rig.run()
        assert [e.event for e in seen[:2]] == ["session_start", "device"]
        assert seen[1]["action"] == "connect" and seen[1]["name"] == "tproutine-massager"
    finally:
        await rig.close()


async def test_the_runtime_connects_first_only_when_asked(no_leaks: None) -> None:
    rig = await make_rig(FIRST_STEP_ON, connect=False)
    try:
        rt = build_runtime(FIRST_STEP_ON, clock=rig.clock, history=False, voice=False)
        assert rt.connecting_text(10) is None  # no device: nothing to wait for
        rt = build_runtime(
            FIRST_STEP_ON, clock=rig.clock, history=False, voice=False, device=rig.controller
        )
        assert rt.connecting_text(0) is None
        assert rt.connecting_text(10) == (
            "Connecting to the first device a profile knows on the in-process virtual "
            "massager (up to 10 s)…"
        )
        assert await rt.connect_device(10) is None
        assert rig.controller.connected and rt.session.state == "idle"
    finally:
        await rig.close()

"""The session engine on the fake clock: nothing here sleeps for real."""

# Commands change the state behind mypy's back (it narrows `session.state`).
# mypy: disable-error-code="comparison-overlap"

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from tproutine.engine.clock import FakeClock
from tproutine.engine.session import Session
from tproutine.routine.timeline import Cue, DeviceSetting, Timeline

from . import Recorder, make_timeline

ORIGIN = 1000.0  # the fake clock does not start at 0, as a monotonic clock would not


async def start(
    timeline: Timeline, **kwargs: Any
) -> tuple[Session, FakeClock, Recorder, asyncio.Task[Any]]:
    clock = FakeClock(ORIGIN)
    session = Session(timeline, clock, **kwargs)
    rec = Recorder()
    session.subscribe(rec)
    task = asyncio.create_task(session.run())
    await clock.settle()
    return session, clock, rec, task


def basic() -> Timeline:
    return make_timeline(
        ("get_ready", 5.0),
        ("hold", 60.0, {"title": "Quadratus lumborum", "side": "left", "rep": 1, "reps": 2,
                        "cues": (Cue(0.0, "Ease onto the ball"), Cue(50.0, "Ten seconds left"))}),
        ("rest", 10.0),
        ("stretch", 30.0, {"title": "Child's pose"}),
    )  # fmt: skip


async def test_runs_to_completion_with_events_in_order_and_due_times() -> None:
    session, clock, rec, task = await start(basic(), countdown=0)
    assert session.state == "running"
    await clock.run_until_idle()
    assert await task == "completed"
    assert session.state == "finished" and session.status == "completed"
    assert rec.names() == [
        "session_start",
        "segment_start", "segment_end",
        "segment_start", "cue", "cue", "segment_end",
        "segment_start", "segment_end",
        "segment_start", "segment_end",
        "session_end",
    ]  # fmt: skip
    starts = rec.of("segment_start")
    assert [e["due"] for e in starts] == [0.0, 5.0, 65.0, 75.0]
    # On the fake clock every boundary is reached exactly on its deadline.
    assert [e.t for e in starts] == [0.0, 5.0, 65.0, 75.0]
    assert [e.t for e in rec.of("cue")] == [5.0, 55.0]
    assert starts[1].data | {} == starts[1].data
    assert starts[1]["title"] == "Quadratus lumborum"
    assert starts[1]["side"] == "left" and starts[1]["rep"] == 1 and starts[1]["kind"] == "hold"
    end = rec.of("session_end")[0]
    assert end["status"] == "completed" and end.t == 105.0
    assert end["segments_done"] == 4 and end["segments_total"] == 4
    assert clock.now() == ORIGIN + 105.0
    assert all(not e["skipped"] for e in rec.of("segment_end"))
    assert session.position() == session.timeline.total_s and session.remaining() == 0.0


async def test_session_start_describes_the_routine() -> None:
    _, _, rec, task = await start(basic())
    first = rec.events[0]
    assert first.event == "session_start"
    assert first["routine"] == "Test routine" and first["total_s"] == 105.0
    assert first["segments"] == 4 and first.t == 0.0
    task.cancel()


async def test_sleeps_only_until_the_next_deadline() -> None:
    """No polling: the one thing the session waits for is its next cue or boundary."""
    session, clock, _, task = await start(basic(), countdown=0)
    assert clock.pending == [ORIGIN + 5.0]  # the end of "get ready"
    await clock.advance(5.0)
    # The cue at 0 s has fired; next is the cue at 50 s into the hold.
    assert clock.pending == [ORIGIN + 55.0]
    await clock.advance(50.0)
    assert clock.pending == [ORIGIN + 65.0]
    session.pause()
    await clock.settle()
    assert clock.pending == []  # paused: nothing to wake for but a command
    session.stop()
    await task


async def test_pause_freezes_the_segment_and_shifts_the_deadlines() -> None:
    session, clock, rec, task = await start(basic(), countdown=0)
    await clock.advance(20.0)  # 15 s into the hold
    assert session.current is not None and session.current.kind == "hold"
    assert session.segment_elapsed() == pytest.approx(15.0)
    assert session.pause() is True and session.state == "paused"
    assert session.pause() is False  # already paused
    before = len(rec.events)
    await clock.advance(300.0)
    assert len(rec.events) == before  # nothing happens while paused
    assert session.segment_remaining() == pytest.approx(45.0)
    assert session.elapsed() == pytest.approx(20.0)
    assert session.resume() is True and session.state == "running"
    assert session.resume() is False
    await clock.run_until_idle()
    assert await task == "completed"
    assert rec.of("pause")[0].t == pytest.approx(20.0)
    assert rec.of("resume")[0].t == pytest.approx(20.0)  # session time stood still
    # Session time excludes the pause; the clock does not.
    assert rec.of("session_end")[0].t == pytest.approx(105.0)
    assert clock.now() == pytest.approx(ORIGIN + 405.0)
    assert [e["due"] for e in rec.of("segment_start")] == [0.0, 5.0, 65.0, 75.0]


async def test_toggle_pause() -> None:
    session, _clock, rec, task = await start(basic())
    assert session.toggle_pause() and session.state == "paused"
    assert session.toggle_pause() and session.state == "running"
    assert rec.names()[-2:] == ["pause", "resume"]
    session.stop()
    await task


async def test_a_cue_never_fires_while_paused_and_fires_once_after() -> None:
    session, clock, rec, task = await start(basic(), countdown=0)
    await clock.advance(54.0)  # 49 s into the hold, the cue is due at 50 s
    session.pause()
    await clock.advance(10.0)
    assert rec.cues() == ["Ease onto the ball"]
    session.resume()
    await clock.advance(0.5)
    assert rec.cues() == ["Ease onto the ball"]
    await clock.advance(0.5)
    assert rec.cues() == ["Ease onto the ball", "Ten seconds left"]
    # Pausing and resuming right at and after the cue does not repeat it.
    session.pause()
    session.resume()
    await clock.advance(1.0)
    session.pause()
    await clock.advance(1.0)
    session.resume()
    await clock.run_until_idle()
    await task
    assert rec.cues() == ["Ease onto the ball", "Ten seconds left"]


async def test_a_big_jump_of_the_clock_still_fires_each_cue_once_in_order() -> None:
    tl = make_timeline(
        ("hold", 30.0, {"cues": (Cue(1.0, "a"), Cue(2.0, "b"), Cue(2.0, "c"), Cue(29.0, "d"))}),
        ("hold", 30.0, {"cues": (Cue(0.0, "e"),)}),
    )
    session = Session(tl, FakeClock(), countdown=0)
    rec = Recorder()
    session.subscribe(rec)
    clock = session.clock
    assert isinstance(clock, FakeClock)
    task = asyncio.create_task(session.run())
    await clock.settle()
    clock._now = 500.0  # jump past everything at once, as a suspended laptop would
    session._poke()
    await clock.settle()
    # A real timeout only as a safety net: the task is done by now.
    assert await asyncio.wait_for(task, 2.0) == "completed"
    assert rec.cues() == ["a", "b", "c", "d", "e"]
    assert [e["due"] for e in rec.of("segment_start")] == [0.0, 30.0]


async def test_next_skips_and_the_schedule_moves_up() -> None:
    session, clock, rec, task = await start(basic(), countdown=0)
    await clock.advance(15.0)  # 10 s into the hold
    assert session.next() is True
    assert rec.names()[-3:] == ["skip", "segment_end", "segment_start"]
    skip, end, begin = rec.events[-3:]
    assert skip["index"] == 1
    assert end["index"] == 1 and end["skipped"] is True
    assert begin["index"] == 2 and begin["due"] == pytest.approx(15.0)
    await clock.run_until_idle()
    assert await task == "completed"
    # The 50 s that were skipped come off every later deadline.
    assert [e["due"] for e in rec.of("segment_start")] == pytest.approx([0.0, 5.0, 15.0, 25.0])
    assert rec.of("session_end")[0].t == pytest.approx(55.0)
    assert rec.cues() == ["Ease onto the ball"]  # the skipped part's cue never fires
    assert session.segments_done == 3 and session.segments_skipped == 1


async def test_next_on_the_last_segment_completes_the_routine() -> None:
    session, _clock, rec, task = await start(make_timeline(("hold", 10.0), ("stretch", 10.0)))
    session.next()
    session.next()
    assert await task == "completed"
    assert session.next() is False
    assert rec.names()[-2:] == ["segment_end", "session_end"]


async def test_next_while_paused_stays_paused_and_holds_the_first_cue() -> None:
    tl = make_timeline(("hold", 10.0), ("hold", 10.0, {"cues": (Cue(0.0, "go"),)}))
    session, clock, rec, task = await start(tl, countdown=0)
    await clock.advance(2.0)
    session.pause()
    session.next()
    assert session.state == "paused" and session.index == 1
    await clock.advance(30.0)
    assert rec.cues() == []
    session.resume()
    await clock.settle()
    assert rec.cues() == ["go"]
    await clock.run_until_idle()
    assert await task == "completed"
    assert rec.of("session_end")[0].t == pytest.approx(12.0)


async def test_back_within_three_seconds_goes_to_the_previous_segment() -> None:
    session, clock, rec, task = await start(basic(), countdown=0)
    await clock.advance(7.0)  # 2 s into the hold
    assert session.back() is True
    back, end, begin = rec.events[-3:]
    assert back.event == "back" and back["index"] == 0 and back["from"] == 1
    assert end.event == "segment_end" and end["index"] == 1 and end["skipped"] is True
    assert begin.event == "segment_start" and begin["index"] == 0
    assert begin["due"] == pytest.approx(7.0)
    assert session.index == 0 and session.segment_elapsed() == 0.0
    session.stop()
    await task


async def test_back_after_three_seconds_restarts_this_segment_and_its_cues() -> None:
    session, clock, rec, task = await start(basic(), countdown=0)
    await clock.advance(10.0)  # 5 s into the hold
    session.back()
    assert rec.events[-1].event == "cue"  # the restarted hold's opening cue is said again
    assert [e["index"] for e in rec.of("segment_start")] == [0, 1, 1]
    assert session.index == 1 and session.segment_remaining() == 60.0
    await clock.run_until_idle()
    assert await task == "completed"
    assert rec.of("session_end")[0].t == pytest.approx(110.0)
    assert rec.cues() == ["Ease onto the ball", "Ease onto the ball", "Ten seconds left"]


async def test_back_at_exactly_three_seconds_restarts() -> None:
    session, clock, _, task = await start(basic())
    await clock.advance(8.0)
    session.back()
    assert session.index == 1
    session.stop()
    await task


async def test_back_in_the_first_segment_restarts_it() -> None:
    session, clock, rec, task = await start(basic())
    await clock.advance(1.0)
    session.back()
    assert session.index == 0 and rec.of("back")[0]["index"] == 0
    session.stop()
    await task


async def test_stop_ends_as_stopped() -> None:
    session, clock, rec, task = await start(basic())
    await clock.advance(30.0)
    assert session.stop() is True
    assert await task == "stopped"
    assert session.state == "finished" and session.status == "stopped"
    end = rec.of("segment_end")[-1]
    assert end["index"] == 1 and end["skipped"] is True and end["ended_by"] == "stop"
    assert rec.events[-1]["status"] == "stopped"
    assert session.position() == pytest.approx(30.0)
    # Nothing works after the end.
    for command in (session.pause, session.resume, session.next, session.back, session.stop):
        assert command() is False
    assert session.current is None and session.next_segment is None


async def test_stop_while_paused() -> None:
    session, clock, rec, task = await start(basic())
    await clock.advance(10.0)
    session.pause()
    await clock.advance(100.0)
    session.stop()
    assert await task == "stopped"
    assert rec.events[-1].t == pytest.approx(10.0)


async def test_stop_before_the_start() -> None:
    session = Session(basic(), FakeClock())
    rec = Recorder()
    session.subscribe(rec)
    session.stop()
    assert await session.run() == "stopped"
    assert rec.events == []


async def test_cancelling_the_run_marks_the_session_interrupted() -> None:
    session, clock, rec, task = await start(basic())
    await clock.advance(10.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert session.status == "interrupted"
    assert rec.events[-1]["status"] == "interrupted"


async def test_countdown_counts_the_last_seconds_of_holds_and_stretches_only() -> None:
    tl = make_timeline(
        ("hold", 10.0),
        ("massage", 10.0),
        ("stretch", 2.5),
        ("rest", 10.0),
    )
    _session, clock, rec, task = await start(tl, countdown=3)
    await clock.run_until_idle()
    await task
    counts = [(e["index"], e["count"], e.t) for e in rec.of("cue")]
    assert counts == [
        (0, 3, 7.0), (0, 2, 8.0), (0, 1, 9.0),
        # A 2.5 s stretch has room only for "2" and "1".
        (2, 2, 20.5), (2, 1, 21.5),
    ]  # fmt: skip
    assert all(e["say"] == str(e["count"]) for e in rec.of("cue"))


async def test_no_countdown_when_set_to_zero() -> None:
    _session, clock, rec, task = await start(make_timeline(("hold", 10.0)), countdown=0)
    await clock.run_until_idle()
    await task
    assert rec.of("cue") == []


async def test_breathe_phases_are_emitted_and_readable() -> None:
    tl = make_timeline(("breathe", 25.0, {"pattern": (4.0, 6.0)}))
    session, clock, rec, task = await start(tl)
    assert session.breathe_phase() == ("in", 0.0)
    await clock.advance(2.0)
    assert session.breathe_phase() == ("in", pytest.approx(0.5))
    await clock.advance(5.0)
    assert session.breathe_phase() == ("out", pytest.approx(0.5))
    await clock.run_until_idle()
    await task
    phases = [(e["phase"], e.t, e["duration_s"]) for e in rec.of("breathe")]
    assert phases == [
        ("in", 0.0, 4.0), ("out", 4.0, 6.0),
        ("in", 10.0, 4.0), ("out", 14.0, 6.0),
        ("in", 20.0, 4.0), ("out", 24.0, 1.0),  # cut short by the segment's end
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ((4.0, 2.0, 6.0), ["in", "hold", "out"]),
        ((4.0, 4.0, 4.0, 4.0), ["in", "hold", "out", "hold"]),
    ],
)
async def test_breathe_patterns_with_holds(pattern: tuple[float, ...], names: list[str]) -> None:
    tl = make_timeline(("breathe", sum(pattern), {"pattern": pattern}))
    _session, clock, rec, task = await start(tl)
    await clock.run_until_idle()
    await task
    assert [e["phase"] for e in rec.of("breathe")] == names
    starts = [0.0, *[sum(pattern[: i + 1]) for i in range(len(pattern) - 1)]]
    assert [e.t for e in rec.of("breathe")] == pytest.approx(starts)


async def test_breathe_phase_is_none_elsewhere() -> None:
    session, _, _, task = await start(make_timeline(("hold", 5.0)))
    assert session.breathe_phase() is None
    session.stop()
    await task


async def test_planned_percent_follows_the_ramp_scale_and_cap() -> None:
    tl = make_timeline(
        ("massage", 10.0, {"device": DeviceSetting(20.0, 60.0)}),
        ("hold", 10.0),
        ("massage", 10.0, {"device": DeviceSetting(level=3)}),
    )
    session, clock, rec, task = await start(tl, scale=1.0, max_intensity=50.0)
    assert session.planned_percent() == pytest.approx(20.0)
    await clock.advance(5.0)
    assert session.planned_percent() == pytest.approx(40.0)
    await clock.advance(4.0)
    assert session.planned_percent() == pytest.approx(50.0)  # 56 asked, 50 allowed
    assert session.target_percent() == pytest.approx(50.0)
    session.pause()
    assert session.target_percent() == 0.0  # pausing stops the motor
    assert session.planned_percent() == pytest.approx(50.0)
    session.resume()
    await clock.advance(1.0)
    assert session.planned_percent() is None and session.target_percent() == 0.0
    await clock.advance(10.0)
    assert session.planned_percent() is None and session.planned_level() == 3
    session.stop()
    await task
    clamp = rec.of("clamp")
    assert len(clamp) == 1
    assert clamp[0].data == {
        "index": 0,
        "asked": 60.0,
        "given": 50.0,
        "why": "your max intensity",
        "due": 0.0,  # said as the segment starts
    }


async def test_no_clamp_within_the_cap() -> None:
    tl = make_timeline(("massage", 10.0, {"device": DeviceSetting(30.0, 30.0)}))
    _session, clock, rec, task = await start(tl, max_intensity=40.0)
    await clock.run_until_idle()
    await task
    assert rec.of("clamp") == []


async def test_change_scale_steps_reports_and_clamps() -> None:
    tl = make_timeline(("massage", 20.0, {"device": DeviceSetting(40.0, 40.0)}))
    session, _clock, rec, task = await start(tl, max_intensity=50.0)
    assert session.change_scale(+0.1) == pytest.approx(1.1)
    assert session.planned_percent() == pytest.approx(44.0)
    assert rec.of("clamp") == []
    assert session.change_scale(+0.1) == pytest.approx(1.2)
    assert session.change_scale(+0.1) == pytest.approx(1.3)
    assert session.planned_percent() == pytest.approx(50.0)  # never above the cap
    assert [e["scale"] for e in rec.of("scale")] == pytest.approx([1.1, 1.2, 1.3])
    clamps = rec.of("clamp")
    assert len(clamps) == 1  # at 1.3: 52 % asked
    assert clamps[0]["asked"] == pytest.approx(52.0) and clamps[0]["given"] == 50.0
    # The scale itself is bounded.
    for _ in range(30):
        session.change_scale(+0.1)
    assert session.scale == 2.0
    for _ in range(40):
        session.change_scale(-0.1)
    assert session.scale == pytest.approx(0.1)
    assert session.planned_percent() == pytest.approx(4.0)
    # Repeated steps do not gather floating-point dust.
    for _ in range(9):
        session.change_scale(+0.1)
    assert session.scale == 1.0
    session.stop()
    await task


async def test_the_cap_of_100_is_the_devices_full_range() -> None:
    tl = make_timeline(("massage", 20.0, {"device": DeviceSetting(80.0, 80.0)}))
    session, _clock, rec, task = await start(tl, scale=1.5)
    assert session.planned_percent() == 100.0
    assert rec.of("clamp")[0]["why"] == "the device's full range"
    session.stop()
    await task


async def test_emergency_halt_keeps_the_motor_off_until_released() -> None:
    tl = make_timeline(("massage", 20.0, {"device": DeviceSetting(40.0, 40.0)}), ("hold", 5.0))
    session, clock, rec, task = await start(tl)
    assert session.target_percent() == 40.0
    assert session.toggle_halt() is True and session.device_halted
    assert session.target_percent() == 0.0
    assert session.halt_device() is False  # already halted
    await clock.advance(5.0)
    assert session.target_percent() == 0.0
    session.toggle_halt()
    assert not session.device_halted and session.target_percent() == 40.0
    stop, release = rec.of("device")
    assert stop["action"] == "stop" and stop["halted"] is True and stop["by"] == "session"
    assert release["action"] == "set" and release["percent"] == 40.0
    session.stop()
    await task


async def test_views_before_during_and_after() -> None:
    tl = basic()
    clock = FakeClock(ORIGIN)
    session = Session(tl, clock)
    assert session.state == "idle" and session.current is None and session.index == -1
    assert session.elapsed() == 0.0 and session.remaining() == 105.0
    assert session.next_segment is tl.segments[0]
    task = asyncio.create_task(session.run())
    await clock.advance(10.0)
    assert session.current is tl.segments[1] and session.index == 1
    assert session.next_segment is tl.segments[2]
    assert session.segment_elapsed() == 5.0 and session.segment_remaining() == 55.0
    assert session.elapsed() == 10.0 and session.position() == 10.0
    assert session.remaining() == 95.0
    await clock.advance(5.0)
    assert session.last_cue == "Ease onto the ball"
    await clock.run_until_idle()
    await task
    assert session.current is None and session.index == len(tl.segments)
    assert session.elapsed() == 105.0


async def test_an_hour_long_routine_ends_exactly_on_its_deadline() -> None:
    """60 one-minute holds with cues, counts and 10 s rests: no drift at all."""
    specs: list[Any] = []
    for i in range(60):
        cues = (Cue(0.0, f"start {i}"), Cue(47.3, "almost"))
        specs.append(("hold", 50.0, {"cues": cues}))
        specs.append(("rest", 10.0))
    tl = make_timeline(*specs)
    assert tl.total_s == 3600.0
    _session, clock, rec, task = await start(tl, countdown=3)
    await clock.run_until_idle()
    assert await task == "completed"
    assert rec.of("session_end")[0].t == 3600.0
    assert clock.now() == ORIGIN + 3600.0
    for event in rec.of("segment_start"):
        segment = tl.segments[event["index"]]
        assert event["due"] == segment.start_s
        assert math.isclose(event.t, segment.start_s, abs_tol=1e-9)
    assert len(rec.of("cue")) == 60 * 5


async def test_a_listener_may_issue_commands_and_events_stay_in_order() -> None:
    tl = make_timeline(("hold", 10.0), ("hold", 10.0), ("hold", 10.0))
    clock = FakeClock()
    session = Session(tl, clock, countdown=0)
    rec = Recorder()

    def skip_the_middle(event: Any) -> None:
        if event.event == "segment_start" and event["index"] == 1:
            session.next()

    session.subscribe(skip_the_middle)
    session.subscribe(rec)
    task = asyncio.create_task(session.run())
    await clock.run_until_idle()
    await task
    assert [(e.event, e.get("index")) for e in rec.events[1:-1]] == [
        ("segment_start", 0), ("segment_end", 0),
        ("segment_start", 1), ("skip", 1), ("segment_end", 1),
        ("segment_start", 2), ("segment_end", 2),
    ]  # fmt: skip
    assert rec.of("session_end")[0].t == 20.0


async def test_a_broken_listener_does_not_stop_the_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(event: Any) -> None:
        raise RuntimeError("boom")

    clock = FakeClock()
    session = Session(make_timeline(("hold", 5.0)), clock)
    session.subscribe(broken)
    rec = Recorder()
    session.subscribe(rec)
    task = asyncio.create_task(session.run())
    await clock.run_until_idle()
    assert await task == "completed"
    assert rec.names()[-1] == "session_end"
    assert "boom" in caplog.text


async def test_unsubscribe() -> None:
    clock = FakeClock()
    session = Session(make_timeline(("hold", 5.0)), clock)
    rec = Recorder()
    unsubscribe = session.subscribe(rec)
    task = asyncio.create_task(session.run())
    await clock.settle()
    unsubscribe()
    await clock.run_until_idle()
    await task
    assert rec.names() == ["session_start", "segment_start"]


async def test_an_empty_timeline_completes_at_once() -> None:
    session = Session(Timeline(name="Empty", segments=(), total_s=0.0), FakeClock())
    rec = Recorder()
    session.subscribe(rec)
    assert await session.run() == "completed"
    assert rec.names() == ["session_start", "session_end"]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        Session(basic(), FakeClock(), max_intensity=120.0)
    with pytest.raises(ValueError):
        Session(basic(), FakeClock(), countdown=-1)


async def test_event_json_has_the_spec_fields() -> None:
    _session, clock, rec, task = await start(basic())
    await clock.run_until_idle()
    await task
    required = {
        "session_start": {"routine", "total_s", "segments"},
        "session_end": {"status"},
        "segment_start": {"index", "kind", "title", "side", "rep", "due"},
        "segment_end": {"index", "skipped"},
        "cue": {"index", "say"},
    }
    for event in rec.events:
        data = event.to_json()
        assert {"event", "t", "mono"} <= data.keys()
        assert required.get(event.event, set()) <= data.keys(), event.event


class LateClock(FakeClock):
    """A fake clock whose sleepers wake a little after their deadline, as real ones do."""

    LATE = 0.007

    async def sleep_until(self, deadline: float) -> None:
        await super().sleep_until(deadline + self.LATE)


async def test_late_wake_ups_do_not_accumulate() -> None:
    """600 one-second segments, each woken 7 ms late: the end is 7 ms late, not 4.2 s."""
    tl = make_timeline(*[("rest", 1.0)] * 600)
    clock = LateClock(ORIGIN)
    session = Session(tl, clock)
    rec = Recorder()
    session.subscribe(rec)
    task = asyncio.create_task(session.run())
    await clock.run_until_idle()
    assert await task == "completed"
    starts = rec.of("segment_start")
    assert [e["due"] for e in starts] == [float(i) for i in range(600)]
    lateness = [e.t - e["due"] for e in starts[1:]]
    assert max(lateness) == pytest.approx(LateClock.LATE)
    assert min(lateness) == pytest.approx(LateClock.LATE)
    assert rec.of("session_end")[0].t == pytest.approx(600.0 + LateClock.LATE)


async def test_outside_events_and_segment_reports_join_the_stream() -> None:
    """The device controller's seam: its events and its per-segment figures."""
    tl = make_timeline(("massage", 10.0, {"device": DeviceSetting(30.0, 30.0)}), ("rest", 5.0))
    session, clock, rec, task = await start(tl)

    def report(index: int) -> dict[str, Any]:
        # An engine field ("skipped") cannot be overridden from outside.
        return {"motor_s": 9.5, "skipped": "no"} if index == 0 else {}

    def broken(index: int) -> dict[str, Any]:
        raise RuntimeError("radio gone")

    session.add_segment_report(report)
    session.add_segment_report(broken)
    await clock.advance(2.0)
    session.emit("device", action="connect", name="Virtual massager")
    connect = rec.events[-1]
    assert connect.event == "device" and connect["name"] == "Virtual massager"
    assert connect.t == 2.0
    await clock.advance(8.0)
    end = rec.of("segment_end")[0]
    assert end["motor_s"] == 9.5 and end["skipped"] is False
    session.remove_segment_report(report)
    session.remove_segment_report(broken)
    await clock.run_until_idle()
    assert await task == "completed"
    assert "motor_s" not in rec.of("segment_end")[1].data


async def test_run_twice_is_refused_and_scale_before_the_start_is_silent() -> None:
    clock = FakeClock()
    session = Session(make_timeline(("hold", 5.0)), clock)
    rec = Recorder()
    session.subscribe(rec)
    assert session.change_scale(-0.1) == pytest.approx(0.9)
    assert rec.events == []
    task = asyncio.create_task(session.run())
    await clock.settle()
    assert rec.events[0]["scale"] == pytest.approx(0.9)
    with pytest.raises(RuntimeError):
        await session.run()
    await clock.run_until_idle()
    assert await task == "completed"


class _BrokenClock(FakeClock):
    """A clock whose sleeping fails, as a broken timer source would."""

    async def sleep_until(self, deadline: float) -> None:
        raise OSError("the clock failed")


async def test_a_failing_clock_ends_the_run_instead_of_spinning() -> None:
    session = Session(make_timeline(("hold", 10.0)), _BrokenClock())
    # Before the fix the failure was swallowed and the session waited again at once,
    # forever; the timeout here only guards against that hang.
    with pytest.raises(OSError, match="the clock failed"):
        await asyncio.wait_for(session.run(), timeout=5)

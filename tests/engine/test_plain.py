"""The --plain line formatter, the key handling and the --events writer."""

# Commands change the state behind mypy's back (it narrows `session.state`).
# mypy: disable-error-code="comparison-overlap"

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from tproutine.commands.run import handle_key, split_keys
from tproutine.engine.clock import FakeClock
from tproutine.engine.eventlog import EventLog
from tproutine.engine.events import Event, EventName
from tproutine.engine.plain import (
    PlainFormatter,
    PlainOutput,
    clock_text,
    describe_segment,
    duration_text,
    format_line,
    safety_lines,
)
from tproutine.engine.session import Session
from tproutine.routine.timeline import Cue, DeviceSetting, Segment

from . import Recorder, make_timeline


def ev(name: EventName, t: float = 0.0, /, **data: object) -> Event:
    return Event(name, t, 0.0, dict(data))


QL = Segment(
    index=1, kind="hold", title="Quadratus lumborum", start_s=5.0, duration_s=60.0,
    side="left", rep=1, reps=2, pressure=6,
)  # fmt: skip


@pytest.mark.parametrize(
    ("t", "text"),
    [(0.0, "00:00"), (125.0, "02:05"), (124.9999999, "02:05"), (59.9, "00:59"),
     (3725.0, "1:02:05"), (-0.0001, "00:00")],
)  # fmt: skip
def test_clock_text(t: float, text: str) -> None:
    assert clock_text(t) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45.0, "45s"), (60.0, "60s"), (90.0, "90s"), (2.5, "2.5s"), (120.0, "2m"),
     (150.0, "2m30s"), (3900.0, "1h5m"), (642.0, "10m42s")],
)  # fmt: skip
def test_duration_text(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_the_issue_example_line() -> None:
    tl = make_timeline(("get_ready", 5.0))
    tl = type(tl)(name="x", segments=(tl.segments[0], QL), total_s=65.0)
    line = format_line(PlainFormatter(tl), ev("segment_start", 125.0, index=1))
    assert line == "02:05  Hold · Quadratus lumborum · left · rep 1 of 2 · 60s · pressure 6/10"


def test_segment_descriptions() -> None:
    ramp = Segment(
        index=0, kind="massage", title="Glutes", start_s=0, duration_s=90,
        device=DeviceSetting(20, 50), tool="massage gun", instructions="Keep\n  it moving.",
    )  # fmt: skip
    assert describe_segment(ramp) == (
        "Massage · Glutes · 90s · device 20→50% · massage gun — Keep it moving."
    )
    rest = Segment(index=0, kind="rest", title="Rest", start_s=0, duration_s=10)
    assert describe_segment(rest) == "Rest · 10s"
    level = Segment(index=0, kind="massage", title="Calf", start_s=0, duration_s=30,
                    device=DeviceSetting(level=3), rep=1, reps=1)  # fmt: skip
    assert describe_segment(level) == "Massage · Calf · 30s · device level 3"
    switch = Segment(index=0, kind="switch", title="Switch sides", start_s=0, duration_s=5)
    assert describe_segment(switch) == "Switch sides · 5s"


def test_event_lines() -> None:
    tl = make_timeline(("hold", 60.0, {"title": "Piriformis"}), name="Lower back release")
    f = PlainFormatter(tl)
    assert f.body(ev("session_start", routine="Lower back release", total_s=642.0,
                     segments=23)) == "Lower back release · 10m42s · 23 segments"  # fmt: skip
    assert format_line(f, ev("cue", 50.0, index=0, say="Ten seconds left.")) == (
        "00:50  “Ten seconds left.”"
    )
    assert f.body(ev("cue", index=0, say="3", count=3)) == "3"
    assert f.body(ev("breathe", index=0, phase="in", duration_s=4.0)) == "Breathe in · 4s"
    assert f.body(ev("pause", index=0)) == "Paused"
    assert PlainFormatter(tl, keys=True).body(ev("pause")) == "Paused (space to resume)"
    assert f.body(ev("resume")) == "Resumed"
    assert f.body(ev("skip", index=0)) == "Skipped: Piriformis"
    assert f.body(ev("scale", scale=1.1)) == "Intensity ×1.1 for the rest of the session"
    assert f.body(ev("clamp", index=0, asked=72.0, given=60.0, why="your max intensity")) == (
        "Intensity capped at 60% (the routine asks 72%): your max intensity"
    )
    assert f.body(ev("segment_end", index=0, skipped=False)) is None
    completed = ev("session_end", status="completed", segments_done=1, segments_total=1)
    assert f.body(completed) == "Routine complete · Lower back release · 1 of 1 segments done"
    assert f.body(ev("session_end", status="stopped", segments_done=0, segments_total=1)) == (
        "Stopped · Lower back release · 0 of 1 segments done"
    )
    assert f.body(ev("device", action="stop", by="session", halted=True)) == "Motor stopped"
    assert f.body(ev("device", action="connect", name="Virtual massager")) == (
        "Device connected · Virtual massager"
    )
    assert f.body(ev("device", action="set", percent=40.0)) == "Device · 40%"
    assert f.body(ev("device", action="reconnect", reason="link lost")) == (
        "Device reconnected · link lost"
    )


def test_safety_lines() -> None:
    tl = make_timeline(("hold", 5.0), warnings=("Stop on numbness.",), avoid_if=("Pregnant",))
    assert safety_lines(tl) == [
        "Safety:", "  ! Stop on numbness.", "Do not do this routine if:", "  - Pregnant",
    ]  # fmt: skip
    assert safety_lines(make_timeline(("hold", 5.0))) == []


async def test_plain_output_prints_a_whole_session() -> None:
    tl = make_timeline(
        ("get_ready", 5.0),
        ("hold", 10.0, {"title": "Piriformis", "cues": (Cue(0.0, "Lean in."),)}),
        name="Tiny",
    )
    out = io.StringIO()
    clock = FakeClock()
    session = Session(tl, clock, countdown=2)
    session.subscribe(PlainOutput(tl, out))
    task = asyncio.create_task(session.run())
    await clock.run_until_idle()
    await task
    assert out.getvalue().splitlines() == [
        "00:00  Tiny · 15s · 2 segments",
        "00:00  Get ready · 5s",
        "00:05  Hold · Piriformis · 10s",
        "00:05  “Lean in.”",
        "00:13  2",
        "00:14  1",
        "00:15  Routine complete · Tiny · 2 of 2 segments done",
    ]


class LateClock(FakeClock):
    """A machine so busy that every wake-up comes ``late`` seconds after its deadline."""

    def __init__(self, late: float) -> None:
        super().__init__()
        self.late = late

    async def sleep_until(self, deadline: float) -> None:
        await super().sleep_until(deadline + self.late)


async def _plain_text(clock: FakeClock) -> str:
    tl = make_timeline(
        ("get_ready", 3.0),
        ("hold", 9.0, {"title": "Piriformis", "cues": (Cue(0.0, "Lean in."), Cue(4.5, "Ease"))}),
        ("breathe", 7.0, {"title": "Slow", "pattern": (2.0, 3.0)}),
        ("stretch", 4.0, {"title": "Child's pose"}),
        name="Busy",
    )
    out = io.StringIO()
    session = Session(tl, clock, countdown=3)
    session.subscribe(PlainOutput(tl, out))
    task = asyncio.create_task(session.run())
    await clock.run_until_idle()
    await task
    return out.getvalue()


@pytest.mark.parametrize("late", [0.0009, 0.6, 1.3, 2.7])
async def test_a_late_machine_prints_the_same_lines(late: float) -> None:
    # Every scheduled line (segment, cue, count, breathing phase, the end) shows the
    # time it was due: at --speed 500 a millisecond late is half a routine second.
    on_time = await _plain_text(FakeClock())
    assert "00:09  3" in on_time and "00:12  Breathe in · 2s" in on_time
    assert await _plain_text(LateClock(late)) == on_time


def test_plain_output_survives_a_closed_reader() -> None:
    reports: list[str] = []
    out = io.StringIO()
    plain = PlainOutput(make_timeline(("hold", 5.0)), out, report=reports.append)
    out.close()
    plain(ev("pause"))
    plain(ev("resume"))
    assert len(reports) == 1


def test_split_keys() -> None:
    assert split_keys(" np+-sq") == [" ", "n", "p", "+", "-", "s", "q"]
    assert split_keys("\x1b[C\x1b[Dx\x1bOC") == ["right", "left", "x", "right"]
    assert split_keys("\x1b[A\x1b[15~n") == ["n"]  # up and F5 are ignored
    assert split_keys("\x1b") == ["escape"]


async def test_keys_drive_the_session() -> None:
    tl = make_timeline(("hold", 30.0), ("hold", 30.0, {"device": DeviceSetting(40, 40)}))
    clock = FakeClock()
    session = Session(tl, clock)
    rec = Recorder()
    session.subscribe(rec)
    task = asyncio.create_task(session.run())
    await clock.advance(10.0)
    assert handle_key(session, " ") and session.state == "paused"
    assert handle_key(session, " ") and session.state == "running"
    assert handle_key(session, "n") and session.index == 1
    assert handle_key(session, "+") and session.scale == pytest.approx(1.1)
    assert handle_key(session, "-") and session.scale == pytest.approx(1.0)
    assert handle_key(session, "s") and session.device_halted
    assert handle_key(session, "S") and not session.device_halted
    assert handle_key(session, "escape") and session.device_halted
    assert handle_key(session, "p") and session.index == 0  # within 3 s: back to the first
    assert handle_key(session, "right") and session.index == 1
    assert not handle_key(session, "x")
    assert handle_key(session, "q")
    assert await task == "stopped"
    assert rec.names().count("skip") == 2 and rec.names().count("back") == 1


def test_event_log_writes_one_flushed_json_object_per_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = EventLog.open(str(path))
    log(ev("session_start", 0.0, routine="R", total_s=10.0, segments=1))
    # Flushed as it happens: another process can read it before the close.
    assert json.loads(path.read_text())["event"] == "session_start"
    log(ev("cue", 1.23456789, index=0, say="Ça va?"))
    log.close()
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines[1] == {"event": "cue", "t": 1.2346, "mono": 0.0, "index": 0, "say": "Ça va?"}


def test_event_log_to_an_unwritable_place_raises_at_open(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        EventLog.open(str(tmp_path / "missing-folder" / "events.jsonl"))


def test_event_log_write_failure_is_reported_once() -> None:
    class Full(io.StringIO):
        def write(self, s: str) -> int:
            raise OSError(28, "No space left on device")

    reports: list[str] = []
    log = EventLog(Full(), report=reports.append, name="events.jsonl")
    for _ in range(3):
        log(ev("pause"))
    assert reports == ["events: stopped writing to events.jsonl: No space left on device"]


def test_a_pause_with_a_device_is_one_line() -> None:
    tl = make_timeline(("massage", 60.0, {"title": "Glutes"}))
    f = PlainFormatter(tl, keys=True)
    assert f.body(ev("device", action="connect", name="Massager", by="controller")) == (
        "Device connected · Massager"
    )
    assert f.body(ev("pause", index=0)) == "Paused, the motor off (space to resume)"
    # The controller's confirmation of that stop adds nothing: no second line.
    assert f.body(ev("device", action="stop", reason="paused", level=0, by="controller")) is None
    halted = ev("device", action="stop", reason="emergency stop", halted=True, by="session")
    assert f.body(halted) == "Motor stopped (s to allow it again)"
    confirm = ev("device", action="stop", reason="emergency stop", level=0, by="controller")
    assert f.body(confirm) is None
    # Any other stop is news.
    ended = ev("device", action="stop", reason="session ended", level=0, by="controller")
    assert f.body(ended) == "Device stopped · level 0 · session ended"
    assert f.body(ev("device", action="disconnect", name="Massager", by="controller"))
    assert f.body(ev("pause", index=0)) == "Paused (space to resume)"


def test_q_asks_first_when_a_device_is_in_use() -> None:
    from tproutine.commands.run import KeyControl

    tl = make_timeline(("massage", 60.0, {"title": "Glutes"}))
    session = Session(tl, FakeClock())
    session.start()
    said: list[str] = []
    control = KeyControl(session, -1, lambda k: None, say=said.append, confirm_end=True)
    control.key("q")
    assert session.state == "paused"
    assert said == ["End this session? y or enter ends it; any other key goes on."]
    control.key("n")  # goes on: the pause the question made is undone
    assert session.state == "running"
    control.key(" ")  # paused by the person, then q and "no": it stays paused
    control.key("q")
    control.key("x")
    assert session.state == "paused" and said[-1].startswith("Going on, still paused")
    control.key("q")
    control.key("\n")
    assert session.state == "finished" and session.status == "stopped"
    # Without a device, q ends at once (as before).
    other = Session(tl, FakeClock())
    other.start()
    KeyControl(other, -1, lambda k: None).key("q")
    assert other.status == "stopped"

"""The runtime builder: one session with history, cues, plain text and the event log."""

from __future__ import annotations

import asyncio
import io
import json
import stat
from pathlib import Path
from typing import Any

from tproutine.engine.clock import FakeClock
from tproutine.engine.eventlog import EventLog
from tproutine.engine.events import Event
from tproutine.engine.plain import PlainOutput
from tproutine.engine.session import Session
from tproutine.history.store import HistoryStore
from tproutine.routine.timeline import Cue, DeviceSetting
from tproutine.runtime import DeviceLink, Runtime, build_runtime, open_device
from tproutine.settings import Settings

from . import make_timeline

TL = make_timeline(
    ("get_ready", 5.0),
    ("hold", 20.0, {"title": "Piriformis", "cues": (Cue(0.0, "Lean in."),)}),
    ("massage", 20.0, {"title": "Glutes", "device": DeviceSetting(30.0, 70.0)}),
    name="Hips",
    content_hash="abc123",
)


async def drive(rt: Runtime, until: float | None = None) -> str:
    clock = rt.clock
    assert isinstance(clock, FakeClock)
    async with rt:
        task = asyncio.create_task(rt.run())
        if until is None:
            await clock.run_until_idle()
        else:
            await clock.advance(until)
            rt.session.stop()
        status = await task
    return status


async def test_a_session_is_recorded_printed_and_logged(tmp_path: Path) -> None:
    out = io.StringIO()
    events = io.StringIO()
    db = tmp_path / "history.sqlite3"
    reports: list[str] = []
    rt = build_runtime(
        TL,
        clock=FakeClock(),
        settings=Settings(max_intensity=60.0, countdown=0),
        plain=PlainOutput(TL, out),
        event_log=EventLog(events),
        history_path=db,
        file="hips.yaml",
        pain_before=6,
        report=reports.append,
    )
    assert rt.session.max_intensity == 60.0  # from the settings
    assert await drive(rt) == "completed"
    rt.set_pain_after(2)
    rt.close()
    assert reports == []
    assert (
        out.getvalue().splitlines()[-1] == "00:45  Routine complete · Hips · 3 of 3 segments done"
    )
    names = [json.loads(line)["event"] for line in events.getvalue().splitlines()]
    assert names[0] == "session_start" and names[-1] == "session_end" and "clamp" in names
    with HistoryStore.open(db) as store:
        (row,) = store.sessions()
        assert row.status == "completed" and row.routine == "Hips"
        assert row.content_hash == "abc123" and row.file == "hips.yaml"
        assert row.segments_done == 3 and row.pain_before == 6 and row.pain_after == 2
        segments = store.segments(row.id)
        assert [s.record.index for s in segments] == [0, 1, 2]
        assert segments[2].record.percent == 60.0  # capped: the ramp asked for 70
        assert [s.record.actual_s for s in segments] == [5.0, 20.0, 20.0]


async def test_command_line_options_override_the_settings(tmp_path: Path) -> None:
    rt = build_runtime(
        TL, clock=FakeClock(), settings=Settings(max_intensity=60.0, countdown=5),
        max_intensity=30.0, countdown=1, scale=1.5, history=False,
    )  # fmt: skip
    assert rt.session.max_intensity == 30.0
    assert rt.session.countdown == 1 and rt.session.scale == 1.5
    assert rt.store is None and rt.recorder is None


async def test_a_stopped_session_is_recorded_as_stopped(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    rt = build_runtime(TL, clock=FakeClock(), history_path=db)
    assert await drive(rt, until=12.0) == "stopped"
    rt.close()
    with HistoryStore.open(db) as store:
        (row,) = store.sessions()
        assert row.status == "stopped" and row.segments_done == 1
        skipped = [s.record.skipped for s in store.segments(row.id)]
        assert skipped == [False, True]


async def test_a_run_at_another_speed_is_recorded_as_a_preview(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    for speed in (1.0, 100.0):
        rt = build_runtime(TL, clock=FakeClock(), speed=speed, history_path=db)
        assert rt.recorder is not None and rt.recorder.preview is (speed != 1.0)
        assert await drive(rt) == "completed"
        rt.close()
    with HistoryStore.open(db) as store:
        preview, real = store.sessions()
        assert preview.preview and not preview.counts
        assert not real.preview and real.counts


async def test_an_unwritable_data_folder_is_reported_and_the_session_runs(tmp_path: Path) -> None:
    # A folder that cannot be created (its parent is a file) fails for root too,
    # where a chmod'ed folder would not.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    reports: list[str] = []
    out = io.StringIO()
    rt = build_runtime(
        TL, clock=FakeClock(), history_path=blocker / "tproutine" / "history.sqlite3",
        plain=PlainOutput(TL, out), report=reports.append,
    )  # fmt: skip
    assert await drive(rt) == "completed"
    rt.close()
    assert len(reports) == 1 and "history is not being saved" in reports[0]
    assert "Routine complete" in out.getvalue()


async def test_a_read_only_data_folder_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        probe = folder / "probe"
        try:
            probe.write_text("")
            probe.unlink()
            writable = True  # root ignores permissions: nothing to test here
        except PermissionError:
            writable = False
        reports: list[str] = []
        rt = build_runtime(
            TL, clock=FakeClock(), history_path=folder / "history.sqlite3",
            report=reports.append,
        )  # fmt: skip
        assert await drive(rt) == "completed"
        rt.close()
        if not writable:
            assert len(reports) == 1 and "read-only" in reports[0]
    finally:
        folder.chmod(stat.S_IRWXU)


async def test_a_missing_voice_from_the_settings_is_reported_once(tmp_path: Path) -> None:
    reports: list[str] = []
    settings = Settings(voice=True, voice_command=(str(tmp_path / "no-espeak"),))
    rt = build_runtime(TL, clock=FakeClock(), settings=settings, history=False,
                       report=reports.append)  # fmt: skip
    assert rt.cues is not None and rt.cues.voice == [str(tmp_path / "no-espeak")]
    assert await drive(rt) == "completed"
    assert len(reports) == 1 and "no-espeak" in reports[0]


async def test_voice_on_without_any_program_says_so_once(monkeypatch: Any) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    reports: list[str] = []
    rt = build_runtime(TL, clock=FakeClock(), settings=Settings(voice=True), history=False,
                       report=reports.append)  # fmt: skip
    assert rt.cues is None
    assert reports == [
        "voice is on in the settings but no speech program was found; using the bell"
    ]


async def test_no_cue_output_without_a_bell_or_voice() -> None:
    rt = build_runtime(TL, clock=FakeClock(), history=False, voice=False)
    assert rt.cues is None
    rings: list[int] = []
    rt = build_runtime(TL, clock=FakeClock(), history=False, bell=lambda: rings.append(1),
                       countdown=0)  # fmt: skip
    assert await drive(rt) == "completed"
    assert rings == [1]  # the one cue


class FakeDevice:
    """Stands in for the device controller: records what the seam gives it."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.percents: list[float] = []
        self.session: Session | None = None
        self.closed = False

    def on_event(self, event: Event) -> None:
        self.events.append(event)
        if self.session is not None and event.event in ("segment_start", "pause", "resume"):
            self.percents.append(self.session.target_percent())

    async def start(self, session: Session) -> None:
        self.session = session

    async def aclose(self) -> None:
        self.closed = True


async def test_the_device_seam_gets_every_event_and_is_closed() -> None:
    device = FakeDevice()
    assert isinstance(device, DeviceLink)
    rt = build_runtime(TL, clock=FakeClock(), history=False, device=device,
                       max_intensity=50.0)  # fmt: skip
    assert await drive(rt) == "completed"
    assert device.closed and device.session is rt.session
    assert [e.event for e in device.events][-1] == "session_end"
    assert device.percents == [0.0, 0.0, 30.0]


class BrokenDevice(FakeDevice):
    async def start(self, session: Session) -> None:
        raise OSError("adapter unplugged")


async def test_a_device_that_fails_to_start_leaves_a_timer() -> None:
    reports: list[str] = []
    rt = build_runtime(TL, clock=FakeClock(), history=False, device=BrokenDevice(),
                       report=reports.append)  # fmt: skip
    assert await drive(rt) == "completed"
    assert reports == ["device: adapter unplugged; running as a timer only"]


def test_open_device_only_when_a_device_is_used() -> None:
    reports: list[str] = []
    settings = Settings()
    assert open_device("none", None, TL, settings, reports.append) is None
    assert reports == []
    no_device = make_timeline(("hold", 5.0))
    assert open_device(None, None, no_device, settings, reports.append) is None
    assert reports == []
    uses = make_timeline(("massage", 5.0), uses_device=True)
    # The controller itself is tested in tests/devices (issue 4).
    assert isinstance(open_device("sim", None, uses, settings, reports.append), DeviceLink)
    assert open_device("bogus", None, uses, settings, reports.append) is None
    assert len(reports) == 1 and "unknown adapter" in reports[0]


async def test_a_store_handed_in_is_shared_not_closed(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "h.sqlite3") as store:
        for _ in range(2):
            rt = build_runtime(TL, clock=FakeClock(), store=store)
            assert await drive(rt) == "completed"
            rt.set_pain_after(4)
            rt.close()
        assert store.available
        assert [row.pain_after for row in store.sessions()] == [4, 4]

"""History: sessions newest first, the pain trend, and exports to the current folder."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tproutine.engine.clock import FakeClock
from tproutine.history.store import FinalStatus, HistoryStore, SegmentRecord
from tproutine.tui.messages import HistoryExported
from tproutine.tui.screens.history import ExportScreen, HistoryScreen

from .conftest import AppFactory, flat, history_held, library_ready, screen_text, wait_for

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


def seed(path: Path | None = None) -> None:
    """Three sessions a day apart: pain 7→5, 6→4, 5→(not rated); the last one stopped."""
    with HistoryStore.open(path) as store:
        rows: list[tuple[int, int | None, FinalStatus, int]] = [
            (7, 5, "completed", 2),
            (6, 4, "completed", 2),
            (5, None, "stopped", 1),
        ]
        for day, (before, after, status, done) in enumerate(rows):
            start = T0 + timedelta(days=day)
            sid = store.start_session(
                routine="Desk neck reset" if day != 1 else "Calf massage",
                file="x.yaml",
                content_hash="",
                segments_total=2,
                planned_s=95.0,
                pain_before=before,
                started_at=start,
            )
            for i in range(done):
                store.record_segment(
                    sid,
                    SegmentRecord(index=i, kind="hold", title="Hold", planned_s=30, actual_s=30),
                    spent_s=30.0 * (i + 1),
                    ended_at=start + timedelta(seconds=30 * (i + 1)),
                )
            store.finish_session(
                sid, status, spent_s=30.0 * done, ended_at=start + timedelta(minutes=2)
            )
            if after is not None:
                store.set_pain(sid, after=after)


async def open_history(pilot: Pilot[Any]) -> HistoryScreen:
    """The History, once its first page is read (on a thread) and shown."""
    await library_ready(pilot)
    await pilot.press("h")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, HistoryScreen)
    await wait_for(pilot, "the sessions", lambda: screen.loaded)
    return screen


async def test_sessions_newest_first_with_status_time_and_pain(make: AppFactory) -> None:
    seed()
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_history(pilot)
        lines = [line for line in screen_text(app).splitlines() if "2026-11-0" in line]
        assert [line.split()[0:2] for line in lines] == [
            ["2026-11-03", "09:00"],
            ["2026-11-02", "09:00"],
            ["2026-11-01", "09:00"],
        ]
        assert "stopped" in lines[0] and "0:30" in lines[0] and "5 → –" in lines[0]
        assert "Calf massage" in lines[1] and "6 → 4" in lines[1]
        assert "completed" in lines[2] and "1:00" in lines[2] and "7 → 5" in lines[2]
        text = flat(screen_text(app))
        # The chart is the newest session's routine: its two sessions that count (the
        # stopped one had half of its segments done).
        assert "Desk neck reset · pain before and after" in text
        assert "2 sessions; pain first 7→5, latest 5→–; latest week 1" in text
        assert "3 sessions, newest first." in text


async def test_an_empty_history_says_so(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_history(pilot)
        text = flat(screen_text(app))
        assert "No sessions yet." in text and "the charts appear after the first one" in text


async def test_the_chart_follows_the_highlighted_routine(make: AppFactory) -> None:
    seed()
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_history(pilot)
        assert screen.chart_routine == "Desk neck reset"
        await pilot.press("down")
        await pilot.pause()
        assert screen.chart_routine == "Calf massage"
        assert "1 session; pain first 6→4, latest 6→4" in flat(screen_text(app))


async def test_export_each_format_to_the_folder_and_say_where(make: AppFactory, xdg: Path) -> None:
    seed()
    out = xdg / "exports"
    out.mkdir()
    seen: list[object] = []
    app = make(export_dir=out)
    async with app.run_test(size=(120, 36), message_hook=seen.append) as pilot:
        await open_history(pilot)
        for key, suffix in (("c", ".csv"), ("j", ".json"), ("m", ".md"), ("h", ".html")):
            await pilot.press("e")
            await pilot.pause()
            assert isinstance(app.screen, ExportScreen)
            await pilot.press(key)
            await app.workers.wait_for_complete()
            await pilot.pause()
            files = sorted(out.glob(f"*{suffix}"))
            assert len(files) == 1, suffix
            assert f"Exported to {files[0]}" in flat(screen_text(app))
        done = {id(m): m for m in seen if isinstance(m, HistoryExported)}
        assert len(done) == 4 and all(m.error is None for m in done.values())
    rows = list(csv.DictReader(next(out.glob("*.csv")).open()))
    assert [r["status"] for r in rows] == ["stopped", "completed", "completed"]
    data = json.loads(next(out.glob("*.json")).read_text())
    assert [d["pain_before"] for d in data] == [5, 6, 7]
    assert "# Self-care sessions" in next(out.glob("*.md")).read_text()
    page = next(out.glob("*.html")).read_text()
    assert "<h1>Self-care sessions</h1>" in page and page.count("<svg") == 4


async def test_escape_cancels_the_export(make: AppFactory, xdg: Path) -> None:
    app = make(export_dir=xdg)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_history(pilot)
        await pilot.press("e", "escape")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        assert list(xdg.glob("tproutine-history-*")) == []


async def test_an_export_that_cannot_be_written_is_said(make: AppFactory, xdg: Path) -> None:
    app = make(export_dir=xdg / "missing-folder")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_history(pilot)
        await pilot.press("e", "j")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "Could not write" in flat(screen_text(app))


async def test_a_finished_session_shows_when_coming_back(
    make: AppFactory, clock: FakeClock
) -> None:
    from tproutine.settings import Settings

    from .conftest import advance, open_routine

    app = make(settings=Settings(pain_prompts=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_routine(pilot, "Calf massage")
        await advance(pilot, clock, 61)
        await pilot.press("enter")  # the summary, back to the library
        await pilot.pause()
        await pilot.press("h")
        await pilot.pause()
        text = screen_text(app)
        assert "Calf massage" in text and "completed" in text and "1:00" in text


async def test_older_sessions_load_a_page_at_a_time(make: AppFactory, xdg: Path) -> None:
    from textual.widgets import DataTable

    from tproutine.tui.screens.history import PAGE

    with HistoryStore.open() as store:
        for i in range(PAGE * 2 + 5):
            sid = store.start_session(
                routine="Calf massage", file="x.yaml", content_hash="", segments_total=1,
                planned_s=60.0, started_at=T0 + timedelta(hours=i),
            )  # fmt: skip
            store.finish_session(sid, "completed")
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_history(pilot)
        table = screen.query_one("#sessions", DataTable)
        assert table.row_count == PAGE
        assert f"The newest {PAGE} of {PAGE * 2 + 5} sessions" in flat(screen_text(app))
        table.move_cursor(row=PAGE - 5)
        await pilot.pause()
        assert table.row_count == PAGE * 2
        table.move_cursor(row=PAGE * 2 - 1)
        await pilot.pause()
        assert table.row_count == PAGE * 2 + 5
        assert f"{PAGE * 2 + 5} sessions, newest first." in flat(screen_text(app))
        # Newest first, all the way down.
        assert screen.rows == sorted(screen.rows, key=lambda r: r.started_at, reverse=True)


async def test_the_history_and_the_plans_never_wait_on_the_screen(
    make: AppFactory, monkeypatch: Any
) -> None:
    # Opening the history waits while another program holds its lock (up to the 2 s
    # busy timeout, tests/history/test_history_lock.py): here it waits until the test
    # says, and every screen goes on meanwhile.
    from tproutine.tui.screens.library import LibraryScreen

    seed()
    app = make()
    with history_held(app, monkeypatch) as gate:
        async with app.run_test(size=(100, 30)) as pilot:
            await library_ready(pilot)  # listed, its plans still being read
            await pilot.press("h")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, HistoryScreen) and not screen.loaded
            assert "Reading the history…" in flat(screen_text(app))
            await pilot.press("escape")  # the keys work meanwhile
            await pilot.pause()
            assert isinstance(app.screen, LibraryScreen)
            await pilot.press("h")
            await pilot.pause()
            gate.set()
            again = app.screen
            assert isinstance(again, HistoryScreen)
            await wait_for(pilot, "the sessions", lambda: again.loaded)
            assert "3 sessions, newest first." in flat(screen_text(app))

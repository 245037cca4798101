"""`tproutine due` and the History screen with 5,000 sessions against 10 (issue 12).

Two histories are made, one with 10 sessions and one with 5,000 (a planned routine
and two others, over about four years), in two private data folders with the same
planned routine in the library. Each side is measured the same way in the same
run, alternating, and the figure is the ratio of the medians:

- ``tproutine due --json`` as a process (what a person or a script runs), from
  launch to exit;
- the History screen in the app (headless, Textual's pilot): from pressing ``h``
  on the Library to the screen showing its table and chart.

Target: each within 1.5× of the time with 10 sessions.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

SMALL, LARGE = 10, 5_000
RUNS = 7
TARGET = 1.5

ROUTINE = """\
format: tproutine/1
name: Neck and shoulders
plan: {per_week: 3, weeks: 6, reminder: "18:00"}
steps:
  - hold: Upper trapezius
    duration: 45s
"""


def make_home(root: Path, sessions: int) -> Path:
    """A data folder with the planned routine and ``sessions`` sessions in its history."""
    from tproutine.history.store import HistoryStore

    data = root / f"data-{sessions}"
    routines = data / "tproutine" / "routines"
    routines.mkdir(parents=True)
    (routines / "neck.yaml").write_text(ROUTINE, encoding="utf-8")
    db = data / "tproutine" / "history.sqlite3"
    HistoryStore.open(db).close()  # the schema, as the app makes it
    start = datetime.now(timezone.utc) - timedelta(hours=8 * sessions)
    names = ("Neck and shoulders", "Low back release", "Calves")
    rows = []
    for i in range(sessions):
        moment = (start + timedelta(hours=8 * i)).replace(microsecond=0)
        rows.append(
            (
                names[i % 3], "neck.yaml", "h", moment.isoformat(),
                (moment + timedelta(minutes=10)).isoformat(), "completed", 10, 10, 600.0, 600.0,
                5 + i % 3, 3 + i % 2, i % 7 == 0, 3 if i % 3 == 0 else None, 6,
            )
        )  # fmt: skip
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO sessions (routine, file, content_hash, started_at, ended_at, status,"
            " segments_total, segments_done, planned_s, spent_s, pain_before, pain_after,"
            " preview, plan_per_week, plan_weeks) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
    return data


def time_due(data: Path) -> float:
    env = dict(os.environ, XDG_DATA_HOME=str(data), XDG_CONFIG_HOME=str(data / "config"))
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tproutine", "due", "--json"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    elapsed = time.perf_counter() - began
    assert done.returncode == 0 and '"routine": "Neck and shoulders"' in done.stdout, done.stderr
    return elapsed


async def time_history(data: Path) -> float:
    from textual.widgets import DataTable

    from tproutine.settings import Settings
    from tproutine.tui.app import AppOptions, make_app
    from tproutine.tui.screens.history import HistoryScreen

    app = make_app(
        AppOptions(
            routine_dirs=((data / "tproutine" / "routines", "yours"),),
            history_path=data / "tproutine" / "history.sqlite3",
            bell=False,
            adapter="none",
            voice=False,
            save_theme=False,
        ),
        settings=Settings(),
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.history_store()  # opened once, as after the first visit
        began = time.perf_counter()
        await pilot.press("h")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        assert screen.query_one("#sessions", DataTable).row_count > 0
        assert screen.chart_routine is not None
        elapsed = time.perf_counter() - began
    return elapsed


def _ratio(small: list[float], large: list[float]) -> float:
    return statistics.median(large) / statistics.median(small)


def main() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        homes = {n: make_home(root, n) for n in (SMALL, LARGE)}
        os.environ["XDG_CONFIG_HOME"] = str(root / "config")
        due: dict[int, list[float]] = {SMALL: [], LARGE: []}
        history: dict[int, list[float]] = {SMALL: [], LARGE: []}
        time_due(homes[SMALL])  # warm the file cache
        asyncio.run(time_history(homes[SMALL]))
        for _ in range(RUNS):
            for n in (SMALL, LARGE):
                due[n].append(time_due(homes[n]))
                history[n].append(asyncio.run(time_history(homes[n])))
    ok = True
    for what, times in (("tproutine due", due), ("History screen", history)):
        ratio = _ratio(times[SMALL], times[LARGE])
        met = ratio <= TARGET
        ok = ok and met
        print(
            f"{what:15} {SMALL:>5,} sessions {statistics.median(times[SMALL]) * 1000:7.1f} ms   "
            f"{LARGE:,} sessions {statistics.median(times[LARGE]) * 1000:7.1f} ms   "
            f"ratio {ratio:4.2f} (target ≤ {TARGET}) {'ok' if met else 'MISSED'}"
        )
    return ok

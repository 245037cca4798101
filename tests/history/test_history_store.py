"""The SQLite history: real files in a temporary data folder, no mocks."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tproutine import paths
from tproutine.history.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    HistoryStore,
    ProcessMarker,
    SegmentRecord,
)

UTC = timezone.utc
T0 = datetime(2026, 11, 21, 9, 14, 3, tzinfo=UTC)
SPEC_KEYS = [
    "id",
    "routine",
    "file",
    "started_at",
    "ended_at",
    "status",
    "segments_done",
    "segments_total",
    "pain_before",
    "pain_after",
]
# Added after the spec's keys (docs/cli.md, "Extensions to the contract").
EXTENSION_KEYS = ["preview", "adjustment"]


def seg(index: int, *, skipped: bool = False, actual: float = 30.0) -> SegmentRecord:
    return SegmentRecord(
        index=index, kind="hold", title=f"Point {index}", planned_s=30.0, actual_s=actual,
        skipped=skipped, side="left", rep=1,
    )  # fmt: skip


def new_session(store: HistoryStore, **overrides: object) -> int:
    args: dict[str, object] = {
        "routine": "Lower back release",
        "file": "routines/lower-back.yaml",
        "content_hash": "abc123",
        "segments_total": 3,
        "planned_s": 90.0,
        "pain_before": 6,
        "started_at": T0,
    }
    args.update(overrides)
    sid = store.start_session(**args)  # type: ignore[arg-type]
    assert sid > 0
    return sid


def raw(path: Path) -> sqlite3.Connection:
    """A second, independent connection: what another process would see."""
    return sqlite3.connect(path)


# --- opening -------------------------------------------------------------------------


def test_open_creates_the_folders_a_private_file_in_wal_mode(xdg: Path) -> None:
    assert not paths.data_dir().exists()
    with HistoryStore.open() as store:
        assert store.path == paths.history_path()
        assert store.available and store.messages == []
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
        with raw(store.path) as other:
            assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert other.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            assert other.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_reopening_keeps_the_data(store: HistoryStore) -> None:
    sid = new_session(store)
    store.close()
    with HistoryStore.open() as again:
        assert again.messages == []
        assert [s.id for s in again.sessions()] == [sid]


# --- writing -------------------------------------------------------------------------


def test_each_segment_is_committed_as_it_ends(store: HistoryStore) -> None:
    sid = new_session(store)
    other = raw(store.path)
    try:
        row = other.execute("SELECT status, segments_done, ended_at FROM sessions").fetchone()
        assert row == ("running", 0, None)
        for n in (1, 2):
            store.record_segment(sid, seg(n - 1), spent_s=30.0 * n)
            assert other.execute("SELECT COUNT(*) FROM segments").fetchone()[0] == n
            done, spent = other.execute("SELECT segments_done, spent_s FROM sessions").fetchone()
            assert (done, spent) == (n, 30.0 * n)
    finally:
        other.close()


def test_segment_fields_are_stored(store: HistoryStore) -> None:
    sid = new_session(store)
    record = SegmentRecord(
        index=4, kind="massage", title="Glutes", planned_s=90.0, actual_s=87.5, skipped=False,
        side=None, rep=1, percent=50.0, level=None, motor_s=80.0, mean_level=3.5,
        peak_force=12.0, manual_changes=2,
    )  # fmt: skip
    store.record_segment(sid, record, ended_at=T0 + timedelta(minutes=5))
    [row] = store.segments(sid)
    assert row.record == record
    assert row.ended_at == T0 + timedelta(minutes=5)


def test_done_counts_distinct_segments_finished_without_a_skip(store: HistoryStore) -> None:
    sid = new_session(store)
    store.record_segment(sid, seg(0))
    store.record_segment(sid, seg(1, skipped=True, actual=3.0))
    store.record_segment(sid, seg(0))  # went back and did it again
    store.record_segment(sid, seg(2))
    row = store.session(sid)
    assert row is not None
    assert (row.segments_done, row.segments_total) == (2, 3)
    assert len(store.segments(sid)) == 4


def test_finish_and_pain(store: HistoryStore) -> None:
    sid = new_session(store, pain_before=None)
    store.finish_session(sid, "stopped", spent_s=61.5, ended_at=T0 + timedelta(minutes=2))
    store.set_pain(sid, before=7, after=4)
    row = store.session(sid)
    assert row is not None
    assert (row.status, row.spent_s, row.ended_at) == ("stopped", 61.5, T0 + timedelta(minutes=2))
    assert (row.pain_before, row.pain_after) == (7, 4)
    store.set_pain(sid, after=3)  # the other rating stays
    row = store.session(sid)
    assert row is not None and (row.pain_before, row.pain_after) == (7, 3)


@pytest.mark.parametrize("bad", [-1, 11, True, 5.5])
def test_pain_outside_0_to_10_is_refused(store: HistoryStore, bad: object) -> None:
    sid = new_session(store)
    with pytest.raises(ValueError, match="0 to 10"):
        store.set_pain(sid, after=bad)  # type: ignore[arg-type]


def test_json_has_the_spec_shape_then_the_extensions(store: HistoryStore) -> None:
    sid = new_session(store)
    for i in range(3):
        store.record_segment(sid, seg(i))
    store.finish_session(sid, "completed", pain_after=3, ended_at=T0 + timedelta(seconds=762))
    [item] = store.session_json()
    assert list(item) == SPEC_KEYS + EXTENSION_KEYS
    assert item == {
        "id": sid,
        "routine": "Lower back release",
        "file": "routines/lower-back.yaml",
        "started_at": "2026-11-21T09:14:03+00:00",
        "ended_at": "2026-11-21T09:26:45+00:00",
        "status": "completed",
        "segments_done": 3,
        "segments_total": 3,
        "pain_before": 6,
        "pain_after": 3,
        "preview": False,
        "adjustment": None,
    }


def test_timestamps_are_stored_in_utc(store: HistoryStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    sid = new_session(store, started_at=datetime(2026, 11, 21, 11, 14, 3, 999, tzinfo=plus_two))
    with raw(store.path) as other:
        started = other.execute("SELECT started_at FROM sessions WHERE id = ?", (sid,)).fetchone()
    assert started[0] == "2026-11-21T09:14:03+00:00"


def test_sessions_newest_first_and_filtered(store: HistoryStore) -> None:
    days = [1, 5, 10]
    ids = {
        d: new_session(
            store,
            routine="Neck" if d == 5 else "Lower back release",
            started_at=datetime(2026, 11, d, 12, tzinfo=UTC),
        )
        for d in days
    }
    assert [s.id for s in store.sessions()] == [ids[10], ids[5], ids[1]]
    assert [s.id for s in store.sessions(routine="lower BACK release")] == [ids[10], ids[1]]
    # A date is a local day: whatever the zone, noon UTC on the 5th is on or after it.
    assert [s.id for s in store.sessions(since=date(2026, 11, 5))] == [ids[10], ids[5]]
    since = datetime(2026, 11, 5, 12, 0, 1, tzinfo=UTC)
    assert [s.id for s in store.sessions(since=since)] == [ids[10]]


# --- sessions left running -----------------------------------------------------------


def test_a_session_of_a_dead_process_is_marked_interrupted(
    store: HistoryStore, crashing_writer: Callable[[Path], tuple[int, int]]
) -> None:
    pid, sid = crashing_writer(store.path)
    assert not _pid_running(pid)
    [before] = store.sessions()
    assert (before.id, before.status, before.ended_at) == (sid, "running", None)

    assert store.mark_interrupted() == 1

    row = store.session(sid)
    assert row is not None
    assert row.status == "interrupted"
    assert (row.segments_done, row.spent_s) == (2, 120.0)
    # It ended, as far as anyone knows, when its last segment was saved.
    assert row.ended_at == datetime(2026, 11, 20, 8, 2, tzinfo=UTC)
    assert [s.record.title for s in store.segments(sid)] == ["seg 0", "seg 1"]
    assert store.mark_interrupted() == 0


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_session_of_a_live_process_is_left_running(store: HistoryStore) -> None:
    sid = new_session(store)
    assert store.mark_interrupted() == 0
    row = store.session(sid)
    assert row is not None and row.status == "running"


def _set(store: HistoryStore, sid: int, column: str, value: object) -> None:
    with raw(store.path) as other:
        other.execute(f"UPDATE sessions SET {column} = ? WHERE id = ?", (value, sid))


def test_a_reused_pid_is_told_apart_by_its_start_time(store: HistoryStore) -> None:
    here = ProcessMarker.current()
    if here.proc_start is None:
        pytest.skip("no /proc here: process start times are not available")
    sid = new_session(store)
    # Same pid as a live process (this one), but another process's start time.
    _set(store, sid, "proc_start", here.proc_start - 1)
    assert store.mark_interrupted() == 1
    row = store.session(sid)
    assert row is not None and row.status == "interrupted"


def test_a_session_from_before_a_restart_is_interrupted(store: HistoryStore) -> None:
    if ProcessMarker.current().boot_id is None:
        pytest.skip("no boot id here")
    sid = new_session(store)
    _set(store, sid, "boot_id", "another-boot")
    assert store.mark_interrupted() == 1


def test_a_session_of_another_machine_waits_a_day(store: HistoryStore) -> None:
    sid = new_session(store)
    _set(store, sid, "host", "another-machine")
    assert store.mark_interrupted(now=T0 + timedelta(hours=2)) == 0
    assert store.mark_interrupted(now=T0 + timedelta(days=2)) == 1
    row = store.session(sid)
    assert row is not None and (row.status, row.ended_at) == ("interrupted", T0)


# --- damaged files are moved aside, never overwritten ------------------------------------


def _moved(db: Path, kind: str) -> list[Path]:
    return sorted(db.parent.glob(f"{db.name}.{kind}-*[0-9TZ]"))


def test_a_corrupt_file_is_moved_aside_and_a_new_history_started(xdg: Path) -> None:
    db = paths.history_path()
    db.parent.mkdir(parents=True)
    garbage = b"this is not a database\n" * 200
    db.write_bytes(garbage)

    with HistoryStore.open() as store:
        [moved] = _moved(db, "corrupt")
        assert moved.read_bytes() == garbage
        [message] = store.messages
        assert "\n" not in message
        assert moved.name in message and "new history" in message
        assert store.available
        new_session(store)
        assert len(store.sessions()) == 1


def test_damaged_pages_are_found_and_the_file_moved_aside(store: HistoryStore) -> None:
    sid = new_session(store)
    for i in range(40):  # enough rows for several pages
        store.record_segment(sid, SegmentRecord(i, "hold", "x" * 400, 30.0, 30.0))
    store.close()
    db = store.path
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) >= 4 * page
    data[2 * page : 3 * page] = b"\xff" * page
    db.write_bytes(bytes(data))

    with HistoryStore.open() as again:
        [moved] = _moved(db, "corrupt")
        assert moved.read_bytes() == bytes(data)
        [message] = again.messages
        assert "damaged" in message and "\n" not in message
        assert again.sessions() == []


def test_a_newer_schema_is_moved_aside_not_downgraded(xdg: Path) -> None:
    db = paths.history_path()
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as newer:
        newer.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, whatever TEXT)")
        newer.execute("INSERT INTO sessions (whatever) VALUES ('from the future')")
        newer.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 4}")
    newer.close()
    original = db.read_bytes()

    with HistoryStore.open() as store:
        [moved] = _moved(db, f"newer-v{SCHEMA_VERSION + 4}")
        assert moved.read_bytes() == original
        [message] = store.messages
        assert "newer tproutine" in message and moved.name in message
        assert store.sessions() == []
        new_session(store)
    with sqlite3.connect(moved) as kept:
        assert kept.execute("SELECT whatever FROM sessions").fetchone() == ("from the future",)
    kept.close()


def test_another_programs_database_is_moved_aside(xdg: Path) -> None:
    db = paths.history_path()
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as other:
        other.execute("CREATE TABLE notes (text TEXT)")
    other.close()
    with HistoryStore.open() as store:
        assert len(_moved(db, "foreign")) == 1
        assert "not a tproutine history" in store.messages[0]


def test_moving_aside_twice_keeps_both_files(xdg: Path) -> None:
    db = paths.history_path()
    db.parent.mkdir(parents=True)
    for content in (b"first broken file" * 50, b"second broken file" * 50):
        db.write_bytes(content)
        HistoryStore.open().close()
    moved = _moved(db, "corrupt") + sorted(db.parent.glob(f"{db.name}.corrupt-*-2"))
    contents = {p.read_bytes() for p in moved}
    assert contents == {b"first broken file" * 50, b"second broken file" * 50}


# --- a folder that cannot be written -------------------------------------------------


def test_a_data_folder_that_cannot_be_created_leaves_sessions_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # chmod does not stop root, so make the folder impossible: its parent is a file.
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker / "data"))

    store = HistoryStore.open()
    assert not store.available and not store.readable
    [message] = store.messages
    assert "not being saved" in message and "sessions still run" in message
    sid = store.start_session(
        routine="r", file=None, content_hash="", segments_total=1, planned_s=1.0
    )
    assert sid == 0
    store.record_segment(sid, seg(0))
    store.finish_session(sid, "completed")
    store.set_pain(sid, after=2)
    assert store.mark_interrupted() == 0
    assert store.sessions() == [] and store.session_json() == []
    assert len(store.messages) == 1


def _chmod_stops_writes(folder: Path) -> bool:
    """Whether a 0o500 folder refuses writes here (root and Windows ignore the mode)."""
    probe = folder / "probe"
    probe.mkdir()
    probe.chmod(0o500)
    try:
        (probe / "file").write_text("x")
    except PermissionError:
        return True
    finally:
        probe.chmod(0o700)
        (probe / "file").unlink(missing_ok=True)
        probe.rmdir()
    return False


@pytest.mark.parametrize("read_only", ["folder", "file"])
def test_a_read_only_history_keeps_past_sessions_readable(
    store: HistoryStore, read_only: str
) -> None:
    if not _chmod_stops_writes(store.path.parent.parent):
        pytest.skip("this user writes to read-only folders (root); see the test above")
    sid = new_session(store)
    store.finish_session(sid, "completed")
    store.close()
    folder = store.path.parent
    (folder if read_only == "folder" else store.path).chmod(
        0o500 if read_only == "folder" else 0o400
    )
    try:
        again = HistoryStore.open()
        assert not again.available and again.readable
        [message] = again.messages
        assert "not being saved" in message and "read-only" in message
        assert [s.id for s in again.sessions()] == [sid]
        sid2 = again.start_session(
            routine="r", file=None, content_hash="", segments_total=1, planned_s=1.0
        )
        assert sid2 == 0
        again.close()
    finally:
        folder.chmod(0o700)
        store.path.chmod(0o600)


def test_a_full_disk_turns_the_store_off_with_one_message(store: HistoryStore) -> None:
    sid = new_session(store)
    store.record_segment(sid, seg(0))
    # SQLite's own "database or disk is full": cap the file at its current size.
    conn = store._conn
    assert conn is not None
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    for i in range(1, 6):
        store.record_segment(sid, SegmentRecord(i, "hold", "x" * 20_000, 30.0, 30.0))
    store.finish_session(sid, "completed")
    assert not store.available
    [message] = store.messages
    assert re.search(r"disk is full", message)
    # What was committed before is still there.
    [row] = store.sessions()
    assert (row.status, row.segments_done) == ("running", 1)


# --- schema 2: previews, adjustments, plans -------------------------------------------------

V1_DATABASE = Path(__file__).resolve().parent / "data" / "history-v1.sqlite3"


def test_a_schema_1_history_is_upgraded_in_place(tmp_path: Path) -> None:
    # history-v1.sqlite3 was written by the schema-1 store (three sessions, 2026-11).
    db = tmp_path / "history.sqlite3"
    db.write_bytes(V1_DATABASE.read_bytes())
    with raw(db) as before:
        assert before.execute("PRAGMA user_version").fetchone()[0] == 1
    with HistoryStore.open(db) as store:
        assert store.available and store.messages == []
        rows = store.sessions()
        assert [(r.status, r.segments_done, r.pain_before, r.pain_after) for r in rows] == [
            ("completed", 3, 5, 3),
            ("stopped", 1, 5, None),
            ("completed", 3, 6, 4),
        ]
        # Old sessions were real sessions with nothing adjusted and no plan recorded.
        assert all(not r.preview and r.adjustment is None for r in rows)
        assert all(r.plan_per_week is None for r in rows)
        assert len(store.segments(rows[0].id)) == 3
        # And the upgraded file takes the new columns.
        sid = store.start_session(
            routine="Neck and shoulders", file="neck.yaml", content_hash="cd" * 32,
            segments_total=3, planned_s=90.0, preview=True, adjustment_hash="ef" * 32,
            adjustment="time ×0.75", plan_per_week=3, plan_weeks=6,
        )  # fmt: skip
        new = store.session(sid)
        assert new is not None
        assert (new.preview, new.adjustment, new.plan_per_week, new.plan_weeks) == (
            True, "time ×0.75", 3, 6,
        )  # fmt: skip
    with raw(db) as after:
        assert after.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert not list(after.execute("PRAGMA foreign_key_check"))
        assert after.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # No copy was moved aside: the file was upgraded, not replaced.
    assert {p.name for p in tmp_path.iterdir()} <= {db.name, db.name + "-wal", db.name + "-shm"}


def test_a_schema_1_history_on_a_read_only_medium_is_still_read(tmp_path: Path) -> None:
    from tproutine.history.store import _open_read_only

    db = tmp_path / "history.sqlite3"
    db.write_bytes(V1_DATABASE.read_bytes())
    conn = _open_read_only(db)
    assert conn is not None
    store = HistoryStore(db, conn, writable=False, messages=[], marker=ProcessMarker.current())
    rows = store.sessions(previews=False)
    assert len(rows) == 3 and not any(r.preview for r in rows)
    store.close()


def test_previews_are_kept_but_can_be_left_out(store: HistoryStore) -> None:
    real = new_session(store)
    preview = new_session(store, preview=True, started_at=T0 + timedelta(hours=1))
    assert [r.id for r in store.sessions()] == [preview, real]
    assert [r.id for r in store.sessions(previews=False)] == [real]
    assert store.count() == 2 and store.count(previews=False) == 1
    assert store.session_json()[0]["preview"] is True


def test_limit_keeps_the_newest(store: HistoryStore) -> None:
    ids = [new_session(store, started_at=T0 + timedelta(days=i)) for i in range(5)]
    assert [r.id for r in store.sessions(limit=2)] == ids[::-1][:2]
    assert [r.id for r in store.sessions("LOWER back release", limit=3)] == ids[::-1][:3]
    assert [r.id for r in store.sessions(limit=2, offset=2)] == ids[::-1][2:4]
    assert [r.id for r in store.sessions("Lower back release", limit=2, offset=4)] == [ids[0]]


@pytest.mark.parametrize(
    ("status", "done", "total", "preview", "counts"),
    [
        ("completed", 3, 3, False, True),
        ("completed", 3, 3, True, False),
        ("stopped", 5, 10, False, True),
        ("stopped", 4, 10, False, False),
        ("interrupted", 5, 10, False, True),
        ("interrupted", 1, 10, False, False),
        ("running", 10, 10, False, False),
        ("stopped", 0, 0, False, False),
    ],
)
def test_which_sessions_count(
    store: HistoryStore, status: str, done: int, total: int, preview: bool, counts: bool
) -> None:
    from dataclasses import replace

    sid = new_session(store, preview=preview)
    row = store.session(sid)
    assert row is not None
    row = replace(row, status=status, segments_done=done, segments_total=total)  # type: ignore[arg-type]
    assert row.counts is counts

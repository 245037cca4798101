"""History that waits its turn: another process holds a lock on the real SQLite file.

The locker is a second Python process with its own connection: ``BEGIN EXCLUSIVE``
(writers wait, readers of the WAL database do not), or with ``locking_mode =
EXCLUSIVE`` as well (nobody else may even read). Sessions recorded meanwhile are
kept, written when the lock goes (or kept in a journal beside the database and added
the next time), and read commands word their messages for reading.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tproutine import paths
from tproutine.history import store as store_module
from tproutine.history.store import HistoryStore, SegmentRecord

WAIT_S = 60.0  # generous: the retries back off, and the machine may be busy

LOCKER = """\
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
if sys.argv[2] == "everyone":
    conn.execute("PRAGMA locking_mode = EXCLUSIVE")
conn.execute("BEGIN EXCLUSIVE")
if sys.argv[2] == "everyone":
    conn.execute("UPDATE sessions SET id = id WHERE 0")  # take the lock for real
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
conn.close()
"""


class Locker:
    """A second process that holds an exclusive lock until :meth:`release`."""

    def __init__(self, db: Path, mode: str = "writers") -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(db), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write("go\n")
            self.process.stdin.close()
            assert self.process.wait(WAIT_S) == 0


@pytest.fixture
def db(xdg: Path) -> Path:
    with HistoryStore.open():  # an existing history, as after a first session
        pass
    return paths.history_path()


@pytest.fixture
def locked(db: Path) -> Iterator[Callable[..., Locker]]:
    lockers: list[Locker] = []

    def lock(mode: str = "writers") -> Locker:
        lockers.append(Locker(db, mode))
        return lockers[-1]

    yield lock
    for locker in lockers:
        locker.release()


def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"waited {WAIT_S:g}s for {what}"
        time.sleep(0.05)


def record_session(store: HistoryStore, name: str = "Neck") -> int:
    sid = store.start_session(
        routine=name, file="neck.yaml", content_hash="h", segments_total=2, planned_s=60.0,
        pain_before=6, started_at=datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc),
    )  # fmt: skip
    for index in range(2):
        store.record_segment(
            sid, SegmentRecord(index=index, kind="hold", title="A", planned_s=30.0, actual_s=30.0),
            spent_s=30.0 * (index + 1),
        )  # fmt: skip
    store.set_device(sid, "TP-Massager")
    store.finish_session(sid, "completed", pain_after=3, spent_s=60.0)
    return sid


def saved() -> list[tuple[str, str, int, int | None, str | None]]:
    with HistoryStore.open(reading=True) as reader:
        return [
            (r.routine, r.status, r.segments_done, r.pain_after, r.device)
            for r in reader.sessions()
        ]


def test_a_session_recorded_while_locked_is_written_when_the_lock_goes(
    db: Path, locked: Callable[..., Locker]
) -> None:
    store = HistoryStore.open()
    locker = locked()
    sid = record_session(store)
    assert sid < 0  # provisional: the row waits for the lock
    assert store.available and store.waiting
    assert store.messages == [
        "history: the database is busy (another program holds a lock on it); what is "
        "recorded meanwhile is kept and saved as soon as it is free"
    ]
    assert saved() == []  # the reader is not blocked, and sees nothing yet
    locker.release()
    eventually(lambda: not store.waiting, "the retry to write the session")
    assert saved() == [("Neck", "completed", 2, 3, "TP-Massager")]
    assert "history: the database is free again; what waited is saved" in store.messages
    store.set_pain(sid, after=2)  # the provisional id still reaches its row
    store.close()
    assert saved() == [("Neck", "completed", 2, 2, "TP-Massager")]
    assert not list(db.parent.glob("*.pending-*"))


def test_a_history_locked_at_start_waits_in_the_background(
    db: Path, locked: Callable[..., Locker]
) -> None:
    locker = locked("everyone")  # not even reading is possible
    store = HistoryStore.open()
    assert store.available and store.waiting and not store.readable
    record_session(store)
    locker.release()
    eventually(lambda: not store.waiting, "the store to open and write")
    store.close()
    assert saved() == [("Neck", "completed", 2, 3, "TP-Massager")]


def test_still_locked_at_the_end_the_session_is_kept_beside_it_and_added_next_time(
    db: Path, locked: Callable[..., Locker], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "_CLOSE_WAIT_S", 1.0)
    store = HistoryStore.open()
    locker = locked()
    record_session(store)
    store.close()  # tries once more, then keeps it in a journal and says where
    [journal] = db.parent.glob(f"{db.name}.pending-*.jsonl")
    assert store.messages[-1] == (
        f"history: the database stayed busy, so this session is kept in {journal}; it is "
        "added to the history the next time tproutine can write it"
    )
    assert oct(journal.stat().st_mode & 0o777) == "0o600"  # pain ratings are health data
    locker.release()
    with HistoryStore.open() as again:
        assert again.messages == [
            f"history: added 1 session kept while the database was busy ({journal.name})"
        ]
    assert not journal.exists()
    assert saved() == [("Neck", "completed", 2, 3, "TP-Massager")]


def _cli(xdg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(XDG_DATA_HOME=str(xdg / "data"), XDG_CONFIG_HOME=str(xdg / "config"))
    return subprocess.run(
        [sys.executable, "-m", "tproutine", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


ROUTINE = (
    "format: tproutine/1\nname: Locked\nget_ready: 0s\nsteps:\n  - hold: A\n    duration: 2s\n"
)


def test_run_plain_under_a_lock_says_so_once_and_the_session_is_in_history_later(
    xdg: Path, db: Path, locked: Callable[..., Locker]
) -> None:
    routine = xdg / "locked.yaml"
    routine.write_text(ROUTINE, encoding="utf-8")
    locker = locked()
    run = _cli(xdg, "run", str(routine), "--plain", "--speed", "2", "--adapter", "none")
    assert run.returncode == 0, run.stderr
    assert "Routine complete" in run.stdout
    lines = run.stderr.splitlines()
    assert lines[0] == (
        "tproutine: history: the database is busy (another program holds a lock on it); what "
        "is recorded meanwhile is kept and saved as soon as it is free"
    )
    [journal] = db.parent.glob(f"{db.name}.pending-*.jsonl")
    assert lines[1:] == [
        f"tproutine: history: the database stayed busy, so this session is kept in {journal}; "
        "it is added to the history the next time tproutine can write it"
    ]
    # A read command, while the writer still holds its lock: words for reading.
    listing = _cli(xdg, "history")
    assert "not being saved" not in listing.stderr and listing.returncode == 0
    locker.release()
    listing = _cli(xdg, "history", "--json")
    assert listing.returncode == 0, listing.stderr
    assert '"routine": "Locked"' in listing.stdout and '"status": "completed"' in listing.stdout
    assert "added 1 session kept while the database was busy" in listing.stderr
    assert not journal.exists()


def test_a_read_command_says_it_cannot_read_when_nobody_may(
    xdg: Path, locked: Callable[..., Locker]
) -> None:
    locked("everyone")
    listing = _cli(xdg, "history")
    assert listing.returncode == 1
    assert listing.stderr.splitlines() == [
        f"history: cannot read {paths.history_path()} now: another program holds a lock on it "
        "(try again when it is done)"
    ]


# --- writing behind: the store's own thread writes (the app's sessions) ----------------


def test_writing_behind_reads_see_every_earlier_write(db: Path) -> None:
    store = HistoryStore.open(behind=True)
    sid = record_session(store)
    assert sid < 0  # the start is queued: a provisional id, at once
    # A read writes what is queued first (here, on the reading thread).
    assert [(r.routine, r.status, r.pain_after) for r in store.sessions()] == [
        ("Neck", "completed", 3)
    ]
    store.close()
    assert saved() == [("Neck", "completed", 2, 3, "TP-Massager")]
    assert store.messages == []  # nothing waited for anybody: nothing to say


def test_writing_behind_under_a_lock_waits_on_its_thread_and_writes_when_it_goes(
    db: Path, locked: Callable[..., Locker]
) -> None:
    store = HistoryStore.open()
    store.write_behind()
    locker = locked()
    sid = record_session(store)  # returns at once: nothing here waits for the lock
    assert sid < 0
    eventually(lambda: store.waiting, "the writer to meet the lock")
    assert not store.saving and store.settle(0.0)  # settled: kept until the lock goes
    assert store.messages == [
        "history: the database is busy (another program holds a lock on it); what is "
        "recorded meanwhile is kept and saved as soon as it is free"
    ]
    assert saved() == []
    locker.release()
    eventually(lambda: not store.waiting, "the writer's retry")
    assert saved() == [("Neck", "completed", 2, 3, "TP-Massager")]
    assert store.messages[-1] == "history: the database is free again; what waited is saved"
    store.close()


def test_a_journal_names_a_session_already_written_by_its_real_id(
    db: Path, locked: Callable[..., Locker], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "_CLOSE_WAIT_S", 1.0)
    store = HistoryStore.open(behind=True)
    sid = store.start_session(
        routine="Neck", file="neck.yaml", content_hash="h", segments_total=2, planned_s=60.0
    )
    assert store.settle(WAIT_S)  # its start is in the database; its id stays provisional
    locker = locked()
    store.record_segment(
        sid, SegmentRecord(index=0, kind="hold", title="A", planned_s=30.0, actual_s=30.0)
    )
    store.finish_session(sid, "stopped", pain_after=2, spent_s=30.0)
    store.close()  # still locked: kept in a journal
    [journal] = db.parent.glob(f"{db.name}.pending-*.jsonl")
    locker.release()
    with HistoryStore.open() as again:
        assert again.messages == [
            f"history: added 1 session kept while the database was busy ({journal.name})"
        ]
    assert saved() == [("Neck", "stopped", 1, 2, None)]

"""The session history: one SQLite file in the person's data folder.

A session is on disk from its first segment on and every finished segment is
its own short transaction, so a crash or a power cut loses at most the segment
that was running (CLI spec, ``history --json``). Sessions left ``running`` by a
process that has died are marked ``interrupted`` at the next start.

The store must never stop a routine: a damaged database is moved aside (never
overwritten) and a fresh one is started; a folder that cannot be written turns
the store into an "unavailable" no-op. Either way the reason is kept as one line
in :attr:`HistoryStore.messages` for the UI, and nothing is raised to the caller
of a write.

A database that another program has locked is waited for, not given up on: the
writes are kept (in order, in memory) and retried with backoff until the lock goes;
at the latest when the store is closed at the end of a session it tries for a few
seconds more, and what still cannot be written is kept in a journal beside the
database (``pending.py``), said once with its path, and added the next time the
history is opened.

The app records behind the screen (:meth:`HistoryStore.write_behind`): each write
joins that same queue and one thread of the store's own writes it, so a commit (an
fsync; a wait for another program's lock) never holds up the Player. Whatever reads
the store first writes what is queued, so a reader always sees every write made
before it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from time import monotonic, sleep
from typing import Any, Literal, TypeVar, cast

from tproutine import paths
from tproutine.history import pending
from tproutine.history.pending import Op
from tproutine.safetext import one_line

log = logging.getLogger(__name__)
# The messages reach the person through the UI; without this, Python's last-resort
# handler would print them a second time on stderr (or over the TUI) whenever the
# app has not configured logging.
logging.getLogger("tproutine.history").addHandler(logging.NullHandler())

Status = Literal["running", "completed", "stopped", "interrupted"]
FinalStatus = Literal["completed", "stopped", "interrupted"]

SCHEMA_VERSION = 2
# "tprt": tells a tproutine history apart from any other SQLite file at the same path.
APPLICATION_ID = 0x74707274
# Primary result codes (sqlite3 exports them only from Python 3.11 on).
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_FULL = 5, 6, 8, 13

# A session on another machine (a synced home folder) cannot be checked for
# liveness; no routine runs for a day, so one this old is certainly over.
STALE_AFTER = timedelta(days=1)
# Another process (``tproutine history`` in a second terminal) may hold the write
# lock for a moment. Wait briefly, but never long enough to stall the session clock.
_BUSY_TIMEOUT_S = 2.0
# While another program holds the lock: retry after 0.5 s, 1 s, 2 s … up to every 30 s.
_RETRY_FIRST_S = 0.5
_RETRY_MAX_S = 30.0
# At the end (close), how long to keep trying before the journal beside the database.
_CLOSE_WAIT_S = 10.0

_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """
        CREATE TABLE sessions (
            id             INTEGER PRIMARY KEY,
            routine        TEXT    NOT NULL,
            file           TEXT,
            content_hash   TEXT    NOT NULL DEFAULT '',
            started_at     TEXT    NOT NULL,
            ended_at       TEXT,
            status         TEXT    NOT NULL DEFAULT 'running'
                           CHECK (status IN ('running', 'completed', 'stopped', 'interrupted')),
            segments_total INTEGER NOT NULL CHECK (segments_total >= 0),
            segments_done  INTEGER NOT NULL DEFAULT 0,
            planned_s      REAL    NOT NULL,
            spent_s        REAL    NOT NULL DEFAULT 0,
            pain_before    INTEGER CHECK (pain_before BETWEEN 0 AND 10),
            pain_after     INTEGER CHECK (pain_after BETWEEN 0 AND 10),
            device         TEXT,
            pid            INTEGER,
            proc_start     INTEGER,
            boot_id        TEXT,
            host           TEXT
        )
        """,
        "CREATE INDEX sessions_started ON sessions (started_at)",
        "CREATE INDEX sessions_running ON sessions (status) WHERE status = 'running'",
        """
        CREATE TABLE segments (
            id             INTEGER PRIMARY KEY,
            session_id     INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            idx            INTEGER NOT NULL,
            kind           TEXT    NOT NULL,
            title          TEXT    NOT NULL,
            side           TEXT,
            rep            INTEGER,
            planned_s      REAL    NOT NULL,
            actual_s       REAL,
            skipped        INTEGER NOT NULL CHECK (skipped IN (0, 1)),
            ended_at       TEXT    NOT NULL,
            percent        REAL,
            level          INTEGER,
            motor_s        REAL,
            mean_level     REAL,
            peak_force     REAL,
            manual_changes INTEGER
        )
        """,
        "CREATE INDEX segments_session ON segments (session_id, idx)",
    ),
    # 2: what a session was. A preview (run with --speed other than 1) is kept but
    # never counted as done; the adjustment in force and the routine's plan are kept
    # so that reports can show them without the routine file.
    2: (
        "ALTER TABLE sessions ADD COLUMN preview INTEGER NOT NULL DEFAULT 0"
        " CHECK (preview IN (0, 1))",
        "ALTER TABLE sessions ADD COLUMN adjustment_hash TEXT",
        "ALTER TABLE sessions ADD COLUMN adjustment TEXT",
        "ALTER TABLE sessions ADD COLUMN plan_per_week INTEGER",
        "ALTER TABLE sessions ADD COLUMN plan_weeks INTEGER",
    ),
}


def utc_now() -> datetime:
    """Now, in UTC, to the second (the stored form has no fractions)."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("history timestamps must be timezone-aware")
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def _parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def since_moment(since: date | datetime) -> datetime:
    """The first moment counted by ``since``: a date means local midnight of that day."""
    if isinstance(since, datetime):
        return since if since.tzinfo else since.astimezone()
    return datetime.combine(since, time()).astimezone()


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    """One finished (or skipped) segment, as the recorder hands it to the store.

    ``planned_s`` and ``actual_s`` are on the session clock (pauses excluded).
    ``percent``/``level`` are what the device was set to, where there was one;
    the last four fields are filled only when the device reports its state.
    """

    index: int
    kind: str
    title: str
    planned_s: float
    actual_s: float | None
    skipped: bool = False
    side: str | None = None
    rep: int | None = None
    percent: float | None = None
    level: int | None = None
    motor_s: float | None = None
    mean_level: float | None = None
    peak_force: float | None = None
    manual_changes: int | None = None


@dataclass(frozen=True, slots=True)
class SegmentRow:
    """A stored segment: the record plus when it ended."""

    session_id: int
    record: SegmentRecord
    ended_at: datetime


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One stored session."""

    id: int
    routine: str
    file: str | None
    content_hash: str
    started_at: datetime
    ended_at: datetime | None
    status: Status
    segments_total: int
    segments_done: int
    planned_s: float
    spent_s: float
    pain_before: int | None
    pain_after: int | None
    device: str | None
    preview: bool = False  # run with --speed other than 1: never counted as done
    adjustment_hash: str | None = None
    adjustment: str | None = None  # the adjustment's one-line summary
    plan_per_week: int | None = None  # the routine's plan when it ran
    plan_weeks: int | None = None

    @property
    def counts(self) -> bool:
        """Whether this session counts towards a plan: a real session (not a preview)
        that was completed, or ended early with at least half of its segments done."""
        return self.counts_with(previews=False)

    def counts_with(self, *, previews: bool) -> bool:
        """:attr:`counts`, with preview runs counted too when ``previews`` (the
        ``--include-previews`` of ``due`` and the exports)."""
        if self.preview and not previews:
            return False
        if self.status == "completed":
            return True
        if self.status in ("stopped", "interrupted"):
            return self.segments_total > 0 and 2 * self.segments_done >= self.segments_total
        return False

    def to_json(self) -> dict[str, Any]:
        """The shape of ``history --json`` (CLI spec), key for key, then ``preview`` and
        ``adjustment`` (an extension)."""
        return {
            "id": self.id,
            "routine": self.routine,
            "file": self.file,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "status": self.status,
            "segments_done": self.segments_done,
            "segments_total": self.segments_total,
            "pain_before": self.pain_before,
            "pain_after": self.pain_after,
            "preview": self.preview,
            "adjustment": self.adjustment,
        }


# --- which process wrote a session, and is it still alive -------------------------


@dataclass(frozen=True, slots=True)
class ProcessMarker:
    """Enough to tell, later, whether the process that wrote a session still runs.

    A pid alone is not enough: pids are reused, so the process's start time
    (Linux: clock ticks since boot, from ``/proc``) and the boot are kept too.
    """

    pid: int
    proc_start: int | None
    boot_id: str | None
    host: str

    @classmethod
    def current(cls) -> ProcessMarker:
        pid = os.getpid()
        return cls(pid, _process_start(pid), _boot_id(), socket.gethostname())


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _process_start(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = stat.rpartition(")")[2].split()
    try:
        return int(fields[19])  # field 22, "starttime"; fields here start at field 3
    except (IndexError, ValueError):
        return None


def _pid_exists(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":
        # os.kill(pid, 0) would terminate the process on Windows.
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return kernel32.GetLastError() == 5  # access denied: it exists
        try:
            code = ctypes.c_ulong()
            kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    except OSError:
        return False
    return True


def writer_alive(
    marker: ProcessMarker, here: ProcessMarker, started_at: datetime, now: datetime
) -> bool:
    """Whether the process described by ``marker`` may still be writing its session."""
    if marker.host != here.host:
        return now - started_at < STALE_AFTER
    if marker.boot_id and here.boot_id and marker.boot_id != here.boot_id:
        return False  # the machine restarted since
    if not _pid_exists(marker.pid):
        return False
    if marker.proc_start is not None:
        current = _process_start(marker.pid)
        if current is not None and current != marker.proc_start:
            return False  # the pid now belongs to another process
    return True


# --- the store -------------------------------------------------------------------

_T = TypeVar("_T")


def _errorcode(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    return code & 0xFF if isinstance(code, int) else None


def _one_line(text: str, limit: int = 160) -> str:
    """SQLite's details may span lines (quick_check); the UI gets one short line."""
    flat = " ".join(one_line(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class _Damaged(Exception):
    """The database file cannot be used as it is and must be moved aside."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = _one_line(reason)


class HistoryStore:
    """Sessions and their segments in SQLite (WAL, ``PRAGMA user_version`` schema).

    Writes never raise: failures are logged, noted in :attr:`messages`, and a
    folder that cannot be written makes the store :attr:`available` ``False``
    (every later write is a no-op). Safe to share between threads.
    """

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection | None,
        *,
        writable: bool,
        messages: list[str],
        marker: ProcessMarker,
        reading: bool = False,
    ) -> None:
        self.path = path
        self._conn = conn
        self._writable = writable
        self.messages = messages
        self._marker = marker
        self._reading = reading
        # The connection. Re-entrant: the writer thread opens the database and then
        # adds the journals and sweeps, each of which takes it too.
        self._lock = threading.RLock()
        self._version = _user_version(conn)
        self._columns = _SESSION_COLUMNS if self._version >= 2 else _SESSION_COLUMNS_V1
        # Writes waiting for another program's lock, in order (their own small lock, so
        # that queueing one never waits for a retry in progress).
        self._queue_lock = threading.Lock()
        self._pending: list[Op] = []
        self._ids: dict[int, int] = {}  # provisional session id -> real id
        self._next_provisional = 0
        self._retry_in = _RETRY_FIRST_S
        self._timer: threading.Timer | None = None
        self._closed = False
        # Writing behind (write_behind): the writer thread, what wakes it, whether its
        # last try found another program's lock, and who waits for it to settle.
        self._writer: threading.Thread | None = None
        self._wake = threading.Event()
        self._blocked = False
        self._swept = False
        self._settled = threading.Condition()
        # Called on the writer thread when :attr:`messages` has new lines (the app
        # passes them on to the person; nothing else says them while nothing happens).
        self.on_news: Callable[[], None] | None = None

    # -- opening --------------------------------------------------------------

    @classmethod
    def open(
        cls, path: Path | str | None = None, *, reading: bool = False, behind: bool = False
    ) -> HistoryStore:
        """Open (creating folders and schema as needed) the history at ``path``.

        The default is :func:`tproutine.paths.history_path`. Never raises for a
        damaged file or an unwritable folder; see :attr:`messages`. A database
        that another program has locked is waited for in the background.
        ``reading``: for commands that only read (``history``, ``due``): a lock is
        said in words for reading, and nothing is queued. ``behind``: returns at
        once, writing behind (:meth:`write_behind`); the writer thread opens and
        checks the database, adds the journals and sweeps the sessions of dead
        processes, and says what it found in :attr:`messages`.
        """
        db = Path(path) if path is not None else paths.history_path()
        messages: list[str] = []
        marker = ProcessMarker.current()
        if behind and not reading:
            store = cls(db, None, writable=True, messages=messages, marker=marker)
            store.write_behind()
            return store
        try:
            db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            conn = _open_checked(db, messages)
        except (OSError, sqlite3.Error) as exc:
            busy = _errorcode(exc) in (_SQLITE_BUSY, _SQLITE_LOCKED)
            if busy and reading:
                # A writer's lock does not stop a reader of a WAL database; only a
                # lock that keeps readers out too ends here.
                reader = _open_for_reading(db)
                if reader is None:
                    messages.append(
                        f"history: cannot read {db} now: another program holds a lock on "
                        "it (try again when it is done)"
                    )
                return cls(db, reader, writable=False, messages=messages, marker=marker)
            if busy:
                messages.append(_BUSY_MESSAGE)
                log.warning(messages[-1])
                store = cls(db, None, writable=True, messages=messages, marker=marker)
                with store._lock:
                    store._schedule_retry()
                return store
            messages.append(
                f"history: cannot read {db} ({_why(db, exc)})"
                if reading
                else _unavailable_message(db, exc)
            )
            log.warning(messages[-1])
            return cls(db, _open_read_only(db), writable=False, messages=messages, marker=marker)
        store = cls(db, conn, writable=True, messages=messages, marker=marker, reading=reading)
        store._add_journals()
        return store

    @property
    def available(self) -> bool:
        """False once the history cannot be written: sessions run but are not saved.

        A history that is only busy (another program's lock) is still available:
        its writes wait (see :attr:`waiting`)."""
        return self._writable

    @property
    def waiting(self) -> bool:
        """Writes are kept in memory until another program lets go of the database."""
        with self._queue_lock:
            kept = bool(self._pending) or (self._writable and self._conn is None)
        # Behind the screen every write waits a moment in the queue: it is only
        # "kept" once the writer has found the lock.
        return kept and (self._writer is None or self._blocked)

    @property
    def saving(self) -> bool:
        """Writing behind: writes are queued that the writer has not tried yet."""
        if self._writer is None or self._blocked or self._closed or not self._writable:
            return False
        with self._queue_lock:
            return bool(self._pending) or self._conn is None

    def settle(self, timeout: float) -> bool:
        """Wait, at most ``timeout`` seconds, until every write made so far is on disk or
        waits for another program's lock (:attr:`saving` is False); whether it is."""
        deadline = monotonic() + timeout
        with self._settled:
            while self.saving:
                left = deadline - monotonic()
                if left <= 0:
                    return False
                self._settled.wait(min(left, 0.1))
        return True

    def write_behind(self) -> None:
        """From now on, writes are queued and written by a thread of the store's own.

        ``start_session`` then returns a provisional id (below 0), as it does while the
        database is busy. The thread retries a busy database with the same backoff, and
        :meth:`close` writes what is left or keeps it in a journal, as before.
        """
        if self._writer is not None or self._closed:
            return
        self._writer = threading.Thread(
            target=self._write_loop, name="tproutine-history-writer", daemon=True
        )
        self._writer.start()
        self._wake.set()  # the sweep (and the opening) first

    def _write_loop(self) -> None:
        delay: float | None = None
        said = len(self.messages)
        while True:
            self._wake.wait(delay)
            self._wake.clear()
            with self._lock:
                if self._closed:
                    return
                try:
                    written = self._write_queued()
                except Exception as exc:
                    # Never a silent end: what is queued goes to the journal at close.
                    log.exception("history: the writer failed")
                    self._give_up(exc)
                    written = False
            if written:
                self._blocked, delay, self._retry_in = False, None, _RETRY_FIRST_S
            elif self._writable:
                # Another program holds the lock: said once, tried again later.
                self._note(_BUSY_MESSAGE)
                self._blocked = True
                delay, self._retry_in = self._retry_in, min(self._retry_in * 2, _RETRY_MAX_S)
            else:
                delay = None  # given up (said): what is queued goes to a journal at close
            with self._settled:
                self._settled.notify_all()
            if len(self.messages) != said and self.on_news is not None:
                said = len(self.messages)
                try:
                    self.on_news()
                except Exception:
                    log.exception("history: a listener for its messages failed")

    def _write_queued(self) -> bool:
        """The writer's turn (connection lock held): open the database if it is not
        yet, sweep once, then write the queue; whether nothing is left."""
        opening = self._conn is None
        if opening and self._writable:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                self._give_up(exc)
        if not self._writable or not self._flush(announce=self._blocked):
            if opening and not self._writable:
                # A folder that cannot be written: past sessions can still be read.
                self._conn = _open_read_only(self.path)
            return False
        if opening:
            self._add_journals()
        if not self._swept:
            self.mark_interrupted()
        return True

    @property
    def readable(self) -> bool:
        """False when not even past sessions can be read (no database could be opened)."""
        return self._conn is not None

    def close(self) -> None:
        """Write what waits (trying for a few seconds more), else keep it in a journal."""
        self._wake.set()  # a writer thread waiting for its next try ends
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            deadline = monotonic() + _CLOSE_WAIT_S
            pause = 0.1
            announce = self._writer is None or self._blocked  # else nothing waited long
            while self._has_pending() and self._writable and monotonic() < deadline:
                if self._flush(announce=announce):
                    break
                sleep(min(pause, max(deadline - monotonic(), 0.0)))
                pause = min(pause * 2, 2.0)
            if self._has_pending():
                self._keep_in_journal()
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._writable = False

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        assert self._conn is not None
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
            # Inside the try: a COMMIT that fails (a full disk) must not leave the
            # transaction open for the next write.
            self._conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise

    def _submit(self, op: Op) -> int:
        """Write ``op`` now, or queue it behind the writes that wait for the lock.

        Returns the session's id: the real one, a provisional one (below 0) for a
        session whose start waits, or 0 when the history cannot be written.
        """
        with self._queue_lock:
            # Writing behind, every write joins the queue and wakes the writer.
            if self._writer is not None and self._writable and not self._closed:
                self._wake.set()
                return self._enqueue(op)
            # Never wait behind a retry in progress: join the queue. (The connection is
            # read without its lock: at worst one write tries a moment too soon.)
            if self._pending or (self._conn is None and self._writable and not self._closed):
                return self._enqueue(op)
        with self._lock:
            if not self._writable or self._closed:
                return 0
            if self._conn is None:
                with self._queue_lock:
                    return self._enqueue(op)
            try:
                with self._transaction() as conn:
                    return pending.apply(conn, op, self._ids)
            except (sqlite3.Error, OSError) as exc:
                if _errorcode(exc) in (_SQLITE_BUSY, _SQLITE_LOCKED):
                    self._note(_BUSY_MESSAGE)
                    with self._queue_lock:
                        sid = self._enqueue(op)
                    self._schedule_retry()
                    return sid
                self._writable = False
                self._note(_unavailable_message(self.path, exc))
                return 0

    def _enqueue(self, op: Op) -> int:
        # Called with the queue lock held.
        if op.kind == "start":
            self._next_provisional -= 1
            op.sid = self._next_provisional
        self._pending.append(op)
        return op.sid

    def _has_pending(self) -> bool:
        with self._queue_lock:
            return bool(self._pending)

    def _schedule_retry(self) -> None:
        # Called with the connection lock held.
        if self._timer is not None or self._closed:
            return
        delay, self._retry_in = self._retry_in, min(self._retry_in * 2, _RETRY_MAX_S)
        self._timer = threading.Timer(delay, self._retry)
        self._timer.daemon = True
        self._timer.start()

    def _retry(self) -> None:
        with self._lock:
            self._timer = None
            if self._closed or not self._writable:
                return
            if self._flush():
                self._retry_in = _RETRY_FIRST_S
            else:
                self._schedule_retry()

    def _flush(self, *, announce: bool = True) -> bool:
        """Write every waiting op, in order; whether none is left. Connection lock held.

        ``announce``: say that the database is free again once what waited is written
        (not for the writer's everyday writes, which waited for nobody)."""
        if self._conn is None:
            try:
                self._conn = _open_checked(self.path, self.messages)
            except (OSError, sqlite3.Error) as exc:
                if _errorcode(exc) not in (_SQLITE_BUSY, _SQLITE_LOCKED):
                    self._give_up(exc)
                return False
            self._version = _user_version(self._conn)
            self._columns = _SESSION_COLUMNS
        while True:
            with self._queue_lock:
                batch = list(self._pending)
            if not batch:
                return True
            ids = dict(self._ids)
            try:
                with self._transaction() as conn:
                    for op in batch:
                        pending.apply(conn, op, ids)
            except (sqlite3.Error, OSError) as exc:
                if _errorcode(exc) not in (_SQLITE_BUSY, _SQLITE_LOCKED):
                    self._give_up(exc)
                return False
            self._ids = ids
            with self._queue_lock:
                del self._pending[: len(batch)]
            if announce:
                self._note("history: the database is free again; what waited is saved")

    def _give_up(self, exc: BaseException) -> None:
        # Not a lock: a full disk, a read-only folder. What waits goes to the journal
        # at the end, where it may still be saved another day.
        self._writable = False
        self._note(_unavailable_message(self.path, exc))

    def _keep_in_journal(self) -> None:
        with self._queue_lock:
            ops, self._pending = self._pending, []
        for op in ops:
            # A session whose start is written already is named by its real id: the
            # journal is read with no memory of this run's provisional ones.
            op.sid = self._ids.get(op.sid, op.sid)
        try:
            kept = pending.write_journal(self.path, ops)
        except OSError as exc:
            self._note(
                f"history: this session could not be saved: the database stayed busy and "
                f"{self.path.parent} cannot be written ({exc.strerror or exc})"
            )
            return
        self._note(
            f"history: the database stayed busy, so this session is kept in {kept}; "
            "it is added to the history the next time tproutine can write it"
        )

    def _add_journals(self) -> None:
        """Add the sessions kept beside the database while it was busy, then drop them."""
        for journal in pending.journals(self.path):
            try:
                ops = pending.read_journal(journal)
            except (OSError, ValueError) as exc:
                self._note(f"history: {journal.name} cannot be read ({exc}); it is left as it is")
                continue
            try:
                with self._lock, self._transaction() as conn:
                    ids: dict[int, int] = {}
                    for op in ops:
                        pending.apply(conn, op, ids)
            except (sqlite3.Error, OSError):
                return  # busy or failing: the journal stays for next time
            journal.unlink(missing_ok=True)
            # Sessions begun in the journal, and the ends of ones begun in the database.
            started = len({op.sid for op in ops})
            self._note(
                f"history: added {started} session{'s' if started != 1 else ''} kept while "
                f"the database was busy ({journal.name})"
            )

    def _read(self, fn: Callable[[sqlite3.Connection], list[_T]]) -> list[_T]:
        with self._lock:
            if self.saving:
                # Writing behind: what was written before this read is read too (the
                # writer would commit it in a moment; this commits it now instead).
                self._write_queued()
            if self._conn is None:
                return []
            try:
                return fn(self._conn)
            except (sqlite3.Error, ValueError) as exc:
                # ValueError: a hand-edited row that no longer parses.
                if _errorcode(exc) in (_SQLITE_BUSY, _SQLITE_LOCKED):
                    self._note(
                        f"history: cannot read {self.path} now: another program holds a "
                        "lock on it (try again when it is done)"
                    )
                else:
                    self._note(f"history: could not read {self.path}: {exc}")
                return []

    def _note(self, message: str) -> None:
        # One line per distinct problem: a full disk must not flood the UI at every segment.
        message = _one_line(message, 300)
        if message not in self.messages:
            self.messages.append(message)
            log.warning(message)

    # -- writing --------------------------------------------------------------

    def start_session(
        self,
        *,
        routine: str,
        file: str | None,
        content_hash: str,
        segments_total: int,
        planned_s: float,
        pain_before: int | None = None,
        device: str | None = None,
        started_at: datetime | None = None,
        preview: bool = False,
        adjustment_hash: str | None = None,
        adjustment: str | None = None,
        plan_per_week: int | None = None,
        plan_weeks: int | None = None,
    ) -> int:
        """Write a ``running`` session (at its first segment) and return its id.

        Returns 0, which is never a real id, when the history is unavailable (later
        calls with id 0 do nothing), and a provisional id below 0 while the database
        is busy: later calls with it are kept in order with the session's start.
        """
        _check_pain(pain_before)
        m = self._marker
        values = {
            "routine": routine, "file": file, "content_hash": content_hash,
            "started_at": _iso(started_at or utc_now()), "segments_total": segments_total,
            "planned_s": planned_s, "pain_before": pain_before, "device": device,
            "pid": m.pid, "proc_start": m.proc_start, "boot_id": m.boot_id, "host": m.host,
            "preview": int(preview), "adjustment_hash": adjustment_hash,
            "adjustment": adjustment, "plan_per_week": plan_per_week, "plan_weeks": plan_weeks,
        }  # fmt: skip
        return self._submit(Op("start", 0, values))

    def record_segment(
        self,
        session_id: int,
        segment: SegmentRecord,
        *,
        spent_s: float | None = None,
        ended_at: datetime | None = None,
    ) -> None:
        """Commit one finished segment at once, and the session's progress with it.

        ``spent_s`` is the session clock when the segment ended (time spent so far).
        """
        if session_id == 0:
            return
        s = segment
        values = {
            "idx": s.index, "kind": s.kind, "title": s.title, "side": s.side, "rep": s.rep,
            "planned_s": s.planned_s, "actual_s": s.actual_s, "skipped": int(s.skipped),
            "ended_at": _iso(ended_at or utc_now()), "percent": s.percent, "level": s.level,
            "motor_s": s.motor_s, "mean_level": s.mean_level, "peak_force": s.peak_force,
            "manual_changes": s.manual_changes, "spent": spent_s,
        }  # fmt: skip
        self._submit(Op("segment", session_id, values))

    def finish_session(
        self,
        session_id: int,
        status: FinalStatus,
        pain_after: int | None = None,
        *,
        spent_s: float | None = None,
        ended_at: datetime | None = None,
    ) -> None:
        """Close a session with its final status (and the pain rating, if already known)."""
        if status not in ("completed", "stopped", "interrupted"):
            raise ValueError(f"not a final session status: {status!r}")
        _check_pain(pain_after)
        if session_id == 0:
            return
        values = {
            "status": status,
            "ended": _iso(ended_at or utc_now()),
            "spent": spent_s,
            "pain": pain_after,
        }
        self._submit(Op("finish", session_id, values))

    def set_pain(
        self, session_id: int, *, before: int | None = None, after: int | None = None
    ) -> None:
        """Record pain ratings (0-10) given after the fact; ``None`` leaves a rating as it is."""
        _check_pain(before)
        _check_pain(after)
        if session_id == 0 or (before is None and after is None):
            return
        self._submit(Op("pain", session_id, {"before": before, "after": after}))

    def set_device(self, session_id: int, device: str | None) -> None:
        """Name the device used (it may connect after the session started)."""
        if session_id == 0:
            return
        self._submit(Op("device", session_id, {"device": device}))

    def mark_interrupted(self, *, now: datetime | None = None) -> int:
        """Mark ``interrupted`` the running sessions whose process is gone; return how many.

        Called at start-up. Their finished segments stay; ``ended_at`` becomes the
        end of the last finished segment (the last moment known to be alive).
        Writing behind, the writer thread does it (and this returns 0).
        """
        if self._writer is not None and threading.current_thread() is not self._writer:
            self._swept = False
            self._wake.set()
            return 0
        self._swept = True
        moment = now or utc_now()
        here = self._marker

        def sweep(conn: sqlite3.Connection) -> int:
            rows = conn.execute(
                "SELECT id, pid, proc_start, boot_id, host, started_at"
                " FROM sessions WHERE status = 'running'"
            ).fetchall()
            dead = [
                r[0]
                for r in rows
                if not writer_alive(
                    ProcessMarker(r[1] or 0, r[2], r[3], r[4] or ""),
                    here,
                    _started(r[5]),
                    moment,
                )
            ]
            for session_id in dead:
                conn.execute(
                    "UPDATE sessions SET status = 'interrupted', ended_at = COALESCE("
                    " (SELECT MAX(ended_at) FROM segments WHERE session_id = :id), started_at)"
                    " WHERE id = :id",
                    {"id": session_id},
                )
            return len(dead)

        # Housekeeping, done again at every start: when the database is busy or cannot
        # be written it waits for next time, without a word (and without queueing).
        with self._lock:
            if not self._writable or self._conn is None or self._closed:
                return 0
            try:
                with self._transaction() as conn:
                    count = sweep(conn)
            except (sqlite3.Error, OSError) as exc:
                log.debug("history: could not mark interrupted sessions: %s", exc)
                return 0
        if count:
            log.info("history: marked %d unfinished session(s) as interrupted", count)
        return count

    # -- reading --------------------------------------------------------------

    def sessions(
        self,
        routine: str | None = None,
        since: date | datetime | None = None,
        *,
        previews: bool = True,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[SessionRow]:
        """Sessions, newest first; ``routine`` matches the name ignoring case,
        ``since`` keeps those started on or after it (a date: local midnight),
        ``previews=False`` leaves out preview runs, ``limit`` keeps the newest ones
        after skipping ``offset`` of them (a page)."""
        sql = f"SELECT {self._columns} FROM sessions"
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("started_at >= ?")
            params.append(_iso(since_moment(since)))
        if not previews and self._version >= 2:
            where.append("preview = 0")
        if routine is not None:
            # SQLite's lower() folds ASCII only: the exact match is made below.
            where.append("lower(routine) = lower(?)")
            params.append(routine)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, id DESC"
        if limit is not None and routine is None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        rows = self._read(lambda conn: [_session_row(r) for r in conn.execute(sql, params)])
        if routine is not None:
            wanted = routine.casefold()
            rows = [r for r in rows if r.routine.casefold() == wanted]
            end = None if limit is None else offset + limit
            rows = rows[offset:end]
        return rows

    def count(self, *, previews: bool = True) -> int:
        """How many sessions the history holds."""
        sql = "SELECT COUNT(*) FROM sessions"
        if not previews and self._version >= 2:
            sql += " WHERE preview = 0"
        found = self._read(lambda conn: [int(conn.execute(sql).fetchone()[0])])
        return found[0] if found else 0

    def session(self, session_id: int) -> SessionRow | None:
        found = self._read(
            lambda conn: [
                _session_row(r)
                for r in conn.execute(
                    f"SELECT {self._columns} FROM sessions WHERE id = ?", (session_id,)
                )
            ]
        )
        return found[0] if found else None

    def segments(self, session_id: int) -> list[SegmentRow]:
        """A session's segments in the order they ended."""
        return self._read(
            lambda conn: [
                _segment_row(r)
                for r in conn.execute(
                    f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE session_id = ? ORDER BY id",
                    (session_id,),
                )
            ]
        )

    def session_json(
        self, routine: str | None = None, since: date | datetime | None = None
    ) -> list[dict[str, Any]]:
        """The ``history --json`` array (CLI spec), newest first."""
        return [row.to_json() for row in self.sessions(routine, since)]


_SESSION_COLUMNS = (
    "id, routine, file, content_hash, started_at, ended_at, status, segments_total,"
    " segments_done, planned_s, spent_s, pain_before, pain_after, device,"
    " preview, adjustment_hash, adjustment, plan_per_week, plan_weeks"
)
# A schema-1 history on a read-only medium cannot be upgraded: read it as it is.
_SESSION_COLUMNS_V1 = _SESSION_COLUMNS.replace(
    "preview, adjustment_hash, adjustment, plan_per_week, plan_weeks",
    "0, NULL, NULL, NULL, NULL",
)
_SEGMENT_COLUMNS = (
    "session_id, idx, kind, title, planned_s, actual_s, skipped, side, rep, percent, level,"
    " motor_s, mean_level, peak_force, manual_changes, ended_at"
)


def _session_row(r: Sequence[Any]) -> SessionRow:
    started = _parse_iso(r[4])
    assert started is not None  # NOT NULL in the schema
    return SessionRow(
        id=r[0], routine=r[1], file=r[2], content_hash=r[3], started_at=started,
        ended_at=_parse_iso(r[5]), status=cast(Status, r[6]), segments_total=r[7],
        segments_done=r[8], planned_s=r[9], spent_s=r[10], pain_before=r[11],
        pain_after=r[12], device=r[13], preview=bool(r[14]), adjustment_hash=r[15],
        adjustment=r[16], plan_per_week=r[17], plan_weeks=r[18],
    )  # fmt: skip


def _segment_row(r: Sequence[Any]) -> SegmentRow:
    record = SegmentRecord(
        index=r[1], kind=r[2], title=r[3], planned_s=r[4], actual_s=r[5], skipped=bool(r[6]),
        side=r[7], rep=r[8], percent=r[9], level=r[10], motor_s=r[11], mean_level=r[12],
        peak_force=r[13], manual_changes=r[14],
    )  # fmt: skip
    ended = _parse_iso(r[15])
    assert ended is not None  # NOT NULL in the schema
    return SegmentRow(session_id=r[0], record=record, ended_at=ended)


def _started(text: str) -> datetime:
    # A start time that no longer parses (edited by hand) counts as long ago.
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return datetime.min.replace(tzinfo=timezone.utc)


def _check_pain(value: int | None) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10
    ):
        raise ValueError(f"a pain rating is a whole number from 0 to 10, not {value!r}")


# --- opening, checking, moving aside ------------------------------------------------


def _connect(db: Path) -> sqlite3.Connection:
    # Autocommit: transactions are explicit (BEGIN IMMEDIATE ... COMMIT), one per write.
    # check_same_thread is off because the store's own lock serialises access.
    return sqlite3.connect(
        db, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )


def _create_private(db: Path) -> None:
    # Pain ratings are health data: only the person may read the file (and its
    # -wal/-shm, which SQLite creates with the database's permissions).
    if not db.exists():
        os.close(os.open(db, os.O_CREAT | os.O_RDWR, 0o600))


def _open_checked(db: Path, messages: list[str]) -> sqlite3.Connection:
    """Connect to ``db``; a damaged or newer file is moved aside and replaced."""
    _create_private(db)
    conn = _connect(db)
    try:
        _check(conn)
    except _Damaged as damaged:
        conn.close()
        moved = _move_aside(db, damaged.kind)
        messages.append(
            f"history: {db.name} {damaged.reason}; moved it to {moved.name} "
            "and started a new history"
        )
        log.warning("%s (in %s)", messages[-1], db.parent)
        _create_private(db)
        conn = _connect(db)
    except BaseException:
        conn.close()
        raise
    try:
        _prepare(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _check(conn: sqlite3.Connection) -> None:
    """Raise :class:`_Damaged` unless the database is a healthy history this version can use."""
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        tables = conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'")
        has_tables = bool(tables.fetchone()[0])
        # A small file: checking every page at start-up takes milliseconds.
        health = [row[0] for row in conn.execute("PRAGMA quick_check")] if has_tables else ["ok"]
    except sqlite3.OperationalError:
        # Busy, locked, cannot open, read-only, I/O: the file may be fine. Never move
        # it aside for that; the caller makes the store unavailable instead.
        raise
    except sqlite3.DatabaseError as exc:  # SQLITE_CORRUPT, SQLITE_NOTADB
        raise _Damaged("corrupt", f"could not be read ({exc})") from exc
    if version > SCHEMA_VERSION:
        raise _Damaged(
            f"newer-v{version}",
            f"was written by a newer tproutine (schema {version}; this one knows {SCHEMA_VERSION})",
        )
    if has_tables and app_id != APPLICATION_ID:
        raise _Damaged("foreign", "is not a tproutine history")
    if health != ["ok"]:
        raise _Damaged("corrupt", f"is damaged ({health[0]})")


def _prepare(conn: sqlite3.Connection) -> None:
    """WAL, durable commits, foreign keys, and the schema brought up to date."""
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        log.info("history: WAL is not available here (journal mode %s)", mode)
    # FULL, not WAL's usual NORMAL: a power cut must not lose committed segments.
    # A segment ends every half minute or so, so the extra fsync costs nothing.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read again inside the lock: another process may have migrated meanwhile.
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[target]:
                conn.execute(statement)
        # Written even when unchanged: a file that can be read but not written (its
        # mode, a read-only mount) fails here, at start-up, not at the first segment.
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _move_aside(db: Path, kind: str) -> Path:
    """Rename ``db`` (and its -wal/-shm, which belong with it) to a free timestamped name."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = db.with_name(f"{db.name}.{kind}-{stamp}")
    target, n = base, 1
    while target.exists():
        n += 1
        target = base.with_name(f"{base.name}-{n}")
    db.rename(target)
    for suffix in ("-wal", "-shm"):
        companion = db.with_name(db.name + suffix)
        if companion.exists():
            companion.rename(target.with_name(target.name + suffix))
    return target


def _open_read_only(db: Path) -> sqlite3.Connection | None:
    """Past sessions stay readable when the folder cannot be written (a read-only medium)."""
    # immutable: no -shm/-wal is needed, which a read-only folder could not hold.
    return _connect_to_read(db, "mode=ro&immutable=1")


def _connect_to_read(db: Path, query: str, timeout: float = 5.0) -> sqlite3.Connection | None:
    """A read-only connection to ``db`` (``query``: the URI's options), or None when there
    is no database we can read there (missing, unreadable, or a schema we do not know)."""
    if not db.is_file():
        return None
    try:
        conn = sqlite3.connect(
            f"{db.resolve().as_uri()}?{query}",
            uri=True,
            timeout=timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except (sqlite3.Error, OSError, ValueError):
        return None
    if not 1 <= version <= SCHEMA_VERSION:
        conn.close()
        return None
    return conn


def _user_version(conn: sqlite3.Connection | None) -> int:
    if conn is None:
        return SCHEMA_VERSION
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error:
        return SCHEMA_VERSION


# Said by any store that wants to write: the app's may be only reading (the History
# screen), so it speaks of what is recorded, not of "this session".
_BUSY_MESSAGE = (
    "history: the database is busy (another program holds a lock on it); what is recorded "
    "meanwhile is kept and saved as soon as it is free"
)


def _why(db: Path, exc: BaseException) -> str:
    code = _errorcode(exc)
    if code == _SQLITE_FULL:
        return "the disk is full"
    if code == _SQLITE_READONLY or isinstance(exc, PermissionError):
        return "read-only"
    return _one_line(str(exc)) or type(exc).__name__


def _unavailable_message(db: Path, exc: BaseException) -> str:
    return f"history is not being saved ({_why(db, exc)}: {db}); sessions still run"


def _open_for_reading(db: Path) -> sqlite3.Connection | None:
    """A read-only connection beside another program's write lock (WAL lets it read)."""
    return _connect_to_read(db, "mode=ro", timeout=_BUSY_TIMEOUT_S)

"""The history's writes as values, so that they can wait their turn.

Another program may hold the history's lock (``sqlite3 history.sqlite3`` left in a
transaction, a backup tool, a second tproutine importing a journal). A session must
not lose its record for that: each write is an :class:`Op`, applied at once when the
database is free, or kept (in memory, and at the end in a journal file beside the
database) and applied in order when it is. A session started while the lock was
held has no row id yet; it gets a provisional one (below 0) that the ops after it
carry, and that is mapped to the real id when its row is written.

The journal is JSON lines, one op each, in a file only the person can read (pain
ratings are health data): ``history.sqlite3.pending-20261129T101500Z-4242.jsonl``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

Kind = Literal["start", "segment", "finish", "pain", "device"]
KINDS: tuple[str, ...] = ("start", "segment", "finish", "pain", "device")

_SQL: dict[str, tuple[str, ...]] = {
    "start": (
        "INSERT INTO sessions (routine, file, content_hash, started_at, segments_total,"
        " planned_s, pain_before, device, pid, proc_start, boot_id, host, preview,"
        " adjustment_hash, adjustment, plan_per_week, plan_weeks)"
        " VALUES (:routine, :file, :content_hash, :started_at, :segments_total, :planned_s,"
        " :pain_before, :device, :pid, :proc_start, :boot_id, :host, :preview,"
        " :adjustment_hash, :adjustment, :plan_per_week, :plan_weeks)",
    ),
    "segment": (
        "INSERT INTO segments (session_id, idx, kind, title, side, rep, planned_s, actual_s,"
        " skipped, ended_at, percent, level, motor_s, mean_level, peak_force, manual_changes)"
        " VALUES (:id, :idx, :kind, :title, :side, :rep, :planned_s, :actual_s, :skipped,"
        " :ended_at, :percent, :level, :motor_s, :mean_level, :peak_force, :manual_changes)",
        # Done = distinct segments finished without a skip: going back and repeating a
        # segment must not count it twice.
        "UPDATE sessions SET segments_done = (SELECT COUNT(DISTINCT idx) FROM segments"
        " WHERE session_id = :id AND skipped = 0),"
        " spent_s = COALESCE(:spent, spent_s) WHERE id = :id",
    ),
    "finish": (
        "UPDATE sessions SET status = :status, ended_at = :ended,"
        " spent_s = COALESCE(:spent, spent_s), pain_after = COALESCE(:pain, pain_after)"
        " WHERE id = :id",
    ),
    "pain": (
        "UPDATE sessions SET pain_before = COALESCE(:before, pain_before),"
        " pain_after = COALESCE(:after, pain_after) WHERE id = :id",
    ),
    "device": ("UPDATE sessions SET device = :device WHERE id = :id",),
}


@dataclass
class Op:
    """One write: what it is, the session it belongs to, and its values (JSON-friendly)."""

    kind: Kind
    sid: int  # the session's id as the caller knows it (provisional: below 0)
    values: dict[str, Any] = field(default_factory=dict)


def apply(conn: sqlite3.Connection, op: Op, ids: dict[int, int]) -> int:
    """Run ``op`` inside the caller's transaction; returns the session's real id.

    ``ids`` maps provisional ids to real ones; a ``start`` op adds its own.
    """
    if op.kind == "start":
        cur = conn.execute(_SQL["start"][0], op.values)
        real = int(cur.lastrowid or 0)
        if op.sid < 0:
            ids[op.sid] = real
        return real
    real = ids.get(op.sid, op.sid)
    if real <= 0:
        # Its session's start was never written (it failed for good): nothing to attach to.
        return 0
    for statement in _SQL[op.kind]:
        conn.execute(statement, {**op.values, "id": real})
    return real


# --- the journal beside the database -------------------------------------------------


def journal_name(db: Path) -> str:
    """The prefix of the journals kept beside ``db``."""
    return f"{db.name}.pending-"


def write_journal(db: Path, ops: list[Op]) -> Path:
    """Keep ``ops`` in a new journal beside ``db`` (private to the person); returns it."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = db.with_name(f"{journal_name(db)}{stamp}-{os.getpid()}.jsonl")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        for op in ops:
            out.write(json.dumps(asdict(op), ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())
    return path


def journals(db: Path) -> Iterator[Path]:
    """The journals beside ``db``, oldest first."""
    try:
        found = sorted(p for p in db.parent.glob(journal_name(db) + "*.jsonl") if p.is_file())
    except OSError:
        return iter(())
    return iter(found)


def read_journal(path: Path) -> list[Op]:
    """The ops of one journal; ValueError when it is not one this version wrote."""
    ops = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            kind, sid, values = raw["kind"], raw["sid"], raw["values"]
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"line {number} is not a history write") from None
        if kind not in KINDS or not isinstance(sid, int) or not isinstance(values, dict):
            raise ValueError(f"line {number} is not a history write")
        ops.append(Op(kind, sid, values))
    return ops

"""Shared fixtures for the history tests: a private data folder and a crashed writer."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tproutine import paths
from tproutine.history.store import HistoryStore


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG data and config folders under tmp_path, as the CLI spec promises tests can do."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert paths.history_path().is_relative_to(tmp_path)
    return tmp_path


@pytest.fixture
def store(xdg: Path) -> Iterator[HistoryStore]:
    s = HistoryStore.open()
    assert s.available, s.messages
    yield s
    s.close()


CRASHING_WRITER = textwrap.dedent(
    """
    import os, sys
    from datetime import datetime, timezone
    from tproutine.history.store import HistoryStore, SegmentRecord

    store = HistoryStore.open(sys.argv[1])
    sid = store.start_session(
        routine="Crashed routine", file="crash.yaml", content_hash="c0ffee",
        segments_total=5, planned_s=300.0, pain_before=6,
        started_at=datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc),
    )
    for i in range(2):
        store.record_segment(
            sid, SegmentRecord(index=i, kind="hold", title=f"seg {i}", planned_s=60.0,
                               actual_s=60.0),
            spent_s=60.0 * (i + 1),
            ended_at=datetime(2026, 11, 20, 8, 1 + i, tzinfo=timezone.utc),
        )
    print(os.getpid(), sid, flush=True)
    os._exit(0)  # die like a killed process: no finish_session, no close
    """
)


CrashingWriter = Callable[[Path], tuple[int, int]]


@pytest.fixture
def crashing_writer() -> CrashingWriter:
    """Runs a process that records a session and dies mid-way; gives (its pid, session id)."""
    return _run_crashing_writer


def _run_crashing_writer(db: Path) -> tuple[int, int]:
    # subprocess.run reaps the child, so by the time it returns the pid is free.
    done = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, str(db)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    pid, sid = (int(x) for x in done.stdout.split())
    return pid, sid


@pytest.fixture
def utc_local_time() -> Iterator[None]:
    """Make the machine's local zone UTC, so local dates in reports are predictable."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is not available on this platform")
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()

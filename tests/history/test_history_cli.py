"""``tproutine history`` and ``tproutine history export`` through the real entry point."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tproutine import paths
from tproutine.cli import main
from tproutine.history.store import HistoryStore, SegmentRecord, Status

UTC = timezone.utc
HOSTILE = [
    "Pipes | and *stars* and [links](http://x)",
    "<script>alert(1)</script> & co",
    "Two\nlines\x1b[31m red",
    '=HYPERLINK("http://evil","click")',
]


def add_session(
    store: HistoryStore,
    routine: str,
    day: int,
    *,
    status: Status = "completed",
    before: int | None = 6,
    after: int | None = 3,
    done: int = 2,
) -> int:
    start = datetime(2026, 11, day, 9, 0, tzinfo=UTC)
    sid = store.start_session(
        routine=routine, file=f"routines/{day}.yaml", content_hash=f"h{day}", segments_total=2,
        planned_s=120.0, pain_before=before, started_at=start,
    )  # fmt: skip
    for i in range(done):
        store.record_segment(sid, SegmentRecord(i, "hold", "x", 60.0, 61.0), spent_s=61.0 * (i + 1))
    if status != "running":
        store.finish_session(
            sid,
            status,
            pain_after=after,
            ended_at=start + timedelta(minutes=2),
        )
    return sid


@pytest.fixture
def history(xdg: Path) -> list[int]:
    """Three sessions of two routines, oldest first."""
    with HistoryStore.open() as store:
        return [
            add_session(store, "Lower back release", 2, before=7, after=5),
            add_session(store, "Neck and shoulders", 4, status="stopped", after=None, done=1),
            add_session(store, "Lower back release", 10, before=5, after=2),
        ]


@pytest.fixture(autouse=True)
def _local_time_is_utc(utc_local_time: None) -> None:
    """Local dates in the table and the report are those of a UTC machine."""


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


# --- listing ---------------------------------------------------------------------------


def test_empty_history_says_so_in_one_line(xdg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["history"], capsys)
    assert (code, out, err) == (0, "", "No sessions in the history yet.\n")
    code, out, err = run(["history", "--json"], capsys)
    assert (code, json.loads(out), err.count("\n")) == (0, [], 1)


def test_table_lists_newest_first(history: list[int], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["history"], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["Date", "Routine", "Status", "Segments", "Time", "Pain"]
    assert "Lower back release" in lines[1] and "5 → 2" in lines[1] and "2/2" in lines[1]
    assert "Neck and shoulders" in lines[2] and "stopped" in lines[2] and "6 → –" in lines[2]
    assert "7 → 5" in lines[3] and "2:02" in lines[3]


def test_json_is_the_spec_array(history: list[int], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["history", "--json"], capsys)
    data = json.loads(out)
    assert code == 0
    assert [d["id"] for d in data] == history[::-1]
    assert data[0] == {
        "id": history[2],
        "routine": "Lower back release",
        "file": "routines/10.yaml",
        "started_at": "2026-11-10T09:00:00+00:00",
        "ended_at": "2026-11-10T09:02:00+00:00",
        "status": "completed",
        "segments_done": 2,
        "segments_total": 2,
        "pain_before": 5,
        "pain_after": 2,
        "preview": False,
        "adjustment": None,
    }


def test_a_crashed_session_shows_as_interrupted(
    xdg: Path,
    capsys: pytest.CaptureFixture[str],
    crashing_writer: Callable[[Path], tuple[int, int]],
) -> None:
    paths.data_dir().mkdir(parents=True)
    _, sid = crashing_writer(paths.history_path())
    code, out, _ = run(["history", "--json"], capsys)
    [item] = json.loads(out)
    assert (code, item["id"], item["status"], item["segments_done"]) == (0, sid, "interrupted", 2)


def test_terminal_table_shows_no_control_characters(
    xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with HistoryStore.open() as store:
        add_session(store, "Two\nlines\x1b[2J\u202eevil", 3)
    code, out, _ = run(["history"], capsys)
    assert code == 0
    assert "\x1b" not in out and "\u202e" not in out
    assert len(out.splitlines()) == 2


# --- exports ---------------------------------------------------------------------------


def test_csv_export_round_trips_and_defuses_formulas(
    xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with HistoryStore.open() as store:
        for day, name in enumerate(HOSTILE, start=1):
            add_session(store, name, day)
    code, out, err = run(["history", "export", "--format", "csv"], capsys)
    assert code == 0 and err == ""
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["routine"] for r in rows] == [
        '\'=HYPERLINK("http://evil","click")',
        "Two lines␛[31m red",  # on one line, the escape shown (a terminal may `cat` it)
        "<script>alert(1)</script> & co",
        "Pipes | and *stars* and [links](http://x)",
    ]
    first = rows[0]
    assert first["content_hash"] == "h4" and first["status"] == "completed"
    assert (first["segments_done"], first["segments_total"], first["spent_s"]) == (
        "2",
        "2",
        "122.0",
    )
    assert (first["pain_before"], first["pain_after"]) == ("6", "3")
    assert first["started_at"] == "2026-11-04T09:00:00+00:00"


def test_json_export_one_object_per_session(
    history: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["history", "export", "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and len(data) == 3
    assert data[1]["routine"] == "Neck and shoulders"
    assert data[1]["status"] == "stopped" and data[1]["pain_after"] is None
    assert data[1]["content_hash"] == "h4" and data[1]["segments_done"] == 1


def test_markdown_report_escapes_hostile_names(
    xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with HistoryStore.open() as store:
        for day, name in enumerate(HOSTILE, start=1):
            add_session(store, name, day)
    code, out, _ = run(["history", "export", "--format", "md"], capsys)
    assert code == 0
    headings = [line for line in out.splitlines() if line.startswith("## ")]
    assert len(headings) == 4
    assert "## Pipes \\| and \\*stars\\* and \\[links\\](http://x)" in headings
    assert "## &lt;script&gt;alert(1)&lt;/script&gt; & co" in headings
    assert "<script>" not in out and "\x1b" not in out
    assert "## Two lines␛\\[31m red" in headings
    # Every table row still has its five cells: no stray pipes from the names.
    for line in out.splitlines():
        if line.startswith("| 2026"):
            assert line.replace("\\|", "").count("|") == 6


def test_markdown_report_summarises_each_routine(
    history: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["history", "export", "--format", "md"], capsys)
    assert code == 0
    back = out[out.index("## Lower back release") : out.index("## Neck and shoulders")]
    assert "- Sessions: 2 over 2 weeks, 1.0 per week" in back
    assert "- Completed: 2 of 2 (100 %)" in back
    assert "- Pain before: average 6.0, first 7, latest 5" in back
    assert "- Pain after: average 3.5, first 5, latest 2" in back
    assert "- Change within a session: -2.5 on average" in back
    assert back.count("\n| 2026-11-") == 2


def test_export_to_a_file(
    history: list[int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "report.md"
    code, out, err = run(["history", "export", "--format", "md", "-o", str(target)], capsys)
    assert (code, out) == (0, "")
    assert err == f"Wrote 3 sessions to {target}\n"
    assert target.read_text(encoding="utf-8").startswith("# Self-care sessions")


def test_export_to_an_unwritable_place_fails_in_one_line(
    history: list[int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing-folder" / "out.csv"
    code, _, err = run(["history", "export", "--format", "csv", "-o", str(target)], capsys)
    assert code == 1 and err.count("\n") == 1 and "cannot write" in err


def test_routine_and_since_filters(history: list[int], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["history", "export", "--format", "json", "--routine", "lower back release"], capsys
    )
    assert code == 0 and [d["id"] for d in json.loads(out)] == [history[2], history[0]]
    code, out, _ = run(["history", "export", "--format", "json", "--since", "2026-11-04"], capsys)
    assert code == 0 and [d["id"] for d in json.loads(out)] == [history[2], history[1]]


def test_an_unknown_routine_gets_a_suggestion(
    history: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["history", "export", "--format", "md", "--routine", "Neck and shoulder"], capsys
    )
    assert (code, out) == (0, "")
    assert (
        err == "No sessions of 'Neck and shoulder' in the history"
        " (did you mean 'Neck and shoulders'?).\n"
    )


def test_invalid_since_is_a_usage_error(xdg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["history", "export", "--format", "csv", "--since", "last week"], capsys)
    assert (code, out) == (2, "")
    assert (
        err
        == "tproutine history export: error: --since: 'last week' is not a date (use YYYY-MM-DD)\n"
    )


def test_empty_exports(xdg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["history", "export", "--format", "md"], capsys)
    assert (code, out, err) == (0, "", "No sessions in the history yet.\n")
    code, out, err = run(["history", "export", "--format", "csv"], capsys)
    assert code == 0 and out.startswith("id,routine,") and out.count("\n") == 1
    assert err == "No sessions in the history yet.\n"


def test_a_damaged_database_is_reported_and_moved_aside(
    xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = paths.history_path()
    db.parent.mkdir(parents=True)
    db.write_bytes(b"\x00garbage" * 100)
    code, _, err = run(["history"], capsys)
    lines = err.splitlines()
    assert code == 0 and len(lines) == 2
    assert "moved it to history.sqlite3.corrupt-" in lines[0]
    assert lines[1] == "No sessions in the history yet."


def test_history_does_not_import_the_tui_or_bluetooth(xdg: Path) -> None:
    code = textwrap.dedent(
        """
        import sys
        from tproutine.cli import main
        assert main(["history", "--json"]) == 0
        assert main(["history", "export", "--format", "md"]) == 0
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "bleak", "bumble"))
        print(heavy)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


# --- previews and what leaves the computer (issue 12, item 6) ------------------------------


def test_a_preview_is_listed_as_one_and_left_out_of_reports(
    xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with HistoryStore.open() as store:
        real = add_session(store, "Hips", 2)
        preview = store.start_session(
            routine="Hips", file="/home/sam/Private/hips.yaml", content_hash="h",
            segments_total=2, planned_s=120.0, preview=True,
            started_at=datetime(2026, 11, 3, 9, 0, tzinfo=UTC),
        )  # fmt: skip
        store.finish_session(preview, "completed")
    code, out, _ = run(["history"], capsys)
    assert code == 0
    assert "completed, preview" in out.splitlines()[1]
    code, out, err = run(["history", "export", "--format", "json"], capsys)
    assert [r["id"] for r in json.loads(out)] == [real]
    assert "left out 1 preview run (--speed other than 1)" in err
    code, out, err = run(["history", "export", "--format", "json", "--include-previews"], capsys)
    records = json.loads(out)
    assert [r["id"] for r in records] == [preview, real]
    assert records[0]["preview"] is True and "left out" not in err
    code, out, _ = run(["history", "export", "--format", "md"], capsys)
    assert "preview" not in out and "Sessions: 1 over 1 week" in out


def test_reports_name_the_routine_file_without_its_folders(
    xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with HistoryStore.open() as store:
        sid = store.start_session(
            routine="Hips", file="/home/sam/Private/clients/hips.yaml", content_hash="h",
            segments_total=2, planned_s=120.0, plan_per_week=3, plan_weeks=6,
            adjustment="time ×0.75", adjustment_hash="a" * 64,
            started_at=datetime(2026, 11, 3, 9, 0, tzinfo=UTC),
        )  # fmt: skip
        store.finish_session(sid, "completed")
    for fmt in ("csv", "json", "md"):
        code, out, _ = run(["history", "export", "--format", fmt], capsys)
        assert code == 0
        assert "/home/sam" not in out and "Private" not in out, fmt
        assert "hips.yaml" in out
    code, out, _ = run(["history", "export", "--format", "csv"], capsys)
    (record,) = csv.DictReader(io.StringIO(out))
    assert record["file"] == "hips.yaml"
    assert (record["preview"], record["plan_per_week"], record["plan_weeks"]) == ("0", "3", "6")
    assert record["adjustment"] == "time ×0.75" and record["adjustment_hash"] == "a" * 64
    code, out, _ = run(["history", "export", "--format", "md"], capsys)
    assert "- Plan: 3 times a week for 6 weeks" in out
    assert "- Adjusted sessions: 1 of 1 (time ×0.75)" in out
    assert "| completed, adjusted |" in out


def test_html_export_with_charts(
    history: list[int], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    code, _, err = run(["history", "export", "--format", "html", "-o", str(out)], capsys)
    assert code == 0 and "Wrote 3 sessions" in err
    page = out.read_text(encoding="utf-8")
    assert page.count("<h2>") == 2 and page.count("<svg") == 4


def test_html_export_of_nothing_says_so(xdg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["history", "export", "--format", "html"], capsys)
    assert (code, out) == (0, "") and "No sessions in the history yet." in err

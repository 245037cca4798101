"""The report builders in tproutine.share.report: pure functions over session rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tproutine.history.store import SessionRow, Status
from tproutine.share.report import (
    csv_cell,
    format_duration,
    history_table,
    markdown_report,
    md_escape,
    sparkline,
)

UTC = timezone.utc
MONDAY = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)


def row(
    n: int,
    start: datetime,
    *,
    routine: str = "Calves",
    status: Status = "completed",
    before: int | None = None,
    after: int | None = None,
    content_hash: str = "v1",
) -> SessionRow:
    return SessionRow(
        id=n, routine=routine, file="calves.yaml", content_hash=content_hash, started_at=start,
        ended_at=None if status == "running" else start + timedelta(minutes=10), status=status,
        segments_total=10, segments_done=10 if status == "completed" else 4, planned_s=600.0,
        spent_s=600.0 if status == "completed" else 250.0, pain_before=before, pain_after=after,
        device=None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0:00"), (59.6, "1:00"), (762, "12:42"), (3723, "1:02:03")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_sparkline_spans_the_scale_and_marks_gaps() -> None:
    assert sparkline([0, 5, 10, None, 12, -1]) == "▁▅█·█▁"


def test_md_escape() -> None:
    assert md_escape("a | b") == "a \\| b"
    assert md_escape("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert md_escape("x &lt; y & z") == "x &amp;lt; y & z"
    assert md_escape("line\n\nbreak\t# not a heading") == "line break \\# not a heading"
    assert md_escape("`code` _em_ ~s~ \\") == "\\`code\\` \\_em\\_ \\~s\\~ \\\\"


@given(st.text())
def test_md_escape_is_one_line_with_no_raw_markup(text: str) -> None:
    out = md_escape(text)
    assert "\n" not in out and "\r" not in out and "<" not in out
    # Every pipe is escaped, so a table cell cannot be split.
    assert out.count("|") == out.count("\\|")


def test_csv_cell_defuses_formulas_only() -> None:
    assert [csv_cell(t) for t in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "Neck", None)] == [
        "'=1+1", "'+1", "'-2", "'@SUM(A1)", "'\tx", "Neck", "",
    ]  # fmt: skip


def test_the_table_keeps_text_and_shows_controls_as_tokens() -> None:
    hostile = row(1, MONDAY, routine="Nacken 👨‍👩‍👧 \x1b[2J\u202e")
    assert "Nacken 👨‍👩‍👧 ␛[2J⟨U+202E⟩" in history_table([hostile])


def test_history_table_aligns_and_clips() -> None:
    rows = [row(1, MONDAY, routine="A" * 60, before=4, after=2), row(2, MONDAY, status="running")]
    lines = history_table(rows, tz=UTC, width=20).splitlines()
    assert lines[0].index("Status") == lines[1].index("completed") == lines[2].index("running")
    assert "A" * 19 + "…" in lines[1] and "4 → 2" in lines[1]
    assert lines[2].rstrip().endswith("4:10")


def test_markdown_report_counts_weeks_completion_and_pain() -> None:
    rows = [
        row(1, MONDAY, before=8, after=6),
        row(2, MONDAY + timedelta(days=2), status="stopped", before=7),
        # no session in the week of 9 November
        row(3, MONDAY + timedelta(days=14), before=5, after=3, content_hash="v2"),
        row(4, MONDAY + timedelta(days=15), status="running", before=4),
        row(5, MONDAY + timedelta(days=3), routine="Neck", status="interrupted"),
    ]
    text = markdown_report(rows[::-1], generated=MONDAY + timedelta(days=20), tz=UTC)
    calves = text[text.index("## Calves") : text.index("## Neck")]
    assert text.startswith(
        "# Self-care sessions\n\nGenerated on 2026-11-22 with tproutine: 5 sessions"
    )
    assert "does not replace medical advice" in text
    assert "- The routine file changed during this period (2 versions)" in calves
    assert "- Sessions: 4 over 3 weeks, 1.3 per week" in calves
    assert "2026-11-02: 2, 2026-11-09: 0, 2026-11-16: 2" in calves
    assert "- Completed: 2 of 3 (67 %); stopped early: 1; interrupted: 0" in calves
    assert "- Pain before: average 6.0, first 8, latest 4 (rated in 4 of 4 sessions)" in calves
    assert "- Pain after: average 4.5, first 6, latest 3 (rated in 2 of 4 sessions)" in calves
    assert "- Change within a session: -2.0 on average (2 sessions" in calves
    assert "before `▇▆▅▄`, after `▅·▃·`" in calves
    table = [line for line in calves.splitlines() if line.startswith("| 2026")]
    assert table == [
        "| 2026-11-02 18:00 | completed | 10/10 | 10:00 | 8 → 6 |",
        "| 2026-11-04 18:00 | stopped | 4/10 | 4:10 | 7 → – |",
        "| 2026-11-16 18:00 | completed | 10/10 | 10:00 | 5 → 3 |",
        "| 2026-11-17 18:00 | running | 4/10 | 4:10 | 4 → – |",
    ]
    neck = text[text.index("## Neck") :]
    assert "- Pain before: not rated" in neck and "Trend" not in neck


def test_markdown_report_lists_only_the_latest_weeks() -> None:
    rows = [row(i, MONDAY + timedelta(weeks=i)) for i in range(20)]
    text = markdown_report(rows, generated=MONDAY, tz=UTC)
    assert "- Sessions: 20 over 20 weeks, 1.0 per week" in text
    weeks_line = next(line for line in text.splitlines() if "each week" in line)
    assert "latest 12" in weeks_line and weeks_line.count(": 1") == 12


def test_markdown_report_of_nothing() -> None:
    assert "No sessions recorded." in markdown_report([], generated=MONDAY, tz=UTC)

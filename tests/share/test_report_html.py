"""`history export --format html`: a self-contained report whose SVG charts show the sessions."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.share.test_browser import _pdf_text, _print_to_pdf
from tproutine.history.progress import routine_series
from tproutine.history.store import SessionRow, Status
from tproutine.share.charts import pain_chart, weeks_chart
from tproutine.share.report_html import html_report

UTC = timezone.utc
MONDAY = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)
GENERATED = datetime(2026, 11, 30, tzinfo=UTC)


def row(
    n: int,
    start: datetime,
    *,
    routine: str = "Neck and shoulders",
    status: Status = "completed",
    before: int | None = None,
    after: int | None = None,
    preview: bool = False,
    adjustment: str | None = None,
) -> SessionRow:
    return SessionRow(
        id=n, routine=routine, file="/home/sam/neck.yaml", content_hash="h", started_at=start,
        ended_at=start + timedelta(minutes=10), status=status, segments_total=10,
        segments_done=10 if status == "completed" else 2, planned_s=600.0, spent_s=600.0,
        pain_before=before, pain_after=after, device=None, preview=preview, plan_per_week=3,
        plan_weeks=6, adjustment=adjustment,
    )  # fmt: skip


ROWS = [
    row(1, MONDAY, before=7, after=5),
    row(2, MONDAY + timedelta(days=2), before=6, after=4, adjustment="time ×0.75"),
    row(3, MONDAY + timedelta(days=9), before=5, after=2),
    row(4, MONDAY + timedelta(days=10), before=9, after=9, preview=True),
    row(5, MONDAY + timedelta(days=11), status="stopped", before=8),  # 2 of 10: does not count
]


def _markers(svg: str) -> tuple[int, int]:
    """Pain-before circles and pain-after squares drawn for sessions (the legend aside)."""
    circles = len(re.findall(r"<circle ", svg)) - 1
    squares = len(re.findall(r'<rect [^>]*width="7" height="7"', svg)) - 1
    return circles, squares


def test_the_pain_chart_draws_each_counted_session() -> None:
    series = routine_series("Neck and shoulders", ROWS, tz=UTC)
    svg = pain_chart(series, "neck")
    assert _markers(svg) == (3, 3)
    assert svg.count("<polyline") == 2
    assert (
        '<title id="neck-t">Pain before and after each session: Neck and shoulders</title>' in svg
    )
    assert "3 sessions from 2026-11-02 to 2026-11-11. First rated: before 7, after 5;" in svg
    assert "latest: before 5, after 2 (0 none, 10 worst)." in svg
    # The adjusted session is marked, and the legend says what the mark means.
    assert svg.count(">adjusted</text>") == 1
    # Pain 7 sits higher than pain 2: y grows downwards.
    ys = [float(y) for y in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', svg)[:-1]]
    assert ys == sorted(ys)


def test_the_weeks_chart_has_a_bar_a_week_and_the_plan() -> None:
    series = routine_series("Neck and shoulders", ROWS, tz=UTC)
    svg = weeks_chart(series, "neck")
    assert re.findall(r"<title>week of ([\d-]+): (\d+)</title>", svg) == [
        ("2026-11-02", "2"),
        ("2026-11-09", "1"),
    ]
    assert svg.count('stroke-dasharray="6 3"') == 2 + 1  # the plan over each week, and the legend
    assert "2 weeks, 3 sessions; the plan was met in 0 of 2 weeks." in svg


def test_the_report_is_one_self_contained_page() -> None:
    page = html_report(ROWS, generated=GENERATED, tz=UTC)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("<svg") == 2
    lowered = page.lower()
    for loads in ("<script", "<link", "<img", "<iframe", "@import", "url(", "src=", "href="):
        assert loads not in lowered, loads
    # The only URL is the SVG namespace, which names and fetches nothing.
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"] * 2
    assert "default-src 'none'" in page
    assert "/home/sam" not in page and "neck.yaml" in page
    assert "Plan: 3 times a week for 6 weeks" in page
    assert "Adjusted sessions: 1 of 5 (time ×0.75)" in page
    assert "preview runs are left out" in page


def test_previews_are_charted_only_when_asked() -> None:
    counted = routine_series("Neck and shoulders", ROWS, tz=UTC, previews=True)
    assert len(counted.pain) == 4
    page = html_report(ROWS, generated=GENERATED, tz=UTC, previews=True)
    assert "preview runs (marked) are included" in page


def test_hostile_names_are_text() -> None:
    hostile = "<script>alert(1)</script> & \u202eevil"
    page = html_report([row(1, MONDAY, routine=hostile, before=3, after=2)], generated=GENERATED)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in page
    assert "\u202e" not in page


def test_no_sessions_and_no_ratings_say_so() -> None:
    assert "<p>No sessions recorded.</p>" in html_report([], generated=GENERATED)
    page = html_report([row(1, MONDAY)], generated=GENERATED, tz=UTC)
    assert "No pain ratings yet: there is no pain chart." in page and page.count("<svg") == 1
    page = html_report([row(1, MONDAY, status="stopped")], generated=GENERATED, tz=UTC)
    assert "No session of this routine counts yet" in page and "<svg" not in page


def test_the_report_prints_with_its_charts(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(html_report(ROWS, generated=GENERATED, tz=UTC), encoding="utf-8")
    pdf = _print_to_pdf(page, tmp_path)
    assert pdf.startswith(b"%PDF")
    text = _pdf_text(pdf, tmp_path)
    if text is None:
        pytest.skip("pdftotext is not installed: the PDF was made but not read")
    flat = " ".join(text.split())
    assert "Neck and shoulders" in flat
    assert "Pain before and after each session" in flat
    assert "Sessions each week against the plan" in flat
    # The charts' own text (axis, legend, dates) is in the printed page.
    assert "pain before" in flat and "pain after" in flat and "02 Nov" in flat

"""The History screen's progress chart: pain before and after each session, and the
sessions each week against the plan, drawn with block characters.

Our own widget rather than a plotting library (``textual-plotext``): the values
are small whole numbers (pain 0–10, a few sessions a week) that eighth blocks
show exactly, four rows high, in the theme's own colours (component classes);
the output is plain text, so snapshots are stable and a screen reader reads the
summary line under the bars; and it costs no import time on a screen that has to
open as fast with 5,000 sessions as with 10. The HTML report draws the same
series as SVG (``tproutine.share.charts``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

if TYPE_CHECKING:
    from textual.app import RenderResult

    from tproutine.history.progress import RoutineSeries

ROWS = 4  # chart height in rows: 32 eighths, enough for every pain value 0–10
_EIGHTHS = " ▁▂▃▄▅▆▇█"
WEEKS_SHOWN = 8


def column(value: float, top: float, rows: int = ROWS) -> list[str]:
    """A bar of ``value`` on a 0..``top`` scale, ``rows`` cells high, top cell first."""
    eighths = round(max(0.0, min(value, top)) / top * rows * 8) if top > 0 else 0
    cells = []
    for row in range(rows - 1, -1, -1):
        fill = min(max(eighths - row * 8, 0), 8)
        cells.append(_EIGHTHS[fill])
    return cells


def pain_lines(
    series: RoutineSeries, width: int, before: Style, after: Style, axis: Style
) -> list[Text]:
    """Paired bars, before and after, one pair per session, newest at the right."""
    points = series.pain
    room = max((width - 4) // 3, 1)
    shown = points[-room:]
    lines = [Text() for _ in range(ROWS)]
    labels = {0: "10", ROWS - 1: " 0"}
    for r in range(ROWS):
        lines[r].append(f"{labels.get(r, '  ')}│", style=axis)
    for p in shown:
        left = (
            column(p.before, 10)
            if p.before is not None
            else ["·" if r == ROWS - 1 else " " for r in range(ROWS)]
        )
        right = (
            column(p.after, 10)
            if p.after is not None
            else ["·" if r == ROWS - 1 else " " for r in range(ROWS)]
        )
        for r in range(ROWS):
            lines[r].append(left[r], style=before)
            lines[r].append(right[r], style=after)
            lines[r].append(" ")
    return lines


def week_lines(series: RoutineSeries, bar: Style, plan: Style, axis: Style) -> list[Text]:
    """The latest weeks' sessions as bars; the plan as a line across them."""
    weeks = series.weeks[-WEEKS_SHOWN:]
    top = max([w.sessions for w in weeks] + [w.planned or 0 for w in weeks] + [1])
    lines = [Text() for _ in range(ROWS)]
    for r in range(ROWS):
        label = str(top) if r == 0 else ("0" if r == ROWS - 1 else "")
        lines[r].append(f"{label:>2}│", style=axis)
    for w in weeks:
        cells = column(w.sessions, top)
        plan_row = None
        if w.planned:
            # The row whose top edge the plan's number reaches.
            plan_row = ROWS - max(1, round(w.planned / top * ROWS))
        for r in range(ROWS):
            cell = cells[r]
            if r == plan_row and cell == " ":
                lines[r].append("──", style=plan)
            else:
                lines[r].append(cell * 2, style=bar)
            lines[r].append(" ", style=plan if r == plan_row else "")
    return lines


class ProgressChart(Widget):
    """Pain before and after each session, and sessions each week, for one routine."""

    DEFAULT_CSS = """
    ProgressChart { height: auto; }
    ProgressChart > .chart--before { color: $text-muted; }
    ProgressChart > .chart--after { color: $primary; }
    ProgressChart > .chart--plan { color: $warning; }
    ProgressChart > .chart--axis { color: $text-muted; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "chart--before",
        "chart--after",
        "chart--plan",
        "chart--axis",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.series: RoutineSeries | None = None
        self.empty_text = "No sessions yet: the charts appear after the first one."

    def show(self, series: RoutineSeries | None, empty_text: str | None = None) -> None:
        self.series = series
        if empty_text is not None:
            self.empty_text = empty_text
        self.refresh(layout=True)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return ROWS + 2 if self.series is not None and self.series.pain else 1

    def render(self) -> RenderResult:
        series = self.series
        if series is None or not series.pain:
            return Text(self.empty_text)
        style = self.get_component_rich_style
        before, after = style("chart--before"), style("chart--after")
        plan, axis = style("chart--plan"), style("chart--axis")
        weeks = week_lines(series, after, plan, axis)
        week_width = 3 + 3 * min(len(series.weeks), WEEKS_SHOWN) + 1
        pain = pain_lines(series, max(self.size.width - week_width - 2, 10), before, after, axis)
        rated = [p for p in series.pain if p.before is not None or p.after is not None]
        width = self.size.width
        out = Text(no_wrap=True, overflow="crop")
        title = Text(f"{series.routine} · pain ", style="bold")
        title.append("before", style=before + Style(bold=True))
        title.append(" and ", style="bold")
        title.append("after", style=after + Style(bold=True))
        plan_words = f" (plan {series.per_week})" if series.per_week else ""
        label = Text(f"each week{plan_words}", style="bold")
        # The weeks' label starts where their bars do; a long name gives way to it.
        start = max(width - max(week_width, label.cell_len), 0)
        title.truncate(max(start - 1, 0), overflow="ellipsis")
        out.append_text(title)
        out.append(" " * max(start - title.cell_len, 1))
        out.append_text(label)
        out.append("\n")
        pain_width = max(self.size.width - week_width, 10)
        for left, right in zip(pain, weeks, strict=True):
            out.append_text(left)
            out.append(" " * max(pain_width - left.cell_len, 1))
            out.append_text(right)
            out.append("\n")
        out.append(summary_line(series, len(rated)), style=axis)
        return out


def summary_line(series: RoutineSeries, rated: int) -> str:
    """The chart in words: what a screen reader says, and what the bars mean."""
    points = series.pain
    n = len(points)
    text = f"{n} session{'s' if n != 1 else ''}"
    if rated:
        first = next(p for p in points if p.before is not None or p.after is not None)
        last = next(p for p in reversed(points) if p.before is not None or p.after is not None)
        text += (
            f"; pain first {_num(first.before)}→{_num(first.after)},"
            f" latest {_num(last.before)}→{_num(last.after)}"
        )
    else:
        text += "; no pain ratings yet"
    if series.weeks:
        latest = series.weeks[-1]
        plan = f" of {latest.planned}" if latest.planned else ""
        text += f"; latest week {latest.sessions}{plan}"
    return text


def _num(value: int | None) -> str:
    return "–" if value is None else str(value)

"""Progress charts as inline SVG, for the HTML report: pain over time, sessions per week.

Pure functions from :class:`~tproutine.history.progress.RoutineSeries` to SVG
text. The charts read in black and white (print): pain before is a dashed line
with open circles, pain after a solid line with filled squares; the plan is a
dashed line over the weekly bars. Every chart carries a ``<title>`` and a
``<desc>`` that says in words what it shows, and the numbers are in the table
beside it, for screen readers and for anyone who cannot tell the lines apart.
Nothing is loaded from anywhere.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from tproutine.history.progress import PainPoint, RoutineSeries, WeekBar
from tproutine.safetext import one_line

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 24, 30, 40
BEFORE = "#6b7280"
AFTER = "#1d4ed8"
BAR = "#93c5fd"
PLAN = "#b45309"
INK = "#1f2937"
GRID = "#e5e7eb"
_FONT = 'font-family="system-ui, -apple-system, \'Segoe UI\', sans-serif" font-size="11"'


def _x(i: int, n: int) -> float:
    inner = WIDTH - LEFT - RIGHT
    return LEFT + (inner / 2 if n == 1 else inner * i / (n - 1))


def _y(value: float, top: float) -> float:
    inner = HEIGHT - TOP - BOTTOM
    return TOP + inner * (1 - value / top)


def _svg(title: str, desc: str, body: list[str], label: str) -> str:
    ident = html.escape(label, quote=True)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{ident}-t {ident}-d" class="chart">'
        f'<title id="{ident}-t">{_text(title)}</title>'
        f'<desc id="{ident}-d">{_text(desc)}</desc>' + "".join(body) + "</svg>"
    )


def _text(text: str) -> str:
    """A routine's name from someone's file: no control or direction characters, escaped."""
    return html.escape(one_line(text))


def _axis(top: int, step: int) -> list[str]:
    out = []
    for value in range(0, top + 1, step):
        y = _y(value, top)
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}" {_FONT}>'
            f"{value}</text>"
        )
    return out


def _date_labels(days: Sequence[str], n: int) -> list[str]:
    """A few dates along the bottom: the first, the last, and evenly between."""
    if not days:
        return []
    wanted = min(n, 6)
    picks = sorted({round(i * (n - 1) / max(wanted - 1, 1)) for i in range(wanted)})
    return [
        f'<text x="{_x(i, n):.1f}" y="{HEIGHT - BOTTOM + 22}" text-anchor="{_anchor(i, n)}" '
        f'fill="{INK}" {_FONT}>{html.escape(days[i])}</text>'
        for i in picks
    ]


def _anchor(i: int, n: int) -> str:
    """The first and last labels stay inside the chart."""
    if n > 1 and i == 0:
        return "start"
    if n > 1 and i == n - 1:
        return "end"
    return "middle"


def _line(points: list[tuple[float, float]], colour: str, dashed: bool) -> str:
    if len(points) < 2:
        return ""
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dash = ' stroke-dasharray="5 4"' if dashed else ""
    return f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'


Marker = Callable[[float, float], str]


def _legend(items: list[tuple[Marker, str]]) -> list[str]:
    """Markers and words along the top; a marker is drawn centred on (x, y)."""
    out: list[str] = []
    x = LEFT + 4.0
    for marker, text in items:
        out.append(marker(x, TOP - 14))
        out.append(f'<text x="{x + 9:.1f}" y="{TOP - 10}" fill="{INK}" {_FONT}>{text}</text>')
        x += 22 + 6.5 * len(text)
    return out


def _triangle(x: float, y: float) -> str:
    return f'<path d="M{x:.1f},{y - 3:.1f} l-3.5,6 h7 z" fill="{PLAN}"/>'


def _swatch(x: float, y: float) -> str:
    return (
        f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" '
        f'fill="{BAR}" stroke="{AFTER}"/>'
    )


def _dash(x: float, y: float) -> str:
    return (
        f'<line x1="{x - 6:.1f}" y1="{y:.1f}" x2="{x + 6:.1f}" y2="{y:.1f}" stroke="{PLAN}" '
        'stroke-width="2" stroke-dasharray="6 3"/>'
    )


def _circle(x: float, y: float) -> str:
    return (
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#fff" '
        f'stroke="{BEFORE}" stroke-width="2"/>'
    )


def _square(x: float, y: float) -> str:
    return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{AFTER}"/>'


def pain_chart(series: RoutineSeries, label: str) -> str:
    """Pain before and after each counted session, 0–10, oldest to newest."""
    points: Sequence[PainPoint] = series.pain
    n = len(points)
    rated = [p for p in points if p.before is not None or p.after is not None]
    title = f"Pain before and after each session: {series.routine}"
    if not rated:
        desc = f"{n} session{'s' if n != 1 else ''}, none rated for pain."
        body = [
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="{INK}" {_FONT}>'
            "No pain ratings yet</text>"
        ]
        return _svg(title, desc, body, label)
    body = _axis(10, 2)
    before = [(_x(i, n), _y(p.before, 10)) for i, p in enumerate(points) if p.before is not None]
    after = [(_x(i, n), _y(p.after, 10)) for i, p in enumerate(points) if p.after is not None]
    body.append(_line(before, BEFORE, dashed=True))
    body.append(_line(after, AFTER, dashed=False))
    body += [_circle(x, y) for x, y in before]
    body += [_square(x, y) for x, y in after]
    for i, p in enumerate(points):
        if p.adjusted:  # a small mark under the session: it ran adjusted
            x = _x(i, n)
            body.append(_triangle(x, HEIGHT - BOTTOM + 5))
    body += _date_labels([p.day.strftime("%d %b") for p in points], n)
    legend: list[tuple[Marker, str]] = [(_circle, "pain before"), (_square, "pain after")]
    if any(p.adjusted for p in points):
        legend.append((_triangle, "adjusted"))
    body += _legend(legend)
    first, last = rated[0], rated[-1]
    desc = (
        f"{n} session{'s' if n != 1 else ''} from {points[0].day} to {points[-1].day}. "
        f"First rated: before {_num(first.before)}, after {_num(first.after)}; "
        f"latest: before {_num(last.before)}, after {_num(last.after)} (0 none, 10 worst)."
    )
    return _svg(title, desc, body, label)


def _num(value: int | None) -> str:
    return "not rated" if value is None else str(value)


def weeks_chart(series: RoutineSeries, label: str) -> str:
    """Sessions each week as bars, and the plan's number as a dashed line."""
    bars: Sequence[WeekBar] = series.weeks
    n = len(bars)
    top = max([b.sessions for b in bars] + [b.planned or 0 for b in bars] + [1])
    top += 1
    step = 1 if top <= 8 else 2
    body = _axis(top, step)
    inner = WIDTH - LEFT - RIGHT
    slot = inner / max(n, 1)
    width = max(min(slot * 0.6, 40), 2)
    for i, b in enumerate(bars):
        x = LEFT + slot * i + (slot - width) / 2
        y = _y(b.sessions, top)
        body.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
            f'height="{_y(0, top) - y:.1f}" fill="{BAR}" stroke="{AFTER}">'
            f"<title>week of {b.week}: {b.sessions}</title></rect>"
        )
        if b.planned:
            py = _y(b.planned, top)
            body.append(
                f'<line x1="{LEFT + slot * i:.1f}" y1="{py:.1f}" x2="{LEFT + slot * (i + 1):.1f}" '
                f'y2="{py:.1f}" stroke="{PLAN}" stroke-width="2" stroke-dasharray="6 3"/>'
            )
    picks = sorted({round(i * (n - 1) / max(min(n, 6) - 1, 1)) for i in range(min(n, 6))})
    for i in picks if n else []:
        body.append(
            f'<text x="{LEFT + slot * (i + 0.5):.1f}" y="{HEIGHT - BOTTOM + 22}" '
            f'text-anchor="middle" fill="{INK}" {_FONT}>{bars[i].week.strftime("%d %b")}</text>'
        )
    legend: list[tuple[Marker, str]] = [(_swatch, "sessions")]
    if any(b.planned for b in bars):
        legend.append((_dash, "plan"))
    body += _legend(legend)
    met = sum(1 for b in bars if b.planned and b.sessions >= b.planned)
    planned = sum(1 for b in bars if b.planned)
    desc = f"{n} week{'s' if n != 1 else ''}, {sum(b.sessions for b in bars)} sessions"
    desc += f"; the plan was met in {met} of {planned} weeks." if planned else "."
    return _svg(f"Sessions each week: {series.routine}", desc, body, label)

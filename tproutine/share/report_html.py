"""``history export --format html``: a report with charts, one self-contained page.

The same facts as the Markdown report, and per routine two inline SVG charts
(pain before and after each session; sessions each week against the plan) and
the table of sessions. Styles are inside the page and nothing is loaded from
anywhere, so it works as an email attachment and prints (or saves as PDF) from
any browser. Routine names and adjustment summaries come from other people's
files: all of it is escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import datetime, tzinfo

from tproutine import __version__
from tproutine.history.progress import routine_series
from tproutine.history.store import SessionRow
from tproutine.safetext import one_line
from tproutine.share.charts import pain_chart, weeks_chart
from tproutine.share.report import (
    format_duration,
    local_time,
    pain_text,
    routine_facts,
    status_text,
)

CARE = (
    "Pain is rated by the person from 0 (none) to 10 (worst imaginable). This is a personal "
    "log; it does not replace medical advice."
)

STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937;
  background: #fff; margin: 0 auto; max-width: 52rem; padding: 1.5rem; overflow-wrap: anywhere; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 2px solid #e5e7eb; }
.meta, .care { color: #4b5563; }
ul.facts { padding-left: 1.2rem; margin: .5rem 0 1rem; }
figure { margin: 1rem 0; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: .25rem; }
svg.chart { width: 100%; height: auto; display: block; border: 1px solid #e5e7eb; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; margin: .5rem 0 1rem; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #e5e7eb; }
th { background: #f3f4f6; }
td.num { font-variant-numeric: tabular-nums; }
section.routine { break-before: auto; }
footer { margin-top: 2rem; color: #6b7280; font-size: .85rem; }
@media print {
  body { padding: 0; max-width: none; font-size: 11pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  tr { break-inside: avoid; page-break-inside: avoid; }
}
"""

_NOT_ID = re.compile(r"[^a-z0-9]+")


def _esc(text: str) -> str:
    return html.escape(one_line(text), quote=True)


def _section(
    index: int, name: str, rows: Sequence[SessionRow], tz: tzinfo | None, previews: bool
) -> str:
    label = f"r{index}-" + _NOT_ID.sub("-", name.casefold()).strip("-")[:24]
    series = routine_series(name, rows, tz=tz, previews=previews)
    facts = routine_facts(rows, tz, esc=_esc, trend=False)
    out = [
        '<section class="routine">',
        f"<h2><bdi>{_esc(name)}</bdi></h2>",
        '<ul class="facts">' + "".join(f"<li>{fact}</li>" for fact in facts) + "</ul>",
    ]
    if series.pain:
        if any(p.before is not None or p.after is not None for p in series.pain):
            out += [
                "<figure>",
                "<figcaption>Pain before and after each session (0 none – 10 worst)</figcaption>",
                pain_chart(series, f"{label}-pain"),
                "</figure>",
            ]
        else:
            out.append("<p>No pain ratings yet: there is no pain chart.</p>")
        out += [
            "<figure>",
            "<figcaption>Sessions each week"
            + (" against the plan" if series.per_week else "")
            + "</figcaption>",
            weeks_chart(series, f"{label}-weeks"),
            "</figure>",
        ]
    else:
        out.append(
            "<p>No session of this routine counts yet (completed, or at least half done).</p>"
        )
    out.append(
        "<table><thead><tr><th>Date</th><th>Status</th><th>Segments</th><th>Time</th>"
        "<th>Pain before → after</th></tr></thead><tbody>"
    )
    for r in rows:
        out.append(
            f"<tr><td>{local_time(r.started_at, tz)}</td><td>{_esc(status_text(r))}</td>"
            f'<td class="num">{r.segments_done}/{r.segments_total}</td>'
            f'<td class="num">{format_duration(r.spent_s)}</td>'
            f'<td class="num">{pain_text(r.pain_before, r.pain_after) or "–"}</td></tr>'
        )
    out += ["</tbody></table>", "</section>"]
    return "\n".join(out)


def html_report(
    rows: Sequence[SessionRow],
    *,
    generated: datetime,
    tz: tzinfo | None = None,
    previews: bool = False,
) -> str:
    """The report as one HTML page: per routine, the facts, two charts and the sessions.
    ``previews``: the rows include preview runs, and the charts count them too."""
    ordered = sorted(rows, key=lambda r: (r.started_at, r.id))
    by_routine: dict[str, list[SessionRow]] = {}
    for r in ordered:
        by_routine.setdefault(r.routine, []).append(r)
    body = ["<header>", "<h1>Self-care sessions</h1>"]
    if ordered:
        first = ordered[0].started_at.astimezone(tz).date()
        last = ordered[-1].started_at.astimezone(tz).date()
        n, k = len(ordered), len(by_routine)
        body.append(
            f'<p class="meta">Generated on {generated.astimezone(tz):%Y-%m-%d} with tproutine: '
            f"{n} session{'s' if n != 1 else ''} of {k} routine{'s' if k != 1 else ''}, "
            f"from {first} to {last}.</p>"
        )
    body += [f'<p class="care">{html.escape(CARE)}</p>', "</header>", "<main>"]
    if not ordered:
        body.append("<p>No sessions recorded.</p>")
    for i, name in enumerate(sorted(by_routine, key=str.casefold)):
        body.append(_section(i, name, by_routine[name], tz, previews))
    counted = "preview runs (marked) are included" if previews else "preview runs are left out"
    body += [
        "</main>",
        f"<footer>Made with tproutine {html.escape(__version__)}. The charts count completed "
        f"sessions and those ended with at least half done; {counted}.</footer>",
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # No request may leave the page, even from a stray attribute in the data.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">\n"
        "<title>Self-care sessions</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )

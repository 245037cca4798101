"""``tproutine history [--json]`` and ``tproutine history export --format csv|json|md|html``.

Reads the history database only (no Textual, bleak or Bumble). Sessions left
``running`` by a process that died are marked ``interrupted`` first, so the
listing never shows a session as running forever.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from pathlib import Path

from tproutine.history.store import HistoryStore, SessionRow, utc_now
from tproutine.safetext import dumps, one_line
from tproutine.share import report
from tproutine.suggest import suggest

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def parse_since(text: str) -> date | datetime:
    """``YYYY-MM-DD`` (a local day), or a full ISO 8601 moment."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since: {text!r} is not a date (use YYYY-MM-DD)") from None


def _err(message: str) -> None:
    print(one_line(message), file=sys.stderr)


def _nothing_found(store: HistoryStore, routine: str | None, since: object) -> str:
    if routine is not None:
        known = sorted({r.routine for r in store.sessions()})
        near = suggest(routine, known)
        hint = f" (did you mean {near!r}?)" if near else ""
        return f"No sessions of {routine!r} in the history{hint}."
    if since is not None:
        return f"No sessions since {since}."
    return "No sessions in the history yet."


def _render(fmt: str, rows: list[SessionRow], *, previews: bool = False) -> str:
    if fmt == "csv":
        return report.sessions_csv(rows)
    if fmt == "json":
        return report.sessions_json(rows)
    if fmt == "html":
        from tproutine.share.report_html import html_report

        return html_report(rows, generated=utc_now(), previews=previews)
    return report.markdown_report(rows, generated=utc_now())


def main(args: argparse.Namespace) -> int:
    exporting = getattr(args, "history_command", None) == "export"
    routine: str | None = getattr(args, "routine", None) if exporting else None
    since: date | datetime | None = None
    if exporting and getattr(args, "since", None):
        try:
            since = parse_since(args.since)
        except ValueError as exc:
            _err(f"tproutine history export: error: {exc}")
            return EXIT_USAGE

    # A report counts real sessions only; the listing shows everything, previews marked.
    previews = not exporting or bool(getattr(args, "include_previews", False))
    with HistoryStore.open(reading=True) as store:
        store.mark_interrupted()
        rows = store.sessions(routine=routine, since=since, previews=previews)
        left_out = 0 if previews else store.count() - store.count(previews=False)
        for message in store.messages:
            _err(message)
        if not store.readable:
            if not store.messages:  # else they said why
                _err("tproutine history: the history cannot be read")
            return EXIT_FAIL
        empty = "" if rows else _nothing_found(store, routine, since)

    if not exporting:
        if not rows:
            _err(empty)
            if args.json:
                print("[]")
            return EXIT_OK
        if args.json:
            print(dumps([r.to_json() for r in rows], indent=2))
        else:
            print(report.history_table(rows))
        return EXIT_OK

    fmt: str = args.format
    if left_out:
        _err(
            f"left out {left_out} preview run{'s' if left_out != 1 else ''} "
            "(--speed other than 1); --include-previews reports them too"
        )
    if not rows:
        _err(empty)
        # CSV and JSON still get a valid, empty document; a report of nothing is no use.
        if fmt in ("md", "html"):
            return EXIT_OK
    text = _render(fmt, rows, previews=previews)
    if not args.output or args.output == "-":
        sys.stdout.write(text)
        return EXIT_OK
    out = Path(args.output)
    try:
        out.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        _err(f"tproutine history export: cannot write {out}: {exc.strerror or exc}")
        return EXIT_FAIL
    if rows:
        _err(f"Wrote {len(rows)} session{'s' if len(rows) != 1 else ''} to {out}")
    return EXIT_OK

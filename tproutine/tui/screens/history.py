"""History (``h``): past sessions newest first, the pain trend, and exports.

``e`` asks for a format (CSV, JSON or Markdown) and writes the report to a new
file in the current folder, then says where. The report builders are the ones
``tproutine history export`` uses.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Label

from tproutine.tui.messages import HistoryExported

if TYPE_CHECKING:
    from tproutine.history.store import SessionRow
    from tproutine.tui.app import TProutineApp

FORMATS = {"csv": "CSV", "json": "JSON", "md": "Markdown"}
# How many sessions the trend line shows (the newest ones).
TREND_SESSIONS = 30


def trend_text(rows: list[SessionRow]) -> Text:
    """Pain before and after, oldest to newest, as two small sparklines with the numbers."""
    from tproutine.share.report import sparkline

    ordered = sorted(rows, key=lambda r: (r.started_at, r.id))[-TREND_SESSIONS:]
    before = [r.pain_before for r in ordered]
    after = [r.pain_after for r in ordered]
    out = Text()
    if not any(v is not None for v in (*before, *after)):
        out.append("Pain trend: no ratings yet (you are asked before and after a session).")
        return out

    def last(values: list[int | None]) -> str:
        rated = [v for v in values if v is not None]
        return f"first {rated[0]}, latest {rated[-1]}" if rated else "no ratings"

    out.append("Pain trend, oldest → newest (0 none – 10 worst)\n", style="bold")
    out.append(f"  before  {sparkline(before)}  {last(before)}\n")
    out.append(f"  after   {sparkline(after)}  {last(after)}")
    return out


def export_name(fmt: str, now: datetime) -> str:
    return f"tproutine-history-{now:%Y%m%d-%H%M%S}.{fmt}"


class ExportScreen(ModalScreen[str | None]):
    """Which format to export: c, j or m; escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "pick('csv')", "CSV"),
        Binding("j", "pick('json')", "JSON"),
        Binding("m", "pick('md')", "Markdown"),
        Binding("escape", "pick('')", "Cancel"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="export", classes="dialog"):
            yield Label("Export the history", classes="dialog-title")
            yield Label("c: CSV (spreadsheets)", markup=False)
            yield Label("j: JSON (programs)", markup=False)
            yield Label("m: Markdown (a report for your practitioner)", markup=False)
            yield Label("The file goes in the current folder.", classes="hint", markup=False)
        yield Footer(compact=True)

    def action_pick(self, fmt: str) -> None:
        self.dismiss(fmt or None)


class HistoryScreen(Screen[None]):
    """Past sessions, newest first."""

    AUTO_FOCUS = "#sessions"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "export", "Export"),
        Binding("escape", "back", "Back"),
        Binding("q", "back", "Back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[SessionRow] = []

    @property
    def tapp(self) -> TProutineApp:
        from tproutine.tui.app import TProutineApp

        assert isinstance(self.app, TProutineApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Label("tproutine · History", classes="screen-title")
        yield Label("", id="trend", markup=False)
        table: DataTable[str] = DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
        yield table
        yield Label("", id="history-status", markup=False)
        yield Footer(compact=True)

    def on_screen_resume(self) -> None:
        # Also sent when the screen first shows; later, a session may have ended since.
        self.reload()

    def reload(self) -> None:
        """Read the sessions again (a session may have ended since)."""
        from tproutine.share.report import (
            format_duration,
            local_time,
            pain_text,
            status_text,
            terminal_safe,
        )

        store = self.tapp.history_store()
        self.rows = store.sessions()
        table = self.query_one("#sessions", DataTable)
        table.clear(columns=True)
        table.add_column("Date", key="date")
        table.add_column("Routine", key="routine")
        table.add_column("Status", key="status")
        table.add_column("Time", key="time")
        table.add_column("Pain", key="pain")
        for row in self.rows:
            table.add_row(
                local_time(row.started_at),
                Text(terminal_safe(row.routine)),
                status_text(row),
                format_duration(row.spent_s),
                pain_text(row.pain_before, row.pain_after) or "–",
                key=str(row.id),
            )
        self.query_one("#trend", Label).update(trend_text(self.rows))
        status = self.query_one("#history-status", Label)
        if not self.rows:
            status.update("No sessions yet. They appear here as soon as one starts.")
        else:
            n = len(self.rows)
            status.update(f"{n} session{'s' if n != 1 else ''}, newest first. e exports them.")
        for line in store.messages:
            self.notify(line, severity="warning", timeout=8)

    def action_back(self) -> None:
        self.dismiss()

    def action_export(self) -> None:
        def chosen(fmt: str | None) -> None:
            if fmt:
                folder = self.tapp.options.export_dir or Path.cwd()
                self._export(fmt, folder)

        self.app.push_screen(ExportScreen(), chosen)

    @work(thread=True, exclusive=True, group="export")
    def _export(self, fmt: str, folder: Path) -> None:
        from tproutine.history.store import utc_now
        from tproutine.share import report

        rows = list(self.rows)
        now = datetime.now().astimezone()
        path = (folder / export_name(fmt, now)).resolve()
        if fmt == "csv":
            text = report.sessions_csv(rows)
        elif fmt == "json":
            text = report.sessions_json(rows)
        else:
            text = report.markdown_report(rows, generated=utc_now())
        try:
            # "x": never overwrite a file that is already there.
            with open(path, "x", encoding="utf-8", newline="") as fh:
                fh.write(text)
        except OSError as exc:
            self.post_message(HistoryExported(path, exc.strerror or str(exc)))
            return
        self.post_message(HistoryExported(path))

    def on_history_exported(self, message: HistoryExported) -> None:
        status = self.query_one("#history-status", Label)
        if message.error:
            status.update(f"Could not write {message.path}: {message.error}")
            self.notify(f"Export failed: {message.error}", severity="error")
        else:
            status.update(f"Exported to {message.path}")
            self.notify(f"Saved to {message.path}", timeout=8)

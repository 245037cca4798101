"""History (``h``): past sessions newest first, a progress chart, and exports.

The chart is the highlighted session's routine: pain before and after each
session, and sessions each week against the plan (counted sessions only, never
previews). The table lists the newest :data:`PAGE` sessions and the next page
as the cursor nears its end, so that the screen opens as fast with years of
sessions as with a few (a table row costs about a millisecond to lay out). ``e`` asks for a
format (CSV, JSON, Markdown or an HTML report with the charts) and writes every
session but the previews to a new file in the current folder, then says where.
The report builders are the ones ``tproutine history export`` uses.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Label

from tproutine.safetext import one_line
from tproutine.tui.messages import HistoryExported, HistoryPage, HistorySeries

if TYPE_CHECKING:
    from tproutine.history.progress import RoutineSeries
    from tproutine.history.store import HistoryStore, SessionRow
    from tproutine.tui.app import TProutineApp

FORMATS = {"csv": "CSV", "json": "JSON", "md": "Markdown", "html": "HTML"}
# The table shows the newest sessions a page at a time; exports have them all.
PAGE = 50
# Weeks the chart's series covers (it shows the latest of them that fit).
CHART_WEEKS = 26


def export_name(fmt: str, now: datetime) -> str:
    return f"tproutine-history-{now:%Y%m%d-%H%M%S}.{fmt}"


class ExportScreen(ModalScreen[str | None]):
    """Which format to export: c, j or m; escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "pick('csv')", "CSV"),
        Binding("j", "pick('json')", "JSON"),
        Binding("m", "pick('md')", "Markdown"),
        Binding("h", "pick('html')", "HTML"),
        Binding("escape", "pick('')", "Cancel"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="export", classes="dialog"):
            yield Label("Export the history", classes="dialog-title")
            yield Label("c: CSV (spreadsheets)", markup=False)
            yield Label("j: JSON (programs)", markup=False)
            yield Label("m: Markdown (a report for your practitioner)", markup=False)
            yield Label("h: HTML (the report with charts, to print or send)", markup=False)
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
        self.total = 0
        self._series: dict[str, RoutineSeries] = {}
        self.chart_routine: str | None = None
        # Every read runs on a thread: opening the history, or reading it while another
        # program holds its lock, may wait (up to the 2 s busy timeout), and the
        # screen must not. Each reload is a generation; answers to an older one are
        # dropped. ``loaded``: the first page of this one is on the screen.
        self._generation = 0
        self._more_asked = False
        self.loaded = False
        self._asking = False  # the export's format is being asked, over this screen

    @property
    def tapp(self) -> TProutineApp:
        from tproutine.tui.app import TProutineApp

        assert isinstance(self.app, TProutineApp)
        return self.app

    def compose(self) -> ComposeResult:
        from tproutine.tui.widgets.progress_chart import ProgressChart

        yield Label("tproutine · History", classes="screen-title")
        yield ProgressChart(id="chart")
        table: DataTable[str] = DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
        yield table
        yield Label("Reading the history…", id="history-status", markup=False)
        yield Footer(compact=True)

    def on_screen_resume(self) -> None:
        # Also sent when the screen first shows; later, a session may have ended since
        # (not while the export's question was asked over it).
        if self._asking:
            self._asking = False
            return
        self.reload()

    def reload(self) -> None:
        """Read the sessions again (a session may have ended since)."""
        self._generation += 1
        self._more_asked = True
        self._read_page(self._generation, 0)

    @work(thread=True, group="history-read")
    def _read_page(self, generation: int, offset: int) -> None:
        """A page of sessions from ``offset`` (the first page: the total and the chart
        of the newest session's routine too), read here, shown by on_history_page."""
        store = self.tapp.history_store()
        total = store.count() if offset == 0 else self.total
        rows = store.sessions(limit=PAGE, offset=offset)
        series = _series(store, rows[0].routine, rows) if offset == 0 and rows else None
        self.post_message(HistoryPage(generation, offset, rows, total, series))
        for line in store.messages if offset == 0 else ():
            self.notify(line, severity="warning", timeout=8)

    def on_history_page(self, message: HistoryPage) -> None:
        if message.generation != self._generation:
            return  # an answer to a reload that another one replaced
        from tproutine.share.report import format_duration, local_time, pain_text, status_text

        table = self.query_one("#sessions", DataTable)
        if message.offset == 0:
            self.rows = []
            self._series = {}
            table.clear(columns=True)
            table.add_column("Date", key="date")
            table.add_column("Routine", key="routine")
            table.add_column("Status", key="status")
            table.add_column("Time", key="time")
            table.add_column("Pain", key="pain")
        elif message.offset != len(self.rows):
            return
        self.total = message.total
        self.rows += message.rows
        table.add_rows(
            (
                local_time(row.started_at),
                Text(one_line(row.routine)),
                status_text(row),
                format_duration(row.spent_s),
                pain_text(row.pain_before, row.pain_after) or "–",
            )
            for row in message.rows
        )
        self._more_asked = False
        self._show_status()
        if message.offset == 0:
            if message.series is not None:
                self._series[message.series.routine] = message.series
            self.show_chart(self.rows[0].routine if self.rows else None)
            self.loaded = True

    def _show_status(self) -> None:
        status = self.query_one("#history-status", Label)
        if not self.rows:
            status.update("No sessions yet. They appear here as soon as one starts.")
        elif self.total > len(self.rows):
            status.update(
                f"The newest {len(self.rows):,} of {self.total:,} sessions (more as you scroll "
                "down). e exports them all."
            )
        else:
            n = len(self.rows)
            status.update(f"{n} session{'s' if n != 1 else ''}, newest first. e exports them.")

    def show_chart(self, routine: str | None) -> None:
        """Chart the progress of ``routine`` (its counted sessions, read once per reload)."""
        from tproutine.tui.widgets.progress_chart import ProgressChart

        chart = self.query_one("#chart", ProgressChart)
        self.chart_routine = routine
        if routine is None:
            chart.show(None, "No sessions yet: the charts appear after the first one.")
            return
        series = self._series.get(routine)
        if series is None:
            self._read_series(self._generation, routine, list(self.rows))
            return  # the chart keeps the last routine's until this one's is read
        chart.show(
            series,
            f"{routine}: no session counts yet (completed, or ended at least half done; "
            "previews never count).",
        )

    @work(thread=True, group="history-read")
    def _read_series(self, generation: int, routine: str, rows: list[SessionRow]) -> None:
        series = _series(self.tapp.history_store(), routine, rows)
        self.post_message(HistorySeries(generation, series))

    def on_history_series(self, message: HistorySeries) -> None:
        if message.generation != self._generation:
            return
        self._series[message.series.routine] = message.series
        if message.series.routine == self.chart_routine:
            self.show_chart(self.chart_routine)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        index = event.cursor_row
        if 0 <= index < len(self.rows) and self.rows[index].routine != self.chart_routine:
            self.show_chart(self.rows[index].routine)
        near_end = index >= len(self.rows) - 10
        if near_end and len(self.rows) < self.total and not self._more_asked:
            self._more_asked = True
            self._read_page(self._generation, len(self.rows))

    def action_back(self) -> None:
        self.dismiss()

    def action_export(self) -> None:
        def chosen(fmt: str | None) -> None:
            if fmt:
                folder = self.tapp.options.export_dir or Path.cwd()
                self._export(fmt, folder)

        self._asking = True
        self.app.push_screen(ExportScreen(), chosen)

    @work(thread=True, exclusive=True, group="export")
    def _export(self, fmt: str, folder: Path) -> None:
        from tproutine.history.store import utc_now
        from tproutine.share import report

        # Every session but the previews, as `tproutine history export` has them.
        rows = self.tapp.history_store().sessions(previews=False)
        now = datetime.now().astimezone()
        path = (folder / export_name(fmt, now)).resolve()
        if fmt == "csv":
            text = report.sessions_csv(rows)
        elif fmt == "json":
            text = report.sessions_json(rows)
        elif fmt == "html":
            from tproutine.share.report_html import html_report

            text = html_report(rows, generated=utc_now())
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
            status.update(one_line(f"Could not write {message.path}: {message.error}"))
            self.notify(f"Export failed: {message.error}", severity="error")
        else:
            status.update(one_line(f"Exported to {message.path}"))
            self.notify(f"Saved to {message.path}", timeout=8)


def _series(store: HistoryStore, routine: str, rows: list[SessionRow]) -> RoutineSeries:
    """``routine``'s progress for the chart: only the weeks it can show, before the
    newest of its sessions in ``rows`` (years of sessions cost nothing here)."""
    from tproutine.history.progress import routine_series

    newest = next(r.started_at for r in rows if r.routine == routine)
    since = newest - timedelta(weeks=CHART_WEEKS)
    found = store.sessions(routine, since, previews=False)
    return routine_series(routine, found, max_weeks=CHART_WEEKS)

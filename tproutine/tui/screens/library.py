"""The Library: every routine, a search box and a preview of the highlighted one.

What a person waits for is this list. Before the first paint the screen takes
the summaries the cache has for unchanged files (``catalog.LibraryScan``, within
a time budget), so the list is usually in the first frame; a worker thread then
reads the files the cache did not have and reports them as they arrive
(``LibraryLoaded``). Rows lay themselves out when drawn (:class:`Row`), so only
the rows on screen cost anything. Starting a routine reads and checks its file
again: the list may be older than the file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, Visual
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tproutine.routine.durations import format_clock as clock_text
from tproutine.tui.messages import LibraryLoaded

if TYPE_CHECKING:
    from textual.css.styles import RulesMap

    from tproutine.tui.app import TProutineApp
    from tproutine.tui.catalog import LibraryScan, RoutineEntry

# How long the Library may take the cached summaries before its first paint; a
# slow disk leaves the rest to the worker.
FIRST_PAINT_BUDGET_S = 0.15


def preview_text(entry: RoutineEntry) -> Text:
    """The preview pane: summary, safety notes, the steps with their times, the total."""
    out = Text()
    out.append(entry.name, style="bold")
    out.append("\n")
    if entry.errors:
        out.append("This file cannot be run:\n", style="bold")
        for line in entry.errors:
            out.append(f"  {line}\n")
        out.append(f"\n{entry.path}\n", style="dim")
        return out
    meta = [f"Total {clock_text(entry.total_s)}"]
    if entry.author:
        meta.append(f"by {entry.author}")
    if entry.origin == "yours":
        meta.append("your routine")
    out.append(" · ".join(meta) + "\n", style="dim")
    if entry.summary:
        out.append(f"\n{' '.join(entry.summary.split())}\n")
    if entry.tags:
        out.append(f"\nTags: {', '.join(entry.tags)}\n", style="dim")
    if entry.warnings or entry.avoid_if:
        out.append("\nSafety\n", style="bold")
        for warning in entry.warnings:
            out.append(f"  ! {warning}\n")
        if entry.avoid_if:
            out.append("  Do not use if:\n")
            for item in entry.avoid_if:
                out.append(f"  - {item}\n")
    out.append("\nSteps\n", style="bold")
    width = max((len(clock_text(s.seconds)) for s in entry.steps), default=5)
    for step in entry.steps:
        out.append(f"  {clock_text(step.seconds):>{width}}  {step.text}\n")
    out.append(f"  {clock_text(entry.total_s):>{width}}  Total\n", style="bold")
    return out


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


class RoutineList(OptionList):
    """The list of routines, one line each: enter starts the highlighted one.

    An OptionList rather than a DataTable: it is lighter to start (the Library is the
    first screen) and reads as one line per routine; the columns are laid out here.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select", "Start", show=True)]


class Row(Visual):
    """One row of the list (or its header), laid out for the width it is drawn at.

    The list's width is known only once the screen is laid out; a row that lays
    itself out when it is drawn can be in the first frame. And only the rows on
    screen are laid out at all, which keeps a list of 1,000 routines cheap.
    ``width_of`` gives the width to lay out for (the header takes the list's).
    """

    def __init__(
        self,
        cells: tuple[str, str, str, str],
        longest: int,
        width_of: Callable[[int], int] = lambda width: width,
    ) -> None:
        self.cells = cells
        self.longest = longest  # the longest name in the library: the name column's want
        self.width_of = width_of

    def text(self, width: int) -> str:
        # The name and the time must show at 80 columns; tags and author get the rest.
        width = max(self.width_of(width) - 1, 30)
        # Past 60 cells the tags and the author get at least 30 of them.
        room = width - 5 - 2 - (30 if width >= 60 else 0)
        name_width = max(min(self.longest, room), 12)
        return columns_text(*self.cells, width, name_width)

    def render_strips(
        self, width: int, height: int | None, style: Style, options: RenderOptions
    ) -> list[Strip]:
        return Content(self.text(width)).render_strips(width, height, style, options)

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return container_width

    def get_height(self, rules: RulesMap, width: int) -> int:
        return 1


def columns_text(name: str, time: str, tags: str, author: str, width: int, name_width: int) -> str:
    """One row of the list, columns padded and clipped to ``width`` cells."""
    rest = max(width - name_width - 2 - 5 - 2, 0)
    tags_width = max(rest * 3 // 5, 0)
    author_width = max(rest - tags_width - 2, 0)
    cells = [
        _clip(name, name_width).ljust(name_width),
        time.rjust(5),
        _clip(tags, tags_width).ljust(tags_width),
        _clip(author, author_width),
    ]
    return "  ".join(cells)[:width].rstrip()


class LibraryScreen(Screen[None]):
    """The home screen."""

    AUTO_FOCUS = "#routines"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", key_display="/"),
        Binding("d", "app.open_devices", "Devices"),
        Binding("h", "app.open_history", "History"),
        Binding("q", "quit", "Quit"),
        Binding("enter", "start", "Start the highlighted routine", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._shown: list[RoutineEntry] = []
        self._loading = False  # the library is being read (or was)
        self._built = False  # composed (not yet under `run FILE`'s Player)
        self._wanted = False  # shown: compose it whatever the options say
        self._reading = False  # the worker still reads files that were not in the cache
        # What the list shows: every entry read so far. The app's `entries` is set
        # once the whole library is read.
        self._entries: list[RoutineEntry] = []
        self._top: RoutineEntry | None = None  # the first row as last filled

    @property
    def tapp(self) -> TProutineApp:
        from tproutine.tui.app import TProutineApp

        assert isinstance(self.app, TProutineApp)
        return self.app

    def compose(self) -> ComposeResult:
        if self.tapp.options.start is not None and not self._wanted:
            # `run FILE`: the Player opens over the Library at once. The Library is
            # built when it is first shown, so that the Player's first frame does
            # not wait for a screen under it.
            return
        self._built = True
        with Horizontal(id="library-top"):
            yield Label("tproutine · Library", id="library-title")
            yield Input(placeholder="/ to search by name, tag, area or author", id="search")
        with Horizontal(id="library-body"):
            with Vertical(id="library-list"):
                yield Label("", id="routines-header", markup=False)
                yield RoutineList(id="routines")
                yield Label("Reading the routines…", id="library-status", markup=False)
            with VerticalScroll(id="preview-pane"):
                yield Static(id="preview", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        if not self._built:
            return
        if self.tapp.entries is not None:
            self._show(self.tapp.entries, complete=True)
        elif self.is_active:
            self._load()

    async def on_screen_resume(self) -> None:
        if not self.is_active:
            return
        if not self._built:
            self._wanted = True
            await self.recompose()
        if self.tapp.entries is None:
            self._load()

    def _load(self) -> None:
        from tproutine.tui.catalog import LibraryScan
        from tproutine.tui.library_cache import LibraryCache

        if self._loading:
            return
        self._loading = True
        app = self.tapp
        scan = LibraryScan(app.library_folders(), app.options.files, LibraryCache.open())
        # What the cache has, at once: then the list is in the first frames. With a
        # deadline, so that a slow disk does not hold up the first paint for long.
        scan.take_cached(deadline=time.monotonic() + FIRST_PAINT_BUDGET_S)
        self._show(scan.ordered(), complete=scan.done)
        if scan.done and not (scan.cache is not None and scan.cache.dirty):
            return  # the usual start: everything was in the cache, nothing to write
        self._read_rest(scan)

    @work(thread=True, exclusive=True, group="library")
    def _read_rest(self, scan: LibraryScan) -> None:
        """The files the cache did not have, read off the UI, and the cache saved."""
        from textual.worker import get_current_worker

        def progress(so_far: list[RoutineEntry]) -> None:
            self.post_message(LibraryLoaded(so_far, complete=False))

        worker = get_current_worker()
        missing = not scan.done
        entries = scan.read_rest(progress=progress, cancelled=lambda: worker.is_cancelled)
        if missing:
            self.post_message(LibraryLoaded(entries))

    def on_library_loaded(self, message: LibraryLoaded) -> None:
        self._show(message.entries, complete=message.complete)

    def _show(self, entries: list[RoutineEntry], *, complete: bool) -> None:
        self._entries = entries
        self._reading = not complete
        if complete:
            self.tapp.entries = entries
        self._fill(entries)

    # ------------------------------------------------------------------ the list

    def _fill(self, entries: list[RoutineEntry]) -> None:
        query = self.query_one("#search", Input).value
        routines = self.query_one("#routines", RoutineList)
        highlighted = self._highlighted()
        self._shown = [e for e in entries if e.matches(query)]
        longest = max((len(e.name) for e in entries), default=10)
        header = self.query_one("#routines-header", Label)
        # The header's columns are laid out for the list's width, to stand over them.
        header.update(
            Row(("Routine", " Time", "Tags", "Author"), longest, lambda _: self._list_width())
        )
        options = []
        for i, entry in enumerate(self._shown):
            if entry.errors:
                cells = (entry.name, "–", "cannot be run", "")
            else:
                cells = (entry.name, clock_text(entry.total_s), ", ".join(entry.tags), entry.author)
            options.append(Option(Row(cells, longest), id=str(i)))
        routines.clear_options()
        routines.add_options(options)
        status = self.query_one("#library-status", Label)
        if not entries and self._reading:
            status.update("Reading the routines…")
        elif not entries:
            status.update("No routines found. Add your own with `tproutine add FILE`.")
        elif not self._shown:
            status.update(f"Nothing matches “{query}”. escape clears the search.")
        else:
            count = len(self._shown)
            status.update(
                f"{count} routine{'s' if count != 1 else ''}"
                + (f" matching “{query}”" if query else "")
                + (", reading the others…" if self._reading else "")
            )
        if self._shown:
            # The routine the person moved to stays highlighted; left at the top, the
            # highlight stays at the top as routines arrive.
            moved = highlighted is not None and highlighted is not self._top
            keep = self._shown.index(highlighted) if moved and highlighted in self._shown else 0
            routines.highlighted = keep
        self._top = self._shown[0] if self._shown else None
        self._preview()

    def _list_width(self) -> int:
        routines = self.query_one("#routines", RoutineList)
        # What a row is drawn at: the list's content, less the option's padding.
        padding = routines.get_component_styles("option-list--option").padding
        return routines.scrollable_content_region.width - padding.width

    def _highlighted(self) -> RoutineEntry | None:
        index = self.query_one("#routines", RoutineList).highlighted
        if index is not None and 0 <= index < len(self._shown):
            return self._shown[index]
        return None

    def _preview(self) -> None:
        entry = self._highlighted()
        preview = self.query_one("#preview", Static)
        if entry is None:
            preview.update("")
        else:
            preview.update(preview_text(entry))
            self.query_one("#preview-pane", VerticalScroll).scroll_home(animate=False)

    @on(OptionList.OptionHighlighted, "#routines")
    def _row_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._preview()

    @on(OptionList.OptionSelected, "#routines")
    def _row_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_start()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self._fill(self._entries)

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#routines", RoutineList).focus()

    def on_key(self, event: Any) -> None:
        search = self.query_one("#search", Input)
        if not search.has_focus:
            return
        if event.key == "escape":
            # First escape clears the search, the next goes back to the list.
            if search.value:
                search.value = ""
            else:
                self.query_one("#routines", RoutineList).focus()
            event.stop()
        elif event.key == "down":
            self.query_one("#routines", RoutineList).focus()
            event.stop()

    # ------------------------------------------------------------------ actions

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_start(self) -> None:
        from tproutine.tui.catalog import read_entry

        entry = self._highlighted()
        if entry is None:
            return
        # The list may come from the cache, and the file may have changed since it
        # was listed: what runs is the file as it is now, checked again.
        fresh, timeline = read_entry(entry.path, entry.origin)
        if fresh != entry or fresh.details != entry.details:
            self._replace(entry, fresh)
        if timeline is None:
            self.notify(
                f"{fresh.path.name} cannot be run: {fresh.errors[0] if fresh.errors else ''}",
                severity="error",
            )
            return
        self.tapp.begin(timeline, str(fresh.path))

    def _replace(self, old: RoutineEntry, new: RoutineEntry) -> None:
        """Show what a file says now in place of what the list said."""
        from tproutine.tui.catalog import ordered

        if old in self._entries:
            entries = ordered([new if e is old else e for e in self._entries])
            self._show(entries, complete=not self._reading)
        if new in self._shown:
            self.query_one("#routines", RoutineList).highlighted = self._shown.index(new)

    async def action_quit(self) -> None:
        await self.tapp.action_stop_and_quit()

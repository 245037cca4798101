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
from tproutine.safetext import one_line
from tproutine.tui.columns import DEVICE_MARK, fit
from tproutine.tui.messages import LibraryLoaded
from tproutine.tui.widgets.reserved import Reserved, after_first_frame, put_in_place

if TYPE_CHECKING:
    from textual.css.styles import RulesMap

    from tproutine.tui.app import TProutineApp
    from tproutine.tui.catalog import LibraryScan, RoutineEntry

# How long the Library may take the cached summaries before its first paint; a
# slow disk leaves the rest to the worker.
FIRST_PAINT_BUDGET_S = 0.15


def match_score(entry: RoutineEntry, words: list[str]) -> int:
    """How well the search ``words`` (casefolded) fit ``entry``: a word that starts a word
    of the name counts most, one inside the name less, one in the tags, areas or
    author least; a name that starts with the whole query gets more."""
    name = entry.name.casefold()
    name_words = name.replace("-", " ").replace("(", " ").split()
    score = 0
    for word in words:
        if any(w.startswith(word) for w in name_words):
            score += 3
        elif word in name:
            score += 2
        else:
            score += 1
    return score + (2 if name.startswith(" ".join(words)) else 0)


def uses_device(entry: RoutineEntry) -> bool:
    """Whether the routine drives a massage device in any step."""
    return entry.uses_device and not entry.errors


def preview_text(entry: RoutineEntry) -> Text:
    """The preview pane: summary, safety notes, the steps with their times, the total."""
    out = Text()
    # The name of a file that cannot be run is its file name: anyone's text.
    out.append(one_line(entry.name), style="bold")
    out.append("\n")
    if entry.errors:
        out.append("This file cannot be run:\n", style="bold")
        for line in entry.errors:
            out.append(f"  {one_line(line)}\n")
        out.append(f"\n{one_line(str(entry.path))}\n", style="dim")
        return out
    meta = [f"Total {clock_text(entry.total_s)}"]
    if entry.author:
        meta.append(f"by {entry.author}")
    if entry.origin == "yours":
        meta.append("your routine")
    out.append(" · ".join(meta) + "\n", style="dim")
    if uses_device(entry):
        out.append(f"{DEVICE_MARK} Uses a massage device; without one it runs as a timer.\n")
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
    ``wants`` are the widths the library's longest name, tags and author ask for
    (measured over every routine, so that the columns stay put while a search
    narrows the list); ``width_of`` gives the width to lay out for (the header
    takes the list's). ``cells`` is None for the header.
    """

    def __init__(
        self,
        cells: tuple[str, str, str, str, str] | None,
        wants: tuple[int, int, int],
        width_of: Callable[[int], int] = lambda width: width,
    ) -> None:
        self.cells = cells
        self.wants = wants
        self.width_of = width_of
        self.drawn_at = 80  # the width it was last drawn at: what str() shows

    def text(self, width: int) -> str:
        columns = fit(max(self.width_of(width) - 1, 30), *self.wants)
        return columns.header() if self.cells is None else columns.row(*self.cells)

    def __str__(self) -> str:
        return self.text(self.drawn_at)

    def render_strips(
        self, width: int, height: int | None, style: Style, options: RenderOptions
    ) -> list[Strip]:
        self.drawn_at = width
        return Content(self.text(width)).render_strips(width, height, style, options)

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return container_width

    def get_height(self, rules: RulesMap, width: int) -> int:
        return 1


class LibraryScreen(Screen[None]):
    """The home screen."""

    AUTO_FOCUS = "#routines"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", key_display="/"),
        Binding("d", "app.open_devices", "Devices"),
        Binding("h", "app.open_history", "History"),
        Binding("q", "quit", "Quit"),
        Binding("enter", "start", "Start the highlighted routine", show=False),
        Binding("escape", "clear_search", "Clear search"),
        Binding("e", "start_easier", "Easier today"),
    ]

    def __init__(self, *, now: bool = False) -> None:
        """``now``: shown at once (after `run FILE`'s session), so built at once."""
        super().__init__()
        self._shown: list[RoutineEntry] = []
        self._loading = False  # the library is being read (or was)
        self._built = False  # composed (not yet under `run FILE`'s Player)
        self._wanted = now  # shown: compose it whatever the options say
        self._reading = False  # the worker still reads files that were not in the cache
        # What the list shows: every entry read so far. The app's `entries` is set
        # once the whole library is read.
        self._entries: list[RoutineEntry] = []
        self._top: RoutineEntry | None = None  # the first row as last filled
        from tproutine.tui.plans import LibraryPlans

        self._plans = LibraryPlans()  # filled by a worker once the routines are listed

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
                yield Label("", id="search-hint", classes="-hidden", markup=False)
            with VerticalScroll(id="preview-pane"):
                yield Static(id="preview", markup=False)
        # The keys a frame after the list (tui/widgets/reserved.py): the list first.
        yield Reserved(id="footer-later")

    def on_mount(self) -> None:
        if not self._built:
            return
        after_first_frame(self, self._mount_footer)
        if self.tapp.entries is not None:
            self._show(self.tapp.entries, complete=True)
        elif self.is_active:
            self._load()

    async def _mount_footer(self) -> None:
        mounted = put_in_place(self, "footer-later", Footer(compact=True))
        if mounted is not None:
            await mounted
            self.refresh_bindings()

    async def on_screen_resume(self) -> None:
        if not self.is_active:
            return
        if not self._built:
            self._wanted = True
            await self.recompose()
            # Built only now (under a screen that asked first): on_mount has passed.
            after_first_frame(self, self._mount_footer)
        if self.tapp.entries is None:
            self._load()
        else:
            # Back from a session: the week's progress may have changed.
            self._start_plans(self.tapp.entries)

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
        if complete:
            self._start_plans(entries)

    # ------------------------------------------------------------------ plans

    def _start_plans(self, entries: list[RoutineEntry]) -> None:
        if not any(e.plan for e in entries):
            return  # no planned routine: nothing to read, the history stays closed
        self._read_plans(entries)

    @work(thread=True, exclusive=True, group="plans")
    def _read_plans(self, entries: list[RoutineEntry]) -> None:
        """The plans' progress, read here: opening the history may wait for another
        program's lock (the 2 s busy timeout), and the list must not."""
        from datetime import datetime

        from tproutine.tui.plans import LibraryPlansRead, read_plans

        store = self.tapp.history_store()
        self.post_message(LibraryPlansRead(read_plans(entries, store, datetime.now().astimezone())))

    def on_library_plans_read(self, message: Any) -> None:
        self._plans = message.plans
        self._fill(self._entries)

    # ------------------------------------------------------------------ the list

    def _fill(self, entries: list[RoutineEntry]) -> None:
        from tproutine.tui.plans import badge, ordered

        query = self.query_one("#search", Input).value
        routines = self.query_one("#routines", RoutineList)
        highlighted = self._highlighted()
        self._shown = ordered([e for e in entries if e.matches(query)], self._plans)
        if query.strip():
            # While searching, the best match first (a stable sort keeps the order of ties).
            words = query.casefold().split()
            self._shown.sort(key=lambda e: -match_score(e, words))
        names: dict[int, str] = {}
        for entry in entries:
            mark = badge(entry, self._plans)
            shown = one_line(entry.name)  # a broken file's name is its file name
            names[id(entry)] = f"{shown} · {mark}" if mark else shown
        wants = (
            max((len(n) for n in names.values()), default=10),
            max((len(", ".join(e.tags)) for e in entries), default=0),
            max((len(e.author) for e in entries), default=0),
        )
        # The header's columns are laid out for the list's width, to stand over them.
        header = self.query_one("#routines-header", Label)
        header.update(Row(None, wants, lambda _: self._list_width()))
        options = []
        for i, entry in enumerate(self._shown):
            if entry.errors:
                time, tags, author = "–", "cannot be run", ""
            else:
                time, tags, author = clock_text(entry.total_s), ", ".join(entry.tags), entry.author
            device = DEVICE_MARK if uses_device(entry) else ""
            cells = (device, names[id(entry)], time, tags, author)
            options.append(Option(Row(cells, wants), id=str(i)))
        routines.clear_options()
        routines.add_options(options)
        status = self.query_one("#library-status", Label)
        if not entries and self._reading:
            status.update("Reading the routines…")
        elif not entries:
            status.update("No routines found. Add your own with `tproutine add FILE`.")
        elif not self._shown:
            status.update(f"Nothing matches “{one_line(query)}”.")
        else:
            count = len(self._shown)
            some = any(map(uses_device, entries))
            legend = f" · {DEVICE_MARK} uses a massage device" if some else ""
            status.update(
                f"{count} routine{'s' if count != 1 else ''}"
                + (f" matching “{one_line(query)}”" if query else "")
                + (", reading the others…" if self._reading else "")
                + legend
            )
        if self._shown:
            # The routine the person moved to stays highlighted; left where it started,
            # the highlight stays on the first choice as routines arrive.
            moved = highlighted is not None and highlighted is not self._top
            if moved and highlighted in self._shown:
                keep = self._shown.index(highlighted)
            elif query.strip():
                keep = 0  # the best match
            else:
                keep = self._first_choice()
            routines.highlighted = keep
        self._top = self._shown[routines.highlighted or 0] if self._shown else None
        self._preview()

    def _first_choice(self) -> int:
        """The row the cursor starts on: in the demo, the first routine that uses the
        device, so that enter shows the virtual massager at work."""
        if self.tapp.options.demo:
            for i, entry in enumerate(self._shown):
                if uses_device(entry):
                    return i
        return 0

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
            from tproutine.tui.plans import preview_lines

            text = preview_text(entry)
            if not entry.errors:
                text.append_text(preview_lines(entry, self._plans))
            preview.update(text)
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
        # Enter picks the best match: the list has the keys, and enter again starts it.
        self._best_match()
        self.query_one("#routines", RoutineList).focus()

    def _best_match(self) -> None:
        if self._shown:
            self.query_one("#routines", RoutineList).highlighted = 0

    def on_key(self, event: Any) -> None:
        search = self.query_one("#search", Input)
        if not search.has_focus:
            return
        if event.key in ("escape", "down"):
            # One escape leaves the box (the filter stays; escape again clears it).
            self.query_one("#routines", RoutineList).focus()
            event.stop()

    def on_descendant_focus(self) -> None:
        self._say_keys()

    def on_descendant_blur(self) -> None:
        self._say_keys()

    def _say_keys(self) -> None:
        """The hint under the list says what the keys do where the focus is."""
        hint = self.query_one("#search-hint", Label)
        search = self.query_one("#search", Input)
        if search.has_focus:
            text = "enter: pick the best match · esc: to the list"
        elif search.value:
            text = "enter: start · esc: clear the search"
        else:
            text = ""
        hint.update(text)
        hint.set_class(not text, "-hidden")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_search":
            return bool(self.query_one("#search", Input).value)
        return True

    def action_clear_search(self) -> None:
        self.query_one("#search", Input).value = ""
        self.query_one("#routines", RoutineList).focus()
        self._say_keys()

    # ------------------------------------------------------------------ actions

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_start(self) -> None:
        self._start()

    def action_start_easier(self) -> None:
        """Start the highlighted routine "easier today" (time ×0.75, pressure −1, device −10)."""
        self._start(easier=True)

    def _start(self, *, easier: bool = False) -> None:
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
                f"{one_line(fresh.path.name)} cannot be run: "
                f"{one_line(fresh.errors[0]) if fresh.errors else ''}",
                severity="error",
            )
            return
        self.tapp.begin(timeline, str(fresh.path), easier=easier)

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

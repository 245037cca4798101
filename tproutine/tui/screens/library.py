"""The Library: every routine, a search box and a preview of the highlighted one.

The screen paints at once with an empty list and fills it when the worker that
reads the routine files reports back (``LibraryLoaded``): reading and checking
the files never holds up the first paint.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tproutine.safetext import one_line
from tproutine.tui.columns import DEVICE_MARK, fit
from tproutine.tui.messages import LibraryLoaded

if TYPE_CHECKING:
    from tproutine.history.store import HistoryStore
    from tproutine.tui.app import TProutineApp
    from tproutine.tui.catalog import RoutineEntry


def clock_text(seconds: float) -> str:
    """``MM:SS`` (``H:MM:SS`` past an hour), rounded to the second.

    The same as ``routine.durations.format_clock``, which the first screen cannot
    import: the ``tproutine.routine`` package loads pydantic, which waits until the
    routine files are read, after the first paint.
    """
    total = max(0, int(seconds + 0.5))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


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
    return entry.timeline is not None and entry.timeline.uses_device


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

    def __init__(self) -> None:
        super().__init__()
        self._shown: list[RoutineEntry] = []
        from tproutine.tui.plans import LibraryPlans

        self._plans = LibraryPlans()  # filled by a worker once the routines are listed

    @property
    def tapp(self) -> TProutineApp:
        from tproutine.tui.app import TProutineApp

        assert isinstance(self.app, TProutineApp)
        return self.app

    def compose(self) -> ComposeResult:
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
        yield Footer(compact=True)

    def on_mount(self) -> None:
        entries = self.tapp.entries
        if entries is not None:
            self._fill(entries)
        else:
            # After the first paint, so reading files never delays it.
            self.call_after_refresh(self._load)

    def _load(self) -> None:
        app = self.tapp
        self._read_library(app.library_folders(), app.options.files)

    @work(thread=True, exclusive=True, group="library")
    def _read_library(self, folders: tuple[tuple[Path, str], ...], files: tuple[Path, ...]) -> None:
        from tproutine.tui.catalog import scan_library

        self.post_message(LibraryLoaded(scan_library(folders, files)))

    def on_library_loaded(self, message: LibraryLoaded) -> None:
        self.tapp.entries = message.entries
        self._fill(message.entries)
        self._start_plans(message.entries)

    # ------------------------------------------------------------------ plans

    def on_screen_resume(self) -> None:
        # Back from a session: the week's progress may have changed.
        if self.tapp.entries is not None:
            self._start_plans(self.tapp.entries)

    def _start_plans(self, entries: list[RoutineEntry]) -> None:
        if not any(e.timeline is not None and e.timeline.plan for e in entries):
            return  # no planned routine: nothing to read, the history stays closed
        # Opened here, on the app's thread (it may notify); read in the worker.
        self._read_plans(entries, self.tapp.history_store())

    @work(thread=True, exclusive=True, group="plans")
    def _read_plans(self, entries: list[RoutineEntry], store: HistoryStore) -> None:
        from datetime import datetime

        from tproutine.tui.plans import LibraryPlansRead, read_plans

        self.post_message(LibraryPlansRead(read_plans(entries, store, datetime.now().astimezone())))

    def on_library_plans_read(self, message: Any) -> None:
        self._plans = message.plans
        if self.tapp.entries is not None:
            self._fill(self.tapp.entries)

    # ------------------------------------------------------------------ the list

    def _fill(self, entries: list[RoutineEntry]) -> None:
        query = self.query_one("#search", Input).value
        routines = self.query_one("#routines", RoutineList)
        highlighted = self._highlighted()
        from tproutine.tui.plans import badge, ordered

        self._shown = ordered([e for e in entries if e.matches(query)], self._plans)
        if query.strip():
            # While searching, the best match first (a stable sort keeps the order of ties).
            words = query.casefold().split()
            self._shown.sort(key=lambda e: -match_score(e, words))
        # Measured over every entry, so the columns stay put while a search narrows the list.
        columns = fit(
            max(routines.scrollable_content_region.width - 1, 30),
            max(
                (
                    len(e.name) + len(f" · {b}" if (b := badge(e, self._plans)) else "")
                    for e in entries
                ),
                default=10,
            ),
            max((len(", ".join(e.tags)) for e in entries), default=0),
            max((len(e.author) for e in entries), default=0),
        )
        self.query_one("#routines-header", Label).update(columns.header())
        options = []
        for i, entry in enumerate(self._shown):
            if entry.errors:
                time, tags, author = "–", "cannot be run", ""
            else:
                time, tags, author = clock_text(entry.total_s), ", ".join(entry.tags), entry.author
            mark = badge(entry, self._plans)
            shown = one_line(entry.name)  # a broken file's name is its file name
            name = f"{shown} · {mark}" if mark else shown
            device = DEVICE_MARK if uses_device(entry) else ""
            row = columns.row(device, name, time, tags, author)
            options.append(Option(Text(row), id=str(i)))
        routines.clear_options()
        routines.add_options(options)
        status = self.query_one("#library-status", Label)
        if not entries:
            status.update("No routines found. Add your own with `tproutine add FILE`.")
        elif not self._shown:
            status.update(f"Nothing matches “{query}”.")
        else:
            count = len(self._shown)
            some = any(map(uses_device, entries))
            legend = f" · {DEVICE_MARK} uses a massage device" if some else ""
            status.update(
                f"{count} routine{'s' if count != 1 else ''}"
                + (f" matching “{query}”" if query else "")
                + legend
            )
        if self._shown:
            if highlighted in self._shown:
                keep = self._shown.index(highlighted)
            elif highlighted is None:
                keep = self._first_choice()
            else:
                keep = 0
            routines.highlighted = keep
        self._preview()

    def _first_choice(self) -> int:
        """The row the cursor starts on: in the demo, the first routine that uses the
        device, so that enter shows the virtual massager at work."""
        if self.tapp.options.demo:
            for i, entry in enumerate(self._shown):
                if uses_device(entry):
                    return i
        return 0

    def on_resize(self) -> None:
        if self.tapp.entries is not None:
            self.call_after_refresh(self._fill, self.tapp.entries)

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
        if self.tapp.entries is not None:
            self._fill(self.tapp.entries)
            self._best_match()

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
        entry = self._highlighted()
        if entry is None:
            return
        if not entry.ok or entry.timeline is None:
            self.notify(
                f"{entry.path.name} cannot be run: {entry.errors[0] if entry.errors else ''}",
                severity="error",
            )
            return
        self.tapp.begin(entry.timeline, str(entry.path))

    def action_start_easier(self) -> None:
        """Start the highlighted routine "easier today" (time ×0.75, pressure −1, device −10)."""
        entry = self._highlighted()
        if entry is not None and entry.ok and entry.timeline is not None:
            self.tapp.begin(entry.timeline, str(entry.path), easier=True)
        else:
            self.action_start()  # says why it cannot run

    async def action_quit(self) -> None:
        await self.tapp.action_stop_and_quit()

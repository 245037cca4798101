"""Before the start: the routine's warnings, the avoid-if checklist and "pain right now".

Shown only when the routine has safety items or the settings ask for a pain
rating. ``enter`` confirms (none of the avoid-if items applies) and starts,
``escape`` goes back to the Library. The rating is optional: ``enter`` without
a number skips it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from tproutine.routine.timeline import Timeline

START_HINT = "enter: start    escape: back to the library"
MORE_HINT = "enter: read on (more below)    escape: back to the library"


@dataclass(frozen=True)
class StartChoice:
    """The person confirmed; ``pain`` is their rating (0-10) or None when skipped;
    ``easier``: they asked for "easier today"."""

    pain: int | None
    easier: bool = False


EASIER_MARK = " · easier today"


def adjusted_text(timeline: Timeline) -> str:
    from tproutine.safetext import one_line

    note = timeline.adjustment
    return f"Adjusted: {one_line(note.summary)}" if note is not None else ""


def safety_text(timeline: Timeline) -> Text:
    out = Text()
    if timeline.warnings:
        out.append("Warnings\n", style="bold")
        for warning in timeline.warnings:
            out.append(f"! {warning}\n")
    if timeline.avoid_if:
        if timeline.warnings:
            out.append("\n")
        out.append("Do not do this routine if:\n", style="bold")
        for item in timeline.avoid_if:
            out.append(f"- {item}\n")
        out.append("\nPressing enter confirms that none of these applies to you.\n", style="italic")
    return out


def pain_text(pain: int | None) -> str:
    shown = "not rated" if pain is None else f"{pain} of 10"
    return f"Pain right now (0 none – 10 worst): {shown}"


class BeforeStartScreen(ModalScreen[StartChoice | None]):
    """Warnings, the avoid-if checklist and an optional pain rating."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "confirm", "Start"),
        Binding("escape", "back", "Back"),
        Binding("e", "easier", "Easier today"),
        Binding("t", "pain(10)", "Pain 10", show=False),
        Binding("backspace", "pain(-1)", "Clear rating", show=False),
        *(Binding(str(n), f"pain({n})", f"Pain {n}", show=False) for n in range(10)),
    ]

    def __init__(self, timeline: Timeline, *, ask_pain: bool) -> None:
        super().__init__()
        self.timeline = timeline
        self.ask_pain = ask_pain
        self.pain: int | None = None
        self.easier = False
        # "Easier today" reads the routine's file again; a routine without one cannot.
        self.can_ease = timeline.source is not None

    def compose(self) -> ComposeResult:
        with Vertical(id="before-start", classes="dialog"):
            yield Label(
                Text(f"Before you start: {self.timeline.name}"),
                id="before-title",
                classes="dialog-title",
            )
            if self.timeline.warnings or self.timeline.avoid_if:
                with VerticalScroll(id="safety"):
                    yield Static(safety_text(self.timeline), markup=False)
            if self.timeline.adjustment is not None:
                yield Label(adjusted_text(self.timeline), id="adjusted", markup=False)
            if self.ask_pain:
                yield Label(pain_text(None), id="pain", markup=False)
                yield Label(
                    "Keys 0–9, t for 10; enter without a number skips the rating.",
                    classes="hint",
                    markup=False,
                )
            yield Label(START_HINT, id="start-hint", classes="hint", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._fit()
        found = self.query("#safety")
        if found:
            # Scrolling by arrow keys or the mouse counts as reading on, too.
            self.watch(found.first(), "scroll_y", self._scrolled, init=False)

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        # The pain line and the hints must stay on screen at 80×24: the safety text
        # gets what is left of the dialog (90% of the height) and scrolls.
        found = self.query("#safety")
        if not found:
            return
        other = 13 if self.ask_pain else 10
        found.first().styles.max_height = max(4, int(self.size.height * 0.9) - other)
        self.call_after_refresh(self._update_hint)

    def _unread(self) -> bool:
        """Part of the safety text is still below the fold."""
        found = self.query("#safety")
        if not found:
            return False
        scroll = found.first(VerticalScroll)
        return scroll.scroll_y < scroll.max_scroll_y

    def _update_hint(self) -> None:
        self.query_one("#start-hint", Label).update(MORE_HINT if self._unread() else START_HINT)

    def _scrolled(self, _value: float) -> None:
        self._update_hint()

    def action_pain(self, value: int) -> None:
        if not self.ask_pain:
            return
        self.pain = None if value < 0 else value
        self.query_one("#pain", Label).update(pain_text(self.pain))

    def action_easier(self) -> None:
        if not self.can_ease:
            return
        # The title says so: at 80×24 every other line is needed for the safety notes.
        self.easier = not self.easier
        title = f"Before you start: {self.timeline.name}"
        self.query_one("#before-title", Label).update(
            Text(title + (EASIER_MARK if self.easier else ""))
        )

    def action_confirm(self) -> None:
        # Confirming says that none of the avoid-if items applies: it must not be
        # possible before every item was on screen, so enter first reads on.
        if self._unread():
            scroll = self.query_one("#safety", VerticalScroll)
            scroll.scroll_page_down(animate=False)
            self.call_after_refresh(self._update_hint)
            return
        self.dismiss(StartChoice(self.pain if self.ask_pain else None, easier=self.easier))

    def action_back(self) -> None:
        self.dismiss(None)

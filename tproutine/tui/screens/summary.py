"""After a session: time spent, segments done, "pain now", and that it was saved.

``enter`` records the optional rating and returns to the Library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label

from tproutine.routine.durations import format_clock as clock_text
from tproutine.tui.screens.before_start import pain_text as _pain_prompt

if TYPE_CHECKING:
    from textual.timer import Timer

    from tproutine.runtime import Runtime
    from tproutine.tui.app import TProutineApp


def pain_now_text(pain: int | None) -> str:
    return _pain_prompt(pain).replace("Pain right now", "Pain now", 1)


def saved_text(runtime: Runtime) -> str:
    """Whether (and why not) the session is in the history."""
    recorder = runtime.recorder
    store = runtime.store
    if recorder is None or store is None:
        return "History is off: this session was not saved."
    if not store.available:
        reason = store.messages[-1] if store.messages else "the history cannot be written"
        return f"Not saved to history: {reason}"
    if not recorder.session_id:
        return "Ended before the first step: nothing to save."
    if store.saving:
        return "Saving to history…"
    if store.waiting:
        return (
            "Kept to be saved: another program holds the history's lock; "
            "it is saved as soon as it lets go."
        )
    return "Saved to history."


class SummaryScreen(Screen[None]):
    """The end of a session (completed or ended by the person)."""

    AUTO_FOCUS = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "done", "Back to the library"),
        Binding("t", "pain(10)", "Pain 10", show=False),
        Binding("backspace", "pain(-1)", "Clear rating", show=False),
        *(Binding(str(n), f"pain({n})", f"Pain {n}", show=False) for n in range(10)),
    ]

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime
        self.pain: int | None = None

    @property
    def tapp(self) -> TProutineApp:
        from tproutine.tui.app import TProutineApp

        assert isinstance(self.app, TProutineApp)
        return self.app

    @property
    def ask_pain(self) -> bool:
        return self.tapp.settings.pain_prompts and bool(
            self.runtime.recorder and self.runtime.recorder.session_id
        )

    def compose(self) -> ComposeResult:
        session = self.runtime.session
        completed = session.status == "completed"
        total = len(session.timeline.segments)
        with Vertical(id="summary"):
            yield Label(
                "Well done: routine complete." if completed else "Session ended.",
                id="summary-title",
                markup=False,
            )
            yield Label(session.timeline.name, id="summary-routine", markup=False)
            yield Label(f"Time spent: {clock_text(session.elapsed())}", id="summary-time")
            skipped = session.segments_skipped
            yield Label(
                f"Segments done: {session.segments_done} of {total}"
                + (f" ({skipped} skipped)" if skipped else ""),
                id="summary-segments",
            )
            if self.ask_pain:
                yield Label(pain_now_text(None), id="summary-pain", markup=False)
                yield Label("Keys 0–9, t for 10 (optional).", classes="hint", markup=False)
            yield Label(saved_text(self.runtime), id="summary-saved", markup=False)
            yield Label("enter: back to the library", classes="hint")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        # The history's own thread may still be writing the end of the session, or
        # waiting for another program's lock: the line follows it until it is saved.
        self._saving: Timer | None = None
        if self._show_saved():
            self._saving = self.set_interval(0.2, self._show_saved)

    def _show_saved(self) -> bool:
        """Show whether the session is saved; whether that may still change."""
        store = self.runtime.store
        pending = store is not None and (store.saving or store.waiting)
        if not pending and self._saving is not None:
            self._saving.stop()
        self.query_one("#summary-saved", Label).update(saved_text(self.runtime))
        return pending

    def action_pain(self, value: int) -> None:
        if not self.ask_pain:
            return
        self.pain = None if value < 0 else value
        self.query_one("#summary-pain", Label).update(pain_now_text(self.pain))

    def action_done(self) -> None:
        if self.pain is not None:
            self.runtime.set_pain_after(self.pain)
        if self.tapp.runtime is self.runtime:
            self.tapp.runtime = None
        self.tapp.back_to_library()

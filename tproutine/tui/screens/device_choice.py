"""The device did not get ready before the start: start without it, try again, or go back.

Shown by the Player when connecting before the session's clock ran out of time
(or failed). The session has not started, so no routine time was lost; the
person decides. The reason is one line from the device layer and may hold a
name the device advertised, so it is shown through :func:`one_line`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label

from tproutine.safetext import one_line

DeviceChoice = Literal["timer", "retry", "back"]

CHOICE_HINT = "enter or w: start without the device    r: try again    escape: back"


class DeviceChoiceScreen(ModalScreen[DeviceChoice]):
    """Start as a timer (enter or w), try again (r) or go back (escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "choose('timer')", "Start without it"),
        # The key that says the same while the Player waits for the device.
        Binding("w", "choose('timer')", "Start without it", show=False),
        Binding("r", "choose('retry')", "Try again"),
        Binding("escape", "choose('back')", "Back"),
    ]

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = one_line(reason)

    def compose(self) -> ComposeResult:
        with Vertical(id="device-choice", classes="dialog"):
            yield Label("The device is not ready", classes="dialog-title")
            yield Label(self.reason, id="device-reason", markup=False)
            yield Label(
                "Without it the timer, the cues and your history work as usual, "
                "and the device stays off.",
                markup=False,
            )
            yield Label(CHOICE_HINT, classes="hint", markup=False)
        yield Footer(compact=True)

    def action_choose(self, choice: DeviceChoice) -> None:
        self.dismiss(choice)

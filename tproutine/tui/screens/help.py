"""Help (``?``): every key of every screen, and where things are kept."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

# (screen, [(keys, what they do)]): the contract of docs/spec/tui.md, in the person's words.
KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Everywhere",
        (
            ("ctrl+q", "stop the motor and quit"),
            ("ctrl+p", "command palette: every action by name"),
            ("?", "this help"),
        ),
    ),
    (
        "Library",
        (
            ("up, down", "choose a routine (the preview shows it)"),
            ("enter", "start the highlighted routine (due ones are listed first, marked ●)"),
            ("◆", "marks a routine that drives a massage device"),
            ("e", "start it easier today: holds and stretches ×0.75, pressure −1, device −10"),
            ("/", "search by name, tag, area or author: the best match comes first"),
            ("enter, escape", "in the search: pick the best match, or back to the list"),
            ("escape", "in the list: clear the search"),
            ("d", "devices"),
            ("h", "history"),
            ("q", "quit"),
        ),
    ),
    (
        "Before the start",
        (
            ("0–9, t", "pain right now (t is 10); optional"),
            ("e", "easier today, or as written again"),
            ("enter", "confirm none of the avoid-if items applies, and start"),
            ("escape", "back to the library"),
        ),
    ),
    (
        "Player",
        (
            ("space", "pause or resume (pausing stops the motor)"),
            ("n, right", "next segment"),
            ("p, left", "back to the start of this segment (the previous one in the first 3 s)"),
            ("+, -", "intensity up or down 10% for the rest of the session"),
            ("s, escape", "stop the motor now; it stays off until you press s again"),
            ("q", "end the session (asks first, paused meanwhile: y or enter ends, n goes on)"),
            ("w", "while the device connects: start without it (the timer only)"),
        ),
    ),
    (
        "Summary",
        (
            ("0–9, t", "pain now (t is 10); optional"),
            ("enter", "save and go back to the library"),
        ),
    ),
    (
        "Devices",
        (
            ("r", "scan for devices"),
            ("enter, c", "connect the highlighted device"),
            ("x", "disconnect"),
            ("t", "test: 2 seconds at 20%"),
            ("u", "use this device by default"),
            ("s", "stop the motor (press again to allow it)"),
            ("escape", "back"),
        ),
    ),
    (
        "History",
        (
            ("up, down", "choose a session: the chart shows its routine"),
            ("e", "export to a file in the current folder (CSV, JSON, Markdown or HTML)"),
            ("escape", "back"),
        ),
    ),
)


def help_text() -> Text:
    width = max(len(keys) for _, rows in KEYS for keys, _ in rows)
    out = Text()
    for screen, rows in KEYS:
        out.append(f"{screen}\n", style="bold")
        for keys, what in rows:
            out.append(f"  {keys:<{width}}  ", style="bold")
            out.append(f"{what}\n")
        out.append("\n")
    out.append(
        "The word “Paused”, the motor state and the device state are always written out,\n"
        "never shown by colour alone. Your settings live in config.toml in your config folder.\n",
        style="italic",
    )
    return out


class HelpScreen(Screen[None]):
    """Every key, screen by screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Back"),
        Binding("q", "dismiss", "Back", show=False),
        Binding("question_mark", "dismiss", "Back", show=False, key_display="?"),
    ]

    def compose(self) -> ComposeResult:
        yield Label("tproutine · Help", classes="screen-title")
        with VerticalScroll(id="help-body"):
            yield Static(help_text(), markup=False)
        yield Footer(compact=True)

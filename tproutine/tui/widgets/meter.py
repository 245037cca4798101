"""A one-line bar with a title and a text label: progress, intensity, breathing.

Textual's own bar draws filled and empty parts with the same character in two
colours; here the filled part is solid blocks and the empty part a light shade,
so the bar reads the same in every theme, in monochrome and for people who do
not see the colours apart. The label (a time or a percentage) says it in words.

The title is drawn by the meter itself rather than by a Label beside it: the
Player redraws its meters several times a second, and one widget per line keeps
each redraw small.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

# Partial blocks give eight steps per cell, so slow changes still move visibly.
_PARTIAL = " ▏▎▍▌▋▊▉"
_FULL = "█"
_EMPTY = "░"


def bar_text(fraction: float, width: int, steps: int = 8) -> tuple[str, str]:
    """The filled and empty parts of a bar ``width`` cells wide at ``fraction`` (0..1).

    ``steps`` per cell: 8 draws partial blocks, 1 whole cells only.
    """
    if width <= 0:
        return "", ""
    f = min(max(fraction, 0.0), 1.0)
    eighths = round(f * width * steps) * (8 // steps)
    full, part = divmod(eighths, 8)
    filled = _FULL * full + (_PARTIAL[part] if part and full < width else "")
    return filled, _EMPTY * (width - len(filled))


class Meter(Widget):
    """``title`` (padded to ``title_width``), a bar that fills with ``value`` (0..1), ``label``."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "meter--title",
        "meter--filled",
        "meter--empty",
        "meter--label",
    }

    DEFAULT_CSS = """
    Meter {
        height: 1;
        width: 1fr;
    }
    Meter > .meter--title {
        text-style: bold;
    }
    Meter > .meter--filled {
        color: $primary;
    }
    Meter > .meter--empty {
        color: $foreground 40%;
    }
    Meter > .meter--label {
        color: $foreground;
    }
    """

    value: reactive[float] = reactive(0.0)
    label: reactive[str] = reactive("")
    title: reactive[str] = reactive("")

    def __init__(
        self,
        value: float = 0.0,
        label: str = "",
        *,
        title: str = "",
        title_width: int = 0,
        fine: bool = True,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.title_width = title_width
        # Eighths of a cell (smooth, for a breathing bar) or whole cells: a bar that
        # moves in whole cells is redrawn less often.
        self.steps = 8 if fine else 1
        self.set_reactive(Meter.title, title)
        self.set_reactive(Meter.value, value)
        self.set_reactive(Meter.label, label)
        self._parts: tuple[Style, Style, Style, Style] | None = None

    def _head(self) -> str:
        return self.title.ljust(self.title_width) if self.title or self.title_width else ""

    def validate_value(self, value: float) -> float:
        # Kept to what the bar can show (eighths of a cell): a change too small to see
        # leaves the value as it is, so the bar is not redrawn for nothing.
        v = min(max(float(value), 0.0), 1.0)
        room = self.content_size.width - len(self._head()) - len(self.label) - 1
        steps = max(room, 0) * self.steps
        return round(v * steps) / steps if steps else v

    def notify_style_update(self) -> None:
        self._parts = None  # the theme or the CSS changed
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        # Drawn as one line of segments (Textual's line API) rather than as content to
        # be laid out: the Player redraws its bars several times a second.
        if self._parts is None:
            # Resolved once per style change, not at every frame.
            self._parts = (
                self.get_component_rich_style("meter--title"),
                self.get_component_rich_style("meter--filled"),
                self.get_component_rich_style("meter--empty"),
                self.get_component_rich_style("meter--label"),
            )
        total = self.content_size.width
        if y != 0:
            return Strip.blank(total)
        title_style, filled_style, empty_style, label_style = self._parts
        head = self._head()
        label = f" {self.label}" if self.label else ""
        width = max(total - cell_len(head) - cell_len(label), 0)
        filled, empty = bar_text(self.value, width, self.steps)
        segments = [
            Segment(text, style)
            for text, style in (
                (head, title_style),
                (filled, filled_style),
                (empty, empty_style),
                (label, label_style),
            )
            if text
        ]
        return Strip(segments).crop_extend(0, total, None)

"""Places kept in a screen's first frame for parts mounted right after it.

What a person waits for after a start is the first frame with what they came
for (the Player's step, the Library's list). A footer of a dozen keys, each a
widget Textual builds and styles one by one, can come a frame later: its place
is kept at its height and in its colours (``#footer-later`` in ``player.tcss``),
so nothing moves when it arrives.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget


class Reserved(Widget):
    """The place of a part mounted after the first frame: blank, in its colours.

    (A bare Widget draws its own name, "Widget#footer-later", in that frame.)
    """

    def render(self) -> str:
        return ""


def after_first_frame(node: DOMNode, then: Callable[..., object], *args: object) -> None:
    """Run ``then(*args)`` once the frame being built now is on the terminal.

    Textual paints nothing while the app itself starts (its start-up is one batch of
    updates), so a ``call_after_refresh`` from ``on_mount`` would still come before
    the first frame; the app's own queue is read only once that start is over, and
    from there the next refresh is the first frame.
    """
    node.app.call_later(node.call_after_refresh, then, *args)


def put_in_place(screen: Screen[Any], place: str, widget: Widget) -> Awaitable[None] | None:
    """Mount ``widget`` where the Reserved ``#place`` is, and drop the place (to be
    awaited); None when the place is gone already."""
    found = screen.query(f"#{place}")
    if not found:
        return None
    mounted = screen.mount(widget, before=found.first())
    found.remove()
    return mounted

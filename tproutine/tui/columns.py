"""The Library's columns: what fits in the list's width.

A row is ``◆ Name  Time  Tags  Author``: the mark says the routine drives a
massage device. The name gets the room it needs first (it is how a person
finds a routine; only a name longer than ``NAME_ENOUGH`` may be clipped to make
room for the tags), then the time; tags and author are shown only where they
get a useful width, and dropped whole otherwise: a column clipped to "Ta…"
tells nobody anything, and the preview beside the list has them in full.
"""

from __future__ import annotations

from dataclasses import dataclass

DEVICE_MARK = "◆"
MARK_WIDTH = 1
TIME_WIDTH = 5
GAP = 2
NAME_MIN = 12
# A longer name may be clipped to this many cells to make room for the tags: the
# first 44 characters of a name still tell routines apart.
NAME_ENOUGH = 44
TAGS_MIN = 12  # narrower tags are dropped, not clipped to nothing
AUTHOR_MIN = 10


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


@dataclass(frozen=True)
class Columns:
    """The widths of a layout; 0 for a column that is left out."""

    width: int
    name: int
    tags: int = 0
    author: int = 0

    def row(self, mark: str, name: str, time: str, tags: str, author: str) -> str:
        cells = [mark[:MARK_WIDTH].ljust(MARK_WIDTH), clip(name, self.name).ljust(self.name)]
        cells[-1] += " " * GAP + time.rjust(TIME_WIDTH)
        if self.tags:
            cells.append(" " * (GAP - 1) + clip(tags, self.tags).ljust(self.tags))
        if self.author:
            cells.append(" " * (GAP - 1) + clip(author, self.author))
        return " ".join(cells)[: self.width].rstrip()

    def header(self) -> str:
        return self.row(" ", "Routine", " Time", "Tags", "Author")


def fit(width: int, name: int, tags: int, author: int) -> Columns:
    """The layout for a list ``width`` cells wide whose longest name, tags and author
    are ``name``, ``tags`` and ``author`` cells long."""
    fixed = MARK_WIDTH + 1 + GAP + TIME_WIDTH
    name_w = max(min(name, width - fixed), NAME_MIN)
    rest = width - fixed - name_w
    if tags and rest < GAP + TAGS_MIN and name_w > NAME_ENOUGH:
        shorter = max(NAME_ENOUGH, width - fixed - GAP - TAGS_MIN)
        if width - fixed - shorter >= GAP + TAGS_MIN:
            name_w, rest = shorter, width - fixed - shorter
    tags_w = author_w = 0
    if tags and rest >= GAP + TAGS_MIN:
        both = rest >= 2 * GAP + TAGS_MIN + AUTHOR_MIN and author > 0
        # With the author beside them, the tags keep three fifths of the room.
        room = max(TAGS_MIN, (rest - GAP) * 3 // 5) if both else rest - GAP
        tags_w = min(tags, room)
        rest -= GAP + tags_w
    if author and rest >= GAP + AUTHOR_MIN:
        author_w = min(author, rest - GAP)
    return Columns(width, name_w, tags_w, author_w)

""" "Did you mean …?" for misspelt keys and names.

Its own module so that settings and the history command can use it without
loading the YAML machinery.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The nearest known key to a misspelt one, if any is close."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None

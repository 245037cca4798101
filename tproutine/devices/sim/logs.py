"""Where Bumble's log records go.

Bumble logs through the standard ``bumble`` logger hierarchy, and some of its
warnings (unsupported HCI commands, notifications nobody subscribed to) are
routine for a virtual radio. Left alone they reach the root logger, or Python's
last-resort stderr handler, and get printed over the TUI. This module keeps
them off stderr: by default they are dropped; the app can hand in a handler
(its log file) instead.
"""

from __future__ import annotations

import logging

BUMBLE_LOGGER = "bumble"

_installed: logging.Handler | None = None


def route_bumble_logs(handler: logging.Handler | None = None, level: int = logging.WARNING) -> None:
    """Send the ``bumble`` logger's records to ``handler`` only (``None``: nowhere).

    Idempotent: a second call replaces the handler installed by the first, so
    the app can call it again once it knows its log file.
    """
    global _installed
    logger = logging.getLogger(BUMBLE_LOGGER)
    if _installed is not None:
        logger.removeHandler(_installed)
    # A NullHandler still counts as "a handler was found", which keeps the
    # last-resort stderr handler quiet; propagate=False keeps root handlers
    # (pytest's capture, an app's basicConfig to stderr) out of it.
    _installed = handler if handler is not None else logging.NullHandler()
    logger.addHandler(_installed)
    logger.setLevel(level)
    logger.propagate = False

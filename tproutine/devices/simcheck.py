"""Whether the virtual massager can run here, asked without importing Bumble.

Bumble is a normal dependency (``tproutine demo`` must work after a plain
``pip install tproutine``), but it needs Python 3.11, and an install made with
``--no-deps`` or trimmed by hand may lack it. Every command that needs the
simulator asks here first and says the one fix, instead of failing later.
"""

from __future__ import annotations

import importlib.util
import sys

BUMBLE_PIN = "bumble==0.0.236"


def simulator_missing() -> str | None:
    """One line saying why the virtual massager cannot run and what to do; None if it can."""
    if sys.version_info < (3, 11):
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        return (
            "the virtual massager needs Python 3.11 or newer (its Bluetooth stack, Bumble, "
            f"does); this is Python {version}"
        )
    if importlib.util.find_spec("bumble") is None:
        return (
            "the virtual massager needs Bumble, which is missing from this install: "
            "pip install 'tproutine[sim]'"
        )
    return None

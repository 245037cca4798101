"""Session events: what the engine tells its listeners (CLI spec, "Events").

Every event has a name, ``t`` (seconds on the session clock: scaled by
``--speed``, stopped while paused) and ``mono`` (``time.monotonic()`` when it
was emitted, so another process can line it up with its own log). The other
fields depend on the event; ``to_json()`` gives the one-line JSON form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

EventName = Literal[
    "session_start",  # routine, total_s, segments
    "session_end",  # status: completed | stopped | interrupted
    "segment_start",  # index, kind, title, side, rep, due
    "segment_end",  # index, skipped (+ what the device really did, where known)
    "cue",  # index, say
    "breathe",  # index, phase (in | hold | out), duration_s  (an extension of the spec)
    "pause",
    "resume",
    "skip",  # index
    "back",  # index (the segment it went back to)
    "device",  # action: connect|disconnect|reconnect|set|stop; percent, level; reason
    "clamp",  # index, asked, given, why
    "scale",  # scale: the session intensity scale after +/- (an extension of the spec)
]

SessionStatus = Literal["completed", "stopped", "interrupted"]


@dataclass(frozen=True, slots=True)
class Event:
    event: EventName
    t: float
    mono: float
    data: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "t": round(self.t, 4), "mono": self.mono, **self.data}


Listener = Callable[[Event], None]

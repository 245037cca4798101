"""What the device side tells the rest of the app (TUI, plain output, history).

The controller publishes a new :class:`DeviceStatus` whenever anything changes;
screens render it and never talk Bluetooth themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

DeviceState = Literal[
    "none",  # no device wanted (timer only)
    "scanning",
    "connecting",
    "connected",
    "reconnecting",  # the link was lost; the routine goes on as a timer meanwhile
    "failed",  # could not connect; the routine runs as a timer
]


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    state: DeviceState = "none"
    name: str | None = None  # the advertised name
    address: str | None = None
    profile: str | None = None  # the profile's display name
    battery: int | None = None  # percent, where the device tells
    running: bool = False  # the motor, as the device reports it (or as last commanded)
    percent: float | None = None  # intensity now, as a share of the range
    level: int | None = None  # raw level now
    max_level: int | None = None
    force: float | None = None  # newtons, where the device reports it
    speed_rpm: int | None = None
    held_off: bool = False  # the person's emergency stop is latched until released
    message: str | None = None  # one line for the screen: why it failed, what it does

    def with_(self, **changes: object) -> DeviceStatus:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def label(self) -> str:
        """The state as words (colour is never the only carrier of meaning)."""
        if self.state == "connected" and self.held_off:
            return "stopped by you"
        return {
            "none": "no device",
            "scanning": "scanning",
            "connecting": "connecting",
            "connected": "running" if self.running else "off",
            "reconnecting": "reconnecting",
            "failed": "not connected",
        }[self.state]


StatusListener = Callable[[DeviceStatus], None]


@dataclass(frozen=True, slots=True)
class FoundDevice:
    """One device seen by a scan."""

    name: str | None
    address: str
    rssi: int | None
    profile_id: str | None  # the matching profile, if any
    profile_name: str | None
    why: str | None = None  # the evidence for the profile, or why none (for ``devices scan``)
    auto: bool = True  # whether ``--device auto`` would take it

"""The device panel: what the massage device is doing, in words and a bar.

It only shows a :class:`~tproutine.devices.status.DeviceStatus`; the app feeds
it every status the controller publishes. Every state is written out
("reconnecting", "off", "stopped by you"), never shown by colour alone.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label

from tproutine.devices.status import DeviceStatus
from tproutine.safetext import one_line
from tproutine.tui.widgets.meter import Meter


def state_words(status: DeviceStatus) -> str:
    """The state as a person reads it, with what it means for the routine."""
    if status.state == "none":
        return "none, timer only"
    if status.state == "failed":
        return "not connected, running as a timer"
    if status.state == "reconnecting":
        return "reconnecting (the timer goes on)"
    if status.state == "connected":
        if status.held_off:
            return "connected, motor stopped by you"
        return "connected, motor running" if status.running else "connected, motor off"
    return status.label


def intensity_text(status: DeviceStatus) -> str:
    if status.percent is not None:
        text = f"{status.percent:.0f}%"
    elif status.level is not None:
        text = f"level {status.level}" + (f"/{status.max_level}" if status.max_level else "")
    else:
        text = "–"
    return text


def readings_text(status: DeviceStatus) -> str:
    """Battery, force and speed where the device reports them."""
    parts = []
    if status.battery is not None:
        parts.append(f"battery {status.battery}%")
    if status.force is not None:
        parts.append(f"force {status.force:.1f} N")
    if status.speed_rpm is not None:
        parts.append(f"speed {status.speed_rpm} rpm")
    return " · ".join(parts)


class DevicePanel(Widget):
    """State, name, intensity bar with percent, battery, force or speed."""

    DEFAULT_CSS = """
    DevicePanel {
        height: auto;
        layout: vertical;
    }
    DevicePanel > Horizontal {
        height: 1;
    }
    DevicePanel #device-state {
        width: auto;
    }
    DevicePanel #device-name {
        width: 1fr;
        padding-left: 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    DevicePanel #device-readings {
        width: auto;
        padding-left: 1;
    }
    DevicePanel .device-title {
        width: auto;
        padding-right: 1;
        text-style: bold;
    }
    DevicePanel #device-message {
        color: $text-warning;
    }
    DevicePanel #device-message.-empty {
        display: none;
    }
    """

    status: reactive[DeviceStatus] = reactive(DeviceStatus, always_update=True)

    def __init__(self, status: DeviceStatus | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_reactive(DevicePanel.status, status or DeviceStatus())

    def compose(self) -> ComposeResult:
        # Built with what they show: the panel may be mounted as the app closes, when
        # its children are not (nothing then to query in an on_mount).
        status = self.status
        with Horizontal():
            yield Label("Device:", classes="device-title")
            yield Label(state_words(status), id="device-state", markup=False)
            yield Label(name_text(status), id="device-name", markup=False)
            yield Label(readings_line(status), id="device-readings", markup=False)
        yield Meter(
            intensity_fraction(status),
            intensity_text(status),
            title="Intensity:",
            title_width=11,
            id="device-intensity",
        )
        message = one_line(status.message or "")
        yield Label(message, id="device-message", markup=False, classes="" if message else "-empty")

    def watch_status(self, status: DeviceStatus) -> None:
        if self.is_mounted:
            self._show(status)

    def _show(self, status: DeviceStatus) -> None:
        self.query_one("#device-state", Label).update(state_words(status))
        self.query_one("#device-name", Label).update(name_text(status))
        self.query_one("#device-readings", Label).update(readings_line(status))
        meter = self.query_one("#device-intensity", Meter)
        meter.value = intensity_fraction(status)
        meter.label = intensity_text(status)
        message = self.query_one("#device-message", Label)
        message.update(one_line(status.message or ""))
        message.set_class(not status.message, "-empty")


def name_text(status: DeviceStatus) -> str:
    """``· name (profile)``: its own words, apart from the state's ("connected, motor off
    · Massager"). The name is what the device advertises: any control character is
    shown, not sent."""
    name = status.name or ""
    if status.profile and status.profile != name:
        name = f"{name} ({status.profile})" if name else status.profile
    return f"· {one_line(name)}" if name else ""


def readings_line(status: DeviceStatus) -> str:
    readings = readings_text(status)
    return f"· {readings}" if readings else ""


def intensity_fraction(status: DeviceStatus) -> float:
    """How full the intensity bar is (0..1)."""
    if status.percent is not None:
        return status.percent / 100
    if status.level is not None and status.max_level:
        return status.level / status.max_level
    return 0.0

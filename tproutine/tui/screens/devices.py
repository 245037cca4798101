"""Devices (``d``): scan, connect or disconnect, live readings, a test, the default device.

Scanning, connecting and the test are Bluetooth work: each runs in a worker and
reports with a message (``ScanFinished``, ``ConnectFinished``,
``DeviceTestFinished``), so the screen never waits on the radio. The live
readings come from the controller's status, which the app passes to every
device panel.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label

from tproutine.safetext import one_line
from tproutine.tui.messages import ConnectFinished, DeviceTestFinished, ScanFinished
from tproutine.tui.widgets.device_panel import DevicePanel

if TYPE_CHECKING:
    from tproutine.devices.status import FoundDevice
    from tproutine.tui.app import TProutineApp

NO_CONTROLLER = "Devices are off: the app was started with --adapter none or --device none."


def signal_text(rssi: int | None) -> str:
    """Signal strength in words and dBm (the words carry it without colour)."""
    if rssi is None:
        return "–"
    if rssi >= -60:
        word = "strong"
    elif rssi >= -75:
        word = "fair"
    else:
        word = "weak"
    return f"{word} ({rssi} dBm)"


def _error_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class DevicesScreen(Screen[None]):
    """Find a device, connect it, test it, make it the default."""

    AUTO_FOCUS = "#found"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "scan", "Scan"),
        Binding("c", "connect", "Connect"),
        Binding("x", "disconnect", "Disconnect"),
        Binding("t", "test", "Test 2 s"),
        Binding("u", "use_default", "Use by default"),
        Binding("s", "stop_motor", "Stop motor"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.found: list[FoundDevice] = []  # the rows, as shown
        self.scanned: list[FoundDevice] = []  # what the last scan saw
        self.scanning = False

    @property
    def tapp(self) -> TProutineApp:
        from tproutine.tui.app import TProutineApp

        assert isinstance(self.app, TProutineApp)
        return self.app

    @property
    def adapter(self) -> str:
        return self.tapp.adapter

    def compose(self) -> ComposeResult:
        yield Label("tproutine · Devices", classes="screen-title")
        yield Label("", id="devices-adapter", markup=False)
        table: DataTable[str] = DataTable(id="found", cursor_type="row", zebra_stripes=True)
        table.add_column("Name", key="name")
        table.add_column("Address", key="address")
        table.add_column("Profile", key="profile")
        table.add_column("Signal", key="signal")
        yield table
        yield Label("Press r to scan for devices.", id="devices-status", markup=False)
        yield DevicePanel(self.tapp.device_status, id="device")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        default = self.tapp.settings.preferred_device
        self.query_one("#devices-adapter", Label).update(
            one_line(
                f"Adapter: {self.adapter}"
                + f" · default device: {default or 'the first known device found'}"
            )
        )
        self._show_rows()

    def _connected(self) -> FoundDevice | None:
        """The device in use, as a row: it stops advertising, so no scan lists it."""
        from tproutine.devices.status import FoundDevice

        status = self.tapp.device_status
        if status.state not in ("connected", "reconnecting") or status.address is None:
            return None
        return FoundDevice(status.name, status.address, None, None, status.profile)

    def _show_rows(self) -> None:
        connected = self._connected()
        others = [f for f in self.scanned if connected is None or f.address != connected.address]
        self.found = ([connected] if connected else []) + others
        table = self.query_one("#found", DataTable)
        table.clear()
        for i, device in enumerate(self.found):
            table.add_row(
                # Names come from the air: any control character is shown, not sent.
                Text(one_line(device.name or "(no name)")),
                Text(one_line(device.address)),
                Text(one_line(device.profile_name or "unknown: not supported")),
                "connected" if device is connected else signal_text(device.rssi),
                key=f"{i}:{device.address}",
            )

    def _status(self, text: str) -> None:
        # Most lines name a device (from the air) or an error: one safe line each.
        self.query_one("#devices-status", Label).update(one_line(text))

    def _highlighted(self) -> FoundDevice | None:
        table = self.query_one("#found", DataTable)
        row = table.cursor_row
        if table.row_count and 0 <= row < len(self.found):
            return self.found[row]
        return None

    # ------------------------------------------------------------------ scan

    def action_scan(self) -> None:
        if self.scanning:
            return
        self.scanning = True
        self._status(f"Scanning for {self.tapp.options.scan_timeout:g} s…")
        self._scan(self.adapter, self.tapp.options.scan_timeout)

    @work(exclusive=True, group="scan")
    async def _scan(self, adapter: str, timeout: float) -> None:
        scanner = self.tapp.options.scanner
        try:
            if scanner is not None:
                found = await scanner(adapter, timeout)
            elif not self.tapp.devices_enabled:
                self.post_message(ScanFinished([], NO_CONTROLLER))
                return
            else:
                # The controller's own adapter: a device found here is one it can reach.
                controller = await self.tapp.get_controller()
                scan = getattr(controller, "scan", None)
                if scan is not None:
                    found = await scan(timeout)
                else:
                    from tproutine.tui.controller import scan_devices

                    found = await scan_devices(adapter, timeout)
        except Exception as exc:
            self.post_message(ScanFinished([], _error_text(exc)))
            return
        self.post_message(ScanFinished(found))

    def on_scan_finished(self, message: ScanFinished) -> None:
        self.scanning = False
        self.scanned = sorted(
            message.found,
            # Known profiles first, then the strongest signal.
            key=lambda f: (f.profile_id is None, -(f.rssi if f.rssi is not None else -999)),
        )
        self._show_rows()
        if message.error:
            self._status(f"Scan failed: {message.error}")
        elif not self.scanned and self._connected() is not None:
            self._status("No other devices found; the connected one is listed first.")
        elif not self.scanned:
            self._status("No devices found. Is the device on and close by? r scans again.")
        else:
            n = len(self.scanned)
            self._status(f"Found {n} device{'s' if n != 1 else ''}. enter or c connects.")

    # ------------------------------------------------------------------ connect

    @on(DataTable.RowSelected, "#found")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_connect()

    def action_connect(self) -> None:
        device = self._highlighted()
        if device is None:
            self._status("Scan first (r), then choose a device.")
            return
        if not self.tapp.devices_enabled:
            self._status(NO_CONTROLLER)
            return
        if device.profile_id is None:
            self._status(f"{device.name or device.address} matches no known device profile.")
            return
        self._status(f"Connecting to {device.name or device.address}…")
        self._connect(device)

    @work(exclusive=True, group="connect")
    async def _connect(self, device: FoundDevice) -> None:
        target = device.name or device.address
        controller = await self.tapp.get_controller()
        if controller is None:
            self.post_message(ConnectFinished("connect", target, NO_CONTROLLER))
            return
        try:
            await controller.connect(device)
        except Exception as exc:
            self.post_message(ConnectFinished("connect", target, _error_text(exc)))
            return
        self.post_message(ConnectFinished("connect", target))

    def action_disconnect(self) -> None:
        if self.tapp.controller is None:
            self._status("No device is connected." if self.tapp.devices_enabled else NO_CONTROLLER)
            return
        self._status("Disconnecting…")
        self._disconnect()

    @work(exclusive=True, group="connect")
    async def _disconnect(self) -> None:
        controller = self.tapp.controller
        assert controller is not None
        target = controller.status.name or "the device"
        try:
            await controller.disconnect()
        except Exception as exc:
            self.post_message(ConnectFinished("disconnect", target, _error_text(exc)))
            return
        self.post_message(ConnectFinished("disconnect", target))

    def on_connect_finished(self, message: ConnectFinished) -> None:
        self._show_rows()
        if message.error:
            self._status(f"Could not {message.action} {message.target}: {message.error}")
        elif message.action == "connect":
            self._status(f"Connected to {message.target}. t tests it, u makes it the default.")
        else:
            self._status(f"Disconnected from {message.target}.")

    # ------------------------------------------------------------------ test, default, stop

    def action_test(self) -> None:
        controller = self.tapp.controller
        if controller is None:
            self._status(
                "Connect a device first, then t tests it."
                if self.tapp.devices_enabled
                else NO_CONTROLLER
            )
            return
        if controller.status.state != "connected":
            self._status("Connect a device first, then t tests it.")
            return
        runtime = self.tapp.runtime
        if runtime is not None and runtime.session.state in ("running", "paused"):
            self._status("A session is running: the test waits until it ends.")
            return
        self._status("Testing: 2 seconds at 20%…")
        self._test()

    @work(exclusive=True, group="test")
    async def _test(self) -> None:
        controller = self.tapp.controller
        assert controller is not None
        try:
            await controller.test(seconds=2.0, percent=20.0)
        except Exception as exc:
            self.post_message(DeviceTestFinished(_error_text(exc)))
            return
        self.post_message(DeviceTestFinished())

    def on_device_test_finished(self, message: DeviceTestFinished) -> None:
        if message.error:
            self._status(f"The test failed: {message.error}")
        else:
            self._status("Test done: the motor ran for 2 seconds at 20% and stopped.")

    def action_use_default(self) -> None:
        from tproutine.settings import SettingsError, save_setting

        device = self._highlighted()
        status = self.tapp.device_status
        if device is not None:
            chosen = device.name or device.address
        elif status.state == "connected" and (status.name or status.address):
            chosen = status.name or status.address or ""
        else:
            self._status("Choose a device first (r scans).")
            return
        try:
            save_setting("preferred_device", chosen)
        except (SettingsError, OSError) as exc:
            self._status(f"Could not save the setting: {exc}")
            return
        self.tapp.settings = replace(self.tapp.settings, preferred_device=chosen)
        self._status(f"{chosen} is now your default device (saved in your settings).")
        self.on_mount()

    def action_stop_motor(self) -> None:
        """The latched stop, as in the Player: s stops, s again allows."""
        controller = self.tapp.controller
        runtime = self.tapp.runtime
        session = runtime.session if runtime is not None else None
        live = session is not None and session.state in ("running", "paused")
        held = (controller is not None and controller.status.held_off) or (
            live and session is not None and session.device_halted
        )
        if held:
            if controller is not None:
                controller.release_stop()
            if live and session is not None:
                session.release_device()
            self._status("Motor allowed again.")
            return
        self.tapp.stop_motor()
        self._status("Motor stopped. s allows it again.")

    def action_back(self) -> None:
        self.dismiss()

"""The test bed inside the BlueZ VM: a radio the kernel sees, massagers on it, the app.

``Radio`` runs the virtual radio (``tproutine.devices.sim.vhci.VhciRadio``) on
its own event loop in a background thread: the kernel sees its controller as
``hci0``, ``bluetoothd`` manages it, and the app under test (``tproutine``
with ``--adapter system``, i.e. bleak's own BlueZ backend) reaches the virtual
massagers put on the air with ``Radio.on_air``. Each massager writes the same
JSON-lines log as ``tproutine sim --log``; the tests read that log.

Everything here waits by polling with generous deadlines: the VM may run under
software emulation on a busy machine, where one Python start takes seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from bumble import hci

from tproutine.devices.codec import percent_to_level
from tproutine.devices.profile import load_profiles
from tproutine.devices.sim.controller import SimController, VirtualLink
from tproutine.devices.sim.massager import REFERENCE_PROFILE, MassagerLog, VirtualMassager
from tproutine.devices.sim.peripheral import PeripheralConfig, VirtualPeripheral
from tproutine.devices.sim.vhci import VhciRadio

T = TypeVar("T")

# How long a process or a condition may take: emulation is slow and the host busy.
PROCESS_TIMEOUT = 180.0
WAIT = 60.0

BLUEZ = "org.bluez"
ADAPTER_PATH = "/org/bluez/hci0"

PROFILE = load_profiles()[REFERENCE_PROFILE]


def level(percent: float) -> int:
    """The reference profile's level for ``percent`` (what the app writes)."""
    return percent_to_level(PROFILE, percent)[0]


_addresses = itertools.count(1)


def fresh_address() -> str:
    """A random static address no earlier test used: BlueZ remembers devices by address."""
    n = next(_addresses)
    return f"C0:B1:0E:00:{n >> 8:02X}:{n & 0xFF:02X}"


class AirMassager(VirtualMassager):
    """The virtual massager, advertising at a real device's pace (100 ms).

    The simulator's default 20 ms keeps host tests short; here every advert is
    a kernel event, a management event and a D-Bus signal for ``bluetoothd``
    to handle under emulation, and 50 a second starved it.
    """

    ADVERTISING_INTERVAL_MS = 100.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._air_config = dataclasses.replace(
            super().config, advertising_interval_ms=self.ADVERTISING_INTERVAL_MS
        )

    @property
    def config(self) -> PeripheralConfig:
        return self._air_config


class OnAir:
    """One massager in range of the adapter: its peripheral, its log, its address."""

    def __init__(self, radio: Radio, massager: AirMassager, log: Path) -> None:
        self.radio = radio
        self.massager = massager
        self.log = log
        self.address = massager.config.address or ""
        self.peripheral: VirtualPeripheral | None = None

    # -- the device's side ----------------------------------------------------------

    def start(self) -> None:
        self.peripheral = self.radio.call(self.radio.vhci.add(self.massager))

    def stop(self) -> None:
        """Switch the device off (it leaves the air; a connection ends)."""
        peripheral, self.peripheral = self.peripheral, None
        if peripheral is not None:
            self.radio.call(self.radio.vhci.remove(peripheral))

    def drop_link(self) -> bool:
        """The radio link breaks: both ends see a supervision timeout."""
        return bool(self.radio.call(_run(self.massager.drop_link)))

    def gone_for(self, seconds: float) -> None:
        """The link drops and the device is out of range for ``seconds``, then back."""
        assert self.drop_link(), "there was no link to drop"
        self.stop()
        time.sleep(seconds)
        self.start()

    def press_button(self, to_level: int) -> None:
        self.radio.call(_run(self.massager.press_button, to_level))

    # -- its log ----------------------------------------------------------------------

    def mark(self) -> int:
        """Where the log ends now: read what comes after with ``records(since)``."""
        return self.log.stat().st_size if self.log.exists() else 0

    def records(self, since: int = 0) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        with self.log.open(encoding="utf-8") as fh:
            fh.seek(since)
            return [json.loads(line) for line in fh if line.strip()]

    def wait_for(
        self,
        condition: Callable[[list[dict[str, Any]]], object],
        what: str,
        since: int = 0,
        timeout: float = WAIT,
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            records = self.records(since)
            if condition(records):
                return records
            if time.monotonic() > deadline:
                pytest.fail(f"the massager's log never showed {what} in {timeout:g} s: {records}")
            time.sleep(0.05)

    def holds(
        self,
        condition: Callable[[list[dict[str, Any]]], object],
        seconds: float,
        what: str,
        since: int = 0,
    ) -> None:
        """``condition(records)`` stays true for ``seconds`` (something must NOT happen)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            records = self.records(since)
            assert condition(records), f"{what} stopped holding: {records}"
            time.sleep(0.05)


async def _run(function: Callable[..., T], *args: Any) -> T:
    # Device behaviour runs on the radio's loop (its timers and notifications live there).
    return function(*args)


class FaultyAdapter(SimController):
    """The kernel's adapter, with the failures real radios have on demand.

    - ``abort_connections(n)``: the next ``n`` connections come up and are lost
      at once with reason Connection Failed to be Established (0x3E), what a
      controller reports when the peer did not answer in the first connection
      events (interference, range). Linux 6.1 and BlueZ 5.66 pass it on as a
      disconnect during service discovery (bleak: "failed to discover
      services, device disconnected"); ``le-connection-abort-by-local`` is
      what the kernel reports when it gave up on a connect itself.
    - ``slow_connections(seconds)``: each connection completes that long after
      the peer was found, as over a noisy channel: room for a second client's
      Connect to run into the first (BlueZ's ``InProgress``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aborts = 0
        self.aborted = 0
        self.connect_delay = 0.0
        self._delayed = False

    def abort_connections(self, n: int) -> None:
        self.aborts = n

    def slow_connections(self, seconds: float) -> None:
        self.connect_delay = seconds

    def create_le_connection(self, peer_address: hci.Address) -> None:
        pending = self.pending_le_connection
        if pending is None or self._delayed:
            return
        if self.connect_delay > 0:
            self._delayed = True

            def later() -> None:
                self._delayed = False
                if self.pending_le_connection is pending:
                    super(FaultyAdapter, self).create_le_connection(peer_address)

            asyncio.get_running_loop().call_later(self.connect_delay, later)
            return
        super().create_le_connection(peer_address)
        if self.aborts > 0:
            self.aborts -= 1
            self.aborted += 1
            # After both ends have the connection (the link delivers on the next
            # loop iterations), as a controller finds it lost in its first events.
            asyncio.get_running_loop().call_later(0.05, self._abort)

    def _abort(self) -> None:
        link = self.link
        if isinstance(link, VirtualLink):
            link.drop(self, reason=hci.HCI_ErrorCode.CONNECTION_FAILED_TO_BE_ESTABLISHED_ERROR)


class Radio:
    """The kernel's adapter, played by Bumble on /dev/vhci, on a loop of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="radio", daemon=True)
        self._vhci: VhciRadio | None = None

    @property
    def vhci(self) -> VhciRadio:
        assert self._vhci is not None, "the radio is not open"
        return self._vhci

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = WAIT) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def open(self) -> None:
        self._thread.start()
        self._vhci = self.call(VhciRadio.open(controller_class=FaultyAdapter))
        wait_until(adapter_powered, "bluetoothd to power the adapter on")

    @property
    def adapter(self) -> FaultyAdapter:
        controller = self.vhci.controller
        assert isinstance(controller, FaultyAdapter)
        return controller

    def close(self) -> None:
        if self._vhci is not None:
            self.call(self._vhci.close())
            self._vhci = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def on_air(self, log: Path, **massager: Any) -> OnAir:
        """A fresh massager (fresh address) advertising, logging to ``log``."""
        massager.setdefault("address", fresh_address())
        massager.setdefault("log", MassagerLog.open(log))
        device = self.call(_make(AirMassager, **massager))
        air = OnAir(self, device, log)
        air.start()
        return air


async def _make(factory: Callable[..., T], **kwargs: Any) -> T:
    # Built on the radio's loop: device objects may ask for the running loop.
    return factory(**kwargs)


# -- BlueZ over D-Bus ---------------------------------------------------------------------


def bluez_objects() -> dict[str, dict[str, Any]]:
    """BlueZ's managed objects: path -> interfaces (via bleak's own D-Bus library)."""
    return asyncio.run(managed_objects())


async def managed_objects() -> dict[str, dict[str, Any]]:
    from dbus_fast import BusType, Message
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        reply = await bus.call(
            Message(
                destination=BLUEZ,
                path="/",
                interface="org.freedesktop.DBus.ObjectManager",
                member="GetManagedObjects",
            )
        )
        assert reply is not None and reply.body, reply
        objects: dict[str, dict[str, Any]] = reply.body[0]
        return objects
    finally:
        bus.disconnect()


async def bus_names() -> list[str]:
    """Every name on the system bus: a leaked D-Bus connection shows up here."""
    from dbus_fast import BusType, Message
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        reply = await bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="ListNames",
            )
        )
        assert reply is not None
        names: list[str] = reply.body[0]
        return [n for n in names if n != bus.unique_name]
    finally:
        bus.disconnect()


def adapter_powered() -> bool:
    try:
        adapter = bluez_objects().get(ADAPTER_PATH, {}).get("org.bluez.Adapter1")
    except Exception:
        return False
    return adapter is not None and bool(adapter["Powered"].value)


def device_paths(objects: dict[str, dict[str, Any]], address: str) -> list[str]:
    """The D-Bus objects BlueZ keeps for one device (the device, its services, ...)."""
    stem = f"{ADAPTER_PATH}/dev_{address.replace(':', '_')}"
    return sorted(p for p in objects if p == stem or p.startswith(stem + "/"))


def device_connected(address: str) -> bool:
    stem = f"{ADAPTER_PATH}/dev_{address.replace(':', '_')}"
    device = bluez_objects().get(stem, {}).get("org.bluez.Device1")
    return device is not None and bool(device["Connected"].value)


def wait_until(condition: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


# -- the app ------------------------------------------------------------------------------


def app_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_DATA_HOME"] = str(tmp / "data")
    env["XDG_CONFIG_HOME"] = str(tmp / "config")
    env.pop("TPROUTINE_ADAPTER", None)
    config = tmp / "config" / "tproutine"
    config.mkdir(parents=True, exist_ok=True)
    # No "pain now, 0-10" questions when a test drives the app on a terminal.
    (config / "config.toml").write_text("pain_prompts = false\n", encoding="utf-8")
    return env


def tproutine(args: Iterable[str], tmp: Path, **popen: Any) -> subprocess.Popen[str]:
    """Start ``tproutine ARGS`` (this checkout, the guest's Python) with its own folders."""
    popen.setdefault("stdin", subprocess.DEVNULL)
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(
        [sys.executable, "-m", "tproutine", *args], text=True, env=app_env(tmp), **popen
    )


def finish(
    process: subprocess.Popen[str], timeout: float = PROCESS_TIMEOUT
) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"the process did not end in {timeout:g} s:\n{out}\n{err}")
    return process.returncode, out or "", err or ""


def routine_file(tmp: Path, text: str, name: str = "routine.yaml") -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


# -- reading the massager's log -----------------------------------------------------------


def writes(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("event") == "write"]


def motor_writes(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The writes that drive the motor (set and stop), in order."""
    return [r for r in writes(records) if r.get("kind") in ("set", "stop")]


def events(records: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("event") == name]


def motor_on(records: list[dict[str, Any]]) -> bool:
    return any(r.get("running") for r in writes(records))


def disconnected(records: list[dict[str, Any]]) -> bool:
    return bool(events(records, "disconnect"))

"""Which Bluetooth stack the app talks through: ``--adapter system|sim|tcp:HOST:PORT|none``.

bleak's ``BleakScanner`` and ``BleakClient`` take an optional ``backend=``
class; ``None`` is the platform's own stack (BlueZ, CoreBluetooth, WinRT). The
simulator adapters hand out backend classes bound to one Bumble stack (see
``tproutine.devices.sim.backend``).

Nothing heavy is imported here: bleak's platform stack needs nothing at all
from this module, and Bumble is imported only when ``sim`` or ``tcp:`` is
opened. Simulator adapters are shared by everything in the process that opens
the same spec (a scan on the Devices screen and the controller see the same
virtual radio, so an address found by one is connectable by the other) and
closed when the last user releases them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

log = logging.getLogger(__name__)

AdapterKind = Literal["system", "sim", "tcp", "none"]

ADAPTER_HELP = "system, sim, tcp:HOST:PORT or none"

# The in-process virtual massager's fixed random static address (the top two
# bits set, as static addresses need), so that every scan of the ``sim`` radio
# reports the same device: "C0" then "tprou" in ASCII.
SIM_ADDRESS = "C0:74:70:72:6F:75"


class AdapterError(Exception):
    """The adapter cannot be used; ``str()`` is one line for the person."""


@dataclass(frozen=True, slots=True)
class AdapterSpec:
    """A parsed ``--adapter`` value."""

    kind: AdapterKind
    host: str | None = None
    port: int | None = None

    @property
    def text(self) -> str:
        if self.kind == "tcp":
            return f"tcp:{self.host}:{self.port}"
        return self.kind

    def __str__(self) -> str:
        return self.text


def parse_adapter(text: str | None) -> AdapterSpec:
    """``system`` (also for None or ``""``), ``sim``, ``none`` or ``tcp:HOST:PORT``.

    Raises ``AdapterError`` with a one-line reason for anything else.
    """
    value = (text or "system").strip()
    low = value.lower()
    if low in ("system", "sim", "none"):
        return AdapterSpec(low)  # type: ignore[arg-type]
    kind, sep, rest = value.partition(":")
    if kind.lower() == "tcp" and sep:
        host, _, port_text = rest.rpartition(":")
        if host and port_text.isdigit() and 0 < int(port_text) < 65536:
            return AdapterSpec("tcp", host, int(port_text))
        raise AdapterError(f"adapter {value!r}: expected tcp:HOST:PORT, like tcp:127.0.0.1:9100")
    raise AdapterError(f"unknown adapter {value!r} (use {ADAPTER_HELP})")


def describe(spec: AdapterSpec) -> str:
    """The adapter in a few words for the person: ``this computer's Bluetooth`` ..."""
    if spec.kind == "system":
        return "this computer's Bluetooth"
    if spec.kind == "sim":
        return "the in-process virtual massager"
    if spec.kind == "none":
        return "no adapter"
    return f"the simulator at {spec.host}:{spec.port}"


@dataclass(eq=False)
class Backends:
    """The bleak backend classes for one adapter (None: bleak's platform stack).

    ``native`` is the adapter object behind them (a ``BumbleAdapter`` for the
    simulator), for the simulator's own tests and the in-process demo.
    """

    spec: AdapterSpec
    scanner: type[Any] | None = None
    client: type[Any] | None = None
    native: Any = None
    _close: Callable[[], Awaitable[None]] | None = field(default=None, repr=False)
    _users: int = field(default=0, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)

    @property
    def description(self) -> str:
        return describe(self.spec)

    @property
    def available(self) -> bool:
        """False once a simulator process this adapter talked to went away."""
        ok = getattr(self.native, "is_available", True)
        return bool(ok)


_shared: dict[str, Backends] = {}
_lock: asyncio.Lock | None = None
_lock_loop: asyncio.AbstractEventLoop | None = None


def _the_lock() -> asyncio.Lock:
    # One lock per event loop: tests run many loops in one process.
    global _lock, _lock_loop
    loop = asyncio.get_running_loop()
    if _lock is None or _lock_loop is not loop:
        _lock, _lock_loop = asyncio.Lock(), loop
    return _lock


async def acquire(spec: AdapterSpec | str, *, profile_id: str | None = None) -> Backends:
    """Open (or share) the adapter named by ``spec``; ``release`` it when done.

    ``profile_id`` chooses what the in-process ``sim`` radio's virtual massager
    emulates when this call is the one that opens it. Raises ``AdapterError``
    (one line) when the adapter cannot be opened: ``none``, a malformed spec,
    a simulator that does not answer, or the simulator not being installed.
    """
    if isinstance(spec, str):
        spec = parse_adapter(spec)
    if spec.kind == "none":
        raise AdapterError("no adapter (--adapter none): devices are off")
    if spec.kind == "system":
        # bleak's own stack: nothing to open or share; errors surface on use.
        return Backends(spec)
    async with _the_lock():
        shared = _shared.get(spec.text)
        loop = asyncio.get_running_loop()
        if shared is not None and shared.available and shared._loop is loop:
            shared._users += 1
            return shared
        if shared is not None:
            # The simulator process went away, or this is another event loop (the
            # stack lives on the loop that opened it): start over.
            _shared.pop(spec.text, None)
            if shared._loop is loop:
                await _close_quietly(shared)
        backends = await _open_bumble(spec, profile_id)
        backends._users = 1
        backends._loop = loop
        _shared[spec.text] = backends
        return backends


async def release(backends: Backends) -> None:
    """Give back an adapter from ``acquire``; the last user closes it."""
    if backends.spec.kind == "system":
        return
    async with _the_lock():
        backends._users -= 1
        if backends._users > 0:
            return
        if _shared.get(backends.spec.text) is backends:
            _shared.pop(backends.spec.text, None)
    await _close_quietly(backends)


async def _close_quietly(backends: Backends) -> None:
    if backends._close is None:
        return
    try:
        await backends._close()
    except Exception:
        log.debug("closing the %s adapter failed", backends.spec, exc_info=True)


async def _open_bumble(spec: AdapterSpec, profile_id: str | None) -> Backends:
    from tproutine.devices.simcheck import simulator_missing

    missing = simulator_missing()
    if missing is not None:
        raise AdapterError(missing)
    # Imported only now: Bumble costs about 0.4 s.
    from bleak.exc import BleakError

    from tproutine.devices.sim import backend as backend_bumble
    from tproutine.devices.sim.massager import VirtualMassager

    try:
        if spec.kind == "sim":
            massager = VirtualMassager.for_profile_id(profile_id, address=SIM_ADDRESS)
            native = await backend_bumble.open_adapter("sim", [massager])
        else:
            native = await backend_bumble.open_adapter(spec.text)
    except (BleakError, OSError, TimeoutError, ValueError) as exc:
        raise AdapterError(error_text(exc)) from None
    return Backends(
        spec,
        scanner=native.scanner_backend,
        client=native.client_backend,
        native=native,
        _close=native.close,
    )


def error_text(exc: BaseException) -> str:
    """An exception's message: bleak's ``BleakBluetoothNotAvailableError(message, reason)``
    would otherwise print as a Python tuple."""
    first = exc.args[0] if len(exc.args) > 1 and isinstance(exc.args[0], str) else None
    return (first or str(exc)).strip() or type(exc).__name__


def describe_bluetooth_error(exc: BaseException) -> str:
    """One line for a failure of bleak's platform stack (no adapter, no BlueZ, off)."""
    text = error_text(exc)
    if isinstance(exc, FileNotFoundError):
        # BlueZ's D-Bus socket is missing: no Bluetooth service on this machine.
        return "no Bluetooth adapter found on this machine (the Bluetooth service is not running)"
    name = type(exc).__name__
    if name == "BleakBluetoothNotAvailableError" or "not available" in text.lower():
        return f"Bluetooth is not available on this machine ({text or name})"
    if name == "BleakDBusError":
        return f"the Bluetooth service refused: {text}"
    return f"Bluetooth failed: {text or name}"

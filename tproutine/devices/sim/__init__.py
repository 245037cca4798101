"""The virtual radio: Bumble stacks on a virtual link, for tests, demos and ``tproutine sim``.

Nothing outside the simulator paths may import this package: it imports
Bumble (about 0.4 s) and its controllers need a running event loop.

- ``controller``: ``SimController`` (cancellable connection attempts) and
  ``VirtualLink`` (link loss, per-hop latency).
- ``peripheral``: ``PeripheralConfig``, ``VirtualPeripheral`` and the
  ``SimulatedDevice`` hooks that device behaviour plugs into.
- ``link``: ``make_link`` — an in-process link with a central and peripherals.
- ``server``: ``serve`` — the TCP side of ``tproutine sim``.
- ``bench``: ``write_round_trip`` — raw write-with-response latency.

The bleak backend on top of this is ``tproutine.devices.sim.backend``.
"""

from tproutine.devices.sim.controller import LINK_LOSS, SimController, VirtualLink
from tproutine.devices.sim.link import InProcessLink, make_link, open_central
from tproutine.devices.sim.logs import route_bumble_logs
from tproutine.devices.sim.peripheral import (
    BATTERY_LEVEL_UUID,
    BATTERY_SERVICE_UUID,
    DEVICE_INFORMATION_UUID,
    CallbackDevice,
    PeripheralConfig,
    SimulatedDevice,
    VirtualPeripheral,
    WriteRejected,
    advertising_data,
    normalize_uuid,
)
from tproutine.devices.sim.server import SimServer, SimSession, serve

__all__ = [
    "BATTERY_LEVEL_UUID",
    "BATTERY_SERVICE_UUID",
    "DEVICE_INFORMATION_UUID",
    "LINK_LOSS",
    "CallbackDevice",
    "InProcessLink",
    "PeripheralConfig",
    "SimController",
    "SimServer",
    "SimSession",
    "SimulatedDevice",
    "VirtualLink",
    "VirtualPeripheral",
    "WriteRejected",
    "advertising_data",
    "make_link",
    "normalize_uuid",
    "open_central",
    "route_bumble_logs",
    "serve",
]

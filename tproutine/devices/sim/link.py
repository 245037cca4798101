"""An in-process virtual radio: one link, a central stack and peripherals on it.

``make_link`` is what tests and the in-process adapter use: both ends are real
Bumble stacks exchanging HCI packets with their controllers, and the
controllers exchange link-layer traffic over a ``VirtualLink``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from bumble import hci
from bumble.device import Device
from bumble.host import Host
from bumble.transport.common import AsyncPipeSink

from tproutine.devices.sim.controller import SimController, VirtualLink
from tproutine.devices.sim.logs import route_bumble_logs
from tproutine.devices.sim.peripheral import (
    PeripheralsInRange,
    SimulatedDevice,
    VirtualPeripheral,
)

route_bumble_logs()

logger = logging.getLogger(__name__)


async def open_central(
    link: VirtualLink, *, name: str = "tproutine", address: str | None = None
) -> tuple[SimController, Device]:
    """A powered-on Bumble central on ``link``: its controller and its device."""
    controller = SimController(f"central {name}", link=link)
    static = hci.Address(address) if address else hci.Address.generate_static_address()
    device = Device(name=name, address=static, host=Host(controller, AsyncPipeSink(controller)))
    try:
        await device.power_on()
    except BaseException:
        link.remove_controller(controller)
        raise
    return controller, device


async def close_central(link: VirtualLink, controller: SimController, device: Device) -> None:
    """Stop scanning, end connections, power off and leave ``link``."""
    await shut_down_device(device)
    if controller in link.controllers:
        link.remove_controller(controller)


async def shut_down_device(device: Device) -> None:
    """Stop scanning and end every connection of a central, then power it off."""
    if device.powered_on:
        if device.is_scanning:
            await device.stop_scanning()
        for connection in list(device.connections.values()):
            try:
                await asyncio.wait_for(
                    connection.disconnect(
                        hci.HCI_ErrorCode.REMOTE_USER_TERMINATED_CONNECTION_ERROR
                    ),
                    timeout=1.0,
                )
            except Exception:
                logger.debug("disconnect at shutdown failed", exc_info=True)
    await device.power_off()


class InProcessLink(PeripheralsInRange):
    """A link with one central and any number of peripherals, all in this process."""

    def __init__(self, link: VirtualLink, controller: SimController, central: Device) -> None:
        self.link = link
        self.central_controller = controller
        self.central = central
        self.peripherals: list[VirtualPeripheral] = []

    async def close(self) -> None:
        """Stop the central first (its connections end cleanly), then the peripherals."""
        await close_central(self.link, self.central_controller, self.central)
        peripherals, self.peripherals = self.peripherals, []
        for peripheral in peripherals:
            await peripheral.stop()

    async def __aenter__(self) -> InProcessLink:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()


async def make_link(
    peripherals: Iterable[VirtualPeripheral | SimulatedDevice] = (),
    *,
    latency: float = 0.0,
    central_name: str = "tproutine",
) -> InProcessLink:
    """A fresh ``VirtualLink`` with a powered-on central and ``peripherals`` advertising.

    Needs a running event loop (Bumble's controller asks for it): call it from
    async code, never at import time.
    """
    link = VirtualLink(latency=latency)
    controller, central = await open_central(link, name=central_name)
    result = InProcessLink(link, controller, central)
    try:
        for peripheral in peripherals:
            await result.add(peripheral)
    except BaseException:
        await result.close()
        raise
    return result

"""The virtual radio seen by the operating system: a Bumble controller on ``/dev/vhci``.

Linux's ``hci_vhci`` module lets a process play a Bluetooth controller: whatever
opens ``/dev/vhci`` receives the HCI commands of a new controller (``hciN``)
and answers them. Here Bumble's software controller answers, so the kernel's
own Bluetooth layer, ``bluetoothd`` and any BlueZ client (bleak with its
default backend, ``bluetoothctl``) see a real adapter, and every device on the
same ``VirtualLink`` (the virtual massager) is in radio range of it.

This is how the BlueZ test VM (``tools/bluez-vm``) puts the app's system
adapter and the virtual massager on one link; it works on any Linux machine
with ``hci_vhci`` and access to ``/dev/vhci`` (root, usually).
"""

from __future__ import annotations

import asyncio
import logging

from bumble import hci
from bumble.transport.common import Transport
from bumble.transport.vhci import open_vhci_transport

from tproutine.devices.sim.controller import SimController, VirtualLink
from tproutine.devices.sim.logs import route_bumble_logs
from tproutine.devices.sim.peripheral import (
    PeripheralsInRange,
    VirtualPeripheral,
)

route_bumble_logs()

logger = logging.getLogger(__name__)

VHCI_PATH = "/dev/vhci"
# The adapter's public address: a locally administered one, so it cannot clash
# with a real controller's.
ADAPTER_ADDRESS = "F2:74:70:72:6F:00"


class VhciRadio(PeripheralsInRange):
    """A kernel-visible controller and the peripherals in its range.

    ``await VhciRadio.open()`` creates the controller (the kernel names it
    ``hciN``); ``add`` puts a peripheral on the link; ``close`` takes the
    peripherals off and the controller away.
    """

    def __init__(self, link: VirtualLink, controller: SimController, transport: Transport) -> None:
        self.link = link
        self.controller = controller
        self._transport = transport
        self.peripherals: list[VirtualPeripheral] = []

    @classmethod
    async def open(
        cls,
        path: str = VHCI_PATH,
        *,
        address: str = ADAPTER_ADDRESS,
        latency: float = 0.0,
        controller_class: type[SimController] = SimController,
    ) -> VhciRadio:
        """Open ``path`` and answer as a controller. Raises OSError without access.

        ``controller_class`` may add behaviour to the adapter (fault injection in tests).
        """
        transport = await open_vhci_transport(path)
        link = VirtualLink(latency=latency)
        controller = controller_class(
            "kernel adapter",
            host_source=transport.source,
            host_sink=transport.sink,
            link=link,
            public_address=hci.Address(address, hci.Address.PUBLIC_DEVICE_ADDRESS),
        )
        return cls(link, controller, transport)

    async def remove(self, peripheral: VirtualPeripheral) -> None:
        """Switch ``peripheral`` off: its connection ends, it stops advertising."""
        if peripheral in self.peripherals:
            self.peripherals.remove(peripheral)
        await peripheral.stop()

    async def close(self) -> None:
        """Stop every peripheral, then close ``/dev/vhci`` (the kernel drops ``hciN``)."""
        peripherals, self.peripherals = self.peripherals, []
        for peripheral in peripherals:
            try:
                await peripheral.stop()
            except Exception:
                logger.debug("stopping a peripheral failed", exc_info=True)
        if self.controller in self.link.controllers:
            self.link.remove_controller(self.controller)
        self.controller.host = None
        await self._transport.close()
        await asyncio.sleep(0)

"""What the app needs from the device controller, and how it finds one.

The controller itself lives in ``tproutine.devices`` (it owns Bluetooth); the
app only reads its status, listens to it, and asks it to scan, connect, test
or stop. Nothing here imports bleak or Bumble: they are loaded by the
controller when a device is really used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tproutine.devices.status import DeviceStatus, FoundDevice


@runtime_checkable
class Controller(Protocol):
    """The device controller as the screens use it."""

    @property
    def status(self) -> DeviceStatus: ...

    def subscribe(self, listener: Callable[[DeviceStatus], None]) -> Any: ...

    def emergency_stop(self) -> Any: ...

    def release_stop(self) -> Any: ...

    async def test(self, seconds: float = 2.0, percent: float = 20.0) -> Any: ...

    async def connect(self, target: FoundDevice | str | None = None) -> Any: ...

    async def disconnect(self) -> Any: ...


async def scan_devices(adapter: str, timeout: float) -> list[FoundDevice]:
    """Scan with the device layer's scanner (imported only now: it loads bleak)."""
    from tproutine.devices.scan import scan

    return await scan(adapter, timeout)

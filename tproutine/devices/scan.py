"""Finding devices: a scan, each advertisement matched to a device profile.

``scan(adapter_spec, timeout)`` is what ``tproutine devices scan`` and the
Devices screen use. Scanning with no Bluetooth adapter on the machine (no
BlueZ, no radio, Bluetooth off) raises ``ScanError`` with one line saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from tproutine.devices import adapters
from tproutine.devices.adapters import AdapterError, Backends
from tproutine.devices.matching import match_device, near_miss
from tproutine.devices.profile import DeviceProfile, load_profiles
from tproutine.devices.status import FoundDevice


class ScanError(Exception):
    """The scan could not run; ``str()`` is one line for the person."""


def _entry(
    device: BLEDevice, adv: AdvertisementData, profiles: Mapping[str, DeviceProfile]
) -> FoundDevice:
    name = adv.local_name or device.name
    fit = match_device(profiles, name, adv.service_uuids, adv.manufacturer_data.keys())
    # A device known to be no massager gets no profile: nothing offers to drive it.
    profile = fit.profile if fit is not None and fit.massager else None
    return FoundDevice(
        name=name,
        address=device.address,
        rssi=adv.rssi,
        profile_id=profile.id if profile else None,
        profile_name=profile.name if profile else None,
        why=fit.why if fit is not None else near_miss(profiles, name, adv.service_uuids),
        auto=fit is not None and fit.auto,
    )


def _order(found: FoundDevice) -> tuple[int, int, int, str]:
    # Devices a profile knows first (those auto would take before the others),
    # then the strongest signal, then by name.
    return (
        0 if found.profile_id else 1,
        0 if found.auto else 1,
        -(found.rssi if found.rssi is not None else -999),
        (found.name or found.address).casefold(),
    )


async def scan_backends(
    backends: Backends, timeout: float, profiles: Mapping[str, DeviceProfile] | None = None
) -> list[FoundDevice]:
    """Scan on an open adapter for ``timeout`` seconds; devices a profile knows first."""
    known = profiles if profiles is not None else load_profiles()
    seen: dict[str, tuple[BLEDevice, AdvertisementData]] = {}

    def detected(device: BLEDevice, adv: AdvertisementData) -> None:
        seen[device.address] = (device, adv)

    scanner = BleakScanner(detected, backend=backends.scanner)
    try:
        await scanner.start()
    except Exception as exc:
        if backends.spec.kind == "system":
            raise ScanError(adapters.describe_bluetooth_error(exc)) from None
        raise ScanError(f"scanning {backends.description} failed: {exc}") from None
    try:
        await asyncio.sleep(timeout)
    finally:
        # A scanner that failed to stop still found what it found.
        with contextlib.suppress(Exception):
            await scanner.stop()
    return sorted((_entry(d, a, known) for d, a in seen.values()), key=_order)


async def scan(adapter_spec: str, timeout: float) -> list[FoundDevice]:
    """Every device seen within ``timeout`` seconds through ``adapter_spec``.

    ``adapter_spec`` is ``system``, ``sim`` or ``tcp:HOST:PORT``. Raises
    ``ScanError`` with a one-line reason when there is nothing to scan with.
    """
    try:
        backends = await adapters.acquire(adapter_spec)
    except AdapterError as exc:
        raise ScanError(str(exc)) from None
    try:
        return await scan_backends(backends, timeout)
    finally:
        await adapters.release(backends)

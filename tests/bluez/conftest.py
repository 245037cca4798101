"""The BlueZ tests run only inside the test VM (``make test-bluez``).

On any other machine they are skipped with a reason: they need Linux's own
Bluetooth stack (the kernel's ``bluetooth`` and ``hci_vhci`` modules and a
running ``bluetoothd``), which the VM built by ``tools/bluez-vm`` provides.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bluez.vmkit import OnAir, Radio

IN_VM = os.environ.get("TPROUTINE_BLUEZ_VM") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IN_VM:
        return
    skip = pytest.mark.skip(reason="runs inside the BlueZ VM: make test-bluez")
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def radio() -> Iterator[Radio]:
    radio = Radio()
    radio.open()
    try:
        yield radio
    finally:
        radio.close()


@pytest.fixture
def air(radio: Radio, tmp_path: Path) -> Iterator[OnAir]:
    """A fresh virtual massager on the air for one test, logging to tmp_path/massager.jsonl."""
    on_air = radio.on_air(tmp_path / "massager.jsonl")
    try:
        yield on_air
    finally:
        on_air.stop()

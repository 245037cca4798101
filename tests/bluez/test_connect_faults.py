"""What goes wrong connecting on BlueZ, and that the app gets through it.

These are the failures ``bleak-retry-connector`` exists for (Home Assistant's
answer to BlueZ's transient errors; see docs/design.md for why the app keeps
its own loop): links the controller could not establish (lost with 0x3E
as they came up: on Linux 6.1 and BlueZ 5.66 a disconnect during service
discovery), a second client connecting to the same device at the same time
(``InProgress``), a connection left behind by a killed process (the
device is connected, so it no longer advertises), and services that changed
under the same address (BlueZ's cache).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from bumble import hci

from tests.bluez.vmkit import (
    OnAir,
    Radio,
    device_connected,
    events,
    finish,
    motor_on,
    tproutine,
    wait_until,
)

ABORTED = hci.HCI_ErrorCode.CONNECTION_FAILED_TO_BE_ESTABLISHED_ERROR


def info(air: OnAir, tmp: Path) -> tuple[int, str, str]:
    return finish(
        tproutine(
            ["devices", "info", "--adapter", "system", "--device", air.address, "--seconds", "1"],
            tmp,
        )
    )


def test_a_connection_the_controller_could_not_establish_is_tried_again(
    radio: Radio, air: OnAir, tmp_path: Path
) -> None:
    radio.adapter.abort_connections(2)
    code, out, err = info(air, tmp_path)
    assert code == 0, (out, err, radio.adapter.aborted)
    assert radio.adapter.aborted == 2
    assert "tproutine-virtual" in out, out
    # The massager saw each link come up and end at once (0x3E: Connection
    # Failed to be Established), then the one that lasted.
    records = air.wait_for(lambda r: len(events(r, "disconnect")) == 3, "three disconnects")
    reasons = [d["reason"] for d in events(records, "disconnect")]
    assert reasons[:2] == [ABORTED, ABORTED] and reasons[2] != ABORTED, records
    assert len(events(records, "connect")) == 3, records


CONNECT = """\
import asyncio, sys

from bleak import BleakClient, BleakScanner


async def main():
    device = await BleakScanner.find_device_by_address(sys.argv[1], timeout=30)
    assert device is not None, "not found"
    client = BleakClient(device, timeout=60)
    await client.connect()
    print("connected", flush=True)
    await asyncio.sleep(float(sys.argv[2]))


asyncio.run(main())
"""


def other_client(air: OnAir, tmp: Path, hold: float) -> subprocess.Popen[str]:
    """Another program on this computer connecting to the same device with bleak."""
    script = tmp / "other.py"
    script.write_text(CONNECT, encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, str(script), air.address, str(hold)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_another_program_connecting_at_the_same_time(
    radio: Radio, air: OnAir, tmp_path: Path
) -> None:
    # The other program's connection takes 4 s to come up; the app asks BlueZ to
    # connect meanwhile, which BlueZ refuses with InProgress.
    radio.adapter.slow_connections(4.0)
    try:
        other = other_client(air, tmp_path, hold=30.0)
        wait_until(lambda: radio.adapter.pending_le_connection is not None, "the first connect")
        code, out, err = info(air, tmp_path)
    finally:
        radio.adapter.slow_connections(0.0)
    other.kill()
    finish(other)
    assert code == 0, (out, err)
    assert "tproutine-virtual" in out, out


def test_a_connection_left_behind_by_a_killed_program(air: OnAir, tmp_path: Path) -> None:
    # A program holding the device is killed: BlueZ keeps the link (bluetoothd
    # owns it), so the device stays connected and stops advertising. The app
    # must find it among the connected devices, not wait for an advert.
    other = other_client(air, tmp_path, hold=600.0)
    assert other.stdout is not None
    if other.stdout.readline().strip() != "connected":
        other.kill()
        _code, out, err = finish(other)
        raise AssertionError(f"the other program did not connect:\n{out}\n{err}")
    other.send_signal(signal.SIGKILL)
    other.wait()
    assert device_connected(air.address)
    routine = tmp_path / "r.yaml"
    routine.write_text(
        "format: tproutine/1\nname: Left behind\nsummary: s\nget_ready: 2s\nsteps:\n"
        "  - massage: Calf\n    duration: 4s\n    device: {intensity: 40%}\n",
        encoding="utf-8",
    )
    code, out, err = finish(
        tproutine(
            ["run", str(routine), "--plain", "--yes", "--adapter", "system",
             "--device", air.address],
            tmp_path,
        )
    )  # fmt: skip
    assert code == 0, (out, err)
    assert motor_on(air.records()), (out, err, air.records())


def test_a_device_whose_services_changed_is_read_anew(radio: Radio, tmp_path: Path) -> None:
    """BlueZ keeps a device's services by its address (``Cache = always``); after a
    firmware update the same address offers others (here the Lovense profile's
    second GATT layout). The app must write where the device is now, not where
    the cache says it was."""
    from tests.bluez.vmkit import fresh_address
    from tproutine.devices.profile import load_profiles

    lovense = load_profiles()["lovense"]
    address = fresh_address()
    writes: list[list[dict[str, object]]] = []
    for layout in (0, 1):
        air = radio.on_air(
            tmp_path / f"layout{layout}.jsonl", profile=lovense, layout=layout, address=address
        )
        try:
            code, out, err = info(air, tmp_path)
            assert code == 0, (layout, out, err)
            records = air.wait_for(
                lambda r: any(w["kind"] == "stop" for w in events(r, "write")),
                f"the stop on layout {layout}",
            )
            writes.append(events(records, "write"))
        finally:
            air.stop()
    # `devices info` makes sure the motor is off as it connects (and asks this
    # model for its battery): every write reached the device, on the services it
    # offered each time, none refused.
    chars = [{w["char"] for w in seen} for seen in writes]
    assert chars == [
        {"0000fff2-0000-1000-8000-00805f9b34fb"},
        {"6e400002-b5a3-f393-e0a9-e50e24dcca9e"},
    ], writes
    assert not any("rejected" in w for seen in writes for w in seen), writes

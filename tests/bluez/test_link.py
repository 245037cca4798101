"""The app on BlueZ: scan, connect, drive the motor, read it, lose it and get it back.

Each test puts a fresh virtual massager on the air and runs the installed
``tproutine`` with ``--adapter system`` (bleak's own BlueZ backend, through
``bluetoothd`` and the kernel), then reads the massager's write log.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.bluez.vmkit import (
    OnAir,
    events,
    finish,
    level,
    motor_writes,
    routine_file,
    tproutine,
    writes,
)

# The app connects while the routine counts down (the get-ready time): long
# enough for a slow connect under emulation, so the first write lands in the
# first step.
STEADY_RAMP_REST = """\
format: tproutine/1
name: BlueZ drive
summary: A steady step, a ramp, a rest.
get_ready: 15s
steps:
  - massage: Steady
    duration: 4s
    device: {intensity: 40%}
  - massage: Ramp
    duration: 8s
    device: {ramp: [20%, 80%]}
  - hold: Rest
    duration: 2s
"""

LONG_RAMP = """\
format: tproutine/1
name: BlueZ reconnect
summary: A slow ramp while the device goes away and comes back.
get_ready: 2s
steps:
  - massage: Ramp
    duration: 60s
    device: {ramp: [10%, 90%]}
"""


def test_scan_finds_the_massager_by_profile(air: OnAir, tmp_path: Path) -> None:
    for _ in range(2):  # a second scan finds it again (BlueZ's discovery state is reset)
        code, out, err = finish(
            tproutine(["devices", "scan", "--adapter", "system", "--timeout", "6"], tmp_path)
        )
        assert code == 0, err
        rows = [line for line in out.splitlines() if air.address in line]
        assert rows, out
        assert "tproutine-massager" in rows[0] and "tproutine-virtual" in rows[0], rows


def test_connect_set_ramp_and_stop(air: OnAir, tmp_path: Path) -> None:
    routine = routine_file(tmp_path, STEADY_RAMP_REST)
    code, out, err = finish(
        tproutine(
            ["run", str(routine), "--plain", "--yes", "--adapter", "system",
             "--device", "auto"],
            tmp_path,
        )
    )  # fmt: skip
    assert code == 0, (out, err)
    assert "Routine complete" in out, out
    records = air.wait_for(lambda r: events(r, "disconnect"), "the disconnect")
    assert len(events(records, "connect")) == 1, records
    motor = motor_writes(records)
    # The app stops the motor as soon as it connects (a known state before the
    # routine's first level): skip that.
    while motor and motor[0]["kind"] == "stop":
        motor.pop(0)
    assert motor, records
    # The steady step first, at its level.
    assert motor[0]["kind"] == "set" and motor[0]["running"], motor
    assert motor[0]["level"] == level(40), motor
    # Then the ramp: rising level changes from about 20 % to about 80 %, never repeated.
    ramp = [w["level"] for w in motor if w["kind"] == "set"][1:]
    assert len(ramp) >= 4, motor
    assert ramp == sorted(ramp) and len(set(ramp)) == len(ramp), ramp
    assert ramp[0] <= level(30) and ramp[-1] >= level(70), ramp
    # The rest stops it; the stop is the last write, before the disconnect.
    last = writes(records)[-1]
    assert last["kind"] == "stop" and last["running"] is False and last["level"] == 0
    disconnect = events(records, "disconnect")
    assert disconnect and disconnect[-1]["mono"] >= last["mono"], records


def test_battery_and_state_notifications_arrive(air: OnAir, tmp_path: Path) -> None:
    # The device's own button starts the motor (the app sends nothing of the sort),
    # and its battery drains fast while it runs: what `devices info` shows can only
    # have come from the device's notifications.
    air.massager.drain_per_hour_running = 36_000.0  # 10 % a second
    process = tproutine(
        ["devices", "info", "--adapter", "system", "--device", air.address, "--seconds", "8"],
        tmp_path,
    )
    # The app writes a stop as soon as it is set up (a known state before
    # anything else): press the button after that, as a person would once the
    # app shows the device. (Subscribed alone is too early: the stop would
    # follow the press and switch the motor off again.)
    air.wait_for(
        lambda r: air.massager.subscribed and any(w["kind"] == "stop" for w in motor_writes(r)),
        "the app set up (subscribed, its first stop written)",
    )
    air.press_button(7)
    code, out, err = finish(process)
    assert code == 0, (out, err)
    live = out.split("live state for", 1)[1]
    assert re.search(r"running  level 7/20", live), out
    batteries = [int(b) for b in re.findall(r"battery (\d+)%", live)]
    assert batteries and min(batteries) < 100, out
    assert batteries == sorted(batteries, reverse=True), batteries


def test_the_link_drops_and_the_app_reconnects_and_restores_the_level(
    air: OnAir, tmp_path: Path
) -> None:
    routine = routine_file(tmp_path, LONG_RAMP)
    process = tproutine(
        ["run", str(routine), "--plain", "--yes", "--adapter", "system", "--device", air.address],
        tmp_path,
    )
    try:
        before = air.wait_for(
            lambda r: len([w for w in motor_writes(r) if w["running"]]) >= 2, "the ramp running"
        )
        since = air.mark()
        air.gone_for(5.0)
        after = air.wait_for(
            lambda r: any(w["running"] for w in motor_writes(r)),
            "the level restored after the reconnect",
            since=since,
        )
        assert air.massager.running  # it stopped on the link loss; the app restarted it
    finally:
        process.terminate()
    code, out, err = finish(process)
    assert code == 1, (out, err)  # SIGTERM ends the session
    assert "Traceback" not in err, err
    assert len(events(before + after, "connect")) == 2, before + after
    last_before = [w for w in motor_writes(before) if w["running"]][-1]["level"]
    first_after = next(w for w in motor_writes(after) if w["running"])
    # The ramp moved on (80 % in 60 s: more than one 5 % level in the 5 s the
    # device was away, and the reconnect): the app sent the level the session
    # wants now, not the one from before the loss.
    assert first_after["level"] > last_before, (last_before, after)
    assert "Device reconnected" in out, out

"""The virtual massager: any profile from its templates, on the real (virtual) radio."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator

import pytest
from bleak import BleakClient, BleakScanner

from tproutine.devices.codec import (
    Reading,
    decode_notification,
    encode_battery_query,
    encode_firmware_query,
    encode_set,
    encode_stop,
)
from tproutine.devices.profile import BATTERY_LEVEL, load_profiles
from tproutine.devices.sim.backend import BumbleAdapter
from tproutine.devices.sim.massager import (
    REFERENCE_NAME,
    MassagerLog,
    VirtualMassager,
    default_name,
    peripheral_config,
)

from .simkit import assert_no_leaks, eventually, profile

ALL = sorted(load_profiles())


@pytest.fixture(autouse=True)
async def no_leaks() -> AsyncIterator[None]:
    baseline = set(asyncio.all_tasks())
    yield
    await assert_no_leaks(baseline)


class Connected:
    """A bleak client connected to one massager, with every notification kept."""

    def __init__(self, massager: VirtualMassager) -> None:
        self.massager = massager
        self.notes: list[bytes] = []
        self.adapter: BumbleAdapter | None = None
        self.client: BleakClient | None = None

    async def __aenter__(self) -> Connected:
        self.adapter = await BumbleAdapter.in_process([self.massager])
        device = await BleakScanner.find_device_by_address(
            self.adapter.peripherals[0].address, timeout=2.0, backend=self.adapter.scanner_backend
        )
        assert device is not None
        self.client = BleakClient(device, backend=self.adapter.client_backend, timeout=2.0)
        await self.client.connect()
        notify = self.massager.config.notify_uuid
        if notify is not None:
            await self.client.start_notify(notify, lambda _c, data: self.notes.append(bytes(data)))
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self.client is not None:
            await self.client.disconnect()
        if self.adapter is not None:
            await self.adapter.close()

    async def write(self, data: bytes) -> None:
        assert self.client is not None
        block = self.massager.profile.gatt[0]
        await self.client.write_gatt_char(
            self.massager.config.write_uuid, data, response=block.write_response
        )

    def readings(self) -> list[Reading]:
        out = [decode_notification(self.massager.profile, n) for n in self.notes]
        return [r for r in out if r is not None]


@pytest.mark.parametrize("profile_id", ALL)
async def test_every_bundled_profile_can_be_emulated(profile_id: str) -> None:
    p = profile(profile_id)
    config = peripheral_config(p)
    assert config.name == default_name(p)
    # The profile recognises the advert of its own emulation.
    from tproutine.devices.matching import match_advertisement

    advertised = [config.service_uuid] if config.advertise_service_uuid else []
    assert match_advertisement([p], config.name, advertised, []) is p
    massager = VirtualMassager(p, auto_off=0)
    top = p.safety.max_level
    massager.on_write(config.write_uuid, encode_set(p, top))
    assert massager.running and massager.level == top
    massager.on_write(config.write_uuid, encode_stop(p))
    assert not massager.running and massager.level == 0
    massager.on_write(config.write_uuid, b"\x00nonsense")  # not understood: ignored
    assert [w.command is None for w in massager.writes] == [False, False, True]


async def test_reference_state_notifications_battery_and_force() -> None:
    massager = VirtualMassager(auto_off=0, notify_every=0.05, battery=90, seed=3)
    assert massager.config.name == REFERENCE_NAME
    async with Connected(massager) as dev:
        assert dev.client is not None
        assert bytes(await dev.client.read_gatt_char(BATTERY_LEVEL)) == bytes([90])
        await dev.write(encode_set(massager.profile, 15))
        await eventually(lambda: any(r.level == 15 for r in dev.readings()), what="state")
        # While running, a state every notify_every with a fresh, noisy force reading.
        await eventually(lambda: len(dev.readings()) >= 5, what="periodic state")
        running = [r for r in dev.readings() if r.running]
        assert all(r.level == 15 and r.battery == 90 for r in running)
        forces = {r.force_n for r in running}
        assert len(forces) > 1 and all(f is not None and 10 < f < 25 for f in forces)
        await dev.write(encode_stop(massager.profile))
        await eventually(lambda: dev.readings()[-1].running is False, what="stopped")
        assert dev.readings()[-1] == Reading(running=False, level=0, battery=90, force_n=0.0)


async def test_auto_off_after_a_quiet_spell_and_commands_restart_it() -> None:
    log = io.StringIO()
    massager = VirtualMassager(auto_off=0.3, log=MassagerLog(log))
    async with Connected(massager) as dev:
        await dev.write(encode_set(massager.profile, 10))
        await asyncio.sleep(0.2)
        await dev.write(encode_set(massager.profile, 12))  # a command: the timer starts again
        await asyncio.sleep(0.2)
        assert massager.running
        await eventually(lambda: not massager.running, what="auto-off")
        assert massager.auto_offs == 1
        await eventually(lambda: dev.readings()[-1].running is False, what="and it says so")
    events = [json.loads(line)["event"] for line in log.getvalue().splitlines()]
    assert events.count("auto_off") == 1


async def test_battery_drains_slowly_faster_while_running() -> None:
    now = [0.0]
    massager = VirtualMassager(auto_off=0, clock=lambda: now[0], battery=50)
    config = massager.config
    async with Connected(massager):
        massager.on_write(config.write_uuid, encode_set(massager.profile, 10))
        now[0] += 3600  # an hour at 12 %/h running
        massager.on_write(config.write_uuid, encode_stop(massager.profile))
        assert massager.battery == 38
        now[0] += 3600  # an hour idle at 1 %/h
        massager.press_button(0)
        assert massager.battery == 37
        assert massager.peripheral is not None and massager.peripheral.battery == 37


@pytest.mark.parametrize("profile_id", ALL)
def test_garbage_is_never_something_the_profile_could_read(profile_id: str) -> None:
    massager = VirtualMassager(profile(profile_id), garbage=True, seed=11)
    massager.running, massager.level = True, 1
    for _ in range(300):
        assert decode_notification(massager.profile, massager._garbage()) is None


async def test_garbage_arrives_as_notifications() -> None:
    massager = VirtualMassager(auto_off=0, garbage=True, garbage_every=0.01, seed=5)
    async with Connected(massager) as dev:

        def unreadable() -> list[bytes]:
            return [n for n in dev.notes if decode_notification(massager.profile, n) is None]

        await eventually(lambda: len(unreadable()) >= 5, what="garbage received")
        assert massager.garbage_sent >= len(unreadable())


async def test_the_log_has_one_json_line_per_write() -> None:
    log = io.StringIO()
    massager = VirtualMassager(auto_off=0, log=MassagerLog(log))
    async with Connected(massager) as dev:
        await dev.write(encode_set(massager.profile, 6))
        await dev.write(b"\x01\x02")
        massager.reject_writes = 1
        with pytest.raises(Exception, match=r"rejected|0x13|VALUE_NOT_ALLOWED|Value"):
            await dev.write(encode_stop(massager.profile))
    records = [json.loads(line) for line in log.getvalue().splitlines()]
    assert [r["event"] for r in records] == ["connect", "write", "write", "write", "disconnect"]
    first, unknown, rejected = records[1:4]
    assert first == {
        "event": "write",
        "mono": first["mono"],
        "char": "7470726f-7574-696e-6500-000000000002",
        "hex": "540101065c",  # 54 01 01 06, then 0x54+0x01+0x01+0x06
        "kind": "set",
        "level": 6,
        "percent": 30.0,
        "running": True,
    }
    assert unknown["kind"] is None and unknown["level"] is None and unknown["hex"] == "0102"
    assert rejected["kind"] == "stop" and rejected["rejected"] is True
    assert records[0]["mono"] <= first["mono"] <= records[-1]["mono"]


async def test_a_vendor_battery_and_firmware_query_are_answered() -> None:
    lovense = VirtualMassager(profile("lovense"), battery=64, auto_off=0)
    async with Connected(lovense) as dev:
        query = encode_battery_query(lovense.profile)
        assert query == b"Battery;"
        await dev.write(query)
        await eventually(lambda: b"64;" in dev.notes, what="the battery reply")
    theragun = VirtualMassager(profile("theragun-gen4"), auto_off=0)
    async with Connected(theragun) as dev:
        query = encode_firmware_query(theragun.profile)
        assert query is not None
        await dev.write(query)
        await eventually(lambda: dev.notes, what="the firmware reply")
        assert dev.notes[-1][2] == 0x20


async def test_the_button_and_a_lost_link_change_the_motor() -> None:
    massager = VirtualMassager(auto_off=0)
    async with Connected(massager) as dev:
        await dev.write(encode_set(massager.profile, 10))
        massager.press_button(4)
        await eventually(lambda: dev.readings()[-1].level == 4, what="the button's state")
        assert massager.drop_link()
        await eventually(lambda: not massager.connected, what="the lost link")
        # Like many massagers, it stops when its app goes away.
        assert not massager.running
        assert massager.disconnects and massager.connects[0] <= massager.disconnects[0]


def test_a_massager_needs_sane_settings() -> None:
    with pytest.raises(ValueError):
        VirtualMassager(auto_off=-1)
    with pytest.raises(ValueError):
        VirtualMassager(notify_every=0)
    with pytest.raises(KeyError):
        VirtualMassager.for_profile_id("no-such-profile")


@pytest.mark.parametrize(("policy", "runs_on"), [("stop", False), ("run", True)])
async def test_what_the_motor_does_when_its_app_goes_is_logged_either_way(
    policy: str, runs_on: bool
) -> None:
    log = io.StringIO()
    massager = VirtualMassager(auto_off=0, log=MassagerLog(log), on_link_loss=policy)  # type: ignore[arg-type]
    async with Connected(massager) as dev:
        await dev.write(encode_set(massager.profile, 6))
        assert massager.drop_link()
        await eventually(lambda: not massager.connected, what="the loss")
    assert massager.running is runs_on
    lost = next(json.loads(line) for line in log.getvalue().splitlines() if "disconnect" in line)
    assert lost == {
        "event": "disconnect",
        "mono": lost["mono"],
        "reason": 8,
        "on_link_loss": policy,
        "was_running": True,
        "running": runs_on,
        "level": 6 if runs_on else 0,
    }


def test_an_unknown_link_loss_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="on_link_loss"):
        VirtualMassager(on_link_loss="explode")  # type: ignore[arg-type]

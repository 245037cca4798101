"""Helpers for the controller and stop-path tests: a virtual massager, a controller, a session.

``Rig`` puts a ``VirtualMassager`` on an in-process virtual radio, a
``DeviceController`` on the same radio, and a session on a ``FakeClock``
(session time moves only when the test moves it; the radio and the
controller's own timers run in real time). Conditions are polled with
``eventually``, never waited for with fixed sleeps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.asynckit import eventually as _eventually
from tests.asynckit import leaks
from tproutine import paths
from tproutine.devices.adapters import AdapterSpec, Backends
from tproutine.devices.controller import DeviceController
from tproutine.devices.profile import DeviceProfile, load_profiles, parse_profile
from tproutine.devices.sim.backend import BumbleAdapter
from tproutine.devices.sim.massager import VirtualMassager
from tproutine.engine.clock import FakeClock
from tproutine.engine.events import Event
from tproutine.engine.session import Session
from tproutine.routine.timeline import DeviceSetting, Segment, Timeline

# How long to wait for something that should happen: generous, because the machine may be
# busy (the virtual radio runs in this process); a condition that holds comes true at once.
WAIT = 20.0

REFERENCE = "tproutine-virtual"


async def eventually(
    condition: Callable[[], object], timeout: float = WAIT, what: str = ""
) -> None:
    await _eventually(condition, timeout, what)


async def holds(condition: Callable[[], object], seconds: float, what: str = "") -> None:
    """Check that ``condition()`` stays true for ``seconds`` (something must NOT happen)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert condition(), f"stopped holding: {what or condition}"
        await asyncio.sleep(0.01)


async def assert_no_leaks(baseline: set[asyncio.Task[Any]]) -> None:
    """Fail when tasks or timers outlive the test (a controller or massager left running)."""
    loop = asyncio.get_running_loop()
    # Generous for a busy machine: the wait ends as soon as nothing is left.
    deadline = time.monotonic() + 10.0
    while (found := leaks(loop, baseline)) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    if found:
        for task in asyncio.all_tasks(loop):
            if task not in baseline and task is not asyncio.current_task():
                task.cancel()
        pytest.fail("the test leaked:\n  " + "\n  ".join(found))


def profile(profile_id: str = REFERENCE) -> DeviceProfile:
    return load_profiles()[profile_id]


def reference_with(**changes: object) -> DeviceProfile:
    """The reference profile with other ``safety`` values, or a ``keepalive`` every N s."""
    text = (paths.bundled_devices_dir() / "tproutine-virtual.yaml").read_text()
    keepalive = changes.pop("keepalive", None)
    head, _, _old = text.partition("\nsafety:")
    safety = {"max_level": 20, "max_on": 600, **changes}
    text = head + "\nsafety:\n" + "".join(f"  {k}: {v}\n" for k, v in safety.items())
    if keepalive is not None:
        text = text.replace("\ncommands:\n", f"\ncommands:\n  keepalive: {{every: {keepalive}}}\n")
    return parse_profile(text, "test-profile.yaml")


def segment(
    index: int,
    kind: str,
    duration: float,
    *,
    start: float,
    device: DeviceSetting | None = None,
) -> Segment:
    return Segment(
        index=index,
        kind=kind,  # type: ignore[arg-type]
        title=f"{kind} {index}",
        start_s=start,
        duration_s=duration,
        device=device,
    )


def timeline(*specs: tuple[str, float, DeviceSetting | None]) -> Timeline:
    """Segments one after another: ``(kind, duration, device setting or None)``."""
    segments = []
    start = 0.0
    for i, (kind, duration, device) in enumerate(specs):
        segments.append(segment(i, kind, duration, start=start, device=device))
        start += duration
    return Timeline(
        name="Device test",
        segments=tuple(segments),
        total_s=start,
        uses_device=any(s.device is not None for s in segments),
    )


def on(percent: float, to: float | None = None) -> DeviceSetting:
    return DeviceSetting(percent, percent if to is None else to)


def level(n: int) -> DeviceSetting:
    return DeviceSetting(level=n)


@dataclass
class Rig:
    """A massager, a controller and a session on a fake clock; see the module docstring."""

    massager: VirtualMassager
    adapter: BumbleAdapter
    controller: DeviceController
    clock: FakeClock
    session: Session
    events: list[Event] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    task: asyncio.Task[Any] | None = None

    def of(self, name: str, **match: object) -> list[Event]:
        return [
            e
            for e in self.events
            if e.event == name and all(e.get(k) == v for k, v in match.items())
        ]

    def device_events(self, action: str) -> list[Event]:
        return self.of("device", action=action)

    async def run(self) -> None:
        """Start the session's own task (its first segment starts now)."""
        self.task = asyncio.get_running_loop().create_task(self.session.run())
        await self.clock.settle()

    async def advance(self, seconds: float) -> None:
        await self.clock.advance(seconds)

    async def motor(self, running: bool, level: int | None = None, what: str = "") -> None:
        """Wait until the massager's motor is in this state."""
        # ... and the controller has heard back (its write completed, its events went out).
        await eventually(
            lambda: (
                self.massager.running == running
                and (level is None or self.massager.level == level)
                and self.controller.sent_level == self.massager.level
            ),
            what=what or f"the motor {'on' if running else 'off'} (level {level})",
        )

    async def close(self) -> None:
        if self.task is not None and not self.task.done():
            self.session.stop()
            await asyncio.wait([self.task], timeout=WAIT)
        await self.controller.close()
        await self.adapter.close()


async def make_rig(
    tl: Timeline,
    *,
    device_profile: DeviceProfile | None = None,
    controller_profile: DeviceProfile | None = None,
    max_intensity: float = 100.0,
    massager: dict[str, Any] | None = None,
    connect: bool = True,
    profiles: dict[str, DeviceProfile] | None = None,
    **controller: Any,
) -> Rig:
    """A rig whose controller has connected (unless ``connect`` is False)."""
    chosen = device_profile or profile()
    options: dict[str, Any] = {"auto_off": 0, "notify_every": 0.2, "seed": 7}
    options.update(massager or {})
    virtual = VirtualMassager(chosen, **options)
    adapter = await BumbleAdapter.in_process([virtual])
    backends = Backends(
        AdapterSpec("sim"), adapter.scanner_backend, adapter.client_backend, adapter
    )
    known = dict(load_profiles()) if profiles is None else profiles
    for extra in (device_profile, controller_profile):
        if extra is not None and profiles is None:
            known[extra.id] = extra
    reports: list[str] = []
    options_c: dict[str, Any] = {"scan_timeout": 2.0, "connect_timeout": 2.0}
    options_c.update(controller)
    ctl = DeviceController(
        AdapterSpec("sim"),
        "auto",
        profiles=known,
        backends=backends,
        report=reports.append,
        **options_c,
    )
    clock = FakeClock()
    session = Session(tl, clock, max_intensity=max_intensity, countdown=0)
    rig = Rig(virtual, adapter, ctl, clock, session, reports=reports)
    session.subscribe(rig.events.append)
    session.subscribe(ctl.on_event)
    await ctl.start(session)
    if connect:
        await eventually(lambda: ctl.status.state == "connected", what="connected")
        # The "make sure it is off" stop after connecting has gone out.
        await eventually(lambda: ctl.sent_level == 0, what="the first stop")
    return rig

"""The guardian: the motor stops when the app dies without stopping it, and only then.

The hard deaths are real: a ``tproutine run`` process is killed with SIGKILL
while it drives a ``tproutine sim --on-link-loss run`` process (a device that
runs on when its app goes away), and the simulator's log says what the device
did. The in-process tests cover the rest: the guardian never touches the device
of a living app, leaves with the session, and costs no CPU while it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tproutine.devices.adapters import parse_adapter
from tproutine.devices.controller import DeviceController
from tproutine.devices.controller_base import Report
from tproutine.devices.guardian import Guardian, Ward, guards, stop, watch
from tproutine.devices.sim import serve
from tproutine.devices.sim.massager import MassagerLog, VirtualMassager
from tproutine.engine.clock import FakeClock
from tproutine.engine.events import Event
from tproutine.engine.session import Session
from tproutine.routine.timeline import Timeline

from .simkit import eventually, on, profile, timeline
from .simproc import TIMEOUT, env, read, run, sim_process, wait_log

# The target is 2 s (measured by bench/bench_devices.py); a test on a
# machine shared by many only checks that the stop comes, well within this.
STOP_SLACK_S = 15.0

LONG = """\
format: tproutine/1
name: Long massage
get_ready: 0s
steps:
  - massage: Calf
    duration: 10m
    device: {intensity: 40%}
"""

WARD = Ward("tcp:127.0.0.1:9", "C0:00:00:00:00:01", "Gun", "uuid-w", True, b"\x54\x02")


def line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


# ---------------------------------------------------------------- the protocol


def test_the_guardian_acts_only_on_a_pipe_that_ended_without_a_goodbye() -> None:
    arm = line({"arm": WARD.to_json()})
    assert watch(io.BytesIO(arm + line({"running": True}))) == (WARD, True, False)
    # The stop went through: nothing owed.
    assert watch(io.BytesIO(arm + line({"running": True}) + line({"running": False}))) == (
        WARD,
        False,
        False,
    )
    # A proper end.
    assert watch(io.BytesIO(arm + line({"running": True}) + line({"bye": True})))[2] is True
    # Garbage on the pipe is never acted on.
    noise = b"not json\n" + line({"arm": {"adapter": 1}}) + b"[1, 2]\n" + line({"running": True})
    assert watch(io.BytesIO(noise)) == (None, True, False)


def test_only_adapters_whose_device_outlives_the_app_get_a_guardian() -> None:
    assert guards(parse_adapter("system")) and guards(parse_adapter("tcp:127.0.0.1:9100"))
    assert not guards(parse_adapter("sim")) and not guards(parse_adapter("none"))


async def test_a_device_out_of_reach_is_said_with_what_to_do(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket

    with socket.socket() as taken:  # a port where nothing answers
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
    ward = Ward(f"tcp:127.0.0.1:{port}", "C0:00:00:00:00:01", "Gun\x1b[2J", "uuid-w", True, b"")
    assert await stop(ward, give_up=0.5) is False
    (said,) = capsys.readouterr().err.splitlines()
    assert said.startswith(
        "tproutine guardian: the app ended while Gun␛[2J may have been running, and it could "
        "not be reached to stop it ("
    )
    assert said.endswith("): switch it off by hand")


async def test_a_guardian_finishing_a_stop_ends_when_the_app_connects_to_the_device_again() -> None:
    import socket

    with socket.socket() as taken:  # the device is out of reach: it keeps trying
        taken.bind(("127.0.0.1", 0))
        adapter = parse_adapter(f"tcp:127.0.0.1:{taken.getsockname()[1]}")
    first = Guardian(adapter)
    first.arm(WARD)
    pid = first.pid
    assert pid is not None
    first.running(True)
    await first.close()  # the motor may be running: handed over, not ended
    assert not ended(pid)
    # This app reaches the device again: the new session drives it now, and the
    # old guardian must not touch it.
    second = Guardian(adapter)
    second.arm(WARD)
    try:
        assert ended(pid)
    finally:
        await second.close()


async def test_a_stuck_guardian_never_holds_the_app_up() -> None:
    guard = Guardian(parse_adapter("tcp:127.0.0.1:9"))
    guard.arm(WARD)
    pid = guard.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # it reads nothing more: its pipe fills
    try:
        for _ in range(20_000):  # far more than a pipe holds (64 KiB)
            guard.running(True)
            guard.running(False)
        # The app went on; the guardian that could not keep up was ended, not left
        # to act later on a stale word.
        assert guard.pid is None and ended(pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        await guard.close()


# ---------------------------------------------------------------- real processes


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def cpu_ticks(pid: int) -> int:
    """User and system time of ``pid`` so far, in clock ticks (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def ended(pid: int) -> bool:
    """``pid`` has exited (gone, or a zombie its new parent has not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def waiting(pid: int) -> bool:
    """``pid`` has one thread, blocked in ``read(0, ...)`` (``/proc/PID/syscall`` names
    the system call a blocked process is in)."""
    threads = len(list(Path(f"/proc/{pid}/task").iterdir()))
    return threads == 1 and Path(f"/proc/{pid}/syscall").read_text().startswith("0 0x0 ")


def settled(pid: int, timeout: float = TIMEOUT) -> None:
    """Wait until ``pid`` has started up and waits on its pipe."""
    deadline = time.monotonic() + timeout
    while not waiting(pid):
        if time.monotonic() > deadline:
            pytest.fail("the guardian never settled")
        time.sleep(0.05)


@pytest.fixture
def runs_on(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A simulator whose massager runs on when its app goes away."""
    with sim_process(tmp_path, "--on-link-loss", "run", "--auto-off", "0") as found:
        yield found


def start_app(tmp: Path, port: int) -> subprocess.Popen[str]:
    routine = tmp / "long.yaml"
    routine.write_text(LONG)
    return subprocess.Popen(
        [sys.executable, "-m", "tproutine", "run", str(routine), "--plain", "--yes",
         "--adapter", f"tcp:127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env(tmp),
    )  # fmt: skip


def motor_on(records: list[dict[str, Any]]) -> bool:
    return any(r["event"] == "write" and r.get("running") for r in records)


def test_kill_9_of_the_app_is_followed_by_the_stop(
    runs_on: tuple[int, Path], tmp_path: Path
) -> None:
    port, log = runs_on
    app = start_app(tmp_path, port)
    try:
        wait_log(log, motor_on, "the motor running")
        (guardian,) = children(app.pid)
        assert guardians_of(port) == [guardian]
        settled(guardian)
        # Idle: blocked on its pipe, it does not run at all while the app drives the
        # motor (no timer, no polling: nothing wakes it but the app).
        before = cpu_ticks(guardian)
        time.sleep(1.5)
        assert cpu_ticks(guardian) == before
        assert waiting(guardian)
        killed = time.monotonic()
        app.send_signal(signal.SIGKILL)
        _out, err = app.communicate(timeout=TIMEOUT)  # the guardian holds stderr till it ends
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    records = wait_log(
        log, lambda rs: any(r["event"] == "write" and r["mono"] > killed for r in rs), "a stop"
    )
    # The app's link went with it, and the device ran on (as this kind of device does)...
    lost = next(r for r in records if r["event"] == "disconnect")
    assert lost["mono"] >= killed and lost["reason"] == 8 and lost["running"] is True
    # ... until the guardian connected through a radio of its own and sent the stop.
    after = [r for r in records if r["mono"] > lost["mono"]]
    assert [r["event"] for r in after][:2] == ["connect", "write"], after
    the_stop = after[1]
    assert the_stop["kind"] == "stop" and the_stop["running"] is False and the_stop["level"] == 0
    assert after[0]["peer"] != next(r["peer"] for r in records if r["event"] == "connect")
    assert the_stop["mono"] - killed < STOP_SLACK_S
    print(f"kill -9 -> stop received: {(the_stop['mono'] - killed) * 1000:.0f} ms")
    # It said so where the app's lines went, and left.
    assert "tproutine guardian: the app ended while tproutine-massager may have been " \
        "running; the motor was stopped" in err  # fmt: skip
    deadline = time.monotonic() + TIMEOUT
    while not ended(guardian) and time.monotonic() < deadline:
        time.sleep(0.05)  # its stderr closes a moment before it is gone
    assert ended(guardian)


def test_without_its_guardian_a_killed_app_leaves_the_device_running(
    runs_on: tuple[int, Path], tmp_path: Path
) -> None:
    # The control: what the test above shows is the guardian's doing.
    port, log = runs_on
    app = start_app(tmp_path, port)
    try:
        wait_log(log, motor_on, "the motor running")
        (guardian,) = children(app.pid)
        os.kill(guardian, signal.SIGKILL)
        app.send_signal(signal.SIGKILL)
        app.communicate(timeout=TIMEOUT)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    records = wait_log(log, lambda rs: any(r["event"] == "disconnect" for r in rs), "the loss")
    time.sleep(2.0)  # what must not happen: anything at all after the loss
    assert read(log) == records and records[-1]["running"] is True


def guardians_of(port: int) -> list[int]:
    """Guardian processes watching a device on the simulator at ``port``."""
    wanted = [b"tproutine.devices.guardian", f"tcp:127.0.0.1:{port}".encode()]
    found = []
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(w in args for w in wanted) and not ended(int(proc.name)):
            found.append(int(proc.name))
    return found


def test_a_session_that_ends_properly_takes_its_guardian_with_it(
    runs_on: tuple[int, Path], tmp_path: Path
) -> None:
    port, log = runs_on
    routine = tmp_path / "short.yaml"
    routine.write_text(LONG.replace("10m", "4s"))
    done = run(tmp_path, str(routine), "--plain", "--yes", "--speed", "2",
               "--adapter", f"tcp:127.0.0.1:{port}")  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr
    records = read(log)
    assert motor_on(records)
    # Only the app ever connected, and its last write was the stop.
    assert [r["event"] for r in records].count("connect") == 1
    writes = [r for r in records if r["event"] == "write"]
    assert writes[-1]["kind"] == "stop"
    assert guardians_of(port) == []


# ---------------------------------------------------------------- in process


@pytest.fixture
async def sim_server() -> AsyncIterator[tuple[int, VirtualMassager, io.StringIO]]:
    text = io.StringIO()
    massager = VirtualMassager(
        profile(), auto_off=0, notify_every=0.2, on_link_loss="run", log=MassagerLog(text)
    )
    server = await serve(0, lambda: massager)
    try:
        yield server.port, massager, text
    finally:
        await server.close()


async def connected_app(
    port: int, tl: Timeline, *listeners: Callable[[Event], None], report: Report | None = None
) -> tuple[DeviceController, Session]:
    """The app's side: a controller for the simulator at ``port`` (so with a
    guardian), connected before the clock of a session of ``tl`` starts (a fake
    clock); ``listeners`` hear the session's events from its first."""
    ctl = DeviceController(f"tcp:127.0.0.1:{port}", "auto", scan_timeout=5.0, report=report)
    session = Session(tl, FakeClock(), countdown=0)
    for listener in (*listeners, ctl.on_event):
        session.subscribe(listener)
    assert await ctl.connect_first(session, 10.0) is None
    return ctl, session


async def test_the_guardian_never_touches_a_living_apps_device_and_leaves_with_it(
    sim_server: tuple[int, VirtualMassager, io.StringIO],
) -> None:
    port, massager, text = sim_server
    events: list[Event] = []
    ctl, session = await connected_app(port, timeline(("massage", 60, on(40))), events.append)
    task: asyncio.Task[Any] | None = None
    try:
        pid = ctl.guardian_pid
        assert pid is not None and Path(f"/proc/{pid}").exists()
        task = asyncio.get_running_loop().create_task(session.run())
        await eventually(lambda: massager.running, what="the motor on")
        # The radio loses the device while the motor runs: the app is alive and
        # reconnects; its guardian stays out of it.
        assert massager.drop_link()
        await eventually(lambda: len(massager.connects) == 2 and massager.running, 10.0)
        lost = [e for e in events if e.event == "device" and e.get("action") == "disconnect"]
        assert lost and lost[0].get("running") is True
        assert "may still be running" in lost[0]["warning"]
        session.stop()
        await task
    finally:
        if task is not None and not task.done():
            session.stop()
            await task
        await ctl.close()
    assert not massager.running
    # Gone with the controller, and it never connected: every connection was the app's.
    await eventually(lambda: ended(pid), 10.0, "the guardian to leave")
    peers = {json.loads(t)["peer"] for t in text.getvalue().splitlines() if '"connect"' in t}
    assert len(peers) == 1


async def test_a_stop_the_app_could_not_get_through_is_handed_to_the_guardian(
    sim_server: tuple[int, VirtualMassager, io.StringIO],
) -> None:
    port, massager, _text = sim_server
    reports: list[str] = []
    ctl, session = await connected_app(
        port, timeline(("massage", 60, on(40))), report=reports.append
    )
    pid = ctl.guardian_pid
    assert pid is not None
    task = asyncio.get_running_loop().create_task(session.run())
    try:
        await eventually(lambda: massager.running, what="the motor on")
        # The device refuses every write from now on: the app's own stop fails.
        massager.reject_writes = 1_000_000
        session.stop()
        await task
        await ctl.close()
        assert massager.running
        # The person is told, in the words every such message uses.
        assert reports[0] == (
            "device: could not send the stop command (tried twice: GATT Protocol Error: "
            "Value Not Allowed)"
        )
        assert reports[1:] == [
            "device: tproutine-massager did not take the stop command; the guardian keeps "
            "trying for 30 s: it may still be running: if it does, switch it off with its "
            "own button (or take it away from your body)"
        ]
        # The app has let go of the device; its guardian has not.
        assert not ended(pid)
        massager.reject_writes = 0
        await eventually(lambda: not massager.running, TIMEOUT, "the guardian's stop")
        await eventually(lambda: ended(pid), TIMEOUT, "the guardian to leave")
    finally:
        if not task.done():
            session.stop()
            await task
        await ctl.close()


# ---------------------------------------------------------------- say it at once


async def test_a_link_lost_while_the_motor_runs_is_said_at_once() -> None:
    from tproutine.engine.cues import CueOutput
    from tproutine.engine.plain import PlainOutput

    from .simkit import make_rig

    rig = await make_rig(timeline(("massage", 60, on(40))), massager={"on_link_loss": "run"})
    try:
        text = io.StringIO()
        rings: list[int] = []
        cues = CueOutput(bell=lambda: rings.append(1), voice=["true"])
        rig.session.subscribe(cues)
        rig.session.subscribe(PlainOutput(rig.session.timeline, text))
        await rig.run()
        await rig.motor(True, 8)
        assert rig.massager.drop_link()
        await eventually(lambda: rig.device_events("disconnect"), what="the loss")
        # At once, not at the end of the session: still the first step, and no
        # session time has passed.
        (lost,) = rig.device_events("disconnect")
        assert lost.t == 0 and rig.session.state == "running"
        warning = (
            "tproutine-massager may still be running: if it does, switch it off with its "
            "own button (or take it away from your body)"
        )
        assert lost["running"] is True and lost["warning"] == warning
        assert warning in (rig.controller.status.message or "")
        assert (
            f"Device disconnected · tproutine-massager · link lost · {warning}" in text.getvalue()
        )
        assert rings == [1]
        # (Said alone, or joined to the step's title when that was still waiting.)
        await eventually(lambda: any(warning in s for s in cues.spoken), what="the voice")
        await cues.aclose()
        # The device really did run on, out of reach: what the warning is for.
        assert rig.massager.running
    finally:
        await rig.close()


async def test_a_link_lost_while_the_motor_runs_outside_a_session_is_reported() -> None:
    from .simkit import make_rig

    rig = await make_rig(timeline(("hold", 5, None)), massager={"on_link_loss": "run"})
    try:
        rig.session.stop()  # no session: the Devices screen's test
        testing = asyncio.ensure_future(rig.controller.test(seconds=30, percent=50))
        await eventually(lambda: rig.massager.running, what="the test running")
        assert rig.massager.drop_link()
        await eventually(lambda: rig.reports, what="the report")
        assert "the link was lost while the motor ran" in rig.reports[0]
        assert "may still be running" in rig.reports[0]
        await testing
    finally:
        await rig.close()


async def test_a_motor_switched_on_with_the_devices_button_is_guarded_too(
    sim_server: tuple[int, VirtualMassager, io.StringIO],
) -> None:
    port, massager, _text = sim_server
    # A step that does not use the device: the app leaves the motor off.
    ctl, session = await connected_app(port, timeline(("hold", 600, None)))
    task = asyncio.get_running_loop().create_task(session.run())
    guard = ctl._guardian
    assert guard is not None and guard.pid is not None
    pid = guard.pid
    try:
        await eventually(lambda: massager.connects and not massager.running, what="connected")
        assert guard._running is False
        # The person switches it on by hand. The app leaves it be (see
        # test_controller), but its guardian is told at once that the motor may
        # be running (what it acts on if the app dies: the tests above), without
        # waiting for the app to decide the change was the person's.
        massager.press_button(3)
        await eventually(lambda: guard._running is True, what="the guardian told")
        # Off by hand again, and the app sent nothing: nothing is owed.
        massager.press_button(0)
        await eventually(lambda: guard._running is False, what="the guardian told it is off")
        massager.press_button(2)
        await eventually(lambda: guard._running is True, what="on again")
    finally:
        session.stop()
        await task
        await ctl.close()
    # Quitting stops it (the app's own stop) and the guardian leaves with the app.
    assert not massager.running
    await eventually(lambda: ended(pid), TIMEOUT, "the guardian to leave")

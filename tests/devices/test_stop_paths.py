"""The stop guarantee: on every way out, the stop command is sent and awaited before the
connection closes, and the motor is off.

In-process paths run against the virtual massager on the in-process radio.
Cross-process paths run a real ``tproutine sim`` process and a second process
(``tproutine run`` or a small script) and read the simulator's ``--log``: the
last write before the disconnect must decode as a stop (``running`` false,
level 0), and nothing may be written after it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tproutine.devices.sim.massager import WriteRecord
from tproutine.engine.clock import FakeClock
from tproutine.engine.events import Event
from tproutine.routine.timeline import DeviceSetting
from tproutine.runtime import build_runtime

from .simkit import Rig, assert_no_leaks, eventually, make_rig, on, timeline

ROUTINE = """\
format: tproutine/1
name: Stop paths
summary: A short massage that drives the device.
get_ready: 1s
steps:
  - massage: Calf with the gun
    duration: 60s
    device: {intensity: 40%}
  - hold: Press
    duration: 10s
"""

PROCESS_TIMEOUT = 60.0  # generous: the machine may be busy


# ---------------------------------------------------------------- in-process paths


@pytest.fixture
async def no_leaks() -> AsyncIterator[None]:
    baseline = set(asyncio.all_tasks())
    yield
    await assert_no_leaks(baseline)


def assert_stopped_before_disconnect(writes: list[WriteRecord], disconnects: list[float]) -> None:
    """The last write was a stop, and it arrived before the link went."""
    assert disconnects, "the device was never disconnected"
    before = [w for w in writes if w.mono <= disconnects[-1]]
    assert before, "nothing was written"
    last = before[-1]
    assert last.command is not None and last.command.kind == "stop", last
    assert last.command.running is False and last.command.level == 0
    assert all(w.mono <= disconnects[-1] for w in writes), "written after the disconnect"


async def run_rig_until_motor_on(rig: Rig) -> None:
    await rig.run()
    await rig.motor(True, 8)


@pytest.mark.usefixtures("no_leaks")
async def test_session_end_stops_then_disconnects() -> None:
    rig = await make_rig(timeline(("massage", 5, on(40))))
    try:
        await run_rig_until_motor_on(rig)
        await rig.advance(5)
        await rig.motor(False, what="stopped at the end")
        assert rig.session.status == "completed"
    finally:
        await rig.close()
    assert_stopped_before_disconnect(rig.massager.writes, rig.massager.disconnects)


@pytest.mark.usefixtures("no_leaks")
async def test_pause_and_a_stopped_session_stop_the_motor() -> None:
    rig = await make_rig(timeline(("massage", 30, on(40))))
    try:
        await run_rig_until_motor_on(rig)
        rig.session.pause()
        await rig.motor(False, what="stopped on pause")
        rig.session.resume()
        await rig.motor(True, 8)
        rig.session.stop()  # `q`
        await rig.motor(False, what="stopped with the session")
    finally:
        await rig.close()
    assert_stopped_before_disconnect(rig.massager.writes, rig.massager.disconnects)


@pytest.mark.usefixtures("no_leaks")
async def test_cancelled_worker_stops_the_motor() -> None:
    # What asyncio.run does to every task when the program ends by an exception,
    # sys.exit or Ctrl-C: cancel them. The worker's last act is the stop.
    rig = await make_rig(timeline(("massage", 30, on(40))))
    try:
        await run_rig_until_motor_on(rig)
        worker = rig.controller._worker
        assert worker is not None
        worker.cancel()
        await asyncio.wait([worker], timeout=3)
        assert worker.cancelled()
        # The worker's own last act: it wrote the stop (awaited) and disconnected.
        assert not rig.massager.running and not rig.massager.connected
        assert_stopped_before_disconnect(rig.massager.writes, rig.massager.disconnects)
    finally:
        await rig.close()


@pytest.mark.usefixtures("no_leaks")
async def test_closing_while_the_link_is_lost_reaches_the_device_to_stop_it() -> None:
    # A device that keeps running when its app goes away (not all stop by
    # themselves): the link drops, the session ends before the reconnect.
    rig = await make_rig(timeline(("massage", 30, on(40))), massager={"on_link_loss": "run"})
    try:
        await run_rig_until_motor_on(rig)

        async def not_yet(_device: object) -> None:
            await asyncio.Event().wait()  # a reconnect that has not got through yet

        rig.controller._reconnect = not_yet  # type: ignore[method-assign]
        assert rig.massager.drop_link()
        await eventually(lambda: rig.controller.status.state == "reconnecting", what="lost")
        assert rig.massager.running
        rig.session.stop()
        await rig.controller.close()
        assert not rig.massager.running
        assert_stopped_before_disconnect(rig.massager.writes, rig.massager.disconnects)
    finally:
        await rig.close()


class Boom(Exception):
    pass


@pytest.mark.usefixtures("no_leaks")
async def test_an_uncaught_exception_in_the_app_stops_the_motor() -> None:
    # The app's own code fails while the session runs (a bug in a screen, in
    # run.py): the runtime's `async with` closes the device on the way out.
    rig = await make_rig(timeline(("hold", 1, None)))  # for its massager and radio
    tl = timeline(("massage", 30, DeviceSetting(40.0, 40.0)))
    rt = build_runtime(tl, clock=FakeClock(), history=False, voice=False, device=rig.controller)
    task: asyncio.Task[object] | None = None
    try:
        with pytest.raises(Boom):
            async with rt:
                task = asyncio.create_task(rt.run())
                await eventually(lambda: rig.massager.running, what="the motor on")
                raise Boom("a bug in the app")
        assert not rig.massager.running
        assert_stopped_before_disconnect(rig.massager.writes, rig.massager.disconnects)
    finally:
        if task is not None:
            task.cancel()
            await asyncio.wait([task], timeout=3)
        await rig.close()


@pytest.mark.usefixtures("no_leaks")
async def test_a_failing_listener_does_not_leave_the_motor_running() -> None:
    # The engine keeps going past a broken listener; the motor still follows the
    # routine and stops at its end.
    rig = await make_rig(timeline(("massage", 5, on(40)), ("hold", 5, None)))

    def broken(event: Event) -> None:
        if event.event == "device":
            raise RuntimeError("listener bug")

    rig.session.subscribe(broken)
    try:
        await run_rig_until_motor_on(rig)
        await rig.advance(5)
        await rig.motor(False, what="off in the hold despite the broken listener")
        await rig.advance(5)
    finally:
        await rig.close()
    assert_stopped_before_disconnect(rig.massager.writes, rig.massager.disconnects)


# ---------------------------------------------------------------- across processes


@dataclass
class Simulator:
    port: int
    log: Path
    process: subprocess.Popen[str]

    def mark(self) -> int:
        """Where the log ends now: a test reads what comes after."""
        return self.log.stat().st_size if self.log.exists() else 0

    def records(self, since: int) -> list[dict[str, Any]]:
        with self.log.open(encoding="utf-8") as fh:
            fh.seek(since)
            return [json.loads(line) for line in fh if line.strip()]

    def wait_for(
        self, since: int, condition: Callable[[list[dict[str, Any]]], bool], what: str
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while time.monotonic() < deadline:
            records = self.records(since)
            if condition(records):
                return records
            time.sleep(0.02)
        pytest.fail(f"the simulator log never showed {what}: {self.records(since)}")


def env(tmp: Path) -> dict[str, str]:
    out = dict(os.environ)
    out["XDG_DATA_HOME"] = str(tmp / "data")
    out["XDG_CONFIG_HOME"] = str(tmp / "config")
    out.pop("TPROUTINE_ADAPTER", None)
    return out


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    tmp = tmp_path_factory.mktemp("sim")
    log = tmp / "sim.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "tproutine", "sim", "--port", "0", "--log", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(tmp),
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on 127.0.0.1:" in line, (line, process.stderr and process.stderr.read())
    port = int(line.rsplit(":", 1)[1])
    try:
        yield Simulator(port, log, process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(PROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0


@pytest.fixture(scope="module")
def routine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("routine") / "stop-paths.yaml"
    path.write_text(ROUTINE, encoding="utf-8")
    return path


def motor_on(records: list[dict[str, Any]]) -> bool:
    return any(r.get("event") == "write" and r.get("running") for r in records)


def disconnected(records: list[dict[str, Any]]) -> bool:
    return any(r.get("event") == "disconnect" for r in records)


def assert_log_stopped_before_disconnect(records: list[dict[str, Any]]) -> None:
    """From the simulator's log: the last write decodes as a stop, then the disconnect."""
    disconnect = next(i for i, r in enumerate(records) if r["event"] == "disconnect")
    writes = [r for r in records[:disconnect] if r["event"] == "write"]
    assert writes, records
    last = writes[-1]
    assert last["kind"] == "stop" and last["running"] is False and last["level"] == 0, records
    assert last["mono"] <= records[disconnect]["mono"]
    assert not [r for r in records[disconnect:] if r["event"] == "write"], records
    assert any(r["running"] for r in writes), "the motor never ran"


def start(args: list[str], tmp: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(tmp),
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=PROCESS_TIMEOUT)
    except subprocess.TimeoutExpired:
        # Where it is stuck (the scripts register faulthandler on SIGUSR1), then end it.
        process.send_signal(signal.SIGUSR1)
        try:
            out, err = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        pytest.fail(f"the process did not end: {out} {err}")
    return process.returncode, out, err


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 1), (signal.SIGHUP, 1)]
)
def test_run_stops_the_motor_on_a_signal(
    simulator: Simulator, routine: Path, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    since = simulator.mark()
    # At real speed the massage lasts a minute: the motor runs before the signal
    # however long a busy machine takes to connect.
    process = start(
        [sys.executable, "-m", "tproutine", "run", str(routine), "--plain", "--yes",
         "--adapter", f"tcp:127.0.0.1:{simulator.port}"],
        tmp_path,
    )  # fmt: skip
    simulator.wait_for(since, motor_on, "the motor running")
    process.send_signal(sig)
    returncode, out, err = finish(process)
    assert returncode == code, (out, err)
    assert "Traceback" not in err
    records = simulator.wait_for(since, disconnected, "the disconnect")
    assert_log_stopped_before_disconnect(records)


SCRIPT = """\
import asyncio, faulthandler, os, signal, sys


def where(signum, frame):
    # If it ever hangs, the test asks where: every thread's stack, and every
    # asyncio task's (a loop waiting in select says nothing of what it waits for).
    faulthandler.dump_traceback(all_threads=True)
    try:
        tasks = asyncio.all_tasks()
    except RuntimeError:
        tasks = set()
    for task in tasks:
        print(task, file=sys.stderr)
        task.print_stack(file=sys.stderr)
    sys.stderr.flush()


signal.signal(signal.SIGUSR1, where)
# Ctrl-C as Python has it in a terminal. A process started in the background
# by a shell without job control (`cmd &` in a script, as a CI runner may do)
# inherits SIGINT ignored, and Python then leaves it ignored: asyncio.run would
# install no handler, and the SIGINT below would do nothing at all.
signal.signal(signal.SIGINT, signal.default_int_handler)

from tproutine.devices.controller import DeviceController
from tproutine.routine import load_timeline
from tproutine.runtime import build_runtime

port, routine, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def make():
    controller = DeviceController(f"tcp:127.0.0.1:{port}", "auto")
    rt = build_runtime(load_timeline(routine), history=False, voice=False, device=controller)
    return controller, rt


async def main():
    controller, rt = make()
    if mode == "app-exit":
        from tproutine.devices import safety

        # A full-screen app leaves its own way once the motor is off.
        safety.set_signal_exit(lambda sig: (print("app exit", sig.name, flush=True), os._exit(7)))
    if mode == "exit-in-listener":
        def listener(event):
            # Raised while the controller itself is emitting its `device` event.
            if event.event == "device" and event.get("action") == "set":
                sys.exit(3)
        rt.session.subscribe(listener)
    async with rt:
        await rt.run()


async def until_running(controller, rt):
    task = asyncio.ensure_future(rt.run())
    while not controller.status.running:
        await asyncio.sleep(0.01)
    return task


if mode in ("atexit", "excepthook"):
    # An app that drives its own loop and leaves it open: only the process-wide
    # hooks can still stop the motor.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    controller, rt = make()
    loop.run_until_complete(until_running(controller, rt))
    if mode == "atexit":
        sys.exit(4)
    raise RuntimeError("uncaught")
asyncio.run(main())
"""


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("script") / "session.py"
    path.write_text(SCRIPT, encoding="utf-8")
    return path


def run_script(
    simulator: Simulator, routine: Path, script: Path, tmp: Path, mode: str
) -> subprocess.Popen[str]:
    return start([sys.executable, str(script), str(simulator.port), str(routine), mode], tmp)


@pytest.mark.parametrize(
    ("mode", "code"), [("exit-in-listener", 3), ("atexit", 4), ("excepthook", 1)]
)
def test_interpreter_exit_and_uncaught_exceptions_stop_the_motor(
    simulator: Simulator, routine: Path, script: Path, tmp_path: Path, mode: str, code: int
) -> None:
    since = simulator.mark()
    process = run_script(simulator, routine, script, tmp_path, mode)
    returncode, out, err = finish(process)
    assert returncode == code, (out, err)
    records = simulator.wait_for(since, disconnected, "the disconnect")
    assert_log_stopped_before_disconnect(records)
    if mode == "excepthook":
        assert "RuntimeError: uncaught" in err  # the usual report still follows


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signals_stop_the_motor_where_the_app_set_no_handler(
    simulator: Simulator, routine: Path, script: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    # A script (or the TUI) that installed no handlers: SIGTERM and SIGHUP go
    # through the safety module's fallback, SIGINT through asyncio.run's own.
    since = simulator.mark()
    process = run_script(simulator, routine, script, tmp_path, "plain")
    simulator.wait_for(since, motor_on, "the motor running")
    process.send_signal(sig)
    returncode, out, err = finish(process)
    if sig != signal.SIGINT:
        # The fallback re-delivers the signal: the process still ends the way it was told to.
        assert returncode == -sig, (out, err)
    records = simulator.wait_for(since, disconnected, "the disconnect")
    try:
        assert_log_stopped_before_disconnect(records)
    except AssertionError:
        raise AssertionError((returncode, out, err, records)) from None


def test_after_a_signal_the_app_may_leave_its_own_way(
    simulator: Simulator, routine: Path, script: Path, tmp_path: Path
) -> None:
    since = simulator.mark()
    process = run_script(simulator, routine, script, tmp_path, "app-exit")
    simulator.wait_for(since, motor_on, "the motor running")
    process.send_signal(signal.SIGTERM)
    returncode, out, err = finish(process)
    assert returncode == 7 and "app exit SIGTERM" in out, (out, err)
    records = simulator.wait_for(since, disconnected, "the disconnect")
    assert_log_stopped_before_disconnect(records)


@pytest.mark.usefixtures("no_leaks")
@pytest.mark.parametrize("ending", ["cancelled", "failed"])
async def test_a_set_up_that_does_not_finish_stops_the_motor_it_started(ending: str) -> None:
    # The worker drives a link as soon as it exists, while its set-up (notifications,
    # battery, init commands) still runs: a session already running starts the motor
    # then. Set-up cancelled (the app closing: Ctrl-C, asyncio.run cancelling its
    # tasks) or failing: the stop goes out before the link is dropped, not left to
    # the device, which here keeps running when its link goes. (Found once as a
    # SIGINT run of test_signals_stop_the_motor_where_the_app_set_no_handler.)
    rig = await make_rig(
        timeline(("massage", 30, on(40))), connect=False, massager={"on_link_loss": "run"}
    )
    controller = rig.controller
    set_up_done, release = asyncio.Event(), asyncio.Event()
    real = controller._set_up

    async def set_up_held(link: Any, profile: Any) -> None:
        await real(link, profile)
        set_up_done.set()
        await release.wait()  # still setting up when the motor starts
        raise OSError("the link dropped during the set-up")

    controller._set_up = set_up_held  # type: ignore[method-assign]
    try:
        await rig.run()
        await eventually(set_up_done.is_set, what="the set-up under way")
        controller._wake.set()  # any session event wakes the worker
        await rig.motor(True, what="the motor started during the set-up")
        if ending == "cancelled":
            await controller.close()  # cancels the connecting task, in its set-up
        else:
            release.set()
        await eventually(lambda: not rig.massager.connected, what="the link dropped")
        assert not rig.massager.running
        assert_stopped_before_disconnect(rig.massager.writes, rig.massager.disconnects)
    finally:
        release.set()
        await rig.close()

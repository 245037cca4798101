"""kill -9 of the real full-screen app mid-massage: its guardian stops the motor.

``tproutine run FILE`` (the Textual app) runs in tmux against a ``tproutine
sim`` process whose massager keeps running when its app goes away
(``--on-link-loss run``), as many real ones do. Once the massager runs, the
app is killed with SIGKILL: nothing of it runs any more, so only its guardian
process can stop the motor. What is checked is the simulator's own log: the
link lost while running, then a second client connecting and writing the
stop. ``tests/devices/test_guardian.py`` does the same with ``run --plain``;
this is the app a person actually uses.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from tests.devices.simproc import read, sim_process, wait_log
from tests.devices.test_guardian import LONG, STOP_SLACK_S, motor_on
from tests.e2e.test_tmux import WAIT_S, _open, pytestmark  # noqa: F401 (skips without tmux)


def stop_after(killed: float) -> Any:
    def ok(records: list[dict[str, Any]]) -> bool:
        return any(
            r["event"] == "write" and r.get("kind") == "stop" and r["mono"] > killed
            for r in records
        )

    return ok


def test_kill_9_of_the_full_screen_app_is_followed_by_the_stop(tmp_path: Path) -> None:
    routine = tmp_path / "long.yaml"
    routine.write_text(LONG, encoding="utf-8")
    with sim_process(tmp_path, "--on-link-loss", "run", "--auto-off", "0") as (port, log):
        term = _open(tmp_path, "run", str(routine), "--yes", "--adapter", f"tcp:127.0.0.1:{port}")
        try:
            term.wait_for("Calf")
            wait_log(log, motor_on, "the motor running", timeout=WAIT_S)
            # The pane's process is the app itself (the pane's command ends in exec).
            pane = term.tmux("display-message", "-p", "-t", "app", "#{pane_pid}").stdout
            app = int(pane.strip())
            cmdline = Path(f"/proc/{app}/cmdline").read_bytes().split(b"\0")
            assert b"tproutine" in b" ".join(cmdline) and b"run" in cmdline, cmdline
            killed = time.monotonic()
            os.kill(app, signal.SIGKILL)
            records = wait_log(log, stop_after(killed), "the guardian's stop", timeout=WAIT_S)
        finally:
            term.tmux("kill-server", check=False)
    # The app's link went with it, and the device ran on (as this kind does)...
    lost = next(r for r in records if r["event"] == "disconnect")
    assert lost["mono"] >= killed and lost["running"] is True, records
    # ... until the guardian connected through a radio of its own and stopped it.
    after = [r for r in records if r["mono"] > lost["mono"]]
    assert [r["event"] for r in after][:2] == ["connect", "write"], after
    the_stop = after[1]
    assert the_stop["kind"] == "stop" and the_stop["running"] is False and the_stop["level"] == 0
    # The simulator's process and this one share the monotonic clock. The
    # target (2 s) is measured by bench/bench_devices.py on a quiet machine; on
    # this shared one the test checks that the stop comes, well within the slack.
    assert the_stop["mono"] - killed < STOP_SLACK_S, (the_stop, killed)
    print(
        f"kill -9 -> link lost at the device: {(lost['mono'] - killed) * 1000:.0f} ms; "
        f"-> stop received: {(the_stop['mono'] - killed) * 1000:.0f} ms"
    )
    # Nothing drove the motor after the stop.
    assert not motor_on([r for r in read(log) if r["mono"] > the_stop["mono"]])

"""The session engine on the real clock: how late each boundary is, and the CPU it uses.

1. A routine of 40 segments of 0.25 s runs in real time; each segment start's
   lateness against its deadline (``t - due`` on the session clock, which is
   seconds at speed 1) is measured. Beside it, in the same run, the naive way:
   ``await asyncio.sleep(0.25)`` per segment, whose lateness accumulates.
   The same routine again with the history recorder on (an fsync'ed SQLite
   commit at every segment end), for information.
   Targets: median < 5 ms, max < 20 ms, and no drift (the last five boundaries
   as on time as the first five, within 2 ms).
2. ``tproutine run --plain`` on a bundled routine at speed 1: CPU time of the
   child over a few seconds once it has started (from /proc, so the start-up
   imports are not counted), beside a child that polls every 10 ms, the usual
   "check the time in a loop" way of running a timer.
   Target: under 1 % of a core (well under, in fact: it sleeps between deadlines).
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tproutine.engine.clock import RealClock
from tproutine.engine.events import Event
from tproutine.routine.timeline import Segment, Timeline
from tproutine.runtime import build_runtime

SEGMENTS = 40
SEGMENT_S = 0.25
CPU_WINDOW_S = 5.0
CPU_WARMUP_S = 1.5

ROOT = Path(__file__).resolve().parent.parent


def _timeline() -> Timeline:
    segments = tuple(
        Segment(
            index=i, kind="rest", title=f"Segment {i}", start_s=i * SEGMENT_S, duration_s=SEGMENT_S
        )
        for i in range(SEGMENTS)
    )
    return Timeline(name="Bench", segments=segments, total_s=SEGMENTS * SEGMENT_S)


async def _engine_lateness(history: Path | None) -> list[float]:
    """Lateness in ms of each boundary (segment 1..39 starts, and the end)."""
    timeline = _timeline()
    late: list[float] = []

    def listen(event: Event) -> None:
        if event.event == "segment_start" and event["index"] > 0:
            late.append((event.t - float(event["due"])) * 1000)
        elif event.event == "session_end":
            late.append((event.t - timeline.total_s) * 1000)

    rt = build_runtime(
        timeline,
        clock=RealClock(1.0),
        voice=False,
        history=history is not None,
        history_path=history,
        countdown=0,
    )
    rt.session.subscribe(listen)
    async with rt:
        await rt.run()
    rt.close()
    return late


async def _naive_lateness() -> list[float]:
    """The same boundaries with one asyncio.sleep per segment: each wake-up's delay adds up."""
    start = time.monotonic()
    late = []
    for i in range(1, SEGMENTS + 1):
        await asyncio.sleep(SEGMENT_S)
        late.append((time.monotonic() - (start + i * SEGMENT_S)) * 1000)
    return late


def _summary(name: str, late: list[float]) -> tuple[float, float, float]:
    median = statistics.median(late)
    drift = statistics.mean(late[-5:]) - statistics.mean(late[:5])
    print(
        f"  {name:<28} median {median:6.2f} ms   max {max(late):6.2f} ms   "
        f"first {late[0]:6.2f} ms   last {late[-1]:6.2f} ms   drift {drift:+6.2f} ms"
    )
    return median, max(late), drift


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process so far: nanoseconds on the CPU from schedstat when the
    kernel has it (utime/stime count in 10 ms ticks, too coarse for a sleeping process)."""
    schedstat = Path(f"/proc/{pid}/schedstat")
    if schedstat.exists():
        return int(schedstat.read_text().split()[0]) / 1e9
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _child_cpu(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Percent of one core over the window after warm-up, and CPU seconds of the whole run."""
    before = os.times()
    proc = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(CPU_WARMUP_S)
        t0, c0 = time.monotonic(), _cpu_seconds(proc.pid)
        time.sleep(CPU_WINDOW_S)
        t1, c1 = time.monotonic(), _cpu_seconds(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    after = os.times()
    whole = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return (c1 - c0) / (t1 - t0) * 100, whole


def main() -> bool:
    print(f"{SEGMENTS} segments of {SEGMENT_S} s in real time; lateness of each boundary:")
    engine = asyncio.run(_engine_lateness(None))
    naive = asyncio.run(_naive_lateness())
    with tempfile.TemporaryDirectory() as tmp:
        recorded = asyncio.run(_engine_lateness(Path(tmp) / "history.sqlite3"))
    e_median, e_max, e_drift = _summary("engine (absolute deadlines)", engine)
    _summary("naive sleep(0.25) per segment", naive)
    _summary("engine + history (fsync)", recorded)
    timing_ok = e_median < 5.0 and e_max < 20.0 and abs(e_drift) < 2.0

    routines = sorted((ROOT / "routines").glob("*.yaml"))
    cpu_ok = True
    if not routines or not Path("/proc/self/stat").exists():
        print("CPU: skipped (no bundled routine or no /proc)")
    else:
        routine = next((r for r in routines if r.stem == "low-back"), routines[0])
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, XDG_DATA_HOME=f"{tmp}/data", XDG_CONFIG_HOME=f"{tmp}/config")
            argv = [sys.executable, "-m", "tproutine", "run", str(routine), "--plain", "--yes",
                    "--adapter", "none"]  # fmt: skip
            real_pct, real_whole = _child_cpu(argv, env)
            # At speed 20 the window holds minutes of the routine: cues, counts, boundaries.
            busy_pct, _ = _child_cpu([*argv, "--speed", "20"], env)
            poll = "import time\nwhile True: time.sleep(0.01)"
            poll_pct, _ = _child_cpu([sys.executable, "-c", poll], env)
        print(
            f"CPU of one core over {CPU_WINDOW_S:g} s after start-up (run --plain {routine.name}):"
        )
        print(
            f"  at speed 1                   {real_pct:7.3f} %   (whole run incl. start-up "
            f"{real_whole:.2f} s of CPU)"
        )
        print(f"  at speed 20 (busy)           {busy_pct:7.3f} %")
        print(f"  a loop polling every 10 ms   {poll_pct:7.3f} %")
        cpu_ok = real_pct < 1.0 and busy_pct < 1.0
    return timing_ok and cpu_ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

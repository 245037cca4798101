"""Loading a big routine: load + validate + expand against `yaml.safe_load` of the same text.

The routine is written out step by step (no `repeat`), so that the loader has the
most text to read for its 10,000 segments: 3,333 holds of two repetitions with a
rest between them, each with a cue and a device setting, and the get-ready
countdown. Both sides of the ratio run in this process on the same text, so the
figure does not depend on how fast or busy the machine is.

It also times `tproutine validate FILE` and `tproutine show FILE` on a small routine
against `python -c pass`, each a fresh process with compiled bytecode (as an
installed program runs), interleaved, medians. Target (issue 13): each at most
100 ms over bare Python.

``main()`` returns True when the timeline has the expected 10,000 segments and
the start-up targets are met.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from tproutine.routine.expand import MAX_SEGMENTS, expand
from tproutine.routine.loader import parse_routine
from tproutine.yamlsafe import MAX_BYTES

STEPS = 3_333  # × (hold, rest, hold) + get_ready = 10,000 segments
RUNS = 3
STARTUP_RUNS = 11
STARTUP_TARGET_S = 0.100  # over `python -c pass`


def routine_text(steps: int = STEPS) -> str:
    parts = [
        "format: tproutine/1\n",
        "name: Benchmark\n",
        "summary: A generated routine of 10,000 segments\n",
        "get_ready: 5s\n",
        "defaults:\n  pressure: 5\n  tool: tennis ball\n",
        "steps:\n",
    ]
    sides = ("left", "right")
    for i in range(steps):
        parts.append(
            f"  - hold: Point {i}\n"
            f"    side: {sides[i % 2]}\n"
            f"    duration: 2s\n"
            f"    reps: 2\n"
            f"    rest: 1s\n"
            f"    device: {{intensity: {i % 100}%}}\n"
            f"    cues: [{{at: -1s, say: Ease off}}]\n"
        )
    return "".join(parts)


def _median(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _startups(commands: Sequence[list[str]], pyc: str) -> list[float]:
    """The median wall time of each command, run in turns so that load hits them alike."""
    env = {**os.environ, "PYTHONPYCACHEPREFIX": pyc}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed program has its bytecode

    def once(args: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, timeout=60, env=env)
        return time.perf_counter() - started

    for args in commands:
        once(args)  # compile, and warm the file cache
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(STARTUP_RUNS):
        for i, args in enumerate(commands):
            times[i].append(once(args))
    return [statistics.median(t) for t in times]


def main() -> bool:
    text = routine_text()
    raw = text.encode("utf-8")
    assert len(raw) <= MAX_BYTES, f"the generated file is {len(raw):,} bytes"

    timelines = []
    ours = _median(lambda: timelines.append(expand(parse_routine(raw, "bench.yaml"))), RUNS)
    segments = len(timelines[-1].segments)
    ok = segments == MAX_SEGMENTS
    baseline = _median(lambda: yaml.safe_load(text), RUNS)
    print(f"routine: {len(raw) / 1024:,.0f} KiB, {STEPS:,} steps, {segments:,} segments")
    print(f"load + validate + expand: {ours * 1000:8.1f} ms (median of {RUNS})")
    print(f"yaml.safe_load:           {baseline * 1000:8.1f} ms (median of {RUNS})")
    print(f"ratio:                    {ours / baseline:8.2f} × yaml.safe_load")
    c_loader = getattr(yaml, "CSafeLoader", None)
    if c_loader is not None:
        fast = _median(lambda: yaml.load(text, Loader=c_loader), 1)
        print(f"(yaml with the C loader:  {fast * 1000:8.1f} ms, one run, for reference)")

    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small.yaml"
        small.write_text(
            "format: tproutine/1\nname: Small\nsteps:\n  - hold: A\n    duration: 45s\n"
        )
        # The command a person types (the installed script), else the module.
        script = Path(sys.executable).with_name("tproutine")
        tproutine = [str(script)] if script.is_file() else [sys.executable, "-m", "tproutine"]
        python, validate, show = _startups(
            [
                [sys.executable, "-c", "pass"],
                [*tproutine, "validate", str(small)],
                [*tproutine, "show", str(small)],
            ],
            str(Path(tmp) / "pyc"),
        )
    print(f"start-up, median of {STARTUP_RUNS}, against python -c pass ({python * 1000:.1f} ms):")
    for name, took in (("validate", validate), ("show", show)):
        over = took - python
        verdict = "ok" if over <= STARTUP_TARGET_S else "MISSED"
        print(
            f"  tproutine {name:<9} {took * 1000:7.1f} ms = {over * 1000:6.1f} ms over "
            f"(target ≤ {STARTUP_TARGET_S * 1000:.0f} ms: {verdict})"
        )
        ok &= over <= STARTUP_TARGET_S
    if segments != MAX_SEGMENTS:
        print(f"expected {MAX_SEGMENTS:,} segments, got {segments:,}")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

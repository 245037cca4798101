"""Loading a big routine: load + validate + expand against `yaml.safe_load` of the same text.

The routine is written out step by step (no `repeat`), so that the loader has the
most text to read for its 10,000 segments: 3,333 holds of two repetitions with a
rest between them, each with a cue and a device setting, and the get-ready
countdown. Both sides of the ratio run in this process on the same text, so the
figure does not depend on how fast or busy the machine is.

It also times `tproutine validate FILE` and `tproutine show FILE` on a small routine
written out, and on a bundled routine built on catalogue steps (`- use: ID`, which
reads the catalogues that hold them), against `python -c pass`, each a fresh
process with compiled bytecode (as an installed program runs), interleaved,
medians. Target (issue 13): each at most 100 ms over bare Python.

And the timeline that ``run FILE`` reads before its first step, for the bundled
routine of catalogue steps: read and checked (imports included: what every run
paid before the cache of timelines), against the same from the cache, each timed
inside a fresh process that has imported what ``run`` has by then, interleaved,
medians. The cache's guard: at most half of the read (about a tenth is usual).

``main()`` returns True when the timeline has the expected 10,000 segments and
the start-up targets are met.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from tproutine import paths
from tproutine.routine.expand import MAX_SEGMENTS, expand
from tproutine.routine.loader import parse_routine
from tproutine.yamlsafe import MAX_BYTES

STEPS = 3_333  # × (hold, rest, hold) + get_ready = 10,000 segments
RUNS = 3
STARTUP_RUNS = 11
STARTUP_TARGET_S = 0.100  # over `python -c pass`
USES_CATALOGUE = "low-back.yaml"  # a bundled routine of `- use: ID` steps
CACHED_TARGET = 0.5  # a cached timeline, as a share of reading and checking the file

# What `run FILE` does to get its timeline, timed inside a fresh process that has
# imported what `run` has imported by then: read and checked, or from the cache.
_READ_TIMELINE = """
import sys, time
import tproutine.commands.run
started = time.perf_counter()
if sys.argv[1] == "read":
    from tproutine.routine.quick import load_timeline
else:
    from tproutine.routine.timeline_cache import load_timeline
load_timeline(sys.argv[2])
print(time.perf_counter() - started)
"""


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


def _startups(commands: Sequence[list[str]], pyc: str, config: str) -> list[float]:
    """The median wall time of each command, run in turns so that load hits them alike."""
    # An empty config folder: the person's own step catalogues are not part of the figure.
    env = {**os.environ, "PYTHONPYCACHEPREFIX": pyc, "XDG_CONFIG_HOME": config}
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
        used = paths.bundled_routines_dir() / USES_CATALOGUE
        python, *took = _startups(
            [
                [sys.executable, "-c", "pass"],
                [*tproutine, "validate", str(small)],
                [*tproutine, "show", str(small)],
                [*tproutine, "validate", str(used)],
                [*tproutine, "show", str(used)],
            ],
            str(Path(tmp) / "pyc"),
            str(Path(tmp) / "config"),
        )
    print(f"start-up, median of {STARTUP_RUNS}, against python -c pass ({python * 1000:.1f} ms):")
    names = [f"{cmd} {file}" for file in ("small", USES_CATALOGUE) for cmd in ("validate", "show")]
    for name, took_s in zip(names, took, strict=True):
        over = took_s - python
        verdict = "ok" if over <= STARTUP_TARGET_S else "MISSED"
        print(
            f"  tproutine {name:<26} {took_s * 1000:7.1f} ms = {over * 1000:6.1f} ms over "
            f"(target ≤ {STARTUP_TARGET_S * 1000:.0f} ms: {verdict})"
        )
        ok &= over <= STARTUP_TARGET_S
    ok &= _cached_timeline()
    if segments != MAX_SEGMENTS:
        print(f"expected {MAX_SEGMENTS:,} segments, got {segments:,}")
    return ok


def _cached_timeline() -> bool:
    """``run FILE``'s timeline read and checked, missed in the cache (read, checked and
    written), and from the cache: medians of in-process times in fresh processes."""
    used = str(paths.bundled_routines_dir() / USES_CATALOGUE)
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pyc"),
            "XDG_CONFIG_HOME": str(Path(tmp) / "config"),
            "XDG_CACHE_HOME": str(Path(tmp) / "cache"),
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        empty = str(Path(tmp) / "empty-cache")

        def once(mode: str) -> float:
            if mode == "miss":
                shutil.rmtree(empty, ignore_errors=True)
            args = [sys.executable, "-c", _READ_TIMELINE, mode, used]
            run_env = {**env, "XDG_CACHE_HOME": empty} if mode == "miss" else env
            done = subprocess.run(
                args, check=True, capture_output=True, text=True, timeout=60, env=run_env
            )
            return float(done.stdout.split()[-1])

        modes = ("read", "miss", "cached")
        for mode in modes:
            once(mode)  # compile, warm the file cache, and fill the timeline cache
        times: dict[str, list[float]] = {mode: [] for mode in modes}
        for _ in range(STARTUP_RUNS):
            for mode in modes:
                times[mode].append(once(mode))
    read, miss, cached = (statistics.median(times[mode]) for mode in modes)
    ratio = cached / read
    verdict = "ok" if ratio <= CACHED_TARGET else "MISSED"
    print(f"run FILE's timeline ({USES_CATALOGUE}), in-process, median of {STARTUP_RUNS}:")
    print(f"  read and checked (with its imports): {read * 1000:6.1f} ms")
    print(f"  not in the cache (read, kept):       {miss * 1000:6.1f} ms")
    print(
        f"  from the cache:                      {cached * 1000:6.1f} ms = {ratio:.2f}× "
        f"(target ≤ {CACHED_TARGET:.2f}×: {verdict})"
    )
    return ratio <= CACHED_TARGET


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

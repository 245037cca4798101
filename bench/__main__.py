"""Run every benchmark (`make bench`), or only those named: `python -m bench engine`.

Each ``bench/bench_*.py`` has a ``main() -> bool`` that prints its figures, each
beside a baseline measured in the same run (this machine is shared and noisy, so
absolute times vary), and returns whether the issue's targets were met.

Each module runs in a fresh interpreter: what one benchmark imports must not
weigh on the next (on Linux a child's peak memory starts at its parent's, so a
parent grown by an earlier benchmark would inflate every later measurement).
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import time

import bench


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:
        return 0 if importlib.import_module(f"bench.{argv[1]}").main() else 1
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    failed = []
    for name in names:
        print(f"== {name} ==", flush=True)
        started = time.perf_counter()
        ok = subprocess.run([sys.executable, "-m", "bench", "--one", name]).returncode == 0
        print(
            f"-- {name}: {'targets met' if ok else 'TARGETS MISSED'} "
            f"({time.perf_counter() - started:.1f}s)\n",
            flush=True,
        )
        if not ok:
            failed.append(name)
    if failed:
        print("targets missed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Step catalogues stay cheap: read once, lazily, and a routine of `use:` lines loads
about as fast as the same routine written out.

Measured in this process, each against a baseline from the same run:

- reading every bundled catalogue (cold: safe YAML, the step models) against
  `yaml.safe_load` of the same files;
- loading the ten rewritten bundled routines with the catalogues already read
  (what the Library does for every routine after the first) against the same
  routines with every `use:` written out in full;
- the first routine with `use:` lines in a process, which reads only the catalogues
  that hold its steps, against reading them all;
- `catalogue.stamp()` (what a cache checks) against one `os.stat` per file.

Target (issue 11: "keep the catalogue loading cheap"): routines of `use:` lines load
in at most 1.5x the time of the same routines written out, once the catalogues are
read. ``main()`` returns whether it was met.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from tproutine import paths
from tproutine.routine import catalogue
from tproutine.routine.expand import expand
from tproutine.routine.loader import parse_routine

RUNS = 5
TARGET = 1.5


def _median(fn: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _written_out(raw: bytes, name: str) -> str:
    """The routine with every `use:` replaced by its step: what an author would write."""
    loaded = parse_routine(raw, name)  # resolves the uses into the document
    data = loaded.document.data
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def main() -> bool:
    files = [p for p, _ in catalogue.catalogue_files()]
    texts = [p.read_text(encoding="utf-8") for p in files]

    def cold() -> None:
        catalogue._files.clear()
        catalogue._scans.clear()
        catalogue._index = None
        catalogue.index()

    read = _median(cold)
    base = _median(lambda: [yaml.safe_load(t) for t in texts])
    steps = len(catalogue.index().steps)
    print(f"catalogues: {len(files)} files, {steps} steps, {sum(map(len, texts)) / 1024:.0f} KiB")
    print(f"read all (cold):          {read * 1000:7.1f} ms (median of {RUNS})")
    print(f"yaml.safe_load of them:   {base * 1000:7.1f} ms")
    print(f"ratio:                    {read / base:7.2f} x yaml.safe_load")

    neck = Path(paths.bundled_routines_dir()) / "neck-shoulders.yaml"

    def first_routine() -> None:
        catalogue._files.clear()
        catalogue._scans.clear()
        catalogue._index = None
        parse_routine(neck.read_bytes(), neck.name)

    first = _median(first_routine)
    print(f"first routine with use:   {first * 1000:7.1f} ms (reads only the catalogues it needs)")
    print(f"ratio:                    {first / read:7.2f} x reading them all")

    routines = sorted(Path(paths.bundled_routines_dir()).glob("*.yaml"))
    using = [(p.read_bytes(), p.name) for p in routines if b"- use:" in p.read_bytes()]
    flat = [(_written_out(raw, name), name) for raw, name in using]
    catalogue.index()  # warm, as after the first routine

    with_use = _median(lambda: [expand(parse_routine(r, n)) for r, n in using])
    written = _median(lambda: [expand(parse_routine(t, n)) for t, n in flat])
    ratio = with_use / written
    print(f"{len(using)} routines with use:   {with_use * 1000:7.1f} ms (catalogues read)")
    print(f"the same, written out:    {written * 1000:7.1f} ms")
    print(f"ratio:                    {ratio:7.2f} x written out (target <= {TARGET})")

    stamp = _median(catalogue.stamp, 50)
    stats = _median(lambda: [os.stat(p) for p in files], 50)
    print(f"stamp():                  {stamp * 1e6:7.0f} us ({len(files)} files)")
    print(f"os.stat of each file:     {stats * 1e6:7.0f} us")
    return ratio <= TARGET


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

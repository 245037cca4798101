"""The app against a bare Textual app, both measured in the same run in real terminals.

Each side runs as its own process on a pseudo-terminal (100×30), as a person's
terminal would run it, and the figures are ratios to the bare app:

- start-up: from launching the process to the first painted Library screen (the
  screen's title on the terminal), beside a bare app's launch to its one Label;
  also the time until the routines are listed, which happens after the paint;
- peak memory (the process's maximum resident size) at the first paint, beside the
  bare app's over its whole run; also the app's peak once its routines are listed;
- CPU during 20 s of a running Player, beside the bare app running a 4 Hz
  countdown for the same 20 s.

Targets (issue 5): start-up at most 1.3×, memory at most 1.5×, CPU at most 1.5×.
It also checks that bleak and Bumble are not imported before the first paint.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import statistics
import struct
import sys
import tempfile
import termios
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

RUNS = 7  # the machine is shared: medians of several runs
CPU_SECONDS = 20.0
COLUMNS, ROWS = 100, 30
TIMEOUT_S = 30.0
TARGETS = {"start-up": 1.3, "memory": 1.5, "cpu": 1.5}

_ANSI = re.compile(rb"\x1b\[[0-9;?<>=$]*[ -/]*[@-~]|\x1b[PX^_].*?\x1b\\|\x1b\][^\x07]*\x07|\x1b.")

# Each child reports which of bleak and Bumble it had imported, when it exits.
_REPORT_MODULES = """
import atexit, json, sys
def _report():
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("bleak", "bumble"))
    with open(sys.argv[1], "w") as fh:
        json.dump(heavy, fh)
atexit.register(_report)
"""

BARE_LABEL = textwrap.dedent(
    """
    from textual.app import App
    from textual.widgets import Label

    class Bare(App):
        def compose(self):
            yield Label("bare app ready")

    Bare().run()
    """
)

BARE_COUNTDOWN = textwrap.dedent(
    """
    from textual.app import App
    from textual.widgets import Label

    class Countdown(App):
        left = 600 * 4

        def compose(self):
            yield Label("bare countdown 10:00", id="t")

        def on_mount(self):
            self.set_interval(0.25, self.tick)

        def tick(self):
            self.left -= 1
            s = self.left // 4
            self.query_one("#t").update(f"bare countdown {s // 60:02d}:{s % 60:02d}")

    Countdown().run()
    """
)

# `tproutine` as a person starts it: the command line's own entry point.
APP_LIBRARY = "from tproutine.cli import main\nsys.exit(main([]))\n"

APP_PLAYER = textwrap.dedent(
    """
    from tproutine.paths import bundled_routines_dir
    from tproutine.routine import load_timeline
    from tproutine.settings import Settings
    from tproutine.tui.app import AppOptions, make_app

    timeline = load_timeline(bundled_routines_dir() / "neck-shoulders.yaml")
    app = make_app(
        AppOptions(start=timeline, yes=True, bell=False, voice=False, save_theme=False),
        settings=Settings(pain_prompts=False),
    )
    app.run()
    """
)


@dataclass
class Run:
    first_s: float  # launch to the first marker on the terminal
    second_s: float | None  # launch to the second marker (the routines listed)
    first_kb: int  # peak resident memory when the first marker appeared
    max_rss_kb: int  # peak resident memory over the whole run
    cpu_s: float | None  # CPU used during the measured window
    heavy: list[str]  # bleak/bumble modules imported


def _set_size(fd: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))


def _peak_kb(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


# Set by main(): where both apps keep their compiled bytecode (see main()).
_ENV: dict[str, str] = {}


def _run(
    script: str,
    first: bytes,
    second: re.Pattern[bytes] | None = None,
    cpu_window: float | None = None,
) -> Run:
    """Start ``script`` on a pty; time the markers; optionally sample CPU; quit with ctrl+q."""
    with tempfile.TemporaryDirectory(prefix="tproutine-bench-") as tmp:
        report = Path(tmp) / "modules.json"
        child_env = {
            **os.environ,
            "TERM": "xterm-256color",
            "XDG_DATA_HOME": str(Path(tmp) / "data"),
            "XDG_CONFIG_HOME": str(Path(tmp) / "config"),
            **_ENV,
        }
        child_env.pop("PYTHONDONTWRITEBYTECODE", None)
        code = "import sys\n" + _REPORT_MODULES + script
        started = time.monotonic()
        pid, fd = pty.fork()
        if pid == 0:  # the child: becomes the program, on the pty
            try:
                _set_size(sys.stdout.fileno())
                os.execve(sys.executable, [sys.executable, "-c", code, str(report)], child_env)
            finally:
                os._exit(127)
        _set_size(fd)
        seen = b""
        first_s: float | None = None
        first_kb = 0
        second_s: float | None = None
        cpu_s: float | None = None
        window_start: float | None = None
        cpu_start = 0.0
        deadline = started + TIMEOUT_S + (cpu_window or 0.0)
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.05)
                if ready:
                    try:
                        chunk = os.read(fd, 65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    seen += chunk
                    plain = _ANSI.sub(b"", seen)
                    now = time.monotonic()
                    if first_s is None and first in plain:
                        first_s = now - started
                        first_kb = _peak_kb(pid)
                    if second is not None and second_s is None and second.search(plain):
                        second_s = now - started
                    seen = seen[-200_000:]
                done = first_s is not None and (second is None or second_s is not None)
                if done and cpu_window is None:
                    break
                if done and cpu_window is not None:
                    if window_start is None:
                        time.sleep(1.0)  # let start-up work finish before the window
                        window_start = time.monotonic()
                        cpu_start = _cpu_seconds(pid)
                    elif time.monotonic() - window_start >= cpu_window:
                        cpu_s = _cpu_seconds(pid) - cpu_start
                        break
            os.write(fd, b"\x11")  # ctrl+q: both apps quit on it
            rss = _wait(pid)
        finally:
            os.close(fd)
        if first_s is None:
            raise RuntimeError(f"{first!r} never appeared on the terminal")
        heavy = json.loads(report.read_text()) if report.exists() else ["(no report)"]
        return Run(first_s, second_s, first_kb, rss, cpu_s, heavy)


def _wait(pid: int) -> int:
    """Wait for the child (killing it if it does not quit); its peak memory in KiB."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, _status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return int(usage.ru_maxrss)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    _, _, usage = os.wait4(pid, 0)
    return int(usage.ru_maxrss)


def _ratio_line(name: str, ours: float, bare: float, unit: str, target: float | None) -> bool:
    ratio = ours / bare if bare > 0 else float("inf")
    ok = target is None or ratio <= target
    aim = f"target ≤ {target:g}×" if target is not None else "no target"
    verdict = "ok" if ok else "MISSED"
    print(f"  {name:<24} {ours:9.3f} {unit} vs bare {bare:9.3f} {unit}  = {ratio:5.2f}×  "
          f"({aim}: {verdict})")  # fmt: skip
    return ok


def main() -> bool:
    # Both apps run with compiled bytecode, as an installed program does. Where the
    # environment turns bytecode off (PYTHONDONTWRITEBYTECODE), it goes to a private
    # folder for this run instead of the source tree; the warm-up runs fill it.
    with tempfile.TemporaryDirectory(prefix="tproutine-bench-pyc-") as pyc:
        _ENV["PYTHONPYCACHEPREFIX"] = pyc
        try:
            return _measure()
        finally:
            _ENV.clear()


def _measure() -> bool:
    print(f"{RUNS} runs each, alternating, medians; pty {COLUMNS}×{ROWS}")
    app_runs: list[Run] = []
    bare_runs: list[Run] = []
    _run(BARE_LABEL, b"bare app ready")  # warm the file cache for both
    _run(APP_LIBRARY, "tproutine · Library".encode(), re.compile(rb"\d+ routines"))
    for _ in range(RUNS):
        bare_runs.append(_run(BARE_LABEL, b"bare app ready"))
        app_runs.append(
            _run(APP_LIBRARY, "tproutine · Library".encode(), re.compile(rb"\d+ routines"))
        )
    med = statistics.median
    ok = True
    bare_start = med(r.first_s for r in bare_runs)
    ok &= _ratio_line(
        "start-up (first paint)", med(r.first_s for r in app_runs), bare_start, "s ", 1.3
    )
    listed = [r.second_s for r in app_runs if r.second_s is not None]
    _ratio_line("routines listed", med(listed), bare_start, "s ", None)
    bare_kb = med(r.max_rss_kb for r in bare_runs) / 1024
    ok &= _ratio_line(
        "peak memory (first paint)",
        med(r.first_kb for r in app_runs) / 1024,
        bare_kb,
        "MB",
        TARGETS["memory"],
    )
    _ratio_line(
        "peak memory (whole run)", med(r.max_rss_kb for r in app_runs) / 1024, bare_kb, "MB", None
    )
    heavy = sorted({m for r in app_runs for m in r.heavy})
    print(f"  bleak/bumble imported by the first paint: {heavy or 'none'}")
    ok &= not heavy

    print(f"CPU over {CPU_SECONDS:g} s (after 1 s of settling)")
    _run(BARE_COUNTDOWN, b"bare countdown")  # compile both before measuring
    _run(APP_PLAYER, "▶ Running".encode())
    bare_cpu = _run(BARE_COUNTDOWN, b"bare countdown", cpu_window=CPU_SECONDS)
    player = _run(APP_PLAYER, "▶ Running".encode(), cpu_window=CPU_SECONDS)
    assert bare_cpu.cpu_s is not None and player.cpu_s is not None
    ok &= _ratio_line("cpu (player vs 4 Hz)", player.cpu_s, bare_cpu.cpu_s, "s ", TARGETS["cpu"])
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

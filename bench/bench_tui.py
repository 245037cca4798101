"""What a person waits for, against a bare Textual app measured in the same run.

Each side runs as its own process on a pseudo-terminal (100×30), as a person's
terminal would run it, and the figures are ratios to the bare app's first paint
(its one Label on the terminal):

- the routines listed: from launching ``tproutine`` to the Library showing every
  routine with its time and tags (the status line counts them all, and the first
  row's name, time and first tag are on the terminal), (a) with the bundled
  routines, (b) with 200 more in the person's library, (c) with 1,000 more. The
  person's routines are copies of the bundled ones under other names, as big as
  real ones. Each scenario keeps its folders (and so its cache) across its runs,
  as a person's computer does; the first, cold run of (c) is shown on its own;
- the first step in the Player after ``tproutine run FILE --yes``;
- the Library's first paint (its title), a secondary figure;
- peak memory (the process's maximum resident size) with 1,000 routines listed,
  beside the bare app's;
- CPU during 20 s of a running Player, beside the bare app running a 4 Hz
  countdown for the same 20 s.

Targets (issues 5 and 13): listed ≤ 1.3× with the bundled routines and ≤ 1.6×
with 1,000; the first step ≤ 1.5×; memory ≤ 1.5× with 1,000; CPU ≤ 1.5×. It also
checks that bleak and Bumble are not imported before the routines are listed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import statistics
import struct
import sys
import tempfile
import termios
import textwrap
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

RUNS = 7  # the machine is shared: medians of several runs
CPU_SECONDS = 20.0
COLUMNS, ROWS = 100, 30
TIMEOUT_S = 60.0
SETTLE_S = 0.3  # after the last marker, before the memory is read
EXTRA = (200, 1000)  # routines in the person's library, beside the bundled ones
TARGETS = {
    "listed": 1.3,
    "listed-1000": 1.6,
    "player": 1.5,
    "first-paint": 1.3,
    "memory": 1.5,
    "cpu": 1.5,
}

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


def _cli(*args: str) -> str:
    """`tproutine ARGS` as a person starts it: the command line's own entry point."""
    return f"from tproutine.cli import main\nsys.exit(main({list(args)!r}))\n"


# The routine `run FILE` opens: bundled, no device, so nothing but the Player is measured.
PLAYER_ROUTINE = "neck-shoulders.yaml"

APP_PLAYER = textwrap.dedent(
    f"""
    from tproutine.paths import bundled_routines_dir
    from tproutine.routine import load_timeline
    from tproutine.settings import Settings
    from tproutine.tui.app import AppOptions, make_app

    timeline = load_timeline(bundled_routines_dir() / {PLAYER_ROUTINE!r})
    app = make_app(
        AppOptions(start=timeline, yes=True, bell=False, voice=False, save_theme=False),
        settings=Settings(pain_prompts=False),
    )
    app.run()
    """
)

Marker = Sequence[re.Pattern[bytes]]  # all of them on the terminal


def _lit(text: str) -> re.Pattern[bytes]:
    return re.compile(re.escape(text.encode()))


@dataclass
class Run:
    at_s: dict[str, float]  # launch to each marker on the terminal
    at_kb: dict[str, int]  # peak resident memory when each marker appeared
    peak_kb: int  # peak resident memory once every marker appeared and the app settled
    cpu_s: float | None  # CPU used during the measured window
    heavy: list[str]  # bleak/bumble modules imported


@dataclass
class Home:
    """A person's folders (data, settings, cache), kept across a scenario's runs."""

    root: Path
    extra: int = 0
    count: int = 0  # routines the Library lists
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = {
            "XDG_DATA_HOME": str(self.root / "data"),
            "XDG_CONFIG_HOME": str(self.root / "config"),
            "XDG_CACHE_HOME": str(self.root / "cache"),
        }

    def clear_cache(self) -> None:
        shutil.rmtree(self.root / "cache", ignore_errors=True)


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
    markers: Mapping[str, Marker],
    home: Home,
    cpu_window: float | None = None,
) -> Run:
    """Start ``script`` on a pty; time the markers; optionally sample CPU; quit with ctrl+q."""
    with tempfile.TemporaryDirectory(prefix="tproutine-bench-") as tmp:
        report = Path(tmp) / "modules.json"
        child_env = {**os.environ, "TERM": "xterm-256color", **home.env, **_ENV}
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
        found: dict[re.Pattern[bytes], bool] = {p: False for m in markers.values() for p in m}
        at_s: dict[str, float] = {}
        at_kb: dict[str, int] = {}
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
                    now = time.monotonic()
                    seen = (seen + chunk)[-400_000:]
                    plain = _ANSI.sub(b"", seen)
                    for pattern, hit in found.items():
                        if not hit and pattern.search(plain):
                            found[pattern] = True
                    for name, marker in markers.items():
                        if name not in at_s and all(found[p] for p in marker):
                            at_s[name] = now - started
                            at_kb[name] = _peak_kb(pid)
                done = len(at_s) == len(markers)
                if done and cpu_window is None:
                    time.sleep(SETTLE_S)
                    break
                if done and cpu_window is not None:
                    if window_start is None:
                        time.sleep(1.0)  # let start-up work finish before the window
                        window_start = time.monotonic()
                        cpu_start = _cpu_seconds(pid)
                    elif time.monotonic() - window_start >= cpu_window:
                        cpu_s = _cpu_seconds(pid) - cpu_start
                        break
            peak_kb = _peak_kb(pid)
            os.write(fd, b"\x11")  # ctrl+q: both apps quit on it
            _wait(pid, fd)
        finally:
            os.close(fd)
        missing = [name for name in markers if name not in at_s]
        if missing:
            tail = _ANSI.sub(b"", seen)[-600:].decode("utf-8", "replace")
            raise RuntimeError(f"{missing} never appeared on the terminal; it showed:\n{tail}")
        heavy = json.loads(report.read_text()) if report.exists() else ["(no report)"]
        return Run(at_s, at_kb, peak_kb, cpu_s, heavy)


def _wait(pid: int, fd: int) -> None:
    """Wait for the child, killing it if it does not quit.

    What it still writes is read and dropped: a terminal nobody reads fills up, and
    an app blocked writing its last frame would never quit. Its memory is read
    from /proc before, not from wait4: on Linux a child's ``ru_maxrss`` starts at
    the peak of the parent it was forked from.
    """
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        ready, _, _ = select.select([fd], [], [], 0.02)
        if ready:
            with contextlib.suppress(OSError):
                os.read(fd, 65536)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _ratio_line(name: str, ours: float, bare: float, unit: str, target: float | None) -> bool:
    ratio = ours / bare if bare > 0 else float("inf")
    ok = target is None or ratio <= target
    aim = f"target ≤ {target:g}×" if target is not None else "no target"
    verdict = "ok" if ok else "MISSED"
    print(f"  {name:<36} {ours:8.3f} {unit} vs bare {bare:8.3f} {unit} = {ratio:5.2f}×  "
          f"({aim}: {verdict})")  # fmt: skip
    return ok


# --------------------------------------------------------------------------- the library


def _person_routines(home: Home, extra: int) -> None:
    """``extra`` routine files in the person's library: the bundled ones, renamed."""
    from tproutine.paths import bundled_routines_dir

    sources = sorted(bundled_routines_dir().glob("*.yaml"))
    folder = home.root / "data" / "tproutine" / "routines"
    folder.mkdir(parents=True, exist_ok=True)
    name_line = re.compile(r"^name: (.*)$", re.M)
    for i in range(extra):
        text = sources[i % len(sources)].read_text(encoding="utf-8")
        name = name_line.search(text)
        assert name is not None
        renamed = text.replace(name[0], f"name: Practice {i:04d}, {name[1]}", 1)
        (folder / f"practice-{i:04d}.yaml").write_text(renamed, encoding="utf-8")


def _listed_marker(home: Home) -> Marker:
    """Every routine listed: the count, and the first row's name, time and first tag."""
    from tproutine.paths import bundled_routines_dir
    from tproutine.routine.durations import format_clock as clock_text
    from tproutine.tui.catalog import scan_library

    yours = home.root / "data" / "tproutine" / "routines"
    folders = ((bundled_routines_dir(), "bundled"), (yours, "yours"))
    first = scan_library(folders)[0]
    return (
        re.compile(rb"\b%d routines\b" % home.count),
        _lit(first.name[:12]),
        _lit(clock_text(first.total_s)),
        _lit(first.tags[0][:4]),
    )


def main() -> bool:
    # Both apps run with compiled bytecode, as an installed program does. Where the
    # environment turns bytecode off (PYTHONDONTWRITEBYTECODE), it goes to a private
    # folder for this run instead of the source tree; the warm-up runs fill it.
    with (
        tempfile.TemporaryDirectory(prefix="tproutine-bench-pyc-") as pyc,
        tempfile.TemporaryDirectory(prefix="tproutine-bench-home-") as homes,
    ):
        _ENV["PYTHONPYCACHEPREFIX"] = pyc
        try:
            return _measure(Path(homes))
        finally:
            _ENV.clear()


def _measure(homes: Path) -> bool:
    from tproutine.paths import bundled_routines_dir
    from tproutine.tui.catalog import routine_files

    bundled = len(routine_files(bundled_routines_dir()))
    bare_home = Home(homes / "bare")
    libraries = []
    for extra in (0, *EXTRA):
        home = Home(homes / f"extra-{extra}", extra=extra, count=bundled + extra)
        _person_routines(home, extra)
        libraries.append(home)
    title = {"paint": (_lit("tproutine · Library"),)}
    bare_marker = {"paint": (_lit("bare app ready"),)}
    player_file = str(bundled_routines_dir() / PLAYER_ROUTINE)
    player_script = _cli("run", player_file, "--yes")
    player_marker = {"step": (_lit("▶ Running"), re.compile(rb"(?i)get ready\b"))}

    listed = {home.extra: _listed_marker(home) for home in libraries}

    def library(home: Home) -> Run:
        return _run(_cli(), {**title, "listed": listed[home.extra]}, home)

    print(f"{RUNS} runs each, interleaved, medians; pty {COLUMNS}×{ROWS}")
    _run(BARE_LABEL, bare_marker, bare_home)  # compile and warm the file cache for both
    library(libraries[0])
    cold = library(libraries[-1])  # the first start with 1,000 routines: nothing cached
    # Also keeps the routine's checked timeline: every run measured starts like the run
    # of a routine the person ran before (routine/timeline_cache.py).
    _run(player_script, player_marker, libraries[0])
    bare_runs: list[Run] = []
    app_runs: dict[int, list[Run]] = {home.extra: [] for home in libraries}
    player_runs: list[Run] = []
    for _ in range(RUNS):
        bare_runs.append(_run(BARE_LABEL, bare_marker, bare_home))
        for home in libraries:
            app_runs[home.extra].append(library(home))
        player_runs.append(_run(player_script, player_marker, libraries[0]))

    med = statistics.median
    ok = True
    bare = med(r.at_s["paint"] for r in bare_runs)
    print(f"Time to use, against the bare app's first paint ({bare:.3f} s):")
    for home in libraries:
        runs = app_runs[home.extra]
        yours = f" ({home.extra:,} yours)" if home.extra else ""
        what = f"listed, {home.count:,} routines{yours}"
        target = {0: TARGETS["listed"], 1000: TARGETS["listed-1000"]}.get(home.extra)
        ok &= _ratio_line(what, med(r.at_s["listed"] for r in runs), bare, "s ", target)
    _ratio_line(
        f"listed, {libraries[-1].count:,}, first start", cold.at_s["listed"], bare, "s ", None
    )
    ok &= _ratio_line(
        "first step after `run FILE`",
        med(r.at_s["step"] for r in player_runs),
        bare,
        "s ",
        TARGETS["player"],
    )
    ok &= _ratio_line(
        "Library first paint",
        med(r.at_s["paint"] for r in app_runs[0]),
        bare,
        "s ",
        TARGETS["first-paint"],
    )
    bare_kb = med(r.peak_kb for r in bare_runs) / 1024
    print(f"Peak memory, {SETTLE_S:g} s after the last marker, against the bare app's:")
    _ratio_line(
        "Library at the first paint",
        med(r.at_kb["paint"] for r in app_runs[0]) / 1024,
        bare_kb,
        "MB",
        None,
    )
    for home in libraries:
        ok &= _ratio_line(
            f"listed, {home.count:,} routines",
            med(r.peak_kb for r in app_runs[home.extra]) / 1024,
            bare_kb,
            "MB",
            TARGETS["memory"] if home.extra >= 1000 else None,
        )
    heavy = sorted({m for runs in app_runs.values() for r in runs for m in r.heavy})
    print(f"  bleak/bumble imported by the Library: {heavy or 'none'}")
    ok &= not heavy

    print(f"CPU over {CPU_SECONDS:g} s (after 1 s of settling)")
    running = {"running": (_lit("▶ Running"),)}
    _run(BARE_COUNTDOWN, {"paint": (_lit("bare countdown"),)}, bare_home)  # compile both
    _run(APP_PLAYER, running, libraries[0])
    bare_cpu = _run(
        BARE_COUNTDOWN, {"paint": (_lit("bare countdown"),)}, bare_home, cpu_window=CPU_SECONDS
    )
    player = _run(APP_PLAYER, running, libraries[0], cpu_window=CPU_SECONDS)
    assert bare_cpu.cpu_s is not None and player.cpu_s is not None
    ok &= _ratio_line("cpu (player vs 4 Hz)", player.cpu_s, bare_cpu.cpu_s, "s ", TARGETS["cpu"])
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

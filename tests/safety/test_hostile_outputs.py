"""No control character from anyone else reaches a terminal raw, whatever the command.

The hostile inputs: routine files whose text holds terminal control sequences (an
OSC 52 clipboard write, an OSC 8 hyperlink, a screen clear, a C1 CSI, a bell, a
direction override), written raw or as YAML escapes; file names that hold them;
a device profile and a ``config.toml`` that hold them; and a virtual massager
(``tproutine sim --name --firmware``) that advertises a hostile name and reports
a hostile firmware string over a real (Bumble) GATT link. Every command is run as
a person would run it, in a subprocess, and everything it prints on stdout and
stderr is scanned. The app is checked in a real terminal by ``test_tui_hostile``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.safety.texts import toy_profile

# What must never be printed raw: C0 controls but tab and line feed, DEL, C1, and the
# bidi embeddings, overrides and isolates (written out here, independent of the app).
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

OSC52 = "\x1b]52;c;aGVsbG8=\x07"
OSC8 = "\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\"
HOSTILE = f"{OSC52}{OSC8}\x1b[2J\x9b2J\x07\u202eevil"
# The reference profile knows names that start "tproutine" (the service is then checked
# on connecting): the rest sets the window title on a terminal that obeys.
DEVICE_NAME = "tproutine\x1b]2;X\x07"
LONG_DEVICE_NAME = f"Toy{OSC52}\u202e"
FIRMWARE = f"1.0{OSC52}\x1b[2J"
FILE_NAME = f"neck{OSC52}\u202e.yaml"

GOOD = """\
format: tproutine/1
name: Neck reset
plan: {per_week: 3, reminder: "08:00"}
get_ready: 1s
steps:
  - massage: Upper trapezius
    duration: 3s
    device: {intensity: 30%}
  - hold: Levator scapulae
    duration: 2s
"""

# The same text three ways: raw in the file, as YAML escapes, and in a block scalar.
ESCAPED = HOSTILE.encode("unicode_escape").decode().replace("\\x1b", "\\e")
BAD_ESCAPED = f"""\
format: tproutine/1
name: "{ESCAPED}"
steps:
  - hold: "A \\x9b31m"
    duration: 30s
    cues:
      - at: 0s
        say: "\\u202egnp.exe"
"""
BAD_RAW = f"format: tproutine/1\nname: Neck {HOSTILE}\nsteps:\n  - hold: A\n    duration: 30s\n"
BAD_PROFILE = toy_profile("hostile", f"Toy {ESCAPED}")
BAD_SETTINGS = (
    'max_intensity = "[/x]"\n'
    'theme = "dark\\u001b]52;c;aGk=\\u0007"\n'
    '"key\\u001b[2J" = 1\n'
    'preferred_device = "TP\\u009b2J"\n'
)


@dataclass
class World:
    root: Path
    env: dict[str, str]
    port: int
    good: Path
    outputs: list[tuple[str, str]]

    def run(self, *args: str, ok: bool | None = None, stdin: str | None = None) -> str:
        """Run ``tproutine ARGS``; scan what it printed; return its stdout."""
        result = subprocess.run(
            [sys.executable, "-m", "tproutine", *args],
            cwd=self.root,
            env=self.env,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        shown = " ".join(repr(a) if not a.isprintable() else a for a in args)
        for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
            found = RAW.search(text)
            assert found is None, f"`tproutine {shown}` printed {found.group()!r} on {name}:{text}"
            assert "Traceback" not in text, (shown, text)
        if ok is not None:
            assert (result.returncode == 0) == ok, (shown, result.returncode, result.stderr)
        self.outputs.append((shown, result.stdout + result.stderr))
        return result.stdout


def _sim(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tproutine", "sim", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert RAW.search(line) is None, line
    assert "listening on 127.0.0.1:" in line, (line, process.stderr and process.stderr.read())
    return process, int(line.rsplit(":", 1)[1])


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("hostile")
    env = dict(os.environ)
    env.update(
        XDG_DATA_HOME=str(root / "data"),
        XDG_CONFIG_HOME=str(root / "config"),
        PYTHONUNBUFFERED="1",
        TZ="UTC",
    )
    env.pop("TPROUTINE_ADAPTER", None)
    sim, port = _sim(env, "--name", DEVICE_NAME, "--firmware", FIRMWARE)
    good = root / FILE_NAME
    good.write_text(GOOD, encoding="utf-8")
    (root / "bad-escaped.yaml").write_text(BAD_ESCAPED, encoding="utf-8")
    (root / f"bad{OSC52}.yaml").write_text(BAD_RAW, encoding="utf-8")
    try:
        yield World(root, env, port, good, [])
    finally:
        _stop(sim)


def test_routine_commands(world: World) -> None:
    name = FILE_NAME
    bad_raw = f"bad{OSC52}.yaml"
    assert world.run("validate", name, ok=True).strip().startswith("neck␛]52;c;aGVsbG8=␇")
    world.run("validate", "bad-escaped.yaml", bad_raw, ok=False)
    world.run("show", name, ok=True)
    world.run("show", name, "--json", ok=True)
    world.run("show", "bad-escaped.yaml", ok=False)
    world.run("show", bad_raw, ok=False)
    world.run("export", name, "--format", "md", ok=True)
    world.run("export", name, "--format", "html", ok=True)
    world.run("export", "bad-escaped.yaml", "--format", "md", ok=False)
    world.run("export", "missing" + OSC52 + ".yaml", "--format", "md", ok=False)
    world.run("run", "bad-escaped.yaml", "--plain", ok=False)
    world.run("new", f"Neck {HOSTILE}", "-o", f"new{OSC52}.yaml", ok=True)
    world.run("calendar", name, ok=True)


def test_add_keeps_a_safe_file_name_in_the_library(world: World) -> None:
    out = world.run("add", FILE_NAME, ok=True)
    assert "added 'Neck reset'" in out
    kept = [p.name for p in (world.root / "data" / "tproutine" / "routines").iterdir()]
    assert kept == ["neck_]52;c;aGVsbG8=__.yaml"]
    world.run("add", "bad-escaped.yaml", ok=False)
    world.run("due", ok=True)
    world.run("due", "--json", ok=True)


def _names(events: Path) -> list[str]:
    """The device names in an ``--events`` file so far (its last line may be half written)."""
    names = []
    for line in events.read_text(encoding="utf-8").splitlines() if events.exists() else []:
        try:
            names.append(json.loads(line).get("name"))
        except json.JSONDecodeError:
            break
    return names


def test_a_session_with_a_hostile_device_and_every_history_view(world: World) -> None:
    adapter = f"tcp:127.0.0.1:{world.port}"
    events = world.root / "events.jsonl"
    # Long enough for the device to connect while it runs, however busy the machine;
    # ended with Ctrl-C once it has.
    process = subprocess.Popen(
        [sys.executable, "-m", "tproutine", "run", FILE_NAME, "--plain", "--yes",
         "--adapter", adapter, "--events", str(events)],
        cwd=world.root, env=world.env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while DEVICE_NAME not in _names(events):
        assert process.poll() is None and time.monotonic() < deadline, "no device connected"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    for text in (out, err):
        assert RAW.search(text) is None, text
    assert "Device connected · tproutine␛]2;X␇" in out, out
    # The log keeps the name exactly (JSON escapes it), with no raw byte in the file.
    text = events.read_text(encoding="utf-8")
    assert RAW.search(text) is None
    assert DEVICE_NAME in _names(events)
    world.run(
        "run", FILE_NAME, "--plain", "--yes", "--speed", "10", "--adapter", adapter,
        "--events", "-", ok=True,
    )  # fmt: skip
    world.run("history", ok=True)
    history = json.loads(world.run("history", "--json", ok=True))
    assert [h["file"] for h in history] == [FILE_NAME, FILE_NAME]  # kept exactly; JSON escapes it
    for fmt in ("csv", "json", "md", "html"):
        report = world.run("history", "export", "--format", fmt, "--include-previews", ok=True)
        if fmt == "csv":
            assert "tproutine␛]2;X␇" in report  # the device column, shown safely


def test_devices_commands(world: World, tmp_path: Path) -> None:
    adapter = f"tcp:127.0.0.1:{world.port}"
    scan = world.run("devices", "scan", "--adapter", adapter, "--timeout", "2", ok=True)
    assert "tproutine␛]2;X␇" in scan
    info = world.run("devices", "info", "--adapter", adapter, "--seconds", "0.5", ok=True)
    assert "firmware  1.0␛]52;c;aGVsbG8=␇␛[2J" in info
    sim, port = _sim(world.env, "--name", LONG_DEVICE_NAME)
    try:
        scan = world.run(
            "devices", "scan", "--adapter", f"tcp:127.0.0.1:{port}", "--timeout", "2", ok=True
        )
        assert "Toy␛]52;c;aGVsbG8=␇⟨U+202E⟩" in scan
    finally:
        _stop(sim)
    devices = world.root / "config" / "tproutine" / "devices"
    devices.mkdir(parents=True, exist_ok=True)
    (devices / f"hostile{OSC52}.yaml").write_text(BAD_PROFILE, encoding="utf-8")
    try:
        world.run("devices", "profiles", ok=False)
    finally:
        (devices / f"hostile{OSC52}.yaml").unlink()


def test_a_hostile_settings_file_is_said_safely(world: World) -> None:
    config = world.root / "config" / "tproutine" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(BAD_SETTINGS, encoding="utf-8")
    try:
        world.run("run", FILE_NAME, "--plain", "--yes", "--speed", "50", "--adapter", "none")
        world.run("devices", "scan", "--adapter", "none", "--timeout", "1")
    finally:
        config.unlink()

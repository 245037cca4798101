"""``tproutine devices ...``, ``tproutine sim``, and start-up without a device.

Every command runs as its own process, as a person would run it; the user
folders point into a temporary directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tproutine.devices.profile import load_profiles

TIMEOUT = 60.0  # generous: the machine may be busy

ROUTINE = """\
format: tproutine/1
name: Quick gun
summary: A short massage that uses the device.
steps:
  - massage: Calf with the gun
    duration: 2s
    device: {intensity: 40%}
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    out = dict(os.environ)
    out["XDG_DATA_HOME"] = str(tmp_path / "data")
    out["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    return out


def tproutine(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tproutine", *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
    )


def test_profiles_lists_every_profile(env: dict[str, str]) -> None:
    done = tproutine("devices", "profiles", env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["id", "name", "kind", "status", "levels", "source"]
    ids = [line.split()[0] for line in lines[1:]]
    assert ids == sorted(load_profiles())
    virtual = next(line for line in lines if line.startswith("tproutine-virtual "))
    assert "reference" in virtual and "0-20" in virtual and "percussion" in virtual
    lovense = next(line for line in lines if line.startswith("lovense "))
    assert "community" in lovense and "Buttplug device configuration lovense.yml" in lovense


def test_a_profile_of_ones_own_is_shown_as_yours_never_verified(
    env: dict[str, str], tmp_path: Path
) -> None:
    from tproutine import paths

    folder = tmp_path / "config" / "tproutine" / "devices"
    folder.mkdir(parents=True)
    own = (paths.bundled_devices_dir() / "wevibe.yaml").read_text(encoding="utf-8")
    own = own.replace("status: community", "status: verified\nreplaces: wevibe")
    (folder / "my-wevibe.yaml").write_text(own, encoding="utf-8")
    done = tproutine("devices", "profiles", env=env)
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("wevibe "))
    assert row.split()[3] == "yours" and "verified" not in done.stdout
    assert done.stdout.splitlines()[-1] == (
        "yours: a profile of your own, not checked by tproutine (replacing the bundled wevibe)"
    )


def test_a_broken_profile_of_ones_own_is_shown_not_hidden(
    env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "config" / "tproutine" / "devices"
    folder.mkdir(parents=True)
    (folder / "mine.yaml").write_text("format: tproutine-device/1\nid: Mine\n")
    done = tproutine("devices", "profiles", env=env)
    assert done.returncode == 1
    assert "tproutine-virtual" in done.stdout  # the others still load
    assert "mine.yaml:2" in done.stderr and "Traceback" not in done.stderr


def test_scan_without_bluetooth_says_so_in_one_line(env: dict[str, str]) -> None:
    done = tproutine("devices", "scan", "--timeout", "0.5", env=env)
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "Bluetooth" in done.stderr
    # And what to do about it: the virtual massager needs no Bluetooth.
    assert done.stderr.rstrip().endswith(
        "; to try tproutine without Bluetooth, add --adapter sim (the virtual massager)"
    )


def test_scan_and_info_on_the_in_process_simulator(env: dict[str, str]) -> None:
    done = tproutine("devices", "scan", "--adapter", "sim", "--timeout", "2", env=env)
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.splitlines()
    assert header.split() == ["name", "address", "profile", "signal", "why"]
    assert row.split()[0] == "tproutine-massager" and row.split()[2] == "tproutine-virtual"
    # Its 128-bit service does not fit a legacy advert beside its name.
    assert row.endswith("dBm  name tproutine* (service not advertised; checked on connecting)")

    done = tproutine("devices", "info", "--adapter", "sim", "--seconds", "0.3", env=env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "name      tproutine-massager" in out
    assert "battery   100%" in out and "firmware  1.0.0-sim" in out
    assert "live state for 0.3 s:" in out and "off  level 0/20" in out


def test_nothing_to_connect_to_is_one_line(env: dict[str, str]) -> None:
    done = tproutine("devices", "scan", "--adapter", "tcp:127.0.0.1:1", env=env)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "no virtual massager at 127.0.0.1:1" in done.stderr
    done = tproutine("devices", "info", "--adapter", "bogus", env=env)
    assert done.returncode == 2 and "unknown adapter 'bogus'" in done.stderr


def test_sim_announces_itself_and_ends_cleanly(env: dict[str, str], tmp_path: Path) -> None:
    for sig, code in ((signal.SIGTERM, 0), (signal.SIGINT, 130)):
        process = subprocess.Popen(
            [sys.executable, "-m", "tproutine", "sim", "--port", "0", "--profile", "lovense",
             "--log", str(tmp_path / "log.jsonl")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith('tproutine sim: virtual massager "LVS-SIM" (lovense) listening on ')
        port = int(line.rsplit(":", 1)[1])
        # It is serving: a client finds the device over TCP.
        done = tproutine(
            "devices", "scan", "--adapter", f"tcp:127.0.0.1:{port}", "--timeout", "2", env=env
        )
        assert "LVS-SIM" in done.stdout and "lovense" in done.stdout, done.stderr
        process.send_signal(sig)
        out, err = process.communicate(timeout=TIMEOUT)
        assert process.returncode == code, err
        assert out == "" and err == ""


def test_sim_refuses_bad_options_in_one_line(env: dict[str, str]) -> None:
    done = tproutine("sim", "--profile", "nope", env=env)
    assert done.returncode == 1 and "unknown profile 'nope'" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    done = tproutine("sim", "--auto-off", "-1", env=env)
    # Wrong usage: exit 2, the command's usage, then one line that says what is wrong.
    assert done.returncode == 2 and done.stderr.startswith("usage: tproutine sim")
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("tproutine sim: error: argument --auto-off")
    assert done.stderr.endswith(errors[0] + "\n")


def test_sim_port_in_use(env: dict[str, str]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        done = tproutine("sim", "--port", str(port), env=env)
    assert done.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in done.stderr


CHECK_IMPORTS = """\
import sys
from tproutine.cli import main
code = main(sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"bleak", "bumble", "textual"})
print("HEAVY", heavy, "CODE", code)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "{routine}"],
        ["run", "{routine}", "--plain", "--yes", "--adapter", "none", "--speed", "50"],
        ["run", "{routine}", "--plain", "--yes", "--device", "none", "--speed", "50"],
        ["devices", "profiles"],
    ],
)
def test_start_up_without_a_device_imports_neither_bleak_nor_bumble(
    env: dict[str, str], tmp_path: Path, args: list[str]
) -> None:
    routine = tmp_path / "gun.yaml"
    routine.write_text(ROUTINE)
    argv = [a.format(routine=routine) for a in args]
    done = subprocess.run(
        [sys.executable, "-c", CHECK_IMPORTS, *argv],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=TIMEOUT,
    )  # fmt: skip
    assert "HEAVY [] CODE 0" in done.stdout, (done.stdout, done.stderr)


# A minute of device work at real speed: long enough for any busy machine to connect
# while it runs. The tests stop it with Ctrl-C once they have seen what they need.
LONG_ROUTINE = """\
format: tproutine/1
name: Long gun
get_ready: 0s
steps:
  - massage: Calf with the gun
    duration: 60s
    device: {intensity: 40%}
"""


class Running:
    """``tproutine run ...`` in the background, its output read as it comes."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tproutine", "run", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env,
        )  # fmt: skip
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, into in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=lambda s=stream, i=into: i.extend(s), daemon=True).start()

    def wait_for(self, text: str, lines: list[str]) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not any(text in line for line in lines):
            assert time.monotonic() < deadline, f"never said {text!r}: {self.out} {self.err}"
            assert self.process.poll() is None, f"ended first: {self.out} {self.err}"
            time.sleep(0.02)

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(TIMEOUT)
        time.sleep(0.1)  # the readers take the last lines
        return code


def test_run_with_the_in_process_simulator_drives_the_device(
    env: dict[str, str], tmp_path: Path
) -> None:
    routine = tmp_path / "gun.yaml"
    routine.write_text(LONG_ROUTINE)
    run = Running(env, str(routine), "--plain", "--yes", "--adapter", "sim")
    run.wait_for("Device connected · tproutine-massager", run.out)
    run.wait_for("40% · level 8", run.out)
    assert run.interrupt() == 130, run.err
    assert any("Device stopped" in line for line in run.out), run.out


def test_run_with_an_absent_simulator_runs_as_a_timer(env: dict[str, str], tmp_path: Path) -> None:
    routine = tmp_path / "gun.yaml"
    routine.write_text(LONG_ROUTINE)
    run = Running(env, str(routine), "--plain", "--yes", "--adapter", "tcp:127.0.0.1:1")
    run.wait_for("running as a timer only", run.err)
    run.wait_for("Massage · Calf with the gun", run.out)  # the routine goes on
    assert run.interrupt() == 130, run.err
    assert len(run.err) == 1, run.err


def test_run_without_bluetooth_on_the_machine_runs_as_a_timer(
    env: dict[str, str], tmp_path: Path
) -> None:
    routine = tmp_path / "gun.yaml"
    routine.write_text(ROUTINE)
    done = tproutine(
        "run", str(routine), "--plain", "--yes", "--adapter", "system", "--speed", "8", env=env
    )
    assert done.returncode == 0, done.stderr
    assert "Routine complete" in done.stdout
    assert done.stderr.splitlines() == [
        "tproutine: device: no Bluetooth adapter found on this machine (the Bluetooth service "
        "is not running); running as a timer only"
    ]


@pytest.mark.parametrize(
    ("sim_args", "expected"),
    [
        # We-Vibe as it really is: f000b000 is a read-only information record.
        (["--profile", "wevibe", "--char", "f000b000=read"], ["name      Cougar", "off"]),
        # A Lovense on its fourth GATT layout (the Edge's), indicating like a Max:
        # the battery answer arrives as an indication.
        (
            ["--profile", "lovense", "--layout", "4", "--char", "00000013=indicate"],
            ["name      LVS-SIM", "battery 100%"],
        ),
    ],
    ids=["wevibe-read-only-info", "lovense-fourth-layout"],
)
def test_sim_emulates_devices_as_they_really_are(
    env: dict[str, str], sim_args: list[str], expected: list[str]
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tproutine", "sim", "--port", "0", *sim_args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        line = process.stdout.readline()
        assert "listening on" in line, process.stderr.read() if process.stderr else line
        port = int(line.rsplit(":", 1)[1])
        done = tproutine(
            "devices", "info", "--adapter", f"tcp:127.0.0.1:{port}", "--seconds", "2", env=env
        )
        assert done.returncode == 0, done.stderr
        # The live state shows the battery once its answer (an indication) is in.
        assert all(e in done.stdout for e in expected), done.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=TIMEOUT)


def test_sim_refuses_a_layout_or_characteristic_it_cannot_present(env: dict[str, str]) -> None:
    done = tproutine("sim", "--profile", "lovense", "--layout", "5", env=env)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1
    assert "--layout 5: the profile lovense has 4 GATT layout(s), 1 to 4" in done.stderr
    done = tproutine("sim", "--profile", "wevibe", "--char", "f000b000=readable", env=env)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1
    assert "--char 'f000b000=readable': expected UUID=PROPS" in done.stderr

#!/usr/bin/env python3
"""Boot the BlueZ test VM and run the tests in ``tests/bluez`` inside it.

    tools/bluez-vm/run.py [--accel auto|kvm|tcg] [--out DIR] [-- PYTEST ARGS]

Builds (or reuses) the image with ``build.sh``, boots it with
``qemu-system-x86_64`` and the checkout shared read-only over 9p, and waits for
the guest to run ``pytest tests/bluez`` and power off. The guest writes its
results into ``--out`` (default ``build/bluez-vm``): ``junit.xml``, ``job.log``
(pytest's output), ``console.log`` (the whole serial console),
``bluetoothd.log`` and ``rc`` (with ``--debug`` also ``btmon.snoop``, read
with ``tools/bluez-vm/snoop.py``). Prints the accelerator that ran, the boot
time and each test's time.

Exit status: pytest's inside the VM (0 only when every test passed); 3 when
the image cannot be built here (no root, no debootstrap, no network), with one
line saying why; 4 when qemu is missing; 5 when KVM does not boot the VM and
``--no-tcg`` forbids software emulation; 1 when the VM did not finish.

Standard library only: it runs before any venv exists.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CANNOT_BUILD = 3
NO_QEMU = 4
NO_KVM = 5

# Markers the guest's init prints on the console (tools/bluez-vm/init).
INIT_STARTED = "bluez-vm: init started"
BLUEZ_READY = "bluez-vm: bluetoothd"
# KVM gets this long to reach the guest's init; some nested set-ups hang in the
# firmware, and then software emulation (TCG) takes over.
KVM_PROBE_S = 20.0
KERNEL_LINE = re.compile(r"^\[\s*\d+\.\d+\]")


_output = threading.Lock()


def say_line(line: str) -> None:
    # The console reader and the main thread both print: whole lines only.
    with _output:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def say(text: str) -> None:
    say_line(f"bluez-vm: {text}")


def build_image() -> Path:
    result = subprocess.run(
        [str(HERE / "build.sh")], stdout=subprocess.PIPE, text=True, check=False
    )
    if result.returncode == CANNOT_BUILD:
        sys.exit(CANNOT_BUILD)
    if result.returncode != 0:
        say(f"building the image failed (status {result.returncode})")
        sys.exit(1)
    return Path(result.stdout.strip().splitlines()[-1])


def kvm_usable() -> bool:
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


def probe_file(image: Path) -> Path:
    """Where a failed KVM boot is remembered, for this host kernel and qemu."""
    qemu = subprocess.run(
        ["qemu-system-x86_64", "--version"], capture_output=True, text=True, check=False
    ).stdout.split("\n")[0]
    host = f"{os.uname().release} {qemu}"
    tag = re.sub(r"[^A-Za-z0-9.]+", "-", host).strip("-")[:120]
    return image.parent / f"kvm-failed-{tag}"


def qemu_command(image: Path, out: Path, accel: str, debug: bool) -> list[str]:
    if accel == "kvm":
        machine = ["-accel", "kvm", "-cpu", "host"]
    else:
        machine = ["-accel", "tcg,thread=multi", "-cpu", "max"]
    return [
        "qemu-system-x86_64",
        *machine,
        "-smp",
        "2",
        "-m",
        "2048",
        "-nodefaults",
        "-no-reboot",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-kernel",
        str(image / "vmlinuz"),
        "-initrd",
        str(image / "boot.cpio.gz"),
        "-drive",
        f"file={image / 'root.img'},if=virtio,format=raw,snapshot=on",
        "-append",
        "console=ttyS0 rdinit=/init panic=-1 loglevel=4 mitigations=off"
        + (" bluez_vm_debug" if debug else ""),
        "-device",
        "virtio-rng-pci",
        "-virtfs",
        f"local,path={ROOT},mount_tag=src,security_model=none,readonly=on",
        "-virtfs",
        f"local,path={out},mount_tag=out,security_model=none",
        # Compiled modules of the checkout survive from run to run (Python checks
        # each against its source): emulation compiles slowly.
        "-virtfs",
        f"local,path={image.parent / 'pycache'},mount_tag=pycache,security_model=none",
    ]


class Boot:
    """One qemu process: its console goes to ``console.log`` and, filtered, to stdout."""

    def __init__(self, command: list[str], console: Path) -> None:
        self.started = time.monotonic()
        self.marks: dict[str, float] = {}
        self._seen = threading.Condition()
        self._log = console.open("w", encoding="utf-8", errors="replace")
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self._log.write(line + "\n")
            self._log.flush()
            clean = line.strip("\x1b[]?0-9;ch").strip() if "\x1b" in line else line
            for marker in (INIT_STARTED, BLUEZ_READY):
                if marker in clean and marker not in self.marks:
                    with self._seen:
                        self.marks[marker] = time.monotonic() - self.started
                        self._seen.notify_all()
            if INIT_STARTED in self.marks and not KERNEL_LINE.match(clean):
                say_line(clean)
        with self._seen:
            self._seen.notify_all()

    def wait_for(self, marker: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._seen:
            while marker not in self.marks and self.process.poll() is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._seen.wait(min(left, 1.0))
        return marker in self.marks

    def wait(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def close(self) -> None:
        self.kill()
        self._reader.join(5)
        self._log.close()


def write_job(out: Path, pytest_args: list[str], command: str | None) -> None:
    args = " ".join(_quote(a) for a in pytest_args)
    # Tests named on the command line replace the whole folder.
    where = "" if any(a.startswith("tests/") for a in pytest_args) else "tests/bluez "
    run = command or (
        f"exec python -m pytest {where}-p no:cacheprovider -v --durations=0 "
        f"--junitxml=/mnt/out/junit.xml -o junit_family=xunit2 {args}"
    )
    (out / "job.sh").write_text(
        "# Written by tools/bluez-vm/run.py; run by the guest's init in /mnt/src.\n"
        "export TPROUTINE_BLUEZ_VM=1 TPROUTINE_BLUEZ_OUT=/mnt/out"
        " HYPOTHESIS_STORAGE_DIRECTORY=/tmp/hypothesis\n"
        f"{run}\n",
        encoding="utf-8",
    )


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def report_tests(junit: Path) -> None:
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError):
        say("no test report (junit.xml) came back")
        return
    say("per-test times (s):")
    for case in root.iter("testcase"):
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if case.find(tag) is not None:
                outcome = {"failure": "FAILED", "error": "ERROR", "skipped": "skipped"}[tag]
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        say_line(f"  {float(case.get('time', 0)):7.2f}  {outcome:8} {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto")
    parser.add_argument(
        "--no-tcg",
        action="store_true",
        help="exit with status 5 instead of falling back to software emulation",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bluez-vm")
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds the VM may run in all"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="bluetoothd's debug log into bluetoothd.log, and every HCI packet into "
        "btmon.snoop (tools/bluez-vm/snoop.py prints it)",
    )
    parser.add_argument(
        "--command", help="a shell command to run in the guest instead of the tests"
    )
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest in the guest")
    args = parser.parse_args()

    if shutil.which("qemu-system-x86_64") is None:
        say("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
        return NO_QEMU
    started = time.monotonic()
    image = build_image()
    built = time.monotonic() - started
    say(f"image {image.name} ({(image / 'kernel-version').read_text().strip()}) in {built:.1f} s")

    out = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (image.parent / "pycache").mkdir(exist_ok=True)
    write_job(out, args.pytest_args, args.command)

    accels = ["kvm", "tcg"] if args.accel == "auto" else [args.accel]
    failed_before = probe_file(image)
    if args.accel != "tcg" and not kvm_usable():
        say("/dev/kvm is not usable here")
        accels.remove("kvm")
    elif args.accel == "auto" and failed_before.exists():
        say(f"KVM did not boot on this host before ({failed_before.name}); --accel kvm tries again")
        accels.remove("kvm")
    if args.no_tcg and "tcg" in accels:
        accels.remove("tcg")
    if not accels:
        say("no KVM that boots the VM here, and software emulation was not allowed (--no-tcg)")
        return NO_KVM
    boot: Boot | None = None
    accel = accels[-1]
    for accel in accels:
        boot = Boot(qemu_command(image, out, accel, args.debug), out / "console.log")
        # A KVM that cannot run this kernel hangs in the firmware: give it a while only.
        probe = KVM_PROBE_S if accel == "kvm" else args.timeout
        if boot.wait_for(INIT_STARTED, probe):
            break
        boot.close()
        say(f"{accel.upper()} did not reach the guest's init within {probe:.0f} s")
        if accel == "kvm":
            failed_before.write_text(time.strftime("%Y-%m-%d %H:%M:%S\n"))
        boot = None
    if boot is None and accel == "kvm":
        say("KVM does not boot the VM here (--accel tcg runs it under software emulation)")
        return NO_KVM
    if boot is None:
        say("the VM did not boot; see " + str(out / "console.log"))
        return 1
    label = "KVM" if accel == "kvm" else "software emulation (TCG)"
    say(f"running under {label}")
    try:
        if boot.wait_for(BLUEZ_READY, 600):
            say(
                f"booted: init after {boot.marks[INIT_STARTED]:.1f} s, "
                f"bluetoothd ready after {boot.marks[BLUEZ_READY]:.1f} s"
            )
        status = boot.wait(max(1.0, args.timeout - (time.monotonic() - boot.started)))
        if status is None:
            say(f"the VM did not finish within {args.timeout:.0f} s: stopped it")
    finally:
        boot.close()
    ran = time.monotonic() - boot.started
    report_tests(out / "junit.xml")
    rc_file = out / "rc"
    if not rc_file.exists():
        say(f"the tests did not finish (no exit status); see {out / 'console.log'}")
        return 1
    rc = int(rc_file.read_text().strip() or 1)
    say(f"VM ran {ran:.1f} s under {label}; pytest status {rc}; results in {out}")
    return rc


if __name__ == "__main__":
    sys.exit(main())

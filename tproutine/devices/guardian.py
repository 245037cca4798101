"""The guardian: a small process that stops the motor when the app dies without doing so.

Every way out of the app that runs Python code stops the motor (see
:mod:`tproutine.devices.safety`). Three do not run any: SIGKILL, a crash of
the interpreter (a segfault) and the kernel's out-of-memory killer. After them
a device that does not stop by itself when its app goes away runs on against
the person's body, and on Linux the link may even stay up: it belongs to
``bluetoothd``, not to the dead process.

So the controller starts a guardian as it first connects (its start-up then
overlaps the scan, not the session), a child process
that holds the read end of a pipe whose write end only the app holds (its
stdin). The app tells it, one JSON line at a time, which device to stop and how
(``arm``: adapter, address, the write characteristic, the profile's stop bytes),
and whether the motor may be running (``running``, sent before any level goes
out and after the stop is through). The guardian blocks in ``read()`` on the
pipe, so it costs no CPU while the app lives, and it never touches the device
while the app lives: only the end of the pipe wakes it to act.

- ``bye``, then the end of the pipe: the app ended properly (the motor is off);
  the guardian exits without a word.
- The end of the pipe without ``bye``, armed, the motor maybe running: the app
  died (the kernel closes a dead process's pipes). The guardian reaches the
  device through the same adapter and writes the stop, trying again for up to
  :data:`GIVE_UP_AFTER` seconds, then says what happened in one line on the
  terminal the app had.
- The app closing with the stop still owed (the link was lost and could not be
  restored) ends the pipe without ``bye`` on purpose: the guardian keeps trying.

What it connects through, by adapter:

- ``system`` (BlueZ on Linux): the dead app's link usually outlives it, owned by
  ``bluetoothd``; bleak's BlueZ backend then skips ``Connect`` (the device is
  connected already) and the guardian writes on that same link. It is given the
  device's D-Bus path, because a connected device does not advertise and could
  not be found by a scan. If the link went down too, it connects anew.
- ``tcp:HOST:PORT`` (``tproutine sim``): the simulator gives each client a radio
  of its own near its one device, so the dead app's link ended with its socket;
  the guardian connects anew, as a second phone near the device would.
- ``sim`` (in-process): the virtual massager lives and dies with the app: no
  guardian.

The process is started with ``python -m tproutine.devices.guardian ADAPTER``
(``--full-screen`` when the app holds the terminal: after a hard death it gives
the terminal back before its line, see :data:`GIVE_BACK_TERMINAL`) in
a session of its own (Ctrl-C and a closed terminal reach the app, which stops
the motor itself, not the guardian), with bleak (and Bumble for ``tcp:``)
imported before it waits, so that acting takes a connect and a write, not an
interpreter's start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import IO, Any

from tproutine.devices.adapters import AdapterSpec

log = logging.getLogger(__name__)

# How long a guardian keeps trying to reach a device to stop it.
GIVE_UP_AFTER = 30.0
# One attempt: find the device, connect, write.
ATTEMPT_TIMEOUT = 5.0
# How long the app waits for its guardian to leave after ``bye``.
CLOSE_TIMEOUT = 2.0


# Guardians left to finish a stop after their session ended, by device address.
# When this app connects to that device again, their work is moot (the app makes
# sure the motor is off on connecting) and they must not touch the device while
# the new session drives it: they are ended then.
_finishing: dict[str, list[subprocess.Popen[bytes]]] = {}


def guards(spec: AdapterSpec) -> bool:
    """Whether a device on this adapter can outlive the app's process (and so needs a
    guardian): the system's Bluetooth and a simulator process, not the in-process one."""
    return spec.kind in ("system", "tcp")


@dataclass(frozen=True, slots=True)
class Ward:
    """The device a guardian watches over, and how to stop it."""

    adapter: str  # the --adapter spec
    address: str
    name: str | None
    write: str  # the write characteristic's UUID
    response: bool  # write with response (the profile's write mode)
    stop: bytes  # the profile's stop command
    bluez_path: str | None = None  # BlueZ's D-Bus object of the device

    def to_json(self) -> dict[str, Any]:
        return {
            "adapter": self.adapter,
            "address": self.address,
            "name": self.name,
            "write": self.write,
            "response": self.response,
            "stop": self.stop.hex(),
            "bluez_path": self.bluez_path,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ward:
        return cls(
            adapter=str(data["adapter"]),
            address=str(data["address"]),
            name=data.get("name"),
            write=str(data["write"]),
            response=bool(data["response"]),
            stop=bytes.fromhex(str(data["stop"])),
            bluez_path=data.get("bluez_path"),
        )


class Guardian:
    """The app's end of the guardian: starts it, tells it what to watch, ends it."""

    def __init__(self, adapter: AdapterSpec, *, full_screen: bool = False) -> None:
        self.adapter = adapter
        self.full_screen = full_screen
        self._proc: subprocess.Popen[bytes] | None = None
        self._ward: Ward | None = None
        self._running: bool | None = None
        self._broken = False

    @property
    def pid(self) -> int | None:
        """The guardian's process id while it watches (tests, diagnostics)."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the process (it gets ready to act, then waits to be armed)."""
        if self._proc is None and not self._broken:
            self._spawn()

    def arm(self, ward: Ward) -> None:
        """Watch over ``ward`` (started now if :meth:`start` was not called)."""
        for earlier in _finishing.pop(ward.address, []):
            if earlier.poll() is None:
                earlier.kill()
                earlier.wait()
        self.start()
        if ward != self._ward:
            self._ward = ward
            self._send({"arm": ward.to_json()})

    def running(self, maybe: bool) -> None:
        """Whether the motor may be running now: ``True`` before a level is written,
        ``False`` once a stop went through."""
        if self._proc is None or maybe == self._running:
            return
        self._running = maybe
        self._send({"running": maybe})

    async def close(self, *, hand_over: bool = False) -> None:
        """The app is done with the device: the guardian leaves. With ``hand_over``
        (the stop is still owed to a device that could not be reached), or when the
        last word was that the motor may be running (the app's own stop did not get
        through), it is left to go on trying, as it would if the app had died."""
        proc, self._proc = self._proc, None
        ward = self._ward
        hand_over = hand_over or self._running is True
        self._ward = self._running = None
        if proc is None:
            return
        if hand_over and ward is not None:
            _finishing.setdefault(ward.address, []).append(proc)
        if not hand_over:
            self._write(proc, {"bye": True})
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if hand_over:
            return
        deadline = time.monotonic() + CLOSE_TIMEOUT
        while proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if proc.poll() is None:
            log.warning("the guardian did not leave in time; ending it")
            proc.kill()
            proc.wait()

    def _spawn(self) -> None:
        try:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tproutine.devices.guardian",
                    self.adapter.text,
                    *([FULL_SCREEN] if self.full_screen else []),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                # Inherited: after the app died, the one line it says goes where the
                # app's own lines went. While the app lives it says nothing.
                stderr=None,
                close_fds=True,
                start_new_session=os.name == "posix",
            )
        except OSError as exc:
            self._broken = True
            log.warning("could not start the guardian: %s", exc)
            return
        if self._proc.stdin is not None:
            # The app must never wait for its guardian (one stopped with SIGSTOP
            # would stop the app with it once the pipe filled): a message that
            # does not fit at once means the guardian is stuck.
            os.set_blocking(self._proc.stdin.fileno(), False)

    def _send(self, message: dict[str, Any]) -> None:
        proc = self._proc
        if proc is not None and not self._write(proc, message):
            # It is gone (killed, failed to start) or stuck: the app runs on without
            # it. A stuck one is ended, or it would act later on what it last knew.
            if proc.poll() is None:
                proc.kill()
            log.warning("the guardian is gone (exit status %s)", proc.wait())
            self._proc = None
            self._broken = True

    @staticmethod
    def _write(proc: subprocess.Popen[bytes], message: dict[str, Any]) -> bool:
        if proc.stdin is None:
            return False
        data = json.dumps(message).encode() + b"\n"
        try:
            # Below PIPE_BUF (4096) a pipe takes a write whole or not at all.
            return os.write(proc.stdin.fileno(), data) == len(data)
        except (OSError, ValueError):  # BlockingIOError (stuck), BrokenPipeError (gone)
            return False


# ---------------------------------------------------------------- the process


FULL_SCREEN = "--full-screen"
# What a full-screen app (Textual) turns on and gives back when it ends properly:
# a killed one leaves the terminal on its second screen, without line wrapping
# (the guardian's line would be cut at the width, its end, what to do, lost),
# reporting the mouse and keys in codes. Each is harmless when not on.
GIVE_BACK_TERMINAL = (
    "\x1b[?2004l"  # bracketed paste off
    "\x1b[?7h"  # lines wrap again
    "\x1b[?2048l"  # in-band resize reports off
    "\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?1016l"  # mouse reports off
    "\x1b[<u"  # the kitty keyboard protocol off
    "\x1b[?1049l"  # the main screen back, with what it showed before the app
    "\x1b[?25h"  # the cursor shown
    "\x1b[?1004l"  # focus reports off
)


def _give_back_terminal() -> None:
    """Leave the full-screen modes a dead app left on, if stderr is a terminal."""
    with contextlib.suppress(OSError, ValueError):
        if sys.stderr.isatty():
            sys.stderr.write(GIVE_BACK_TERMINAL)
            sys.stderr.flush()


def _say(line: str) -> None:
    from tproutine.safetext import one_line

    with contextlib.suppress(OSError, ValueError):
        print(f"tproutine guardian: {one_line(line)}", file=sys.stderr, flush=True)


def watch(stream: IO[bytes]) -> tuple[Ward | None, bool, bool]:
    """Read the app's messages until the pipe ends: ``(ward, maybe running, bye)``."""
    ward: Ward | None = None
    running = False
    bye = False
    for raw in stream:  # blocks in read(): nothing runs while the app lives
        try:
            message = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(message, dict):
            continue
        if "arm" in message:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                ward = Ward.from_json(message["arm"])
        if "running" in message:
            running = bool(message["running"])
        if message.get("bye"):
            bye = True
    return ward, running, bye


async def _reach_and_stop(ward: Ward) -> None:
    from bleak import BleakClient, BleakScanner
    from bleak.backends.device import BLEDevice

    from tproutine.devices import adapters

    backends = await adapters.acquire(ward.adapter)
    try:
        device: BLEDevice | None
        if ward.bluez_path is not None:
            # Connected devices do not advertise: name BlueZ's object directly.
            device = BLEDevice(ward.address, ward.name, {"path": ward.bluez_path, "props": {}})
        else:
            scanner: Any = backends.scanner  # None: bleak's own stack
            device = await BleakScanner.find_device_by_address(
                ward.address, timeout=ATTEMPT_TIMEOUT, backend=scanner
            )
        if device is None:
            raise TimeoutError("not found")
        client = BleakClient(device, timeout=ATTEMPT_TIMEOUT, backend=backends.client)
        await client.connect()
        try:
            await client.write_gatt_char(ward.write, ward.stop, response=ward.response)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), ATTEMPT_TIMEOUT)
    finally:
        await adapters.release(backends)


async def stop(ward: Ward, give_up: float = GIVE_UP_AFTER) -> bool:
    """Reach ``ward`` and write its stop, trying again until ``give_up`` seconds have
    passed; says what happened in one line. Returns whether the stop went through."""
    what = ward.name or ward.address
    deadline = time.monotonic() + give_up
    delay = 0.1
    error: BaseException | None = None
    while True:
        left = deadline - time.monotonic()
        try:
            await asyncio.wait_for(_reach_and_stop(ward), max(min(left, 2 * ATTEMPT_TIMEOUT), 0.1))
        except Exception as exc:
            error = exc
        else:
            _say(f"the app ended while {what} may have been running; the motor was stopped")
            return True
        if time.monotonic() + delay >= deadline:
            break
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)
    reason = str(error).strip() or type(error).__name__
    _say(
        f"the app ended while {what} may have been running, and it could not be reached to "
        f"stop it ({reason}): switch it off by hand"
    )
    return False


def _preload(adapter: str) -> None:
    # Imported before waiting, so that acting costs a connect and a write only.
    import bleak  # noqa: F401

    if adapter.startswith("tcp:"):
        from tproutine.devices.sim import backend  # noqa: F401


def main(argv: list[str]) -> int:
    # Nothing may reach the terminal unasked (Python prints unhandled warnings).
    logging.getLogger().addHandler(logging.NullHandler())
    logging.getLogger("bumble").disabled = True
    adapter = argv[0] if argv else "system"
    full_screen = FULL_SCREEN in argv[1:]
    with contextlib.suppress(ImportError):  # acting will say what is missing
        _preload(adapter)
    ward, running, bye = watch(sys.stdin.buffer)
    if bye or ward is None or not running:
        return 0
    if full_screen:
        _give_back_terminal()
    return 0 if asyncio.run(stop(ward)) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Print a btmon trace (``btmon.snoop`` from ``run.py --debug``) one packet a line.

    .venv/bin/python tools/bluez-vm/snoop.py build/bluez-vm/btmon.snoop [--acl]

``btmon -r`` (BlueZ 5.66) crashes on some of the packets our traces hold, and
loses everything after them. This reads the BTSnoop monitor format itself and
decodes HCI packets with Bumble: each line has the time, the direction, and
the packet; ``bluetoothd -d``'s log lines and management commands and events
(what ``bluetoothd`` asked the kernel for) are interleaved in order, which is
what shows who dropped a step of a procedure. ACL data is left out unless
``--acl``.
"""

from __future__ import annotations

import argparse
import datetime
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

# BTSnoop timestamps count microseconds from year 0; this is 1970-01-01.
EPOCH_DELTA_US = 0x00DCDDB30F2F8000

# Monitor opcodes (btmon's src/shared/btsnoop.h).
NEW_INDEX, DEL_INDEX, COMMAND, EVENT, ACL_TX, ACL_RX = 0, 1, 2, 3, 4, 5
SYSTEM_NOTE, USER_LOGGING, CTRL_OPEN, CTRL_CLOSE, CTRL_COMMAND, CTRL_EVENT = 12, 13, 14, 15, 16, 17


def records(path: Path) -> Iterator[tuple[float, int, int, bytes]]:
    """(unix time, adapter index, opcode, data) for each record."""
    data = path.read_bytes()
    if data[:8] != b"btsnoop\0":
        raise SystemExit(f"{path}: not a BTSnoop file")
    offset = 16
    while offset + 24 <= len(data):
        _orig, incl, flags, _drops, ts = struct.unpack(">IIIIq", data[offset : offset + 24])
        payload = data[offset + 24 : offset + 24 + incl]
        offset += 24 + incl
        yield (ts - EPOCH_DELTA_US) / 1e6, flags >> 16, flags & 0xFFFF, payload


def describe(opcode: int, payload: bytes, acl: bool) -> str | None:
    from bumble import hci

    if opcode in (COMMAND, EVENT) or (acl and opcode in (ACL_TX, ACL_RX)):
        prefix = {COMMAND: b"\x01", EVENT: b"\x04", ACL_TX: b"\x02", ACL_RX: b"\x02"}[opcode]
        arrow = "<" if opcode in (COMMAND, ACL_TX) else ">"
        try:
            packet = hci.HCI_Packet.from_bytes(prefix + payload)
            text = " ".join(str(packet).split())
        except Exception as exc:  # a packet Bumble cannot parse: show its bytes
            text = f"{payload.hex()} ({exc!r})"
        return f"{arrow} {text}"
    if opcode == USER_LOGGING and len(payload) >= 2:
        ident_len = payload[1]
        ident = payload[2 : 2 + ident_len].rstrip(b"\0").decode(errors="replace")
        message = payload[2 + ident_len :].rstrip(b"\0").decode(errors="replace")
        return f"= {ident} {message.strip()}"
    if opcode in (CTRL_COMMAND, CTRL_EVENT) and len(payload) >= 6:
        _cookie, code = struct.unpack("<IH", payload[:6])
        arrow = "@<" if opcode == CTRL_COMMAND else "@>"
        return f"{arrow} mgmt 0x{code:04x} {payload[6:].hex()}"
    if opcode == SYSTEM_NOTE:
        note = payload.rstrip(b"\0").decode(errors="replace")
        return f"= note {note}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("snoop", type=Path)
    parser.add_argument("--acl", action="store_true", help="show ACL data packets too")
    args = parser.parse_args()
    for when, index, opcode, payload in records(args.snoop):
        line = describe(opcode, payload, args.acl)
        if line is not None:
            stamp = datetime.datetime.fromtimestamp(when, datetime.UTC).strftime("%H:%M:%S.%f")
            where = f"hci{index}" if index != 0xFFFF else "----"
            print(f"{stamp} {where} {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

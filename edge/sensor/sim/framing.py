"""R307 packet framing, written from the datasheet (r307-protocol.md §1), not from any driver.

A checksum bug shared by the simulator and the driver would pass every test, so this module is
checked against hand-built golden frames (tests/golden/r307_frames.py) instead of the driver.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER = b"\xef\x01"
PID_COMMAND = 0x01
PID_DATA = 0x02
PID_ACK = 0x07
PID_END = 0x08
VALID_PIDS = frozenset({PID_COMMAND, PID_DATA, PID_ACK, PID_END})
# LENGTH counts content + checksum; a 256-byte data packet has LENGTH 258 (§1.2).
MAX_LENGTH = 258
MIN_LENGTH = 3


@dataclass(frozen=True, slots=True)
class Packet:
    """One decoded packet: the address it carried, its identifier and its content."""

    address: int
    pid: int
    content: bytes


def checksum(pid: int, content: bytes) -> int:
    """PID + both LENGTH bytes + every content byte, modulo 2**16 (§1.2)."""
    length = len(content) + 2
    return (pid + (length >> 8) + (length & 0xFF) + sum(content)) & 0xFFFF


def encode(address: int, pid: int, content: bytes) -> bytes:
    """Build the bytes of one packet."""
    length = len(content) + 2
    return (
        HEADER
        + address.to_bytes(4, "big")
        + bytes((pid,))
        + length.to_bytes(2, "big")
        + content
        + checksum(pid, content).to_bytes(2, "big")
    )


class Reassembler:
    """Turns an arbitrarily fragmented byte stream into packets.

    pyfingerprint writes one byte per ``write()`` (§6.2), so a command arrives in pieces. Bytes
    that cannot start a packet are skipped until the next ``EF 01`` (resync); a packet with an
    impossible length is dropped the same way; a bad checksum is reported, not silently dropped,
    because the module answers it with confirmation code 0x01.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.skipped = 0

    def feed(self, data: bytes) -> list[Packet | ChecksumMismatch]:
        """Add bytes; return every packet completed by them, in order."""
        self._buf += data
        out: list[Packet | ChecksumMismatch] = []
        buf = self._buf
        while True:
            start = buf.find(HEADER)
            if start < 0:
                # Keep a trailing 0xEF: it may be the first half of the next header.
                keep = 1 if buf[-1:] == b"\xef" else 0
                self.skipped += len(buf) - keep
                del buf[: len(buf) - keep]
                return out
            if start:
                self.skipped += start
                del buf[:start]
            if len(buf) < 9:
                return out
            pid = buf[6]
            length = int.from_bytes(buf[7:9], "big")
            if pid not in VALID_PIDS or not MIN_LENGTH <= length <= MAX_LENGTH:
                self.skipped += 2
                del buf[:2]
                continue
            total = 9 + length
            if len(buf) < total:
                return out
            address = int.from_bytes(buf[2:6], "big")
            content = bytes(buf[9 : total - 2])
            got = int.from_bytes(buf[total - 2 : total], "big")
            del buf[:total]
            if got != checksum(pid, content):
                out.append(ChecksumMismatch(address, pid))
            else:
                out.append(Packet(address, pid, content))

    def clear(self) -> None:
        """Forget any partial packet (power loss)."""
        self._buf.clear()


@dataclass(frozen=True, slots=True)
class ChecksumMismatch:
    """A complete packet whose checksum was wrong."""

    address: int
    pid: int

"""The simulated module's flash: template library, notepad and persisted settings.

Like the real module, everything here survives a power cycle and a restart of the simulator
(when backed by a file); the image and character buffers live elsewhere and do not. The file has
a fixed layout so one Store writes one slot, as a flash page write does.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

_MAGIC = b"HSIMFL01"
# magic, capacity, template size, password, address, security, packet code, baud N
_HEADER = struct.Struct(">8sHHIIBBB")
_HEADER_SIZE = 64
NOTEPAD_PAGES = 16
NOTEPAD_PAGE_SIZE = 32


@dataclass(slots=True)
class Settings:
    """Parameters the module keeps in flash (§4.3, §4.4)."""

    password: int
    address: int
    security_level: int
    packet_code: int
    baud_n: int


class Flash:
    """Slot-addressed template storage, optionally mirrored to a file."""

    def __init__(
        self, capacity: int, template_size: int, defaults: Settings, path: str | None = None
    ) -> None:
        self.capacity = capacity
        self.template_size = template_size
        self._slot_size = 1 + template_size
        self._notepad_at = _HEADER_SIZE
        self._slots_at = _HEADER_SIZE + NOTEPAD_PAGES * NOTEPAD_PAGE_SIZE
        size = self._slots_at + capacity * self._slot_size
        self._fd: int | None = None
        self._mem = bytearray(size)
        self.settings = defaults
        if path is not None:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            existing = os.pread(self._fd, size, 0)
            if len(existing) == size and self._header_ok(existing):
                self._mem[:] = existing
                self.settings = self._read_settings()
            else:
                if existing:
                    os.close(self._fd)
                    self._fd = None
                    raise ValueError(
                        f"{path}: not a flash image for capacity {capacity} "
                        f"and template size {template_size}"
                    )
                self._write_settings()
                os.pwrite(self._fd, bytes(self._mem), 0)
        else:
            self._write_settings()

    def _header_ok(self, data: bytes) -> bool:
        magic, cap, tsize, *_ = _HEADER.unpack_from(data)
        return bool(magic == _MAGIC and cap == self.capacity and tsize == self.template_size)

    def _read_settings(self) -> Settings:
        _, _, _, pwd, addr, sec, pkt, baud = _HEADER.unpack_from(self._mem)
        return Settings(pwd, addr, sec, pkt, baud)

    def _write_settings(self) -> None:
        s = self.settings
        head = _HEADER.pack(
            _MAGIC,
            self.capacity,
            self.template_size,
            s.password,
            s.address,
            s.security_level,
            s.packet_code,
            s.baud_n,
        )
        self._put(0, head)

    def _put(self, offset: int, data: bytes) -> None:
        self._mem[offset : offset + len(data)] = data
        if self._fd is not None:
            os.pwrite(self._fd, data, offset)

    def save_settings(self) -> None:
        """Persist :attr:`settings` (after SetPwd, SetAdder, SetSysPara)."""
        self._write_settings()

    def read(self, slot: int) -> bytes | None:
        """The template in ``slot``, or None if it is empty."""
        at = self._slots_at + slot * self._slot_size
        if not self._mem[at]:
            return None
        return bytes(self._mem[at + 1 : at + self._slot_size])

    def write(self, slot: int, template: bytes) -> None:
        """Store ``template`` (padded or cut to the template size) in ``slot``."""
        data = template[: self.template_size].ljust(self.template_size, b"\x00")
        self._put(self._slots_at + slot * self._slot_size, b"\x01" + data)

    def erase(self, slot: int) -> None:
        """Empty ``slot``."""
        self._put(self._slots_at + slot * self._slot_size, b"\x00")

    def used(self) -> list[int]:
        """Occupied slots in ascending order."""
        base, step, mem = self._slots_at, self._slot_size, self._mem
        return [s for s in range(self.capacity) if mem[base + s * step]]

    def notepad(self, page: int) -> bytes:
        """One 32-byte notepad page."""
        at = self._notepad_at + page * NOTEPAD_PAGE_SIZE
        return bytes(self._mem[at : at + NOTEPAD_PAGE_SIZE])

    def write_notepad(self, page: int, data: bytes) -> None:
        """Write one 32-byte notepad page."""
        at = self._notepad_at + page * NOTEPAD_PAGE_SIZE
        self._put(at, data[:NOTEPAD_PAGE_SIZE].ljust(NOTEPAD_PAGE_SIZE, b"\x00"))

    def close(self) -> None:
        """Release the backing file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

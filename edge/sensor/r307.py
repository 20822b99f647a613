"""R307Sensor: the unmodified pyfingerprint 1.5 made safe for a daemon that must not stall.

pyfingerprint reads one byte at a time with a 2 s serial timeout and never resynchronises: a
silent module blocks a call for 24 s, and one stray byte breaks every later call
(r307-protocol.md §6.2). This driver keeps the library as it is and owns the transport under it:

* the serial object inside :class:`PyFingerprint` is replaced by :class:`_DeadlineSerial`, whose
  ``read`` raises as soon as the transaction's deadline passes, so every call is bounded;
* the input buffer is flushed before every transaction, and after a desync the call is retried;
* every failure is classified (the person's, a link fault, offline, misconfigured; see
  :mod:`edge.sensor.errors`) and only link faults are retried;
* offline means backing off with jitter, then re-opening the port by path (after an unplug the
  path comes back with a new tty behind it), and a hang is cleared by cycling the module's power
  through a :class:`~edge.sensor.protocol.PowerSwitch` where one is wired.
"""

from __future__ import annotations

import logging
import math
import os
import random
import re
import select
import termios
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import serial
from pyfingerprint.pyfingerprint import (
    FINGERPRINT_ACKPACKET,
    FINGERPRINT_COMMANDPACKET,
    FINGERPRINT_DATAPACKET,
    FINGERPRINT_ENDDATAPACKET,
    FINGERPRINT_UPLOADCHARACTERISTICS,
    PyFingerprint,
)

from edge.sensor.errors import (
    EnrollMismatch,
    FrameError,
    ModuleRefused,
    PoorImage,
    SensorError,
    SensorMisconfigured,
    SensorTimeout,
    SensorUnavailable,
)
from edge.sensor.protocol import (
    CharBuffer,
    Health,
    Match,
    ModuleInfo,
    PowerSwitch,
    SensorState,
    Slot,
)

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

log = logging.getLogger(__name__)

T = TypeVar("T")

# pyfingerprint raises bare Exception with these messages (§6.3); they are the only way to tell
# its failures apart. Each maps to the person's problem, a link fault, or a module refusal.
_POOR_IMAGE = {
    "The image is too messy": ("image too messy (wet finger?)", 0x06),
    "The image contains too few feature points": ("too few feature points (dry finger?)", 0x07),
    "The image is invalid": ("no valid image", 0x15),
    "Could not read image": ("capture failed", 0x03),
}
_LINK_FAULTS = (
    "The received packet do not begin with a valid header!",
    "The received packet is corrupted (the checksum is wrong)!",
    "The received packet is no ack packet!",
    "The received packet is no data packet!",
    "Communication error",
)
_REFUSALS = {
    "Could not store template in that position": 0x0B,
    "Error writing to flash": 0x18,
    "The template could not be read": 0x0C,
    "Could not load template from that position": 0x0B,
    "Invalid position": 0x0B,
    "Could not upload characteristics": 0x0E,
    "Could not download characteristics": 0x0D,
    "Could not download image": 0x0F,
    "The address is wrong": 0x20,
}
_UNKNOWN = re.compile(r"Unknown error (0x[0-9a-fA-F]+)")
_PASSWORD_FIRST = 0x21


class _Expired(Exception):
    """The transaction deadline passed while pyfingerprint waited for a byte."""


class _DeadlineSerial(serial.Serial):
    """A pyserial port whose reads end at a per-transaction deadline instead of 2 s per byte.

    pyfingerprint writes and reads one byte per call (§6.2); at a syscall and a ``select`` each,
    that dominates an identify's CPU on a Pi. Inside a transaction this port therefore holds the
    library's one-byte writes until it next reads, and serves one-byte reads from whatever has
    already arrived. The bytes on the wire are the same; only the number of syscalls changes.
    """

    deadline: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._rx = bytearray()
        self._tx = bytearray()
        super().__init__(*args, **kwargs)

    def write(self, b: ReadableBuffer, /) -> int | None:
        if self.deadline is None:
            return super().write(b)
        chunk = bytes(b)
        self._tx += chunk
        return len(chunk)

    def _send_pending(self) -> None:
        if self._tx:
            pending = bytes(self._tx)
            self._tx.clear()
            super().write(pending)

    def read(self, size: int = 1) -> bytes:
        if self.deadline is None:
            return super().read(size)
        self._send_pending()
        rx, fd = self._rx, self.fd
        if fd is None:
            raise serial.SerialException("port not open")
        while len(rx) < size:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise _Expired
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise _Expired
            try:
                chunk = os.read(fd, 4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                raise serial.SerialException(f"read failed: {exc}") from exc
            if not chunk:
                raise serial.SerialException("device disconnected (read returned no data)")
            rx += chunk
        out = bytes(rx[:size])
        del rx[:size]
        return out

    def reset_input_buffer(self) -> None:
        self._rx.clear()
        self._tx.clear()
        super().reset_input_buffer()


class R307Sensor:
    """One R307/ZFM-family module on a serial port (a real UART or the simulator's pty).

    Args:
        port: device path (``/dev/r307``, ``/dev/serial0``, a pty symlink).
        baud: the module's baud rate.
        address: the module's address (the module is silent to any other).
        password: the module's password (0 = none set).
        power: a switch on the module's supply, used to clear hangs; None if not wired.
        timeout_s: deadline for one reply; pyfingerprint's own is 2 s per byte.
        retries: how often a link fault is retried within one call.
        backoff_initial_s, backoff_max_s: re-probe delays while the module is offline.
        hang_after: consecutive timed-out calls before a power cycle (when wired).
        power_off_s, boot_s: how long the supply stays off, and the boot wait after power-on.
        on_close: called once after :meth:`close` (the simulator factory stops its sim here).
    """

    def __init__(
        self,
        port: str,
        *,
        baud: int = 57600,
        address: int = 0xFFFFFFFF,
        password: int = 0,
        power: PowerSwitch | None = None,
        timeout_s: float = 2.0,
        retries: int = 2,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        hang_after: int = 2,
        power_off_s: float = 0.5,
        boot_s: float = 1.0,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.port = port
        self.baud = baud
        self.address = address
        self._password = password
        self._power = power
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.hang_after = hang_after
        self.power_off_s = power_off_s
        self.boot_s = boot_s
        self._on_close = on_close
        self._lock = threading.RLock()
        self._fp: PyFingerprint | None = None
        self._serial: _DeadlineSerial | None = None
        self._capacity = 0
        self._packet_size = 128
        self._state = SensorState.OFFLINE
        self._detail = "not opened yet"
        self._link_faults = 0
        self._timeouts = 0
        self._reopens = 0
        self._power_cycles = 0
        self._failed_calls = 0  # consecutive calls that ended in a timeout or desync
        self._garbled_calls = 0  # consecutive calls that ended in a desync
        self._backoff_s = 0.0
        self._next_attempt = 0.0
        self._closed = False
        self._rng = random.Random()

    # -- the port ----------------------------------------------------------------------------

    def _open(self) -> PyFingerprint:
        """Open the port, check the password and read the parameters; assume nothing."""
        if self._fp is not None:
            return self._fp
        now = time.monotonic()
        if now < self._next_attempt:
            left = self._next_attempt - now
            if self._state is SensorState.MISCONFIGURED:
                raise SensorMisconfigured(f"{self._detail} (next check in {left:.1f} s)")
            raise SensorUnavailable(f"sensor offline: {self._detail} (next try in {left:.1f} s)")
        try:
            fp = PyFingerprint(self.port, self.baud, self.address, self._password)
            stock = fp._PyFingerprint__serial
            stock.close()
            ser = _DeadlineSerial(self.port, self.baud, bytesize=8, timeout=2)
            fp._PyFingerprint__serial = ser
        except (serial.SerialException, OSError) as exc:
            self._go_offline(f"cannot open {self.port}: {exc}")
            raise SensorUnavailable(f"sensor offline: cannot open {self.port}: {exc}") from exc
        self._fp, self._serial = fp, ser
        self._reopens += 1
        try:
            ok = self._attempts("verify-password", lambda f: bool(f.verifyPassword()))
            if not ok:
                self._misconfigured("wrong module password (set the module's password in config)")
            params = self._attempts("read-parameters", lambda f: tuple(f.getSystemParameters()))
        except (SensorTimeout, FrameError) as exc:
            self._fail("handshake", exc)
        except SensorError:
            self._drop_port()
            raise
        self._failed_calls = self._garbled_calls = 0
        self._capacity = int(params[2])
        self._packet_size = (32, 64, 128, 256)[int(params[5])]
        # pyfingerprint reads the whole parameter block (ReadSysPara) before every search,
        # load, store, delete and template transfer only to learn these two numbers, which
        # change only when a host changes them; this driver never does while the port is
        # open, and info() refreshes them. One round trip less per identify, three per
        # template install (bench/README.md, "Template install").
        fp.getStorageCapacity = lambda: self._capacity
        fp.getMaxPacketSize = lambda: self._packet_size
        log.info(
            "sensor opened port=%s capacity=%d packet_size=%d security=%d",
            self.port,
            self._capacity,
            self._packet_size,
            params[3],
        )
        return fp

    def _drop_port(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except (serial.SerialException, OSError):
                log.debug("closing a dead port failed", exc_info=True)
        self._fp = self._serial = None

    def _go_offline(self, detail: str) -> None:
        self._drop_port()
        self._state, self._detail = SensorState.OFFLINE, detail
        base = self._backoff_s * 2 if self._backoff_s else self.backoff_initial_s
        self._backoff_s = min(base, self.backoff_max_s)
        # Jitter keeps a fleet of terminals from re-probing in step after a shared outage.
        delay = self._backoff_s * (0.75 + self._rng.random() * 0.5)
        self._next_attempt = time.monotonic() + delay
        log.warning("sensor offline port=%s detail=%r retry_in_s=%.2f", self.port, detail, delay)

    def _misconfigured(self, detail: str) -> NoReturn:
        self._drop_port()
        self._state, self._detail = SensorState.MISCONFIGURED, detail
        # Retrying cannot fix a wrong password or baud; check again rarely, never in a storm.
        self._backoff_s = self.backoff_max_s
        self._next_attempt = time.monotonic() + self.backoff_max_s
        log.error("sensor misconfigured port=%s detail=%r", self.port, detail)
        raise SensorMisconfigured(detail)

    def _cycle_power(self) -> None:
        assert self._power is not None
        log.warning("sensor hung; cycling its power port=%s", self.port)
        self._drop_port()
        self._power.off()
        time.sleep(self.power_off_s)
        self._power.on()
        time.sleep(self.boot_s)
        self._power_cycles += 1
        self._failed_calls = 0
        self._next_attempt = 0.0

    def _fail(self, op: str, exc: SensorTimeout | FrameError) -> NoReturn:
        """A call used up its retries: decide between garbled link, hang and offline."""
        self._failed_calls += 1
        if isinstance(exc, FrameError):
            self._garbled_calls += 1
        if self._garbled_calls >= 3:
            self._misconfigured(
                f"replies are garbled even after resync: wrong baud rate? (configured {self.baud})"
            )
        if self._failed_calls >= self.hang_after and self._power is not None:
            self._cycle_power()
            raise SensorUnavailable(f"sensor hung during {op}; power cycled") from exc
        self._go_offline(f"no usable reply to {op}: {exc}")
        raise SensorUnavailable(f"sensor offline: no usable reply to {op}") from exc

    # -- transactions ------------------------------------------------------------------------

    def _call(self, op: str, fn: Callable[[PyFingerprint], T], budget_s: float | None = None) -> T:
        """Run one pyfingerprint call on an open, healthy port, with the driver's policy."""
        with self._lock:
            if self._closed:
                raise SensorUnavailable("sensor closed")
            self._open()
            try:
                result = self._attempts(op, fn, budget_s)
            except (SensorTimeout, FrameError) as exc:
                self._fail(op, exc)
            self._failed_calls = self._garbled_calls = 0
            self._backoff_s = 0.0
            return result

    def _attempts(
        self, op: str, fn: Callable[[PyFingerprint], T], budget_s: float | None = None
    ) -> T:
        fp, ser = self._fp, self._serial
        assert fp is not None and ser is not None
        budget = budget_s if budget_s is not None else self.timeout_s
        last: SensorError | None = None
        for attempt in range(self.retries + 1):
            try:
                ser.reset_input_buffer()
                ser.deadline = time.monotonic() + budget
                try:
                    result = fn(fp)
                finally:
                    ser.deadline = None
                self._state = SensorState.OK if attempt == 0 else SensorState.DEGRADED
                self._detail = "ok" if attempt == 0 else f"{op} needed {attempt + 1} attempts"
                return result
            except _Expired:
                self._timeouts += 1
                last = SensorTimeout(f"{op}: no reply within {budget:.1f} s")
            except (serial.SerialException, OSError, termios.error) as exc:
                # The tty went away under us (unplugged adapter, hung-up pty); tcflush reports
                # it as termios.error, which is not an OSError.
                self._go_offline(f"port lost during {op}: {exc}")
                raise SensorUnavailable(f"sensor unplugged during {op}: {exc}") from exc
            except (TypeError, IndexError) as exc:
                self._link_faults += 1
                last = FrameError(f"{op}: malformed reply ({type(exc).__name__})")
            except Exception as exc:
                error = self._classify(op, exc)
                if not isinstance(error, FrameError):
                    if isinstance(error, ModuleRefused) and error.code == _PASSWORD_FIRST:
                        # The module rebooted (brown-out) and wants the password again.
                        self._reverify(fp, ser)
                        last = error
                        continue
                    raise error from exc
                self._link_faults += 1
                last = error
            self._state = SensorState.DEGRADED
            log.warning("sensor link fault op=%s attempt=%d error=%r", op, attempt + 1, str(last))
            # A late or broken reply may still be arriving: let it land, then drop it.
            time.sleep(0.02)
        assert last is not None
        raise last

    def _reverify(self, fp: PyFingerprint, ser: _DeadlineSerial) -> None:
        ser.reset_input_buffer()
        ser.deadline = time.monotonic() + self.timeout_s
        try:
            if not fp.verifyPassword():
                self._misconfigured("wrong module password")
        finally:
            ser.deadline = None

    @staticmethod
    def _classify(op: str, exc: Exception) -> SensorError:
        message = str(exc)
        if message in _POOR_IMAGE:
            reason, code = _POOR_IMAGE[message]
            return PoorImage(reason, code)
        if message in _LINK_FAULTS:
            return FrameError(f"{op}: {message}")
        if message in _REFUSALS:
            if _REFUSALS[message] == 0x20:
                return SensorMisconfigured(f"{op}: wrong module address")
            return ModuleRefused(f"{op}: {message}", _REFUSALS[message])
        found = _UNKNOWN.search(message)
        if found:
            return ModuleRefused(f"{op}: module error", int(found.group(1), 16))
        if isinstance(exc, ValueError):
            return ModuleRefused(f"{op}: {message}", 0x0B)
        return FrameError(f"{op}: unexpected reply: {message}")

    def _transfer_s(self, nbytes: int) -> float:
        """Wire time for ``nbytes`` plus packet overhead at the configured baud (§2.5)."""
        packets = math.ceil(nbytes / max(self._packet_size, 1)) + 1
        return 10.0 * (nbytes + 11 * packets) / self.baud

    def _check_slot(self, slot: int) -> None:
        if not 0 <= slot < self._capacity:
            raise ValueError(f"slot must be 0..{self._capacity - 1}, got {slot}")

    # -- the FingerprintSensor interface -----------------------------------------------------

    def info(self) -> ModuleInfo:
        """Read the parameter block and the template count from the module."""
        params = self._call("read-parameters", lambda f: tuple(f.getSystemParameters()))
        used = self._call("template-count", lambda f: int(f.getTemplateCount()))
        self._capacity = int(params[2])
        self._packet_size = (32, 64, 128, 256)[int(params[5])]
        return ModuleInfo(
            capacity=self._capacity,
            used=used,
            security_level=int(params[3]),
            address=int(params[4]),
            packet_size=self._packet_size,
            baud=int(params[6]) * 9600,
            system_id=int(params[1]),
        )

    def read_image(self) -> bool:
        """One GenImg: True if a finger image was captured."""
        return self._call("read-image", lambda f: bool(f.readImage()))

    def extract(self, buffer: CharBuffer = CharBuffer.ONE) -> None:
        """Img2Tz into ``buffer``."""
        self._call("extract", lambda f: f.convertImage(int(buffer)))

    def search(self) -> Match | None:
        """1:N search of CharBuffer1 (pyfingerprint: ReadSysPara, then Search)."""
        slot, score = self._call("search", lambda f: tuple(f.searchTemplate()), 2 * self.timeout_s)
        if slot < 0:
            return None
        return Match(Slot(int(slot)), int(score))

    def identify(self) -> Match | None:
        """Capture, extract, search; None for no finger or an unknown one."""
        if not self.read_image():
            return None
        self.extract(CharBuffer.ONE)
        return self.search()

    def merge(self) -> None:
        """RegModel; raises EnrollMismatch when the two captures are different fingers."""
        if not self._call("merge", lambda f: bool(f.createTemplate())):
            raise EnrollMismatch("the two presses are not the same finger")

    def compare(self) -> int:
        """Match CharBuffer1 against CharBuffer2."""
        return self._call("compare", lambda f: int(f.compareCharacteristics()))

    def store(self, slot: Slot, buffer: CharBuffer = CharBuffer.ONE) -> None:
        """Store the template in ``buffer`` at ``slot``."""
        self._open_for_checks()
        self._check_slot(slot)
        self._call("store", lambda f: f.storeTemplate(int(slot), int(buffer)), 2 * self.timeout_s)

    def delete(self, slot: Slot) -> None:
        """Delete ``slot``."""
        self._open_for_checks()
        self._check_slot(slot)
        if not self._call(
            "delete", lambda f: bool(f.deleteTemplate(int(slot))), 2 * self.timeout_s
        ):
            raise ModuleRefused(f"delete: the module could not delete slot {slot}", 0x10)

    def clear(self) -> None:
        """Delete every template."""
        if not self._call("clear", lambda f: bool(f.clearDatabase())):
            raise ModuleRefused("clear: the module could not clear its library", 0x11)

    def used_slots(self) -> frozenset[Slot]:
        """Occupied slots from the index table pages that cover the capacity."""
        self._open_for_checks()
        pages = min(4, math.ceil(self._capacity / 256))
        used: set[Slot] = set()
        for page in range(pages):

            def index(f: PyFingerprint, p: int = page) -> list[bool]:
                return [bool(b) for b in f.getTemplateIndex(p)]

            bits = self._call("index", index)
            used.update(Slot(256 * page + i) for i, b in enumerate(bits) if b)
        return frozenset(s for s in used if s < self._capacity)

    def template_count(self) -> int:
        """TempleteNum (advisory; §9 #12)."""
        return self._call("template-count", lambda f: int(f.getTemplateCount()))

    def read_template(self, slot: Slot) -> bytes:
        """LoadChar into buffer 1, then UpChar."""
        self._open_for_checks()
        self._check_slot(slot)
        budget = 2 * self.timeout_s + self._transfer_s(1024)

        def export(f: PyFingerprint) -> bytes:
            f.loadTemplate(int(slot), 1)
            return bytes(f.downloadCharacteristics(1))

        return self._call("read-template", export, budget)

    def write_template(self, slot: Slot, template: bytes) -> None:
        """DownChar into buffer 1, Store, then read the slot back and compare.

        pyfingerprint's ``uploadCharacteristics`` reads the buffer back before it returns;
        the read-back of the stored slot checks the same bytes and the flash write too, so
        the first one is skipped: a third less on the wire per template (bench/README.md).
        A template garbled on the way is caught by that read-back, and the caller clears
        the slot.
        """
        self._open_for_checks()
        self._check_slot(slot)
        data = list(template)
        budget = 2 * self.timeout_s + self._transfer_s(len(data))
        self._call("write-template", lambda f: self._down_char(f, data), budget)
        self.store(slot, CharBuffer.ONE)
        if self.read_template(slot) != bytes(template):
            raise ModuleRefused(f"write-template: slot {slot} did not verify", 0x18)

    def _down_char(self, fp: PyFingerprint, data: list[int]) -> None:
        """DownChar into CharBuffer1 and its data packets (§2.5), as pyfingerprint sends them."""
        write = fp._PyFingerprint__writePacket
        read = fp._PyFingerprint__readPacket
        write(FINGERPRINT_COMMANDPACKET, (FINGERPRINT_UPLOADCHARACTERISTICS, 1))
        kind, payload = read()
        if kind != FINGERPRINT_ACKPACKET:
            raise Exception("The received packet is no ack packet!")  # noqa: TRY002
        if payload[0] != 0x00:
            # pyfingerprint's own wording, so _classify sorts them as for its other calls.
            known = {0x01: "Communication error", 0x0E: "Could not upload characteristics"}
            raise Exception(known.get(payload[0], f"Unknown error {payload[0]:#x}"))  # noqa: TRY002
        size = self._packet_size
        chunks = [data[i : i + size] for i in range(0, len(data), size)] or [[]]
        for chunk in chunks[:-1]:
            write(FINGERPRINT_DATAPACKET, chunk)
        write(FINGERPRINT_ENDDATAPACKET, chunks[-1])
        # The data packets have no reply, so no read pushes them out of the coalescing buffer;
        # the next call would start by discarding them.
        ser = fp._PyFingerprint__serial
        if isinstance(ser, _DeadlineSerial):
            ser._send_pending()

    def health(self) -> Health:
        """The driver's current view; never touches the port."""
        with self._lock:
            return Health(
                state=self._state,
                detail=self._detail,
                link_faults=self._link_faults,
                timeouts=self._timeouts,
                reopens=self._reopens,
                power_cycles=self._power_cycles,
            )

    def probe(self) -> Health:
        """One cheap transaction (ReadSysPara) to refresh the health; never raises."""
        try:
            self._call("probe", lambda f: tuple(f.getSystemParameters()))
            with self._lock:
                self._state = SensorState.OK
        except SensorError as exc:
            log.info("sensor probe failed port=%s error=%r", self.port, str(exc))
        return self.health()

    def _open_for_checks(self) -> None:
        with self._lock:
            self._open()

    def close(self) -> None:
        """Release the port (and stop a simulator started by :func:`open_sensor`)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._drop_port()
        if self._on_close is not None:
            self._on_close()

"""SimulatedR307: a fingerprint module in software, on a pty, with a tester's controls.

The world acts on it the way gpiozero's MockPin lets a test drive a pin: :meth:`place` and
:meth:`lift` a finger, :meth:`inject` a fault, :meth:`unplug` the cable, cycle the power. Frames
are recorded in :attr:`frames` for assertions. Any client written for the real module (the
unmodified pyfingerprint included) opens :attr:`port` and cannot tell the difference.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import random
import select
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from edge.sensor.sim.faults import ONE_SHOT, Fault
from edge.sensor.sim.fingers import Quality
from edge.sensor.sim.framing import Reassembler
from edge.sensor.sim.link import PtyLink
from edge.sensor.sim.model import R307Model, Response
from edge.sensor.sim.profiles import model as model_profile
from edge.sensor.sim.profiles import timing as timing_profile

log = logging.getLogger(__name__)

TouchListener = Callable[[bool], None]


@dataclass(frozen=True, slots=True)
class Frame:
    """One chunk on the wire: ``"in"`` from the host, ``"out"`` from the module."""

    direction: str
    data: bytes
    at: float


class SimulatedR307:
    """A simulated R307/ZFM-family module on a pseudo-terminal.

    Args:
        model: module family: ``r307`` (1000 slots), ``zfm20`` (162), ``as608`` (300),
            ``r503`` (200, LED ring, wake pin).
        timing: ``instant`` for tests, ``datasheet`` for realistic delays and byte rate.
        flash_path: file that keeps the library and settings across restarts (None: in memory).
        port_path: where to publish the device path (a symlink); a temporary one by default.
        seed: seed for capture noise, for reproducible runs.
        late_s: how late a ``LATE`` reply comes (past pyfingerprint's 2 s timeout by default).
        slow_factor: how much slower every operation is under ``SLOW``.
        noise_rate: share of replies corrupted under ``NOISE``.
    """

    def __init__(
        self,
        model: str = "r307",
        timing: str = "instant",
        *,
        flash_path: str | None = None,
        port_path: str | None = None,
        seed: int | None = None,
        late_s: float = 2.5,
        slow_factor: float = 5.0,
        noise_rate: float = 0.3,
    ) -> None:
        self.model = R307Model(model_profile(model), timing_profile(timing), flash_path, seed)
        self._tmpdir: str | None = None
        if port_path is None:
            self._tmpdir = tempfile.mkdtemp(prefix="hadir-sim-")
            port_path = os.path.join(self._tmpdir, "ttyR307")
        self.link = PtyLink(port_path)
        self.late_s = late_s
        self.slow_factor = slow_factor
        self.noise_rate = noise_rate
        self.frames: collections.deque[Frame] = collections.deque(maxlen=10_000)
        self.commands_seen = 0
        self._rng = random.Random(seed)
        self._one_shot: collections.deque[Fault] = collections.deque()
        self._lasting: set[Fault] = set()
        self._lock = threading.RLock()
        self._reasm = Reassembler()
        self._wake_r, self._wake_w = os.pipe()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._touch_listeners: list[TouchListener] = []

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> str:
        """The device path a host opens (stable across unplug and replug)."""
        return self.link.path

    def start(self) -> Self:
        """Plug the module in and start answering."""
        self.link.plug()
        self._thread = threading.Thread(target=self._serve, name="sim-r307", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering, unplug, release the flash file."""
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.link.unplug()
        self.model.flash.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self._tmpdir is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self._tmpdir)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    # -- the world ---------------------------------------------------------------------------

    def place(self, finger: str, quality: Quality | str = Quality.GOOD) -> None:
        """Put ``finger`` (any label) on the glass until :meth:`lift`."""
        with self._lock:
            self.model.place(finger, Quality(quality))
        self._notify_touch(True)

    def lift(self) -> None:
        """Take the finger off the glass."""
        with self._lock:
            self.model.lift()
        self._notify_touch(False)

    def on_touch(self, listener: TouchListener) -> None:
        """Call ``listener(touching)`` when a finger lands or leaves (the module's wake line)."""
        self._touch_listeners.append(listener)

    def _notify_touch(self, touching: bool) -> None:
        if self.model.profile.has_wake_pin:
            for listener in self._touch_listeners:
                listener(touching)

    @property
    def touching(self) -> bool:
        """The wake/touch line: True while a finger is on the glass."""
        return self.model.finger is not None

    def set_poor_rate(self, rate: float) -> None:
        """Share of presses that come out dry, wet or misplaced."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"poor rate must be between 0 and 1, got {rate}")
        with self._lock:
            self.model.poor_rate = rate

    def library(self) -> dict[int, str | None]:
        """Stored slots, each with the finger it resembles (None if never placed here)."""
        with self._lock:
            out: dict[int, str | None] = {}
            for slot in sorted(self.model.library()):
                who = self.model.who_is(slot)
                out[slot] = who[0] if who else None
            return out

    # -- faults and power --------------------------------------------------------------------

    def inject(self, fault: Fault | str, count: int = 1) -> None:
        """Inject ``fault``: one-shot faults spoil the next ``count`` replies; others last."""
        fault = Fault(fault)
        with self._lock:
            if fault in ONE_SHOT:
                self._one_shot.extend([fault] * count)
            elif fault is Fault.HANG:
                self.model.hung = True
            else:
                self._lasting.add(fault)

    def clear_faults(self) -> None:
        """Remove every injected fault (a hang still needs a power cycle)."""
        with self._lock:
            self._one_shot.clear()
            self._lasting.clear()

    def active_faults(self) -> list[str]:
        """Names of the faults in force, for the tester's status line."""
        with self._lock:
            names = [f.value for f in self._one_shot] + sorted(f.value for f in self._lasting)
            if self.model.hung:
                names.append(Fault.HANG.value)
            return names

    def power_off(self) -> None:
        """Cut the module's supply (what the daemon's power MOSFET does)."""
        with self._lock:
            self.model.power_off()
            self._reasm.clear()

    def power_on(self) -> None:
        """Restore the supply; the module boots and, if its firmware does, says 0x55."""
        with self._lock:
            self.model.power_on()
            self._reasm.clear()
            self.link.flush_input()
        boot = self.model.profile.boot_byte
        if boot is not None:
            time.sleep(self.model.timing.boot_s)
            self._send(bytes((boot,)))

    def power_cycle(self) -> None:
        """Off, then on: the only cure for :attr:`Fault.HANG`."""
        self.power_off()
        self.power_on()

    def unplug(self) -> None:
        """Pull the cable: the device path disappears and the module loses power."""
        with self._lock:
            self.link.unplug()
            self.model.power_off()
            self._reasm.clear()
        self._wake()

    def replug(self) -> None:
        """Plug the cable back in: a new pty behind the same path, the module boots."""
        with self._lock:
            self.link.plug()
            self.model.power_on()
        self._wake()

    # -- serving -----------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            fds = [self._wake_r]
            with self._lock:
                if self.link.plugged:
                    fds.append(self.link.fileno())
            try:
                ready, _, _ = select.select(fds, [], [], 0.5)
            except (OSError, ValueError):
                continue  # the pty was closed under us by unplug(); pick up the new state
            if self._wake_r in ready:
                os.read(self._wake_r, 1024)
                continue
            if ready:
                self._on_bytes()

    def _on_bytes(self) -> None:
        with self._lock:
            data = self.link.read()
            if not data:
                return
            self.frames.append(Frame("in", data, time.monotonic()))
            host = self.link.host_baud()
            module = self.model.baud_n * 9600
            if Fault.WRONG_BAUD in self._lasting or (host is not None and host != module):
                # Both ends sample at the wrong rate: what comes back is noise, never a frame.
                garbage = bytes(self._rng.choice(b"\x00\x80\xf8\xfe\xff\x78\x1e") for _ in data)
                plan: list[tuple[Response, Fault | None]] = [(Response([garbage]), None)]
            else:
                plan = []
                for item in self._reasm.feed(data):
                    response = self.model.handle(item)
                    if response is None:
                        continue
                    self.commands_seen += 1
                    fault = self._one_shot.popleft() if self._one_shot else None
                    plan.append((response, fault))
        for response, fault in plan:
            self._reply(response, fault)

    def _busy(self, seconds: float) -> None:
        if Fault.SLOW in self._lasting:
            seconds *= self.slow_factor
        if seconds > 0:
            time.sleep(seconds)

    def _baud(self) -> int | None:
        return self.model.baud_n * 9600 if self.model.timing.pace_uart else None

    def _send(self, data: bytes) -> None:
        self.frames.append(Frame("out", data, time.monotonic()))
        self.link.write(data, self._baud())

    def _reply(self, response: Response, fault: Fault | None) -> None:
        self._busy(response.busy_s)
        frames = list(response.frames)
        if Fault.NOISE in self._lasting and self._rng.random() < self.noise_rate:
            first = bytearray(frames[0])
            first[self._rng.randrange(2, len(first))] ^= 1 << self._rng.randrange(8)
            frames[0] = bytes(first)
        if fault is Fault.SILENCE:
            return
        if fault is Fault.LATE:
            time.sleep(self.late_s)
        elif fault is Fault.BAD_CHECKSUM:
            first = bytearray(frames[0])
            first[-1] ^= 0x5A
            frames[0] = bytes(first)
        elif fault is Fault.STRAY_BYTE:
            frames[0] = b"\x00" + frames[0]
        elif fault is Fault.TRUNCATED:
            frames = [frames[0][: len(frames[0]) // 2]]
        elif fault is Fault.SHORT_ACK:
            frames = [_short_ack(response.frames[0])]
        elif fault is Fault.GARBAGE:
            frames = [self._rng.randbytes(len(frames[0]))]
        elif fault is Fault.BROWNOUT:
            boot = self.model.profile.boot_byte or 0x55
            self._send(frames[0][: len(frames[0]) // 2] + bytes((boot,)))
            with self._lock:
                self.model.power_off()
                self.model.power_on()
            return
        for frame in frames:
            self._send(frame)
        if response.raw_after:
            time.sleep(self.model.timing.boot_s)
            self._send(response.raw_after)
        if response.reset_after:
            with self._lock:
                self.model.power_on()


def _short_ack(frame: bytes) -> bytes:
    """A minimal 12-byte ack with code 0x01, addressed like ``frame`` (§7.2)."""
    head = frame[:6] + b"\x07\x00\x03\x01"
    total = (0x07 + 0x00 + 0x03 + 0x01) & 0xFFFF
    return head + total.to_bytes(2, "big")

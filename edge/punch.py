"""PunchLoop: finger → identify → repeat window → durable commit → "OK" (architecture.md, Punch).

The person hears "OK" only after the punch is on disk. A press that the module cannot match is
counted and signalled, never published. The same person again within the repeat window on this
terminal is told "OK" again but makes no new punch: people press twice when unsure.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from edge.clock import Clock
from edge.sensor import CharBuffer, FingerprintSensor, PoorImage, SensorError
from edge.store import Store, StoredPunch, StoreError

log = logging.getLogger(__name__)


class Signals(Protocol):
    """What the terminal shows and sounds (edge.feedback.Feedback in the daemon)."""

    def ok(self) -> None:
        """The punch is stored."""

    def unknown_finger(self) -> None:
        """No enrolled finger matched."""

    def poor_image(self) -> None:
        """Press again."""

    def set_sensor_fault(self, fault: bool) -> None:
        """The module is offline or misconfigured (a lasting state)."""

    def set_store_fault(self, fault: bool) -> None:
        """Punches cannot be stored: refuse loudly (a lasting state)."""


class Outcome(enum.Enum):
    """What one scan came to."""

    NO_FINGER = "no-finger"
    PUNCH = "punch"
    REPEAT = "repeat"
    UNKNOWN = "unknown"
    POOR_IMAGE = "poor-image"
    SENSOR_FAULT = "sensor-fault"
    STORE_FAULT = "store-fault"


@dataclass(slots=True)
class Counters:
    """Per-outcome counts since start (for the heartbeat and the logs)."""

    punches: int = 0
    repeats: int = 0
    unknown: int = 0
    poor: int = 0
    sensor_faults: int = 0
    store_faults: int = 0


class PunchLoop:
    """Turns finger presses into durable punches, one press at a time.

    Args:
        sensor: the module (the loop is the only caller while it runs).
        store: the local store (slot → person map and the outbox).
        signals: LEDs and buzzer.
        clock: UTC time, monotonic time, boot id and NTP state for each punch.
        repeat_window_s: a second press by the same person within this is not a new punch.
        poll_interval_s: how often to ask the module for a finger when no touch line is wired.
        on_punch: called after each durable punch (the publisher's wake-up).
        on_tick: called on every pass of the loop (the systemd watchdog ping and periodic jobs).
        touch: a wait function for the module's touch line, when one is wired: it blocks until
            a finger lands or the timeout passes and returns whether one did.
    """

    def __init__(
        self,
        sensor: FingerprintSensor,
        store: Store,
        signals: Signals,
        clock: Clock,
        *,
        repeat_window_s: float = 60.0,
        poll_interval_s: float = 0.15,
        on_punch: Callable[[StoredPunch], None] = lambda _: None,
        on_tick: Callable[[], None] = lambda: None,
        touch: Callable[[float], bool] | None = None,
    ) -> None:
        self.sensor = sensor
        self.store = store
        self.signals = signals
        self.clock = clock
        self.repeat_window_s = repeat_window_s
        self.poll_interval_s = poll_interval_s
        self._on_punch = on_punch
        self._on_tick = on_tick
        self._touch = touch
        self.counters = Counters()
        self._sensor_fault = False
        self._store_fault = False
        self._stop = threading.Event()

    # -- one press ---------------------------------------------------------------------------

    def scan(self) -> Outcome:
        """Look for a finger once and handle what is there."""
        try:
            if not self.sensor.read_image():
                self._set_sensor_fault(False)
                return Outcome.NO_FINGER
            self.sensor.extract(CharBuffer.ONE)
            match = self.sensor.search()
        except PoorImage as exc:
            self.counters.poor += 1
            log.info("poor image reason=%s", exc.reason)
            self.signals.poor_image()
            return Outcome.POOR_IMAGE
        except SensorError as exc:
            self.counters.sensor_faults += 1
            self._set_sensor_fault(True)
            log.warning("sensor fault error=%r", str(exc))
            return Outcome.SENSOR_FAULT
        self._set_sensor_fault(False)
        person = None if match is None else self.store.people.person_for(match.slot)
        if match is None or person is None:
            self.counters.unknown += 1
            # A template in the module that no person maps to counts as unknown too: it must
            # never be published under a guessed identity.
            log.info("unknown finger slot=%s", None if match is None else match.slot)
            self.signals.unknown_finger()
            return Outcome.UNKNOWN
        return self._commit(person, match.slot, match.score)

    def _commit(self, person: str, slot: int, score: int) -> Outcome:
        now = self.clock.utc_now()
        mono = self.clock.monotonic_ns()
        boot = self.clock.boot_id()
        try:
            if self._is_repeat(person, now, mono, boot):
                self.counters.repeats += 1
                log.info("repeated press person=%s slot=%d", person, slot)
                self.signals.ok()
                return Outcome.REPEAT
            punch = self.store.outbox.append(
                person_id=person,
                slot=slot,
                score=score,
                at=now,
                clock_synced=self.clock.is_synced(),
                boot_id=boot,
                mono_ns=mono,
            )
        except StoreError as exc:
            self.counters.store_faults += 1
            self._store_fault = True
            self.signals.set_store_fault(True)
            # Loud on purpose: the person must not walk away believing they punched.
            log.error("PUNCH NOT STORED person=%s slot=%d error=%r", person, slot, str(exc))
            return Outcome.STORE_FAULT
        if self._store_fault:
            self._store_fault = False
            self.signals.set_store_fault(False)
        self.signals.ok()
        self.counters.punches += 1
        log.info(
            "punch committed seq=%d id=%s person=%s slot=%d score=%d clock_synced=%s",
            punch.seq,
            punch.id,
            person,
            slot,
            score,
            punch.clock_synced,
        )
        self._on_punch(punch)
        return Outcome.PUNCH

    def _is_repeat(self, person: str, now: datetime, mono: int, boot: str) -> bool:
        last = self.store.outbox.last_punch_for(person)
        if last is None or self.repeat_window_s <= 0:
            return False
        if last.boot_id == boot:
            # Same boot: the monotonic clock cannot be stepped by NTP.
            return (mono - last.mono_ns) < self.repeat_window_s * 1e9
        window = timedelta(seconds=self.repeat_window_s)
        return abs(now - last.at) < window

    def _set_sensor_fault(self, fault: bool) -> None:
        if fault != self._sensor_fault:
            self._sensor_fault = fault
            self.signals.set_sensor_fault(fault)

    def wait_for_lift(self, timeout_s: float = 10.0) -> None:
        """One press, one scan: wait until the finger leaves the glass (bounded)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self._stop.is_set():
            self._on_tick()
            try:
                if not self.sensor.read_image():
                    return
            except SensorError:
                return
            time.sleep(self.poll_interval_s)

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        """Scan until :meth:`stop`; never raises for a fault of the module or the store."""
        while not self._stop.is_set():
            self._on_tick()
            # With a touch line, scan only when a finger lands (no polling); without one, or
            # while the module is faulty, poll so recovery is noticed.
            if self._touch is not None and not self._sensor_fault and not self._touch(1.0):
                continue
            outcome = self.scan()
            if outcome in (Outcome.PUNCH, Outcome.REPEAT, Outcome.UNKNOWN, Outcome.POOR_IMAGE):
                self.wait_for_lift()
            elif outcome is Outcome.SENSOR_FAULT:
                # The driver backs off by itself; do not spin on its quick refusals.
                self._stop.wait(0.5)
            elif outcome is Outcome.STORE_FAULT:
                self._stop.wait(1.0)
            else:
                self._stop.wait(self.poll_interval_s)

    def stop(self) -> None:
        """Ask :meth:`run` to return after the current scan."""
        self._stop.set()

"""Enrollment on one module: presses, duplicate check, merge, verify, store.

This is the module-level procedure only (r307-protocol.md §9 row 5 and #11): which slot, which
person and where the template goes next are the daemon's business.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

from edge.sensor.errors import DuplicateFinger, EnrollMismatch, PoorImage, SensorTimeout
from edge.sensor.protocol import CharBuffer, FingerprintSensor, Slot


class Step(enum.Enum):
    """What the person at the terminal should do next."""

    PLACE = "place"  # put the finger on the glass
    LIFT = "lift"  # take it off
    PLACE_AGAIN = "place-again"  # the same finger once more
    RETRY = "retry"  # that capture was poor; lift, and press again when asked
    DONE = "done"


StepListener = Callable[[Step], None]

PollHook = Callable[[], None]
"""Called on every poll while waiting for a finger to land or lift.

The daemon uses it to ping the systemd watchdog (a person may take longer than ``WatchdogSec``
to press three times) and to notice that the technician gave up: the hook raises, the
exception propagates out of :func:`enroll`, and nothing has been stored, since the template
is stored only after the last wait.
"""


def _no_poll() -> None:
    return None


def wait_for_finger(
    sensor: FingerprintSensor,
    timeout_s: float,
    poll_s: float = 0.15,
    present: bool = True,
    poll: PollHook = _no_poll,
) -> None:
    """Poll GenImg until a finger is on (or, with ``present=False``, off) the glass."""
    deadline = time.monotonic() + timeout_s
    while True:
        poll()
        if sensor.read_image() is present:
            return
        if time.monotonic() > deadline:
            what = "a finger" if present else "the finger to lift"
            raise SensorTimeout(f"waited {timeout_s:.0f} s for {what}")
        time.sleep(poll_s)


def _capture(
    sensor: FingerprintSensor,
    buffer: CharBuffer,
    on_step: StepListener,
    *,
    timeout_s: float,
    poll_s: float,
    poll: PollHook,
) -> None:
    while True:
        wait_for_finger(sensor, timeout_s, poll_s, poll=poll)
        try:
            sensor.extract(buffer)
            return
        except PoorImage:
            on_step(Step.RETRY)
            wait_for_finger(sensor, timeout_s, poll_s, present=False, poll=poll)
            on_step(Step.PLACE_AGAIN)


def enroll(
    sensor: FingerprintSensor,
    slot: Slot,
    on_step: StepListener = lambda _: None,
    *,
    timeout_s: float = 30.0,
    poll_s: float = 0.15,
    poll: PollHook = _no_poll,
) -> int:
    """Enroll one finger into ``slot``; returns the verification score.

    ``poll`` (see :data:`PollHook`) runs on every wait; whatever it raises ends the enrollment
    before anything is stored.

    Raises:
        DuplicateFinger: the finger is already stored (in any slot).
        EnrollMismatch: the two presses were different fingers, or the merged template does
            not match a third capture.
    """
    on_step(Step.PLACE)
    _capture(sensor, CharBuffer.ONE, on_step, timeout_s=timeout_s, poll_s=poll_s, poll=poll)
    existing = sensor.search()
    if existing is not None:
        raise DuplicateFinger(existing.slot, existing.score)
    on_step(Step.LIFT)
    wait_for_finger(sensor, timeout_s, poll_s, present=False, poll=poll)
    on_step(Step.PLACE_AGAIN)
    _capture(sensor, CharBuffer.TWO, on_step, timeout_s=timeout_s, poll_s=poll_s, poll=poll)
    sensor.merge()
    on_step(Step.LIFT)
    wait_for_finger(sensor, timeout_s, poll_s, present=False, poll=poll)
    # Some firmwares merge two different fingers without complaint (§9 #11): verify the merged
    # template against a fresh, third capture before it is stored.
    on_step(Step.PLACE_AGAIN)
    _capture(sensor, CharBuffer.TWO, on_step, timeout_s=timeout_s, poll_s=poll_s, poll=poll)
    score = sensor.compare()
    if score == 0:
        raise EnrollMismatch("the third press does not match the first two")
    sensor.store(slot, CharBuffer.ONE)
    on_step(Step.DONE)
    return score

"""The technician's operations: enroll, verify, delete, list, info, sync.

Each operation that touches the module or the template book runs as one job on the sensor
thread (``submit``, edge/jobs.py), so it never races a punch; a whole three-press enrollment is
a single job. The caller (the admin socket's connection thread) waits for the job's
:class:`~edge.admin.protocol.Reply` and receives prompts through a ``progress`` callback.

Two callbacks come from the caller and are called **on the sensor thread**, so they must not
block: ``progress`` (queue or send without waiting) and ``cancelled`` (has the technician gone
away?). While a job waits for a finger it also pings ``watchdog``: a person may take longer
than the service's ``WatchdogSec`` to press three times, and the punch loop, which normally
pings it, is waiting for this job.

What is logged: the operation, the technician's login, the slot and the person's number
masked (:func:`wire.identity.mask`), never a full NIP and never template bytes. What is
answered to the technician: the number in full (they typed it, or are authorised to list it).
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Callable
from typing import Final

from edge.admin.ports import Submit, TemplateBook
from edge.admin.protocol import Code, JSONValue, Op, Progress, Reply, Request
from edge.feedback import Feedback
from edge.prompts import say
from edge.sensor import (
    CharBuffer,
    DuplicateFinger,
    EnrollMismatch,
    FingerprintSensor,
    PoorImage,
    SensorError,
    SensorTimeout,
    Slot,
)
from edge.sensor.enrollment import Step, enroll, wait_for_finger
from edge.store.people import People
from wire.identity import (
    DEFAULT_LOCAL_PATTERN,
    InvalidIdentity,
    lookup_forms,
    mask,
    normalize,
    parse_local,
    parse_nip,
)
from wire.sync import FINGERS, RosterEntry

log = logging.getLogger(__name__)

ProgressSink = Callable[[Progress], None]
"""Receives prompts while an operation runs; called on the sensor thread, must not block."""
CancelCheck = Callable[[], bool]
"""True once the technician has gone away; called on the sensor thread, must not block."""

_NIP_LENGTH: Final = 18
_OLD_NIP: Final = 9
WARN_AT: Final = 0.9
"""Share of the library used from which an enrollment warns (design: "at 90 %")."""


def _never() -> bool:
    return False


def _ignore(_: Progress) -> None:
    return None


class _Cancelled(Exception):
    """The technician went away: stop waiting, store nothing."""


def finger_choices() -> str:
    """Every finger label with its Bahasa name, for messages and the CLI's help."""
    return ", ".join(f"{label} ({name})" for label, name in FINGERS.items())


def canonical_number(text: str, local_pattern: str = DEFAULT_LOCAL_PATTERN) -> str:
    """The number as stored: 18 bare digits for a NIP/NI PPPK, else a local register number.

    Raises:
        InvalidIdentity: the number breaks wire.identity's rules (message in Bahasa + English).
    """
    digits = normalize(text)
    # Digits only (spaces, dots, hyphens aside) and about 18 long: a BKN number, checked in
    # full, so a digit too many or too few gets parse_nip's length message. 9 digits is an old
    # NIP (parse_nip says it is a reference only). Other digit strings may be register numbers;
    # parse_local refuses a 16-digit one as a NIK.
    if digits.isdigit() and (abs(len(digits) - _NIP_LENGTH) <= 1 or len(digits) == _OLD_NIP):
        return parse_nip(text).number
    return parse_local(text, pattern=local_pattern)


class AdminService:
    """The operations behind ``hadir-edge enroll|verify|delete|list|info|sync``.

    Args:
        sensor: The module (only ever used inside jobs, on the sensor thread).
        book: The template book (slot map, roster copy, uploads, audit).
        submit: Runs a function on the sensor thread between presses (JobQueue.submit).
        feedback: The terminal's LEDs and buzzer, or None (bench, tests).
        watchdog: Pings the systemd watchdog (rate-limited by the callee); called while waiting.
        people: The store's slot map, read-only, for list, delete and naming a duplicate's
            holder; None disables list and delete.
        local_pattern: The local register number format (wire.identity).
        press_timeout_s: How long each wait for a finger to land or lift may take.
        lift_timeout_s: How long to wait, after an operation, for the finger to leave the glass
            (so the punch loop does not punch it); not an error when it stays.
        poll_s: How often the module is polled while waiting.
        queue_wait_s: How long a job may wait for the sensor thread before the answer is "busy".
    """

    def __init__(
        self,
        sensor: FingerprintSensor,
        book: TemplateBook,
        submit: Submit[Reply],
        feedback: Feedback | None,
        watchdog: Callable[[], None],
        *,
        people: People | None = None,
        local_pattern: str = DEFAULT_LOCAL_PATTERN,
        press_timeout_s: float = 30.0,
        lift_timeout_s: float = 10.0,
        poll_s: float = 0.15,
        queue_wait_s: float = 60.0,
    ) -> None:
        self._sensor = sensor
        self._book = book
        self._submit = submit
        self._feedback = feedback
        self._watchdog = watchdog
        self._people = people
        self._local_pattern = local_pattern
        self._press_timeout_s = press_timeout_s
        self._lift_timeout_s = lift_timeout_s
        self._poll_s = poll_s
        self._queue_wait_s = queue_wait_s

    # -- dispatch ----------------------------------------------------------------------------

    def handle(
        self,
        request: Request,
        by: str,
        progress: ProgressSink = _ignore,
        cancelled: CancelCheck = _never,
    ) -> Reply:
        """Run one request from the socket; ``by`` is the technician's login."""
        if request.op is Op.ENROLL:
            return self.enroll(request.number or "", request.finger or "", by, progress, cancelled)
        if request.op is Op.VERIFY:
            return self.verify(progress, cancelled)
        if request.op is Op.DELETE:
            return self.delete(request.number or "", request.finger, by, cancelled)
        if request.op is Op.LIST:
            return self.list(cancelled)
        if request.op is Op.INFO:
            return self.info(cancelled)
        return self.sync(cancelled)

    # -- enroll ------------------------------------------------------------------------------

    def enroll(
        self,
        number: str,
        finger: str,
        by: str,
        progress: ProgressSink,
        cancelled: CancelCheck = _never,
    ) -> Reply:
        """Enroll ``finger`` of the person ``number`` on this terminal, as one sensor job.

        Refuses, before any press: an invalid number or finger label, a person not in the
        roster copy, a full library. Streams the prompts to ``progress`` and the LEDs. Nothing
        is stored unless the merged template matched a third press and the book recorded it.
        """
        try:
            person = canonical_number(number, self._local_pattern)
        except InvalidIdentity as exc:
            return Reply(False, Code.INVALID_NUMBER, exc.message)
        if finger not in FINGERS:
            text = say("invalid-finger", finger=finger, choices=finger_choices())
            return Reply(False, Code.INVALID_FINGER, text)
        return self._await(
            lambda: self._enroll_job(
                person, number, finger=finger, by=by, progress=progress, cancelled=cancelled
            ),
            cancelled,
        )

    def _enroll_job(
        self,
        person: str,
        typed: str,
        *,
        finger: str,
        by: str,
        progress: ProgressSink,
        cancelled: CancelCheck,
    ) -> Reply:
        if cancelled():
            return _cancelled_reply()
        entry = self._roster_entry(person, typed)
        if entry is None:
            if self._book.roster_size() == 0:
                return Reply(False, Code.NO_ROSTER, say("no-roster"))
            return Reply(False, Code.NOT_IN_ROSTER, say("not-in-roster", number=person))
        used, capacity = self._book.capacity()
        slot = self._book.free_slot()
        if slot is None:
            log.warning("enroll refused reason=library-full used=%d capacity=%d", used, capacity)
            text = say("library-full", used=used, capacity=capacity)
            return Reply(False, Code.LIBRARY_FULL, text, {"used": used, "capacity": capacity})
        warning = None
        if capacity > 0 and used / capacity >= WARN_AT:
            warning = say(
                "capacity-warning", percent=_percent(used, capacity), used=used, capacity=capacity
            )
            progress(Progress("warning", warning))
        names = {"finger": finger, "finger_id": FINGERS[finger], "name": entry.name}
        progress(Progress("info", say("enroll-start", number=entry.number, slot=slot, **names)))
        log.info(
            "enroll start by=%s person=%s finger=%s slot=%d", by, mask(entry.number), finger, slot
        )
        try:
            score = enroll(
                self._sensor,
                Slot(slot),
                lambda step: self._on_step(step, progress),
                timeout_s=self._press_timeout_s,
                poll_s=self._poll_s,
                poll=lambda: self._poll(cancelled),
            )
        except _Cancelled:
            log.info("enroll cancelled by=%s slot=%d reason=client-gone", by, slot)
            self._show(lambda fb: fb.idle())
            return _cancelled_reply()
        except DuplicateFinger as exc:
            return self._refuse_duplicate(exc, by, progress, cancelled)
        except SensorError as exc:
            return self._enroll_failed(exc, by, slot, progress, cancelled)
        if cancelled():
            # Stored in the module a moment ago, but the technician never saw it succeed: take
            # it back, so "cancelled" keeps meaning "nothing stored".
            self._forget(slot)
            log.info("enroll cancelled by=%s slot=%d reason=client-gone-after-store", by, slot)
            return _cancelled_reply()
        try:
            template_id = self._book.record_enrollment(slot, entry.number, finger, by)
        except Exception as exc:
            # The book's transaction failed: no mapping, no upload. Clear the module's slot too,
            # or it would hold a finger nobody can be punched as.
            self._forget(slot)
            log.exception(
                "enroll record failed by=%s slot=%d error=%s", by, slot, type(exc).__name__
            )
            self._show(lambda fb: fb.unknown_finger())
            text = say("internal-error", detail=type(exc).__name__)
            return Reply(False, Code.INTERNAL, text)
        log.info(
            "enroll ok by=%s person=%s finger=%s slot=%d template=%s score=%d",
            by,
            mask(entry.number),
            finger,
            slot,
            template_id,
            score,
        )
        # Green only now: on this terminal green means "stored", and now it is.
        self._show(lambda fb: fb.ok())
        progress(Progress(Step.DONE.value, say(Step.DONE.value)))
        self._await_lift(progress, cancelled)
        data: dict[str, JSONValue] = {
            "template_id": template_id,
            "slot": slot,
            "score": score,
            "number": entry.number,
            "name": entry.name,
            "finger": finger,
            "finger_id": FINGERS[finger],
            "used": used + 1,
            "capacity": capacity,
        }
        if warning is not None:
            data["warning"] = warning
        text = say("enrolled", number=entry.number, slot=slot, score=score, **names)
        return Reply(True, Code.OK, text, data)

    def _roster_entry(self, person: str, typed: str) -> RosterEntry | None:
        # The canonical form first; then the other stored forms a typed number may have (a
        # local register number of digits and dots is kept either way, wire.identity).
        for form in dict.fromkeys([person, *lookup_forms(typed)]):
            entry = self._book.roster_entry(form)
            if entry is not None:
                return entry
        return None

    def _on_step(self, step: Step, progress: ProgressSink) -> None:
        if step is Step.DONE:
            return  # announced once the book has recorded it, not when the module stored it
        if step is Step.RETRY:
            self._show(lambda fb: fb.poor_image())
        elif step in (Step.PLACE, Step.PLACE_AGAIN):
            self._show(lambda fb: fb.idle())
        elif step is Step.LIFT:
            self._show(lambda fb: fb.captured())
        progress(Progress(step.value, say(step.value)))

    def _refuse_duplicate(
        self, exc: DuplicateFinger, by: str, progress: ProgressSink, cancelled: CancelCheck
    ) -> Reply:
        data: dict[str, JSONValue] = {"slot": exc.slot, "score": exc.score}
        held = self._people.lookup(exc.slot) if self._people is not None else None
        if held is None:
            text = say("duplicate", slot=exc.slot)
        else:
            entry = self._book.roster_entry(held.person_id)
            name = entry.name if entry is not None else "?"
            data |= {"number": held.person_id, "finger": held.finger, "name": name}
            finger_id = FINGERS.get(held.finger, held.finger)
            text = say(
                "duplicate-of",
                slot=exc.slot,
                number=held.person_id,
                finger=held.finger,
                finger_id=finger_id,
                name=name,
            )
        log.info(
            "enroll refused by=%s reason=duplicate slot=%d holder=%s",
            by,
            exc.slot,
            mask(held.person_id) if held is not None else "unmapped",
        )
        self._show(lambda fb: fb.unknown_finger())
        self._await_lift(progress, cancelled)
        return Reply(False, Code.DUPLICATE, text, data)

    def _enroll_failed(
        self,
        exc: SensorError,
        by: str,
        slot: int,
        progress: ProgressSink,
        cancelled: CancelCheck,
    ) -> Reply:
        # Order matters: SensorTimeout and PoorImage are SensorErrors too.
        if isinstance(exc, EnrollMismatch):
            code, text = Code.MISMATCH, say("mismatch")
        elif isinstance(exc, PoorImage):
            code, text = Code.POOR_IMAGE, say("enroll-poor")
        elif isinstance(exc, SensorTimeout):
            code, text = Code.TIMEOUT, say("enroll-timeout")
        else:
            code, text = Code.SENSOR, say("sensor-error", detail=exc)
        log.info("enroll failed by=%s slot=%d reason=%s error=%r", by, slot, code.value, str(exc))
        self._show(lambda fb: fb.unknown_finger())
        if code is not Code.SENSOR:
            self._await_lift(progress, cancelled)
        return Reply(False, code, text, {"detail": str(exc)})

    # -- verify ------------------------------------------------------------------------------

    def verify(self, progress: ProgressSink, cancelled: CancelCheck = _never) -> Reply:
        """Wait for a press and say whose finger it is (slot, score, person)."""
        return self._await(lambda: self._verify_job(progress, cancelled), cancelled)

    def _verify_job(self, progress: ProgressSink, cancelled: CancelCheck) -> Reply:
        if cancelled():
            return _cancelled_reply()
        progress(Progress(Step.PLACE.value, say("verify-place")))
        try:
            wait_for_finger(
                self._sensor,
                self._press_timeout_s,
                self._poll_s,
                poll=lambda: self._poll(cancelled),
            )
            self._sensor.extract(CharBuffer.ONE)
            match = self._sensor.search()
        except _Cancelled:
            return _cancelled_reply()
        except PoorImage:
            self._show(lambda fb: fb.poor_image())
            self._await_lift(progress, cancelled)
            return Reply(False, Code.POOR_IMAGE, say("retry"))
        except SensorTimeout:
            return Reply(False, Code.TIMEOUT, say("verify-timeout"))
        except SensorError as exc:
            return Reply(False, Code.SENSOR, say("offline", detail=exc), {"detail": str(exc)})
        if match is None:
            log.info("verify result=unknown")
            self._show(lambda fb: fb.unknown_finger())
            self._await_lift(progress, cancelled)
            return Reply(False, Code.UNKNOWN_FINGER, say("unknown"))
        data: dict[str, JSONValue] = {"slot": match.slot, "score": match.score}
        held = self._people.lookup(match.slot) if self._people is not None else None
        # No green here: on this terminal green means "punch stored", and nothing was.
        self._show(lambda fb: fb.idle())
        self._await_lift(progress, cancelled)
        if held is None:
            log.info("verify result=unmapped slot=%d score=%d", match.slot, match.score)
            text = say("verify-unmapped", slot=match.slot, score=match.score)
            return Reply(True, Code.OK, text, data)
        entry = self._book.roster_entry(held.person_id)
        name = entry.name if entry is not None else "?"
        data |= {"number": held.person_id, "finger": held.finger, "name": name}
        log.info(
            "verify result=match slot=%d score=%d person=%s",
            match.slot,
            match.score,
            mask(held.person_id),
        )
        text = say(
            "verify-found",
            slot=match.slot,
            score=match.score,
            number=held.person_id,
            name=name,
            finger=held.finger,
            finger_id=FINGERS.get(held.finger, held.finger),
        )
        return Reply(True, Code.OK, text, data)

    # -- delete, list, info, sync ------------------------------------------------------------

    def delete(
        self, number: str, finger: str | None, by: str, cancelled: CancelCheck = _never
    ) -> Reply:
        """Delete one finger of ``number``, or every finger when ``finger`` is None.

        The number is not checked against the identity rules or the roster: a person who left
        (gone from the roster) or a number mistyped at enrollment must still be removable.
        """
        if finger is not None and finger not in FINGERS:
            text = say("invalid-finger", finger=finger, choices=finger_choices())
            return Reply(False, Code.INVALID_FINGER, text)
        if not number.strip():
            return Reply(False, Code.INVALID_NUMBER, say("not-enrolled", number="''"))
        people = self._people
        if people is None:
            return Reply(False, Code.UNAVAILABLE, say("slot-map-unavailable"))

        def job() -> Reply:
            mappings = [
                m
                for form in dict.fromkeys([number.strip(), *lookup_forms(number)])
                for m in people.slots_of(form)
                if finger is None or m.finger == finger
            ]
            if not mappings:
                if finger is None:
                    text = say("not-enrolled", number=number)
                else:
                    text = say(
                        "finger-not-enrolled",
                        number=number,
                        finger=finger,
                        finger_id=FINGERS[finger],
                    )
                return Reply(False, Code.NOT_ENROLLED, text)
            lines: list[str] = []
            deleted: list[JSONValue] = []
            for m in mappings:
                self._book.record_deletion(m.slot, by)
                log.info(
                    "delete ok by=%s person=%s finger=%s slot=%d",
                    by,
                    mask(m.person_id),
                    m.finger,
                    m.slot,
                )
                finger_id = FINGERS.get(m.finger, m.finger)
                lines.append(
                    say(
                        "deleted",
                        number=m.person_id,
                        finger=m.finger,
                        finger_id=finger_id,
                        slot=m.slot,
                    )
                )
                deleted.append({"slot": m.slot, "number": m.person_id, "finger": m.finger})
            return Reply(True, Code.OK, "\n".join(lines), {"deleted": deleted})

        return self._await(job, cancelled)

    def list(self, cancelled: CancelCheck = _never) -> Reply:
        """Every mapped slot with its person and finger, and module slots no mapping explains."""
        people = self._people
        if people is None:
            return Reply(False, Code.UNAVAILABLE, say("slot-map-unavailable"))

        def job() -> Reply:
            entries: list[JSONValue] = []
            mappings = people.mappings()
            for m in mappings:
                entry = self._book.roster_entry(m.person_id)
                entries.append(
                    {
                        "slot": m.slot,
                        "number": m.person_id,
                        "name": entry.name if entry is not None else None,
                        "finger": m.finger,
                        "finger_id": FINGERS.get(m.finger, m.finger),
                        "mapped_at": m.mapped_at.isoformat(),
                    }
                )
            mapped = {m.slot for m in mappings}
            unmapped: list[JSONValue] = [
                int(s) for s in sorted(self._sensor.used_slots()) if s not in mapped
            ]
            text = say("listed", count=len(entries))
            return Reply(True, Code.OK, text, {"entries": entries, "unmapped_slots": unmapped})

        return self._await(job, cancelled)

    def info(self, cancelled: CancelCheck = _never) -> Reply:
        """The module's counts and capacity, % used, slots mapped, roster size, sensor state."""

        def job() -> Reply:
            used, capacity = self._book.capacity()
            roster = self._book.roster_size()
            mapped = len(self._people.mappings()) if self._people is not None else None
            state = self._sensor.health().state.value
            percent = _percent(used, capacity)
            data: dict[str, JSONValue] = {
                "used": used,
                "capacity": capacity,
                "percent": percent,
                "mapped": mapped,
                "roster": roster,
                "sensor": state,
            }
            text = say(
                "info",
                used=used,
                capacity=capacity,
                percent=percent,
                mapped="?" if mapped is None else mapped,
                roster=roster,
                sensor=state,
            )
            if capacity > 0 and used / capacity >= WARN_AT:
                warning = say("capacity-warning", percent=percent, used=used, capacity=capacity)
                text += "\n" + warning
                data["warning"] = warning
            if roster == 0:
                text += "\n" + say("no-roster")
            return Reply(True, Code.OK, text, data)

        return self._await(job, cancelled)

    def sync(self, cancelled: CancelCheck = _never) -> Reply:
        """Ask for a reconciliation with the central now (the inventory goes on the next tick)."""

        def job() -> Reply:
            self._book.request_sync()
            log.info("sync requested")
            return Reply(True, Code.OK, say("sync-requested"))

        return self._await(job, cancelled)

    # -- helpers -----------------------------------------------------------------------------

    def _await(self, job: Callable[[], Reply], cancelled: CancelCheck) -> Reply:
        """Run ``job`` on the sensor thread and wait for its reply.

        A job still queued is withdrawn when the technician leaves or the sensor thread does
        not take it within ``queue_wait_s``; once running, it is bounded by its own press
        timeouts and notices ``cancelled`` itself.
        """
        future = self._submit(job)
        queued_at = time.monotonic()
        while True:
            # wait(), not result(timeout): a job's own SensorTimeout is a TimeoutError too.
            done, _ = concurrent.futures.wait([future], timeout=0.2)
            if done:
                return future.result()
            if future.running():
                continue
            gone = cancelled()
            if (gone or time.monotonic() - queued_at > self._queue_wait_s) and future.cancel():
                if gone:
                    return _cancelled_reply()
                log.warning("admin job not started wait_s=%.0f", self._queue_wait_s)
                return Reply(False, Code.BUSY, say("busy"))

    def _poll(self, cancelled: CancelCheck) -> None:
        self._watchdog()
        if cancelled():
            raise _Cancelled

    def _await_lift(self, progress: ProgressSink, cancelled: CancelCheck) -> None:
        """Wait, briefly, for the finger to leave: else the punch loop would punch it."""
        try:
            if self._sensor.read_image():
                progress(Progress(Step.LIFT.value, say(Step.LIFT.value)))
                wait_for_finger(
                    self._sensor,
                    self._lift_timeout_s,
                    self._poll_s,
                    present=False,
                    poll=lambda: self._poll(cancelled),
                )
        except (SensorError, _Cancelled):
            pass  # the answer is already decided; a finger left on the glass is no error

    def _forget(self, slot: int) -> None:
        try:
            self._sensor.delete(Slot(slot))
        except SensorError as exc:
            # Start-up reconciliation clears a module slot no mapping explains (design doc).
            log.error("slot not cleared slot=%d error=%r", slot, str(exc))

    def _show(self, pattern: Callable[[Feedback], None]) -> None:
        if self._feedback is not None:
            pattern(self._feedback)


def _percent(used: int, capacity: int) -> int:
    return round(100 * used / capacity) if capacity > 0 else 0


def _cancelled_reply() -> Reply:
    return Reply(False, Code.CANCELLED, say("cancelled"))

"""Template ids per slot and the queue of template reports waiting for the central.

The slot map (:mod:`edge.store.people`) says whose finger a slot holds; template sync adds the
template's id for life (``wire.sync``) and who enrolled it. Every change here is one
transaction with its audit line and the report it owes the central, so a crash never leaves a
mapping without its audit or an enrollment the central will never hear of.

A report is an encoded ``wire.sync`` ``enrolled`` or ``deleted`` message, kept until the central
answers ``template_received``. There is at most one per template id: a deletion replaces an
enrollment that was never confirmed (the central must learn of the deletion; the enrollment
alone would bring the finger back). An ``enrolled`` payload holds the template sealed to the
central's key, never the template in clear; this module never logs a payload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import ColumnElement, Connection, RowMapping, delete, func, insert, select
from sqlalchemy.dialects.sqlite import insert as upsert

from edge.store.audit import append_entry
from edge.store.db import Database
from edge.store.errors import InvalidRecord, SlotTaken
from edge.store.people import MAX_FINGER_LABEL, SlotMapping
from edge.store.schema import decode_time, encode_time, person_slot, template_report

log = logging.getLogger(__name__)

ENROLLED: Final = "enrolled"
DELETED: Final = "deleted"
REPORT_KINDS: Final = (ENROLLED, DELETED)


@dataclass(frozen=True, slots=True)
class TemplateSlot:
    """One mapped slot with its template id.

    Attributes:
        slot: The module's library slot.
        person_id: Whose finger.
        finger: Which finger (``wire.sync.FINGERS``).
        template_id: The template's id; None for a mapping made before template sync.
        enrolled_by: Who enrolled it (a login, or ``central`` for an install); None if unknown.
        mapped_at: When the slot was mapped on this terminal (UTC).
    """

    slot: int
    person_id: str
    finger: str
    template_id: str | None
    enrolled_by: str | None
    mapped_at: datetime

    def mapping(self) -> SlotMapping:
        """The same slot as the plain slot map sees it."""
        return SlotMapping(self.slot, self.person_id, self.finger, self.mapped_at)


@dataclass(frozen=True, slots=True)
class Report:
    """A report to queue: ``kind`` is ``enrolled`` or ``deleted``, ``payload`` the wire bytes."""

    template_id: str
    kind: str
    payload: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.template_id:
            raise InvalidRecord("report template_id: must not be empty")
        if self.kind not in REPORT_KINDS:
            raise InvalidRecord(f"report kind: must be one of {REPORT_KINDS}, got {self.kind!r}")


@dataclass(frozen=True, slots=True)
class PendingReport:
    """A queued report and when it was queued."""

    template_id: str
    kind: str
    payload: bytes = field(repr=False)
    queued_at: datetime


@dataclass(frozen=True, slots=True)
class AuditNote:
    """The audit line a change writes in its own transaction (never a template)."""

    action: str
    actor: str
    detail: str = ""


_COLUMNS = (
    person_slot.c.slot,
    person_slot.c.person_id,
    person_slot.c.finger,
    person_slot.c.template_id,
    person_slot.c.enrolled_by,
    person_slot.c.mapped_at_us,
)


def _to_slot(row: RowMapping) -> TemplateSlot:
    return TemplateSlot(
        slot=int(row["slot"]),
        person_id=str(row["person_id"]),
        finger=str(row["finger"]),
        template_id=None if row["template_id"] is None else str(row["template_id"]),
        enrolled_by=None if row["enrolled_by"] is None else str(row["enrolled_by"]),
        mapped_at=decode_time(int(row["mapped_at_us"])),
    )


class Templates:
    """Template ids per slot, and the report queue.

    Args:
        db: The open database.
        utc_now: The clock for mapping, audit and queue times.
    """

    def __init__(self, db: Database, *, utc_now: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._utc_now = utc_now or (lambda: datetime.now(UTC))

    # -- reading -----------------------------------------------------------------------------

    def _one(self, *where: ColumnElement[bool]) -> TemplateSlot | None:
        with self._db.reading() as conn:
            row = conn.execute(select(*_COLUMNS).where(*where)).mappings().one_or_none()
        return None if row is None else _to_slot(row)

    def by_slot(self, slot: int) -> TemplateSlot | None:
        """The mapping of ``slot``, or None."""
        return self._one(person_slot.c.slot == slot)

    def by_template(self, template_id: str) -> TemplateSlot | None:
        """The slot holding ``template_id``, or None."""
        return self._one(person_slot.c.template_id == template_id)

    def by_finger(self, person_id: str, finger: str) -> TemplateSlot | None:
        """The slot holding this person's finger, or None."""
        return self._one(person_slot.c.person_id == person_id, person_slot.c.finger == finger)

    def all(self) -> list[TemplateSlot]:
        """Every mapping, by slot."""
        with self._db.reading() as conn:
            rows = conn.execute(select(*_COLUMNS).order_by(person_slot.c.slot)).mappings()
            return [_to_slot(row) for row in rows]

    # -- changing ----------------------------------------------------------------------------

    def put(
        self,
        slot: int,
        person_id: str,
        finger: str,
        template_id: str,
        *,
        enrolled_by: str,
        audit: AuditNote,
        reports: Sequence[Report] = (),
    ) -> TemplateSlot | None:
        """Map ``slot`` to a person's finger under ``template_id``, in one transaction.

        A mapping of the same person and finger in another slot is removed (a re-enrollment
        or a newer template replaces the old one); the caller clears that slot in the module.
        The audit line and ``reports`` are written in the same transaction.

        Returns:
            The mapping that was replaced, or None.

        Raises:
            InvalidRecord: An empty or over-long argument, or ``template_id`` already mapped.
            SlotTaken: ``slot`` is mapped already (the caller picked a slot it thought free).
        """
        if slot < 0 or not person_id or not template_id or not enrolled_by:
            raise InvalidRecord(
                f"slot mapping: slot must be >= 0 and person, template id and enrolled_by "
                f"non-empty (slot={slot!r})"
            )
        if not finger or len(finger) > MAX_FINGER_LABEL:
            raise InvalidRecord(f"finger: must be 1..{MAX_FINGER_LABEL} characters, got {finger!r}")
        now_us = encode_time(self._utc_now(), field="utc_now()")
        with self._db.writing() as conn:
            held = conn.execute(select(*_COLUMNS).where(person_slot.c.slot == slot)).mappings()
            taken = held.one_or_none()
            if taken is not None:
                raise SlotTaken(slot, str(taken["person_id"]), str(taken["finger"]))
            same_id = conn.execute(
                select(person_slot.c.slot).where(person_slot.c.template_id == template_id)
            ).scalar_one_or_none()
            if same_id is not None:
                raise InvalidRecord(f"template {template_id} is already mapped to slot {same_id}")
            old_row = (
                conn.execute(
                    select(*_COLUMNS).where(
                        person_slot.c.person_id == person_id, person_slot.c.finger == finger
                    )
                )
                .mappings()
                .one_or_none()
            )
            replaced = None if old_row is None else _to_slot(old_row)
            if replaced is not None:
                conn.execute(delete(person_slot).where(person_slot.c.slot == replaced.slot))
            conn.execute(
                insert(person_slot).values(
                    slot=slot,
                    person_id=person_id,
                    finger=finger,
                    mapped_at_us=now_us,
                    template_id=template_id,
                    enrolled_by=enrolled_by,
                )
            )
            detail = audit.detail
            if replaced is not None:
                detail = f"{detail} replaces slot={replaced.slot} template={replaced.template_id}"
            append_entry(
                conn,
                now_us,
                audit.action,
                actor=audit.actor,
                person_id=person_id,
                slot=slot,
                detail=detail.strip(),
            )
            for report in reports:
                self._queue(conn, report, now_us)
        log.info(
            "template mapped slot=%d person_id=%s finger=%s template=%s replaced_slot=%s",
            slot,
            person_id,
            finger,
            template_id,
            None if replaced is None else replaced.slot,
        )
        return replaced

    def remove(
        self,
        slot: int,
        *,
        audit: AuditNote,
        reports: Sequence[Report] = (),
        drop_reports: bool = False,
    ) -> TemplateSlot | None:
        """Unmap ``slot``, write the audit line and queue ``reports``, in one transaction.

        Args:
            slot: The slot to unmap.
            audit: The audit line (written even when the slot was not mapped: the caller
                cleared the module's slot all the same).
            reports: Reports to queue (a ``deleted`` for a technician's deletion).
            drop_reports: Also forget any report pending for the removed template (the
                central itself asked for the deletion, so an old ``enrolled`` must not reach
                it and bring the finger back).

        Returns:
            The mapping removed, or None if the slot was not mapped.
        """
        now_us = encode_time(self._utc_now(), field="utc_now()")
        with self._db.writing() as conn:
            row = (
                conn.execute(select(*_COLUMNS).where(person_slot.c.slot == slot))
                .mappings()
                .one_or_none()
            )
            removed = None if row is None else _to_slot(row)
            if removed is not None:
                conn.execute(delete(person_slot).where(person_slot.c.slot == slot))
                if drop_reports and removed.template_id is not None:
                    conn.execute(
                        delete(template_report).where(
                            template_report.c.template_id == removed.template_id
                        )
                    )
            append_entry(
                conn,
                now_us,
                audit.action,
                actor=audit.actor,
                person_id=None if removed is None else removed.person_id,
                slot=slot,
                detail=audit.detail
                if removed is None
                else f"{audit.detail} template={removed.template_id}".strip(),
            )
            for report in reports:
                self._queue(conn, report, now_us)
        log.info(
            "template unmapped slot=%d person_id=%s template=%s action=%s",
            slot,
            None if removed is None else removed.person_id,
            None if removed is None else removed.template_id,
            audit.action,
        )
        return removed

    # -- the report queue --------------------------------------------------------------------

    @staticmethod
    def _queue(conn: Connection, report: Report, now_us: int) -> None:
        conn.execute(
            upsert(template_report)
            .values(
                template_id=report.template_id,
                kind=report.kind,
                payload=report.payload.decode("ascii"),
                queued_at_us=now_us,
            )
            .on_conflict_do_update(
                index_elements=[template_report.c.template_id],
                set_={"kind": report.kind, "payload": report.payload.decode("ascii")},
            )
        )

    def queue(self, report: Report) -> None:
        """Queue ``report``, replacing any report pending for the same template id."""
        now_us = encode_time(self._utc_now(), field="utc_now()")
        with self._db.writing() as conn:
            self._queue(conn, report, now_us)
        log.info("template report queued template=%s kind=%s", report.template_id, report.kind)

    def pending_reports(self) -> list[PendingReport]:
        """Every report not yet confirmed by the central, oldest first."""
        query = select(
            template_report.c.template_id,
            template_report.c.kind,
            template_report.c.payload,
            template_report.c.queued_at_us,
        ).order_by(template_report.c.queued_at_us, template_report.c.template_id)
        with self._db.reading() as conn:
            return [
                PendingReport(
                    template_id=str(row["template_id"]),
                    kind=str(row["kind"]),
                    payload=str(row["payload"]).encode("ascii"),
                    queued_at=decode_time(int(row["queued_at_us"])),
                )
                for row in conn.execute(query).mappings()
            ]

    def report_count(self) -> int:
        """How many reports wait for the central."""
        with self._db.reading() as conn:
            return int(conn.execute(select(func.count()).select_from(template_report)).scalar_one())

    def drop_report(self, template_id: str, kind: str | None = None) -> bool:
        """Forget the report pending for ``template_id`` (only if of ``kind``, when given).

        Returns:
            Whether a report was dropped (False: nothing pending, a repeated confirmation).
        """
        query = delete(template_report).where(template_report.c.template_id == template_id)
        if kind is not None:
            query = query.where(template_report.c.kind == kind)
        with self._db.writing() as conn:
            dropped = conn.execute(query).rowcount
        if dropped:
            log.info("template report confirmed template=%s kind=%s", template_id, kind)
        return bool(dropped)

"""Manual corrections: a check-in or check-out added by a supervisor, or an event voided.

A correction is an audit record (domain-id.md §3.2): who, when, why. The original punch or
check-in is never changed or deleted; a void only stops it from counting (the schema has no way
to withdraw a correction yet: each stays on record). ``add_in`` / ``add_out`` supply that end of
one work day wherever the time lies (a forgotten punch with a valid reason replaces the TL4 /
PSW4 penalty).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Row, insert, select

from central.schema.attendance import correction
from central.schema.checkin import checkin
from central.schema.ingest import punch
from central.schema.registry import person, person_number

KINDS = ("add_in", "add_out", "void")
ZONE = ZoneInfo("Asia/Makassar")


class CorrectionError(ValueError):
    """A correction refused: no reason, no such event, someone else's event, a time far off."""


@dataclass(frozen=True, slots=True)
class Correction:
    """One ``correction`` row."""

    id: int
    person_id: int
    work_date: date
    kind: str
    at: datetime | None
    void_device_id: str | None
    void_seq: int | None
    void_checkin_id: str | None
    reason: str
    created_by: str
    created_at: datetime

    @property
    def void_ref(self) -> str | None:
        """The :class:`~central.attendance.rules.Event` ref this correction voids, if any."""
        if self.kind != "void":
            return None
        if self.void_checkin_id is not None:
            return f"android:{self.void_checkin_id}"
        return f"fp:{self.void_device_id}:{self.void_seq}"


def _correction(row: Row[Any]) -> Correction:
    return Correction(
        id=row.id,
        person_id=row.person_id,
        work_date=row.work_date,
        kind=row.kind,
        at=row.at,
        void_device_id=row.void_device_id,
        void_seq=row.void_seq,
        void_checkin_id=row.void_checkin_id,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _insert(conn: Connection, values: dict[str, Any], now: datetime | None) -> Correction:
    reason, by = str(values["reason"]).strip(), str(values["created_by"]).strip()
    if not reason or not by:
        raise CorrectionError("a correction needs a reason and who made it")
    if conn.execute(select(person.c.id).where(person.c.id == values["person_id"])).first() is None:
        raise CorrectionError(f"no person {values['person_id']}")
    values |= {"reason": reason, "created_by": by, "created_at": now or datetime.now(UTC)}
    new_id = conn.execute(
        insert(correction).returning(correction.c.id).values(**values)
    ).scalar_one()
    row = conn.execute(select(correction).where(correction.c.id == new_id)).one()
    return _correction(row)


def _add(
    conn: Connection,
    kind: str,
    *,
    person_id: int,
    work_date: date,
    at: datetime,
    reason: str,
    by: str,
    now: datetime | None,
) -> Correction:
    if at.tzinfo is None:
        raise CorrectionError("the time of a correction must carry its zone")
    # A night shift's check-out falls on the next calendar day; further off is a typo.
    if abs((at.astimezone(ZONE).date() - work_date).days) > 1:
        raise CorrectionError(f"{at.isoformat()} is not near work date {work_date}")
    values = {"person_id": person_id, "work_date": work_date, "kind": kind, "at": at}
    return _insert(conn, values | {"reason": reason, "created_by": by}, now)


def add_in(
    conn: Connection,
    person_id: int,
    work_date: date,
    at: datetime,
    *,
    reason: str,
    by: str,
    now: datetime | None = None,
) -> Correction:
    """Record a check-in at ``at`` for ``work_date`` (e.g. the terminal was broken)."""
    return _add(
        conn,
        "add_in",
        person_id=person_id,
        work_date=work_date,
        at=at,
        reason=reason,
        by=by,
        now=now,
    )


def add_out(
    conn: Connection,
    person_id: int,
    work_date: date,
    at: datetime,
    *,
    reason: str,
    by: str,
    now: datetime | None = None,
) -> Correction:
    """Record a check-out at ``at`` for ``work_date``."""
    return _add(
        conn,
        "add_out",
        person_id=person_id,
        work_date=work_date,
        at=at,
        reason=reason,
        by=by,
        now=now,
    )


def void_punch(
    conn: Connection,
    person_id: int,
    work_date: date,
    device_id: str,
    seq: int,
    *,
    reason: str,
    by: str,
    now: datetime | None = None,
) -> Correction:
    """Stop terminal punch ``(device_id, seq)`` of ``person_id`` from counting.

    Raises:
        CorrectionError: No such punch, or it was taken under a number the person never held.
    """
    found = conn.execute(
        select(punch.c.person, punch.c.at).where(punch.c.device_id == device_id, punch.c.seq == seq)
    ).one_or_none()
    if found is None:
        raise CorrectionError(f"no punch {device_id}/{seq}")
    holder = conn.execute(
        select(person_number.c.id).where(
            person_number.c.person_id == person_id,
            person_number.c.number == found.person,
            person_number.c.valid_from <= found.at,
            person_number.c.valid_to.is_(None) | (person_number.c.valid_to > found.at),
        )
    ).first()
    if holder is None:
        raise CorrectionError(f"punch {device_id}/{seq} is not person {person_id}'s")
    values = {
        "person_id": person_id,
        "work_date": work_date,
        "kind": "void",
        "void_device_id": device_id,
        "void_seq": seq,
    }
    return _insert(conn, values | {"reason": reason, "created_by": by}, now)


def void_checkin(
    conn: Connection,
    person_id: int,
    work_date: date,
    checkin_id: str,
    *,
    reason: str,
    by: str,
    now: datetime | None = None,
) -> Correction:
    """Stop the accepted Android check-in ``checkin_id`` of ``person_id`` from counting."""
    found = conn.execute(
        select(checkin.c.person_id, checkin.c.accepted).where(checkin.c.id == checkin_id)
    ).one_or_none()
    if found is None or found.person_id != person_id:
        raise CorrectionError(f"no check-in {checkin_id} of person {person_id}")
    values = {
        "person_id": person_id,
        "work_date": work_date,
        "kind": "void",
        "void_checkin_id": checkin_id,
    }
    return _insert(conn, values | {"reason": reason, "created_by": by}, now)


def corrections_between(
    conn: Connection, first: date, last: date, person_ids: Collection[int] | None = None
) -> list[Correction]:
    """The corrections dated ``first``..``last`` (of ``person_ids``), oldest first."""
    query = select(correction).where(correction.c.work_date.between(first, last))
    if person_ids is not None:
        query = query.where(correction.c.person_id.in_(list(person_ids)))
    rows = conn.execute(query.order_by(correction.c.created_at, correction.c.id))
    return [_correction(r) for r in rows]

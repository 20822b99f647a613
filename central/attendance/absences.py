"""Absences by date range: leave (cuti), permission (izin), sick notes, assignments (DL/DIK/WFH).

An absence covers whole days from ``start_date`` to ``end_date``; it matters only on the
person's working days (a week of CT over a weekend uses five days, §4.1). Cancelling keeps the
row with its cancellation time. Where two absences cover one day, the one entered last wins and
the other is named in the day's note, so a correction is made by entering the right one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from central.schema.attendance import ABSENCE_CODES, absence
from central.schema.registry import person


class AbsenceError(ValueError):
    """An absence refused: unknown code, reversed dates, no such person or absence."""


@dataclass(frozen=True, slots=True)
class Absence:
    """One ``absence`` row."""

    id: int
    person_id: int
    start_date: date
    end_date: date
    code: str
    reference: str
    note: str
    created_by: str
    created_at: datetime
    cancelled_at: datetime | None


def _absence(row: Row[Any]) -> Absence:
    return Absence(
        id=row.id,
        person_id=row.person_id,
        start_date=row.start_date,
        end_date=row.end_date,
        code=row.code,
        reference=row.reference,
        note=row.note,
        created_by=row.created_by,
        created_at=row.created_at,
        cancelled_at=row.cancelled_at,
    )


def get_absence(conn: Connection, absence_id: int) -> Absence:
    """The absence ``absence_id``."""
    row = conn.execute(select(absence).where(absence.c.id == absence_id)).one_or_none()
    if row is None:
        raise AbsenceError(f"no absence {absence_id}")
    return _absence(row)


def add_absence(
    conn: Connection,
    person_id: int,
    start_date: date,
    end_date: date,
    code: str,
    *,
    by: str,
    reference: str = "",
    note: str = "",
    now: datetime | None = None,
) -> Absence:
    """Record an approved absence or assignment.

    Args:
        conn: The caller's transaction.
        person_id: Who.
        start_date: First day, included.
        end_date: Last day, included.
        code: One of :data:`central.schema.attendance.ABSENCE_CODES`.
        by: Who entered it.
        reference: The SK, letter or SPT number.
        note: Free text.
        now: The entry time (default: the clock); the latest entry wins an overlap.
    """
    code = code.strip().upper()
    if code not in ABSENCE_CODES:
        raise AbsenceError(f"unknown absence code {code!r} (use {ABSENCE_CODES})")
    if end_date < start_date:
        raise AbsenceError("an absence cannot end before it starts")
    if not by.strip():
        raise AbsenceError("who entered the absence is required")
    if conn.execute(select(person.c.id).where(person.c.id == person_id)).first() is None:
        raise AbsenceError(f"no person {person_id}")
    new_id = conn.execute(
        insert(absence)
        .returning(absence.c.id)
        .values(
            person_id=person_id,
            start_date=start_date,
            end_date=end_date,
            code=code,
            reference=reference.strip(),
            note=note.strip(),
            created_by=by.strip(),
            created_at=now or datetime.now(UTC),
        )
    ).scalar_one()
    return get_absence(conn, new_id)


def cancel_absence(conn: Connection, absence_id: int, *, now: datetime | None = None) -> Absence:
    """Cancel an absence (kept, with the time it was cancelled); cancelling twice is a no-op."""
    found = get_absence(conn, absence_id)
    if found.cancelled_at is None:
        conn.execute(
            update(absence)
            .where(absence.c.id == absence_id)
            .values(cancelled_at=now or datetime.now(UTC))
        )
    return get_absence(conn, absence_id)


def absences_between(
    conn: Connection, first: date, last: date, person_ids: Collection[int] | None = None
) -> list[Absence]:
    """The absences, not cancelled, in force on a day of ``first``..``last`` (of ``person_ids``)."""
    query = select(absence).where(
        absence.c.start_date <= last,
        absence.c.end_date >= first,
        absence.c.cancelled_at.is_(None),
    )
    if person_ids is not None:
        query = query.where(absence.c.person_id.in_(list(person_ids)))
    return [_absence(r) for r in conn.execute(query.order_by(absence.c.id))]


def codes_by_day(
    absences: Collection[Absence], first: date, last: date
) -> dict[tuple[int, date], tuple[str, ...]]:
    """Each (person, day)'s absence codes, the latest entered first (the one that applies)."""
    found: dict[tuple[int, date], list[Absence]] = defaultdict(list)
    for a in absences:
        day = max(a.start_date, first)
        while day <= min(a.end_date, last):
            found[(a.person_id, day)].append(a)
            day += timedelta(days=1)
    return {
        key: tuple(a.code for a in sorted(items, key=lambda a: (a.created_at, a.id), reverse=True))
        for key, items in found.items()
    }

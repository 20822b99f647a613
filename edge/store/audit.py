"""The local audit log: who did what to the enrolled fingers on this terminal, and when.

Every enrollment action is audited (architecture.md, "Enrollment"). The terminal is implicit:
this log lives on it. Rows are only ever added; nothing here updates or deletes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, RowMapping, insert, select

from edge.store.db import Database
from edge.store.errors import InvalidRecord
from edge.store.schema import audit_event, decode_time, encode_time

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited action.

    Attributes:
        id: The entry's number on this terminal, increasing.
        at: When it happened (UTC).
        actor: Who did it (the technician's login, or ``"central"`` for pushed changes).
        action: What was done, e.g. ``"enroll"``, ``"delete"``, ``"install"``.
        person_id: Whose finger, when the action concerns one.
        slot: Which library slot, when the action concerns one.
        detail: Free text for the outcome (never a template or a NIP).
    """

    id: int
    at: datetime
    actor: str
    action: str
    person_id: str | None
    slot: int | None
    detail: str


def _to_entry(row: RowMapping) -> AuditEntry:
    return AuditEntry(
        id=int(row["id"]),
        at=decode_time(int(row["at_us"])),
        actor=str(row["actor"]),
        action=str(row["action"]),
        person_id=None if row["person_id"] is None else str(row["person_id"]),
        slot=None if row["slot"] is None else int(row["slot"]),
        detail=str(row["detail"]),
    )


def append_entry(
    conn: Connection,
    at_us: int,
    action: str,
    *,
    actor: str,
    person_id: str | None = None,
    slot: int | None = None,
    detail: str = "",
) -> int:
    """Insert one entry inside the caller's write transaction; returns its id.

    For changes that must be audited atomically with what they audit (a slot mapped and its
    audit line, in one commit): the caller's transaction commits both or neither.

    Raises:
        InvalidRecord: ``action`` or ``actor`` is empty.
    """
    if not action:
        raise InvalidRecord(f"action: must not be empty, got {action!r}")
    if not actor:
        raise InvalidRecord(f"actor: must not be empty, got {actor!r}")
    return int(
        conn.execute(
            insert(audit_event)
            .values(
                at_us=at_us,
                actor=actor,
                action=action,
                person_id=person_id,
                slot=slot,
                detail=detail,
            )
            .returning(audit_event.c.id)
        ).scalar_one()
    )


class AuditLog:
    """Append-only record of enrollment actions.

    Args:
        db: The open database.
        utc_now: The clock for each entry's ``at``.
    """

    def __init__(self, db: Database, *, utc_now: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._utc_now = utc_now or (lambda: datetime.now(UTC))

    def record(
        self,
        action: str,
        *,
        actor: str,
        person_id: str | None = None,
        slot: int | None = None,
        detail: str = "",
    ) -> AuditEntry:
        """Append one entry durably.

        Raises:
            InvalidRecord: ``action`` or ``actor`` is empty.
        """
        at_us = encode_time(self._utc_now(), field="utc_now()")
        with self._db.writing() as conn:
            entry_id = append_entry(
                conn, at_us, action, actor=actor, person_id=person_id, slot=slot, detail=detail
            )
        log.info("audit action=%s actor=%s person_id=%s slot=%s", action, actor, person_id, slot)
        return AuditEntry(entry_id, decode_time(at_us), actor, action, person_id, slot, detail)

    def recent(self, limit: int = 100) -> list[AuditEntry]:
        """Return the newest ``limit`` entries, newest first."""
        if limit < 1:
            raise InvalidRecord(f"limit: must be >= 1, got {limit!r}")
        query = (
            select(
                audit_event.c.id,
                audit_event.c.at_us,
                audit_event.c.actor,
                audit_event.c.action,
                audit_event.c.person_id,
                audit_event.c.slot,
                audit_event.c.detail,
            )
            .order_by(audit_event.c.id.desc())
            .limit(limit)
        )
        with self._db.reading() as conn:
            return [_to_entry(row) for row in conn.execute(query).mappings()]

"""The roster copy: the people the central says a technician may enroll on this terminal.

The central sends the whole roster of the terminal's site(s) (``wire.sync`` ``roster``
command); each copy replaces the previous one in one transaction, so a look-up never sees half
of two rosters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select

from edge.store.db import Database
from edge.store.errors import InvalidRecord
from edge.store.schema import encode_time, roster_entry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RosterRow:
    """One person of the roster: the number punches carry, and a name."""

    number: str
    name: str


class Roster:
    """The roster copy.

    Args:
        db: The open database.
        utc_now: The clock for ``received_at``.
    """

    def __init__(self, db: Database, *, utc_now: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._utc_now = utc_now or (lambda: datetime.now(UTC))

    def replace(self, rows: Sequence[RosterRow]) -> int:
        """Replace the whole copy with ``rows``; returns how many people it now holds.

        Raises:
            InvalidRecord: A number or name is empty, or a number repeats.
        """
        numbers = [row.number for row in rows]
        if any(not row.number or not row.name for row in rows):
            raise InvalidRecord("roster: every row needs a number and a name")
        if len(set(numbers)) != len(numbers):
            raise InvalidRecord("roster: a number appears twice")
        now_us = encode_time(self._utc_now(), field="utc_now()")
        with self._db.writing() as conn:
            conn.execute(delete(roster_entry))
            if rows:
                conn.execute(
                    insert(roster_entry),
                    [{"number": r.number, "name": r.name, "received_at_us": now_us} for r in rows],
                )
        log.info("roster replaced people=%d", len(rows))
        return len(rows)

    def get(self, number: str) -> RosterRow | None:
        """The person with this number, or None."""
        with self._db.reading() as conn:
            row = conn.execute(
                select(roster_entry.c.number, roster_entry.c.name).where(
                    roster_entry.c.number == number
                )
            ).one_or_none()
        return None if row is None else RosterRow(str(row[0]), str(row[1]))

    def size(self) -> int:
        """How many people the copy holds (0 before the central sent one)."""
        with self._db.reading() as conn:
            return int(conn.execute(select(func.count()).select_from(roster_entry)).scalar_one())

"""The slot map: which person each of the module's library slots belongs to.

The module knows only slot numbers; everything else in Hadir knows person ids. One slot holds one
finger of one person; a person may have several fingers enrolled, each in its own slot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import RowMapping, insert, select
from sqlalchemy.exc import IntegrityError

from edge.store.db import Database
from edge.store.errors import FingerTaken, InvalidRecord, SlotTaken
from edge.store.schema import decode_time, encode_time, person_slot

log = logging.getLogger(__name__)

MAX_FINGER_LABEL = 32


@dataclass(frozen=True, slots=True)
class SlotMapping:
    """One library slot and the person and finger enrolled in it.

    Attributes:
        slot: The module's library slot.
        person_id: The person enrolled there.
        finger: A short label for the finger, e.g. ``"right-index"``.
        mapped_at: When the mapping was made on this device (UTC).
    """

    slot: int
    person_id: str
    finger: str
    mapped_at: datetime


def _to_mapping(row: RowMapping) -> SlotMapping:
    return SlotMapping(
        slot=int(row["slot"]),
        person_id=str(row["person_id"]),
        finger=str(row["finger"]),
        mapped_at=decode_time(int(row["mapped_at_us"])),
    )


_COLUMNS = (
    person_slot.c.slot,
    person_slot.c.person_id,
    person_slot.c.finger,
    person_slot.c.mapped_at_us,
)


class People:
    """The slot → person map.

    Args:
        db: The open database.
        utc_now: The clock for ``mapped_at``.
    """

    def __init__(self, db: Database, *, utc_now: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._utc_now = utc_now or (lambda: datetime.now(UTC))

    def map(self, slot: int, person_id: str, finger: str) -> SlotMapping:
        """Map a slot to a person's finger.

        Mapping a slot to the very person and finger it already holds is a no-op that returns the
        existing mapping: the central may push the same template twice.

        Args:
            slot: The library slot (>= 0).
            person_id: The person (non-empty).
            finger: The finger label (non-empty, at most ``MAX_FINGER_LABEL`` characters).

        Returns:
            The mapping as stored.

        Raises:
            InvalidRecord: An argument breaks the rules above.
            SlotTaken: The slot holds another person or finger.
            FingerTaken: This person's finger is already in another slot.
        """
        if slot < 0:
            raise InvalidRecord(f"slot: must be >= 0, got {slot!r}")
        if not person_id:
            raise InvalidRecord(f"person_id: must not be empty, got {person_id!r}")
        if not finger or len(finger) > MAX_FINGER_LABEL:
            raise InvalidRecord(f"finger: must be 1..{MAX_FINGER_LABEL} characters, got {finger!r}")
        mapped_at_us = encode_time(self._utc_now(), field="utc_now()")
        with self._db.writing() as conn:
            held = (
                conn.execute(select(*_COLUMNS).where(person_slot.c.slot == slot))
                .mappings()
                .one_or_none()
            )
            if held is not None:
                existing = _to_mapping(held)
                if (existing.person_id, existing.finger) == (person_id, finger):
                    return existing
                raise SlotTaken(slot, existing.person_id, existing.finger)
            other = conn.execute(
                select(person_slot.c.slot).where(
                    person_slot.c.person_id == person_id, person_slot.c.finger == finger
                )
            ).scalar_one_or_none()
            if other is not None:
                raise FingerTaken(person_id, finger, int(other))
            try:
                conn.execute(
                    insert(person_slot).values(
                        slot=slot, person_id=person_id, finger=finger, mapped_at_us=mapped_at_us
                    )
                )
            except IntegrityError as exc:  # a backstop: the checks above already ran under the lock
                raise SlotTaken(slot, person_id, finger) from exc
        log.info("slot mapped slot=%d person_id=%s finger=%s", slot, person_id, finger)
        return SlotMapping(slot, person_id, finger, decode_time(mapped_at_us))

    def unmap(self, slot: int) -> SlotMapping | None:
        """Remove a slot's mapping.

        Returns:
            The mapping that was removed, or None if the slot was not mapped (so deletions that
            arrive twice are harmless).
        """
        with self._db.writing() as conn:
            held = (
                conn.execute(select(*_COLUMNS).where(person_slot.c.slot == slot))
                .mappings()
                .one_or_none()
            )
            if held is None:
                return None
            conn.execute(person_slot.delete().where(person_slot.c.slot == slot))
        removed = _to_mapping(held)
        log.info("slot unmapped slot=%d person_id=%s", slot, removed.person_id)
        return removed

    def person_for(self, slot: int) -> str | None:
        """Return the person_id mapped to this slot, or None for an unmapped slot."""
        with self._db.reading() as conn:
            found = conn.execute(
                select(person_slot.c.person_id).where(person_slot.c.slot == slot)
            ).scalar_one_or_none()
        return None if found is None else str(found)

    def lookup(self, slot: int) -> SlotMapping | None:
        """Return the whole mapping of this slot, or None for an unmapped slot."""
        with self._db.reading() as conn:
            row = (
                conn.execute(select(*_COLUMNS).where(person_slot.c.slot == slot))
                .mappings()
                .one_or_none()
            )
        return None if row is None else _to_mapping(row)

    def slots_of(self, person_id: str) -> list[SlotMapping]:
        """Return every slot this person is enrolled in, by slot number."""
        query = (
            select(*_COLUMNS)
            .where(person_slot.c.person_id == person_id)
            .order_by(person_slot.c.slot)
        )
        with self._db.reading() as conn:
            return [_to_mapping(row) for row in conn.execute(query).mappings()]

    def mappings(self) -> list[SlotMapping]:
        """Return every mapping, by slot number."""
        with self._db.reading() as conn:
            return [
                _to_mapping(row)
                for row in conn.execute(select(*_COLUMNS).order_by(person_slot.c.slot)).mappings()
            ]

    def used_slots(self) -> frozenset[int]:
        """Return the mapped slot numbers (to compare with the module's own list)."""
        with self._db.reading() as conn:
            return frozenset(int(s) for s in conn.execute(select(person_slot.c.slot)).scalars())

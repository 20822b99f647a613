"""The outbox: punches committed durably, numbered gap-free per device, kept until the central acks.

The delivery contract (architecture.md, "Delivery") rests on three properties this module keeps:

* :meth:`Outbox.append` returns only after the punch is on disk, so "OK" to the person means the
  punch survives a power cut.
* Sequence numbers start at 1 and have no gaps, even across ``kill -9``: the number is taken from
  a counter row in the *same* transaction as the insert, so either both reach the disk or neither.
* A punch leaves :meth:`Outbox.pending` only when the central acknowledges a seq at or beyond it
  (:meth:`Outbox.release`); a broker PUBACK never releases anything.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NewType

from sqlalchemy import RowMapping, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from edge.store.db import Database
from edge.store.errors import DuplicatePunch, InvalidRecord, UnknownSeq
from edge.store.schema import decode_time, encode_time, outbox_state, punch

log = logging.getLogger(__name__)

Seq = NewType("Seq", int)

MAX_PENDING_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class StoredPunch:
    """One punch as the outbox holds it.

    Attributes:
        seq: This device's gap-free sequence number, from 1.
        id: A UUID (canonical text form), unique across every device.
        person_id: Whom the matched slot was mapped to when the punch was taken.
        slot: The module's library slot that matched.
        score: The module's match score.
        at: Wall-clock time of the punch, UTC; trust it only if ``clock_synced``.
        clock_synced: Whether the system clock was NTP-synchronised at the time.
        boot_id: The kernel's boot id, so the central can re-base unsynchronised times.
        mono_ns: ``CLOCK_MONOTONIC`` at the punch, in nanoseconds, within ``boot_id``.
        acked_at: When the central's acknowledgement reached this device, or None if pending.
    """

    seq: Seq
    id: str
    person_id: str
    slot: int
    score: int
    at: datetime
    clock_synced: bool
    boot_id: str
    mono_ns: int
    acked_at: datetime | None

    @property
    def is_acked(self) -> bool:
        """Whether the central has acknowledged this punch."""
        return self.acked_at is not None


def _to_punch(row: RowMapping) -> StoredPunch:
    acked_us = row["acked_at_us"]
    return StoredPunch(
        seq=Seq(int(row["seq"])),
        id=str(row["id"]),
        person_id=str(row["person_id"]),
        slot=int(row["slot"]),
        score=int(row["score"]),
        at=decode_time(int(row["at_us"])),
        clock_synced=bool(row["clock_synced"]),
        boot_id=str(row["boot_id"]),
        mono_ns=int(row["mono_ns"]),
        acked_at=None if acked_us is None else decode_time(int(acked_us)),
    )


_COLUMNS = (
    punch.c.seq,
    punch.c.id,
    punch.c.person_id,
    punch.c.slot,
    punch.c.score,
    punch.c.at_us,
    punch.c.clock_synced,
    punch.c.boot_id,
    punch.c.mono_ns,
    punch.c.acked_at_us,
)


# Built once: append() is on the punch path, and building a statement per call costs more than
# SQLite's own insert (see bench/bench_outbox.py).
_NEXT_SEQ = (
    update(outbox_state)
    .where(outbox_state.c.id == 1)
    .values(last_seq=outbox_state.c.last_seq + 1)
    .returning(outbox_state.c.last_seq)
)
_INSERT_PUNCH = insert(punch)


class Outbox:
    """The device's durable queue of punches for the central.

    Args:
        db: The open database.
        utc_now: The clock for ``acked_at``; the daemon passes its :class:`Clock`'s, tests a fake.
    """

    def __init__(self, db: Database, *, utc_now: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._utc_now = utc_now or (lambda: datetime.now(UTC))

    def append(
        self,
        *,
        person_id: str,
        slot: int,
        score: int,
        at: datetime,
        clock_synced: bool,
        boot_id: str,
        mono_ns: int,
        punch_id: str | None = None,
    ) -> StoredPunch:
        """Commit one punch durably and give it the next sequence number.

        When this returns, the punch is on disk (WAL, ``synchronous=FULL``); only then may the
        person be told "OK". If it raises, nothing was stored and no seq was used up.

        Args:
            person_id: Whom the slot is mapped to.
            slot: The matched library slot (>= 0).
            score: The match score (>= 0).
            at: The punch time; must be timezone-aware (stored as UTC).
            clock_synced: Whether the system clock was synchronised.
            boot_id: The kernel boot id.
            mono_ns: The monotonic clock in nanoseconds (>= 0).
            punch_id: A UUID for the punch; a fresh uuid4 when omitted.

        Returns:
            The punch as stored, with its ``seq`` and ``id``.

        Raises:
            InvalidRecord: A field breaks the rules above.
            DuplicatePunch: ``punch_id`` is already in the outbox.
            StoreUnavailable: Disk full, read-only file system or I/O error: not stored.
            StoreBusy: The write lock was not granted in time: not stored.
        """
        at_us = encode_time(at, field="at")
        row_id = _canonical_uuid(punch_id) if punch_id is not None else str(uuid.uuid4())
        _require(bool(person_id), "person_id", person_id, "must not be empty")
        _require(bool(boot_id), "boot_id", boot_id, "must not be empty")
        _require(slot >= 0, "slot", slot, "must be >= 0")
        _require(score >= 0, "score", score, "must be >= 0")
        _require(mono_ns >= 0, "mono_ns", mono_ns, "must be >= 0")
        with self._db.writing() as conn:
            seq = int(conn.execute(_NEXT_SEQ).scalar_one())
            try:
                conn.execute(
                    _INSERT_PUNCH,
                    {
                        "seq": seq,
                        "id": row_id,
                        "person_id": person_id,
                        "slot": slot,
                        "score": score,
                        "at_us": at_us,
                        "clock_synced": clock_synced,
                        "boot_id": boot_id,
                        "mono_ns": mono_ns,
                    },
                )
            except IntegrityError as exc:
                # Raising rolls back the counter too, so the seq is not used up.
                raise DuplicatePunch(row_id) from exc
        log.debug("punch stored seq=%d id=%s person_id=%s slot=%d", seq, row_id, person_id, slot)
        return StoredPunch(
            seq=Seq(seq),
            id=row_id,
            person_id=person_id,
            slot=slot,
            score=score,
            at=decode_time(at_us),
            clock_synced=clock_synced,
            boot_id=boot_id,
            mono_ns=mono_ns,
            acked_at=None,
        )

    def pending(self, limit: int = 100, *, after: int = 0) -> list[StoredPunch]:
        """Return up to ``limit`` unacknowledged punches with seq > ``after``, in seq order.

        Args:
            limit: The most punches to return (1 to ``MAX_PENDING_BATCH``).
            after: Skip punches up to this seq (those already in flight).

        Raises:
            InvalidRecord: ``limit`` is out of range.
        """
        _require(1 <= limit <= MAX_PENDING_BATCH, "limit", limit, f"must be 1..{MAX_PENDING_BATCH}")
        query = (
            select(*_COLUMNS)
            .where(punch.c.acked_at_us.is_(None), punch.c.seq > after)
            .order_by(punch.c.seq)
            .limit(limit)
        )
        with self._db.reading() as conn:
            return [_to_punch(row) for row in conn.execute(query).mappings()]

    def release(self, upto: Seq) -> int:
        """Mark every punch with seq <= ``upto`` as acknowledged by the central.

        Cumulative and idempotent: releasing the same or an older ``upto`` again changes nothing,
        so duplicated or reordered acks are harmless.

        Args:
            upto: The highest contiguous seq the central has committed.

        Returns:
            How many punches this call acknowledged (0 for a repeat).

        Raises:
            UnknownSeq: ``upto`` is negative or beyond :meth:`last_seq`; nothing is changed.
        """
        acked_at_us = encode_time(self._utc_now(), field="utc_now()")
        with self._db.writing() as conn:
            state = conn.execute(
                select(outbox_state.c.last_seq, outbox_state.c.acked_upto).where(
                    outbox_state.c.id == 1
                )
            ).one()
            last_seq, acked_upto = int(state.last_seq), int(state.acked_upto)
            if upto < 0 or upto > last_seq:
                raise UnknownSeq(upto, last_seq)
            if upto <= acked_upto:
                return 0
            # Rows at or below acked_upto are acknowledged already (or pruned): skip them.
            released = conn.execute(
                update(punch)
                .where(punch.c.seq > acked_upto, punch.c.seq <= upto, punch.c.acked_at_us.is_(None))
                .values(acked_at_us=acked_at_us)
            ).rowcount
            conn.execute(update(outbox_state).where(outbox_state.c.id == 1).values(acked_upto=upto))
        log.info("outbox released upto=%d released=%d", upto, released)
        return int(released)

    def depth(self) -> int:
        """Return how many punches wait for the central's acknowledgement."""
        query = select(func.count()).select_from(punch).where(punch.c.acked_at_us.is_(None))
        with self._db.reading() as conn:
            return int(conn.execute(query).scalar_one())

    def last_seq(self) -> Seq:
        """Return the highest seq ever assigned on this device (0 before the first punch)."""
        with self._db.reading() as conn:
            return Seq(int(conn.execute(select(outbox_state.c.last_seq)).scalar_one()))

    def acked_upto(self) -> Seq:
        """Return the highest seq the central has acknowledged (0 before the first ack)."""
        with self._db.reading() as conn:
            return Seq(int(conn.execute(select(outbox_state.c.acked_upto)).scalar_one()))

    def get(self, seq: Seq) -> StoredPunch | None:
        """Return the punch with this seq, or None if never assigned or pruned."""
        with self._db.reading() as conn:
            row = conn.execute(select(*_COLUMNS).where(punch.c.seq == seq)).mappings().one_or_none()
        return None if row is None else _to_punch(row)

    def last_punch_for(self, person_id: str) -> StoredPunch | None:
        """Return this person's most recent punch on this device, acknowledged or not.

        "Most recent" is by seq (commit order), not by ``at``: a clock step must not make an old
        punch look new. The punch loop compares ``mono_ns`` (same ``boot_id``) or ``at`` to apply
        its repeat window.
        """
        query = (
            select(*_COLUMNS)
            .where(punch.c.person_id == person_id)
            .order_by(punch.c.seq.desc())
            .limit(1)
        )
        with self._db.reading() as conn:
            row = conn.execute(query).mappings().one_or_none()
        return None if row is None else _to_punch(row)

    def prune(self, older_than: datetime) -> int:
        """Delete acknowledged punches taken before ``older_than``; never an unacknowledged one.

        Args:
            older_than: The retention cutoff (timezone-aware), e.g. now minus 90 days.

        Returns:
            How many punches were deleted.
        """
        cutoff_us = encode_time(older_than, field="older_than")
        with self._db.writing() as conn:
            deleted = conn.execute(
                punch.delete().where(punch.c.acked_at_us.is_not(None), punch.c.at_us < cutoff_us)
            ).rowcount
        log.info("outbox pruned older_than=%s deleted=%d", older_than.isoformat(), deleted)
        return int(deleted)


def _canonical_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise InvalidRecord(f"punch_id: must be a UUID, got {value!r}") from exc


def _require(ok: bool, field: str, value: object, rule: str) -> None:
    if not ok:
        raise InvalidRecord(f"{field}: {rule}, got {value!r}")

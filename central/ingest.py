"""Ingest: punch batches stored once by (device, seq), statuses, dead letters, delivery state.

Everything here runs inside the caller's transaction; the collector acknowledges to the broker
and to the device only after that transaction committed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Executable, and_, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from central.schema import dead_letter, device, punch
from wire import PunchBatch, Status

log = logging.getLogger(__name__)

MAX_DEAD_LETTER_BYTES = 64 * 1024


class UnknownDevice(LookupError):
    """Punches from a device the registry does not know: kept out until it is registered."""


@dataclass(slots=True)
class DeviceResult:
    """What one transaction did for one device."""

    inserted: int = 0
    duplicates: int = 0
    # seqs that already exist with another punch id: the device's store was reset or cloned.
    conflicts: list[int] = field(default_factory=list)
    acked_upto: int = 0

    @property
    def ack(self) -> int:
        """The cumulative ack to send: never past a seq whose punch we could not store."""
        if self.conflicts:
            return min(self.acked_upto, min(self.conflicts) - 1)
        return self.acked_upto


def _insert_ignore(conn: Connection) -> Executable:
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(punch).on_conflict_do_nothing()
    if name == "sqlite":
        return sqlite.insert(punch).on_conflict_do_nothing()
    return insert(punch)


def store_batches(
    conn: Connection, batches: Sequence[PunchBatch], now: datetime
) -> dict[str, DeviceResult]:
    """Store every punch of ``batches`` once; return per-device results (for the acks).

    Raises:
        UnknownDevice: a batch comes from a device that is not registered.
    """
    by_device: dict[str, dict[int, tuple[PunchBatch, int]]] = {}
    for batch in batches:
        seqs = by_device.setdefault(batch.device, {})
        for i, p in enumerate(batch.punches):
            seqs.setdefault(p.seq, (batch, i))
    known = {
        row[0] for row in conn.execute(select(device.c.id).where(device.c.id.in_(list(by_device))))
    }
    missing = set(by_device) - known
    if missing:
        raise UnknownDevice(", ".join(sorted(missing)))
    results: dict[str, DeviceResult] = {}
    rows = []
    # Devices in one order everywhere: two collectors locking device rows in different orders
    # deadlock on PostgreSQL (seen in bench_central.py with two collectors).
    for dev in sorted(by_device):
        seqs = by_device[dev]
        result = results[dev] = DeviceResult()
        existing: dict[int, str] = {
            int(seq): str(pid)
            for seq, pid in conn.execute(
                select(punch.c.seq, punch.c.id).where(
                    and_(
                        punch.c.device_id == dev,
                        punch.c.seq.between(min(seqs), max(seqs)),
                    )
                )
            )
        }
        for seq, (batch, i) in sorted(seqs.items()):
            p = batch.punches[i]
            if seq in existing:
                if existing[seq] == p.id:
                    result.duplicates += 1
                else:
                    result.conflicts.append(seq)
                continue
            rows.append(
                {
                    "device_id": dev,
                    "seq": seq,
                    "id": p.id,
                    "person": p.person,
                    "slot": p.slot,
                    "score": p.score,
                    "at": p.at,
                    "clock_synced": p.clock_synced,
                    "boot_id": p.boot_id,
                    "mono_ns": p.mono_ns,
                    "received_at": now,
                }
            )
            result.inserted += 1
    if rows:
        # DO NOTHING covers a second collector storing the same resend at the same moment.
        conn.execute(_insert_ignore(conn), rows)
    for dev, result in results.items():
        if result.conflicts:
            log.error(
                "seq reused with another punch id device=%s seqs=%s: the device's store was "
                "reset or cloned; its punches are held until the device is re-registered",
                dev,
                result.conflicts[:10],
            )
        result.acked_upto = _advance(conn, dev, max(by_device[dev]))
    return results


def _advance(conn: Connection, dev: str, highest: int) -> int:
    """Move the device's contiguous watermark forward; return it."""
    acked = int(conn.execute(select(device.c.acked_upto).where(device.c.id == dev)).scalar_one())
    while True:
        seqs = list(
            conn.execute(
                select(punch.c.seq)
                .where(and_(punch.c.device_id == dev, punch.c.seq > acked))
                .order_by(punch.c.seq)
                .limit(5000)
            ).scalars()
        )
        moved = False
        for s in seqs:
            if s != acked + 1:
                break
            acked = s
            moved = True
        if not moved or len(seqs) < 5000:
            break
    conn.execute(
        update(device)
        .where(and_(device.c.id == dev, device.c.acked_upto < acked))
        .values(acked_upto=acked)
    )
    conn.execute(
        update(device)
        .where(and_(device.c.id == dev, device.c.highest_seq < highest))
        .values(highest_seq=highest)
    )
    return acked


def record_status(conn: Connection, status: Status, now: datetime) -> bool:
    """Update a device's row from a heartbeat or last will; False if the device is unknown."""
    values: dict[str, object] = {"online": status.online, "last_status_at": now}
    if status.online:
        values.update(
            sensor=status.sensor,
            templates_used=status.templates_used,
            templates_capacity=status.templates_capacity,
            outbox_depth=status.outbox_depth,
            clock_synced=status.clock_synced,
            versions=json.dumps(dict(status.versions), sort_keys=True),
        )
        if status.at is not None:
            values["clock_skew_ms"] = round((status.at - now).total_seconds() * 1000)
    done = conn.execute(update(device).where(device.c.id == status.device).values(**values))
    if done.rowcount == 0:
        return False
    if status.online and status.outbox_depth == 0 and status.at is not None:
        # Everything the device took before this heartbeat has been acknowledged by us, and
        # it releases only what we committed: the day is complete up to here. The earlier of
        # its clock and ours, so a fast device clock cannot push the mark into the future.
        mark = min(status.at, now)
        conn.execute(
            update(device)
            .where(
                and_(
                    device.c.id == status.device,
                    (device.c.complete_upto.is_(None)) | (device.c.complete_upto < mark),
                )
            )
            .values(complete_upto=mark)
        )
    return True


def record_dead_letter(
    conn: Connection,
    *,
    topic: str,
    payload: bytes,
    reason: str,
    now: datetime,
    device_id: str | None = None,
) -> None:
    """Keep a refused message with its reason (truncated to 64 KiB)."""
    conn.execute(
        insert(dead_letter).values(
            received_at=now,
            topic=topic[:1000],
            device_id=device_id,
            reason=reason[:2000],
            payload=bytes(payload[:MAX_DEAD_LETTER_BYTES]),
            payload_size=len(payload),
        )
    )


def missing_seqs(conn: Connection, dev: str) -> list[tuple[int, int]]:
    """Gaps in a device's sequence as inclusive ranges, from the watermark to the highest seq."""
    row = conn.execute(
        select(device.c.acked_upto, device.c.highest_seq).where(device.c.id == dev)
    ).one_or_none()
    if row is None:
        return []
    acked, highest = int(row[0]), int(row[1])
    seqs: Iterable[int] = conn.execute(
        select(punch.c.seq)
        .where(and_(punch.c.device_id == dev, punch.c.seq > acked))
        .order_by(punch.c.seq)
    ).scalars()
    gaps, expect = [], acked + 1
    for s in seqs:
        if s > expect:
            gaps.append((expect, s - 1))
        expect = s + 1
    if expect <= highest:
        gaps.append((expect, highest))
    return gaps

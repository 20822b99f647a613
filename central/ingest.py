"""Ingest: punch batches stored once by (device, seq), statuses, dead letters, delivery state.

Everything here runs inside the caller's transaction; the collector acknowledges to the broker
and to the device only after that transaction committed.
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import Connection, Dialect, and_, bindparam, case, insert, select, update

from central.schema import dead_letter, device, punch
from wire import Punch, PunchBatch, Status

log = logging.getLogger(__name__)

MAX_DEAD_LETTER_BYTES = 64 * 1024


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: times are stored in UTC")
    return at.astimezone(UTC)


class UnknownDevice(LookupError):
    """Punches from a device the registry does not know: kept out until it is registered."""


@dataclass(slots=True)
class DeviceResult:
    """What one transaction did for one device."""

    inserted: int = 0
    duplicates: int = 0
    # seqs that already exist with another punch id: the device's store was reset or cloned.
    conflicts: list[int] = field(default_factory=list)
    # seqs not stored because their punch id is already stored under another (device, seq).
    id_taken: list[int] = field(default_factory=list)
    acked_upto: int = 0

    @property
    def ack(self) -> int:
        """The cumulative ack to send: never past a seq whose punch we could not store."""
        held = self.conflicts + self.id_taken
        if held:
            return min(self.acked_upto, min(held) - 1)
        return self.acked_upto


# The punch columns in the order of the rows :func:`store_batches` builds.
_PUNCH_COLUMNS: Final = (
    "device_id",
    "seq",
    "id",
    "person",
    "slot",
    "score",
    "at",
    "clock_synced",
    "boot_id",
    "mono_ns",
    "received_at",
)
# Rows per SQLite INSERT: 5,500 parameters, under SQLite's 32,766 (since 3.32; older builds
# allow 999, which _rows_per_insert reads from the connection).
_MAX_ROWS_PER_INSERT: Final = 500
_Row = tuple[str, int, str, str, int, int, object, bool, str, int]
_PG_ARRAY_TYPES: Final = (
    "text",
    "bigint",
    "text",
    "text",
    "integer",
    "integer",
    "timestamptz",
    "boolean",
    "text",
    "bigint",
)


def _columns(dialect: Dialect) -> str:
    quote = dialect.identifier_preparer.quote
    return ",".join(quote(c) for c in _PUNCH_COLUMNS)


# The statements are written out rather than compiled by SQLAlchemy so that the values go to
# the driver as they are: SQLAlchemy's per-row parameter processing (and on SQLite its DATETIME
# formatting) cost more than the insert itself, and psycopg's executemany sends one INSERT per
# row. DO NOTHING covers a second collector storing the same resend at the same moment; the
# rows it skipped are missing from RETURNING and looked at again by the caller. Only our
# identifiers and placeholders go into the text; every value is a parameter.


@functools.lru_cache(maxsize=32)
def _sqlite_insert(dialect: Dialect, rows: int) -> str:
    """INSERT ... VALUES (?, ...) x rows ... RETURNING device_id, seq."""
    one = "(" + ",".join(["?"] * len(_PUNCH_COLUMNS)) + ")"
    return (
        f"INSERT INTO punch ({_columns(dialect)}) VALUES {','.join([one] * rows)} "  # noqa: S608
        "ON CONFLICT DO NOTHING RETURNING device_id, seq"
    )


@functools.lru_cache(maxsize=32)
def _postgres_insert(dialect: Dialect) -> str:
    """INSERT ... SELECT FROM unnest(one array per column) ... RETURNING device_id, seq.

    One short statement whatever the row count, so psycopg parses it once and prepares it,
    where a multi-row VALUES is neither cached nor prepared past 50 parameters.
    """
    arrays = ",".join(f"%b::{kind}[]" for kind in _PG_ARRAY_TYPES)
    return (
        f"INSERT INTO punch ({_columns(dialect)}) "  # noqa: S608
        f"SELECT *, %s::timestamptz FROM unnest({arrays}) "
        "ON CONFLICT DO NOTHING RETURNING device_id, seq"
    )


def _rows_per_insert(conn: Connection) -> int:
    raw = conn.connection.driver_connection
    if isinstance(raw, sqlite3.Connection):
        limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        return max(1, min(_MAX_ROWS_PER_INSERT, limit // len(_PUNCH_COLUMNS)))
    return _MAX_ROWS_PER_INSERT


def _sqlite_time(at: datetime) -> str:
    # What SQLAlchemy's UtcDateTime and SQLite DATETIME store (UTC, no offset, microseconds),
    # so rows written here and through SQLAlchemy compare and read back alike.
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _insert_ignore(
    conn: Connection, rows: list[_Row], received_at: datetime
) -> set[tuple[str, int]]:
    """Insert ``rows`` where (device, seq) and id are free; return the (device, seq) stored.

    The rows' ``at`` (index 6) is already in the form the dialect stores.
    """
    name = conn.dialect.name
    stored: set[tuple[str, int]] = set()
    if not rows:
        return stored
    if name == "postgresql":
        columns = [list(column) for column in zip(*rows, strict=True)]
        result = conn.exec_driver_sql(_postgres_insert(conn.dialect), (received_at, *columns))
        stored.update((dev, seq) for dev, seq in result.all())
    elif name == "sqlite":
        received = _sqlite_time(received_at)
        step = _rows_per_insert(conn)
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            params = tuple(value for row in chunk for value in (*row, received))
            result = conn.exec_driver_sql(_sqlite_insert(conn.dialect, len(chunk)), params)
            stored.update((dev, seq) for dev, seq in result.all())
    else:
        raise NotImplementedError(f"punches are stored on SQLite or PostgreSQL, not {name}")
    return stored


def store_batches(
    conn: Connection,
    batches: Sequence[PunchBatch],
    now: datetime,
    *,
    lock_also: Iterable[str] = (),
) -> dict[str, DeviceResult]:
    """Store every punch of ``batches`` once; return per-device results (for the acks).

    The rows of the batches' devices, and of ``lock_also`` (devices the caller updates later
    in the same transaction, e.g. from heartbeats), are locked together in device order.

    Raises:
        UnknownDevice: a batch comes from a device that is not registered.
    """
    by_device: dict[str, dict[int, Punch]] = {}
    for batch in batches:
        seqs = by_device.setdefault(batch.device, {})
        for p in batch.punches:
            seqs.setdefault(p.seq, p)
    # Rows in (device, seq) order: two collectors storing the same resend wait on each other's
    # rows in one order, as they do on the device rows (lock_devices).
    devices = sorted(by_device)
    known = {row[0] for row in conn.execute(select(device.c.id).where(device.c.id.in_(devices)))}
    missing = set(devices) - known
    if missing:
        raise UnknownDevice(", ".join(sorted(missing)))
    stamp: Callable[[datetime], object] = _sqlite_time if conn.dialect.name == "sqlite" else _utc
    rows: list[_Row] = [
        (
            dev,
            seq,
            p.id,
            p.person,
            p.slot,
            p.score,
            stamp(p.at),
            p.clock_synced,
            p.boot_id,
            p.mono_ns,
        )
        for dev in devices
        for seq, p in sorted(by_device[dev].items())
    ]
    stored = _insert_ignore(conn, rows, _utc(now))
    results: dict[str, DeviceResult] = {}
    # Seqs that hold a punch now: ours, or one already there (for the watermark).
    present: dict[str, set[int]] = {}
    for dev in devices:
        seqs = by_device[dev]
        result = results[dev] = DeviceResult()
        mine = present[dev] = {seq for seq in seqs if (dev, seq) in stored}
        result.inserted = len(mine)
        skipped = sorted(seqs.keys() - mine)
        if not skipped:
            continue
        existing: dict[int, str] = {
            int(seq): str(pid)
            for seq, pid in conn.execute(
                select(punch.c.seq, punch.c.id).where(
                    and_(punch.c.device_id == dev, punch.c.seq.between(skipped[0], skipped[-1]))
                )
            )
        }
        for seq in skipped:
            if seq not in existing:
                # The seq is free but the punch id is stored under another (device, seq).
                result.id_taken.append(seq)
                continue
            present[dev].add(seq)
            if existing[seq] == seqs[seq].id:
                result.duplicates += 1
            else:
                result.conflicts.append(seq)
    for dev, result in results.items():
        if result.conflicts:
            log.error(
                "seq reused with another punch id device=%s seqs=%s: the device's store was "
                "reset or cloned; its punches are held until the device is re-registered",
                dev,
                result.conflicts[:10],
            )
        if result.id_taken:
            log.error(
                "punch id already stored under another seq device=%s seqs=%s: held back",
                dev,
                result.id_taken[:10],
            )
    # Locked after the insert, not before: two collectors' inserts then run side by side, and
    # only the short tail of each transaction waits for the other's commit.
    state = lock_devices(conn, set(devices).union(lock_also))
    _advance(conn, state, present, {dev: max(by_device[dev]) for dev in devices}, results)
    return results


def lock_devices(conn: Connection, devices: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Lock the devices' rows in id order; return their (acked_upto, highest_seq).

    Every transaction that updates device rows takes them here first, in one order, so two
    collectors cannot deadlock on them (PostgreSQL; SQLite has one writer at a time). Read
    under the lock, the values are the latest committed ones, so the watermark computed from
    them misses nothing another collector stored and committed.
    """
    return {
        str(dev): (int(acked), int(high))
        for dev, acked, high in conn.execute(
            select(device.c.id, device.c.acked_upto, device.c.highest_seq)
            .where(device.c.id.in_(sorted(set(devices))))
            .order_by(device.c.id)
            .with_for_update()
        )
    }


_ADVANCE: Final = (
    update(device)
    .where(device.c.id == bindparam("dev"))
    .values(
        acked_upto=case(
            (device.c.acked_upto < bindparam("acked"), bindparam("acked")),
            else_=device.c.acked_upto,
        ),
        highest_seq=case(
            (device.c.highest_seq < bindparam("highest"), bindparam("highest")),
            else_=device.c.highest_seq,
        ),
    )
)


def _advance(
    conn: Connection,
    state: dict[str, tuple[int, int]],
    present: dict[str, set[int]],
    highest: dict[str, int],
    results: dict[str, DeviceResult],
) -> None:
    """Move each device's contiguous watermark and highest seq forward (rows locked already)."""
    devices = sorted(present)
    changes = []
    for dev in devices:
        acked, high = state[dev]
        seen = present[dev]
        upto = acked
        while upto + 1 in seen:
            upto += 1
        # highest_seq is raised in the transaction that stores a seq, so a committed punch
        # above it cannot exist: past it, the seqs walked above are all there is.
        if upto < high:
            upto = _walk(conn, dev, upto)
        results[dev].acked_upto = upto
        if upto > acked or highest[dev] > high:
            changes.append({"dev": dev, "acked": upto, "highest": highest[dev]})
    if changes:
        conn.execute(_ADVANCE, changes)


def _walk(conn: Connection, dev: str, acked: int) -> int:
    """The contiguous watermark from ``acked`` on, by the punches in the table."""
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

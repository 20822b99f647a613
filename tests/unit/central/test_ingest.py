"""store_batches on SQLite and PostgreSQL: the rows it writes, duplicates, conflicts, watermarks."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from central.db import make_engine, upgrade
from central.devices import add_device
from central.ingest import lock_devices, missing_seqs, record_status, store_batches
from central.schema import device, punch
from tests.db import database
from wire import Punch, PunchBatch, Status

A, B, C = "terminal-a", "terminal-b", "terminal-c"
NOW = datetime(2026, 11, 29, 21, 0, 0, 123456, tzinfo=UTC)


def _with_devices(url: str) -> Iterator[Engine]:
    e = make_engine(url)
    with e.begin() as conn:
        for dev in (A, B, C):
            add_device(conn, dev, NOW)
    yield e
    e.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    yield from _with_devices(db_url)


@pytest.fixture
def pg_engine(tmp_path: Path) -> Iterator[Engine]:
    """PostgreSQL only: SQLite has one writer at a time, so its writers cannot deadlock."""
    with database("postgres", tmp_path) as url:
        upgrade(url)
        yield from _with_devices(url)


def mk(seq: int, **changes: Any) -> Punch:
    values: dict[str, Any] = {
        "seq": seq,
        "id": str(uuid.uuid4()),
        "person": "198609262015051001",
        "slot": 7,
        "score": 120,
        "at": datetime(2026, 11, 30, 0, 30, 0, 250000, tzinfo=UTC),
        "clock_synced": True,
        "boot_id": "boot-1",
        "mono_ns": seq * 1000,
    }
    values.update(changes)
    return Punch(**values)


def batch(dev: str, *punches: Punch) -> PunchBatch:
    return PunchBatch(dev, punches)  # type: ignore[arg-type]


def store(engine: Engine, *batches: PunchBatch, now: datetime = NOW) -> dict[str, Any]:
    with engine.begin() as conn:
        return dict(store_batches(conn, list(batches), now))


def raw_rows(engine: Engine) -> list[tuple[Any, ...]]:
    """The rows as the driver gives them: SQLite's DATETIME text, PostgreSQL's timestamptz."""
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.exec_driver_sql(
                "SELECT device_id, seq, id, person, slot, score, at, clock_synced, boot_id, "
                "mono_ns, received_at FROM punch ORDER BY device_id, seq"
            )
        ]


def state(engine: Engine, dev: str) -> tuple[int, int]:
    with engine.connect() as conn:
        row = conn.execute(
            select(device.c.acked_upto, device.c.highest_seq).where(device.c.id == dev)
        ).one()
    return int(row[0]), int(row[1])


def test_rows_are_those_sqlalchemy_would_write(engine: Engine) -> None:
    # Edge values of every column, and a clock that is not in UTC.
    punches = [
        mk(1),
        mk(2, at=datetime(2026, 1, 1, tzinfo=UTC), clock_synced=False, slot=0, score=0),
        mk(3, slot=65535, score=65535, mono_ns=2**63 - 1, person="Ānanda Ṣ. 李", boot_id="b€"),
        mk(2**63 - 1, at=datetime(1, 1, 1, tzinfo=UTC), mono_ns=0),
    ]
    now = datetime(2026, 11, 30, 5, 0, 0, 1, tzinfo=timezone(timedelta(hours=8)))
    results = store(engine, batch(A, *punches), now=now)
    assert results[A].inserted == 4
    ours = raw_rows(engine)
    with engine.begin() as conn:
        conn.execute(punch.delete())
        conn.execute(
            insert(punch),
            [
                {
                    "device_id": A,
                    "seq": p.seq,
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
                for p in punches
            ],
        )
    assert ours == raw_rows(engine)
    with engine.connect() as conn:
        [row] = conn.execute(select(punch).where(punch.c.seq == 1)).mappings()
    assert row["at"] == punches[0].at and row["received_at"] == now  # read back aware, in UTC
    assert row["received_at"].tzinfo is not None


def test_a_naive_clock_is_refused_before_anything_is_written(engine: Engine) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        store(engine, batch(A, mk(1)), now=NOW.replace(tzinfo=None))
    assert raw_rows(engine) == []


def test_no_batches_store_nothing(engine: Engine) -> None:
    assert store(engine) == {}
    assert raw_rows(engine) == [] and state(engine, A) == (0, 0)


def test_duplicates_in_a_group_and_across_groups_are_stored_once(engine: Engine) -> None:
    first = batch(A, mk(1), mk(2), mk(3))
    results = store(engine, first, first, batch(B, mk(1)))
    assert (results[A].inserted, results[A].duplicates, results[A].ack) == (3, 0, 3)
    assert (results[B].inserted, results[B].ack) == (1, 1)
    again = store(engine, first, batch(A, first.punches[2], mk(4)))
    assert (again[A].inserted, again[A].duplicates, again[A].ack) == (1, 3, 4)
    assert [r[1] for r in raw_rows(engine) if r[0] == A] == [1, 2, 3, 4]
    assert state(engine, A) == (4, 4)


def test_many_rows_in_one_transaction(engine: Engine) -> None:
    # More than one SQLite statement's worth (500 rows), over several devices.
    batches = [batch(dev, *(mk(s) for s in range(k, k + 1000))) for dev in (A, B) for k in (1,)]
    batches.append(batch(C, *(mk(s) for s in range(1, 1000, 2))))
    results = store(engine, *batches)
    assert [results[d].inserted for d in (A, B, C)] == [1000, 1000, 500]
    assert state(engine, A) == (1000, 1000) and state(engine, C) == (1, 999)
    assert len(raw_rows(engine)) == 2500


def test_the_watermark_walks_over_punches_stored_earlier(engine: Engine) -> None:
    store(engine, batch(A, mk(3), mk(4), mk(6)))
    assert state(engine, A) == (0, 6)
    # 1 and 2 close the first gap; 3 and 4 came before, so the ack reaches 4, not 2.
    results = store(engine, batch(A, mk(1), mk(2)))
    assert results[A].ack == 4 and state(engine, A) == (4, 6)
    with engine.connect() as conn:
        assert missing_seqs(conn, A) == [(5, 5)]
    assert store(engine, batch(A, mk(5)))[A].ack == 6


def test_a_seq_reused_with_another_id_is_held_back(engine: Engine) -> None:
    kept = mk(2)
    store(engine, batch(A, mk(1), kept))
    results = store(engine, batch(A, mk(2), mk(3)))
    assert results[A].conflicts == [2] and results[A].ack == 1
    assert [r[2] for r in raw_rows(engine) if r[1] == 2] == [kept.id]  # the first one stays


def test_a_punch_id_stored_under_another_seq_is_held_back(engine: Engine) -> None:
    p = mk(1)
    store(engine, batch(A, p))
    results = store(engine, batch(B, mk(1), mk(2, id=p.id), mk(3)))
    assert results[B].id_taken == [2] and results[B].inserted == 2
    assert results[B].ack == 1  # not past the punch that was not stored
    assert [r[1] for r in raw_rows(engine) if r[0] == B] == [1, 3]
    assert state(engine, B) == (1, 3)


def test_a_resend_stored_by_another_transaction_meanwhile_is_a_duplicate(engine: Engine) -> None:
    # Two collectors with the same resend: the second waits for the first, then finds its rows.
    same = batch(A, mk(1), mk(2))
    out: dict[str, Any] = {}
    with engine.begin() as conn:
        first = store_batches(conn, [same], NOW)

        def second() -> None:
            out.update(store(engine, same))

        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.5)
        assert t.is_alive()  # waiting on the first transaction's rows (or SQLite's lock)
    t.join(20)
    assert first[A].inserted == 2
    assert (out[A].inserted, out[A].duplicates, out[A].ack) == (0, 2, 2)
    assert len(raw_rows(engine)) == 2


@pytest.mark.postgres
def test_two_transactions_on_the_same_devices_do_not_deadlock(pg_engine: Engine) -> None:
    engine = pg_engine
    # The first transaction holds A's row; the second takes A then B (it was given B first);
    # the first then takes B. Locking in the given order would deadlock here.
    out: dict[str, Any] = {}
    with engine.begin() as conn:
        store_batches(conn, [batch(A, mk(1))], NOW)

        def second() -> None:
            out.update(store(engine, batch(B, mk(1)), batch(A, mk(2))))

        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.5)
        assert t.is_alive()
        store_batches(conn, [batch(B, mk(2))], NOW)
    t.join(20)
    assert not t.is_alive()
    assert out[A].ack == 2 and out[B].ack == 2
    assert state(engine, A) == (2, 2) and state(engine, B) == (2, 2)


@pytest.mark.postgres
def test_heartbeat_devices_are_locked_with_the_punches_devices(pg_engine: Engine) -> None:
    engine = pg_engine
    # The second transaction stores B's punches and will record A's heartbeat: it takes A and
    # B up front, so the first one, holding A, can still take B for its own heartbeat.
    out: dict[str, Any] = {}
    with engine.begin() as conn:
        store_batches(conn, [batch(A, mk(1))], NOW)

        def second() -> None:
            with engine.begin() as c2:
                out.update(store_batches(c2, [batch(B, mk(1))], NOW, lock_also={A}))
                assert record_status(c2, Status(A, online=True, outbox_depth=3), NOW)  # type: ignore[arg-type]

        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.5)
        assert t.is_alive()
        lock_devices(conn, {B})
        assert record_status(conn, Status(B, online=True, outbox_depth=2), NOW)  # type: ignore[arg-type]
    t.join(20)
    assert not t.is_alive() and out[B].ack == 1

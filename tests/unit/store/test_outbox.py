"""Outbox: durable append, gap-free seq, pending order, cumulative idempotent release, prune."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from edge.store import DuplicatePunch, InvalidRecord, Seq, Store, StoredPunch, UnknownSeq
from tests.unit.store.store_samples import T0, FakeClock, punch_fields

Append = Callable[..., StoredPunch]


def test_outbox_append_numbers_from_one_without_gaps(append: Append) -> None:
    seqs = [append(n).seq for n in range(25)]
    assert seqs == list(range(1, 26))


def test_outbox_append_returns_what_was_stored(store: Store) -> None:
    plus8 = timezone(timedelta(hours=8))  # WITA, Kupang's zone
    punch_id = str(uuid.uuid4())
    returned = store.outbox.append(
        **punch_fields(3, at=datetime(2026, 11, 30, 7, 45, 1, 250, tzinfo=plus8)),
        punch_id=punch_id,
    )
    assert returned.id == punch_id
    assert returned.at == datetime(2026, 11, 29, 23, 45, 1, 250, tzinfo=UTC)
    assert returned.at.tzinfo == UTC
    assert not returned.is_acked
    assert store.outbox.get(returned.seq) == returned


def test_outbox_append_survives_reopen(db_path: Path, clock: FakeClock) -> None:
    with Store(db_path, utc_now=clock) as first:
        written = [first.outbox.append(**punch_fields(n)) for n in range(3)]
    with Store(db_path, utc_now=clock) as second:
        assert second.outbox.pending() == written
    # Read the file with plain sqlite3 as well: the rows are really in it, not in some cache.
    raw = sqlite3.connect(db_path)
    try:
        rows = raw.execute("SELECT seq, id, person_id, slot FROM punch ORDER BY seq").fetchall()
    finally:
        raw.close()
    assert rows == [(p.seq, p.id, p.person_id, p.slot) for p in written]


def test_outbox_seq_continues_after_reopen(db_path: Path) -> None:
    with Store(db_path) as first:
        for n in range(4):
            first.outbox.append(**punch_fields(n))
    with Store(db_path) as second:
        assert second.outbox.last_seq() == 4
        assert second.outbox.append(**punch_fields(9)).seq == 5


def test_outbox_append_rejects_bad_fields_and_uses_no_seq(store: Store, append: Append) -> None:
    append(0)
    bad: list[dict[str, Any]] = [
        {"at": datetime(2026, 11, 30, 8, 0)},  # naive: UTC or WITA?
        {"person_id": ""},
        {"boot_id": ""},
        {"slot": -1},
        {"score": -5},
        {"mono_ns": -1},
    ]
    for override in bad:
        with pytest.raises(InvalidRecord):
            append(1, **override)
    with pytest.raises(InvalidRecord, match="punch_id"):
        append(1, punch_id="not-a-uuid")
    assert append(2).seq == 2


def test_outbox_append_duplicate_id_raises_and_uses_no_seq(store: Store, append: Append) -> None:
    first = append(0)
    with pytest.raises(DuplicatePunch, match=first.id):
        append(1, punch_id=first.id)
    assert append(2).seq == 2
    assert store.outbox.depth() == 2


def test_outbox_append_from_threads_and_two_stores_is_gap_free(store: Store, db_path: Path) -> None:
    with Store(db_path) as other:
        outboxes = [store.outbox, store.outbox, other.outbox, other.outbox]
        seqs: list[list[int]] = [[] for _ in outboxes]

        def work(i: int) -> None:
            for n in range(25):
                seqs[i].append(outboxes[i].append(**punch_fields(n)).seq)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(outboxes))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    everything = sorted(s for per_thread in seqs for s in per_thread)
    assert everything == list(range(1, 101))
    assert all(per_thread == sorted(per_thread) for per_thread in seqs)


def test_outbox_pending_is_in_seq_order_with_limit_and_after(store: Store, append: Append) -> None:
    for n in range(10):
        append(n)
    assert [p.seq for p in store.outbox.pending(4)] == [1, 2, 3, 4]
    assert [p.seq for p in store.outbox.pending(4, after=4)] == [5, 6, 7, 8]
    assert [p.seq for p in store.outbox.pending(100, after=8)] == [9, 10]
    store.outbox.release(Seq(6))
    assert [p.seq for p in store.outbox.pending(3)] == [7, 8, 9]
    with pytest.raises(InvalidRecord, match="limit"):
        store.outbox.pending(0)


def test_outbox_release_is_cumulative(store: Store, append: Append, clock: FakeClock) -> None:
    for n in range(6):
        append(n)
    assert store.outbox.release(Seq(2)) == 2
    clock.advance(seconds=30)
    assert store.outbox.release(Seq(5)) == 3
    assert [p.seq for p in store.outbox.pending()] == [6]
    assert store.outbox.depth() == 1
    assert store.outbox.acked_upto() == 5
    acked = [store.outbox.get(Seq(s)) for s in range(1, 6)]
    assert [p.acked_at if p else None for p in acked] == [T0] * 2 + [T0 + timedelta(seconds=30)] * 3


def test_outbox_release_is_idempotent(store: Store, append: Append, clock: FakeClock) -> None:
    for n in range(5):
        append(n)
    assert store.outbox.release(Seq(4)) == 4
    before = store.outbox.pending(), [store.outbox.get(Seq(s)) for s in range(1, 6)]
    clock.advance(minutes=5)
    assert store.outbox.release(Seq(4)) == 0  # the same ack delivered twice
    assert store.outbox.release(Seq(2)) == 0  # an older ack arriving late
    assert store.outbox.release(Seq(0)) == 0
    after = store.outbox.pending(), [store.outbox.get(Seq(s)) for s in range(1, 6)]
    assert after == before
    assert store.outbox.acked_upto() == 4


def test_outbox_release_beyond_last_seq_raises_and_changes_nothing(
    store: Store, append: Append
) -> None:
    for n in range(3):
        append(n)
    store.outbox.release(Seq(1))
    with pytest.raises(UnknownSeq, match=r"seq 7 was never assigned.*highest seq is 3"):
        store.outbox.release(Seq(7))
    with pytest.raises(UnknownSeq):
        store.outbox.release(Seq(-1))
    assert [p.seq for p in store.outbox.pending()] == [2, 3]
    assert store.outbox.acked_upto() == 1


def test_outbox_release_survives_reopen(db_path: Path) -> None:
    with Store(db_path) as first:
        for n in range(4):
            first.outbox.append(**punch_fields(n))
        first.outbox.release(Seq(3))
    with Store(db_path) as second:
        assert [p.seq for p in second.outbox.pending()] == [4]
        assert second.outbox.acked_upto() == 3


def test_outbox_depth_counts_unacknowledged(store: Store, append: Append) -> None:
    assert store.outbox.depth() == 0
    assert store.outbox.last_seq() == 0
    for n in range(7):
        append(n)
    store.outbox.release(Seq(3))
    assert store.outbox.depth() == 4
    assert store.outbox.last_seq() == 7


def test_outbox_prune_keeps_unacknowledged_and_recent(store: Store, append: Append) -> None:
    old = [append(n, at=T0 - timedelta(days=100 - n)) for n in range(4)]
    recent = append(10, at=T0)
    store.outbox.release(Seq(2))  # old[0], old[1] acked; old[2], old[3] not
    deleted = store.outbox.prune(T0 - timedelta(days=90))
    assert deleted == 2
    assert store.outbox.get(old[0].seq) is None
    assert store.outbox.get(old[1].seq) is None
    assert [p.seq for p in store.outbox.pending()] == [old[2].seq, old[3].seq, recent.seq]
    # Acknowledged but inside the retention period: kept.
    store.outbox.release(recent.seq)
    assert store.outbox.prune(T0 - timedelta(days=90)) == 2  # old[2], old[3], now acked
    kept = store.outbox.get(recent.seq)
    assert kept is not None
    assert kept.is_acked


def test_outbox_seq_is_not_reused_after_prune(store: Store, append: Append) -> None:
    for n in range(3):
        append(n, at=T0 - timedelta(days=400))
    store.outbox.release(Seq(3))
    assert store.outbox.prune(T0) == 3
    assert append(5).seq == 4


def test_outbox_last_punch_for_is_newest_by_seq(store: Store, append: Append) -> None:
    assert store.outbox.last_punch_for("person-1") is None
    append(1, person_id="person-1", at=T0)
    append(2, person_id="person-2", at=T0)
    # The clock stepped back (NTP correction): seq, not `at`, decides which is newest.
    latest = append(3, person_id="person-1", at=T0 - timedelta(hours=1))
    append(4, person_id="person-2")
    store.outbox.release(latest.seq)
    found = store.outbox.last_punch_for("person-1")
    assert found is not None
    assert found.seq == latest.seq
    assert found.is_acked

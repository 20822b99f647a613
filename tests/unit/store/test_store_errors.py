"""Store failures (full disk, read-only file, failed commit, held lock) raise; nothing is lost."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.pool import Pool

from edge.store import Seq, Store, StoreBusy, StoredPunch, StoreError, StoreUnavailable
from tests.unit.store.store_samples import punch_fields


@contextmanager
def pages_capped() -> Iterator[None]:
    """Cap every new SQLite connection at the file's current size: the next new page is "full".

    ``max_page_count`` makes SQLite itself fail with SQLITE_FULL, exactly as a full disk does, so
    the real error travels the real path.
    """

    def cap(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(Pool, "connect", cap)
    try:
        yield
    finally:
        event.remove(Pool, "connect", cap)


def _fill(db_path: Path, rounds: int) -> list[StoredPunch]:
    with Store(db_path) as store:
        return [store.outbox.append(**punch_fields(n)) for n in range(rounds)]


def test_store_full_disk_raises_and_keeps_every_returned_punch(db_path: Path) -> None:
    returned = _fill(db_path, 3)
    with pages_capped(), Store(db_path) as store:
        with pytest.raises(StoreUnavailable) as caught:
            for n in range(3, 100_000):
                returned.append(store.outbox.append(**punch_fields(n, person_id="p" * 200)))
        failed_seq = len(returned) + 1
        # Still full: a second attempt fails the same way and uses no seq either.
        with pytest.raises(StoreUnavailable):
            store.outbox.append(**punch_fields(0, person_id="p" * 200))
    message = str(caught.value)
    assert str(db_path) in message
    assert "full" in message
    assert isinstance(caught.value, OSError)
    assert caught.value.path == db_path
    assert len(returned) > 3  # the cap let some appends through before the "disk" filled
    with Store(db_path) as reopened:
        assert reopened.outbox.last_seq() == failed_seq - 1
        assert reopened.outbox.pending(limit=10_000) == returned
        assert reopened.outbox.append(**punch_fields(1)).seq == failed_seq


def test_store_read_only_file_append_raises_store_unavailable(
    db_path: Path, tmp_path: Path
) -> None:
    written = _fill(db_path, 3)
    copy = tmp_path / "copy.db"
    shutil.copyfile(db_path, copy)
    with Store(copy, read_only=True) as store:
        assert store.outbox.pending() == written  # reading works
        with pytest.raises(StoreUnavailable, match=r"copy\.db is unavailable: read-only"):
            store.outbox.append(**punch_fields(9))
        with pytest.raises(StoreUnavailable):
            store.outbox.release(Seq(3))
        with pytest.raises(StoreUnavailable):
            store.people.map(1, "person-1", "right-index")
        assert store.outbox.last_seq() == 3
        assert store.outbox.depth() == 3


@pytest.mark.parametrize(
    "reason",
    ["disk I/O error", "database or disk is full", "attempt to write a readonly database"],
)
def test_store_failed_commit_raises_and_stores_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch, reason: str
) -> None:
    first = store.outbox.append(**punch_fields(0))

    def failing_commit(self: DefaultDialect, dbapi_connection: Any) -> None:
        # The seam where SQLite's COMMIT (the fsync) would fail on a dying or full SD card.
        raise sqlite3.OperationalError(reason)

    with monkeypatch.context() as patch:
        patch.setattr(DefaultDialect, "do_commit", failing_commit)
        with pytest.raises(StoreUnavailable, match=reason) as caught:
            store.outbox.append(**punch_fields(1))
        with pytest.raises(StoreUnavailable, match=reason):
            store.outbox.release(first.seq)
    assert str(store.path) in str(caught.value)
    # The insert and the counter bump were rolled back together: no punch, no gap.
    assert store.outbox.pending() == [first]
    assert store.outbox.acked_upto() == 0
    assert store.outbox.append(**punch_fields(2)).seq == 2


def test_store_held_lock_raises_store_busy_then_recovers(db_path: Path) -> None:
    with Store(db_path, busy_timeout_s=0.05) as store:
        holder = sqlite3.connect(db_path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            with pytest.raises(StoreBusy, match=r"edge\.db is busy"):
                store.outbox.append(**punch_fields(0))
            holder.execute("ROLLBACK")
        finally:
            holder.close()
        assert store.outbox.append(**punch_fields(1)).seq == 1


def test_store_open_in_missing_directory_raises_store_unavailable(tmp_path: Path) -> None:
    target = tmp_path / "not-mounted" / "edge.db"
    with pytest.raises(StoreUnavailable, match=r"not-mounted/edge\.db is unavailable"):
        Store(target)


def test_store_open_of_foreign_file_raises_store_unavailable(tmp_path: Path) -> None:
    target = tmp_path / "edge.db"
    target.write_bytes(b"this is a config file, not a database\n" * 200)
    with pytest.raises(StoreUnavailable, match="not a database"):
        Store(target)


def test_store_use_after_close_raises_store_error(db_path: Path) -> None:
    store = Store(db_path)
    store.close()
    store.close()  # twice is fine
    with pytest.raises(StoreError, match="closed"):
        store.outbox.append(**punch_fields(0))

"""The edge daemon's durable local store: punches, slot map, templates, roster, meta, audit.

One SQLite file (WAL, ``synchronous=FULL``). Open it with :class:`Store`; everything the rest of
the daemon needs is reachable from there::

    with Store("/var/lib/hadir/edge.db") as store:
        punch = store.outbox.append(person_id="p-17", slot=3, score=120, at=now,
                                    clock_synced=True, boot_id=boot_id, mono_ns=mono)
        store.outbox.release(punch.seq)

This package imports nothing else of Hadir (style.md §3.2): it is a leaf.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from edge.store.audit import AuditEntry, AuditLog
from edge.store.db import DEFAULT_BUSY_TIMEOUT_S, Database
from edge.store.errors import (
    DuplicatePunch,
    FingerTaken,
    InvalidRecord,
    SchemaTooNew,
    SlotTaken,
    StoreBusy,
    StoreError,
    StoreUnavailable,
    UnknownSeq,
)
from edge.store.meta import DEVICE_ID, LAST_BOOT_ID, DeviceMeta
from edge.store.outbox import Outbox, Seq, StoredPunch
from edge.store.people import People, SlotMapping
from edge.store.roster import Roster, RosterRow
from edge.store.templates import AuditNote, PendingReport, Report, Templates, TemplateSlot

__all__ = [
    "DEVICE_ID",
    "LAST_BOOT_ID",
    "AuditEntry",
    "AuditLog",
    "AuditNote",
    "DeviceMeta",
    "DuplicatePunch",
    "FingerTaken",
    "InvalidRecord",
    "Outbox",
    "PendingReport",
    "People",
    "Report",
    "Roster",
    "RosterRow",
    "SchemaTooNew",
    "Seq",
    "SlotMapping",
    "SlotTaken",
    "Store",
    "StoreBusy",
    "StoreError",
    "StoreUnavailable",
    "StoredPunch",
    "TemplateSlot",
    "Templates",
    "UnknownSeq",
]

log = logging.getLogger(__name__)


class Store:
    """The device's store, opened and migrated; a context manager that closes it.

    Args:
        path: The database file; created with the current schema when missing.
        read_only: Open without any possibility of writing (SQLite ``mode=ro``); every write then
            raises :class:`StoreUnavailable`.
        busy_timeout_s: How long a write waits for another connection's lock.
        utc_now: The clock for acknowledgement, mapping and audit times (default: system UTC).

    Attributes:
        outbox: The punch outbox.
        people: The slot → person map.
        meta: Device facts.
        audit: The enrollment audit log.
        templates: Template ids per slot and the reports waiting for the central.
        roster: The roster copy the central sent.

    Raises:
        StoreUnavailable: The file cannot be created or opened for writing.
        SchemaTooNew: The file was written by a newer Hadir.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        utc_now: Callable[[], datetime] | None = None,
    ) -> None:
        self._db = Database(path, read_only=read_only, busy_timeout_s=busy_timeout_s)
        self.outbox = Outbox(self._db, utc_now=utc_now)
        self.people = People(self._db, utc_now=utc_now)
        self.meta = DeviceMeta(self._db, utc_now=utc_now)
        self.audit = AuditLog(self._db, utc_now=utc_now)
        self.templates = Templates(self._db, utc_now=utc_now)
        self.roster = Roster(self._db, utc_now=utc_now)
        log.info(
            "store opened path=%s schema_version=%d read_only=%s",
            self._db.path,
            self._db.known_version,
            read_only,
        )

    @property
    def path(self) -> Path:
        """The database file."""
        return self._db.path

    def close(self) -> None:
        """Close the file. Safe to call twice; any later use raises :class:`StoreError`."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

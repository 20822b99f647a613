"""Device meta: a small key/value table for facts about this terminal (its id, the last boot id).

Values are text; callers that store numbers convert them themselves, so the table never has to
guess a type.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert

from edge.store.db import Database
from edge.store.errors import InvalidRecord
from edge.store.schema import device_meta, encode_time

log = logging.getLogger(__name__)

# Well-known keys, so the daemon and the CLI spell them the same way.
DEVICE_ID = "device_id"
LAST_BOOT_ID = "last_boot_id"

MAX_KEY = 64


class DeviceMeta:
    """The device's key/value facts.

    Args:
        db: The open database.
        utc_now: The clock for ``updated_at``.
    """

    def __init__(self, db: Database, *, utc_now: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._utc_now = utc_now or (lambda: datetime.now(UTC))

    def get(self, key: str) -> str | None:
        """Return the value stored under ``key``, or None if there is none."""
        with self._db.reading() as conn:
            found = conn.execute(
                select(device_meta.c.value).where(device_meta.c.key == key)
            ).scalar_one_or_none()
        return None if found is None else str(found)

    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` durably, replacing any earlier value.

        Raises:
            InvalidRecord: ``key`` is empty or longer than ``MAX_KEY`` characters.
        """
        if not key or len(key) > MAX_KEY:
            raise InvalidRecord(f"key: must be 1..{MAX_KEY} characters, got {key!r}")
        updated_at_us = encode_time(self._utc_now(), field="utc_now()")
        upsert = insert(device_meta).values(key=key, value=value, updated_at_us=updated_at_us)
        upsert = upsert.on_conflict_do_update(
            index_elements=[device_meta.c.key],
            set_={"value": upsert.excluded.value, "updated_at_us": upsert.excluded.updated_at_us},
        )
        with self._db.writing() as conn:
            conn.execute(upsert)
        # Values may be anything a caller chooses to keep; log the key only.
        log.debug("device meta set key=%s", key)

    def delete(self, key: str) -> None:
        """Remove ``key``; removing a key that is not there is not an error."""
        with self._db.writing() as conn:
            conn.execute(device_meta.delete().where(device_meta.c.key == key))

    def items(self) -> dict[str, str]:
        """Return every key and value."""
        with self._db.reading() as conn:
            rows = conn.execute(
                select(device_meta.c.key, device_meta.c.value).order_by(device_meta.c.key)
            )
            return {str(row.key): str(row.value) for row in rows}

"""The store's tables: their current shape for queries, and the migrations that build them.

The :class:`~sqlalchemy.Table` objects describe the schema as it is now and are what the queries
use. The migrations are frozen DDL, one function per version, and are never edited once
released: a Pi in the field may be several versions behind, and must arrive at the same schema
a fresh install gets. ``tests/unit/store/test_store_db.py`` checks that the two agree.

Times are stored as integer microseconds since the Unix epoch, UTC: exact (no float rounding),
ordered, and cheap to compare in SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)

from edge.store.errors import InvalidRecord

metadata = MetaData()

punch = Table(
    "punch",
    metadata,
    # The per-device sequence, assigned from outbox_state in the same transaction as the insert.
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("id", Text, nullable=False, unique=True),
    Column("person_id", Text, nullable=False),
    Column("slot", Integer, nullable=False),
    Column("score", Integer, nullable=False),
    Column("at_us", Integer, nullable=False),
    Column("clock_synced", Boolean(create_constraint=False), nullable=False),
    Column("boot_id", Text, nullable=False),
    Column("mono_ns", Integer, nullable=False),
    # NULL until the central acknowledges a seq at or beyond this one.
    Column("acked_at_us", Integer, nullable=True),
)

outbox_state = Table(
    "outbox_state",
    metadata,
    Column("id", Integer, primary_key=True),
    # The highest seq ever assigned. Kept apart from punch because prune deletes old rows, and
    # MAX(punch.seq) over what remains would hand out a used number again.
    Column("last_seq", Integer, nullable=False),
    # The highest seq the central has acknowledged (cumulative).
    Column("acked_upto", Integer, nullable=False),
    CheckConstraint("id = 1 AND acked_upto <= last_seq AND acked_upto >= 0"),
)

person_slot = Table(
    "person_slot",
    metadata,
    Column("slot", Integer, primary_key=True, autoincrement=False),
    Column("person_id", Text, nullable=False),
    Column("finger", Text, nullable=False),
    Column("mapped_at_us", Integer, nullable=False),
    # The template's id for life (wire.sync), the same on every terminal and at the central.
    # NULL for a mapping made before template sync existed (v1): such a slot is kept, but not
    # announced in inventories.
    Column("template_id", Text, nullable=True),
    # Who enrolled the finger (a technician's login; "central" for an install): the
    # ``by`` of a re-upload.
    Column("enrolled_by", Text, nullable=True),
    # A person may have several fingers enrolled, each in its own slot, but one finger one slot.
    UniqueConstraint("person_id", "finger"),
)

device_meta = Table(
    "device_meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at_us", Integer, nullable=False),
)

audit_event = Table(
    "audit_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at_us", Integer, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("person_id", Text, nullable=True),
    Column("slot", Integer, nullable=True),
    Column("detail", Text, nullable=False),
)

template_report = Table(
    "template_report",
    metadata,
    # One pending report per template id: a deletion replaces an enrollment not yet confirmed.
    Column("template_id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    # The encoded wire message (wire.sync Enrolled/Deleted), published as is. An Enrolled one
    # holds the template sealed to the central's key, never the template in clear.
    Column("payload", Text, nullable=False),
    Column("queued_at_us", Integer, nullable=False),
)

roster_entry = Table(
    "roster_entry",
    metadata,
    Column("number", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("received_at_us", Integer, nullable=False),
)


def _v1_initial(conn: Connection) -> None:
    """Create the outbox, the slot map, device meta and the audit log."""
    for ddl in (
        """CREATE TABLE punch (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            person_id TEXT NOT NULL,
            slot INTEGER NOT NULL CHECK (slot >= 0),
            score INTEGER NOT NULL CHECK (score >= 0),
            at_us INTEGER NOT NULL,
            clock_synced INTEGER NOT NULL CHECK (clock_synced IN (0, 1)),
            boot_id TEXT NOT NULL,
            mono_ns INTEGER NOT NULL CHECK (mono_ns >= 0),
            acked_at_us INTEGER
        )""",
        # pending() and depth() read only the unacknowledged tail; keep that cheap when the
        # acknowledged history is long.
        "CREATE INDEX punch_pending ON punch (seq) WHERE acked_at_us IS NULL",
        # last_punch_for() (the repeat window) looks up one person's newest punch.
        "CREATE INDEX punch_person ON punch (person_id, seq)",
        """CREATE TABLE outbox_state (
            id INTEGER PRIMARY KEY,
            last_seq INTEGER NOT NULL,
            acked_upto INTEGER NOT NULL,
            CHECK (id = 1 AND acked_upto <= last_seq AND acked_upto >= 0)
        )""",
        "INSERT INTO outbox_state (id, last_seq, acked_upto) VALUES (1, 0, 0)",
        """CREATE TABLE person_slot (
            slot INTEGER PRIMARY KEY CHECK (slot >= 0),
            person_id TEXT NOT NULL,
            finger TEXT NOT NULL,
            mapped_at_us INTEGER NOT NULL,
            UNIQUE (person_id, finger)
        )""",
        """CREATE TABLE device_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at_us INTEGER NOT NULL
        )""",
        """CREATE TABLE audit_event (
            id INTEGER PRIMARY KEY,
            at_us INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            person_id TEXT,
            slot INTEGER,
            detail TEXT NOT NULL
        )""",
    ):
        conn.exec_driver_sql(ddl)


def _v2_template_sync(conn: Connection) -> None:
    """Template sync (docs/template-sync.md): template ids per slot, report queue, roster copy."""
    for ddl in (
        "ALTER TABLE person_slot ADD COLUMN template_id TEXT",
        "ALTER TABLE person_slot ADD COLUMN enrolled_by TEXT",
        # ALTER TABLE cannot add a UNIQUE column; a partial unique index does the same and
        # leaves the pre-sync mappings (NULL) alone.
        "CREATE UNIQUE INDEX person_slot_template ON person_slot (template_id) "
        "WHERE template_id IS NOT NULL",
        """CREATE TABLE template_report (
            template_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('enrolled', 'deleted')),
            payload TEXT NOT NULL,
            queued_at_us INTEGER NOT NULL
        )""",
        """CREATE TABLE roster_entry (
            number TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            received_at_us INTEGER NOT NULL
        )""",
    ):
        conn.exec_driver_sql(ddl)


Migration = Callable[[Connection], None]

# Index i holds the step from version i to version i + 1. Append only; never edit or reorder.
MIGRATIONS: tuple[Migration, ...] = (_v1_initial, _v2_template_sync)
SCHEMA_VERSION = len(MIGRATIONS)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def encode_time(at: datetime, *, field: str) -> int:
    """Turn an aware datetime into the stored form, integer microseconds since the epoch (UTC).

    Args:
        at: A timezone-aware datetime.
        field: The field's name, for the error message.

    Returns:
        Microseconds since 1970-01-01T00:00:00Z.

    Raises:
        InvalidRecord: ``at`` is naive; its meaning (UTC? local?) cannot be known.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidRecord(f"{field}: must be a timezone-aware datetime, got naive {at!r}")
    return (at - _EPOCH) // _ONE_US


def decode_time(us: int) -> datetime:
    """Turn stored microseconds back into a UTC-aware datetime."""
    return _EPOCH + timedelta(microseconds=us)

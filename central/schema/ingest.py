"""Devices, their punches keyed by (device, seq), and dead letters."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from central.schema.base import UtcDateTime, metadata

device = Table(
    "device",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("site_id", String(64), nullable=True),
    Column("description", Text, nullable=False, server_default=""),
    Column("created_at", UtcDateTime, nullable=False),
    # Delivery state: the highest seq with no gap below it (what the device is acked up to),
    # and the highest seq seen at all (a difference is a gap).
    Column("acked_upto", BigInteger, nullable=False, server_default="0"),
    Column("highest_seq", BigInteger, nullable=False, server_default="0"),
    # "Complete up to": every punch the device took before this time is in the punch table
    # (a heartbeat reported an empty outbox). Attendance rules wait for it before marking TK.
    Column("complete_upto", UtcDateTime, nullable=True),
    # Last heartbeat.
    Column("online", Boolean, nullable=False, server_default="0"),
    Column("sensor", String(32), nullable=True),
    Column("templates_used", Integer, nullable=True),
    Column("templates_capacity", Integer, nullable=True),
    Column("outbox_depth", Integer, nullable=True),
    Column("clock_synced", Boolean, nullable=True),
    Column("clock_skew_ms", BigInteger, nullable=True),
    Column("last_status_at", UtcDateTime, nullable=True),
    Column("versions", Text, nullable=True),
)

punch = Table(
    "punch",
    metadata,
    Column("device_id", String(63), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("id", String(36), nullable=False, unique=True),
    Column("person", String(64), nullable=False),
    Column("slot", Integer, nullable=False),
    Column("score", Integer, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("clock_synced", Boolean, nullable=False),
    Column("boot_id", String(64), nullable=False),
    Column("mono_ns", BigInteger, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("device_id", "seq"),
    Index("ix_punch_person_at", "person", "at"),
)

dead_letter = Table(
    "dead_letter",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("topic", Text, nullable=False),
    Column("device_id", String(63), nullable=True),
    Column("reason", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("payload_size", Integer, nullable=False),
)

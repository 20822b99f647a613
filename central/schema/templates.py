"""Fingerprint templates (issue 6): kept sealed, their state on each terminal, an outbox, audit.

Why these shapes:

* ``template.sealed`` is the box exactly as the enrolling terminal sealed it to the central's key
  (:mod:`wire.sealing`): the database holds no template in clear, and a stolen dump is useless
  without the key file. A deletion sets it to ``NULL``; the row stays as the record that the
  template existed, who removed it and why. A partial unique index allows one *active* template
  per person and finger, so two collectors storing two enrollments of the same finger at once
  cannot both win (the loser retries and then replaces).
* ``device_template`` is both the per-terminal state and the outbox of install/delete commands:
  a row ``installing``/``deleting`` whose command was not sent, or sent too long ago, is what the
  dispatcher sends. ``attempts`` doubles as an optimistic version, so two collectors claiming the
  same row with a conditional UPDATE cannot both send it.
* ``device_key`` holds each terminal's X25519 public key, announced in its inventories. A table of
  its own rather than a column of ``device``: the key belongs to template sync, and a key change is
  an event worth a timestamp.
* ``device_command`` is the outbox of the commands that need no per-template state
  (``template_received``, ``upload_template``, ``roster``, ``resync``, and deletes of templates the
  central refused). ``params`` is emptied once sent: a roster carries names, and the outbox is not
  the place to keep them.
* ``template_event`` is the audit: who, when, which terminal, what. Never a template.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

from central.schema.base import UtcDateTime, metadata

#: ``device_template.state`` values.
TEMPLATE_STATES = ("installing", "installed", "failed", "deleting", "deleted")

template = Table(
    "template",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", Integer, ForeignKey("person.id"), nullable=False),
    Column("finger", String(16), nullable=False),
    # Sealed to the central's key as received; NULL once deleted, so no copy remains.
    Column("sealed", LargeBinary, nullable=True),
    Column("source_device", String(63), ForeignKey("device.id"), nullable=False),
    Column("enrolled_by", String(128), nullable=False),
    Column("enrolled_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime, nullable=True),
    Column("deleted_by", String(128), nullable=True),
    Column("deleted_reason", Text, nullable=True),
    Index("ix_template_person_id", "person_id"),
    Index(
        "uq_template_active_finger",
        "person_id",
        "finger",
        unique=True,
        sqlite_where=text("deleted_at IS NULL"),
        postgresql_where=text("deleted_at IS NULL"),
    ),
)

device_template = Table(
    "device_template",
    metadata,
    Column("device_id", String(63), ForeignKey("device.id"), nullable=False),
    Column("template_id", String(36), ForeignKey("template.id"), nullable=False),
    Column("state", String(12), nullable=False),
    # The command carrying the current state's work; kept across resends (same id, same command).
    Column("command_id", String(36), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("detail", Text, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("device_id", "template_id"),
    CheckConstraint(
        "state IN ('installing', 'installed', 'failed', 'deleting', 'deleted')", name="state"
    ),
    Index("ix_device_template_template_id", "template_id"),
    Index("ix_device_template_command", "device_id", "command_id"),
    Index("ix_device_template_state", "state"),
)

device_key = Table(
    "device_key",
    metadata,
    Column("device_id", String(63), ForeignKey("device.id"), primary_key=True),
    Column("public_key", String(44), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

device_command = Table(
    "device_command",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("device_id", String(63), ForeignKey("device.id"), nullable=False),
    Column("action", String(32), nullable=False),
    # No foreign key: a refused template has no template row, only audit events.
    Column("template_id", String(36), nullable=True),
    Column("params", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("result_ok", Boolean, nullable=True),
    Column("result_detail", Text, nullable=True),
    Column("result_at", UtcDateTime, nullable=True),
    Index("ix_device_command_device_id", "device_id"),
    Index("ix_device_command_sent_at", "sent_at"),
)

template_event = Table(
    "template_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    # No foreign keys: the audit outlives what it describes, refused templates included.
    Column("template_id", String(36), nullable=True),
    Column("device_id", String(63), nullable=True),
    Column("action", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
    Index("ix_template_event_template_id", "template_id"),
    Index("ix_template_event_at", "at"),
)

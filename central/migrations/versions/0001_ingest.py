"""Devices, punches by (device, seq), dead letters.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from central.schema.base import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the ingest tables."""
    op.create_table(
        "device",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("acked_upto", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("highest_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("complete_upto", UtcDateTime, nullable=True),
        sa.Column("online", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("sensor", sa.String(32), nullable=True),
        sa.Column("templates_used", sa.Integer, nullable=True),
        sa.Column("templates_capacity", sa.Integer, nullable=True),
        sa.Column("outbox_depth", sa.Integer, nullable=True),
        sa.Column("clock_synced", sa.Boolean, nullable=True),
        sa.Column("clock_skew_ms", sa.BigInteger, nullable=True),
        sa.Column("last_status_at", UtcDateTime, nullable=True),
        sa.Column("versions", sa.Text, nullable=True),
    )
    op.create_table(
        "punch",
        sa.Column("device_id", sa.String(63), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("slot", sa.Integer, nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("clock_synced", sa.Boolean, nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=False),
        sa.Column("mono_ns", sa.BigInteger, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("device_id", "seq", name="pk_punch"),
        sa.UniqueConstraint("id", name="uq_punch_id"),
    )
    op.create_index("ix_punch_person_at", "punch", ["person", "at"])
    op.create_table(
        "dead_letter",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("device_id", sa.String(63), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("payload_size", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    """Drop the ingest tables."""
    op.drop_table("dead_letter")
    op.drop_index("ix_punch_person_at", table_name="punch")
    op.drop_table("punch")
    op.drop_table("device")

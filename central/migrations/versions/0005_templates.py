"""Template sync: sealed templates, per-terminal state, terminal keys, command outbox, audit.

Revision ID: 0005
Revises: 0004

Written out in full, like the earlier revisions; a test compares it with
``central.schema.templates``.
"""

import sqlalchemy as sa
from alembic import op

from central.schema.base import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ACTIVE = "deleted_at IS NULL"


def upgrade() -> None:
    """Create the template tables."""
    op.create_table(
        "template",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("finger", sa.String(16), nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=True),
        sa.Column("source_device", sa.String(63), nullable=False),
        sa.Column("enrolled_by", sa.String(128), nullable=False),
        sa.Column("enrolled_at", UtcDateTime, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("deleted_at", UtcDateTime, nullable=True),
        sa.Column("deleted_by", sa.String(128), nullable=True),
        sa.Column("deleted_reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_template"),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name="fk_template_person_id_person"),
        sa.ForeignKeyConstraint(
            ["source_device"], ["device.id"], name="fk_template_source_device_device"
        ),
    )
    op.create_index("ix_template_person_id", "template", ["person_id"])
    op.create_index(
        "uq_template_active_finger",
        "template",
        ["person_id", "finger"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )
    op.create_table(
        "device_template",
        sa.Column("device_id", sa.String(63), nullable=False),
        sa.Column("template_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("command_id", sa.String(36), nullable=True),
        sa.Column("attempts", sa.Integer, server_default="0", nullable=False),
        sa.Column("sent_at", UtcDateTime, nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("device_id", "template_id", name="pk_device_template"),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name="fk_device_template_device_id_device"
        ),
        sa.ForeignKeyConstraint(
            ["template_id"], ["template.id"], name="fk_device_template_template_id_template"
        ),
        sa.CheckConstraint(
            "state IN ('installing', 'installed', 'failed', 'deleting', 'deleted')",
            name=op.f("ck_device_template_state"),
        ),
    )
    op.create_index("ix_device_template_template_id", "device_template", ["template_id"])
    op.create_index("ix_device_template_command", "device_template", ["device_id", "command_id"])
    op.create_index("ix_device_template_state", "device_template", ["state"])
    op.create_table(
        "device_key",
        sa.Column("device_id", sa.String(63), nullable=False),
        sa.Column("public_key", sa.String(44), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("device_id", name="pk_device_key"),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name="fk_device_key_device_id_device"
        ),
    )
    op.create_table(
        "device_command",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("device_id", sa.String(63), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("template_id", sa.String(36), nullable=True),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("sent_at", UtcDateTime, nullable=True),
        sa.Column("result_ok", sa.Boolean, nullable=True),
        sa.Column("result_detail", sa.Text, nullable=True),
        sa.Column("result_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_device_command"),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name="fk_device_command_device_id_device"
        ),
    )
    op.create_index("ix_device_command_device_id", "device_command", ["device_id"])
    op.create_index("ix_device_command_sent_at", "device_command", ["sent_at"])
    op.create_table(
        "template_event",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("template_id", sa.String(36), nullable=True),
        sa.Column("device_id", sa.String(63), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("detail", sa.Text, server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_template_event"),
    )
    op.create_index("ix_template_event_template_id", "template_event", ["template_id"])
    op.create_index("ix_template_event_at", "template_event", ["at"])


def downgrade() -> None:
    """Drop the template tables (indexes go with their tables)."""
    for table in ("template_event", "device_command", "device_key", "device_template", "template"):
        op.drop_table(table)

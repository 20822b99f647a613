"""Android check-ins: device bindings, check-ins, location pings, the mobile-fallback log.

Revision ID: 0003
Revises: 0002

Written out in full, like 0002, rather than built from ``central.schema.checkin``: a migration is
a fixed record of the schema at this revision; a test compares it with the table objects.
"""

import sqlalchemy as sa
from alembic import op

from central.schema.base import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ACTIVE = "revoked_at IS NULL"


def upgrade() -> None:
    """Create the check-in tables."""
    op.create_table(
        "mobile_device",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("revoked_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_mobile_device"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name="fk_mobile_device_person_id_person"
        ),
        sa.UniqueConstraint("token_sha256", name="uq_mobile_device_token_sha256"),
    )
    op.create_index("ix_mobile_device_device_id", "mobile_device", ["device_id"])
    op.create_index(
        "uq_mobile_device_active_person",
        "mobile_device",
        ["person_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )
    op.create_table(
        "checkin",
        sa.Column("id", sa.String(36)),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("client_ref", sa.String(36), nullable=True),
        sa.Column("kind", sa.String(3), nullable=False),
        sa.Column("client_time", UtcDateTime, nullable=False),
        sa.Column("server_time", UtcDateTime, nullable=False),
        sa.Column("lat", sa.Double, nullable=True),
        sa.Column("lon", sa.Double, nullable=True),
        sa.Column("accuracy_m", sa.Double, nullable=False),
        sa.Column("mock_location", sa.Boolean, nullable=False),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("distance_m", sa.Double, nullable=True),
        sa.Column("accepted", sa.Boolean, nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("message", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_checkin"),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name="fk_checkin_person_id_person"),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name="fk_checkin_site_id_site"),
        sa.UniqueConstraint("person_id", "client_ref", name="uq_checkin_person_id_client_ref"),
        sa.CheckConstraint("kind IN ('in', 'out', 'any')", name=op.f("ck_checkin_kind")),
        sa.CheckConstraint(
            "(accepted AND reason IS NULL) OR (NOT accepted AND reason IS NOT NULL)",
            name=op.f("ck_checkin_verdict"),
        ),
    )
    op.create_index("ix_checkin_person_time", "checkin", ["person_id", "server_time"])
    op.create_table(
        "location_ping",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=True),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("server_time", UtcDateTime, nullable=False),
        sa.Column("client_time", UtcDateTime, nullable=False),
        sa.Column("lat", sa.Double, nullable=True),
        sa.Column("lon", sa.Double, nullable=True),
        sa.Column("accuracy_m", sa.Double, nullable=False),
        sa.Column("mock", sa.Boolean, nullable=False),
        sa.Column("inside", sa.Boolean, nullable=True),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("distance_m", sa.Double, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_location_ping"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name="fk_location_ping_person_id_person"
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name="fk_location_ping_site_id_site"),
    )
    op.create_index("ix_location_ping_person_time", "location_ping", ["person_id", "server_time"])
    op.create_index("ix_location_ping_server_time", "location_ping", ["server_time"])
    op.create_table(
        "mobile_fallback_event",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("open", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mobile_fallback_event"),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name="fk_mobile_fallback_event_site_id_site"
        ),
    )
    op.create_index("ix_mobile_fallback_event_site_at", "mobile_fallback_event", ["site_id", "at"])


def downgrade() -> None:
    """Drop the check-in tables (indexes go with their tables)."""
    for table in ("mobile_fallback_event", "location_ping", "checkin", "mobile_device"):
        op.drop_table(table)

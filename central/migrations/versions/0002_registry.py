"""Registry: schedules, units, sites with geofences, people, their numbers and sites, shift rosters.

Revision ID: 0002
Revises: 0001

Written out in full rather than built from ``central.schema.registry``: a migration is a fixed
record of what the schema was at this revision, and a test compares it with the table objects.
"""

import sqlalchemy as sa
from alembic import op

from central.schema.base import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CURRENT = "valid_to IS NULL"
CURRENT_PRIMARY = "valid_to IS NULL AND kind <> 'LEGACY'"


def upgrade() -> None:
    """Create the registry tables."""
    op.create_table(
        "schedule",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("days", sa.JSON, nullable=False),
        sa.Column("ramadan_schedule_id", sa.Integer, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_schedule"),
        sa.UniqueConstraint("name", name="uq_schedule_name"),
        sa.ForeignKeyConstraint(
            ["ramadan_schedule_id"],
            ["schedule.id"],
            name="fk_schedule_ramadan_schedule_id_schedule",
        ),
        sa.CheckConstraint(
            "kind IN ('five_day', 'six_day', 'shift', 'ramadan')", name=op.f("ck_schedule_kind")
        ),
    )
    op.create_table(
        "unit",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False, server_default="either"),
        sa.Column("schedule_id", sa.Integer, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_unit"),
        sa.UniqueConstraint("code", name="uq_unit_code"),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["schedule.id"], name="fk_unit_schedule_id_schedule"
        ),
        sa.CheckConstraint(
            "channel IN ('fingerprint', 'mobile', 'either')", name=op.f("ck_unit_channel")
        ),
    )
    op.create_table(
        "site",
        sa.Column("id", sa.String(64)),
        sa.Column("unit_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("lat", sa.Double, nullable=False),
        sa.Column("lon", sa.Double, nullable=False),
        sa.Column("radius_m", sa.Integer, nullable=False, server_default="100"),
        sa.Column("accuracy_max_m", sa.Integer, nullable=False, server_default="50"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("mobile_fallback_open", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("mobile_fallback_reason", sa.Text, nullable=True),
        sa.Column("mobile_fallback_opened_at", UtcDateTime, nullable=True),
        sa.Column("mobile_fallback_opened_by", sa.String(64), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_site"),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name="fk_site_unit_id_unit"),
        sa.UniqueConstraint("unit_id", "name", name="uq_site_unit_id_name"),
        sa.CheckConstraint("lat >= -90 AND lat <= 90", name=op.f("ck_site_lat")),
        sa.CheckConstraint("lon >= -180 AND lon <= 180", name=op.f("ck_site_lon")),
        sa.CheckConstraint("radius_m >= 10 AND radius_m <= 5000", name=op.f("ck_site_radius_m")),
        sa.CheckConstraint(
            "accuracy_max_m >= 1 AND accuracy_max_m <= radius_m",
            name=op.f("ck_site_accuracy_max_m"),
        ),
    )
    op.create_index("ix_site_unit_id", "site", ["unit_id"])
    op.create_table(
        "person",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("employment_type", sa.String(8), nullable=False),
        sa.Column("unit_id", sa.Integer, nullable=False),
        sa.Column("schedule_id", sa.Integer, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_person"),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name="fk_person_unit_id_unit"),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["schedule.id"], name="fk_person_schedule_id_schedule"
        ),
        sa.CheckConstraint(
            "employment_type IN ('PNS', 'CPNS', 'PPPK', 'PPPK_PW', 'NON_ASN')",
            name=op.f("ck_person_employment_type"),
        ),
    )
    op.create_index("ix_person_unit_id", "person", ["unit_id"])
    op.create_table(
        "person_number",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("valid_from", UtcDateTime, nullable=False),
        sa.Column("valid_to", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_person_number"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name="fk_person_number_person_id_person"
        ),
        sa.CheckConstraint(
            "kind IN ('PNS', 'PPPK', 'LEGACY', 'LOCAL')", name=op.f("ck_person_number_kind")
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_person_number_interval")
        ),
    )
    op.create_index("ix_person_number_person_id", "person_number", ["person_id"])
    op.create_index("ix_person_number_number", "person_number", ["number"])
    op.create_index(
        "uq_person_number_current",
        "person_number",
        ["number"],
        unique=True,
        sqlite_where=sa.text(CURRENT),
        postgresql_where=sa.text(CURRENT),
    )
    op.create_index(
        "uq_person_number_primary",
        "person_number",
        ["person_id"],
        unique=True,
        sqlite_where=sa.text(CURRENT_PRIMARY),
        postgresql_where=sa.text(CURRENT_PRIMARY),
    )
    op.create_table(
        "person_site",
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("person_id", "site_id", name="pk_person_site"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name="fk_person_site_person_id_person"
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name="fk_person_site_site_id_site"),
    )
    op.create_index("ix_person_site_site_id", "person_site", ["site_id"])
    op.create_table(
        "shift_roster",
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("work_date", sa.Date, nullable=False),
        sa.Column("label", sa.String(32), nullable=True),
        sa.Column("start_at", UtcDateTime, nullable=True),
        sa.Column("end_at", UtcDateTime, nullable=True),
        sa.Column("break_minutes", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("person_id", "work_date", name="pk_shift_roster"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name="fk_shift_roster_person_id_person"
        ),
        sa.CheckConstraint(
            "(start_at IS NULL AND end_at IS NULL)"
            " OR (start_at IS NOT NULL AND end_at IS NOT NULL AND end_at > start_at)",
            name=op.f("ck_shift_roster_times"),
        ),
    )


def downgrade() -> None:
    """Drop the registry tables (indexes go with their tables)."""
    for table in ("shift_roster", "person_site", "person_number", "person", "site", "unit"):
        op.drop_table(table)
    # The self-reference (ramadan_schedule_id) is dropped with the table itself.
    op.drop_table("schedule")

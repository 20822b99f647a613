"""Attendance tables: rule sets, holidays, absences, corrections, daily status, recaps, users.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from central.schema.base import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the attendance tables."""
    op.create_table(
        "holiday",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.CheckConstraint(
            "category IN ('LIBUR_NASIONAL','CUTI_BERSAMA','LIBUR_DAERAH','LIBUR_KHUSUS')",
            name=op.f("ck_holiday_category"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holiday")),
        sa.UniqueConstraint("day", "name", name="uq_holiday_day_name"),
    )
    op.create_table(
        "ramadan_period",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_ramadan_period_order")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ramadan_period")),
    )
    op.create_table(
        "ruleset",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("active_from", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_ruleset")),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.CheckConstraint(
            "role IN ('admin','unit_operator','viewer')", name=op.f("ck_app_user_role")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_app_user_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_table(
        "recap_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("ruleset_version", sa.String(length=64), nullable=False),
        sa.Column("calendar_version", sa.String(length=64), nullable=False),
        sa.Column("computed_at", UtcDateTime, nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Text(), nullable=False),
        sa.Column("finalized", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("finalized_by", sa.String(length=64), nullable=True),
        sa.Column("finalized_at", UtcDateTime, nullable=True),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_recap_run_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recap_run")),
    )
    op.create_table(
        "absence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("reference", sa.Text(), server_default="", nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("cancelled_at", UtcDateTime, nullable=True),
        sa.CheckConstraint(
            "code IN ('CT','CB','CS','CM','CAP','CBER','CLTN','I','S','DL','DIK','WFH')",
            name=op.f("ck_absence_code"),
        ),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_absence_order")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_absence_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_absence")),
    )
    op.create_table(
        "correction",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("work_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", UtcDateTime, nullable=True),
        sa.Column("void_device_id", sa.String(length=63), nullable=True),
        sa.Column("void_seq", sa.Integer(), nullable=True),
        sa.Column("void_checkin_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.CheckConstraint("kind IN ('add_in','add_out','void')", name=op.f("ck_correction_kind")),
        sa.CheckConstraint("length(reason) > 0", name=op.f("ck_correction_reason")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_correction_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correction")),
    )
    op.create_table(
        "daily_status",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("work_date", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("ruleset_version", sa.String(length=64), nullable=False),
        sa.Column("calendar_version", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=True),
        sa.Column("scheduled", sa.Boolean(), nullable=False),
        sa.Column("check_in", UtcDateTime, nullable=True),
        sa.Column("check_out", UtcDateTime, nullable=True),
        sa.Column("in_source", sa.String(length=12), nullable=True),
        sa.Column("out_source", sa.String(length=12), nullable=True),
        sa.Column("late_minutes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("tl", sa.String(length=4), nullable=True),
        sa.Column("early_minutes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("psw", sa.String(length=4), nullable=True),
        sa.Column("forgot_in", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("forgot_out", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("outside_minutes", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "deduction_pct", sa.Numeric(precision=6, scale=2), server_default="0", nullable=False
        ),
        sa.Column("corrected", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("computed_at", UtcDateTime, nullable=False),
        sa.CheckConstraint(
            "status IN ('HADIR','TK','ABSEN','LIBUR','OFF','PENDING')",
            name=op.f("ck_daily_status_status"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_daily_status_person_id_person")
        ),
        sa.PrimaryKeyConstraint("person_id", "work_date", name="pk_daily_status"),
    )


def downgrade() -> None:
    """Drop the attendance tables."""
    op.drop_table("daily_status")
    op.drop_table("correction")
    op.drop_table("absence")
    op.drop_table("recap_run")
    op.drop_table("app_user")
    op.drop_table("ruleset")
    op.drop_table("ramadan_period")
    op.drop_table("holiday")

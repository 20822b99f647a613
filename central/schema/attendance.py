"""Attendance: rule sets, calendars, absences, corrections, daily status, recaps, users.

The inputs (holidays, absences, corrections, Ramadan periods, rule-set versions) and the outputs
(daily status, monthly recap runs) live side by side so a month recomputed from the same inputs
gives the same numbers, and a finalised month keeps the snapshot it was signed with.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from central.schema.base import UtcDateTime, metadata

#: Absence / leave / assignment codes (domain-id.md §4).
ABSENCE_CODES = ("CT", "CB", "CS", "CM", "CAP", "CBER", "CLTN", "I", "S", "DL", "DIK", "WFH")
#: Holiday categories (domain-id.md §5, §10).
HOLIDAY_CATEGORIES = ("LIBUR_NASIONAL", "CUTI_BERSAMA", "LIBUR_DAERAH", "LIBUR_KHUSUS")

ruleset = Table(
    "ruleset",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("body", Text, nullable=False),  # JSON: the rule set as configured
    Column("note", Text, nullable=False, server_default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("active_from", Date, nullable=False),  # the rule set in force from this date on
)

holiday = Table(
    "holiday",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("day", Date, nullable=False),
    Column("name", Text, nullable=False),
    Column("category", String(16), nullable=False),
    Column("source", String(16), nullable=False),  # holidays-pkg | manual
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("day", "name", name="uq_holiday_day_name"),
    CheckConstraint(
        "category IN ('LIBUR_NASIONAL','CUTI_BERSAMA','LIBUR_DAERAH','LIBUR_KHUSUS')",
        name="category",
    ),
)

ramadan_period = Table(
    "ramadan_period",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    CheckConstraint("end_date >= start_date", name="order"),
)

absence = Table(
    "absence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", Integer, ForeignKey("person.id"), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("code", String(8), nullable=False),
    Column("reference", Text, nullable=False, server_default=""),  # SK / letter number
    Column("note", Text, nullable=False, server_default=""),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("cancelled_at", UtcDateTime, nullable=True),
    CheckConstraint("end_date >= start_date", name="order"),
    CheckConstraint(
        "code IN ('CT','CB','CS','CM','CAP','CBER','CLTN','I','S','DL','DIK','WFH')", name="code"
    ),
)

correction = Table(
    "correction",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", Integer, ForeignKey("person.id"), nullable=False),
    Column("work_date", Date, nullable=False),
    # add_in / add_out: a manual event at ``at``; void: a punch or check-in not to count.
    Column("kind", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=True),
    Column("void_device_id", String(63), nullable=True),
    Column("void_seq", Integer, nullable=True),
    Column("void_checkin_id", String(36), nullable=True),
    Column("reason", Text, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("kind IN ('add_in','add_out','void')", name="kind"),
    CheckConstraint("length(reason) > 0", name="reason"),
)

daily_status = Table(
    "daily_status",
    metadata,
    Column("person_id", Integer, ForeignKey("person.id"), nullable=False),
    Column("work_date", Date, nullable=False),
    Column("unit_id", Integer, nullable=True),
    Column("ruleset_version", String(64), nullable=False),
    Column("calendar_version", String(64), nullable=False),
    # HADIR (present), TK (absent without notice), ABSEN (an absence code applies, see code),
    # LIBUR (holiday), OFF (not a working day for this person), PENDING (watermark not passed).
    Column("status", String(8), nullable=False),
    Column("code", String(8), nullable=True),  # absence code when status is ABSEN (or DL on HADIR)
    Column("scheduled", Boolean, nullable=False),  # counts towards HK
    Column("check_in", UtcDateTime, nullable=True),
    Column("check_out", UtcDateTime, nullable=True),
    Column("in_source", String(12), nullable=True),  # fingerprint | android | manual
    Column("out_source", String(12), nullable=True),
    Column("late_minutes", Integer, nullable=False, server_default="0"),
    Column("tl", String(4), nullable=True),  # TL1..TL4
    Column("early_minutes", Integer, nullable=False, server_default="0"),
    Column("psw", String(4), nullable=True),  # PSW1..PSW4
    Column("forgot_in", Boolean, nullable=False, server_default="0"),
    Column("forgot_out", Boolean, nullable=False, server_default="0"),
    Column("outside_minutes", Integer, nullable=False, server_default="0"),
    Column("deduction_pct", Numeric(6, 2), nullable=False, server_default="0"),
    Column("corrected", Boolean, nullable=False, server_default="0"),
    Column("note", Text, nullable=False, server_default=""),
    Column("computed_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("person_id", "work_date", name="pk_daily_status"),
    CheckConstraint("status IN ('HADIR','TK','ABSEN','LIBUR','OFF','PENDING')", name="status"),
    # The recap (migration 0006): one unit's month, and the TK days (year to date, runs).
    Index("ix_daily_status_unit_date", "unit_id", "work_date"),
    Index(
        "ix_daily_status_tk",
        "person_id",
        "work_date",
        sqlite_where=text("status = 'TK'"),
        postgresql_where=text("status = 'TK'"),
    ),
)

#: The month's totals of ``daily_status`` per person, unit and versions, which the recap reads
#: instead of the month's days (11,000 rows for a city-wide month instead of 330,000). Kept by
#: database triggers on ``daily_status`` (migration 0007), so every writer keeps it right,
#: including one that bypasses the application; ``central.attendance.recap_month`` checks it
#: against the days before a month is finalised and rebuilds it. The counts are packed as in
#: ``central.attendance.recap_sql.PACKS``; ``unit_key`` 0 is a day without a unit (the
#: person's), as a key column cannot be NULL; ``ded_cents`` is the deductions in hundredths
#: of a percent.
daily_status_month = Table(
    "daily_status_month",
    metadata,
    Column("month", Integer, nullable=False),  # year * 100 + month
    Column("person_id", Integer, nullable=False),
    Column("unit_key", Integer, nullable=False),
    Column("ruleset_version", String(64), nullable=False),
    Column("calendar_version", String(64), nullable=False),
    Column("days", Integer, nullable=False),
    Column("p_sched", Integer, nullable=False),
    Column("p_cuti", Integer, nullable=False),
    Column("p_flags", Integer, nullable=False),
    Column("p_tl", Integer, nullable=False),
    Column("p_psw", Integer, nullable=False),
    Column("tl_minutes", Integer, nullable=False),
    Column("psw_minutes", Integer, nullable=False),
    Column("outside_minutes", Integer, nullable=False),
    Column("ded_cents", BigInteger, nullable=False),
    PrimaryKeyConstraint(
        "month",
        "person_id",
        "unit_key",
        "ruleset_version",
        "calendar_version",
        name="pk_daily_status_month",
    ),
)

recap_run = Table(
    "recap_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("month", String(7), nullable=False),  # YYYY-MM
    Column("unit_id", Integer, ForeignKey("unit.id"), nullable=False),
    Column("ruleset_version", String(64), nullable=False),
    Column("calendar_version", String(64), nullable=False),
    Column("computed_at", UtcDateTime, nullable=False),
    Column("checksum", String(64), nullable=False),  # sha256 of the rows, to detect drift
    Column("rows", Text, nullable=False),  # JSON snapshot of the recap rows
    Column("finalized", Boolean, nullable=False, server_default="0"),
    Column("finalized_by", String(64), nullable=True),
    Column("finalized_at", UtcDateTime, nullable=True),
)

app_user = Table(
    "app_user",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),  # admin | unit_operator | viewer
    Column("unit_id", Integer, ForeignKey("unit.id"), nullable=True),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("role IN ('admin','unit_operator','viewer')", name="role"),
)

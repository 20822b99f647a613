"""The registry: units (OPD), sites with geofences, people and their numbers, schedules, rosters.

Keys and why:

* ``person.id`` is an internal integer. A NIP or NI PPPK is *not* the key: a PPPK who signs a
  contract with another instansi gets a new NI, and a PPPK who becomes PNS gets a NIP
  (domain-id.md §1.2), so numbers live in ``person_number`` with their validity interval.
* ``site.id`` is a short text code chosen by the administrator (``BKPPD-1``), because the owner's
  ``device.site_id`` is ``String(64)`` and a terminal's config names its site: the two then join
  without casts and read well in logs and status messages.
* "One number, one person at a time" is a *partial* unique index on ``person_number(number)``
  over the current rows (``valid_to IS NULL``). SQLite (3.8+) and PostgreSQL both have partial
  indexes, so the database enforces it on both; a closed row keeps the history without blocking.
  A second partial index allows one current *primary* number (any kind but ``LEGACY``) per person.
  That intervals of one number never overlap is checked by :mod:`central.registry` (a PostgreSQL
  exclusion constraint would do it in the database, but SQLite has none).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Double,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)

from central.schema.base import UtcDateTime, metadata

#: ``schedule.kind`` values. ``ramadan`` is a clock table used during the admin-entered Ramadan
#: period by the schedules that point at it (§2.4: a separate schedule, not an offset).
SCHEDULE_KINDS = ("five_day", "six_day", "shift", "ramadan")
#: ``unit.channel`` values (§6.4): which punches count for the unit's people.
CHANNELS = ("fingerprint", "mobile", "either")
#: ``person.employment_type`` values (§1.4).
EMPLOYMENT_TYPES = ("PNS", "CPNS", "PPPK", "PPPK_PW", "NON_ASN")
#: ``person_number.kind`` values: NIP PNS, NI PPPK, old 9-digit NIP (a reference only), and a
#: local register number.
NUMBER_KINDS = ("PNS", "PPPK", "LEGACY", "LOCAL")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


schedule = Table(
    "schedule",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    # {"mon": {"in": "07:30", "out": "16:00", "break": ["12:00", "13:00"]}, ...}; a weekday
    # missing is a day off. Empty for "shift": those days come from shift_roster.
    Column("days", JSON, nullable=False),
    # The clock table that replaces this one during Ramadan, where the unit follows it (§2.4).
    Column("ramadan_schedule_id", Integer, ForeignKey("schedule.id"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint(_in("kind", SCHEDULE_KINDS), name="kind"),
)

unit = Table(
    "unit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("channel", String(16), nullable=False, server_default="either"),
    # The schedule of the unit's people unless a person has their own.
    Column("schedule_id", Integer, ForeignKey("schedule.id"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint(_in("channel", CHANNELS), name="channel"),
)

site = Table(
    "site",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("unit_id", Integer, ForeignKey("unit.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("lat", Double, nullable=False),
    Column("lon", Double, nullable=False),
    Column("radius_m", Integer, nullable=False, server_default="100"),
    # A fix less precise than this is refused (§6.3: default 50 m, never above the radius).
    Column("accuracy_max_m", Integer, nullable=False, server_default="50"),
    Column("active", Boolean, nullable=False, server_default=true()),
    # The operator's switch: mobile check-ins accepted here even when the unit is fingerprint
    # only, e.g. while the terminal is broken. Who opened it, when and why are kept with it.
    Column("mobile_fallback_open", Boolean, nullable=False, server_default=false()),
    Column("mobile_fallback_reason", Text, nullable=True),
    Column("mobile_fallback_opened_at", UtcDateTime, nullable=True),
    Column("mobile_fallback_opened_by", String(64), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("unit_id", "name", name="uq_site_unit_id_name"),
    CheckConstraint("lat >= -90 AND lat <= 90", name="lat"),
    CheckConstraint("lon >= -180 AND lon <= 180", name="lon"),
    CheckConstraint("radius_m >= 10 AND radius_m <= 5000", name="radius_m"),
    CheckConstraint("accuracy_max_m >= 1 AND accuracy_max_m <= radius_m", name="accuracy_max_m"),
)

person = Table(
    "person",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("employment_type", String(8), nullable=False),
    Column("unit_id", Integer, ForeignKey("unit.id"), nullable=False, index=True),
    # NULL: the unit's schedule applies.
    Column("schedule_id", Integer, ForeignKey("schedule.id"), nullable=True),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(_in("employment_type", EMPLOYMENT_TYPES), name="employment_type"),
)

person_number = Table(
    "person_number",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", Integer, ForeignKey("person.id"), nullable=False, index=True),
    # Stored normalized: 18 or 9 bare digits, or the upper-cased local register number.
    Column("number", String(32), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("valid_from", UtcDateTime, nullable=False),
    Column("valid_to", UtcDateTime, nullable=True),
    CheckConstraint(_in("kind", NUMBER_KINDS), name="kind"),
    CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="interval"),
    # Lookups of a number at a past time (a punch from before a number change).
    Index("ix_person_number_number", "number"),
    Index(
        "uq_person_number_current",
        "number",
        unique=True,
        sqlite_where=text("valid_to IS NULL"),
        postgresql_where=text("valid_to IS NULL"),
    ),
    Index(
        "uq_person_number_primary",
        "person_id",
        unique=True,
        sqlite_where=text("valid_to IS NULL AND kind <> 'LEGACY'"),
        postgresql_where=text("valid_to IS NULL AND kind <> 'LEGACY'"),
    ),
)

# Sites a person may check in at and whose terminals count. No row: the unit's sites apply.
person_site = Table(
    "person_site",
    metadata,
    Column("person_id", Integer, ForeignKey("person.id"), nullable=False),
    Column("site_id", String(64), ForeignKey("site.id"), nullable=False, index=True),
    PrimaryKeyConstraint("person_id", "site_id"),
)

# One row per shift worker per day (§2.5). A row without times is a day off ("libur"); a
# shift crossing midnight belongs to work_date, the day it starts.
shift_roster = Table(
    "shift_roster",
    metadata,
    Column("person_id", Integer, ForeignKey("person.id"), nullable=False),
    Column("work_date", Date, nullable=False),
    Column("label", String(32), nullable=True),
    Column("start_at", UtcDateTime, nullable=True),
    Column("end_at", UtcDateTime, nullable=True),
    Column("break_minutes", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("person_id", "work_date"),
    CheckConstraint(
        "(start_at IS NULL AND end_at IS NULL)"
        " OR (start_at IS NOT NULL AND end_at IS NOT NULL AND end_at > start_at)",
        name="times",
    ),
)

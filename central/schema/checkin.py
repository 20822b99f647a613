"""Android check-ins: device bindings, check-ins (refused ones too), location pings, fallback log.

Why these shapes:

* ``mobile_device`` keeps only a SHA-256 of the bearer token. The token is 32 random bytes, so a
  plain hash is enough (no salt or slow hash needed: there is nothing to brute-force), and a
  stolen database does not let anyone check in. "One bound device per account" (domain-id.md
  §6.3 rule 5) is a partial unique index over the active rows, so the database enforces it.
* ``checkin`` stores **every** attempt, refused ones with their reason code and the message the
  person saw (§6.3 rule 7: disputes are settled from this table). ``accepted`` and ``reason``
  must agree (a check constraint). ``client_ref`` is the app's own id for the attempt, so a
  retry after a lost response is answered from the stored row instead of counting twice.
* ``location_ping`` keeps ``inside`` (``NULL`` when the fix cannot tell) and the distance to the
  nearest site, so the raw coordinates can be deleted after the retention period
  (:func:`central.api.checkins.purge_coordinates`) while the "outside the office area" intervals
  can still be recomputed. Intervals are computed on demand from these rows rather than stored:
  a late ping or a corrected schedule then needs no re-materialization, and one person-day is a
  few dozen rows read through ``ix_location_ping_person_time``.
* ``mobile_fallback_event`` is the history of the operator's switch; ``site`` only holds its
  current state, so the log answers "was mobile check-in open here at 08:10 last Tuesday?".
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from central.schema.base import UtcDateTime, metadata

#: ``checkin.kind`` values: the app's button; the day's in/out is decided by the attendance rules.
CHECKIN_KINDS = ("in", "out", "any")

mobile_device = Table(
    "mobile_device",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", Integer, ForeignKey("person.id"), nullable=False),
    # Settings.Secure.ANDROID_ID: 16 hex digits, per app signing key and user since Android 8.
    Column("device_id", String(64), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Index("ix_mobile_device_device_id", "device_id"),
    Index(
        "uq_mobile_device_active_person",
        "person_id",
        unique=True,
        sqlite_where=text("revoked_at IS NULL"),
        postgresql_where=text("revoked_at IS NULL"),
    ),
)

checkin = Table(
    "checkin",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", Integer, ForeignKey("person.id"), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("client_ref", String(36), nullable=True),
    Column("kind", String(3), nullable=False),
    Column("client_time", UtcDateTime, nullable=False),
    # Authoritative (§6.3 rule 3); the attendance rules use this one, never client_time.
    Column("server_time", UtcDateTime, nullable=False),
    Column("lat", Double, nullable=True),
    Column("lon", Double, nullable=True),
    Column("accuracy_m", Double, nullable=False),
    Column("mock_location", Boolean, nullable=False),
    # The accepting site, or for a refusal the nearest one (what the message named).
    Column("site_id", String(64), ForeignKey("site.id"), nullable=True),
    Column("distance_m", Double, nullable=True),
    Column("accepted", Boolean, nullable=False),
    Column("reason", String(32), nullable=True),
    Column("message", Text, nullable=True),
    UniqueConstraint("person_id", "client_ref", name="uq_checkin_person_id_client_ref"),
    CheckConstraint("kind IN ('in', 'out', 'any')", name="kind"),
    CheckConstraint(
        "(accepted AND reason IS NULL) OR (NOT accepted AND reason IS NOT NULL)",
        name="verdict",
    ),
    Index("ix_checkin_person_time", "person_id", "server_time"),
)

location_ping = Table(
    "location_ping",
    metadata,
    # BIGINT on PostgreSQL (a year of pings for 11,000 people passes 2**31); SQLite's rowid alias
    # must be spelled INTEGER to autoincrement.
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("person_id", Integer, ForeignKey("person.id"), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("server_time", UtcDateTime, nullable=False),
    Column("client_time", UtcDateTime, nullable=False),
    # Raw coordinates: NULL after purge_coordinates (UU PDP data minimisation).
    Column("lat", Double, nullable=True),
    Column("lon", Double, nullable=True),
    Column("accuracy_m", Double, nullable=False),
    Column("mock", Boolean, nullable=False),
    # TRUE inside a site, FALSE certainly outside every site, NULL cannot tell.
    Column("inside", Boolean, nullable=True),
    Column("site_id", String(64), ForeignKey("site.id"), nullable=True),
    Column("distance_m", Double, nullable=True),
    Index("ix_location_ping_person_time", "person_id", "server_time"),
    Index("ix_location_ping_server_time", "server_time"),
)

mobile_fallback_event = Table(
    "mobile_fallback_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(64), ForeignKey("site.id"), nullable=False),
    Column("open", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("operator", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_mobile_fallback_event_site_at", "site_id", "at"),
)

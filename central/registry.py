"""The registry's operations: units, sites and their geofences, people and their numbers, schedules.

Every function takes a :class:`~sqlalchemy.engine.Connection` and leaves the transaction to the
caller (``with engine.begin() as conn:``), so an import or an admin action that touches several
rows commits them together or not at all. Errors are :class:`RegistryError` subclasses with a
message in Bahasa Indonesia and English, since they reach operators as they are.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import Enum, StrEnum
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, insert, select, update

from central.identity import (
    DEFAULT_LOCAL_PATTERN,
    EmploymentType,
    NumberKind,
    check_number,
    lookup_forms,
    mask,
    parse_legacy_nip,
)
from central.schema.ingest import device
from central.schema.registry import (
    person,
    person_number,
    person_site,
    schedule,
    shift_roster,
    site,
    unit,
)

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_SCHEDULE_NAME = "Reguler 5 hari"
RAMADAN_SCHEDULE_NAME = "Ramadan 5 hari"
DEFAULT_RADIUS_M = 100  # §6.1, §10: observed 15-200 m. [KUPANG-CONFIRM]
DEFAULT_ACCURACY_MAX_M = 50  # §6.3
RADIUS_RANGE_M = (10, 5000)
# Unit codes and site ids: they appear in device configs, file names and logs.
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class RegistryError(ValueError):
    """A registry operation refused, with a message in Bahasa and English."""


class NotFound(RegistryError, LookupError):
    """No such unit, site, person, schedule or device."""


class Conflict(RegistryError):
    """The change would break a uniqueness rule (a number held by someone else, a code taken)."""


class InvalidGeofence(RegistryError):
    """Coordinates, radius or accuracy limit out of range."""


class InvalidSchedule(RegistryError):
    """A schedule's day table does not make sense."""


class Channel(StrEnum):
    """Which punches count for a unit's people (§6.4)."""

    FINGERPRINT = "fingerprint"
    MOBILE = "mobile"
    EITHER = "either"


class ScheduleKind(StrEnum):
    """``schedule.kind``."""

    FIVE_DAY = "five_day"
    SIX_DAY = "six_day"
    SHIFT = "shift"  # days come from shift_roster
    RAMADAN = "ramadan"  # the clock table another schedule switches to during Ramadan


class _Unset(Enum):
    UNSET = 0


UNSET = _Unset.UNSET  # "leave as it is", where None is a meaningful value


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit (OPD). ``schedule_id`` is the default schedule of its people."""

    id: int
    code: str
    name: str
    channel: Channel
    schedule_id: int | None


@dataclass(frozen=True, slots=True)
class Site:
    """An attendance location with its geofence (a circle, §6.3)."""

    id: str
    unit_id: int
    name: str
    lat: float
    lon: float
    radius_m: int
    accuracy_max_m: int
    active: bool
    mobile_fallback_open: bool
    mobile_fallback_reason: str | None
    mobile_fallback_opened_at: datetime | None
    mobile_fallback_opened_by: str | None


@dataclass(frozen=True, slots=True)
class Person:
    """A person, with the number they are identified by now (None if it was closed)."""

    id: int
    name: str
    employment_type: EmploymentType
    unit_id: int
    schedule_id: int | None
    active: bool
    number: str | None
    number_kind: NumberKind | None


@dataclass(frozen=True, slots=True)
class NumberPeriod:
    """One row of a person's number history; ``valid_to`` None means current."""

    number: str
    kind: NumberKind
    valid_from: datetime
    valid_to: datetime | None


@dataclass(frozen=True, slots=True)
class DayTimes:
    """One working day: in, out and an optional break, local (WITA) wall-clock times."""

    start: time
    end: time
    break_start: time | None = None
    break_end: time | None = None

    @property
    def net_minutes(self) -> int:
        """Minutes at work, break excluded."""
        total = _minutes(self.end) - _minutes(self.start)
        if self.break_start is not None and self.break_end is not None:
            total -= _minutes(self.break_end) - _minutes(self.break_start)
        return total


@dataclass(frozen=True, slots=True)
class Schedule:
    """A named weekly clock table; a weekday missing from ``days`` is a day off."""

    id: int
    name: str
    kind: ScheduleKind
    days: Mapping[str, DayTimes]
    ramadan_schedule_id: int | None

    @property
    def weekly_net_minutes(self) -> int:
        """Net minutes a week (Perpres 21/2023: 2250 normally, 1950 in Ramadan)."""
        return sum(d.net_minutes for d in self.days.values())


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _fold(text: str) -> str:
    """Case- and space-insensitive form of a name, for lookups ("Dinas  kesehatan")."""
    return " ".join(text.split()).casefold()


# --- schedules -------------------------------------------------------------------------------


def _t(text: str) -> time:
    return time.fromisoformat(text)


def default_five_day() -> dict[str, DayTimes]:
    """§2.2: Mon-Thu 07:30-16:00 break 12:00-13:00, Fri 07:30-16:30 break 11:30-13:00."""
    mon_thu = DayTimes(_t("07:30"), _t("16:00"), _t("12:00"), _t("13:00"))
    fri = DayTimes(_t("07:30"), _t("16:30"), _t("11:30"), _t("13:00"))
    return {"mon": mon_thu, "tue": mon_thu, "wed": mon_thu, "thu": mon_thu, "fri": fri}


def ramadan_five_day() -> dict[str, DayTimes]:
    """§2.4: Mon-Thu 08:00-15:00 break 12:00-12:30, Fri 08:00-15:30 break 11:30-12:30."""
    mon_thu = DayTimes(_t("08:00"), _t("15:00"), _t("12:00"), _t("12:30"))
    fri = DayTimes(_t("08:00"), _t("15:30"), _t("11:30"), _t("12:30"))
    return {"mon": mon_thu, "tue": mon_thu, "wed": mon_thu, "thu": mon_thu, "fri": fri}


def _days_to_json(days: Mapping[str, DayTimes]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for day in WEEKDAYS:
        if (d := days.get(day)) is None:
            continue
        entry: dict[str, Any] = {"in": d.start.strftime("%H:%M"), "out": d.end.strftime("%H:%M")}
        if d.break_start is not None and d.break_end is not None:
            entry["break"] = [d.break_start.strftime("%H:%M"), d.break_end.strftime("%H:%M")]
        out[day] = entry
    return out


def _days_from_json(raw: Mapping[str, Any]) -> dict[str, DayTimes]:
    days: dict[str, DayTimes] = {}
    for day, entry in raw.items():
        brk = entry.get("break")
        days[day] = DayTimes(
            _t(entry["in"]),
            _t(entry["out"]),
            _t(brk[0]) if brk else None,
            _t(brk[1]) if brk else None,
        )
    return days


def _check_days(kind: ScheduleKind, days: Mapping[str, DayTimes]) -> None:
    if kind is ScheduleKind.SHIFT and days:
        raise InvalidSchedule(
            "jadwal shift tidak punya jam mingguan; jam kerja ada di roster "
            "(a shift schedule has no weekly times: they are in the shift roster)"
        )
    for day, d in days.items():
        if day not in WEEKDAYS:
            raise InvalidSchedule(f"hari {day!r} tidak dikenal (unknown weekday, use {WEEKDAYS})")
        # A weekly table never crosses midnight: night work is a shift, dated by its start.
        if not d.start < d.end:
            raise InvalidSchedule(
                f"{day}: jam masuk harus sebelum jam pulang (in must be before out)"
            )
        if (d.break_start is None) != (d.break_end is None):
            raise InvalidSchedule(f"{day}: istirahat perlu awal dan akhir (break needs both ends)")
        if (
            d.break_start is not None
            and d.break_end is not None
            and not (d.start <= d.break_start < d.break_end <= d.end)
        ):
            raise InvalidSchedule(
                f"{day}: istirahat harus di dalam jam kerja (the break must lie within the day)"
            )


def _schedule(row: Row[Any]) -> Schedule:
    return Schedule(
        id=row.id,
        name=row.name,
        kind=ScheduleKind(row.kind),
        days=_days_from_json(row.days),
        ramadan_schedule_id=row.ramadan_schedule_id,
    )


def add_schedule(
    conn: Connection,
    name: str,
    kind: ScheduleKind,
    days: Mapping[str, DayTimes],
    *,
    ramadan_schedule_id: int | None = None,
    now: datetime | None = None,
) -> Schedule:
    """Create a schedule.

    Raises:
        InvalidSchedule: A day's times do not make sense.
        Conflict: The name is taken (names are unique, ignoring case).
    """
    name = " ".join(name.split())
    _check_days(kind, days)
    if find_schedule(conn, name) is not None:
        raise Conflict(f"jadwal {name!r} sudah ada (a schedule of that name exists)")
    if ramadan_schedule_id is not None:
        get_schedule(conn, ramadan_schedule_id)
    new_id = conn.execute(
        insert(schedule)
        .returning(schedule.c.id)
        .values(
            name=name,
            kind=kind.value,
            days=_days_to_json(days),
            ramadan_schedule_id=ramadan_schedule_id,
            created_at=_now(now),
        )
    ).scalar_one()
    return get_schedule(conn, new_id)


def get_schedule(conn: Connection, schedule_id: int) -> Schedule:
    """The schedule ``schedule_id``, or :class:`NotFound`."""
    row = conn.execute(select(schedule).where(schedule.c.id == schedule_id)).one_or_none()
    if row is None:
        raise NotFound(f"jadwal {schedule_id} tidak ada (no schedule {schedule_id})")
    return _schedule(row)


def find_schedule(conn: Connection, name: str) -> Schedule | None:
    """The schedule called ``name``, ignoring case and extra spaces."""
    for row in conn.execute(select(schedule)):
        if _fold(row.name) == _fold(name):
            return _schedule(row)
    return None


def list_schedules(conn: Connection) -> list[Schedule]:
    """Every schedule, by name."""
    return [_schedule(r) for r in conn.execute(select(schedule).order_by(schedule.c.name))]


def ensure_default_schedules(conn: Connection, *, now: datetime | None = None) -> Schedule:
    """Create the §2.2 five-day schedule (and its §2.4 Ramadan table) if missing; return it."""
    regular = find_schedule(conn, DEFAULT_SCHEDULE_NAME)
    if regular is not None:
        return regular
    ramadan = find_schedule(conn, RAMADAN_SCHEDULE_NAME) or add_schedule(
        conn, RAMADAN_SCHEDULE_NAME, ScheduleKind.RAMADAN, ramadan_five_day(), now=now
    )
    return add_schedule(
        conn,
        DEFAULT_SCHEDULE_NAME,
        ScheduleKind.FIVE_DAY,
        default_five_day(),
        ramadan_schedule_id=ramadan.id,
        now=now,
    )


# --- units -----------------------------------------------------------------------------------


def _unit(row: Row[Any]) -> Unit:
    return Unit(row.id, row.code, row.name, Channel(row.channel), row.schedule_id)


def add_unit(
    conn: Connection,
    code: str,
    name: str,
    *,
    channel: Channel = Channel.EITHER,
    schedule_id: int | None = None,
    now: datetime | None = None,
) -> Unit:
    """Create a unit (OPD) with a short code (``DINKES``) and its full name.

    Raises:
        Conflict: The code is taken (ignoring case).
        NotFound: ``schedule_id`` does not exist.
    """
    code, name = code.strip(), " ".join(name.split())
    if not name:
        raise RegistryError("nama unit wajib diisi (the unit name is required)")
    if _CODE.fullmatch(code) is None or len(code) > 32:
        raise RegistryError(
            f"kode unit {code!r}: 1-32 huruf, angka, . _ - (unit code: 1-32 letters, digits, . _ -)"
        )
    taken = conn.execute(select(unit.c.id).where(func.lower(unit.c.code) == code.lower())).first()
    if taken is not None:
        raise Conflict(f"kode unit {code!r} sudah dipakai (unit code already in use)")
    if schedule_id is not None:
        get_schedule(conn, schedule_id)
    new_id = conn.execute(
        insert(unit)
        .returning(unit.c.id)
        .values(
            code=code,
            name=name,
            channel=channel.value,
            schedule_id=schedule_id,
            created_at=_now(now),
        )
    ).scalar_one()
    return get_unit(conn, new_id)


def get_unit(conn: Connection, unit_id: int) -> Unit:
    """The unit ``unit_id``, or :class:`NotFound`."""
    row = conn.execute(select(unit).where(unit.c.id == unit_id)).one_or_none()
    if row is None:
        raise NotFound(f"unit {unit_id} tidak ada (no unit {unit_id})")
    return _unit(row)


def list_units(conn: Connection) -> list[Unit]:
    """Every unit, by code."""
    return [_unit(r) for r in conn.execute(select(unit).order_by(unit.c.code))]


def find_unit(conn: Connection, key: str) -> Unit | None:
    """The unit whose code, else whose name, is ``key`` (ignoring case and extra spaces).

    Raises:
        Conflict: Several units have that name (and none that code).
    """
    units = list_units(conn)
    by_code = [u for u in units if u.code.casefold() == key.strip().casefold()]
    if by_code:
        return by_code[0]
    by_name = [u for u in units if _fold(u.name) == _fold(key)]
    if len(by_name) > 1:
        codes = ", ".join(u.code for u in by_name)
        raise Conflict(
            f"nama unit {key!r} ganda ({codes}); pakai kode (ambiguous name: use a code)"
        )
    return by_name[0] if by_name else None


def update_unit(
    conn: Connection,
    unit_id: int,
    *,
    name: str | _Unset = UNSET,
    channel: Channel | _Unset = UNSET,
    schedule_id: int | _Unset | None = UNSET,
) -> Unit:
    """Change a unit's name, channel policy or default schedule (``None``: no default)."""
    get_unit(conn, unit_id)
    values: dict[str, Any] = {}
    if not isinstance(name, _Unset):
        values["name"] = " ".join(name.split())
    if not isinstance(channel, _Unset):
        values["channel"] = channel.value
    if not isinstance(schedule_id, _Unset):
        if schedule_id is not None:
            get_schedule(conn, schedule_id)
        values["schedule_id"] = schedule_id
    if values:
        conn.execute(update(unit).where(unit.c.id == unit_id).values(**values))
    return get_unit(conn, unit_id)


# --- sites -----------------------------------------------------------------------------------


def validate_geofence(lat: float, lon: float, radius_m: int, accuracy_max_m: int) -> None:
    """Check a circle geofence: WGS84 ranges, radius 10-5000 m, 1 <= accuracy limit <= radius.

    Raises:
        InvalidGeofence: Naming the field.
    """
    if not -90.0 <= lat <= 90.0:
        raise InvalidGeofence(f"lintang {lat} di luar -90..90 (latitude {lat} out of -90..90)")
    if not -180.0 <= lon <= 180.0:
        raise InvalidGeofence(f"bujur {lon} di luar -180..180 (longitude {lon} out of -180..180)")
    low, high = RADIUS_RANGE_M
    if not low <= radius_m <= high:
        raise InvalidGeofence(
            f"radius {radius_m} m di luar {low}..{high} m (radius out of {low}..{high} m)"
        )
    # §6.3: a fix vaguer than the fence itself cannot show that anyone is inside it.
    if not 1 <= accuracy_max_m <= radius_m:
        raise InvalidGeofence(
            f"batas akurasi {accuracy_max_m} m harus 1..{radius_m} m, tidak melebihi radius "
            f"(accuracy limit must be 1..radius)"
        )


def _site(row: Row[Any]) -> Site:
    return Site(
        id=row.id,
        unit_id=row.unit_id,
        name=row.name,
        lat=row.lat,
        lon=row.lon,
        radius_m=row.radius_m,
        accuracy_max_m=row.accuracy_max_m,
        active=row.active,
        mobile_fallback_open=row.mobile_fallback_open,
        mobile_fallback_reason=row.mobile_fallback_reason,
        mobile_fallback_opened_at=row.mobile_fallback_opened_at,
        mobile_fallback_opened_by=row.mobile_fallback_opened_by,
    )


def add_site(
    conn: Connection,
    *,
    unit_id: int,
    name: str,
    lat: float,
    lon: float,
    radius_m: int = DEFAULT_RADIUS_M,
    accuracy_max_m: int | None = None,
    site_id: str | None = None,
    now: datetime | None = None,
) -> Site:
    """Create a site of ``unit_id``; its id defaults to ``<unit code>-<n>``.

    ``accuracy_max_m`` defaults to 50 m (§6.3), or the radius where the fence is smaller.

    Raises:
        InvalidGeofence: Bad coordinates, radius or accuracy limit.
        Conflict: The id is taken, or the unit has a site of that name.
        NotFound: No such unit.
    """
    owner = get_unit(conn, unit_id)
    name = " ".join(name.split())
    if accuracy_max_m is None:
        accuracy_max_m = min(DEFAULT_ACCURACY_MAX_M, radius_m)
    validate_geofence(lat, lon, radius_m, accuracy_max_m)
    if any(_fold(s.name) == _fold(name) for s in unit_sites(conn, unit_id, include_inactive=True)):
        raise Conflict(f"unit {owner.code} sudah punya lokasi {name!r} (site name taken)")
    if site_id is None:
        n = len(unit_sites(conn, unit_id, include_inactive=True)) + 1
        while find_site(conn, f"{owner.code}-{n}") is not None:
            n += 1
        site_id = f"{owner.code}-{n}"
    elif _CODE.fullmatch(site_id) is None or len(site_id) > 64:
        raise RegistryError(
            f"kode lokasi {site_id!r} hanya huruf, angka, . _ - (site id: letters, digits, . _ -)"
        )
    elif find_site(conn, site_id) is not None:
        raise Conflict(f"kode lokasi {site_id!r} sudah dipakai (site id already in use)")
    conn.execute(
        insert(site).values(
            id=site_id,
            unit_id=unit_id,
            name=name,
            lat=lat,
            lon=lon,
            radius_m=radius_m,
            accuracy_max_m=accuracy_max_m,
            created_at=_now(now),
        )
    )
    return get_site(conn, site_id)


def find_site(conn: Connection, site_id: str) -> Site | None:
    """The site ``site_id``, or None."""
    row = conn.execute(select(site).where(site.c.id == site_id)).one_or_none()
    return None if row is None else _site(row)


def get_site(conn: Connection, site_id: str) -> Site:
    """The site ``site_id``, or :class:`NotFound`."""
    found = find_site(conn, site_id)
    if found is None:
        raise NotFound(f"lokasi {site_id!r} tidak ada (no site {site_id!r})")
    return found


def unit_sites(conn: Connection, unit_id: int, *, include_inactive: bool = False) -> list[Site]:
    """The sites of a unit, by id."""
    query = select(site).where(site.c.unit_id == unit_id).order_by(site.c.id)
    if not include_inactive:
        query = query.where(site.c.active)
    return [_site(r) for r in conn.execute(query)]


def list_sites(conn: Connection) -> list[Site]:
    """Every site, active or not, by id."""
    return [_site(r) for r in conn.execute(select(site).order_by(site.c.id))]


def set_geofence(
    conn: Connection,
    site_id: str,
    *,
    lat: float,
    lon: float,
    radius_m: int,
    accuracy_max_m: int,
) -> Site:
    """Move or resize a site's geofence (validated as in :func:`validate_geofence`)."""
    get_site(conn, site_id)
    validate_geofence(lat, lon, radius_m, accuracy_max_m)
    conn.execute(
        update(site)
        .where(site.c.id == site_id)
        .values(lat=lat, lon=lon, radius_m=radius_m, accuracy_max_m=accuracy_max_m)
    )
    return get_site(conn, site_id)


def set_site_active(conn: Connection, site_id: str, active: bool) -> Site:
    """Retire a site (or bring it back); a retired site keeps its history but takes no check-ins."""
    get_site(conn, site_id)
    conn.execute(update(site).where(site.c.id == site_id).values(active=active))
    return get_site(conn, site_id)


def open_mobile_fallback(
    conn: Connection, site_id: str, *, reason: str, by: str, now: datetime | None = None
) -> Site:
    """Accept mobile check-ins at a site whatever its unit's channel, e.g. while a terminal is down.

    Raises:
        RegistryError: No reason given: the switch changes who counts as present, so it must
            say why.
    """
    if not reason.strip() or not by.strip():
        raise RegistryError(
            "alasan dan operator wajib diisi (a reason and the operator are required)"
        )
    get_site(conn, site_id)
    conn.execute(
        update(site)
        .where(site.c.id == site_id)
        .values(
            mobile_fallback_open=True,
            mobile_fallback_reason=reason.strip(),
            mobile_fallback_opened_at=_now(now),
            mobile_fallback_opened_by=by.strip(),
        )
    )
    log.info("mobile fallback opened site=%s by=%s", site_id, by.strip())
    return get_site(conn, site_id)


def close_mobile_fallback(conn: Connection, site_id: str) -> Site:
    """Close the operator switch again; the unit's channel policy applies."""
    get_site(conn, site_id)
    conn.execute(
        update(site)
        .where(site.c.id == site_id)
        .values(
            mobile_fallback_open=False,
            mobile_fallback_reason=None,
            mobile_fallback_opened_at=None,
            mobile_fallback_opened_by=None,
        )
    )
    log.info("mobile fallback closed site=%s", site_id)
    return get_site(conn, site_id)


def assign_device(conn: Connection, device_id: str, site_id: str | None) -> None:
    """Record which site a terminal stands at (``None``: not placed).

    Raises:
        NotFound: No such device or site.
    """
    if site_id is not None:
        get_site(conn, site_id)
    done = conn.execute(update(device).where(device.c.id == device_id).values(site_id=site_id))
    if done.rowcount != 1:
        raise NotFound(f"perangkat {device_id!r} tidak ada (no device {device_id!r})")


# --- people ----------------------------------------------------------------------------------

_CURRENT_PRIMARY = and_(
    person_number.c.person_id == person.c.id,
    person_number.c.valid_to.is_(None),
    person_number.c.kind != NumberKind.LEGACY.value,
)
_PERSON = select(person, person_number.c.number, person_number.c.kind.label("number_kind"))


def _person(row: Row[Any]) -> Person:
    return Person(
        id=row.id,
        name=row.name,
        employment_type=EmploymentType(row.employment_type),
        unit_id=row.unit_id,
        schedule_id=row.schedule_id,
        active=row.active,
        number=row.number,
        number_kind=None if row.number_kind is None else NumberKind(row.number_kind),
    )


def get_person(conn: Connection, person_id: int) -> Person:
    """The person ``person_id`` with their current number, or :class:`NotFound`."""
    row = conn.execute(
        _PERSON.outerjoin(person_number, _CURRENT_PRIMARY).where(person.c.id == person_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"pegawai {person_id} tidak ada (no person {person_id})")
    return _person(row)


def find_person(conn: Connection, number: str, *, at: datetime | None = None) -> Person | None:
    """The person identified by ``number`` now, or at time ``at`` (a punch from before a change).

    ``number`` may be typed with spaces, dots or hyphens. An old 9-digit NIP finds nobody: it is a
    reference, never a key (§1.3). An inactive person is found too; :attr:`Person.active` says so.
    """
    held = person_number.c.number.in_(lookup_forms(number)) & (
        person_number.c.kind != NumberKind.LEGACY.value
    )
    if at is None:
        held &= person_number.c.valid_to.is_(None)
    else:
        held &= (person_number.c.valid_from <= at) & (
            person_number.c.valid_to.is_(None) | (person_number.c.valid_to > at)
        )
    rows = conn.execute(select(person_number.c.person_id, person_number.c.number).where(held))
    # lookup_forms lists the stored form typed first, so its holder wins a (rare) tie.
    holders = {r.number: r.person_id for r in rows}
    for form in lookup_forms(number):
        if form in holders:
            return get_person(conn, holders[form])
    return None


def number_history(conn: Connection, person_id: int) -> list[NumberPeriod]:
    """Every number the person has held, oldest first."""
    rows = conn.execute(
        select(person_number)
        .where(person_number.c.person_id == person_id)
        .order_by(person_number.c.valid_from, person_number.c.id)
    )
    return [NumberPeriod(r.number, NumberKind(r.kind), r.valid_from, r.valid_to) for r in rows]


def _claim_number(
    conn: Connection, person_id: int, number: str, kind: NumberKind, at: datetime
) -> None:
    """Give ``number`` to ``person_id`` from ``at``, unless someone else holds it then or later.

    A later closed holding also blocks: intervals of one number must not overlap, so that
    :func:`find_person` at any time names one person.
    """
    for r in conn.execute(select(person_number).where(person_number.c.number == number)):
        if r.person_id != person_id and (r.valid_to is None or r.valid_to > at):
            raise Conflict(
                f"nomor {number} sudah dipakai pegawai lain (id {r.person_id}) "
                f"(number {number} belongs to another person)"
            )
    conn.execute(
        insert(person_number).values(
            person_id=person_id, number=number, kind=kind.value, valid_from=at, valid_to=None
        )
    )


def add_person(
    conn: Connection,
    *,
    name: str,
    employment_type: EmploymentType,
    unit_id: int,
    number: str,
    schedule_id: int | None = None,
    local_pattern: str = DEFAULT_LOCAL_PATTERN,
    now: datetime | None = None,
) -> Person:
    """Register a person and the number that identifies them.

    Raises:
        central.identity.InvalidIdentity: The number is malformed or of the wrong kind.
        Conflict: Someone else holds the number.
        NotFound: No such unit or schedule.
    """
    checked = check_number(number, employment_type, local_pattern=local_pattern)
    name = " ".join(name.split())
    if not name:
        raise RegistryError("nama wajib diisi (name is required)")
    get_unit(conn, unit_id)
    if schedule_id is not None:
        get_schedule(conn, schedule_id)
    at = _now(now)
    new_id = conn.execute(
        insert(person)
        .returning(person.c.id)
        .values(
            name=name,
            employment_type=employment_type.value,
            unit_id=unit_id,
            schedule_id=schedule_id,
            active=True,
            created_at=at,
            updated_at=at,
        )
    ).scalar_one()
    person_id = new_id
    _claim_number(conn, person_id, checked.number, checked.kind, at)
    log.info("person added id=%d number=%s", person_id, mask(checked.number))
    return get_person(conn, person_id)


def update_person(
    conn: Connection,
    person_id: int,
    *,
    name: str | _Unset = UNSET,
    employment_type: EmploymentType | _Unset = UNSET,
    unit_id: int | _Unset = UNSET,
    schedule_id: int | _Unset | None = UNSET,
    active: bool | _Unset = UNSET,
    now: datetime | None = None,
) -> Person:
    """Change a person's details; the number changes only through :func:`change_number`.

    Raises:
        RegistryError: The new employment type needs another kind of number (PPPK to PNS, say):
            use :func:`change_number` with the new number.
    """
    current = get_person(conn, person_id)
    values: dict[str, Any] = {}
    if not isinstance(name, _Unset):
        values["name"] = " ".join(name.split())
    if not isinstance(employment_type, _Unset):
        if current.number_kind is not None and employment_type.number_kind != current.number_kind:
            raise RegistryError(
                f"jenis pegawai {employment_type.value} perlu nomor lain; ganti nomornya "
                f"(employment type {employment_type.value} needs a new number: change the number)"
            )
        values["employment_type"] = employment_type.value
    if not isinstance(unit_id, _Unset):
        get_unit(conn, unit_id)
        values["unit_id"] = unit_id
    if not isinstance(schedule_id, _Unset):
        if schedule_id is not None:
            get_schedule(conn, schedule_id)
        values["schedule_id"] = schedule_id
    if not isinstance(active, _Unset):
        values["active"] = active
    if values:
        values["updated_at"] = _now(now)
        conn.execute(update(person).where(person.c.id == person_id).values(**values))
    return get_person(conn, person_id)


def change_number(
    conn: Connection,
    person_id: int,
    new_number: str,
    *,
    employment_type: EmploymentType | None = None,
    at: datetime | None = None,
    local_pattern: str = DEFAULT_LOCAL_PATTERN,
) -> Person:
    """Give a person a new number from ``at``, closing the old one (it stays in the history).

    For a new NI PPPK, a PPPK appointed PNS, or a honorer appointed PPPK paruh waktu; pass
    ``employment_type`` when that changes too. The same number again is a no-op.

    Raises:
        central.identity.InvalidIdentity: The number is malformed or of the wrong kind.
        Conflict: Someone else holds it.
    """
    current = get_person(conn, person_id)
    etype = employment_type or current.employment_type
    checked = check_number(new_number, etype, local_pattern=local_pattern)
    if checked.number == current.number and etype is current.employment_type:
        return current
    when = _now(at)
    if checked.number != current.number:
        open_row = (
            (person_number.c.person_id == person_id)
            & person_number.c.valid_to.is_(None)
            & (person_number.c.kind != NumberKind.LEGACY.value)
        )
        since = conn.execute(select(person_number.c.valid_from).where(open_row)).scalar()
        if since is not None and since > when:
            raise RegistryError(
                f"tanggal berlaku {when:%Y-%m-%d} sebelum nomor lama berlaku "
                f"(the change cannot precede the current number's start)"
            )
        conn.execute(update(person_number).where(open_row).values(valid_to=when))
        _claim_number(conn, person_id, checked.number, checked.kind, when)
        log.info(
            "number changed person=%d old=%s new=%s",
            person_id,
            mask(current.number or ""),
            mask(checked.number),
        )
    conn.execute(
        update(person)
        .where(person.c.id == person_id)
        .values(employment_type=etype.value, updated_at=when)
    )
    return get_person(conn, person_id)


def add_legacy_nip(
    conn: Connection, person_id: int, nip_lama: str, *, now: datetime | None = None
) -> None:
    """Record a person's old 9-digit NIP as a reference (never used to find them, §1.3)."""
    get_person(conn, person_id)
    _claim_number(conn, person_id, parse_legacy_nip(nip_lama), NumberKind.LEGACY, _now(now))


def person_sites(conn: Connection, person_id: int) -> list[Site]:
    """The sites linked to a person explicitly, by id."""
    rows = conn.execute(
        select(site)
        .join(person_site, person_site.c.site_id == site.c.id)
        .where(person_site.c.person_id == person_id)
        .order_by(site.c.id)
    )
    return [_site(r) for r in rows]


def allowed_sites(conn: Connection, person_id: int) -> list[Site]:
    """Where a person may check in: their linked sites, else their unit's; active ones only."""
    linked = [s for s in person_sites(conn, person_id) if s.active]
    return linked or unit_sites(conn, get_person(conn, person_id).unit_id)


def link_person_site(conn: Connection, person_id: int, site_id: str) -> None:
    """Let a person check in at ``site_id`` (idempotent)."""
    get_person(conn, person_id)
    get_site(conn, site_id)
    linked = conn.execute(
        select(person_site).where(
            (person_site.c.person_id == person_id) & (person_site.c.site_id == site_id)
        )
    ).first()
    if linked is None:
        conn.execute(insert(person_site).values(person_id=person_id, site_id=site_id))


def unlink_person_site(conn: Connection, person_id: int, site_id: str) -> None:
    """Remove a person's link to ``site_id`` (idempotent)."""
    conn.execute(
        delete(person_site).where(
            (person_site.c.person_id == person_id) & (person_site.c.site_id == site_id)
        )
    )


def set_person_sites(conn: Connection, person_id: int, site_ids: Iterable[str]) -> None:
    """Make a person's linked sites exactly ``site_ids`` (empty: the unit's sites apply)."""
    wanted = set(site_ids)
    have = {s.id for s in person_sites(conn, person_id)}
    for site_id in sorted(have - wanted):
        unlink_person_site(conn, person_id, site_id)
    for site_id in sorted(wanted - have):
        link_person_site(conn, person_id, site_id)


# --- shift rosters ---------------------------------------------------------------------------


def set_shift(
    conn: Connection,
    person_id: int,
    work_date: date,
    start_at: datetime | None,
    end_at: datetime | None,
    *,
    label: str | None = None,
    break_minutes: int = 0,
) -> None:
    """Put a shift (or, with no times, a day off) on a person's roster, replacing that day's.

    The shift belongs to ``work_date`` even when it ends after midnight (§2.5).
    """
    if (start_at is None) != (end_at is None) or (
        start_at is not None and end_at is not None and not start_at < end_at
    ):
        raise RegistryError(
            "shift perlu mulai < selesai, atau keduanya kosong untuk libur "
            "(a shift needs start < end, or neither for a day off)"
        )
    get_person(conn, person_id)
    day = (shift_roster.c.person_id == person_id) & (shift_roster.c.work_date == work_date)
    conn.execute(delete(shift_roster).where(day))
    conn.execute(
        insert(shift_roster).values(
            person_id=person_id,
            work_date=work_date,
            label=label,
            start_at=start_at,
            end_at=end_at,
            break_minutes=break_minutes,
        )
    )


def shifts(conn: Connection, person_id: int, first: date, last: date) -> list[Row[Any]]:
    """A person's roster rows from ``first`` to ``last`` inclusive, by date."""
    return list(
        conn.execute(
            select(shift_roster)
            .where(
                (shift_roster.c.person_id == person_id)
                & shift_roster.c.work_date.between(first, last)
            )
            .order_by(shift_roster.c.work_date)
        )
    )

"""The dashboard's reads: today per unit, the terminals, the month per day and per unit.

Every function takes ``units``: the unit ids the caller may see, or ``None`` for all. It becomes
a ``WHERE ... IN`` of the SQL, so a unit operator's page cannot contain another unit's rows
whatever the page asks for. A day's status row is counted under ``daily_status.unit_id`` (the
unit when it was computed), else the person's current unit.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    case,
    func,
    or_,
    select,
    true,
    union,
)

from central.schema.attendance import daily_status
from central.schema.checkin import checkin
from central.schema.ingest import device, punch
from central.schema.registry import person, person_number, site, unit

#: The statuses of ``daily_status`` counted per unit on the "today" table.
STATUSES = ("HADIR", "TK", "ABSEN", "LIBUR", "OFF", "PENDING")


@dataclass(frozen=True, slots=True)
class UnitRef:
    """A unit as the filter lists it."""

    id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class UnitToday:
    """One unit's attendance on one day.

    Attributes:
        unit: The unit.
        people: Its active people.
        seen: People with an accepted check-in, a fingerprint punch, or a recorded check-in
            on the day: live, before the attendance rules have run.
        counts: ``daily_status`` rows of the day per status (``HADIR``, ``TK``, ...).
        tl: Rows with a late arrival (TL1..TL4).
        psw: Rows with an early departure (PSW1..PSW4).
    """

    unit: UnitRef
    people: int
    seen: int
    counts: dict[str, int]
    tl: int
    psw: int


@dataclass(frozen=True, slots=True)
class Terminal:
    """A fingerprint terminal's last heartbeat.

    Attributes:
        id: The device id.
        site: The site's name, or ``None`` when the device is not assigned.
        unit_code: The site's unit.
        state: ``online``, ``stale`` (says online, but no heartbeat lately) or ``offline``.
        last_seen: The last heartbeat or last will (UTC).
        outbox_depth: Punches waiting on the terminal.
        clock_synced: Whether the terminal's clock is NTP-synchronised.
        clock_skew_ms: Terminal clock minus server clock at the last heartbeat.
        sensor: The sensor's state.
    """

    id: str
    site: str | None
    unit_code: str | None
    state: str
    last_seen: datetime | None
    outbox_depth: int | None
    clock_synced: bool | None
    clock_skew_ms: int | None
    sensor: str | None


@dataclass(frozen=True, slots=True)
class Totals:
    """Counts over ``daily_status`` rows: present, late, early, absent, on leave.

    Attributes:
        h: ``HADIR`` rows.
        tl: Rows with a TL.
        psw: Rows with a PSW.
        tk: ``TK`` rows (absent without notice).
        absen: ``ABSEN`` rows (leave, sick, assignment...).
    """

    h: int = 0
    tl: int = 0
    psw: int = 0
    tk: int = 0
    absen: int = 0


@dataclass(frozen=True, slots=True)
class DayCounts(Totals):
    """:class:`Totals` of one day (the chart's bars)."""

    day: date = date.min


@dataclass(frozen=True, slots=True)
class UnitMonth(Totals):
    """:class:`Totals` of one unit over a month."""

    unit: UnitRef | None = None


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day ``day`` as a half-open UTC-comparable interval."""
    start = datetime.combine(day, time(0), tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), tz)


def month_bounds(month: date) -> tuple[date, date]:
    """The first and last day of ``month``'s month."""
    first = month.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _in(column: Any, units: Collection[int] | None) -> ColumnElement[bool]:
    return true() if units is None else column.in_(sorted(units))


def list_units(conn: Connection, units: Collection[int] | None) -> list[UnitRef]:
    """The units the caller may see, by code."""
    rows = conn.execute(
        select(unit.c.id, unit.c.code, unit.c.name)
        .where(_in(unit.c.id, units))
        .order_by(unit.c.code)
    )
    return [UnitRef(r.id, r.code, r.name) for r in rows]


_UNIT = func.coalesce(daily_status.c.unit_id, person.c.unit_id)


def _sum(cond: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


_TOTALS = (
    _sum(daily_status.c.status == "HADIR").label("h"),
    _sum(daily_status.c.tl.is_not(None)).label("tl"),
    _sum(daily_status.c.psw.is_not(None)).label("psw"),
    _sum(daily_status.c.status == "TK").label("tk"),
    _sum(daily_status.c.status == "ABSEN").label("absen"),
)


def seen_today(
    conn: Connection, day: date, tz: ZoneInfo, units: Collection[int] | None
) -> dict[int, int]:
    """People seen on ``day`` per unit: punches, accepted check-ins, recorded check-ins.

    A punch names the person by number (NIP or local number); it counts for the person who held
    that number at the punch's time.
    """
    start, end = day_bounds(day, tz)
    mobile = select(checkin.c.person_id.label("pid")).where(
        checkin.c.accepted, checkin.c.server_time >= start, checkin.c.server_time < end
    )
    fingerprint = (
        select(person_number.c.person_id.label("pid"))
        .select_from(punch.join(person_number, person_number.c.number == punch.c.person))
        .where(
            punch.c.at >= start,
            punch.c.at < end,
            person_number.c.kind != "LEGACY",
            person_number.c.valid_from <= punch.c.at,
            or_(person_number.c.valid_to.is_(None), person_number.c.valid_to > punch.c.at),
        )
    )
    recorded = select(daily_status.c.person_id.label("pid")).where(
        daily_status.c.work_date == day, daily_status.c.check_in.is_not(None)
    )
    seen = union(mobile, fingerprint, recorded).subquery()
    rows = conn.execute(
        select(person.c.unit_id, func.count().label("n"))
        .select_from(person.join(seen, seen.c.pid == person.c.id))
        .where(_in(person.c.unit_id, units))
        .group_by(person.c.unit_id)
    )
    return {r.unit_id: r.n for r in rows}


def today_by_unit(
    conn: Connection, day: date, tz: ZoneInfo, units: Collection[int] | None
) -> list[UnitToday]:
    """Each visible unit's people, live count and ``daily_status`` counts on ``day``."""
    refs = list_units(conn, units)
    people = {
        r.unit_id: int(r.n)
        for r in conn.execute(
            select(person.c.unit_id, func.count().label("n"))
            .where(person.c.active, _in(person.c.unit_id, units))
            .group_by(person.c.unit_id)
        )
    }
    by_status = (
        select(
            _UNIT.label("unit_id"),
            *(_sum(daily_status.c.status == s).label(s) for s in STATUSES),
            _TOTALS[1],
            _TOTALS[2],
        )
        .select_from(daily_status.join(person, person.c.id == daily_status.c.person_id))
        .where(daily_status.c.work_date == day, _in(_UNIT, units))
        .group_by(_UNIT)
    )
    status = {r.unit_id: r for r in conn.execute(by_status)}
    seen = seen_today(conn, day, tz, units)
    out = []
    for ref in refs:
        row = status.get(ref.id)
        counts = {s: int(getattr(row, s)) if row is not None else 0 for s in STATUSES}
        out.append(
            UnitToday(
                unit=ref,
                people=people.get(ref.id, 0),
                seen=seen.get(ref.id, 0),
                counts=counts,
                tl=int(row.tl) if row is not None else 0,
                psw=int(row.psw) if row is not None else 0,
            )
        )
    return out


def terminals(
    conn: Connection, units: Collection[int] | None, now: datetime, offline_after: timedelta
) -> list[Terminal]:
    """The terminals of the visible units (all, unassigned ones too, when ``units`` is None).

    A terminal whose last heartbeat is older than ``offline_after`` is ``stale`` even if its row
    still says online (the broker's last will did not arrive, e.g. a cut network).
    """
    query = (
        select(device, site.c.name.label("site_name"), unit.c.code.label("unit_code"))
        .select_from(
            device.outerjoin(site, site.c.id == device.c.site_id).outerjoin(
                unit, unit.c.id == site.c.unit_id
            )
        )
        .where(_in(site.c.unit_id, units))
        .order_by(unit.c.code.is_(None), unit.c.code, device.c.id)  # unassigned last
    )
    out = []
    for r in conn.execute(query):
        if not r.online:
            state = "offline"
        elif r.last_status_at is None or now - r.last_status_at > offline_after:
            state = "stale"
        else:
            state = "online"
        out.append(
            Terminal(
                id=r.id,
                site=r.site_name,
                unit_code=r.unit_code,
                state=state,
                last_seen=r.last_status_at,
                outbox_depth=r.outbox_depth,
                clock_synced=r.clock_synced,
                clock_skew_ms=r.clock_skew_ms,
                sensor=r.sensor,
            )
        )
    return out


def _totals(row: Any) -> dict[str, int]:
    return {k: int(getattr(row, k)) for k in ("h", "tl", "psw", "tk", "absen")}


def month_by_day(conn: Connection, month: date, units: Collection[int] | None) -> list[DayCounts]:
    """H, TL, PSW, TK and ABSEN on each day of ``month``'s month (zeros where nothing is)."""
    first, last = month_bounds(month)
    rows = conn.execute(
        select(daily_status.c.work_date, *_TOTALS)
        .select_from(daily_status.join(person, person.c.id == daily_status.c.person_id))
        .where(
            daily_status.c.work_date >= first,
            daily_status.c.work_date <= last,
            _in(_UNIT, units),
        )
        .group_by(daily_status.c.work_date)
    )
    found = {r.work_date: _totals(r) for r in rows}
    days = (first + timedelta(days=i) for i in range(last.day))
    return [DayCounts(day=d, **found.get(d, {})) for d in days]


def month_by_unit(conn: Connection, month: date, units: Collection[int] | None) -> list[UnitMonth]:
    """H, TL, PSW, TK and ABSEN over ``month``'s month for each visible unit."""
    first, last = month_bounds(month)
    rows = conn.execute(
        select(_UNIT.label("unit_id"), *_TOTALS)
        .select_from(daily_status.join(person, person.c.id == daily_status.c.person_id))
        .where(
            daily_status.c.work_date >= first,
            daily_status.c.work_date <= last,
            _in(_UNIT, units),
        )
        .group_by(_UNIT)
    )
    found = {r.unit_id: _totals(r) for r in rows}
    return [UnitMonth(unit=ref, **found.get(ref.id, {})) for ref in list_units(conn, units)]


def sum_today(rows: list[UnitToday]) -> dict[str, int]:
    """The totals row of the "today" table."""
    total: dict[str, int] = {"people": 0, "seen": 0, "tl": 0, "psw": 0}
    for row in rows:
        total["people"] += row.people
        total["seen"] += row.seen
        total["tl"] += row.tl
        total["psw"] += row.psw
        for status, n in row.counts.items():
            total[status] = total.get(status, 0) + n
    return total


def sum_month(rows: list[UnitMonth]) -> Totals:
    """The totals row of the month table."""
    return Totals(
        h=sum(r.h for r in rows),
        tl=sum(r.tl for r in rows),
        psw=sum(r.psw for r in rows),
        tk=sum(r.tk for r in rows),
        absen=sum(r.absen for r in rows),
    )

"""The holiday calendar and the Ramadan periods: seeded, edited by BKPPD, and versioned per year.

Holidays are never hard-coded (domain-id.md §5.2): :func:`seed_holidays` copies the `holidays`
package's Indonesian calendar (``public`` → LIBUR_NASIONAL, ``government`` → CUTI_BERSAMA) into
the ``holiday`` table, and an administrator adds regional or special days, switches seeded days
off, or reclassifies them. Rows are switched off, never deleted, so a past month can be explained.
Seeding again adds only days it does not know yet (by day and name): a day switched off stays off.

Ramadan dates are not computable (§2.4: Kemenag fixes them after the sidang isbat), so they are
admin-entered ``ramadan_period`` rows.

:func:`calendar_version` is a hash of the active holidays and the Ramadan periods of one year:
every daily status records the version of its year, so a recap can tell when the calendar it
was computed with has since changed.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib.metadata import version as _dist_version
from typing import Any

import holidays as holidays_pkg
from sqlalchemy import Connection, Row, and_, delete, insert, select, update

from central.schema.attendance import HOLIDAY_CATEGORIES, holiday, ramadan_period

LIBUR_NASIONAL = "LIBUR_NASIONAL"
CUTI_BERSAMA = "CUTI_BERSAMA"
LIBUR_DAERAH = "LIBUR_DAERAH"
LIBUR_KHUSUS = "LIBUR_KHUSUS"
SOURCE_PACKAGE = "holidays-pkg"
SOURCE_MANUAL = "manual"
#: The package's categories and what they are here (§5.1).
PACKAGE_CATEGORIES = {"public": LIBUR_NASIONAL, "government": CUTI_BERSAMA}
#: When two holidays share a day, the first category in this order names it.
CATEGORY_ORDER = (LIBUR_NASIONAL, CUTI_BERSAMA, LIBUR_DAERAH, LIBUR_KHUSUS)


class CalendarError(ValueError):
    """A holiday or Ramadan period refused: unknown category, empty name, overlap, no such row."""


@dataclass(frozen=True, slots=True)
class Holiday:
    """One holiday row."""

    id: int
    day: date
    name: str
    category: str
    source: str
    active: bool


@dataclass(frozen=True, slots=True)
class RamadanPeriod:
    """The first and last day of Ramadan hours in one year, both included."""

    id: int
    start_date: date
    end_date: date
    note: str


def _holiday(row: Row[Any]) -> Holiday:
    return Holiday(row.id, row.day, row.name, row.category, row.source, row.active)


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def package_version() -> str:
    """The installed `holidays` package version (recorded with a seed)."""
    return _dist_version("holidays")


def package_holidays(year: int, *, language: str = "id") -> list[tuple[date, str, str]]:
    """The package's Indonesian holidays of ``year`` as (day, name, category), by day and name."""
    found: list[tuple[date, str, str]] = []
    for pkg_category, category in PACKAGE_CATEGORIES.items():
        # One category per call: the combined call would not say which one a day came from.
        cal = holidays_pkg.country_holidays(
            "ID", years=year, categories=(pkg_category,), language=language
        )
        for day in cal:
            found.extend((day, name, category) for name in cal.get_list(day))
    return sorted(found)


def seed_holidays(
    conn: Connection, years: Iterable[int], *, language: str = "id", now: datetime | None = None
) -> list[Holiday]:
    """Add the package's holidays of ``years`` that the table does not have yet; return them.

    A (day, name) already present, active or switched off, seeded or manual, is left alone, so
    seeding is idempotent and never undoes an administrator's edit.
    """
    at = _now(now)
    added: list[Holiday] = []
    for year in sorted(set(years)):
        have = {
            (r.day, r.name)
            for r in conn.execute(
                select(holiday.c.day, holiday.c.name).where(
                    holiday.c.day.between(date(year, 1, 1), date(year, 12, 31))
                )
            )
        }
        for day, name, category in package_holidays(year, language=language):
            if (day, name) in have:
                continue
            have.add((day, name))
            new_id = conn.execute(
                insert(holiday)
                .returning(holiday.c.id)
                .values(
                    day=day,
                    name=name,
                    category=category,
                    source=SOURCE_PACKAGE,
                    active=True,
                    updated_at=at,
                )
            ).scalar_one()
            added.append(Holiday(new_id, day, name, category, SOURCE_PACKAGE, True))
    return added


def ensure_seeded(
    conn: Connection, years: Iterable[int], *, now: datetime | None = None
) -> list[int]:
    """Seed the years that have no holiday row at all (active or not); return them.

    A year an administrator has edited always has rows, so this never undoes an edit; it only
    keeps a year nobody seeded from silently counting Idul Fitri as a working day.
    """
    seeded = []
    for year in sorted(set(years)):
        first, last = date(year, 1, 1), date(year, 12, 31)
        if conn.execute(select(holiday.c.id).where(holiday.c.day.between(first, last))).first():
            continue
        seed_holidays(conn, [year], now=now)
        seeded.append(year)
    return seeded


def _check_category(category: str) -> None:
    if category not in HOLIDAY_CATEGORIES:
        raise CalendarError(f"unknown holiday category {category!r} (use {HOLIDAY_CATEGORIES})")


def get_holiday(conn: Connection, holiday_id: int) -> Holiday:
    """The holiday row ``holiday_id``."""
    row = conn.execute(select(holiday).where(holiday.c.id == holiday_id)).one_or_none()
    if row is None:
        raise CalendarError(f"no holiday {holiday_id}")
    return _holiday(row)


def add_holiday(
    conn: Connection,
    day: date,
    name: str,
    category: str = LIBUR_DAERAH,
    *,
    now: datetime | None = None,
) -> Holiday:
    """Declare a holiday by hand.

    A Wali Kota circular is LIBUR_DAERAH, an election day LIBUR_KHUSUS, an SKB amendment
    LIBUR_NASIONAL or CUTI_BERSAMA. The same day and name again switches the existing row back
    on, with the given category.
    """
    _check_category(category)
    name = " ".join(name.split())
    if not name:
        raise CalendarError("a holiday needs a name")
    at = _now(now)
    found = conn.execute(
        select(holiday).where(and_(holiday.c.day == day, holiday.c.name == name))
    ).one_or_none()
    if found is not None:
        conn.execute(
            update(holiday)
            .where(holiday.c.id == found.id)
            .values(active=True, category=category, updated_at=at)
        )
        return get_holiday(conn, found.id)
    new_id = conn.execute(
        insert(holiday)
        .returning(holiday.c.id)
        .values(
            day=day, name=name, category=category, source=SOURCE_MANUAL, active=True, updated_at=at
        )
    ).scalar_one()
    return get_holiday(conn, new_id)


def set_holiday_active(
    conn: Connection, holiday_id: int, active: bool, *, now: datetime | None = None
) -> Holiday:
    """Switch a holiday off (it stays in the table, for the record) or back on."""
    get_holiday(conn, holiday_id)
    conn.execute(
        update(holiday)
        .where(holiday.c.id == holiday_id)
        .values(active=active, updated_at=_now(now))
    )
    return get_holiday(conn, holiday_id)


def reclassify_holiday(
    conn: Connection, holiday_id: int, category: str, *, now: datetime | None = None
) -> Holiday:
    """Change a holiday's category (e.g. a seeded joint holiday that is a national one)."""
    _check_category(category)
    get_holiday(conn, holiday_id)
    conn.execute(
        update(holiday)
        .where(holiday.c.id == holiday_id)
        .values(category=category, updated_at=_now(now))
    )
    return get_holiday(conn, holiday_id)


def list_holidays(conn: Connection, year: int, *, include_inactive: bool = False) -> list[Holiday]:
    """The holidays of ``year`` by day and name."""
    query = select(holiday).where(holiday.c.day.between(date(year, 1, 1), date(year, 12, 31)))
    if not include_inactive:
        query = query.where(holiday.c.active)
    return [_holiday(r) for r in conn.execute(query.order_by(holiday.c.day, holiday.c.name))]


def holidays_between(conn: Connection, first: date, last: date) -> dict[date, list[Holiday]]:
    """The active holidays from ``first`` to ``last`` inclusive, by day.

    Each day's list is ordered by :data:`CATEGORY_ORDER`, then name.
    """
    rows = conn.execute(select(holiday).where(holiday.c.day.between(first, last), holiday.c.active))
    by_day: dict[date, list[Holiday]] = defaultdict(list)
    for row in rows:
        by_day[row.day].append(_holiday(row))
    for items in by_day.values():
        items.sort(key=lambda h: (CATEGORY_ORDER.index(h.category), h.name))
    return dict(by_day)


# --- Ramadan ---------------------------------------------------------------------------------


def _period(row: Row[Any]) -> RamadanPeriod:
    return RamadanPeriod(row.id, row.start_date, row.end_date, row.note)


def add_ramadan_period(
    conn: Connection, start_date: date, end_date: date, *, note: str = ""
) -> RamadanPeriod:
    """Enter the Ramadan period (the days with Ramadan hours), e.g. after the sidang isbat.

    Raises:
        CalendarError: The dates are reversed or overlap another period.
    """
    if end_date < start_date:
        raise CalendarError("Ramadan ends before it starts")
    overlap = conn.execute(
        select(ramadan_period.c.id).where(
            ramadan_period.c.start_date <= end_date, ramadan_period.c.end_date >= start_date
        )
    ).first()
    if overlap is not None:
        raise CalendarError(f"overlaps Ramadan period {overlap.id}")
    new_id = conn.execute(
        insert(ramadan_period)
        .returning(ramadan_period.c.id)
        .values(start_date=start_date, end_date=end_date, note=note)
    ).scalar_one()
    return RamadanPeriod(new_id, start_date, end_date, note)


def remove_ramadan_period(conn: Connection, period_id: int) -> None:
    """Delete a period entered by mistake (the calendar version of its year changes)."""
    conn.execute(delete(ramadan_period).where(ramadan_period.c.id == period_id))


def ramadan_periods(conn: Connection, first: date, last: date) -> list[RamadanPeriod]:
    """The periods that touch ``first``..``last``, by start."""
    rows = conn.execute(
        select(ramadan_period)
        .where(ramadan_period.c.start_date <= last, ramadan_period.c.end_date >= first)
        .order_by(ramadan_period.c.start_date)
    )
    return [_period(r) for r in rows]


def ramadan_days(conn: Connection, first: date, last: date) -> set[date]:
    """The days from ``first`` to ``last`` that fall in a Ramadan period."""
    days: set[date] = set()
    for p in ramadan_periods(conn, first, last):
        day = max(p.start_date, first)
        while day <= min(p.end_date, last):
            days.add(day)
            day = date.fromordinal(day.toordinal() + 1)
    return days


# --- versions --------------------------------------------------------------------------------


def calendar_versions(conn: Connection, years: Iterable[int]) -> dict[int, str]:
    """:func:`calendar_version` of each year, in two queries."""
    wanted = sorted(set(years))
    if not wanted:
        return {}
    first, last = date(wanted[0], 1, 1), date(wanted[-1], 12, 31)
    lines: dict[int, list[str]] = {y: [] for y in wanted}
    for h in conn.execute(
        select(holiday.c.day, holiday.c.category, holiday.c.name).where(
            holiday.c.day.between(first, last), holiday.c.active
        )
    ):
        if h.day.year in lines:
            lines[h.day.year].append(f"H|{h.day.isoformat()}|{h.category}|{h.name}")
    for p in ramadan_periods(conn, first, last):
        for year in wanted:
            if p.start_date <= date(year, 12, 31) and p.end_date >= date(year, 1, 1):
                lines[year].append(f"R|{p.start_date.isoformat()}|{p.end_date.isoformat()}")
    return {
        year: f"{year}-" + hashlib.sha256("\n".join(sorted(items)).encode()).hexdigest()[:16]
        for year, items in lines.items()
    }


def calendar_version(conn: Connection, year: int) -> str:
    """``<year>-<hash>``: a stable hash of the year's active holidays and Ramadan periods.

    Any edit that can change a daily status (a holiday added, switched off, renamed or
    reclassified; a Ramadan period entered or moved) changes it; the row ids and edit times do
    not, so the same calendar entered twice has the same version.
    """
    return calendar_versions(conn, [year])[year]

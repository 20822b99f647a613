"""The recap's SQL: one statement that turns a month's totals into LB.1's counts.

The month's days come already added up, one row per person, unit (0: the person's) and the
versions they were computed with, from ``daily_status_month``, which triggers on
``daily_status`` keep (migration 0007): the recap reads 11,000 rows for a city-wide month, not
330,000 days. Joined to them: ``person``, ``unit``, the number valid at the end of the month,
the year's TK count and the longest run of consecutive TK working days, which are the person's
across units. The few rows that share a person and unit (days with and without a unit, two
rule-set versions in one month) are added up in Python.

Day counts travel *packed*: a person has at most 31 days in a month (``daily_status`` has one
row per person and day), so a count fits in 5 bits and six counts share one INTEGER sum,
count ``i`` weighing ``32**i``; :func:`unpack` takes the counts apart again. :func:`_packs`
is the counting rule as SQL over the days: :func:`totals_query` groups the days with it, which
is how ``central.attendance.recap_month`` checks and rebuilds the totals the triggers keep.
The CASEs are written so that each day adds to each count at most once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    true,
)

from central.attendance.recap_model import (
    CUTI_CODES,
    DL_CODES,
    IZIN_CODES,
    RUN_LOOKBACK_DAYS,
    SAKIT_CODES,
    WITA,
    Month,
)
from central.schema.attendance import daily_status, daily_status_month
from central.schema.registry import person, person_number, unit

#: Bits per packed count: a count is at most 31 (days of a month).
PACK_BITS = 5
_PACK_MASK = (1 << PACK_BITS) - 1
#: The packed sums and, in order, the counts each carries (at most 6: 30 bits, an INTEGER).
PACKS: dict[str, tuple[str, ...]] = {
    "p_sched": ("dl", "h", "izin", "sakit", "tk", "pending_sched"),
    "p_cuti": tuple(f"c_{c}" for c in CUTI_CODES[:6]),
    "p_flags": ("hk", "pending", "corrected", "forgot_in", "forgot_out", f"c_{CUTI_CODES[6]}"),
    "p_tl": ("tl1", "tl2", "tl3", "tl4"),
    "p_psw": ("psw1", "psw2", "psw3", "psw4"),
}
#: The plain sums, after the packs in the statement's columns.
SUMS = ("tl_minutes", "psw_minutes", "outside_minutes", "ded_cents")
#: The columns after the packs and sums.
TAIL = ("name", "employment_type", "unit_code", "unit_name", "tk_ytd", "tk_run", "number")
#: The statement's columns, in order: a person and unit, the versions of their days, ...
COLUMNS = ("person_id", "day_unit", "ruleset_version", "calendar_version", *PACKS, *SUMS, *TAIL)


def unpack(value: int, names: tuple[str, ...]) -> list[int]:
    """The counts of one packed sum, in the order of ``names``."""
    return [(value >> (PACK_BITS * i)) & _PACK_MASK for i in range(len(names))]


def _first_of(whens: list[ColumnElement[bool]]) -> ColumnElement[int]:
    # One count per condition, the first that holds (the conditions exclude each other).
    return case(*[(w, 1 << (PACK_BITS * i)) for i, w in enumerate(whens)], else_=0)


def _each_of(whens: list[ColumnElement[bool]]) -> ColumnElement[int]:
    # One count per condition that holds (several may).
    terms = [case((w, 1 << (PACK_BITS * i)), else_=0) for i, w in enumerate(whens)]
    total: ColumnElement[int] = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def _packs() -> dict[str, ColumnElement[int]]:
    ds = daily_status
    sched, st, code = ds.c.scheduled == true(), ds.c.status, ds.c.code
    absent = and_(sched, st == "ABSEN")
    return {
        # A scheduled day is in one of these columns at most; DL/Tugas first, as "H" is
        # HADIR without such a code (a NULL code is H).
        "p_sched": case(
            (
                sched,
                _first_of(
                    [
                        and_(st.in_(("HADIR", "ABSEN")), code.in_(DL_CODES)),
                        st == "HADIR",
                        and_(st == "ABSEN", code.in_(IZIN_CODES)),
                        and_(st == "ABSEN", code.in_(SAKIT_CODES)),
                        st == "TK",
                        st == "PENDING",
                    ]
                ),
            ),
            else_=0,
        ),
        "p_cuti": case((absent, _first_of([code == c for c in CUTI_CODES[:6]])), else_=0),
        "p_flags": _each_of(
            [
                sched,
                st == "PENDING",
                ds.c.corrected == true(),
                ds.c.forgot_in == true(),
                ds.c.forgot_out == true(),
                and_(absent, code == CUTI_CODES[6]),
            ]
        ),
        "p_tl": _first_of([ds.c.tl == f"TL{k}" for k in range(1, 5)]),
        "p_psw": _first_of([ds.c.psw == f"PSW{k}" for k in range(1, 5)]),
    }


def month_key(m: Month) -> int:
    """``daily_status_month.month`` of ``m``: year * 100 + month."""
    return m.year * 100 + m.month


def month_filter(m: Month, unit_id: int | None, person_id: int | None) -> list[Any]:
    """The WHERE of a month's days: of one unit (NULL unit: the person's) or one person."""
    # The unit test is written without a join: a day names its unit, or (NULL) belongs to the
    # unit of its person, looked up only for such days.
    ds = daily_status
    where: list[Any] = [ds.c.work_date >= m.start, ds.c.work_date < m.end]
    if unit_id is not None:
        members = select(person.c.id).where(person.c.unit_id == unit_id)
        where.append(
            or_(
                ds.c.unit_id == unit_id,
                and_(ds.c.unit_id.is_(None), ds.c.person_id.in_(members)),
            )
        )
    if person_id is not None:
        where.append(ds.c.person_id == person_id)
    return where


def totals_filter(m: Month, unit_id: int | None, person_id: int | None) -> list[Any]:
    """The WHERE of a month's totals: of one unit (key 0: the person's) or one person."""
    t = daily_status_month
    where: list[Any] = [t.c.month == month_key(m)]
    if unit_id is not None:
        members = select(person.c.id).where(person.c.unit_id == unit_id)
        where.append(
            or_(t.c.unit_key == unit_id, and_(t.c.unit_key == 0, t.c.person_id.in_(members)))
        )
    if person_id is not None:
        where.append(t.c.person_id == person_id)
    return where


def totals_query(m: Month, unit_id: int | None = None, *, dialect: str = "") -> Select[Any]:
    """The month's totals grouped from its days: what ``daily_status_month`` must hold.

    Columns as the table's, in its order; ``unit_id`` as in :func:`month_filter`. The
    deductions are summed as NUMERIC on PostgreSQL (exact there) and as each day's rounded
    hundredths elsewhere (SQLite keeps floats).
    """
    ds = daily_status
    if dialect == "postgresql":
        cents: ColumnElement[Any] = cast(func.sum(ds.c.deduction_pct) * 100, BigInteger)
    else:
        cents = func.sum(cast(func.round(ds.c.deduction_pct * 100), Integer))
    keys = (
        ds.c.person_id,
        func.coalesce(ds.c.unit_id, 0),
        ds.c.ruleset_version,
        ds.c.calendar_version,
    )
    return (
        select(
            literal(month_key(m), Integer).label("month"),
            keys[0],
            keys[1].label("unit_key"),
            *keys[2:],
            func.count().label("days"),
            *[func.sum(expr).label(name) for name, expr in _packs().items()],
            func.sum(ds.c.late_minutes).label("tl_minutes"),
            func.sum(ds.c.early_minutes).label("psw_minutes"),
            func.sum(ds.c.outside_minutes).label("outside_minutes"),
            cents.label("ded_cents"),
        )
        .where(*month_filter(m, unit_id, None))
        .group_by(*keys)
    )


def recap_query(m: Month, unit_id: int | None, person_id: int | None = None) -> Select[Any]:
    """The single SELECT of a month's recap; its columns are :data:`COLUMNS`.

    A person and unit come back once per pair of rule-set and calendar versions in their
    month, and twice when some of their days name the unit and others (NULL) leave it to the
    person's: :func:`central.attendance.recap_rows.build_rows` adds those up. So the month's
    versions need no statement of their own.

    Args:
        m: The month.
        unit_id: One unit, or None for every unit.
        person_id: Only this person.
    """
    ds, p, t = daily_status, person, daily_status_month
    totals = (
        select(
            t.c.person_id,
            func.nullif(t.c.unit_key, 0).label("unit_id"),
            t.c.ruleset_version,
            t.c.calendar_version,
            *[t.c[name] for name in (*PACKS, *SUMS)],
        )
        .where(*totals_filter(m, unit_id, person_id))
        .subquery("totals")
    )
    g = totals.c
    day_unit = func.coalesce(g.unit_id, p.c.unit_id)
    sched, st = ds.c.scheduled == true(), ds.c.status
    # The people of the recap, for the year-to-date and run subqueries (which read their days
    # in every unit): joined as a CTE, which PostgreSQL hashes once, where an IN (subquery)
    # became a nested loop per row.
    only: list[Any] = [] if person_id is None else [ds.c.person_id == person_id]
    scope: Any = ds
    if person_id is None and unit_id is not None:
        people = (
            select(t.c.person_id).distinct().where(*totals_filter(m, unit_id, None)).cte("people")
        )
        scope = ds.join(people, people.c.person_id == ds.c.person_id)
    jan1 = date(m.year, 1, 1)
    ytd = (
        select(ds.c.person_id, func.count().label("tk_ytd"))
        .select_from(scope)
        .where(st == "TK", sched, ds.c.work_date >= jan1, ds.c.work_date < m.end, *only)
        .group_by(ds.c.person_id)
        .subquery("ytd")
    )
    runs = _runs(m, scope, only)
    pn = person_number
    at = datetime.combine(m.end, datetime.min.time(), WITA).astimezone(UTC)
    valid_at_end = and_(pn.c.valid_from < at, or_(pn.c.valid_to.is_(None), pn.c.valid_to >= at))
    number = (
        select(pn.c.number)
        .where(pn.c.person_id == g.person_id, pn.c.kind != "LEGACY")
        .order_by(case((valid_at_end, 0), else_=1), pn.c.valid_from.desc(), pn.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return select(
        g.person_id,
        day_unit.label("day_unit"),
        g.ruleset_version,
        g.calendar_version,
        *[g[name] for name in (*PACKS, *SUMS)],
        p.c.name,
        p.c.employment_type,
        unit.c.code.label("unit_code"),
        unit.c.name.label("unit_name"),
        func.coalesce(ytd.c.tk_ytd, 0).label("tk_ytd"),
        func.coalesce(runs.c.tk_run, 0).label("tk_run"),
        number.label("number"),
    ).select_from(
        totals.join(p, p.c.id == g.person_id)
        .outerjoin(unit, unit.c.id == day_unit)
        .outerjoin(ytd, ytd.c.person_id == g.person_id)
        .outerjoin(runs, runs.c.person_id == g.person_id)
    )


def _runs(m: Month, scope: Any, only: list[Any]) -> Any:
    """Per person, the longest run of TK working days that reaches into the month.

    Holidays and weekends (unscheduled days) do not break a run; any other scheduled day
    does. Every TK day of one run has the same latest such breaking day before it (NULL when
    there is none in the look-back): a correlated subquery, which both databases answer by
    reading the primary key (person_id, work_date) backwards to the first such day, for the
    TK days only (the partial index ``ix_daily_status_tk``). The window function it replaces
    (``max(...) over (partition by person order by date)``) read every scheduled day of the
    people with a TK day: 0.68 s against 0.21 s on PostgreSQL, 2.6 s against 0.22 s on
    SQLite, for 11,000 people with three months of days.
    """
    ds = daily_status
    brk = ds.alias("brk")
    since = m.start - timedelta(days=RUN_LOOKBACK_DAYS)
    broken = (
        select(brk.c.work_date)
        .where(brk.c.person_id == ds.c.person_id, brk.c.work_date < ds.c.work_date)
        .where(brk.c.work_date >= since, brk.c.scheduled == true(), brk.c.status != "TK")
        .order_by(brk.c.work_date.desc())
        .limit(1)
        .scalar_subquery()
    )
    tk_days = (
        select(ds.c.person_id, ds.c.work_date, broken.label("grp"))
        .select_from(scope)
        .where(ds.c.status == "TK", ds.c.scheduled == true())
        .where(ds.c.work_date >= since, ds.c.work_date < m.end, *only)
        .subquery("tk_days")
    )
    islands = (
        select(
            tk_days.c.person_id,
            func.count().label("length"),
            func.max(tk_days.c.work_date).label("last_day"),
        )
        .group_by(tk_days.c.person_id, tk_days.c.grp)
        .subquery("islands")
    )
    return (
        select(islands.c.person_id, func.max(islands.c.length).label("tk_run"))
        .where(islands.c.last_day >= m.start)
        .group_by(islands.c.person_id)
        .subquery("runs")
    )


def versions_query(m: Month, unit_id: int | None) -> Select[Any]:
    """The distinct (rule-set, calendar) version pairs of a month's days."""
    t = daily_status_month
    return (
        select(t.c.ruleset_version, t.c.calendar_version)
        .where(*totals_filter(m, unit_id, None))
        .distinct()
    )

"""Golden months: hand-computed days and totals against compute_days, on SQLite and PostgreSQL."""

from __future__ import annotations

import calendar as stdcal
from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from central.attendance import compute_days
from central.attendance.calendar import calendar_version
from central.attendance.ruleset import load_active
from central.db import make_engine
from central.schema.attendance import daily_status
from tests.golden.attendance import (
    backlog_september_2026,
    five_day_may_2026,
    ramadan_march_2026,
    shift_august_2026,
)
from tests.golden.attendance.build import Day, Scenario, build, deliver, parse_table

SCENARIOS = {
    "five_day": five_day_may_2026.SCENARIO,
    "shift": shift_august_2026.SCENARIO,
    "ramadan": ramadan_march_2026.SCENARIO,
    "backlog": backlog_september_2026.SCENARIO,
}
PRESENT_CODES = ("DL", "DIK", "WFH")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def _span(sc: Scenario) -> tuple[date, date]:
    last = sc.last or stdcal.monthrange(sc.year, sc.month)[1]
    return date(sc.year, sc.month, sc.first), date(sc.year, sc.month, last)


def _rows(conn: Connection, first: date, last: date) -> dict[date, Any]:
    rows = conn.execute(
        select(daily_status)
        .where(daily_status.c.work_date.between(first, last))
        .order_by(daily_status.c.work_date)
    )
    return {r.work_date: r for r in rows}


def _check_day(row: Any, d: Day) -> None:
    e = d.expect
    got = (
        row.status,
        row.code,
        row.check_in,
        row.check_out,
        row.late_minutes,
        row.tl,
        row.early_minutes,
        row.psw,
        row.forgot_in,
        row.forgot_out,
        Decimal(row.deduction_pct),
    )
    want = (
        e.status,
        e.code,
        e.check_in,
        e.check_out,
        e.late,
        e.tl,
        e.early,
        e.psw,
        e.forgot_in,
        e.forgot_out,
        e.deduction,
    )
    assert got == want, f"{d.day}: {row.note!r}"


def _totals(rows: list[Any]) -> dict[str, int | Decimal]:
    """The month's counts, from the rows, in the fixture's vocabulary."""
    n: Counter[str] = Counter()
    deduction = Decimal(0)
    for r in rows:
        n["HK"] += r.scheduled
        if r.status == "HADIR":
            n["DL" if r.code in PRESENT_CODES else "H"] += 1
        elif r.status == "ABSEN":
            n[r.code] += 1
        else:
            n[r.status] += 1
        if r.tl:
            n[r.tl] += 1
        if r.psw:
            n[r.psw] += 1
        n["TL_minutes"] += r.late_minutes
        n["PSW_minutes"] += r.early_minutes
        n["forgot_in"] += r.forgot_in
        n["forgot_out"] += r.forgot_out
        n["corrected"] += r.corrected
        deduction += Decimal(r.deduction_pct)
    totals: dict[str, int | Decimal] = {k: v for k, v in n.items() if v}
    totals["deduction"] = deduction
    return totals


@pytest.mark.parametrize("name", SCENARIOS)
def test_golden_month_matches_the_hand_computation(engine: Engine, name: str) -> None:
    sc = SCENARIOS[name]
    first, last = _span(sc)
    seen: dict[date, list[str]] = {}
    with engine.begin() as conn:
        built = build(conn, sc)
        for year, month, table in sc.earlier:
            deliver(conn, built, parse_table(year, month, table), sc.stages[0])
    for stage in sc.stages:
        days = parse_table(sc.year, sc.month, stage.table)
        with engine.begin() as conn:
            deliver(conn, built, days, stage)
            compute_days(conn, first, last, now=stage.now)
        with engine.connect() as conn:
            rows = _rows(conn, first, last)
        assert sorted(rows) == [
            date.fromordinal(o) for o in range(first.toordinal(), last.toordinal() + 1)
        ]
        for d in days:
            _check_day(rows[d.day], d)
        for day, row in rows.items():
            seen.setdefault(day, []).append(row.status)
    want = {k: v for k, v in sc.totals.items() if v or k == "deduction"}
    assert _totals(list(rows.values())) == want
    # A day is never TK before it is something else: PENDING is the only provisional status.
    for day, statuses in seen.items():
        assert "TK" not in statuses[:-1] or statuses[-1] == "TK", (day, statuses)
    with engine.connect() as conn:
        version = calendar_version(conn, sc.year)
        rules = load_active(conn, first).version
    assert {(r.ruleset_version, r.calendar_version) for r in rows.values()} == {(rules, version)}


@pytest.mark.parametrize("name", ["five_day", "shift"])
def test_golden_recompute_is_idempotent(engine: Engine, name: str) -> None:
    sc = SCENARIOS[name]
    first, last = _span(sc)
    stage = sc.stages[-1]
    with engine.begin() as conn:
        built = build(conn, sc)
        for year, month, table in sc.earlier:
            deliver(conn, built, parse_table(year, month, table), stage)
        deliver(conn, built, parse_table(sc.year, sc.month, stage.table), stage)
        done = compute_days(conn, first, last, now=stage.now)
    with engine.connect() as conn:
        before = [tuple(r) for r in _rows(conn, first, last).values()]
    with engine.begin() as conn:
        again = compute_days(conn, first, last, now=stage.now.replace(year=sc.year + 1))
    with engine.connect() as conn:
        after = [tuple(r) for r in _rows(conn, first, last).values()]
    assert done.written == done.days == (last - first).days + 1
    assert (again.written, again.unchanged) == (0, done.days)
    assert after == before  # computed_at too: nothing was rewritten


def test_golden_days_do_not_depend_on_the_span_computed(engine: Engine) -> None:
    # Night shifts cross midnight: computing the halves of the month separately must give the
    # rows of the whole month, the handover days (1, 9, 16, 23 and 30 Aug) included.
    sc = SCENARIOS["shift"]
    first, last = _span(sc)
    stage = sc.stages[-1]
    with engine.begin() as conn:
        built = build(conn, sc)
        for year, month, table in sc.earlier:
            deliver(conn, built, parse_table(year, month, table), stage)
        days = parse_table(sc.year, sc.month, stage.table)
        deliver(conn, built, days, stage)
        for a, b in [(1, 9), (10, 16), (17, 23), (24, 31)]:
            compute_days(conn, date(2026, 8, a), date(2026, 8, b), now=stage.now)
    with engine.connect() as conn:
        got = _rows(conn, first, last)
    for d in days:
        _check_day(got[d.day], d)

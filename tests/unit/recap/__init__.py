"""Recap tests: a hand-built month of daily statuses, shared by the test modules here.

The daily statuses are written directly (not by the rules), one row per person per calendar
day, so every expected number in the tests can be checked by counting this fixture by hand:

* Andi (PNS, BKPPD): every status and category once or twice; TK once in March, once in 2025.
* budi (PPPK, BKPPD): TK 19-30 October and 2-4 November, a run of 13 working days.
* Citra (Non-ASN, BKPPD): TK every working day but the 30th, 98 % of deductions.
* Dewi (PNS, DINKES): rows without a unit (the person's unit applies).
* Eko (PNS, DINKES now): his days to the 15th are recorded at BKPPD, the rest at DINKES.
* 20 November is a holiday; weekends are OFF.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert

from central import registry
from central.attendance import recap
from central.db import make_engine
from central.identity import EmploymentType
from central.schema.attendance import daily_status
from central.schema.registry import person_number

MONTH = "2026-11"
NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
HOLIDAY = date(2026, 11, 20)
RS, RS_OLD, CAL = "rs-2026.11", "rs-2026.10", "cal-2026.3"
NIP_A = "198609262015051001"
NIP_B = "199001012024212002"
NIP_D = "198703152010012003"
NIP_E = "198512302012121001"


@dataclass
class World:
    engine: Engine
    bkppd: int
    dinkes: int
    andi: int
    budi: int
    citra: int
    dewi: int
    eko: int


def d(day: int, month: int = 11, year: int = 2026) -> date:
    return date(year, month, day)


def hadir(**kw: Any) -> dict[str, Any]:
    return {"status": "HADIR", **kw}


def day_row(person_id: int, day: date, unit_id: int | None, **kw: Any) -> dict[str, Any]:
    weekend = day.weekday() >= 5
    base: dict[str, Any] = {
        "person_id": person_id,
        "work_date": day,
        "unit_id": unit_id,
        "ruleset_version": RS,
        "calendar_version": CAL,
        "status": "OFF" if weekend else ("LIBUR" if day == HOLIDAY else "HADIR"),
        "code": None,
        "scheduled": not weekend and day != HOLIDAY,
        "check_in": None,
        "check_out": None,
        "late_minutes": 0,
        "tl": None,
        "early_minutes": 0,
        "psw": None,
        "forgot_in": False,
        "forgot_out": False,
        "outside_minutes": 0,
        "deduction_pct": Decimal("0"),
        "corrected": False,
        "note": "",
        "computed_at": NOW,
    }
    if base["status"] == "HADIR":
        local = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=8)
        base["check_in"] = local + timedelta(hours=7, minutes=20)
        base["check_out"] = local + timedelta(hours=16, minutes=5)
        base["in_source"] = base["out_source"] = "fingerprint"
    base.update(kw)
    if base["status"] != "HADIR":
        base["check_in"] = base["check_out"] = base["in_source"] = base["out_source"] = None
    base.setdefault("in_source", None)
    base.setdefault("out_source", None)
    return base


def month_rows(
    person_id: int,
    unit_id: int | None,
    overrides: dict[int, dict[str, Any]],
    days: range | None = None,
    month: int = 11,
) -> list[dict[str, Any]]:
    last = calendar.monthrange(2026, month)[1]
    return [
        day_row(person_id, d(n, month), unit_id, **overrides.get(n, {}))
        for n in (days or range(1, last + 1))
    ]


def tk(ded: str = "5") -> dict[str, Any]:
    return {"status": "TK", "deduction_pct": Decimal(ded)}


def absen(code: str) -> dict[str, Any]:
    return {"status": "ABSEN", "code": code}


ANDI = {
    2: hadir(late_minutes=15, tl="TL1", deduction_pct=Decimal("0.5")),
    3: hadir(late_minutes=45, tl="TL2", deduction_pct=Decimal("1")),
    4: hadir(late_minutes=75, tl="TL3", deduction_pct=Decimal("1.25"), ruleset_version=RS_OLD),
    5: hadir(tl="TL4", forgot_in=True, corrected=True, deduction_pct=Decimal("1.5")),
    6: hadir(early_minutes=10, psw="PSW1", deduction_pct=Decimal("0.5")),
    9: hadir(early_minutes=40, psw="PSW2", deduction_pct=Decimal("1")),
    10: hadir(early_minutes=70, psw="PSW3", deduction_pct=Decimal("1.25")),
    11: hadir(psw="PSW4", forgot_out=True, deduction_pct=Decimal("1.5")),
    12: hadir(code="DL"),
    13: absen("DIK"),
    16: absen("I"),
    17: absen("S"),
    18: absen("CT"),
    19: absen("CS"),
    23: tk(),
    24: hadir(corrected=True, in_source="manual", outside_minutes=35),
    25: hadir(outside_minutes=10),
    26: hadir(late_minutes=5, tl="TL1", early_minutes=3, psw="PSW1", deduction_pct=Decimal("1.0")),
}
BUDI_NOV = {2: tk(), 3: tk(), 4: tk()}
BUDI_OCT = {n: tk() for n in (19, 20, 21, 22, 23, 26, 27, 28, 29, 30)}
CITRA = {n: tk() for n in range(2, 30) if d(n).weekday() < 5 and d(n) != HOLIDAY} | {
    30: hadir(late_minutes=95, tl="TL4", early_minutes=95, psw="PSW4", deduction_pct=Decimal("3"))
}


def populate(engine: Engine) -> World:
    with engine.begin() as conn:
        bkppd = registry.add_unit(conn, "BKPPD", "Badan Kepegawaian dan Pengembangan SDM").id
        dinkes = registry.add_unit(conn, "DINKES", "Dinas Kesehatan").id

        def add(name: str, kind: EmploymentType, unit_id: int, number: str) -> int:
            return registry.add_person(
                conn, name=name, employment_type=kind, unit_id=unit_id, number=number, now=NOW
            ).id

        andi = add("Andi Saputra, S.Kom.", EmploymentType.PNS, bkppd, NIP_A)
        budi = add("budi Santoso", EmploymentType.PPPK, bkppd, NIP_B)
        citra = add("Citra Lestari", EmploymentType.NON_ASN, bkppd, "PTT-2019-001")
        dewi = add("Dewi Ndun", EmploymentType.PNS, dinkes, NIP_D)
        eko = add("Eko Manafe", EmploymentType.PNS, dinkes, NIP_E)
        # An old 9-digit NIP is a reference only: never shown as the number.
        conn.execute(
            insert(person_number).values(
                person_id=andi, number="060012345", kind="LEGACY", valid_from=NOW
            )
        )
        rows = month_rows(andi, bkppd, ANDI)
        rows.append(day_row(andi, d(10, 3), bkppd, **tk()))
        rows.append(day_row(andi, d(15, 12, 2025), bkppd, **tk()))  # last year: not counted
        rows += month_rows(budi, bkppd, BUDI_NOV)
        rows += month_rows(budi, bkppd, BUDI_OCT, days=range(16, 32), month=10)
        rows += month_rows(citra, bkppd, CITRA)
        rows += month_rows(dewi, None, {3: tk()})  # no unit on the rows: the person's applies
        rows += month_rows(eko, bkppd, {}, days=range(1, 16))
        rows += month_rows(eko, dinkes, {}, days=range(16, 31))
        conn.execute(insert(daily_status), rows)
    return World(engine, bkppd, dinkes, andi, budi, citra, dewi, eko)


def by_name(rows: list[recap.RecapRow]) -> dict[str, recap.RecapRow]:
    """The rows keyed by the first name, lower case."""
    return {r.name.split()[0].casefold(): r for r in rows}


def open_world(db_url: str) -> Iterator[World]:
    """Migrated database at ``db_url`` with the month filled in; the fixture body."""
    engine = make_engine(db_url)
    try:
        yield populate(engine)
    finally:
        engine.dispose()

"""The monthly recap's numbers, column by column, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from central.attendance import recap
from central.db import make_engine, upgrade
from central.schema.attendance import daily_status, ruleset
from tests.db import database
from tests.unit.recap import MONTH, NOW, RS, RS_OLD, World, by_name, d, open_world, populate


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    yield from open_world(db_url)


def test_lb1_counts_every_column(world: World) -> None:
    with world.engine.connect() as conn:
        rows = recap.recap_rows(conn, MONTH, world.bkppd)
    assert [r.name for r in rows] == [
        "Andi Saputra, S.Kom.",
        "budi Santoso",  # sorted ignoring case
        "Citra Lestari",
        "Eko Manafe",
    ]
    a = by_name(rows)["andi"]
    assert (a.number, a.status, a.unit_code) == ("19860926 201505 1 001", "PNS", "BKPPD")
    assert a.unit_name == "Badan Kepegawaian dan Pengembangan SDM"
    assert (a.hk, a.h, a.dl, a.izin, a.sakit, a.cuti, a.tk) == (20, 13, 2, 1, 1, 2, 1)
    assert a.cuti_detail == {"CT": 1, "CS": 1}
    assert a.tl == (2, 1, 1, 1)
    assert a.tl_minutes == 15 + 45 + 75 + 0 + 5
    assert a.psw == (2, 1, 1, 1)
    assert a.psw_minutes == 10 + 40 + 70 + 0 + 3
    assert a.tk_ytd == 2  # November and March; December 2025 is last year
    assert a.tk_run == 1
    assert a.pct_hadir == Decimal("65.00")  # 13 / 20
    assert a.pct_hadir_dl == Decimal("75.00")  # (13 + 2) / 20
    assert a.potongan == a.potongan_raw == Decimal("14.50")
    assert a.outside_minutes == 45
    assert (a.corrected, a.forgot_in, a.forgot_out, a.pending, a.other) == (2, 1, 1, 0, 0)
    assert a.day_equivalent == Decimal("0.58")  # (140 + 123) / 450
    assert a.warning == "Peringatan: TK 2026: 2 hari; ambang berikut 3 hari (1 hari lagi)"
    assert a.keterangan == "koreksi manual 2x; lupa absen masuk 1x, pulang 1x"


def test_tk_year_to_date_run_and_warnings(world: World) -> None:
    with world.engine.connect() as conn:
        rows = by_name(recap.recap_rows(conn, MONTH, world.bkppd))
    b, c = rows["budi"], rows["citra"]
    assert (b.hk, b.h, b.tk, b.tk_ytd, b.tk_run) == (20, 17, 3, 13, 13)
    assert b.potongan == Decimal("15.00")
    assert b.pct_hadir == Decimal("85.00")
    assert b.status == "PPPK" and b.number == "19900101 202421 2 002"
    # The level reached and the next threshold, never a sanction; PPPK against the PNS table.
    assert b.warning == (
        "Peringatan: TK 2026: 13 hari; ambang sedang PP 94/2021 (11-13 hari); "
        "ambang berikut 14 hari (1 hari lagi) [acuan PNS]"
    )
    assert b.keterangan == "TK 13 hari kerja berturut-turut (PP 94/2021 Pasal 11, peringatan)"
    for word in ("teguran", "pemberhentian", "penurunan", "potongan TPP 25"):
        assert word not in b.warning
    assert (c.hk, c.h, c.tk, c.tk_ytd, c.tk_run) == (20, 1, 19, 19, 19)
    assert (c.tl, c.psw, c.tl_minutes, c.psw_minutes) == ((0, 0, 0, 1), (0, 0, 0, 1), 95, 95)
    assert c.potongan == Decimal("98.00")
    assert c.pct_hadir == Decimal("5.00")
    assert c.number == "PTT-2019-001" and c.status == "Non-ASN"
    assert "ambang sedang PP 94/2021 (17-20 hari); ambang berikut 21 hari (2 hari lagi)" in (
        c.warning
    )


def test_unit_of_the_day_decides_the_unit(world: World) -> None:
    with world.engine.connect() as conn:
        bkppd = by_name(recap.recap_rows(conn, MONTH, world.bkppd))
        dinkes = by_name(recap.recap_rows(conn, MONTH, world.dinkes))
        everyone = recap.recap_rows(conn, MONTH, None)
    assert "dewi" not in bkppd
    assert (bkppd["eko"].hk, bkppd["eko"].h, bkppd["eko"].pct_hadir) == (10, 10, Decimal(100))
    assert (dinkes["eko"].hk, dinkes["eko"].unit_code) == (10, "DINKES")
    # Dewi's rows carry no unit: her person row's unit applies.
    assert (dinkes["dewi"].hk, dinkes["dewi"].h, dinkes["dewi"].tk) == (20, 19, 1)
    assert [(r.unit_code, r.name.split()[0]) for r in everyone] == [
        ("BKPPD", "Andi"),
        ("BKPPD", "budi"),
        ("BKPPD", "Citra"),
        ("BKPPD", "Eko"),
        ("DINKES", "Dewi"),
        ("DINKES", "Eko"),
    ]


def test_monthly_cap_from_the_rule_set_or_an_override(world: World) -> None:
    with world.engine.begin() as conn:
        body = {"deductions": {"monthly_cap": "50", "base": "attendance_component"}}
        conn.execute(
            insert(ruleset).values(
                version=RS, body=json.dumps(body), created_at=NOW, active_from=d(1)
            )
        )
        capped = recap.compute(conn, MONTH, world.bkppd, now=NOW)
        overridden = recap.compute(conn, MONTH, world.bkppd, monthly_cap=Decimal(90), now=NOW)
    assert (capped.monthly_cap, capped.deduction_base) == (Decimal(50), "attendance_component")
    c = by_name(capped.rows)["citra"]
    assert (c.potongan, c.potongan_raw) == (Decimal("50.00"), Decimal("98.00"))
    assert "potongan dibatasi 50.00% (jumlah harian 98.00%)" in c.keterangan
    assert by_name(overridden.rows)["citra"].potongan == Decimal("90.00")
    assert by_name(overridden.rows)["andi"].potongan == Decimal("14.50")
    assert capped.checksum != overridden.checksum


def test_versions_and_checksum(world: World) -> None:
    with world.engine.connect() as conn:
        one = recap.compute(conn, MONTH, world.bkppd, now=NOW)
        two = recap.compute(conn, MONTH, world.bkppd, now=datetime(2027, 1, 1, tzinfo=UTC))
    assert one.ruleset_versions == (RS_OLD, RS)
    assert one.calendar_versions == ("cal-2026.3",)
    assert (one.unit_code, one.monthly_cap, one.deduction_base) == ("BKPPD", Decimal(100), "")
    assert one.checksum == two.checksum  # the computation time is not part of it
    assert len(one.checksum) == 64
    assert json.loads(one.canonical())["rows"][0]["pct_hadir"] == "65.00"


def test_pending_and_unknown_codes_are_noted(world: World) -> None:
    with world.engine.begin() as conn:
        conn.execute(
            update(daily_status)
            .where(daily_status.c.person_id == world.andi, daily_status.c.work_date == d(30))
            .values(status="PENDING")
        )
        conn.execute(
            update(daily_status)
            .where(daily_status.c.person_id == world.andi, daily_status.c.work_date == d(27))
            .values(status="ABSEN", code="XX")
        )
        a = by_name(recap.recap_rows(conn, MONTH, world.bkppd))["andi"]
    assert (a.hk, a.h, a.pending, a.other) == (20, 11, 1, 1)
    assert "1 hari PENDING (belum final)" in a.keterangan
    assert "1 hari kerja dengan kode tak dikenal" in a.keterangan


def test_lb2_days_of_one_person(world: World) -> None:
    with world.engine.connect() as conn:
        pr = recap.person_recap(conn, MONTH, world.eko)
    assert len(pr.days) == 30
    assert [(r.unit_code, r.hk) for r in pr.rows] == [("BKPPD", 10), ("DINKES", 10)]
    day2 = pr.days[1]
    assert (day2.work_date, day2.status, day2.unit_code, day2.scheduled) == (
        d(2),
        "HADIR",
        "BKPPD",
        True,
    )
    assert day2.check_in == datetime(2026, 11, 1, 23, 20, tzinfo=UTC)  # 07:20 WITA
    assert pr.days[19].status == "LIBUR" and pr.days[29].unit_code == "DINKES"
    assert pr.drift == [] and pr.finalized == []


def test_months_are_checked() -> None:
    assert str(recap.Month.parse("2026-12")) == "2026-12"
    assert recap.Month.parse("2026-12").end == d(1, 1, 2027)
    assert recap.Month.parse("2026-02").label == "Februari 2026"
    for bad in ("2026-13", "2026-1", "0000-01", "9999-12", "26-11", ""):
        with pytest.raises(recap.RecapError, match="YYYY-MM"):
            recap.Month.parse(bad)


def test_pp94_warning_texts() -> None:
    assert recap.pp94_warning(0, 2026, "PNS") == ""
    assert recap.pp94_warning(3, 2026, "PNS") == (
        "Peringatan: TK 2026: 3 hari; ambang ringan PP 94/2021 (3 hari); "
        "ambang berikut 4 hari (1 hari lagi)"
    )
    assert "ambang ringan PP 94/2021 (7-10 hari); ambang berikut 11 hari" in (
        recap.pp94_warning(10, 2026, "CPNS")
    )
    top = recap.pp94_warning(30, 2026, "PNS")
    assert top == "Peringatan: TK 2026: 30 hari; ambang berat PP 94/2021 (>=28 hari)"


@pytest.mark.postgres
def test_sqlite_and_postgresql_give_identical_rows(tmp_path: Path) -> None:
    canon = []
    for kind in ("sqlite", "postgres"):
        with database(kind, tmp_path) as url:
            upgrade(url)
            w = populate(make_engine(url))
            with w.engine.connect() as conn:
                canon.append(recap.compute(conn, MONTH, None, now=NOW).canonical())
            w.engine.dispose()
    assert canon[0] == canon[1]
    assert len(json.loads(canon[0])["rows"]) == 6


def test_fast_canonical_json_is_the_generic_encoding(world: World) -> None:
    # The checksum is written by a hand-made encoder for speed; it must stay byte for byte what
    # the generic canonical encoder makes of the same content, for every unit and for all units.
    from central.attendance.recap_model import canonical_json

    with world.engine.connect() as conn:
        recaps = [recap.compute(conn, MONTH, unit, now=NOW) for unit in (world.bkppd, None)]
    for one in recaps:
        assert one.rows
        assert one.canonical() == canonical_json(one.content())

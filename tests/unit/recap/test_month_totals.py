"""``daily_status_month``: the totals the triggers keep equal the days, whoever writes them.

The oracle is :func:`central.attendance.recap_sql.totals_query`, the recap's own grouping of
the days (the aggregate the recap ran over ``daily_status`` before the totals existed), through
:func:`central.attendance.recap_month.differences`. Each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, delete, func, insert, select, text, update

from central.attendance import recap, recap_month
from central.attendance.daily import _upsert
from central.attendance.recap_cli import EXIT_DRIFT, add_recap_commands, recap_command
from central.db import make_engine, upgrade
from central.schema.attendance import daily_status, daily_status_month
from tests.db import database
from tests.unit.recap import CAL, MONTH, NOW, RS, RS_OLD, World, d, day_row, open_world, populate

MONTHS = ("2025-12", "2026-03", "2026-10", "2026-11", "2026-12")
STATUSES = ("HADIR", "TK", "ABSEN", "LIBUR", "OFF", "PENDING")
CODES = (None, "DL", "DIK", "WFH", "I", "S", "CT", "CB", "CS", "CM", "CAP", "CBER", "CLTN", "X")


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    yield from open_world(db_url)


def agree(conn: Connection) -> None:
    for month in MONTHS:
        assert recap_month.differences(conn, month) == [], month


def stored_rows(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(daily_status_month)).scalar_one())


def random_day(rnd: random.Random, units: list[int | None]) -> dict[str, Any]:
    """Any content a day can have, including combinations the rules never produce."""
    tl = rnd.choice((None, "TL1", "TL2", "TL3", "TL4"))
    psw = rnd.choice((None, "PSW1", "PSW2", "PSW3", "PSW4"))
    return {
        "unit_id": rnd.choice(units),
        "ruleset_version": rnd.choice((RS, RS_OLD)),
        "calendar_version": rnd.choice((CAL, "cal-2026.4")),
        "status": rnd.choice(STATUSES),
        "code": rnd.choice(CODES),
        "scheduled": rnd.random() < 0.7,
        "late_minutes": rnd.randrange(0, 200) if tl else 0,
        "tl": tl,
        "early_minutes": rnd.randrange(0, 200) if psw else 0,
        "psw": psw,
        "forgot_in": rnd.random() < 0.1,
        "forgot_out": rnd.random() < 0.1,
        "outside_minutes": rnd.choice((0, 0, 5, 35, 120)),
        "deduction_pct": Decimal(rnd.randrange(0, 400)) / 100,
        "corrected": rnd.random() < 0.1,
    }


def test_the_fixture_month_is_totalled_on_insert(world: World) -> None:
    with world.engine.connect() as conn:
        agree(conn)
        # Andi has two rule-set versions in November; Dewi's days have no unit (key 0).
        keys = conn.execute(
            select(daily_status_month.c.person_id, daily_status_month.c.unit_key).where(
                daily_status_month.c.month == 202611
            )
        ).all()
    assert (world.dewi, 0) in keys
    assert sum(1 for k in keys if k == (world.andi, world.bkppd)) == 2


def test_random_writes_keep_totals_equal_to_the_days(world: World) -> None:
    rnd = random.Random(20261129)
    people = [world.andi, world.budi, world.citra, world.dewi, world.eko]
    units: list[int | None] = [world.bkppd, world.dinkes, None]
    with world.engine.begin() as conn:
        for step in range(40):
            kind = step % 5
            if kind == 0:  # one day changed in place
                who, day = rnd.choice(people), d(rnd.randrange(1, 31))
                conn.execute(
                    update(daily_status)
                    .where(daily_status.c.person_id == who, daily_status.c.work_date == day)
                    .values(**random_day(rnd, units))
                )
            elif kind == 1:  # the daily computation's upsert: new December days and old ones
                rows = []
                for who in rnd.sample(people, 3):
                    for n in rnd.sample(range(1, 32), 6):
                        row = day_row(who, d(n, 12), world.bkppd) | random_day(rnd, units)
                        rows.append(row)
                    rows.append(day_row(who, d(rnd.randrange(1, 31)), world.dinkes))
                conn.execute(_upsert(conn), rows)
            elif kind == 2:  # days deleted, several in one statement
                who = rnd.choice(people)
                first = d(rnd.randrange(1, 28))
                conn.execute(
                    delete(daily_status).where(
                        daily_status.c.person_id == who,
                        daily_status.c.work_date.between(first, first + timedelta(days=3)),
                    )
                )
            elif kind == 3:  # one statement moving many days between units and versions
                conn.execute(
                    update(daily_status)
                    .where(daily_status.c.work_date.between(d(9), d(13)))
                    .values(unit_id=rnd.choice(units), ruleset_version=rnd.choice((RS, RS_OLD)))
                )
            else:  # a day moved to another month (its totals move with it)
                who = rnd.choice(people)
                gone = conn.execute(
                    select(daily_status.c.work_date).where(
                        daily_status.c.person_id == who,
                        daily_status.c.work_date.between(d(1, 10), d(31, 10)),
                    )
                ).first()
                if gone is not None:
                    free = date(2026, 1, 1) + timedelta(days=rnd.randrange(0, 28))
                    conn.execute(
                        delete(daily_status).where(
                            daily_status.c.person_id == who, daily_status.c.work_date == free
                        )
                    )
                    conn.execute(
                        update(daily_status)
                        .where(
                            daily_status.c.person_id == who,
                            daily_status.c.work_date == gone.work_date,
                        )
                        .values(work_date=free)
                    )
            agree(conn)
            assert recap_month.differences(conn, "2026-01") == []
        # Nothing left of a total whose days are all gone.
        conn.execute(delete(daily_status).where(daily_status.c.person_id != world.andi))
        agree(conn)
        conn.execute(delete(daily_status))
        assert stored_rows(conn) == 0


def test_emptying_the_days_empties_the_totals(world: World) -> None:
    with world.engine.begin() as conn:
        assert stored_rows(conn) > 0
        if conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE daily_status"))  # fires no row or transition trigger
        else:
            conn.execute(text("DELETE FROM daily_status"))  # SQLite's truncate shortcut
        assert stored_rows(conn) == 0


def test_tampered_totals_are_found_refused_at_finalisation_and_rebuilt(world: World) -> None:
    t = daily_status_month
    with world.engine.begin() as conn:
        before = recap.compute(conn, MONTH, world.bkppd, now=NOW).checksum
        conn.execute(
            update(t)
            .where(t.c.month == 202611, t.c.person_id == world.citra)
            .values(p_sched=t.c.p_sched - 1 * 32**4, ded_cents=0)  # one TK day less
        )
        conn.execute(delete(t).where(t.c.person_id == world.dewi))
        wrong = recap_month.differences(conn, MONTH)
        assert len(wrong) == 2
        assert f"person {world.citra} unit {world.bkppd}" in wrong[0]
        assert "p_sched" in wrong[0] and "ded_cents 0/" in wrong[0]
        assert f"person {world.dewi} unit 0" in wrong[1] and "no totals for 30 days" in wrong[1]
        assert recap_month.differences(conn, MONTH, world.dinkes) == [wrong[1]]
        assert recap.compute(conn, MONTH, world.bkppd, now=NOW).checksum != before
    with world.engine.begin() as conn, pytest.raises(recap.RecapError) as refused:
        recap.finalize(conn, MONTH, world.bkppd, "Ani", now=NOW)
    assert "monthly totals differ from the daily status" in str(refused.value)
    assert "recap rebuild --month 2026-11" in str(refused.value)
    with world.engine.begin() as conn:
        assert recap_month.rebuild(conn, MONTH) == 7  # Andi twice, Eko twice, three more
        assert recap_month.differences(conn, MONTH) == []
        assert recap.compute(conn, MONTH, world.bkppd, now=NOW).checksum == before
        agree(conn)


def run_cli(world: World, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="hadir-central")
    parser.add_argument("--json", action="store_true")
    add_recap_commands(parser.add_subparsers(dest="cmd", required=True))
    return recap_command(parser.parse_args(argv), world.engine)


def test_check_and_rebuild_commands(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(world, "recap", "check", "--month", MONTH) == 0
    assert "totals 2026-11: match the daily status" in capsys.readouterr().out
    with world.engine.begin() as conn:
        conn.execute(update(daily_status_month).values(outside_minutes=999))
    assert run_cli(world, "recap", "check", "--month", MONTH, "--unit", "DINKES") == EXIT_DRIFT
    out = capsys.readouterr()
    assert "outside_minutes 999/0" in out.out
    assert "differ from the daily status in 2 places" in out.err  # Dewi and Eko at DINKES
    with pytest.raises(recap.RecapError, match="leave out --unit"):
        run_cli(world, "recap", "rebuild", "--month", MONTH, "--unit", "DINKES")
    assert run_cli(world, "recap", "rebuild", "--month", MONTH) == 0
    assert "rebuilt from the daily status (7 rows)" in capsys.readouterr().out
    assert run_cli(world, "recap", "check", "--month", MONTH) == 0


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_migration_totals_the_days_already_stored(kind: str, tmp_path: Path) -> None:
    with database(kind, tmp_path) as url:
        upgrade(url, "0006")
        engine = make_engine(url)
        try:
            world = populate(engine)
            upgrade(url)
            with engine.begin() as conn:
                agree(conn)
                assert stored_rows(conn) > 0
                # And from then on the triggers keep them.
                conn.execute(insert(daily_status), [day_row(world.budi, d(1, 12), None)])
                agree(conn)
        finally:
            engine.dispose()

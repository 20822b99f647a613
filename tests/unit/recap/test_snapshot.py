"""Snapshots, finalisation and drift: a finalised month never changes silently."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select, update

from central.attendance import recap
from central.schema.attendance import daily_status, recap_run
from tests.unit.recap import MONTH, NOW, World, by_name, d, open_world

LATER = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    yield from open_world(db_url)


def runs(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(recap_run)).scalar_one())


def set_day(engine: Engine, person_id: int, day: int, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(daily_status)
            .where(daily_status.c.person_id == person_id, daily_status.c.work_date == d(day))
            .values(**values)
        )


def test_snapshot_is_stored_once_per_content(world: World) -> None:
    with world.engine.begin() as conn:
        first = recap.snapshot(conn, MONTH, world.bkppd, now=NOW)
        again = recap.snapshot(conn, MONTH, world.bkppd, now=LATER)
    assert first.run_id is not None and again.run_id == first.run_id
    assert again.computed_at == NOW  # the stored draft, not a new one
    assert runs(world.engine) == 1
    with world.engine.connect() as conn:
        row = conn.execute(select(recap_run)).one()
    assert (row.month, row.unit_id, row.finalized) == (MONTH, world.bkppd, False)
    assert (row.ruleset_version, row.calendar_version) == ("rs-2026.10+rs-2026.11", "cal-2026.3")
    assert row.checksum == first.checksum
    assert json.loads(row.rows) == first.content()
    set_day(world.engine, world.andi, 27, status="TK")
    with world.engine.begin() as conn:
        moved = recap.snapshot(conn, MONTH, world.bkppd, now=LATER)
    assert moved.run_id != first.run_id and moved.checksum != first.checksum
    assert runs(world.engine) == 2  # the older draft stays as history


def test_finalize_freezes_and_serves_the_snapshot(world: World) -> None:
    with world.engine.begin() as conn:
        draft = recap.snapshot(conn, MONTH, world.bkppd, now=NOW)
        done = recap.finalize(
            conn, MONTH, world.bkppd, "Ani Operator", checksum=draft.checksum, now=LATER
        )
    assert (done.run_id, done.checksum) == (draft.run_id, draft.checksum)
    assert (done.finalized_by, done.finalized_at) == ("Ani Operator", LATER)
    with world.engine.connect() as conn:
        loaded = recap.load(conn, MONTH, world.bkppd)
    assert (loaded.finalized_by, loaded.finalized_at, loaded.drift) == ("Ani Operator", LATER, None)
    assert loaded.rows == done.rows and loaded.checksum == done.checksum
    assert loaded.to_json()["finalized"] is True
    with world.engine.begin() as conn, pytest.raises(recap.RecapError, match="sudah final oleh"):
        recap.finalize(conn, MONTH, world.bkppd, "Someone Else")


def test_drift_after_finalisation_is_reported_never_applied(world: World) -> None:
    with world.engine.begin() as conn:
        done = recap.finalize(conn, MONTH, world.bkppd, "Ani", now=NOW)
    set_day(world.engine, world.andi, 27, status="TK", deduction_pct=5)
    with world.engine.connect() as conn:
        fresh = recap.compute(conn, MONTH, world.bkppd)
        loaded = recap.load(conn, MONTH, world.bkppd)
        quick = recap.load(conn, MONTH, world.bkppd, verify=False)
    expected = f"finalised month differs (checksum {done.checksum} vs {fresh.checksum})"
    assert loaded.drift is not None and expected in loaded.drift
    assert quick.drift is None
    # The signed numbers are what is served.
    assert by_name(loaded.rows)["andi"].tk == 1 and by_name(fresh.rows)["andi"].tk == 2
    with world.engine.begin() as conn, pytest.raises(recap.FinalizedDrift) as caught:
        recap.snapshot(conn, MONTH, world.bkppd)
    assert expected in str(caught.value)
    assert (caught.value.stored, caught.value.current) == (done.checksum, fresh.checksum)
    with world.engine.connect() as conn:
        pr = recap.person_recap(conn, MONTH, world.andi)
        other = recap.person_recap(conn, MONTH, world.budi)
    assert pr.drift == ["BKPPD: finalised month differs for this person"]
    assert pr.rows[0].tk == 1 and pr.finalized == ["BKPPD"]
    assert other.drift == [] and other.finalized == ["BKPPD"]
    # Put back, the month matches its signature again.
    set_day(world.engine, world.andi, 27, status="HADIR", deduction_pct=0)
    with world.engine.connect() as conn:
        assert recap.load(conn, MONTH, world.bkppd).drift is None


def test_finalize_refuses_pending_days_empty_months_and_moved_drafts(world: World) -> None:
    set_day(world.engine, world.budi, 30, status="PENDING")
    with world.engine.begin() as conn, pytest.raises(recap.RecapError, match="1 hari PENDING"):
        recap.finalize(conn, MONTH, world.bkppd, "Ani")
    set_day(world.engine, world.budi, 30, status="HADIR")
    with world.engine.begin() as conn, pytest.raises(recap.RecapError, match="no daily status"):
        recap.finalize(conn, "2026-09", world.bkppd, "Ani")
    with world.engine.begin() as conn:
        draft = recap.snapshot(conn, MONTH, world.bkppd)
    set_day(world.engine, world.citra, 30, status="TK")
    with world.engine.begin() as conn, pytest.raises(recap.RecapError) as caught:
        recap.finalize(conn, MONTH, world.bkppd, "Ani", checksum=draft.checksum)
    assert f"month changed since the reviewed draft (checksum {draft.checksum} vs" in str(
        caught.value
    )
    with world.engine.begin() as conn, pytest.raises(recap.RecapError, match="who finalises"):
        recap.finalize(conn, MONTH, world.bkppd, "  ")
    with world.engine.begin() as conn, pytest.raises(recap.RecapError, match="no such unit"):
        recap.finalize(conn, MONTH, 999, "Ani")
    with world.engine.connect() as conn:
        assert recap.load(conn, MONTH, world.bkppd).finalized_at is None


def test_months_and_units_are_finalised_separately(world: World) -> None:
    with world.engine.begin() as conn:
        recap.finalize(conn, MONTH, world.bkppd, "Ani", now=NOW)
        dinkes = recap.finalize(conn, MONTH, world.dinkes, "Budi", now=NOW)
    assert [r.name.split()[0] for r in dinkes.rows] == ["Dewi", "Eko"]
    # Lateness on a DINKES day of Eko's moves the DINKES recap only.
    set_day(world.engine, world.eko, 25, late_minutes=20, tl="TL1", deduction_pct=0.5)
    with world.engine.connect() as conn:
        assert recap.load(conn, MONTH, world.bkppd).drift is None
        assert recap.load(conn, MONTH, world.dinkes).drift is not None
        october = recap.load(conn, "2026-10", world.bkppd)
    assert october.finalized_at is None and by_name(october.rows)["budi"].tk == 10
    # A TK there moves both: "TK s.d. bulan ini" counts the person's year in every unit.
    set_day(world.engine, world.eko, 25, status="TK")
    with world.engine.connect() as conn:
        assert by_name(recap.load(conn, MONTH, world.bkppd, verify=False).rows)["eko"].tk_ytd == 0
        assert recap.load(conn, MONTH, world.bkppd).drift is not None

"""Rule sets, the holiday calendar and the daily status SQL path, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Engine, insert, select, update

from central import registry
from central.attendance import calendar as cal
from central.attendance import compute_days, corrections
from central.attendance.absences import AbsenceError, add_absence, cancel_absence
from central.attendance.ruleset import (
    DEFAULT,
    RuleSet,
    RuleSetError,
    ensure_ruleset,
    load_active,
    save_ruleset,
)
from central.db import make_engine
from central.identity import EmploymentType
from central.schema.attendance import daily_status, ruleset
from central.schema.checkin import checkin, location_ping
from central.schema.ingest import device, punch

WITA = ZoneInfo("Asia/Makassar")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
NIP = "198609262015051001"
NIP_2 = "198702142010012003"
NI = "200012312024211001"
AFTER = datetime(2026, 6, 2, 12, 0, tzinfo=WITA)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as c:
        yield c


def wita(day: int, clock: str, month: int = 5) -> datetime:
    h, m = (int(x) for x in clock.split(":"))
    return datetime(2026, month, day, h, m, tzinfo=WITA)


def office(conn: Connection, *, channel: registry.Channel = registry.Channel.EITHER) -> str:
    sched = registry.ensure_default_schedules(conn, now=T0)
    unit = registry.add_unit(conn, "DINAS", "Dinas", channel=channel, schedule_id=sched.id, now=T0)
    site = registry.add_site(conn, unit_id=unit.id, name="Kantor", lat=-10.17, lon=123.6, now=T0)
    conn.execute(
        insert(device).values(id="dev-1", site_id=site.id, created_at=T0, complete_upto=AFTER)
    )
    return site.id


def person(conn: Connection, number: str = NIP) -> registry.Person:
    unit = registry.list_units(conn)[0]
    return registry.add_person(
        conn, name="P", employment_type=EmploymentType.PNS, unit_id=unit.id, number=number, now=T0
    )


def add_punch(conn: Connection, number: str, when: datetime, seq: int) -> None:
    conn.execute(
        insert(punch).values(
            device_id="dev-1",
            seq=seq,
            id=str(uuid.uuid4()),
            person=number,
            slot=1,
            score=99,
            at=when,
            clock_synced=True,
            boot_id="b",
            mono_ns=seq,
            received_at=when,
        )
    )


def rows(conn: Connection, person_id: int) -> dict[date, Any]:
    found = conn.execute(
        select(daily_status)
        .where(daily_status.c.person_id == person_id)
        .order_by(daily_status.c.work_date)
    )
    return {r.work_date: r for r in found}


# --- rule sets -------------------------------------------------------------------------------


def test_rule_set_json_round_trip_and_hash() -> None:
    body = DEFAULT.to_json()
    assert RuleSet.from_json(json.loads(json.dumps(body))) == DEFAULT
    assert body["deductions"]["monthly_cap"] == "100"  # where the recap reads it
    other = replace(DEFAULT, tk_pct=Decimal(4))
    assert other.content_hash() != DEFAULT.content_hash()
    assert RuleSet.from_json({"deductions": {"TK_per_day": "4"}}) == other


@pytest.mark.parametrize(
    "body",
    [
        {"schedule": {"checkin_windw": ["06:00", "12:00"]}},
        {"deductions": {"TL": [[1, 30, "0.5"], [40, None, "1"]]}},
        {"deductions": {"TL": [[1, 30, "0.5"]]}},
        {"deductions": {"missing_checkin_as": "TL9"}},
        {"schedule": {"checkout_window": ["18:00", "14:00"]}},
        {"absences": {"present": ["DL", "XX"]}},
        {"format": 2},
    ],
)
def test_rule_set_refuses_what_it_cannot_apply(body: dict[str, object]) -> None:
    with pytest.raises(RuleSetError):
        RuleSet.from_json(body)


def test_rule_sets_are_versioned_by_date_and_content(conn: Connection) -> None:
    ensure_ruleset(conn, now=T0)
    ensure_ruleset(conn, now=T0)
    first = load_active(conn, date(2026, 5, 1))
    assert first.version == f"default@{DEFAULT.content_hash()}"
    stricter = replace(DEFAULT, tk_pct=Decimal(4))
    saved = save_ruleset(conn, stricter, date(2026, 6, 1), label="perwali-2026", now=T0)
    assert save_ruleset(conn, stricter, date(2026, 6, 1), label="perwali-2026") == saved
    assert load_active(conn, date(2026, 5, 31)).version == first.version
    assert load_active(conn, date(2026, 6, 1)).rules == stricter
    with pytest.raises(RuleSetError, match="exists"):
        save_ruleset(conn, stricter, date(2026, 7, 1), label="perwali-2026")


def test_a_rule_set_edited_in_place_is_refused(conn: Connection) -> None:
    ensure_ruleset(conn, now=T0)
    body = json.loads(conn.execute(select(ruleset.c.body)).scalar_one())
    body["deductions"]["TK_per_day"] = "1"
    conn.execute(update(ruleset).values(body=json.dumps(body)))
    with pytest.raises(RuleSetError, match="edited"):
        load_active(conn, date(2026, 5, 1))


# --- calendar --------------------------------------------------------------------------------

# §5.1: working days Mon-Fri minus public holidays and cuti bersama, 2026.
HK_2026 = [20, 18, 17, 21, 16, 20, 23, 19, 22, 22, 21, 21]


def test_seeded_calendar_gives_the_section_5_working_days(conn: Connection) -> None:
    added = cal.seed_holidays(conn, [2026], now=T0)
    assert len(added) == 25  # 17 libur nasional + 8 cuti bersama
    assert cal.seed_holidays(conn, [2026], now=T0) == []
    off = cal.holidays_between(conn, date(2026, 1, 1), date(2026, 12, 31))
    per_month = [0] * 12
    day = date(2026, 1, 1)
    while day.year == 2026:
        if day.weekday() < 5 and day not in off:
            per_month[day.month - 1] += 1
        day += timedelta(days=1)
    assert per_month == HK_2026
    assert {h.category for h in off[date(2026, 3, 20)]} == {cal.CUTI_BERSAMA}


def test_calendar_version_follows_every_edit(conn: Connection) -> None:
    cal.seed_holidays(conn, [2026], now=T0)
    v0 = cal.calendar_version(conn, 2026)
    assert v0.startswith("2026-") and v0 == cal.calendar_version(conn, 2026)
    assert cal.calendar_version(conn, 2025) != v0
    labour = next(h for h in cal.list_holidays(conn, 2026) if h.day == date(2026, 5, 1))
    cal.set_holiday_active(conn, labour.id, False, now=T0)
    v1 = cal.calendar_version(conn, 2026)
    assert v1 != v0
    assert len(cal.list_holidays(conn, 2026, include_inactive=True)) == 25  # kept, switched off
    cal.set_holiday_active(conn, labour.id, True, now=T0 + timedelta(days=3))
    assert cal.calendar_version(conn, 2026) == v0  # edit times do not matter
    regional = cal.add_holiday(conn, date(2026, 4, 27), "Libur HUT Kota", cal.LIBUR_DAERAH)
    assert regional.source == cal.SOURCE_MANUAL
    v2 = cal.calendar_version(conn, 2026)
    cal.reclassify_holiday(conn, regional.id, cal.LIBUR_KHUSUS)
    assert len({v0, v2, cal.calendar_version(conn, 2026)}) == 3
    cal.add_ramadan_period(conn, date(2026, 2, 19), date(2026, 3, 20))
    assert cal.calendar_version(conn, 2026) not in {v0, v2}
    with pytest.raises(cal.CalendarError):
        cal.add_ramadan_period(conn, date(2026, 3, 20), date(2026, 3, 25))
    with pytest.raises(cal.CalendarError):
        cal.add_holiday(conn, date(2026, 4, 27), "x", "LIBUR_RT")


# --- the SQL path ----------------------------------------------------------------------------


def test_punches_follow_the_number_held_at_the_time(conn: Connection) -> None:
    office(conn)
    p = person(conn)
    registry.change_number(conn, p.id, NIP_2, at=wita(11, "00:00"))
    add_punch(conn, NIP, wita(4, "07:20"), 1)  # old number, before the change: counts
    add_punch(conn, NIP_2, wita(11, "07:20"), 2)  # new number: counts
    add_punch(conn, NIP, wita(12, "07:20"), 3)  # old number after the change: not this person's
    compute_days(conn, date(2026, 5, 4), date(2026, 5, 12), now=AFTER)
    got = rows(conn, p.id)
    assert got[date(2026, 5, 4)].check_in == wita(4, "07:20")
    assert got[date(2026, 5, 11)].status == "HADIR"
    assert got[date(2026, 5, 12)].status == "TK"


def test_voids_and_cancelled_absences(conn: Connection) -> None:
    site_id = office(conn)
    p = person(conn)
    add_punch(conn, NIP, wita(4, "07:20"), 1)
    add_punch(conn, NIP, wita(4, "16:10"), 2)
    corrections.void_punch(conn, p.id, date(2026, 5, 4), "dev-1", 2, reason="uji", by="op")
    cid = str(uuid.uuid4())
    conn.execute(
        insert(checkin).values(
            id=cid,
            person_id=p.id,
            device_id="a",
            kind="in",
            client_time=wita(5, "07:10"),
            server_time=wita(5, "07:10"),
            accuracy_m=5.0,
            mock_location=False,
            site_id=site_id,
            accepted=True,
        )
    )
    corrections.void_checkin(conn, p.id, date(2026, 5, 5), cid, reason="salah orang", by="op")
    leave = add_absence(conn, p.id, date(2026, 5, 6), date(2026, 5, 6), "CT", by="op", now=T0)
    cancel_absence(conn, leave.id, now=T0)
    with pytest.raises(corrections.CorrectionError):
        corrections.void_punch(conn, p.id, date(2026, 5, 4), "dev-1", 99, reason="x", by="op")
    with pytest.raises(corrections.CorrectionError):
        corrections.add_in(conn, p.id, date(2026, 5, 4), wita(9, "07:00"), reason="x", by="op")
    with pytest.raises(AbsenceError):
        add_absence(conn, p.id, date(2026, 5, 6), date(2026, 5, 6), "XX", by="op")
    compute_days(conn, date(2026, 5, 4), date(2026, 5, 6), now=AFTER)
    got = rows(conn, p.id)
    may4, may5, may6 = (got[date(2026, 5, d)] for d in (4, 5, 6))
    assert (may4.psw, may4.forgot_out, may4.corrected) == ("PSW4", True, True)
    assert (may5.status, may5.corrected) == ("TK", True)
    assert may6.status == "TK"
    assert conn.execute(select(punch).where(punch.c.seq == 2)).one()  # never deleted


def test_outside_minutes_and_a_mobile_only_unit(conn: Connection) -> None:
    office(conn, channel=registry.Channel.MOBILE)
    p = person(conn)
    conn.execute(update(device).values(complete_upto=None))  # a mobile unit waits for no terminal
    add_punch(conn, NIP, wita(4, "07:20"), 1)
    add_punch(conn, NIP, wita(4, "16:05"), 2)
    for clock, inside in [("09:00", True), ("10:00", False), ("10:20", None), ("10:45", True)]:
        conn.execute(
            insert(location_ping).values(
                person_id=p.id,
                device_id="a",
                server_time=wita(4, clock),
                client_time=wita(4, clock),
                accuracy_m=5.0,
                mock=False,
                inside=inside,
            )
        )
    compute_days(conn, date(2026, 5, 4), date(2026, 5, 5), now=wita(5, "18:00"))
    got = rows(conn, p.id)
    assert got[date(2026, 5, 4)].outside_minutes == 45
    assert got[date(2026, 5, 5)].status == "TK"


def test_a_new_rule_set_applies_from_its_date(conn: Connection) -> None:
    office(conn)
    p = person(conn)
    ensure_ruleset(conn, now=T0)
    stricter = save_ruleset(
        conn, replace(DEFAULT, tk_pct=Decimal(4)), date(2026, 5, 6), label="se-2026", now=T0
    )
    compute_days(conn, date(2026, 5, 4), date(2026, 5, 6), now=AFTER)
    got = rows(conn, p.id)
    assert [(r.ruleset_version, r.deduction_pct) for r in got.values()] == [
        (load_active(conn, date(2026, 5, 4)).version, Decimal("5.00")),
        (load_active(conn, date(2026, 5, 5)).version, Decimal("5.00")),
        (stricter.version, Decimal("4.00")),
    ]


def test_only_the_named_people_are_computed(conn: Connection) -> None:
    office(conn)
    a, b = person(conn), person(conn, NIP_2)
    registry.update_person(conn, b.id, active=False)
    everyone = compute_days(conn, date(2026, 5, 4), date(2026, 5, 4), now=AFTER)
    assert (everyone.people, everyone.written) == (1, 1)  # the active one
    named = compute_days(conn, date(2026, 5, 4), date(2026, 5, 4), [b.id], now=AFTER)
    assert (named.people, named.written) == (1, 1)
    assert rows(conn, a.id).keys() == rows(conn, b.id).keys() == {date(2026, 5, 4)}


def test_a_past_day_keeps_its_unit_after_a_transfer(conn: Connection) -> None:
    office(conn)
    p = person(conn)
    compute_days(conn, date(2026, 5, 4), date(2026, 5, 4), now=wita(5, "09:00"))
    other = registry.add_unit(conn, "BARU", "Unit baru", now=T0)
    registry.update_person(conn, p.id, unit_id=other.id)
    again = compute_days(conn, date(2026, 5, 4), date(2026, 5, 5), now=wita(5, "09:00"))
    got = rows(conn, p.id)
    assert again.written == 1  # only the new day
    assert got[date(2026, 5, 4)].unit_id != other.id
    assert got[date(2026, 5, 5)].unit_id == other.id


def test_a_six_day_schedule_and_its_short_saturday(conn: Connection) -> None:
    office(conn)
    t = registry.DayTimes
    short = t(time(7, 30), time(14, 30))
    six = registry.add_schedule(
        conn,
        "Enam hari",
        registry.ScheduleKind.SIX_DAY,
        {d: short for d in ("mon", "tue", "wed", "thu")}
        | {"fri": t(time(7, 30), time(11, 30)), "sat": t(time(7, 30), time(12, 30))},
        now=T0,
    )
    p = person(conn)
    registry.update_person(conn, p.id, schedule_id=six.id)
    for seq, (day, clock) in enumerate(
        [(4, "07:30"), (4, "14:30"), (8, "07:25"), (8, "11:00"), (9, "07:35"), (9, "12:00")], 1
    ):
        add_punch(conn, NIP, wita(day, clock), seq)
    compute_days(conn, date(2026, 5, 4), date(2026, 5, 10), now=AFTER)
    got = {d.day: r for d, r in rows(conn, p.id).items()}
    summary = {day: (r.status, r.tl, r.psw, r.early_minutes) for day, r in got.items()}
    assert summary[4] == ("HADIR", None, None, 0)
    assert summary[8] == ("HADIR", None, "PSW1", 30)  # Friday ends 11:30
    assert summary[9] == ("HADIR", "TL1", "PSW1", 30)  # Saturday ends 12:30
    assert summary[10] == ("OFF", None, None, 0)


def test_an_unseeded_year_is_seeded_before_computing(conn: Connection) -> None:
    office(conn)
    p = person(conn)
    compute_days(conn, date(2026, 5, 14), date(2026, 5, 14), now=AFTER)
    assert rows(conn, p.id)[date(2026, 5, 14)].status == "LIBUR"  # Kenaikan Yesus Kristus
    for h in cal.list_holidays(conn, 2026):
        cal.set_holiday_active(conn, h.id, False)
    assert cal.ensure_seeded(conn, [2026]) == []  # edited, not reseeded
    compute_days(conn, date(2026, 5, 14), date(2026, 5, 14), now=AFTER)
    assert rows(conn, p.id)[date(2026, 5, 14)].status == "TK"

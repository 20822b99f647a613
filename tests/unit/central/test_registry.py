"""The registry on SQLite and PostgreSQL: schema matches the migration, units, sites, people."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, insert
from sqlalchemy.exc import IntegrityError

import central.schema.registry as reg_schema
from central import registry as r
from central.db import make_engine
from central.identity import EmploymentType, InvalidIdentity, NumberKind
from central.schema.base import metadata
from central.schema.ingest import device

T0 = datetime(2025, 1, 2, 0, 0, tzinfo=UTC)
NIP = "19860926 201505 1 001"
NI = "200012312024211001"
NI_PW = "199009132025242014"
REGISTRY_TABLES = {"unit", "site", "person", "person_number", "person_site", "schedule"} | {
    "shift_roster"
}


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as c:
        yield c


@pytest.fixture
def unit(conn: Connection) -> r.Unit:
    return r.add_unit(conn, "BKPPD", "Badan Kepegawaian, Pendidikan dan Pelatihan Daerah")


def _tables(diff: object) -> set[str]:
    """Table names an autogenerate diff (a tuple, or a list of tuples) touches."""
    if isinstance(diff, list):
        return set().union(*(_tables(d) for d in diff))
    assert isinstance(diff, tuple)
    names: set[str] = set()
    for part in diff:
        table = getattr(part, "table", None)
        if isinstance(part, str) and part in REGISTRY_TABLES:
            names.add(part)
        elif getattr(part, "name", None) in REGISTRY_TABLES and hasattr(part, "columns"):
            names.add(str(part.name))
        elif table is not None:
            names.add(str(table.name))
    return names


def test_migration_matches_the_registry_tables(engine: Engine) -> None:
    assert set(reg_schema.metadata.tables) >= REGISTRY_TABLES
    with engine.connect() as c:
        ctx = MigrationContext.configure(
            c, opts={"compare_type": True, "compare_server_default": True}
        )
        diffs = compare_metadata(ctx, metadata)
    assert [d for d in diffs if _tables(d) & REGISTRY_TABLES] == []


def test_one_current_holder_per_number_is_enforced_by_the_database(
    conn: Connection, unit: r.Unit
) -> None:
    a = r.add_person(
        conn, name="A", employment_type=EmploymentType.PNS, unit_id=unit.id, number=NIP
    )
    b = r.add_person(
        conn, name="B", employment_type=EmploymentType.PPPK, unit_id=unit.id, number=NI
    )
    row = {"number": "198609262015051001", "kind": "PNS", "valid_from": T0}
    with pytest.raises(IntegrityError), conn.begin_nested():
        conn.execute(insert(reg_schema.person_number).values(person_id=b.id, **row))
    # A closed holding does not block; a second open primary number for A does.
    conn.execute(insert(reg_schema.person_number).values(person_id=b.id, valid_to=T0, **row))
    with pytest.raises(IntegrityError), conn.begin_nested():
        conn.execute(
            insert(reg_schema.person_number).values(
                person_id=a.id, number="PTT-1", kind="LOCAL", valid_from=T0
            )
        )


def test_check_constraints_hold_on_every_backend(conn: Connection, unit: r.Unit) -> None:
    site = {"unit_id": unit.id, "name": "S", "lat": 0.0, "lon": 0.0, "created_at": T0}
    bad_rows = [
        (reg_schema.site, {**site, "id": "S1", "radius_m": 5, "accuracy_max_m": 5}),
        (reg_schema.site, {**site, "id": "S2", "lat": 91.0}),
        (reg_schema.site, {**site, "id": "S3", "radius_m": 30, "accuracy_max_m": 40}),
        (reg_schema.unit, {"code": "X", "name": "X", "channel": "pigeon", "created_at": T0}),
    ]
    for table, values in bad_rows:
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(insert(table).values(**values))
    p = r.add_person(
        conn, name="A", employment_type=EmploymentType.PNS, unit_id=unit.id, number=NIP
    )
    with pytest.raises(IntegrityError), conn.begin_nested():
        conn.execute(
            insert(reg_schema.shift_roster).values(
                person_id=p.id, work_date=date(2025, 1, 1), start_at=T0, end_at=None
            )
        )


def test_default_schedule_is_the_perpres_week(conn: Connection) -> None:
    regular = r.ensure_default_schedules(conn, now=T0)
    assert r.ensure_default_schedules(conn) == regular  # idempotent
    assert regular.kind is r.ScheduleKind.FIVE_DAY
    assert set(regular.days) == {"mon", "tue", "wed", "thu", "fri"}
    assert regular.days["thu"] == r.DayTimes(time(7, 30), time(16), time(12), time(13))
    assert regular.days["fri"] == r.DayTimes(time(7, 30), time(16, 30), time(11, 30), time(13))
    assert regular.weekly_net_minutes == 2250  # 37.5 h
    assert regular.ramadan_schedule_id is not None
    ramadan = r.get_schedule(conn, regular.ramadan_schedule_id)
    assert ramadan.kind is r.ScheduleKind.RAMADAN
    assert ramadan.weekly_net_minutes == 1950  # 32.5 h
    assert r.find_schedule(conn, "  reguler 5 HARI ") == regular


def test_schedules_are_checked(conn: Connection) -> None:
    six = {d: r.DayTimes(time(7, 30), time(14)) for d in r.WEEKDAYS[:6]}
    assert r.add_schedule(conn, "Enam hari", r.ScheduleKind.SIX_DAY, six).weekly_net_minutes == (
        6 * 390
    )
    with pytest.raises(r.Conflict):
        r.add_schedule(conn, "enam HARI", r.ScheduleKind.SIX_DAY, six)
    bad = [
        {"mon": r.DayTimes(time(16), time(7, 30))},
        {"mon": r.DayTimes(time(7, 30), time(16), time(12))},
        {"mon": r.DayTimes(time(7, 30), time(16), time(15), time(17))},
        {"mon": r.DayTimes(time(7, 30), time(16), time(13), time(12))},
        {"funday": r.DayTimes(time(7, 30), time(16))},
    ]
    for days in bad:
        with pytest.raises(r.InvalidSchedule):
            r.add_schedule(conn, "X", r.ScheduleKind.FIVE_DAY, days)
    with pytest.raises(r.InvalidSchedule, match="roster"):
        r.add_schedule(conn, "Shift", r.ScheduleKind.SHIFT, six)
    assert r.add_schedule(conn, "Shift RSUD", r.ScheduleKind.SHIFT, {}).days == {}


def test_units(conn: Connection, unit: r.Unit) -> None:
    assert unit.channel is r.Channel.EITHER
    assert r.find_unit(conn, "bkppd") == unit
    assert r.find_unit(conn, "badan kepegawaian,  pendidikan dan pelatihan daerah") == unit
    assert r.find_unit(conn, "DINKES") is None
    with pytest.raises(r.Conflict):
        r.add_unit(conn, "bkppd", "Lain")
    with pytest.raises(r.RegistryError):
        r.add_unit(conn, "DINAS KES", "Spasi di kode")
    regular = r.ensure_default_schedules(conn)
    changed = r.update_unit(conn, unit.id, channel=r.Channel.FINGERPRINT, schedule_id=regular.id)
    assert (changed.channel, changed.schedule_id, changed.name) == (
        r.Channel.FINGERPRINT,
        regular.id,
        unit.name,
    )
    with pytest.raises(r.NotFound):
        r.get_unit(conn, 9999)


def test_sites_and_geofences(conn: Connection, unit: r.Unit) -> None:
    main = r.add_site(conn, unit_id=unit.id, name="Kantor Utama", lat=-10.1632, lon=123.6022)
    annex = r.add_site(conn, unit_id=unit.id, name="Gedung B", lat=-10.16, lon=123.60, radius_m=15)
    assert (main.id, main.radius_m, main.accuracy_max_m) == ("BKPPD-1", 100, 50)
    assert (annex.id, annex.accuracy_max_m) == ("BKPPD-2", 15)  # never above the radius
    assert r.unit_sites(conn, unit.id) == [main, annex]
    named = r.add_site(conn, unit_id=unit.id, name="Pos", lat=0, lon=0, site_id="POS-KLP")
    assert named.id == "POS-KLP"
    with pytest.raises(r.Conflict):
        r.add_site(conn, unit_id=unit.id, name="kantor utama", lat=0, lon=0)
    for lat, lon, radius, acc, words in [
        (90.5, 0.0, 100, 50, "lintang"),
        (0.0, -180.5, 100, 50, "bujur"),
        (0.0, 0.0, 9, 5, "radius"),
        (0.0, 0.0, 5001, 50, "radius"),
        (0.0, 0.0, 100, 101, "akurasi"),
        (0.0, 0.0, 100, 0, "akurasi"),
    ]:
        with pytest.raises(r.InvalidGeofence, match=words):
            r.add_site(
                conn,
                unit_id=unit.id,
                name="X",
                lat=lat,
                lon=lon,
                radius_m=radius,
                accuracy_max_m=acc,
            )
    retired = r.set_site_active(conn, annex.id, False)
    assert not retired.active
    assert r.unit_sites(conn, unit.id) == [main, named]
    assert r.unit_sites(conn, unit.id, include_inactive=True)[1] == retired
    moved = r.set_geofence(conn, main.id, lat=-10.2, lon=123.5, radius_m=200, accuracy_max_m=40)
    assert (moved.lat, moved.lon, moved.radius_m, moved.accuracy_max_m) == (-10.2, 123.5, 200, 40)


def test_mobile_fallback_switch(conn: Connection, unit: r.Unit) -> None:
    s = r.add_site(conn, unit_id=unit.id, name="Kantor", lat=-10.16, lon=123.6)
    assert not s.mobile_fallback_open
    with pytest.raises(r.RegistryError):
        r.open_mobile_fallback(conn, s.id, reason=" ", by="op1")
    opened = r.open_mobile_fallback(conn, s.id, reason="terminal rusak", by="op1", now=T0)
    assert (opened.mobile_fallback_open, opened.mobile_fallback_reason) == (True, "terminal rusak")
    assert (opened.mobile_fallback_opened_at, opened.mobile_fallback_opened_by) == (T0, "op1")
    closed = r.close_mobile_fallback(conn, s.id)
    assert not closed.mobile_fallback_open
    assert closed.mobile_fallback_opened_at is None


def test_assign_device(conn: Connection, unit: r.Unit) -> None:
    s = r.add_site(conn, unit_id=unit.id, name="Kantor", lat=-10.16, lon=123.6)
    conn.execute(insert(device).values(id="pi-01", created_at=T0))
    r.assign_device(conn, "pi-01", s.id)
    assert conn.execute(device.select()).one().site_id == s.id
    with pytest.raises(r.NotFound):
        r.assign_device(conn, "pi-99", s.id)
    with pytest.raises(r.NotFound):
        r.assign_device(conn, "pi-01", "NOWHERE")


def test_person_found_by_number_typed_any_way(conn: Connection, unit: r.Unit) -> None:
    p = r.add_person(
        conn,
        name="  Maria   Ndun ",
        employment_type=EmploymentType.PNS,
        unit_id=unit.id,
        number=NIP,
        now=T0,
    )
    assert (p.name, p.number, p.number_kind, p.active) == (
        "Maria Ndun",
        "198609262015051001",
        NumberKind.PNS,
        True,
    )
    for typed in (NIP, "198609262015051001", "19860926.201505.1.001"):
        assert r.find_person(conn, typed) == p
    assert r.find_person(conn, "200012312024211001") is None
    honorer = r.add_person(
        conn,
        name="Yakob",
        employment_type=EmploymentType.NON_ASN,
        unit_id=unit.id,
        number="ptt-2019-001",
    )
    assert honorer.number == "PTT-2019-001"
    assert r.find_person(conn, "PTT-2019-001 ") == honorer


def test_person_rules(conn: Connection, unit: r.Unit) -> None:
    r.add_person(conn, name="A", employment_type=EmploymentType.PNS, unit_id=unit.id, number=NIP)
    with pytest.raises(r.Conflict, match="sudah dipakai"):
        r.add_person(
            conn, name="B", employment_type=EmploymentType.PNS, unit_id=unit.id, number=NIP
        )
    with pytest.raises(InvalidIdentity) as caught:
        r.add_person(
            conn,
            name="C",
            employment_type=EmploymentType.PNS,
            unit_id=unit.id,
            number="19860926 201513 1 001",
        )
    assert caught.value.field == "tmt_month"
    with pytest.raises(InvalidIdentity, match="tidak cocok"):
        r.add_person(conn, name="D", employment_type=EmploymentType.PNS, unit_id=unit.id, number=NI)
    with pytest.raises(r.NotFound):
        r.add_person(conn, name="E", employment_type=EmploymentType.PPPK, unit_id=999, number=NI)


def test_number_change_keeps_history(conn: Connection, unit: r.Unit) -> None:
    t1 = T0 + timedelta(days=200)
    p = r.add_person(
        conn,
        name="Yakob",
        employment_type=EmploymentType.NON_ASN,
        unit_id=unit.id,
        number="PTT-2019-001",
        now=T0,
    )
    # Appointed PPPK paruh waktu: a NI PPPK replaces the local number.
    changed = r.change_number(conn, p.id, NI_PW, employment_type=EmploymentType.PPPK_PW, at=t1)
    assert (changed.id, changed.number, changed.employment_type) == (
        p.id,
        "199009132025242014",
        EmploymentType.PPPK_PW,
    )
    assert r.find_person(conn, NI_PW) == changed
    assert r.find_person(conn, "PTT-2019-001") is None  # not current any more
    assert r.find_person(conn, "PTT-2019-001", at=T0 + timedelta(days=1)) == changed
    assert r.find_person(conn, NI_PW, at=T0 + timedelta(days=1)) is None
    assert r.number_history(conn, p.id) == [
        r.NumberPeriod("PTT-2019-001", NumberKind.LOCAL, T0, t1),
        r.NumberPeriod("199009132025242014", NumberKind.PPPK, t1, None),
    ]
    assert r.change_number(conn, p.id, NI_PW) == changed  # the same again: no-op
    # The closed number cannot go to someone else while its old interval could still match.
    with pytest.raises(r.Conflict):
        r.add_person(
            conn,
            name="Other",
            employment_type=EmploymentType.NON_ASN,
            unit_id=unit.id,
            number="PTT-2019-001",
            now=T0 + timedelta(days=100),
        )
    with pytest.raises(r.RegistryError, match="sebelum"):
        r.change_number(conn, p.id, NI, employment_type=EmploymentType.PPPK, at=T0)


def test_employment_type_change_needing_a_new_number_is_refused(
    conn: Connection, unit: r.Unit
) -> None:
    p = r.add_person(
        conn, name="A", employment_type=EmploymentType.PPPK, unit_id=unit.id, number=NI
    )
    assert r.update_person(conn, p.id, employment_type=EmploymentType.PPPK_PW).employment_type is (
        EmploymentType.PPPK_PW
    )
    with pytest.raises(r.RegistryError, match="perlu nomor lain"):
        r.update_person(conn, p.id, employment_type=EmploymentType.PNS)
    done = r.update_person(conn, p.id, name="A. Lake", active=False)
    assert (done.name, done.active) == ("A. Lake", False)


def test_legacy_nip_is_a_reference_only(conn: Connection, unit: r.Unit) -> None:
    p = r.add_person(
        conn, name="A", employment_type=EmploymentType.PNS, unit_id=unit.id, number=NIP, now=T0
    )
    r.add_legacy_nip(conn, p.id, "130 456 789", now=T0)
    assert r.find_person(conn, "130456789") is None
    assert r.get_person(conn, p.id).number == "198609262015051001"
    assert [h.kind for h in r.number_history(conn, p.id)] == [NumberKind.PNS, NumberKind.LEGACY]


def test_person_sites(conn: Connection, unit: r.Unit) -> None:
    a = r.add_site(conn, unit_id=unit.id, name="A", lat=-10.1, lon=123.6)
    b = r.add_site(conn, unit_id=unit.id, name="B", lat=-10.2, lon=123.6)
    other = r.add_unit(conn, "DINKES", "Dinas Kesehatan")
    c = r.add_site(conn, unit_id=other.id, name="Puskesmas", lat=-10.3, lon=123.6)
    p = r.add_person(
        conn, name="A", employment_type=EmploymentType.PNS, unit_id=unit.id, number=NIP
    )
    assert r.person_sites(conn, p.id) == []
    assert r.allowed_sites(conn, p.id) == [a, b]  # no links: the unit's sites
    r.link_person_site(conn, p.id, c.id)
    r.link_person_site(conn, p.id, c.id)  # idempotent
    assert r.allowed_sites(conn, p.id) == [c]
    r.set_person_sites(conn, p.id, [a.id, c.id])
    assert [s.id for s in r.person_sites(conn, p.id)] == sorted([a.id, c.id])
    r.unlink_person_site(conn, p.id, a.id)
    r.unlink_person_site(conn, p.id, c.id)
    assert r.person_sites(conn, p.id) == []


def test_shift_roster_overnight_and_day_off(conn: Connection, unit: r.Unit) -> None:
    p = r.add_person(
        conn, name="Perawat", employment_type=EmploymentType.PPPK, unit_id=unit.id, number=NI
    )
    night = date(2025, 3, 1)
    start = datetime(2025, 3, 1, 13, tzinfo=UTC)  # 21:00 WITA
    r.set_shift(conn, p.id, night, start, start + timedelta(hours=10), label="malam")
    r.set_shift(conn, p.id, date(2025, 3, 2), None, None, label="libur")
    r.set_shift(conn, p.id, night, start, start + timedelta(hours=9), label="malam")  # replaced
    rows = r.shifts(conn, p.id, date(2025, 3, 1), date(2025, 3, 31))
    assert [(x.work_date, x.label, x.end_at) for x in rows] == [
        (night, "malam", start + timedelta(hours=9)),
        (date(2025, 3, 2), "libur", None),
    ]
    with pytest.raises(r.RegistryError):
        r.set_shift(conn, p.id, night, start, start)

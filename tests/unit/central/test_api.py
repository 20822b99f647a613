"""The Android API over HTTP (TestClient) on a migrated database, SQLite and PostgreSQL alike."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from central import registry
from central.api import ApiSettings, checkins, create_app, purge_coordinates
from central.api.auth import hash_token
from central.api.geo import EARTH_RADIUS_M
from central.db import make_engine
from central.identity import EmploymentType
from central.schema.base import metadata
from central.schema.checkin import checkin, location_ping, mobile_device, mobile_fallback_event

ADMIN = "admin-token-for-tests"
LAT, LON = -10.1633, 123.6075
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180
MONDAY_0900 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # 09:00 WITA
PHONE = "a1b2c3d4e5f60718"


class FakeClock:
    """The server clock, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass
class World:
    """A small registry: an "either" unit, a fingerprint-only unit, a unit without sites."""

    client: TestClient
    engine: Engine
    clock: FakeClock
    either: int  # person ids
    fingerprint: int
    siteless: int
    scheduled: int
    fp_site: str

    def bind(self, person_id: int, device: str = PHONE) -> str:
        r = self.client.post(
            "/v1/devices/bind",
            json={"person_id": person_id, "device_id": device},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert r.status_code == 201, r.text
        token: str = r.json()["token"]
        return token


def north(metres: float) -> float:
    """The latitude ``metres`` due north of the office."""
    return LAT + metres / M_PER_DEG


def _registry(engine: Engine) -> dict[str, Any]:
    with engine.begin() as conn:
        either = registry.add_unit(conn, "BKPPD", "Badan Kepegawaian")
        fp = registry.add_unit(
            conn, "DINKES", "Dinas Kesehatan", channel=registry.Channel.FINGERPRINT
        )
        bare = registry.add_unit(conn, "SATPOL", "Satpol PP")
        registry.add_site(conn, unit_id=either.id, name="Kantor BKPPD", lat=LAT, lon=LON)
        fp_site = registry.add_site(conn, unit_id=fp.id, name="Kantor Dinkes", lat=LAT, lon=LON)
        morning = registry.add_schedule(
            conn,
            "Pagi",
            registry.ScheduleKind.FIVE_DAY,
            {"mon": registry.DayTimes(time(8, 0), time(12, 0))},
        )

        def person(unit_id: int, nip: str, schedule_id: int | None = None) -> int:
            return registry.add_person(
                conn,
                name=f"Pegawai {nip[-3:]}",
                employment_type=EmploymentType.PNS,
                unit_id=unit_id,
                number=nip,
                schedule_id=schedule_id,
            ).id

        return {
            "either": person(either.id, "198501012010011001"),
            "fingerprint": person(fp.id, "198501012010011002"),
            "siteless": person(bare.id, "198501012010011003"),
            "scheduled": person(either.id, "198501012010011004", morning.id),
            "fp_site": fp_site.id,
        }


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    engine = make_engine(db_url)
    clock = FakeClock(MONDAY_0900)
    ids = _registry(engine)
    app = create_app(engine, ApiSettings(admin_token=ADMIN), now=clock)
    with TestClient(app) as client:
        yield World(client=client, engine=engine, clock=clock, **ids)
    engine.dispose()


def fix(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "in",
        "client_time": MONDAY_0900.isoformat(),
        "lat": north(20),
        "lon": LON,
        "accuracy_m": 12.0,
        "mock_location": False,
    }
    body.update(over)
    return body


def device(token: str, phone: str = PHONE) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Device-Id": phone}


def rows(engine: Engine, table: Any) -> list[Any]:
    # PostgreSQL returns updated rows in another order: sort by the key.
    with engine.connect() as conn:
        return list(conn.execute(select(table).order_by(*table.primary_key.columns)))


# --- schema -------------------------------------------------------------------------------


CHECKIN_TABLES = {"mobile_device", "checkin", "location_ping", "mobile_fallback_event"}


def _tables(diff: Any) -> set[str]:
    """The table names an autogenerate diff entry touches (entries nest one level)."""
    entries = diff if isinstance(diff, list) else [diff]
    names = set()
    for entry in entries:
        for part in entry:
            table = getattr(part, "table", None)
            name = getattr(part, "name", None)
            if table is not None:
                names.add(str(table.name))
            elif isinstance(name, str):
                names.add(name)
            elif isinstance(part, str):
                names.add(part)
    return names


def test_checkin_tables_match_migration(db_url: str) -> None:
    assert set(metadata.tables) >= CHECKIN_TABLES
    engine = make_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        diff = compare_metadata(ctx, metadata)
    engine.dispose()
    assert [d for d in diff if _tables(d) & CHECKIN_TABLES] == []


# --- accepted -----------------------------------------------------------------------------


def test_checkin_accepted_is_stored_with_source(world: World) -> None:
    token = world.bind(world.either)
    world.clock.at = MONDAY_0900 + timedelta(seconds=40)
    r = world.client.post("/v1/checkins", json=fix(), headers=device(token))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["source"] == "android"
    assert body["device_id"] == PHONE
    assert body["person_id"] == world.either
    assert body["site"] == {"id": "BKPPD-1", "name": "Kantor BKPPD"}
    assert datetime.fromisoformat(body["server_time"]) == world.clock.at
    assert body["distance_m"] == pytest.approx(20, abs=0.01)
    [row] = rows(world.engine, checkin)
    assert row.id == body["id"]
    assert row.accepted
    assert (row.reason, row.message) == (None, None)
    assert (row.device_id, row.site_id, row.kind) == (PHONE, "BKPPD-1", "in")
    assert row.server_time == world.clock.at
    assert row.client_time == MONDAY_0900
    assert row.lat == pytest.approx(north(20))


def test_checkin_client_ref_makes_a_retry_idempotent(world: World) -> None:
    token = world.bind(world.either)
    ref = str(uuid.uuid4())
    first = world.client.post("/v1/checkins", json=fix(client_ref=ref), headers=device(token))
    again = world.client.post("/v1/checkins", json=fix(client_ref=ref), headers=device(token))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert len(rows(world.engine, checkin)) == 1


def test_checkin_retry_racing_the_first_gets_the_first_answer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = world.bind(world.either)
    ref = str(uuid.uuid4())
    first = world.client.post("/v1/checkins", json=fix(client_ref=ref), headers=device(token))
    # The retry's look-up misses the first row, as when both requests check at the same moment;
    # the unique key then stops the second insert and the stored answer is returned.
    real = checkins._stored
    calls: list[str] = []

    def late(conn: Any, person_id: int, client_ref: str) -> Any:
        calls.append(client_ref)
        return None if len(calls) == 1 else real(conn, person_id, client_ref)

    monkeypatch.setattr(checkins, "_stored", late)
    again = world.client.post("/v1/checkins", json=fix(client_ref=ref), headers=device(token))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len(calls) == 2
    assert len(rows(world.engine, checkin)) == 1


def test_checkin_refusal_retry_returns_the_stored_refusal(world: World) -> None:
    token = world.bind(world.either)
    body = fix(client_ref=str(uuid.uuid4()), mock_location=True)
    first = world.client.post("/v1/checkins", json=body, headers=device(token))
    again = world.client.post("/v1/checkins", json=body, headers=device(token))
    assert first.status_code == again.status_code == 422
    assert first.json() == again.json()
    assert len(rows(world.engine, checkin)) == 1


# --- refusals -----------------------------------------------------------------------------

REFUSALS = [
    ("mock", {"mock_location": True}, 422, "mock_location", "Lokasi palsu (mock location)"),
    (
        "ahead",
        {"client_time": (MONDAY_0900 + timedelta(minutes=10)).isoformat()},
        422,
        "clock_ahead",
        "Jam HP 10 menit lebih cepat",
    ),
    (
        "stale",
        {"client_time": (MONDAY_0900 - timedelta(minutes=30)).isoformat()},
        422,
        "clock_stale",
        "Waktu absen sudah 30 menit lewat",
    ),
    (
        "outside",
        {"lat": north(300)},
        422,
        "outside_geofence",
        "Di luar area kantor (300 m dari Kantor BKPPD, radius 100 m) "
        "(Outside the office area: 300 m from Kantor BKPPD, radius 100 m)",
    ),
    (
        "vague",
        {"accuracy_m": 80},
        422,
        "accuracy_too_low",
        "Akurasi GPS kurang (±80 m, maksimal 50 m di Kantor BKPPD)",
    ),
]


@pytest.mark.parametrize(
    ("over", "status", "code", "text"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
def test_checkin_refusal_is_stored_and_explained(
    world: World, over: dict[str, Any], status: int, code: str, text: str
) -> None:
    token = world.bind(world.either)
    r = world.client.post("/v1/checkins", json=fix(**over), headers=device(token))
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code
    assert text in body["message"]
    assert "(" in body["message"]  # the English half
    [row] = rows(world.engine, checkin)
    assert (row.id, row.accepted, row.reason, row.message) == (
        body["checkin_id"],
        False,
        code,
        body["message"],
    )
    assert row.site_id == "BKPPD-1"  # the nearest site, which the message names


def test_checkin_fingerprint_only_unit_is_refused_with_403(world: World) -> None:
    token = world.bind(world.fingerprint)
    r = world.client.post("/v1/checkins", json=fix(), headers=device(token))
    assert r.status_code == 403
    assert r.json()["code"] == "fingerprint_only"
    assert "Kantor Dinkes" in r.json()["message"]
    [row] = rows(world.engine, checkin)
    assert (row.accepted, row.reason) == (False, "fingerprint_only")


def test_checkin_without_site_is_refused_with_403(world: World) -> None:
    token = world.bind(world.siteless)
    r = world.client.post("/v1/checkins", json=fix(), headers=device(token))
    assert (r.status_code, r.json()["code"]) == (403, "no_site")
    [row] = rows(world.engine, checkin)
    assert (row.accepted, row.reason, row.site_id) == (False, "no_site", None)


def test_checkin_malformed_body_gets_the_error_shape(world: World) -> None:
    token = world.bind(world.either)
    naive = fix(client_time="2026-11-30T09:00:00", lat=91)
    r = world.client.post("/v1/checkins", json=naive, headers=device(token))
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_request"
    assert "lat" in r.json()["message"]
    assert "client_time" in r.json()["message"]
    assert rows(world.engine, checkin) == []


# --- authentication -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Device-Id": PHONE},
        {"Authorization": "Bearer not-a-token", "X-Device-Id": PHONE},
        {"Authorization": "Basic dXNlcjpwdw==", "X-Device-Id": PHONE},
    ],
    ids=["nothing", "no-token", "unknown-token", "not-bearer"],
)
def test_checkin_unknown_caller_is_401_and_not_stored(
    world: World, headers: dict[str, str]
) -> None:
    world.bind(world.either)
    r = world.client.post("/v1/checkins", json=fix(), headers=headers)
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert rows(world.engine, checkin) == []


def test_checkin_without_device_id_is_401(world: World) -> None:
    token = world.bind(world.either)
    r = world.client.post("/v1/checkins", json=fix(), headers={"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.json()["code"]) == (401, "unauthorized")


def test_checkin_from_another_phone_is_401_and_stored(world: World) -> None:
    token = world.bind(world.either)
    r = world.client.post("/v1/checkins", json=fix(), headers=device(token, "ffff000011112222"))
    assert (r.status_code, r.json()["code"]) == (401, "device_mismatch")
    [row] = rows(world.engine, checkin)
    assert (row.accepted, row.reason, row.device_id) == (
        False,
        "device_mismatch",
        "ffff000011112222",
    )


def test_rebinding_revokes_the_old_token(world: World) -> None:
    old = world.bind(world.either)
    new = world.bind(world.either, "0000aaaa1111bbbb")
    assert world.client.post("/v1/checkins", json=fix(), headers=device(old)).status_code == 401
    r = world.client.post("/v1/checkins", json=fix(), headers=device(new, "0000aaaa1111bbbb"))
    assert r.status_code == 201
    active = [d for d in rows(world.engine, mobile_device) if d.revoked_at is None]
    assert [d.device_id for d in active] == ["0000aaaa1111bbbb"]


def test_inactive_person_is_401(world: World) -> None:
    token = world.bind(world.either)
    with world.engine.begin() as conn:
        registry.update_person(conn, world.either, active=False)
    r = world.client.post("/v1/checkins", json=fix(), headers=device(token))
    assert r.status_code == 401


def test_bind_by_number_returns_the_token_once_and_stores_its_hash(world: World) -> None:
    r = world.client.post(
        "/v1/devices/bind",
        json={"number": "19850101 201001 1 001", "device_id": PHONE},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["person_id"] == world.either
    assert (body["revoked_previous"], body["other_people_on_device"]) == (0, 0)
    [stored] = rows(world.engine, mobile_device)
    assert stored.token_sha256 == hash_token(body["token"])
    assert body["token"] not in {str(v) for v in stored}


def test_bind_counts_other_people_on_the_same_phone(world: World) -> None:
    world.bind(world.either)
    r = world.client.post(
        "/v1/devices/bind",
        json={"person_id": world.scheduled, "device_id": PHONE},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert r.json()["other_people_on_device"] == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"number": "199912312020121999", "device_id": PHONE}, 404, "unknown_person"),
        ({"person_id": 999999, "device_id": PHONE}, 404, "unknown_person"),
        ({"person_id": 1, "number": "198501012010011001", "device_id": PHONE}, 422, None),
        ({"person_id": 1, "device_id": "x"}, 422, "invalid_request"),
    ],
)
def test_bind_rejects(world: World, body: dict[str, Any], status: int, code: str | None) -> None:
    r = world.client.post(
        "/v1/devices/bind", json=body, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert r.status_code == status
    assert r.json()["code"] == (code or "invalid_request")


@pytest.mark.parametrize("auth", [None, "Bearer wrong", f"Basic {ADMIN}"])
def test_admin_endpoints_need_the_admin_token(world: World, auth: str | None) -> None:
    headers = {} if auth is None else {"Authorization": auth}
    bind = world.client.post(
        "/v1/devices/bind", json={"person_id": world.either, "device_id": PHONE}, headers=headers
    )
    switch = world.client.post(
        f"/v1/sites/{world.fp_site}/mobile-fallback",
        json={"open": True, "reason": "x", "operator": "y"},
        headers=headers,
    )
    assert (bind.status_code, switch.status_code) == (401, 401)
    assert rows(world.engine, mobile_device) == []


def test_admin_endpoints_closed_without_a_configured_token(db_url: str) -> None:
    engine = make_engine(db_url)
    with TestClient(create_app(engine, ApiSettings())) as client:
        r = client.post(
            "/v1/devices/bind",
            json={"person_id": 1, "device_id": PHONE},
            headers={"Authorization": "Bearer "},
        )
    engine.dispose()
    assert r.status_code == 401


# --- the operator's fallback switch ----------------------------------------------------------


def test_mobile_fallback_opens_and_closes_mobile_checkin(world: World) -> None:
    token = world.bind(world.fingerprint)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    url = f"/v1/sites/{world.fp_site}/mobile-fallback"
    assert world.client.post("/v1/checkins", json=fix(), headers=device(token)).status_code == 403

    opened = world.client.post(
        url, json={"open": True, "reason": "mesin rusak", "operator": "budi"}, headers=admin
    )
    assert opened.status_code == 200, opened.text
    assert opened.json()["open"] is True
    assert (opened.json()["opened_by"], opened.json()["reason"]) == ("budi", "mesin rusak")
    r = world.client.post("/v1/checkins", json=fix(), headers=device(token))
    assert r.status_code == 201
    assert r.json()["site"]["id"] == world.fp_site

    world.clock.at += timedelta(hours=2)
    later = fix(client_time=world.clock.at.isoformat())
    closed = world.client.post(
        url, json={"open": False, "reason": "sudah diperbaiki", "operator": "ani"}, headers=admin
    )
    assert closed.json()["open"] is False
    assert world.client.post("/v1/checkins", json=later, headers=device(token)).status_code == 403

    events = rows(world.engine, mobile_fallback_event)
    assert [(e.open, e.operator, e.reason, e.at) for e in events] == [
        (True, "budi", "mesin rusak", MONDAY_0900),
        (False, "ani", "sudah diperbaiki", MONDAY_0900 + timedelta(hours=2)),
    ]
    state = world.client.get(url, headers=admin).json()
    assert [h["operator"] for h in state["history"]] == ["ani", "budi"]


def test_mobile_fallback_unknown_site_and_blank_reason(world: World) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    body = {"open": True, "reason": "x", "operator": "y"}
    missing = world.client.post("/v1/sites/NOPE-1/mobile-fallback", json=body, headers=admin)
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_site")
    blank = world.client.post(
        f"/v1/sites/{world.fp_site}/mobile-fallback",
        json={**body, "reason": "   "},
        headers=admin,
    )
    assert blank.status_code == 422


# --- pings and intervals ------------------------------------------------------------------


def ping(world: World, token: str, at: datetime, metres: float, **over: Any) -> Any:
    world.clock.at = at
    body = fix(client_time=at.isoformat(), lat=north(metres), **over)
    del body["kind"]
    return world.client.post("/v1/pings", json=body, headers=device(token))


def test_pings_make_outside_intervals(world: World) -> None:
    token = world.bind(world.either)
    t = MONDAY_0900
    assert ping(world, token, t, 10).json()["inside"] is True
    assert ping(world, token, t + timedelta(minutes=15), 800).json()["inside"] is False
    assert ping(world, token, t + timedelta(minutes=20), 90, accuracy_m=70).json()["inside"] is None
    assert ping(world, token, t + timedelta(minutes=30), 900).status_code == 201
    assert ping(world, token, t + timedelta(minutes=45), 5).json()["inside"] is True
    assert ping(world, token, t + timedelta(hours=2), 700).json()["site_id"] == "BKPPD-1"

    r = world.client.get(
        f"/v1/people/{world.either}/outside-intervals",
        params={"date": "2026-11-30"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    got = [
        (datetime.fromisoformat(i["start"]), datetime.fromisoformat(i["end"]), i["pings"])
        for i in body["intervals"]
    ]
    assert got == [
        (t + timedelta(minutes=15), t + timedelta(minutes=45), 2),
        (t + timedelta(hours=2), t + timedelta(hours=2), 1),
    ]
    assert [i["returned"] for i in body["intervals"]] == [True, False]
    assert body["total_minutes"] == 30
    assert body["work_windows"] == [["2026-11-29T23:30:00Z", "2026-11-30T08:00:00Z"]]


def test_pings_outside_work_hours_are_not_kept(world: World) -> None:
    token = world.bind(world.either)
    evening = MONDAY_0900 + timedelta(hours=9)  # 18:00 WITA
    saturday = MONDAY_0900 + timedelta(days=5)
    for at in (evening, saturday):
        r = ping(world, token, at, 800)
        assert r.status_code == 200
        assert r.json() == {
            "stored": False,
            "in_work_hours": False,
            "inside": None,
            "site_id": None,
            "server_time": at.isoformat().replace("+00:00", "Z"),
        }
    assert rows(world.engine, location_ping) == []


def test_pings_follow_the_persons_schedule(world: World) -> None:
    token = world.bind(world.scheduled)  # Monday 08:00-12:00 only
    assert ping(world, token, MONDAY_0900, 10).status_code == 201
    assert ping(world, token, MONDAY_0900 + timedelta(hours=4), 10).status_code == 200
    assert ping(world, token, MONDAY_0900 + timedelta(days=1), 10).status_code == 200


def test_mock_ping_is_stored_but_proves_nothing(world: World) -> None:
    token = world.bind(world.either)
    r = ping(world, token, MONDAY_0900, 900, mock_location=True)
    assert r.status_code == 201
    assert r.json()["inside"] is None
    [row] = rows(world.engine, location_ping)
    assert (row.mock, row.inside) == (True, None)


def test_ping_with_a_bad_clock_or_phone_is_refused(world: World) -> None:
    token = world.bind(world.either)
    world.clock.at = MONDAY_0900
    body = fix(client_time=(MONDAY_0900 + timedelta(hours=1)).isoformat())
    del body["kind"]
    r = world.client.post("/v1/pings", json=body, headers=device(token))
    assert (r.status_code, r.json()["code"]) == (422, "clock_ahead")
    r = world.client.post("/v1/pings", json=fix(), headers=device(token, "9999888877776666"))
    assert (r.status_code, r.json()["code"]) == (401, "device_mismatch")
    assert rows(world.engine, location_ping) == []


def test_purge_coordinates_keeps_the_intervals(world: World) -> None:
    token = world.bind(world.either)
    ping(world, token, MONDAY_0900, 800)
    ping(world, token, MONDAY_0900 + timedelta(minutes=30), 0)
    ping(world, token, MONDAY_0900 + timedelta(days=1), 800)
    url = f"/v1/people/{world.either}/outside-intervals?date=2026-11-30"
    admin = {"Authorization": f"Bearer {ADMIN}"}
    before = world.client.get(url, headers=admin).json()
    with world.engine.begin() as conn:
        assert purge_coordinates(conn, MONDAY_0900 + timedelta(hours=12)) == 2
        assert purge_coordinates(conn, MONDAY_0900 + timedelta(hours=12)) == 0
    kept = [(r.lat is None, r.lon is None, r.inside) for r in rows(world.engine, location_ping)]
    assert kept == [(True, True, False), (True, True, True), (False, False, False)]
    assert world.client.get(url, headers=admin).json() == before
    assert before["total_minutes"] == 30


def test_outside_intervals_unknown_person_is_404(world: World) -> None:
    r = world.client.get(
        "/v1/people/424242/outside-intervals?date=2026-11-30",
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert (r.status_code, r.json()["code"]) == (404, "unknown_person")


# --- the rest -----------------------------------------------------------------------------


def test_health(world: World) -> None:
    r = world.client.get("/v1/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["database"] is True


def test_unknown_route_has_the_error_shape(world: World) -> None:
    r = world.client.get("/v1/nothing")
    assert r.status_code == 404
    assert r.json()["code"] == "http_404"


def test_openapi_is_published(world: World) -> None:
    doc = world.client.get("/openapi.json").json()
    assert {
        "/v1/checkins",
        "/v1/pings",
        "/v1/devices/bind",
        "/v1/health",
        "/v1/sites/{site_id}/mobile-fallback",
        "/v1/people/{person_id}/outside-intervals",
    } <= set(doc["paths"])
    assert {"deviceToken", "adminToken"} <= set(doc["components"]["securitySchemes"])

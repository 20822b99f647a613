"""Tests of the central dashboard; the fixture world both test modules share.

:func:`seed` builds three units (one empty), five people, three terminals, a month of
``daily_status`` rows, punches and check-ins around the WITA midnight, and four users.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx2
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, insert

from central import registry
from central.api import ApiSettings, create_app
from central.dashboard import DashboardSettings, Role, create_user, dashboard_router
from central.identity import EmploymentType
from central.schema.attendance import daily_status
from central.schema.checkin import checkin
from central.schema.ingest import device, punch

SECRET = b"dashboard-secret-for-tests-0123456789abcdef"
NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 10:00 WITA
TODAY = date(2026, 11, 18)
EARLIER = datetime(2026, 1, 5, tzinfo=UTC)
PASSWORD = "kata-sandi-yang-panjang"
NIPS = {
    "a1": "198501012010011001",
    "a2": "198501012010011002",
    "a3": "198501012010011003",
    "b1": "198501012010011004",
    "b2": "198501012010011005",
}


class FakeClock:
    """The server clock, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def wita(day: date, hh: int, mm: int = 0) -> datetime:
    """``day`` at ``hh:mm`` WITA, in UTC."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC) - timedelta(hours=8)


def _status(conn: Connection, pid: int, day: date, status: str, **extra: Any) -> None:
    row: dict[str, Any] = {
        "person_id": pid,
        "work_date": day,
        "ruleset_version": "test",
        "calendar_version": "test",
        "status": status,
        "scheduled": status != "OFF",
        "deduction_pct": Decimal("0"),
        "computed_at": NOW,
    }
    row.update(extra)
    conn.execute(insert(daily_status).values(**row))


def seed(engine: Engine) -> dict[str, Any]:
    """Three units (one empty), five people, three terminals, a month of status rows, users.

    Expected on 18 Nov 2026 (WITA): BKPPD 3 people, seen 2 (a1's punches, a3's punch at 00:30),
    3 PENDING; DINKES 2 people, seen 1 (b1's accepted check-in), 1 PENDING, 1 ABSEN.
    November: BKPPD H 4, TL 1, PSW 1, TK 1, ABSEN 1; DINKES H 2, TL 1, PSW 0, TK 1, ABSEN 2.
    """
    with engine.begin() as conn:
        a = registry.add_unit(conn, "BKPPD", "Badan Kepegawaian", now=EARLIER)
        b = registry.add_unit(conn, "DINKES", "Dinas Kesehatan", now=EARLIER)
        c = registry.add_unit(conn, "SATPOL", "Satpol PP <b>&</b>", now=EARLIER)
        site_a = registry.add_site(conn, unit_id=a.id, name="Kantor BKPPD", lat=-10.16, lon=123.6)
        site_b = registry.add_site(conn, unit_id=b.id, name="Kantor Dinkes", lat=-10.17, lon=123.6)
        p = {
            key: registry.add_person(
                conn,
                name=f"Pegawai {key}",
                employment_type=EmploymentType.PNS,
                unit_id=a.id if key.startswith("a") else b.id,
                number=nip,
                now=EARLIER,
            ).id
            for key, nip in NIPS.items()
        }
        devices: list[dict[str, Any]] = [
            {"id": "term-bkppd-1", "site_id": site_a.id, "online": True, "outbox_depth": 0,
             "clock_synced": True, "clock_skew_ms": 120, "sensor": "ok",
             "last_status_at": NOW - timedelta(seconds=30)},
            {"id": "term-dinkes-1", "site_id": site_b.id, "online": True, "outbox_depth": 7,
             "clock_synced": False, "clock_skew_ms": -45_000, "sensor": "ok",
             "last_status_at": NOW - timedelta(minutes=10)},
            {"id": "term-spare", "site_id": None, "online": False,
             "last_status_at": NOW - timedelta(days=2)},
        ]  # fmt: skip
        for d in devices:
            conn.execute(insert(device).values(created_at=EARLIER, **d))
        punches = [
            ("a1", wita(TODAY, 7, 55)),
            ("a1", wita(TODAY, 7, 56)),  # twice: still one person
            ("a2", wita(TODAY, 0) - timedelta(minutes=30)),  # 23:30 yesterday: not today
            ("a3", wita(TODAY, 0, 30)),  # 00:30 today
        ]
        for seq, (key, at) in enumerate(punches, 1):
            conn.execute(
                insert(punch).values(
                    device_id="term-bkppd-1",
                    seq=seq,
                    id=str(uuid.uuid4()),
                    person=NIPS[key],
                    slot=seq,
                    score=90,
                    at=at,
                    clock_synced=True,
                    boot_id="b",
                    mono_ns=seq,
                    received_at=at,
                )
            )
        for key, accepted in (("b1", True), ("b2", False)):
            conn.execute(
                insert(checkin).values(
                    id=str(uuid.uuid4()),
                    person_id=p[key],
                    device_id="phone",
                    kind="in",
                    client_time=wita(TODAY, 7, 40),
                    server_time=wita(TODAY, 7, 40),
                    accuracy_m=10.0,
                    mock_location=False,
                    accepted=accepted,
                    reason=None if accepted else "outside_geofence",
                )
            )
        d16, d17 = date(2026, 11, 16), date(2026, 11, 17)
        _status(conn, p["a1"], d16, "HADIR", unit_id=a.id, tl="TL1", late_minutes=12)
        _status(conn, p["a2"], d16, "HADIR", unit_id=a.id, psw="PSW2", early_minutes=40)
        _status(conn, p["a3"], d16, "TK", unit_id=a.id)
        _status(conn, p["b1"], d16, "HADIR", unit_id=b.id)
        _status(conn, p["b2"], d16, "ABSEN", unit_id=b.id, code="CT")
        _status(conn, p["a1"], d17, "HADIR", unit_id=a.id)
        _status(conn, p["a2"], d17, "HADIR", unit_id=a.id)
        _status(conn, p["a3"], d17, "ABSEN", unit_id=a.id, code="S")
        _status(conn, p["b1"], d17, "TK", unit_id=b.id)
        _status(conn, p["b2"], d17, "HADIR", unit_id=None, tl="TL2")  # the person's unit
        for key in ("a1", "a2", "a3", "b1"):
            _status(conn, p[key], TODAY, "PENDING", unit_id=a.id if key[0] == "a" else b.id)
        _status(conn, p["b2"], TODAY, "ABSEN", unit_id=b.id, code="CT")
        _status(conn, p["a1"], date(2026, 10, 30), "TK", unit_id=a.id)  # another month
        users = {
            "admin": create_user(conn, "admin", PASSWORD, Role.ADMIN),
            "op_a": create_user(conn, "op_a", PASSWORD, Role.UNIT_OPERATOR, a.id),
            "op_b": create_user(conn, "op_b", PASSWORD, "unit_operator", b.id),
            "viewer": create_user(conn, "viewer", PASSWORD, Role.VIEWER),
        }
    return {"units": {"BKPPD": a.id, "DINKES": b.id, "SATPOL": c.id}, "users": users}


def make_app(engine: Engine, clock: FakeClock, **settings: Any) -> FastAPI:
    """The central API with the dashboard included, as the owner mounts it."""
    app = create_app(engine, ApiSettings(), now=clock)
    options: dict[str, Any] = {"secret": SECRET, "cookie_secure": False, **settings}
    app.include_router(dashboard_router(engine, DashboardSettings(**options), now=clock))
    return app


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found[1]


def login(client: TestClient, username: str, password: str = PASSWORD) -> httpx2.Response:
    form = client.get("/dashboard/login")
    assert form.status_code == 200
    return client.post(
        "/dashboard/login",
        data={"csrf": csrf_of(form.text), "username": username, "password": password},
        follow_redirects=False,
    )

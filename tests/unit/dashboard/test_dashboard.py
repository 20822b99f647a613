"""The dashboard over HTTP (TestClient) on a migrated database, SQLite and PostgreSQL alike."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from central.dashboard import Role, UserError, create_user, set_active, set_password
from central.dashboard.auth import Signer, hash_password, load_user, verify_password
from central.dashboard.chart import month_chart, nice_ceiling
from central.dashboard.queries import DayCounts
from central.db import make_engine
from central.schema.attendance import app_user
from tests.unit.dashboard import (
    NOW,
    PASSWORD,
    SECRET,
    FakeClock,
    csrf_of,
    login,
    make_app,
    seed,
)


@dataclass
class World:
    client: TestClient
    engine: Engine
    clock: FakeClock
    units: dict[str, int]
    users: dict[str, int]


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    engine = make_engine(db_url)
    clock = FakeClock(NOW)
    ids = seed(engine)
    with TestClient(make_app(engine, clock)) as client:
        yield World(client, engine, clock, ids["units"], ids["users"])
    engine.dispose()


def cell(html: str, unit: str, col: str, table: str = "today") -> int:
    """The number in column ``col`` of ``unit``'s row in the section ``table``."""
    section = html[html.index(f'id="{table}"') :]
    row = section[section.index(f'data-unit="{unit}"') :]
    found = re.search(rf'data-col="{col}">(?:<strong>)?(\d+)', row)
    assert found, (unit, col)
    return int(found[1])


def test_login_required(world: World) -> None:
    r = world.client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/dashboard/login"
    assert "BKPPD" not in r.text
    page = world.client.get("/dashboard/login")
    assert "Nama pengguna (username)" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_login_and_cookie_flags(world: World) -> None:
    r = login(world.client, "admin")
    assert r.status_code == 303
    assert r.headers["location"] == "/dashboard"
    session = next(c for c in r.headers.get_list("set-cookie") if c.startswith("hadir_session="))
    assert "HttpOnly" in session
    assert "SameSite=lax" in session
    assert "Path=/dashboard" in session
    assert "Max-Age=28800" in session
    assert world.client.get("/dashboard").status_code == 200
    # Logged in already: the login page sends you on.
    again = world.client.get("/dashboard/login", follow_redirects=False)
    assert again.status_code == 303


def test_secure_cookie_by_default(world: World) -> None:
    with TestClient(make_app(world.engine, world.clock, cookie_secure=True)) as client:
        page = client.get("/dashboard/login")
        assert "Secure" in page.headers["set-cookie"]


@pytest.mark.parametrize(
    ("username", "password"),
    [("admin", "wrong-password!"), ("nobody", PASSWORD), ("ad\x00min", PASSWORD), ("", "")],
)
def test_wrong_password_refused(world: World, username: str, password: str) -> None:
    r = login(world.client, username, password)
    assert r.status_code == 401
    assert "Wrong username or password" in r.text
    assert "hadir_session=" not in r.headers.get("set-cookie", "")
    assert world.client.get("/dashboard", follow_redirects=False).status_code == 303


def test_inactive_user_refused_and_logged_out(world: World) -> None:
    assert login(world.client, "op_a").status_code == 303
    with world.engine.begin() as conn:
        set_active(conn, "op_a", False)
    assert world.client.get("/dashboard", follow_redirects=False).status_code == 303
    assert login(world.client, "op_a").status_code == 401


def test_password_change_ends_sessions(world: World) -> None:
    assert login(world.client, "admin").status_code == 303
    with world.engine.begin() as conn:
        set_password(conn, "admin", "another-long-password")
    assert world.client.get("/dashboard", follow_redirects=False).status_code == 303
    assert login(world.client, "admin", "another-long-password").status_code == 303


def test_login_csrf(world: World) -> None:
    client = world.client
    form = client.get("/dashboard/login")
    token = csrf_of(form.text)
    body = {"username": "admin", "password": PASSWORD}
    # No token; a forged token; a token without its cookie (a cross-site form).
    assert client.post("/dashboard/login", data=body, follow_redirects=False).status_code == 403
    forged = {**body, "csrf": token[:-2] + ("AA" if not token.endswith("AA") else "BB")}
    assert client.post("/dashboard/login", data=forged, follow_redirects=False).status_code == 403
    with TestClient(make_app(world.engine, world.clock)) as stranger:
        r = stranger.post("/dashboard/login", data={**body, "csrf": token}, follow_redirects=False)
        assert r.status_code == 403
        assert "hadir_session=" not in r.headers.get("set-cookie", "")
    # JSON instead of a form is refused too.
    assert client.post("/dashboard/login", json={**body, "csrf": token}).status_code == 400
    ok = client.post("/dashboard/login", data={**body, "csrf": token}, follow_redirects=False)
    assert ok.status_code == 303


def test_logout_needs_csrf(world: World) -> None:
    assert login(world.client, "viewer").status_code == 303
    page = world.client.get("/dashboard")
    refused = world.client.post("/dashboard/logout", data={"csrf": "nope"})
    assert refused.status_code == 403
    assert world.client.get("/dashboard").status_code == 200
    r = world.client.post(
        "/dashboard/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303
    assert world.client.get("/dashboard", follow_redirects=False).status_code == 303


def _tamper(cookie: str, **change: Any) -> str:
    payload, mac = cookie.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(change)
    raw = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{raw}.{mac}"


def test_cookie_tampering_refused(world: World) -> None:
    client = world.client
    assert login(client, "op_a").status_code == 303
    cookie = client.cookies["hadir_session"]
    variants = [
        _tamper(cookie, u=world.users["admin"]),  # someone else's id, old signature
        _tamper(cookie, e=2**40),  # a later expiry
        cookie[:-3] + ("xyz" if not cookie.endswith("xyz") else "abc"),  # signature changed
        cookie.split(".")[0],  # no signature
        "garbage",
    ]
    for value in variants:
        client.cookies.clear()
        client.cookies.set("hadir_session", value, path="/dashboard")
        r = client.get("/dashboard", follow_redirects=False)
        assert r.status_code == 303, value
    # Signed with another secret: refused too.
    with world.engine.connect() as conn:
        user = load_user(conn, b"another-secret-" * 3, world.users["admin"])
    assert user is not None
    forged, _ = Signer(b"another-secret-" * 3).issue(user, NOW + timedelta(hours=1))
    client.cookies.clear()
    client.cookies.set("hadir_session", forged, path="/dashboard")
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_session_expires(world: World) -> None:
    assert login(world.client, "admin").status_code == 303
    world.clock.at = NOW + timedelta(hours=7, minutes=59)
    assert world.client.get("/dashboard").status_code == 200
    world.clock.at = NOW + timedelta(hours=8)
    assert world.client.get("/dashboard", follow_redirects=False).status_code == 303


def test_admin_sees_every_unit(world: World) -> None:
    assert login(world.client, "admin").status_code == 303
    html = world.client.get("/dashboard").text
    assert 'id="unit"' in html  # the dropdown
    for code in ("BKPPD", "DINKES", "SATPOL"):
        assert f'data-unit="{code}"' in html
    assert "Satpol PP &lt;b&gt;&amp;&lt;/b&gt;" in html  # escaped
    assert "Rabu, 18 November 2026" in html
    expect = {
        "BKPPD": {"people": 3, "seen": 2, "hadir": 0, "pending": 3, "absen": 0},
        "DINKES": {"people": 2, "seen": 1, "hadir": 0, "pending": 1, "absen": 1},
        "SATPOL": {"people": 0, "seen": 0, "pending": 0},
        "*": {"people": 5, "seen": 3, "pending": 4, "absen": 1},
    }
    for unit, cols in expect.items():
        for col, n in cols.items():
            assert cell(html, unit, col) == n, (unit, col)
    month = {
        "BKPPD": {"h": 4, "tl": 1, "psw": 1, "tk": 1, "absen": 1},
        "DINKES": {"h": 2, "tl": 1, "psw": 0, "tk": 1, "absen": 2},
        "*": {"h": 6, "tl": 2, "psw": 1, "tk": 2, "absen": 3},
    }
    for unit, cols in month.items():
        for col, n in cols.items():
            assert cell(html, unit, col, "month-units") == n, (unit, col)
    # Terminals: the unassigned one too, with its state.
    terms = html[html.index('id="terminals"') :]
    states = {"term-bkppd-1": "online", "term-dinkes-1": "no heartbeat", "term-spare": "offline"}
    for dev, state in states.items():
        row = terms[terms.index(f'data-device="{dev}"') :]
        assert state in row[: row.index("</tr>")], dev
    assert "-45.0 s" in terms
    assert "Tidak sinkron (not synced)" in terms


def test_unit_filter(world: World) -> None:
    assert login(world.client, "admin").status_code == 303
    dinkes = world.units["DINKES"]
    html = world.client.get("/dashboard", params={"unit": dinkes, "month": "2026-11"}).text
    assert 'data-unit="DINKES"' in html
    assert 'data-unit="BKPPD"' not in html
    assert "term-bkppd-1" not in html
    assert "term-spare" not in html
    assert f'<option value="{dinkes}" selected>' in html
    assert cell(html, "DINKES", "h", "month-units") == 2
    october = world.client.get("/dashboard", params={"month": "2026-10"}).text
    assert cell(october, "BKPPD", "tk", "month-units") == 1
    assert "Oktober 2026" in october
    for bad in ({"unit": "x"}, {"unit": "\u00b2"}, {"month": "2026-13"}, {"month": "nope"}):
        assert world.client.get("/dashboard", params=bad).status_code == 400
    assert world.client.get("/dashboard", params={"unit": 99999}).status_code == 404


def test_unit_operator_sees_only_their_unit(world: World) -> None:
    assert login(world.client, "op_a").status_code == 303
    html = world.client.get("/dashboard").text
    assert 'id="unit"' not in html  # no dropdown: the unit is fixed
    assert 'id="unit-fixed"' in html
    assert 'data-unit="BKPPD"' in html
    assert "DINKES" not in html
    assert "Dinas Kesehatan" not in html
    assert "term-dinkes-1" not in html
    assert "term-spare" not in html
    assert cell(html, "BKPPD", "seen") == 2
    assert cell(html, "BKPPD", "h", "month-units") == 4
    # Asking for another unit by URL is refused, and shows none of its numbers.
    other = world.client.get("/dashboard", params={"unit": world.units["DINKES"]})
    assert other.status_code == 403
    assert "You may not view this unit" in other.text
    assert "DINKES" not in other.text
    own = world.client.get("/dashboard", params={"unit": world.units["BKPPD"]})
    assert own.status_code == 200


def test_operator_without_unit_sees_nothing(world: World) -> None:
    # create_user refuses this; a row written some other way must not widen the scope.
    with world.engine.begin() as conn:
        conn.execute(
            insert(app_user).values(
                username="orphan",
                password_hash=hash_password(PASSWORD),
                role="unit_operator",
                unit_id=None,
                active=True,
                created_at=NOW,
            )
        )
    assert login(world.client, "orphan").status_code == 303
    html = world.client.get("/dashboard").text
    assert 'id="unit-fixed"' in html
    for hidden in ("BKPPD", "DINKES", "SATPOL", "term-"):
        assert hidden not in html


def test_viewer_reads_everything_and_a_unit_bound_viewer_one_unit(world: World) -> None:
    assert login(world.client, "viewer").status_code == 303
    html = world.client.get("/dashboard").text
    assert "Pemantau (viewer, read-only)" in html
    assert 'data-unit="DINKES"' in html
    with world.engine.begin() as conn:
        create_user(conn, "viewer_b", PASSWORD, Role.VIEWER, world.units["DINKES"])
    world.client.cookies.clear()
    assert login(world.client, "viewer_b").status_code == 303
    html = world.client.get("/dashboard").text
    assert "BKPPD" not in html
    assert world.client.get("/dashboard", params={"unit": world.units["BKPPD"]}).status_code == 403


def test_logs_hold_no_password_or_cookie(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    login(world.client, "admin", "wrong-password!")
    assert login(world.client, "admin").status_code == 303
    cookie = world.client.cookies["hadir_session"]
    world.client.get("/dashboard", params={"unit": 99999})
    text = caplog.text
    assert "dashboard login username=admin" in text
    for secret in (PASSWORD, "wrong-password!", cookie, cookie.split(".")[1]):
        assert secret not in text


def test_stylesheet_and_api_untouched(world: World) -> None:
    css = world.client.get("/dashboard/static/style.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    schema = world.client.get("/openapi.json").json()
    assert not [p for p in schema["paths"] if p.startswith("/dashboard")]
    assert world.client.get("/v1/health").json()["status"] == "ok"


def test_create_user_rules(world: World) -> None:
    with world.engine.begin() as conn:
        for args in (
            ("x", PASSWORD, Role.ADMIN, None),  # username too short
            ("newuser", "short", Role.ADMIN, None),  # password too short
            ("newuser", PASSWORD, "root", None),  # no such role
            ("newuser", PASSWORD, Role.UNIT_OPERATOR, None),  # an operator needs a unit
            ("newuser", PASSWORD, Role.ADMIN, world.units["BKPPD"]),  # an admin has none
            ("newuser", PASSWORD, Role.VIEWER, 99999),  # no such unit
            ("Admin", PASSWORD, Role.ADMIN, None),  # taken (case-insensitive)
        ):
            with pytest.raises(UserError):
                create_user(conn, *args)


def test_password_hash() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second  # random salt
    assert first.startswith("scrypt$32768$8$1$")
    assert verify_password(PASSWORD, first)
    assert not verify_password(PASSWORD + "x", first)
    for broken in ("", "scrypt$1$8$1$AA$AA", "md5$x", "scrypt$x$8$1$AA$AA", f"{first}$extra"):
        assert not verify_password(PASSWORD, broken)


def test_signer() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Signer(b"short")
    signer = Signer(SECRET)
    assert signer.check_csrf("n" * 20, signer.csrf_token("n" * 20))
    assert not signer.check_csrf("n" * 20, signer.csrf_token("m" * 20))
    assert not signer.check_csrf(None, signer.csrf_token("n" * 20))


def test_chart() -> None:
    days = [DayCounts(day=date(2026, 2, d), h=d % 7, tk=1, tl=2) for d in range(1, 29)]
    svg = month_chart(days)
    root = ElementTree.fromstring(svg)  # noqa: S314 - our own SVG; parsing proves it well-formed
    titles = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert "3 Feb: Hadir (present) 3" in titles
    assert sum("TL (late)" in t for t in titles) == 28
    assert root.get("aria-label") == "Rekap harian (daily recap) Feb 2026"
    empty = ElementTree.fromstring(month_chart([DayCounts(day=date(2026, 2, 1))]))  # noqa: S314
    assert empty.find("{http://www.w3.org/2000/svg}rect") is not None  # the legend
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 10, 11, 40, 260)] == [
        1,
        1,
        5,
        10,
        10,
        20,
        50,
        500,
    ]

"""The check-in fast path and the group commit answer exactly as the route did, on both backends.

The fast path (``central/api/fastpath.py``) answers a valid check-in from a phone the binding
cache holds; everything else falls through to FastAPI. The writer (``central/api/groupcommit.py``)
stores the check-ins waiting at once in one transaction. Each test sends the same requests the
slow way (cache emptied: FastAPI's route) and the fast way and compares what comes back and what
is stored.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from central.api import checkins as checkins_module
from central.api import fastpath, groupcommit
from central.schema.checkin import checkin, mobile_device
from tests.unit.central.test_api import (
    LON,
    MONDAY_0900,
    World,
    device,
    fix,
    north,
)


class Counted:
    """Counts the bodies the fast path parsed itself (it answers every one it parses)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.n = 0
        real = fastpath.CheckinRequest

        class Spy(real):  # type: ignore[misc,valid-type]
            @classmethod
            def model_validate_json(cls, *a: Any, **kw: Any) -> Any:
                self.n += 1
                return real.model_validate_json(*a, **kw)

        monkeypatch.setattr(fastpath, "CheckinRequest", Spy)


def cold(world: World) -> None:
    """Empty the binding cache: the next check-in goes through FastAPI's route."""
    state = world.client.app.state.hadir  # type: ignore[attr-defined]
    state.bindings._entries.clear()


def comparable(r: httpx.Response) -> tuple[int, dict[str, Any], str | None]:
    body = r.json()
    for key in ("id", "checkin_id"):
        body.pop(key, None)
    return r.status_code, body, r.headers.get("www-authenticate")


CASES: dict[str, dict[str, Any]] = {
    "accepted": fix(),
    "out": fix(kind="out"),
    "outside the geofence": fix(lat=north(3000)),
    "poor accuracy": fix(accuracy_m=500.0),
    "mock location": fix(mock_location=True),
    "clock ahead": fix(client_time=(MONDAY_0900 + timedelta(hours=2)).isoformat()),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_fast_path_answers_and_stores_as_the_route(
    world: World, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = world.bind(world.either)
    spy = Counted(monkeypatch)
    answers = []
    for path in ("route", "fast"):
        if path == "route":
            cold(world)
        r = world.client.post("/v1/checkins", json=CASES[case], headers=device(token))
        answers.append(comparable(r))
    assert spy.n == 1  # the second request, and only it, was answered by the fast path
    assert answers[0] == answers[1]
    with world.engine.connect() as conn:
        stored = conn.execute(select(checkin).order_by(checkin.c.server_time)).all()
    assert len(stored) == 2
    first, second = ({k: v for k, v in r._mapping.items() if k != "id"} for r in stored)
    assert first == second


def test_a_retry_is_answered_from_the_stored_row_either_way(world: World) -> None:
    token = world.bind(world.either)
    body = fix(client_ref=str(uuid.uuid4()))
    cold(world)
    first = world.client.post("/v1/checkins", json=body, headers=device(token))
    again = world.client.post("/v1/checkins", json=body, headers=device(token))  # fast path
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()


def test_the_other_phone_is_refused_the_same_way(world: World) -> None:
    token = world.bind(world.either)
    answers = []
    for path in ("route", "fast"):
        if path == "route":
            cold(world)
        r = world.client.post("/v1/checkins", json=fix(), headers=device(token, "ffff0000ffff"))
        answers.append(comparable(r))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401 and answers[0][1]["code"] == "device_mismatch"


BAD: dict[str, tuple[bytes, str]] = {
    "not JSON": (b"{not json", "application/json"),
    "latitude out of range": (
        b'{"lat": 95, "lon": 123.6, "accuracy_m": 5, "client_time": "2026-11-30T01:00:00+00:00"}',
        "application/json",
    ),
    "no client time": (b'{"lat": -10.16, "lon": 123.6, "accuracy_m": 5}', "application/json"),
    "naive client time": (
        b'{"lat": -10.16, "lon": 123.6, "accuracy_m": 5, "client_time": "2026-11-30T09:00:00"}',
        "application/json",
    ),
    "form body": (b"lat=1&lon=2", "application/x-www-form-urlencoded"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_body_gets_fastapis_own_answer(
    world: World, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = world.bind(world.either)
    raw, content_type = BAD[case]
    headers = device(token) | {"Content-Type": content_type}
    spy = Counted(monkeypatch)
    answers = []
    for path in ("route", "fast"):
        if path == "route":
            cold(world)
        r = world.client.post("/v1/checkins", content=raw, headers=headers)
        answers.append((r.status_code, r.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 422 and answers[0][1]["code"] == "invalid_request"
    assert spy.n <= 1  # parsed and refused by the fast path at most: then handed on
    with world.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(checkin)).scalar_one() == 0


def test_a_revoked_phone_is_refused_although_the_cache_holds_it(world: World) -> None:
    token = world.bind(world.either)
    assert world.client.post("/v1/checkins", json=fix(), headers=device(token)).status_code == 201
    with world.engine.begin() as conn:  # revoked behind this process's back (the CLI, say)
        conn.execute(update(mobile_device).values(revoked_at=MONDAY_0900))
    r = world.client.post("/v1/checkins", json=fix(), headers=device(token))
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"
    with world.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(checkin)).scalar_one() == 1


def test_a_large_body_is_handed_on_whole(world: World) -> None:
    token = world.bind(world.either)
    body = fix() | {"padding": "x" * (fastpath.MAX_BODY + 10)}  # extra fields are ignored
    r = world.client.post("/v1/checkins", json=body, headers=device(token))
    assert r.status_code == 201, r.text


# --- group commit ----------------------------------------------------------------------------


def _group_world(world: World, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The writer's groups are recorded; its first group is held back so that others wait."""
    sizes: list[int] = []
    real = groupcommit.store_checkins

    def recorded(st: Any, group: Any) -> Any:
        sizes.append(len(group))
        if len(sizes) == 1:
            time.sleep(0.3)
        return real(st, group)

    monkeypatch.setattr(groupcommit, "store_checkins", recorded)
    return sizes


async def _post_all(app: Any, requests: list[tuple[dict[str, Any], dict[str, str]]]) -> list[Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:

        async def post(body: dict[str, Any], headers: dict[str, str], delay: float) -> Any:
            await asyncio.sleep(delay)
            return await client.post("/v1/checkins", json=body, headers=headers)

        return await asyncio.gather(
            *(post(b, h, 0 if i == 0 else 0.05) for i, (b, h) in enumerate(requests))
        )


def test_check_ins_waiting_together_share_one_commit_and_keep_their_answers(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = [world.either, world.scheduled, world.fingerprint, world.siteless]
    tokens = {p: world.bind(p, f"{p:04d}aaaa{p:04d}") for p in people}
    phones = {p: f"{p:04d}aaaa{p:04d}" for p in people}
    ref = str(uuid.uuid4())
    sizes = _group_world(world, monkeypatch)
    requests = [
        (fix(), device(tokens[world.either], phones[world.either])),  # first, held back
        (fix(client_ref=ref), device(tokens[world.scheduled], phones[world.scheduled])),
        (fix(client_ref=ref), device(tokens[world.scheduled], phones[world.scheduled])),
        (fix(lat=north(3000)), device(tokens[world.either], phones[world.either])),
        (fix(), device(tokens[world.fingerprint], phones[world.fingerprint])),  # channel
        (fix(), device(tokens[world.siteless], phones[world.siteless])),  # no site
        (fix(), device(tokens[world.either], "0000bbbb0000")),  # not the bound phone
    ]
    app = world.client.app
    answers = asyncio.run(_post_all(app, requests))
    assert sizes[0] == 1 and max(sizes) > 1, sizes  # the rest waited and went together
    codes = [a.status_code for a in answers]
    assert codes[0] == 201 and codes[3] == 422 and codes[6] == 401
    assert sorted(codes[1:3]) == [200, 201]  # the same client_ref: stored once, then replayed
    assert answers[1].json()["id"] == answers[2].json()["id"]
    assert answers[3].json()["code"] == "outside_geofence"
    assert answers[6].json()["code"] == "device_mismatch"
    # Each answer is what the route alone gives for the same request (compared below on a
    # fresh request each, one at a time).
    alone = [
        world.client.post("/v1/checkins", json=body | {"client_ref": None}, headers=headers)
        for body, headers in requests[3:]
    ]
    for grouped, single in zip(answers[3:], alone, strict=True):
        assert comparable(grouped) == comparable(single)
    with world.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(checkin)).scalar_one()
    assert stored == 1 + 1 + 4 + 4  # the replay stores nothing


def test_a_key_clash_in_a_group_redoes_it_one_by_one(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_a, token_b = world.bind(world.either, "1111aaaa1111"), world.bind(world.scheduled)
    ref = str(uuid.uuid4())
    first = world.client.post(
        "/v1/checkins", json=fix(client_ref=ref), headers=device(token_a, "1111aaaa1111")
    )
    assert first.status_code == 201
    # The stored row is missed once, as when a parallel retry commits between the look-up and
    # the insert: the insert then clashes on (person, client_ref) and rolls the group back.
    real_stored = checkins_module._stored
    missed: list[str] = []

    def miss_once(conn: Any, person_id: int, client_ref: str) -> Any:
        if client_ref == ref and not missed:
            missed.append(client_ref)
            return None
        return real_stored(conn, person_id, client_ref)

    monkeypatch.setattr(checkins_module, "_stored", miss_once)
    sizes = _group_world(world, monkeypatch)
    requests = [
        (fix(), device(token_b)),  # held back
        (fix(client_ref=ref), device(token_a, "1111aaaa1111")),
        (fix(lon=LON), device(token_b)),
    ]
    answers = asyncio.run(_post_all(world.client.app, requests))
    assert missed == [ref] and max(sizes) == 2, sizes
    assert [a.status_code for a in answers] == [201, 200, 201]
    assert answers[1].json() == first.json()
    with world.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(checkin)).scalar_one()
    assert stored == 3  # first, and the two others once each


def test_the_writer_thread_ends_when_idle(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    state = world.client.app.state.hadir  # type: ignore[attr-defined]
    state.writer.idle_s = 0.05
    token = world.bind(world.either)
    assert world.client.post("/v1/checkins", json=fix(), headers=device(token)).status_code == 201
    deadline = time.monotonic() + 5
    while state.writer._running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not state.writer._running
    assert world.client.post("/v1/checkins", json=fix(), headers=device(token)).status_code == 201


def test_a_failed_group_answers_every_request_with_a_server_error(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = world.bind(world.either)

    def broken(_st: Any, _group: Any) -> Any:
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(groupcommit, "store_checkins", broken)
    client = TestClient(world.client.app, raise_server_exceptions=False)
    r = client.post("/v1/checkins", json=fix(), headers=device(token))
    assert r.status_code == 500
    monkeypatch.undo()
    assert world.client.post("/v1/checkins", json=fix(), headers=device(token)).status_code == 201

"""``/v1/recap``: the operator token, every format, finalisation and drift over HTTP."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from openpyxl import load_workbook
from pypdf import PdfReader
from schemathesis.checks import not_a_server_error
from sqlalchemy import update

from central.api import ApiSettings, create_app
from central.db import make_engine
from central.schema.attendance import daily_status
from tests.unit.recap import MONTH, NOW, World, d, open_world

ADMIN = "admin-token-for-recap-tests"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    yield from open_world(db_url)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    app = create_app(world.engine, ApiSettings(admin_token=ADMIN), now=lambda: NOW)
    with TestClient(app) as c:
        yield c


def test_needs_the_operator_token(client: TestClient) -> None:
    r = client.get(f"/v1/recap/{MONTH}", params={"unit": "BKPPD"})
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    r = client.get(f"/v1/recap/{MONTH}", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401


def test_json_csv_xlsx_pdf(client: TestClient) -> None:
    r = client.get(f"/v1/recap/{MONTH}", params={"unit": "bkppd"}, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["month"], body["unit_code"], body["finalized"]) == (MONTH, "BKPPD", False)
    assert r.headers["X-Recap-Checksum"] == body["checksum"]
    andi = body["rows"][0]
    assert (andi["hk"], andi["h"], andi["tl"], andi["pct_hadir"]) == (20, 13, [2, 1, 1, 1], "65.00")
    assert andi["cuti_detail"] == {"CS": 1, "CT": 1}

    r = client.get(f"/v1/recap/{MONTH}", params={"unit": "BKPPD", "format": "csv"}, headers=AUTH)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="rekap-2026-11-BKPPD.csv"' in r.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    assert lines[0][0] == "No" and lines[1][2] == "Andi Saputra, S.Kom."

    params = {"unit": "BKPPD", "format": "xlsx", "kepala": "Drs. Kepala", "operator": "Ani"}
    r = client.get(f"/v1/recap/{MONTH}", params=params, headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.open")
    ws = load_workbook(io.BytesIO(r.content))["LB.1"]
    values = {c.value for row in ws.iter_rows() for c in row}
    assert {"Drs. Kepala", "Ani", "Jumlah"} <= values

    r = client.get(f"/v1/recap/{MONTH}", params={"unit": "BKPPD", "format": "pdf"}, headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(r.content)).pages[0].extract_text()
    assert "REKAPITULASI ABSENSI BULANAN (LB.1)" in text

    every = client.get(f"/v1/recap/{MONTH}", headers=AUTH).json()
    assert every["unit_id"] is None and len(every["rows"]) == 6


def test_refusals(client: TestClient) -> None:
    r = client.get(f"/v1/recap/{MONTH}", params={"unit": "NOPE"}, headers=AUTH)
    assert r.status_code == 404 and r.json()["code"] == "unknown_unit"
    for bad in ("2026-13", "2026-1", "abcd-ef", "0000-01"):
        r = client.get(f"/v1/recap/{bad}", headers=AUTH)
        assert r.status_code == 422 and r.json()["code"] == "invalid_request"
    r = client.get(f"/v1/recap/{MONTH}", params={"format": "docx"}, headers=AUTH)
    assert r.status_code == 422
    r = client.get(f"/v1/recap/{MONTH}/people/999", headers=AUTH)
    assert r.status_code == 404 and r.json()["code"] == "unknown_person"


def test_person_lb2(client: TestClient, world: World) -> None:
    r = client.get(f"/v1/recap/{MONTH}/people/{world.eko}", headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    assert [row["unit_code"] for row in body["rows"]] == ["BKPPD", "DINKES"]
    assert len(body["days"]) == 30
    assert body["days"][1]["check_in"] == "2026-11-01T23:20:00+00:00"
    assert body["days"][1]["deduction"] == "0.00"
    r = client.get(f"/v1/recap/{MONTH}/people/{world.eko}", params={"format": "pdf"}, headers=AUTH)
    assert r.status_code == 200 and r.content.startswith(b"%PDF-")


def test_finalize_then_drift_is_reported(client: TestClient, world: World) -> None:
    draft = client.get(f"/v1/recap/{MONTH}", params={"unit": "BKPPD"}, headers=AUTH).json()
    r = client.post(
        f"/v1/recap/{MONTH}/finalize",
        json={"unit": "BKPPD", "by": "Ani", "checksum": draft["checksum"]},
        headers=AUTH,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["checksum"], r.json()["rows"], r.json()["finalized_by"]) == (
        draft["checksum"],
        4,
        "Ani",
    )
    r = client.post(f"/v1/recap/{MONTH}/finalize", json={"unit": "BKPPD", "by": "X"}, headers=AUTH)
    assert r.status_code == 409 and "sudah final" in r.json()["message"]
    with world.engine.begin() as conn:
        conn.execute(
            update(daily_status)
            .where(daily_status.c.person_id == world.andi, daily_status.c.work_date == d(27))
            .values(status="TK")
        )
    r = client.get(f"/v1/recap/{MONTH}", params={"unit": "BKPPD"}, headers=AUTH)
    body = r.json()
    assert body["finalized"] is True and body["checksum"] == draft["checksum"]
    assert "finalised month differs (checksum" in body["drift"]
    assert body["rows"][0]["tk"] == 1  # the signed snapshot
    r = client.get(f"/v1/recap/{MONTH}", params={"unit": "BKPPD", "format": "csv"}, headers=AUTH)
    assert "finalised month differs" in r.headers["X-Recap-Drift"]
    r = client.post(
        f"/v1/recap/{MONTH}/finalize",
        json={"unit": "DINKES", "by": "Ani", "checksum": "0" * 64},
        headers=AUTH,
    )
    assert r.status_code == 409 and "reviewed draft" in r.json()["message"]


def _app(engine: Any) -> FastAPI:
    app = create_app(engine, ApiSettings(admin_token=ADMIN), now=lambda: NOW)
    return app


schema = schemathesis.openapi.from_asgi("/openapi.json", _app(make_engine("sqlite://"))).include(
    path_regex="^/v1/recap"
)


@pytest.fixture
def fuzz_app(world: World) -> FastAPI:
    return _app(world.engine)


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_recap_api_never_answers_5xx(fuzz_app: FastAPI, case: schemathesis.Case) -> None:
    case.call_and_validate(app=fuzz_app, headers=AUTH, checks=[not_a_server_error])

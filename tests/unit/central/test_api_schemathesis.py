"""Property-based run of the published OpenAPI document against the app in-process: no 5xx.

Schemathesis generates requests from ``/openapi.json`` for every operation (50 examples each,
derandomized so a failure reproduces) and sends them to the ASGI app with valid device and
operator tokens, so the generated bodies reach the policy and the database rather than stopping
at authentication; the auth failures themselves are covered in ``test_api.py``.

The document is fetched at import time from an app on an unused in-memory engine (the document
does not depend on the data), and each operation is then run against a fresh app on the
``db_url`` fixture, SQLite and PostgreSQL. ``schemathesis.pytest.from_fixture`` would say this in
one line, but schemathesis 4.32 reads a pytest-internal attribute that pytest 9 no longer has.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from central import registry
from central.api import ApiSettings, create_app
from central.api.auth import hash_token
from central.db import make_engine
from central.identity import EmploymentType
from central.schema.checkin import mobile_device

ADMIN = "admin-token-for-schemathesis"
TOKEN = "device-token-for-schemathesis"
PHONE = "a1b2c3d4e5f60718"
MONDAY_0900 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
OPERATOR_PATHS = ("/v1/devices/", "/v1/sites/", "/v1/people/", "/v1/recap/")


@pytest.fixture
def app(db_url: str) -> Iterator[FastAPI]:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        unit = registry.add_unit(conn, "BKPPD", "Badan Kepegawaian")
        fp = registry.add_unit(conn, "DINKES", "Dinkes", channel=registry.Channel.FINGERPRINT)
        registry.add_site(conn, unit_id=unit.id, name="Kantor", lat=-10.1633, lon=123.6075)
        registry.add_site(conn, unit_id=fp.id, name="Dinkes", lat=-10.17, lon=123.6)
        who = registry.add_person(
            conn,
            name="Pegawai",
            employment_type=EmploymentType.PNS,
            unit_id=unit.id,
            number="198501012010011001",
        )
        # Bound directly, so the token is known to the test.
        conn.execute(
            mobile_device.insert().values(
                person_id=who.id,
                device_id=PHONE,
                token_sha256=hash_token(TOKEN),
                created_at=MONDAY_0900,
            )
        )
    yield create_app(engine, ApiSettings(admin_token=ADMIN), now=lambda: MONDAY_0900)
    engine.dispose()


schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(make_engine("sqlite://"), ApiSettings())
)


@schema.parametrize()
@settings(
    max_examples=50,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_answers_5xx(app: FastAPI, case: schemathesis.Case) -> None:
    if case.path.startswith(OPERATOR_PATHS):
        headers = {"Authorization": f"Bearer {ADMIN}"}
    else:
        headers = {"Authorization": f"Bearer {TOKEN}", "X-Device-Id": PHONE}
    case.call_and_validate(app=app, headers=headers, checks=[not_a_server_error])

"""Database URLs for tests: a fresh SQLite file, and a fresh PostgreSQL database when one is there.

PostgreSQL comes from ``HADIR_TEST_POSTGRES_URL`` (CI sets it: ``.ci/run``), else a local server
on 127.0.0.1:5432 is tried. Without one the PostgreSQL cases skip with the reason, except when
``HADIR_REQUIRE_POSTGRES=1`` (CI), where a missing server fails the run instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str | None:
    url = os.environ.get("HADIR_TEST_POSTGRES_URL", DEFAULT_PG)
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        if os.environ.get("HADIR_REQUIRE_POSTGRES") == "1":
            raise RuntimeError(f"PostgreSQL required but not reachable at {url}: {exc}") from exc
        return None
    return url


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new, empty database on the server; dropped afterwards."""
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip("PostgreSQL not reachable (set HADIR_TEST_POSTGRES_URL)")
    name = f"hadir_t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh database URL of ``kind`` ("sqlite" or "postgres")."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'central.db'}"
    else:
        with fresh_postgres() as url:
            yield url

"""A throwaway central database for one benchmark run: migrated to head, removed afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@contextlib.contextmanager
def fresh_db(kind: str, folder: Path, pg_admin: str | None) -> Iterator[str]:
    """Yield the URL of a new database of ``kind`` ("sqlite" or "postgres").

    SQLite: a file in ``folder`` (with its WAL and journal files, deleted after). PostgreSQL: a
    database created through ``pg_admin`` and dropped after, even if the run failed.
    """
    from central.db import upgrade

    name = f"hadir_bench_{uuid.uuid4().hex[:10]}"
    if kind == "sqlite":
        path = folder / f"{name}.db"
        url = f"sqlite:///{path}"
        try:
            upgrade(url)
            yield url
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    if pg_admin is None:
        raise ValueError("fresh_db: a PostgreSQL database needs the admin URL (--pg)")
    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(pg_admin).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

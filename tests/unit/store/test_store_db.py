"""The database file: durable pragmas, migrations by user_version, and the layering rule."""

from __future__ import annotations

import ast
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection

import edge.store
from edge.store import SchemaTooNew, Store, StoreError
from edge.store.db import Database
from edge.store.schema import MIGRATIONS, SCHEMA_VERSION, metadata
from tests.unit.store.store_samples import punch_fields

STORE_DIR = Path(edge.store.__file__).parent


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    opened = Database(db_path)
    try:
        yield opened
    finally:
        opened.close()


def _raw(db_path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_db_connections_are_wal_full_sync_with_foreign_keys(db: Database) -> None:
    with db.reading() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 5000,
    }


def test_db_wal_mode_is_recorded_in_the_file(db_path: Path, db: Database) -> None:
    db.close()
    assert _raw(db_path, "PRAGMA journal_mode") == [("wal",)]


def test_db_fresh_file_is_at_current_schema_version(db_path: Path, db: Database) -> None:
    assert db.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
    db.close()
    assert _raw(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


def test_db_migrations_build_the_tables_the_queries_use(db_path: Path, db: Database) -> None:
    db.close()
    for table in metadata.sorted_tables:
        on_disk = [row[1] for row in _raw(db_path, f"PRAGMA table_info({table.name})")]
        assert on_disk == [column.name for column in table.columns], table.name


def test_db_reopen_runs_no_migration_again(db_path: Path) -> None:
    calls: list[int] = []

    def counting(conn: Connection) -> None:
        calls.append(1)
        MIGRATIONS[0](conn)

    Database(db_path, migrations=[counting]).close()
    Database(db_path, migrations=[counting]).close()
    assert calls == [1]


def test_db_new_migration_upgrades_old_file_and_keeps_data(db_path: Path) -> None:
    with Store(db_path) as old:
        kept = old.outbox.append(**punch_fields(0))

    def add_note(conn: Connection) -> None:
        conn.exec_driver_sql("ALTER TABLE punch ADD COLUMN note TEXT")

    Database(db_path, migrations=[*MIGRATIONS, add_note]).close()
    assert _raw(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION + 1,)]
    columns = [row[1] for row in _raw(db_path, "PRAGMA table_info(punch)")]
    assert columns[-1] == "note"
    assert _raw(db_path, "SELECT seq, id FROM punch") == [(kept.seq, kept.id)]


def test_db_failed_migration_leaves_the_old_version(db_path: Path) -> None:
    Store(db_path).close()

    def half_done(conn: Connection) -> None:
        conn.exec_driver_sql("CREATE TABLE half (x INTEGER)")
        conn.exec_driver_sql("THIS IS NOT SQL")

    with pytest.raises(StoreError, match="syntax error"):
        Database(db_path, migrations=[*MIGRATIONS, half_done])
    assert _raw(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert _raw(db_path, "SELECT name FROM sqlite_master WHERE name = 'half'") == []


def test_db_newer_schema_is_refused(db_path: Path) -> None:
    Store(db_path).close()
    _raw(db_path, f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with pytest.raises(SchemaTooNew, match=f"schema version {SCHEMA_VERSION + 5}"):
        Store(db_path)
    with pytest.raises(SchemaTooNew):
        Store(db_path, read_only=True)


def test_db_read_only_open_refuses_to_migrate(db_path: Path) -> None:
    Store(db_path).close()
    with pytest.raises(StoreError, match="read-only open cannot"):
        Database(db_path, read_only=True, migrations=[*MIGRATIONS, MIGRATIONS[0]])


def _imported_modules(source: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_store_imports_only_itself_stdlib_and_sqlalchemy() -> None:
    allowed_roots = set(sys.stdlib_module_names) | {"__future__", "sqlalchemy"}
    sources = sorted(STORE_DIR.glob("*.py"))
    assert sources
    for source in sources:
        for module in _imported_modules(source):
            ok = module == "edge.store" or module.startswith("edge.store.")
            ok = ok or module.split(".")[0] in allowed_roots
            assert ok, f"{source.name} imports {module}"

"""The SQLite file under the store: opening it durably, transactions, migrations, error mapping.

Every connection runs in WAL mode with ``synchronous=FULL`` (a commit is fsynced before it
returns, so a punch the person was told "OK" for survives a power cut), ``foreign_keys=ON`` and a
busy timeout. Writes take the lock up front (``BEGIN IMMEDIATE``): a deferred transaction that
reads and then writes can fail with "database is locked" without waiting, where an immediate one
waits its turn for up to the busy timeout.

The schema version lives in ``PRAGMA user_version`` and the steps to reach it in
:data:`edge.store.schema.MIGRATIONS`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from edge.store.errors import SchemaTooNew, StoreBusy, StoreError, StoreUnavailable
from edge.store.schema import MIGRATIONS, Migration

log = logging.getLogger(__name__)

DEFAULT_BUSY_TIMEOUT_S = 5.0

# SQLite primary result codes (https://sqlite.org/rescode.html) that mean the file cannot be
# written or trusted: the caller cannot fix these by retrying now.
_UNAVAILABLE_CODES = {
    8: "read-only database (SQLITE_READONLY)",
    10: "disk I/O error (SQLITE_IOERR)",
    11: "database file is corrupt (SQLITE_CORRUPT)",
    13: "database or disk is full (SQLITE_FULL)",
    14: "unable to open the database file (SQLITE_CANTOPEN)",
    26: "file is not a database (SQLITE_NOTADB)",
}
_BUSY_CODES = {5: "database is locked (SQLITE_BUSY)", 6: "table is locked (SQLITE_LOCKED)"}
# The same conditions by message, for errors that carry no code (raised by hand at a test seam,
# or by an older sqlite3 module).
_UNAVAILABLE_WORDS = (
    "disk i/o error",
    "database or disk is full",
    "readonly database",
    "read-only file system",
    "unable to open database file",
    "malformed",
    "file is not a database",
)
_BUSY_WORDS = ("database is locked", "database table is locked")


def _require_wal(path: Path, journal: str) -> None:
    """Refuse a file system that cannot do WAL (some network mounts): durability depends on it."""
    if journal != "wal":
        raise StoreUnavailable(path, f"cannot switch the journal to WAL (it stays {journal!r})")


def _discard(conn: Connection) -> None:
    """Throw away a connection whose transaction failed part-way.

    After a failed COMMIT, SQLAlchemy may consider the transaction over while SQLite still holds
    it open (and its lock); handing that connection out again would fail every later write with
    "cannot start a transaction within a transaction". Closing the SQLite connection rolls back
    whatever it held, and the pool opens a fresh one on demand.
    """
    conn.invalidate()


class Database:
    """One SQLite file, opened durably and migrated to the current schema.

    Thread-safe: each :meth:`reading` or :meth:`writing` block checks a connection out of a
    small pool, so the punch loop and the publisher can use one ``Database`` from two threads.

    Args:
        path: The database file. Created (with the schema) when missing, unless ``read_only``.
        read_only: Open with SQLite's ``mode=ro``: every write raises :class:`StoreUnavailable`.
            For inspecting a copy (backups, diagnostics) without any chance of changing it.
        busy_timeout_s: How long a write waits for another connection's lock.
        migrations: The ordered schema steps; tests pass longer lists to exercise upgrades.

    Raises:
        StoreUnavailable: The file cannot be created, opened or switched to WAL.
        SchemaTooNew: The file was written by a newer Hadir.
        StoreError: A read-only open of a file whose schema is older than this code's.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._busy_timeout_s = busy_timeout_s
        self._migrations = tuple(migrations)
        self._closed = False
        # A creator, not a URL: the path goes in a file: URI (so mode=ro works) and every
        # connection is made durable before the pool ever hands it out.
        self._engine: Engine = create_engine(
            "sqlite+pysqlite://", creator=self._connect, poolclass=QueuePool
        )
        try:
            self._migrate()
        except BaseException:
            self._engine.dispose()
            raise

    @property
    def known_version(self) -> int:
        """The schema version this code migrates to."""
        return len(self._migrations)

    def schema_version(self) -> int:
        """Return the file's ``PRAGMA user_version``."""
        with self.reading() as conn:
            return int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """Yield a connection inside a read transaction (one consistent snapshot).

        Raises:
            StoreUnavailable: The file cannot be read.
            StoreBusy: The lock was not granted within the busy timeout.
            StoreError: The store is closed, or any other database failure.
        """
        self._check_open()
        try:
            with self._engine.connect() as conn:
                try:
                    conn.exec_driver_sql("BEGIN")
                    yield conn
                    conn.rollback()
                except BaseException:
                    _discard(conn)
                    raise
        except (DBAPIError, sqlite3.Error) as exc:
            raise self._translate(exc) from exc

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """Yield a connection inside a write transaction, committed durably when the block ends.

        The commit has reached the disk (``synchronous=FULL``) when the block exits without an
        exception. Any exception rolls everything in the block back.

        Raises:
            StoreUnavailable: Disk full, read-only file system, I/O error.
            StoreBusy: The write lock was not granted within the busy timeout.
            StoreError: The store is closed, or any other database failure.
        """
        self._check_open()
        try:
            with self._engine.connect() as conn:
                try:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                    yield conn
                    conn.commit()
                except BaseException:
                    _discard(conn)
                    raise
        except (DBAPIError, sqlite3.Error) as exc:
            raise self._translate(exc) from exc

    def close(self) -> None:
        """Close every pooled connection. The last one out checkpoints the WAL into the file."""
        if not self._closed:
            self._closed = True
            self._engine.dispose()
            log.info("store closed path=%s", self.path)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"store {self.path} is closed")

    def _connect(self) -> sqlite3.Connection:
        mode = "ro" if self.read_only else "rwc"
        uri = f"file:{quote(str(self.path.absolute()))}?mode={mode}"
        conn = sqlite3.connect(
            uri,
            uri=True,
            timeout=self._busy_timeout_s,
            # None: the sqlite3 module issues no BEGIN of its own; Database does, explicitly.
            isolation_level=None,
            # The pool may hand a connection to another thread, never to two at once.
            check_same_thread=False,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
            journal = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            # A read-only open cannot change the journal; it reads whatever the file has.
            if not self.read_only:
                _require_wal(self.path, journal)
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self) -> None:
        known = self.known_version
        if self.read_only:
            found = self.schema_version()
            if found > known:
                raise SchemaTooNew(self.path, found, known)
            if found < known:
                raise StoreError(
                    f"store {self.path} has schema version {found} and needs migrating to "
                    f"{known}, which a read-only open cannot do"
                )
            return
        # One immediate transaction: a second process opening the file at the same moment waits,
        # then finds the work done; a crash mid-way leaves the old version intact.
        with self.writing() as conn:
            found = int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())
            if found > known:
                raise SchemaTooNew(self.path, found, known)
            for version in range(found, known):
                self._migrations[version](conn)
                log.info("store migrated path=%s to_version=%d", self.path, version + 1)
            if found != known:
                # PRAGMA takes no bound parameters; known is an int from len(), not input.
                conn.exec_driver_sql(f"PRAGMA user_version = {known}")

    def _translate(self, exc: DBAPIError | sqlite3.Error) -> StoreError:
        """Map a driver error to the store's tree, naming the file and the condition."""
        orig = exc.orig if isinstance(exc, DBAPIError) else exc
        message = str(orig)
        code = getattr(orig, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        lowered = message.lower()
        if primary in _UNAVAILABLE_CODES:
            return StoreUnavailable(self.path, f"{_UNAVAILABLE_CODES[primary]}: {message}")
        if primary in _BUSY_CODES:
            return StoreBusy(self.path, f"{_BUSY_CODES[primary]}: {message}")
        if any(word in lowered for word in _UNAVAILABLE_WORDS):
            return StoreUnavailable(self.path, message)
        if any(word in lowered for word in _BUSY_WORDS):
            return StoreBusy(self.path, message)
        return StoreError(f"store {self.path}: database error: {message}")

"""What the writer, the readers and the CLI need to know about a database beyond the seam.

The query code speaks to a :class:`~gateway.store.seam.Database`; the code that owns
connections (``writer``, ``Store``, ``offline``) needs a little more: how to open one, how
a write or read transaction begins, which driver errors mean "this job's fault" and which
mean "the database is gone", and what to do at close. :class:`SqliteBackend` and
:class:`PostgresBackend` answer those; :func:`backend_for` picks one from the settings.
"""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from gateway.store import postgres
from gateway.store.schema import (
    SCHEMA_VERSION,
    migrate,
    migrate_postgres,
    postgres_version,
    sqlite_version,
)
from gateway.store.sqlite import checkpoint_truncate, connect

__all__ = ["Backend", "PostgresBackend", "SqliteBackend", "backend_for"]


class Backend:
    """The SQLite file backend (the default); :class:`PostgresBackend` overrides."""

    name = "sqlite"
    #: Any error the driver raises.
    error: tuple[type[BaseException], ...] = (sqlite3.Error,)
    #: Errors that are the job's own fault: its savepoint is rolled back, the batch goes on.
    job_error: tuple[type[BaseException], ...] = (sqlite3.IntegrityError,)
    #: Errors a job may raise that spoil the whole transaction.
    fatal_error: tuple[type[BaseException], ...] = (sqlite3.DatabaseError,)
    #: Errors meaning a read could not reach the database (answered 503).
    unavailable_error: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)
    #: Whether the deliverers' claims run in short transactions of their own, beside the
    #: writers (:meth:`gateway.store.Store.claim`), rather than in the writer's.
    claims_apart = False

    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous

    def describe(self) -> str:
        """Where the data lives, for logs and the CLI (never a password)."""
        return str(self.path)

    def open_writer(self) -> Any:
        """The writer's connection, the schema migrated; returns it after logging nothing."""
        conn = connect(self.path, synchronous=self.synchronous)
        # Every job runs in a savepoint, and SQLite keeps a savepoint's undo pages in
        # a statement journal that spills to a temporary file: one file created,
        # written and unlinked per batch (strace: ~8 syscalls and ~100 pwrites per
        # commit). In memory it costs a memcpy: v2 CPU per event -9% (0.852 -> 0.772
        # ms, bench/RESULTS-2026-11-29.md). Only this connection: it is bounded by one
        # batch, while readers' sorts may be large and are better on disk.
        conn.execute("PRAGMA temp_store = MEMORY")
        return conn

    def migrate(self, conn: Any) -> int:
        """Bring the schema up to date; return the version it was at."""
        return migrate(conn)

    def durability_warning(self, conn: Any) -> str | None:
        """Why an acknowledged write could be lost on ``conn``, or ``None`` (SQLite: its
        ``[storage] synchronous`` is the gateway's own setting)."""
        return None

    def version(self) -> int:
        """The database's schema version now (0: empty or not there yet); changes nothing."""
        if not self.path.exists():
            return 0
        conn = connect(self.path, readonly=True)
        try:
            return sqlite_version(conn)
        finally:
            conn.close()

    def migrate_now(self) -> int:
        """Open, migrate and close (``alert-gateway db migrate``); the version it was at."""
        conn = self.open_writer()
        try:
            return self.migrate(conn)
        finally:
            conn.close()

    def reconnect_writer(self, conn: Any) -> Any:
        """The writer's connection for the next batch (a new one if ``conn`` broke)."""
        return conn

    def open_reader(self) -> Any:
        """A connection for read snapshots."""
        return connect(self.path, readonly=True)

    def begin_write(self, conn: Any) -> None:
        """Begin a transaction that holds the write lock until it ends."""
        conn.execute("BEGIN IMMEDIATE")

    def begin_claim(self, conn: Any) -> None:
        """Begin a claim's transaction (only where :attr:`claims_apart`)."""
        raise NotImplementedError("SQLite claims in the writer's transaction")

    def begin_read(self, conn: Any) -> None:
        """Begin a read-only snapshot."""
        conn.execute("BEGIN")

    def total_changes(self, conn: Any) -> int:
        """A number that moves when a commit changed rows (SQLite's ``total_changes``)."""
        return int(conn.total_changes)

    def reusable(self, conn: Any) -> bool:
        """Whether a reader connection can go back to the pool after an error."""
        return True

    def close_writer(self, conn: Any) -> str | None:
        """Close the writer's connection; SQLite checkpoints its WAL first."""
        try:
            return checkpoint_truncate(conn)
        finally:
            conn.close()


class PostgresBackend(Backend):
    """A PostgreSQL database at a libpq URL (see :mod:`gateway.store.postgres`)."""

    name = "postgresql"
    error = (psycopg.Error,)
    # A DataError or ProgrammingError (a value the column refuses) is, like a broken
    # constraint, about the statement the job sent: PostgreSQL aborts the transaction on
    # any error, but the job's savepoint brings it back.
    job_error = (psycopg.IntegrityError, psycopg.DataError, psycopg.ProgrammingError)
    fatal_error = (psycopg.DatabaseError,)
    unavailable_error = (psycopg.OperationalError, psycopg.InterfaceError)
    # A claim takes only row locks (SKIP LOCKED) and the lease: it need not wait for the
    # cluster-wide write lock, which it held ~25 ms per claim of 64 (docs/architecture.md).
    claims_apart = True

    def __init__(self, url: str, path: Path, *, password: str | None = None) -> None:
        super().__init__(path)
        self.url = url
        self._password = password
        self._changes = itertools.count()

    def describe(self) -> str:
        """The URL without its password."""
        return postgres.redact(self.url)

    def connect(self) -> psycopg.Connection[Any]:
        """A new autocommit connection."""
        return postgres.connect(self.url, password=self._password)

    def open_writer(self) -> Any:
        """A new connection for the writer."""
        return self.connect()

    def migrate(self, conn: Any) -> int:
        """Bring the schema up to date; return the version it was at."""
        return migrate_postgres(conn)

    def durability_warning(self, conn: Any) -> str | None:
        """``synchronous_commit = off`` on ``conn`` (see :func:`postgres.durability_warning`)."""
        return postgres.durability_warning(conn)

    def version(self) -> int:
        """The database's schema version now (0: no gateway tables yet); changes nothing."""
        with self.connect() as conn:
            return postgres_version(conn)

    def reconnect_writer(self, conn: Any) -> Any:
        """``conn``, or a new connection when it broke (the database restarted, the network
        dropped): the daemon recovers by itself once the database answers again. Raises the
        driver's error while it does not."""
        if not conn.closed and not conn.broken:
            return conn
        conn.close()
        return self.connect()

    def open_reader(self) -> Any:
        """A new connection for read snapshots."""
        return self.connect()

    def begin_write(self, conn: Any) -> None:
        """Begin a transaction holding the cluster-wide write lock."""
        postgres.begin_write(conn)

    def begin_claim(self, conn: Any) -> None:
        """Begin a claim's transaction: READ COMMITTED, without the write lock."""
        conn.execute("BEGIN")

    def begin_read(self, conn: Any) -> None:
        """One snapshot for the whole read, as SQLite's read transaction gives."""
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def total_changes(self, conn: Any) -> int:
        """Always moving: a commit PostgreSQL accepted proves the database writable."""
        return next(self._changes)

    def reusable(self, conn: Any) -> bool:
        """A broken connection is dropped; the next read opens a new one."""
        return not (conn.closed or conn.broken)

    def close_writer(self, conn: Any) -> str | None:
        """Close the connection (nothing to checkpoint)."""
        conn.close()
        return None


def backend_for(
    path: Path, *, url: str | None = None, synchronous: str = "FULL", password: str | None = None
) -> Backend:
    """The backend the ``[storage]`` settings select: PostgreSQL with a ``url``, else the
    SQLite file at ``path``."""
    if url:
        return PostgresBackend(url, path, password=password)
    return Backend(path, synchronous=synchronous)


#: The schema version this gateway writes.
LATEST = SCHEMA_VERSION
SqliteBackend = Backend

"""SQLite behind the seam: :class:`SqliteDatabase`, and opening connections the gateway's way.

The only module the query code's statements pass through on their way to ``sqlite3``.
``connect`` and ``open_sync`` (re-exported by :mod:`gateway.store`) open connections with
the gateway's pragmas; the writer thread, the readers and the CLI use them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gateway.store.files import create_private, tighten
from gateway.store.schema import migrate
from gateway.store.seam import Params, Row

__all__ = [
    "SqliteDatabase",
    "checkpoint_truncate",
    "connect",
    "incremental_vacuum",
    "open_sync",
]


class SqliteDatabase:
    """The :class:`~gateway.store.seam.Database` protocol over one ``sqlite3.Connection``.

    One is made per job or read snapshot, so it is a slotted object holding the
    connection's bound ``execute``: each method is a single frame around the C call.
    """

    __slots__ = ("_conn", "_execute")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._execute = conn.execute

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT, UPDATE or DELETE; return how many rows it changed."""
        return self._execute(sql, params).rowcount

    def execute_many(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one INSERT, UPDATE or DELETE for each parameter row."""
        self._conn.executemany(sql, rows)

    def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row a SELECT returns, or ``None``."""
        row: Row | None = self._execute(sql, params).fetchone()
        return row

    def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row a SELECT returns."""
        rows: list[Row] = self._execute(sql, params).fetchall()
        return rows

    def fetch_value(self, sql: str, params: Params = ()) -> Any:
        """The first column of a SELECT's first row (``None`` when there is no row)."""
        row = self._execute(sql, params).fetchone()
        return None if row is None else row[0]

    def skip_locked(self, alias: str) -> str:
        """Nothing: one writer at a time holds the whole file."""
        return ""

    def try_insert(self, sql: str, params: Params, *, unique: str) -> bool:
        """Run an INSERT; ``False`` when SQLite refused it only for a duplicate ``unique``.

        SQLite names the failed constraint only in the message text
        (``UNIQUE constraint failed: table.column``), so that is what is compared. A
        failed statement undoes itself alone; the transaction goes on.
        """
        try:
            self._execute(sql, params)
        except sqlite3.IntegrityError as exc:
            if str(exc) != f"UNIQUE constraint failed: {unique}":
                raise
            return False
        return True


def connect(
    path: str | Path, *, synchronous: str = "FULL", readonly: bool = False
) -> sqlite3.Connection:
    """Open a connection with the gateway's pragmas (WAL, foreign keys, busy timeout).

    A writable connection creates a missing database file private (``0600``, or ``0640``
    in a directory shared with a group: :mod:`gateway.store.files`) whatever the umask.

    Transactions are managed explicitly (``isolation_level=None``).
    """
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        # The file exists, with its mode, before SQLite opens it: SQLite would create it
        # 0644 less the umask, and the -wal/-shm files it makes copy the database's mode.
        if not create_private(Path(path)):
            tighten(Path(path))
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        # Takes effect only on a database that has no tables yet (a new file); an older
        # database keeps auto_vacuum off: its freed pages are reused, the file never shrinks.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def open_sync(path: str | Path, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """Open (creating and migrating if needed) a database for synchronous use (CLI)."""
    conn = connect(path, synchronous=synchronous)
    migrate(conn)
    return conn


def checkpoint_truncate(conn: sqlite3.Connection) -> str:
    """Checkpoint the whole WAL into the database and truncate it to 0 bytes.

    Returns ``complete``, ``busy`` (another connection's snapshot kept some frames in
    the WAL; they stay there, safe) or ``failed`` (an error, which is not raised: this
    runs at shutdown, after every job has committed, and nothing is lost by skipping it).
    """
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.Error:
        return "failed"
    return "busy" if busy else "complete"


def incremental_vacuum(conn: sqlite3.Connection, pages: int) -> int:
    """Hand up to ``pages`` free pages back to the file system; return how many went.

    Runs in the caller's transaction (a writer job). Only a database created with
    ``auto_vacuum = INCREMENTAL`` can shrink; on others this frees nothing and returns 0.
    On PostgreSQL (any other connection) too: its autovacuum reclaims the space.
    """
    if not isinstance(conn, sqlite3.Connection):
        return 0
    (mode,) = conn.execute("PRAGMA auto_vacuum").fetchone()
    if mode != 2:  # 2 = INCREMENTAL
        return 0
    (before,) = conn.execute("PRAGMA freelist_count").fetchone()
    # The pragma frees one page per step, and Python's sqlite3 steps a statement without
    # result columns once: so one page per execute (~25 µs each, measured).
    for _ in range(min(pages, before)):
        conn.execute("PRAGMA incremental_vacuum")
    (after,) = conn.execute("PRAGMA freelist_count").fetchone()
    return int(before - after)

"""The database schema as an ordered list of migrations, tracked in ``PRAGMA user_version``
(SQLite) or the ``schema_version`` table (PostgreSQL).

A migration is never edited once released: add a new one. Each runs in its
own transaction, so a failed upgrade leaves the database at the last good
version.

One list serves both backends: the scripts are SQLite's, written in the SQL both
databases understand, and :func:`gateway.store.postgres.dialect` rewrites the few
differences (``INTEGER PRIMARY KEY`` rowids, ``BLOB``, ``PRAGMA``…) for PostgreSQL.
Avoid in new migrations: ``AUTOINCREMENT``, ``COLLATE NOCASE``, ``INSERT OR``, date
functions, ``WITHOUT ROWID`` tricks that need a rowid, and SQLite-only ``ALTER TABLE``
forms (``DROP COLUMN`` / ``RENAME COLUMN`` work on both).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from gateway.store.migrations import MIGRATIONS

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "NewerSchema",
    "migrate",
    "migrate_postgres",
    "postgres_version",
    "sqlite_version",
]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to :data:`SCHEMA_VERSION`; return the version it was at.

    Refuses a database written by a newer gateway rather than guessing.
    """
    current = sqlite_version(conn)
    _refuse_newer(current)
    for version in range(current + 1, SCHEMA_VERSION + 1):
        script = MIGRATIONS[version - 1]
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return int(current)


class NewerSchema(RuntimeError):
    """The database was written by a newer gateway: refuse rather than guess."""


def _refuse_newer(current: int) -> None:
    if current > SCHEMA_VERSION:
        raise NewerSchema(
            f"database schema version {current} is newer than this gateway's {SCHEMA_VERSION}: "
            "upgrade the gateway (or restore a backup made by this version)"
        )


def sqlite_version(conn: sqlite3.Connection) -> int:
    """The schema version of a SQLite database (0: empty)."""
    (current,) = conn.execute("PRAGMA user_version").fetchone()
    return int(current)


def postgres_version(conn: Any) -> int:
    """The schema version of a PostgreSQL database (0: no gateway tables yet)."""
    exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate_postgres(conn: Any) -> int:
    """:func:`migrate` for a PostgreSQL connection (autocommit, see
    :mod:`gateway.store.postgres`); return the version it was at.

    Every missing version runs in one transaction under the write lock, so two nodes
    starting at once against an empty database migrate it once (the second waits, then
    finds the work done), and a version that fails leaves the schema as it was. The
    statements go in one pipeline: an empty schema is 89 of them, and a round trip each
    took half of a fresh gateway's start on PostgreSQL.
    """
    from gateway.store.postgres import begin_write, dialect

    before = postgres_version(conn)
    _refuse_newer(before)
    begin_write(conn)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        current = postgres_version(conn)
        _refuse_newer(current)
        if current < SCHEMA_VERSION:
            with conn.pipeline():
                for script in MIGRATIONS[current:]:
                    for statement in _statements(script):
                        translated = dialect(statement)
                        if translated is not None:
                            conn.execute(translated)
                conn.execute("DELETE FROM schema_version")
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return before


def _statements(script: str) -> list[str]:
    """Split a migration into statements (they contain no semicolons in literals)."""
    parts = []
    buffer = ""
    for line in script.splitlines():
        if line.strip().startswith("--"):
            continue
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            parts.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        parts.append(buffer.strip())
    return parts

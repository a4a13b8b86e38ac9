"""PostgreSQL behind the seam: :class:`PostgresDatabase`, connections, the schema's dialect.

The driver is psycopg 3, used through its *synchronous* API from the same threads that use
``sqlite3`` (the writer thread, the read worker threads, the CLI): nothing here runs on
Trio's event loop, so the daemon's concurrency model is the same on both backends.

Connections are opened in autocommit mode and transactions are spelled out (``BEGIN`` …
``COMMIT``), exactly as the SQLite code does with ``isolation_level=None``, so the writer
and the readers run the same statements on both. A write transaction takes one
transaction-scoped advisory lock first (:data:`WRITE_LOCK`): every writer (this node's
writer thread, the CLI, later other nodes) is then serialized as SQLite's ``BEGIN
IMMEDIATE`` serializes them, which is what the store's ``max() + 1`` counters and
check-then-insert dedup rely on (see :mod:`gateway.store.seam`).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format

from gateway.store.seam import Params, Row

__all__ = [
    "WRITE_LOCK",
    "PostgresDatabase",
    "connect",
    "dialect",
    "durability_warning",
    "is_postgres_url",
    "redact",
]

#: The advisory lock key every write transaction holds until it ends (an arbitrary constant
#: that names this application's lock among others on a shared server).
WRITE_LOCK = 0x616C_6572_7467_7721  # "alertgw!"

_BEGIN_WRITE = "BEGIN"
_LOCK_WRITE = f"SELECT pg_advisory_xact_lock({WRITE_LOCK})"


def is_postgres_url(url: str) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) connection URL."""
    return url.startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


class _BoolAsInt(Dumper):
    """Python booleans as 0/1 integers: the schema's flags are INTEGER columns, as on SQLite."""

    format = Format.TEXT

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


class _BoolAsIntBinary(Dumper):
    format = Format.BINARY

    def dump(self, obj: Any) -> bytes:
        return struct.pack(">q", 1 if obj else 0)


def connect(url: str, *, password: str | None = None) -> psycopg.Connection[Any]:
    """Open an autocommit connection to ``url`` (libpq URL: TLS and other parameters pass
    through; ``PG*`` environment variables fill what it leaves out)."""
    kwargs: dict[str, Any] = {"autocommit": True, "application_name": "alert-gateway"}
    if password is not None:
        kwargs["password"] = password
    conn = psycopg.connect(url, **kwargs)
    int8 = conn.adapters.types["int8"].oid
    for dumper in (_BoolAsInt, _BoolAsIntBinary):
        dumper.oid = int8
        conn.adapters.register_dumper(bool, dumper)
    return conn


def begin_write(conn: psycopg.Connection[Any]) -> None:
    """Begin a write transaction holding the cluster-wide write lock (see the module doc)."""
    conn.execute(_BEGIN_WRITE)
    conn.execute(_LOCK_WRITE)


def durability_warning(conn: psycopg.Connection[Any]) -> str | None:
    """Why an acknowledged event could be lost on this connection, or ``None``.

    The gateway answers 2xx once COMMIT returns; with ``synchronous_commit = off`` (set for
    the server, the database, the role or in the URL's options) PostgreSQL returns before
    the commit is on disk, and a crash or failover then loses acknowledged events.
    """
    row = conn.execute("SHOW synchronous_commit").fetchone()
    if row is not None and str(row[0]).lower() == "off":
        return (
            "synchronous_commit is off: PostgreSQL answers COMMIT before the commit is on "
            "disk, so a crash or failover can lose events the gateway acknowledged; set it "
            "to on (docs/operations.md, PostgreSQL settings)"
        )
    return None


class PostgresDatabase:
    """The :class:`~gateway.store.seam.Database` protocol over one psycopg connection.

    The store's SQL uses ``?`` placeholders and no ``%`` (seam rule), so translating it to
    psycopg's ``%s`` is a plain replace, cached per statement text.
    """

    __slots__ = ("_conn", "_execute")

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._execute = conn.execute

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT, UPDATE or DELETE; return how many rows it changed."""
        return self._execute(_translate(sql), params).rowcount

    def execute_many(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one INSERT, UPDATE or DELETE for each parameter row."""
        with self._conn.cursor() as cur:
            cur.executemany(_translate(sql), list(rows))

    def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row a SELECT returns, or ``None``."""
        return self._execute(_translate(sql), params).fetchone()

    def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row a SELECT returns."""
        return self._execute(_translate(sql), params).fetchall()

    def fetch_value(self, sql: str, params: Params = ()) -> Any:
        """The first column of a SELECT's first row (``None`` when there is no row)."""
        row = self._execute(_translate(sql), params).fetchone()
        return None if row is None else row[0]

    def skip_locked(self, alias: str) -> str:
        """`` FOR UPDATE OF alias SKIP LOCKED``: two nodes claiming at once take different
        rows instead of one waiting for the other's claim and then finding it taken."""
        if not re.fullmatch(r"[a-z_]+", alias):
            raise ValueError(f"not an alias: {alias!r}")
        return f" FOR UPDATE OF {alias} SKIP LOCKED"

    def try_insert(self, sql: str, params: Params, *, unique: str) -> bool:
        """Run an INSERT; ``False`` when it was refused only for a duplicate ``unique``.

        PostgreSQL aborts the whole transaction on an error, so the clash must not be one:
        the INSERT gets ``ON CONFLICT (column) DO NOTHING`` for the named column alone (a
        clause the store's shared SQL never holds; this is the backend's own spelling of
        try_insert). It then changes no row on that clash, and any other constraint still
        raises. One statement, where a savepoint around it would cost three (8 of a v2
        event's 26 statements).
        """
        return bool(self._execute(_on_conflict(sql, unique), params).rowcount)


_CONFLICT: dict[tuple[str, str], str] = {}


def _on_conflict(sql: str, unique: str) -> str:
    done = _CONFLICT.get((sql, unique))
    if done is None:
        column = unique.split(".", 1)[1]
        if not re.fullmatch(r"[a-z_]+", column):
            raise ValueError(f"not a column: {unique!r}")
        done = f"{_translate(sql)} ON CONFLICT ({column}) DO NOTHING"
        if len(_CONFLICT) < 256:
            _CONFLICT[(sql, unique)] = done
    return done


_TRANSLATED: dict[str, str] = {}


def _translate(sql: str) -> str:
    """``?`` → ``%s`` (cached: the store's statement texts are a small fixed set, with a
    few ``IN (?, ?, …)`` variants)."""
    done = _TRANSLATED.get(sql)
    if done is None:
        done = sql.replace("?", "%s")
        if len(_TRANSLATED) < 4096:
            _TRANSLATED[sql] = done
    return done


# -- the schema's dialect ------------------------------------------------------------------------
# The migrations in gateway/store/schema.py are written for SQLite in the subset both databases
# understand; these rewrites cover the rest. Each is a whole-word replacement in a CREATE or
# ALTER statement (the scripts hold no string literals with these words).
_DIALECT: tuple[tuple[re.Pattern[str], str], ...] = (
    # SQLite's rowid alias: an ever-increasing integer the INSERT leaves out.
    (
        re.compile(r"\bINTEGER PRIMARY KEY\b(?!\s*\()"),
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    ),
    # SQLite integers are 64-bit.
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    # Byte-wise comparison and ordering, as SQLite's BINARY collation (ids, ISO times and
    # names then sort the same on both, whatever the database's locale).
    (re.compile(r"\bTEXT\b"), 'TEXT COLLATE "C"'),
    (re.compile(r"\s*\bWITHOUT ROWID\b"), ""),
)


_SQLITE_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
_POSTGRES_NOW = """to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


def dialect(statement: str) -> str | None:
    """One SQLite migration statement as PostgreSQL runs it (``None``: nothing to run).

    Raises :class:`ValueError` for a construct that has no translation here, so a new
    migration that would not run on PostgreSQL fails its tests instead of a deployment.
    """
    head = statement.lstrip().upper()
    if head.startswith("PRAGMA"):
        return None
    # "Now" as gateway.clock.iso writes it (a data migration's timestamps).
    statement = statement.replace(_SQLITE_NOW, _POSTGRES_NOW)
    if re.search(r"\bNOCASE\b|\bAUTOINCREMENT\b|\bINSERT OR\b|datetime\(|strftime\(", statement):
        raise ValueError(f"no PostgreSQL translation for: {statement[:80]}")
    for pattern, replacement in _DIALECT:
        statement = pattern.sub(replacement, statement)
    return statement


# -- throwaway schemas (tests and benchmarks) -----------------------------------------------------
def with_search_path(url: str, schema: str) -> str:
    """``url`` whose connections see ``schema`` first (libpq's ``options`` parameter)."""
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{schema}"


def create_schema(url: str, schema: str) -> str:
    """Create an empty ``schema`` in the database at ``url``; return a URL that uses it.

    A schema per test keeps tests apart on one database at the cost of one statement.
    """
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise ValueError(f"not a plain schema name: {schema!r}")
    with connect(url) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return with_search_path(url, schema)


def drop_schema(url: str, schema: str) -> None:
    """Drop ``schema`` and everything in it (the end of :func:`create_schema`)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise ValueError(f"not a plain schema name: {schema!r}")
    with connect(url) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

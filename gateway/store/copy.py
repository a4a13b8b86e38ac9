"""``alert-gateway db copy``: a SQLite store into an empty PostgreSQL database, verified.

The order of the work, and why:

1. The source is opened read-only and read in one transaction (a WAL snapshot), so the copy
   is of one moment even if something still writes. It must be at this gateway's schema
   version: both sides then have the same tables and columns, and the target can be
   migrated to exactly that version.
2. The target is refused unless it is empty (no gateway table holds a row beyond what the
   migrations themselves insert): a copy never merges into, nor overwrites, live data. The
   refusal comes before anything is written there. It is then migrated.
3. One write transaction, under the write lock every gateway writer takes: the emptiness is
   checked again (two copies at once), every table is streamed over with ``COPY`` in
   dependency order (foreign keys), ``batch`` rows at a time, its rows hashed as they go;
   identity sequences are moved past the copied values; every table is read back and
   hashed the same way; the transaction commits only when every count and checksum
   matches. A mismatch or an error rolls it all back: the target is left as migrated and
   empty, and the copy can be run again.

The checksum of a table is the sum, modulo 2**256, of the SHA-256 digests of its rows (each
value normalised to the target column's type first). A sum needs no order: a table without
a primary key (``outbox_attempts``) has no order both databases would agree on, and
ordering a large table by every column would sort it on both sides.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from gateway.store import postgres
from gateway.store.schema import SCHEMA_VERSION, migrate, migrate_postgres, postgres_version
from gateway.store.sqlite import connect as sqlite_connect

__all__ = ["CopyFailed", "CopyRefused", "CopyReport", "TableCheck", "copy_to_postgres"]

BATCH = 1000
_MODULUS = 1 << 256


class CopyRefused(Exception):
    """The copy was not started (or was rolled back before anything was kept): the sentence
    says why and what to do."""


@dataclass(frozen=True)
class TableCheck:
    """One table's row counts and checksums on both sides."""

    table: str
    source_rows: int
    target_rows: int
    source_sum: str
    target_sum: str

    @property
    def ok(self) -> bool:
        """Counts and checksums agree."""
        return self.source_rows == self.target_rows and self.source_sum == self.target_sum


@dataclass
class CopyReport:
    """What a copy did: the tables in the order copied, the target's version before."""

    tables: list[TableCheck] = field(default_factory=list)
    target_version_before: int = 0
    #: Per table, text values whose NUL characters were copied as U+FFFD (--replace-nul).
    replaced: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every table matches."""
        return all(t.ok for t in self.tables)

    @property
    def rows(self) -> int:
        """Rows copied, all tables."""
        return sum(t.source_rows for t in self.tables)


class CopyFailed(Exception):
    """Verification found a difference; the transaction was rolled back."""

    def __init__(self, report: CopyReport) -> None:
        bad = ", ".join(t.table for t in report.tables if not t.ok)
        super().__init__(f"the copy does not match the source in: {bad}")
        self.report = report


@dataclass(frozen=True)
class _Plan:
    batch: int
    replace_nul: bool
    progress: Callable[[str, int], None] | None


@dataclass(frozen=True)
class _Table:
    name: str
    columns: tuple[str, ...]
    kinds: tuple[str, ...]  # the target's data_type per column
    identity: tuple[str, ...]  # identity columns on the target


def copy_to_postgres(
    source: Path,
    url: str,
    *,
    password: str | None = None,
    batch: int = BATCH,
    replace_nul: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> CopyReport:
    """Copy the SQLite store at ``source`` into the empty PostgreSQL database at ``url``.

    Raises :class:`CopyRefused` (nothing written), :class:`CopyFailed` (a mismatch, rolled
    back) or the driver's error (rolled back). ``progress(table, rows)`` after each table.
    PostgreSQL's text cannot hold a NUL character, which SQLite's can: a value with one is
    refused, naming its table, column and row, unless ``replace_nul`` copies it as U+FFFD
    (the checksums then compare the replaced value; the report counts them).
    """
    if not source.is_file():
        raise CopyRefused(f"no SQLite database at {source}")
    src = sqlite_connect(source, readonly=True)
    try:
        src.execute("BEGIN")  # one snapshot for the whole copy
        _check_source(src, source)
        try:
            dst = postgres.connect(url, password=password)
        except psycopg.Error as exc:
            raise CopyRefused(
                f"cannot connect to {postgres.redact(url)}: {_first_line(exc)}"
            ) from exc
        try:
            return _copy(src, dst, url, _Plan(batch, replace_nul, progress))
        finally:
            dst.close()
    finally:
        src.close()


def _check_source(src: sqlite3.Connection, source: Path) -> None:
    (version,) = src.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise CopyRefused(
            f"{source} is at schema version {version}, newer than this gateway's "
            f"{SCHEMA_VERSION}: copy it with the gateway version that wrote it"
        )
    if version < SCHEMA_VERSION:
        raise CopyRefused(
            f"{source} is at schema version {version}, this gateway's is {SCHEMA_VERSION}: "
            "bring it up to date first with 'alert-gateway db migrate --config <its "
            "configuration file>' (or start this version's daemon on it once)"
        )
    broken = src.execute("PRAGMA foreign_key_check").fetchmany(5)
    if broken:
        named = ", ".join(f"{row[0]} row {row[1]} -> {row[2]}" for row in broken)
        raise CopyRefused(
            f"{source} has rows that refer to missing rows ({named}): "
            "run 'alert-gateway db check' and repair it first"
        )


def _copy(
    src: sqlite3.Connection,
    dst: psycopg.Connection[Any],
    url: str,
    plan: _Plan,
) -> CopyReport:
    names = _dependency_order(src)
    seeds = _seed_keys()
    before = postgres_version(dst)
    if before > SCHEMA_VERSION:
        raise CopyRefused(
            f"{postgres.redact(url)} is at schema version {before}, newer than this "
            f"gateway's {SCHEMA_VERSION}: it is not the empty database a copy needs"
        )
    if before:
        _refuse_data(dst, url, [n for n in names if _exists(dst, n)], seeds)
    migrate_postgres(dst)
    tables = [_describe(src, dst, name) for name in names]
    report = CopyReport(target_version_before=before)
    postgres.begin_write(dst)
    try:
        _refuse_data(dst, url, names, seeds)  # again, under the lock: two copies at once
        for table in reversed(tables):  # children first: only the migrations' seed rows
            dst.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table.name)))
        sums = {}
        for table in tables:
            sums[table.name] = _copy_table(src, dst, table, plan, report)
            if plan.progress is not None:
                plan.progress(table.name, sums[table.name][0])
        for table in tables:
            _advance_identity(dst, table)
        for table in tables:
            rows, digest = _target_sum(dst, table, plan.batch)
            report.tables.append(
                TableCheck(table.name, sums[table.name][0], rows, sums[table.name][1], digest)
            )
        if not report.ok:
            raise CopyFailed(report)
    except BaseException:
        if not (dst.closed or dst.broken):
            dst.execute("ROLLBACK")
        raise
    dst.execute("COMMIT")
    return report


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- the tables --------------------------------------------------------------------------------
def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _dependency_order(src: sqlite3.Connection) -> list[str]:
    """The source's tables, each after every table its foreign keys refer to."""
    names = sorted(
        row[0]
        for row in src.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    )
    parents = {
        name: {
            row[2]
            for row in src.execute(f"PRAGMA foreign_key_list({_quote(name)})")
            if row[2] != name
        }
        for name in names
    }
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] <= set(ordered)]
        if not ready:
            raise CopyRefused(
                f"the source's foreign keys form a cycle: {sorted(set(names) - set(ordered))}"
            )
        ordered += ready
    return ordered


def _seed_keys() -> dict[str, set[tuple[Any, ...]]]:
    """The primary keys of the rows the migrations themselves insert (the Default
    escalation policy): an otherwise empty database holding them counts as empty."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(conn)
        seeds: dict[str, set[tuple[Any, ...]]] = {}
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        ).fetchall():
            key = _primary_key(conn, name)
            if key:
                rows = conn.execute(f"SELECT {', '.join(map(_quote, key))} FROM {_quote(name)}")
                found = {tuple(row) for row in rows}
                if found:
                    seeds[name] = found
        return seeds
    finally:
        conn.close()


def _primary_key(conn: sqlite3.Connection, name: str) -> list[str]:
    info = conn.execute(f"PRAGMA table_info({_quote(name)})").fetchall()
    return [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]]


def _exists(dst: psycopg.Connection[Any], name: str) -> bool:
    return bool(dst.execute("SELECT to_regclass(%s) IS NOT NULL", (_quote(name),)).fetchone()[0])  # type: ignore[index]


def _refuse_data(
    dst: psycopg.Connection[Any],
    url: str,
    names: Sequence[str],
    seeds: dict[str, set[tuple[Any, ...]]],
) -> None:
    """Raise :class:`CopyRefused` naming the tables that hold rows (beyond the seeds)."""
    held = []
    for name in names:
        seed = seeds.get(name, set())
        query = sql.SQL("SELECT * FROM {} LIMIT %s").format(sql.Identifier(name))
        rows = dst.execute(query, (len(seed) + 1,)).fetchall()
        if not rows:
            continue
        if seed and len(rows) <= len(seed):
            key = _target_key(dst, name)
            query = sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(map(sql.Identifier, key)), sql.Identifier(name)
            )
            if {tuple(r) for r in dst.execute(query).fetchall()} <= seed:
                continue
        held.append(name)
    if held:
        raise CopyRefused(
            f"{postgres.redact(url)} already holds data (in {', '.join(held)}): db copy only "
            "fills an empty database, it never merges or overwrites. Drop and re-create the "
            "database (or its schema), or copy to another one"
        )


def _target_key(dst: psycopg.Connection[Any], name: str) -> list[str]:
    rows = dst.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
        " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = to_regclass(%s) AND i.indisprimary ORDER BY a.attnum",
        (_quote(name),),
    ).fetchall()
    return [row[0] for row in rows]


def _describe(src: sqlite3.Connection, dst: psycopg.Connection[Any], name: str) -> _Table:
    """The table's columns as the source has them, with the target's type of each."""
    columns = tuple(row[1] for row in src.execute(f"PRAGMA table_info({_quote(name)})"))
    found = {
        row[0]: (row[1], row[2])
        for row in dst.execute(
            "SELECT column_name, data_type, is_identity FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = %s",
            (name,),
        )
    }
    if set(found) != set(columns):
        raise CopyRefused(
            f"table {name} has other columns on the target ({sorted(found)}) than on the "
            f"source ({sorted(columns)}): the two are not at the same schema"
        )
    return _Table(
        name,
        columns,
        tuple(found[c][0] for c in columns),
        tuple(c for c in columns if found[c][1] == "YES"),
    )


# -- rows, their normal form and their checksum --------------------------------------------------
def _normal(value: Any, kind: str) -> Any:
    """``value`` as the target column of type ``kind`` stores it (SQLite does not hold a
    column to its declared type, PostgreSQL does)."""
    if value is None:
        return None
    if kind == "bytea":
        return value.encode() if isinstance(value, str) else bytes(value)
    if kind == "bigint":
        return int(value)
    if kind == "double precision":
        return float(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode()
    return str(value)


def _digest(row: Sequence[Any]) -> int:
    parts = []
    for value in row:
        if value is None:
            parts.append(b"n")
        elif isinstance(value, bytes):
            parts.append(b"b%d:" % len(value) + value)
        elif isinstance(value, str):
            data = value.encode()
            parts.append(b"s%d:" % len(data) + data)
        else:  # int or float, whose repr is exact
            parts.append(b"x" + repr(value).encode())
    return int.from_bytes(hashlib.sha256(b"|".join(parts)).digest(), "big")


def _batches(cursor: Any, size: int) -> Iterator[Sequence[Any]]:
    while True:
        rows = cursor.fetchmany(size)
        if not rows:
            return
        yield from rows


def _copy_table(
    src: sqlite3.Connection,
    dst: psycopg.Connection[Any],
    table: _Table,
    plan: _Plan,
    report: CopyReport,
) -> tuple[int, str]:
    """Stream the table's rows into the target; their count and checksum."""
    texts = [i for i, kind in enumerate(table.kinds) if kind == "text"]
    select = f"SELECT {', '.join(map(_quote, table.columns))} FROM {_quote(table.name)}"
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, table.columns))
    )
    count = total = 0
    with dst.cursor() as cur, cur.copy(statement) as out:
        for raw in _batches(src.execute(select), plan.batch):
            row = [_normal(v, k) for v, k in zip(raw, table.kinds, strict=True)]
            for i in texts:
                if row[i] is not None and "\x00" in row[i]:
                    row[i] = _without_nul(table, i, row, plan, report)
            out.write_row(row)
            total = (total + _digest(row)) % _MODULUS
            count += 1
    return count, f"{total:064x}"


def _without_nul(
    table: _Table, column: int, row: list[Any], plan: _Plan, report: CopyReport
) -> str:
    """The text at ``row[column]`` with its NUL characters as U+FFFD, or CopyRefused."""
    if not plan.replace_nul:
        raise CopyRefused(
            f"{table.name}.{table.columns[column]} holds a NUL character in the row whose "
            f"{table.columns[0]} is {row[0]!r}; PostgreSQL's text cannot store one. Run again "
            "with --replace-nul to copy each as U+FFFD (nothing was kept)"
        )
    report.replaced[table.name] = report.replaced.get(table.name, 0) + 1
    return str(row[column]).replace("\x00", "\ufffd")


def _target_sum(dst: psycopg.Connection[Any], table: _Table, batch: int) -> tuple[int, str]:
    """The target table's count and checksum, read in batches through a server cursor."""
    select = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(map(sql.Identifier, table.columns)), sql.Identifier(table.name)
    )
    count = total = 0
    with dst.cursor(name=f"verify_{table.name}") as cur:
        cur.itersize = batch
        cur.execute(select)
        for row in cur:
            total = (total + _digest(row)) % _MODULUS
            count += 1
    return count, f"{total:064x}"


def _advance_identity(dst: psycopg.Connection[Any], table: _Table) -> None:
    """Move each identity column's sequence past the copied values, so the next row the
    gateway inserts (``log_entries.seq``) gets a new number rather than a copied one."""
    for column in table.identity:
        dst.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence(%s, %s),"
                " coalesce((SELECT max({}) FROM {}), 0) + 1, false)"
            ).format(sql.Identifier(column), sql.Identifier(table.name)),
            (_quote(table.name), column),
        )

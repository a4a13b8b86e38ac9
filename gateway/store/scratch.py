"""Throwaway PostgreSQL schemas for the tests' in-process gateways, used again once emptied.

:func:`gateway.testing.gateway_running` runs each gateway in a schema of its own when the
tests name a database (one schema per ``tmp_path``, so a test that restarts its gateway
finds its data again). Creating a schema and its tables costs a file per table and index,
about 0.3 s a test; so between tests the suite hands the schemas back
(:func:`release_test_schemas`) and the next test gets one emptied to what a fresh
migration leaves (:func:`reset_schema`), in milliseconds.
"""

from __future__ import annotations

import atexit
import secrets
from contextlib import closing, suppress
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

from gateway.store.postgres import connect, create_schema, drop_schema
from gateway.store.schema import migrate_postgres

__all__ = ["Snapshot", "release_test_schemas", "reset_schema", "schema_for", "schema_snapshot"]


@dataclass(frozen=True)
class Snapshot:
    """A schema's objects and rows (see :func:`schema_snapshot`)."""

    #: Every table, column (type, null, default), index, sequence, constraint, function and
    #: trigger, as sorted text.
    shape: tuple[str, ...]
    #: Every table's rows, in column order.
    rows: dict[str, list[tuple[Any, ...]]]
    #: The tables, each after those its foreign keys refer to.
    parents_first: tuple[str, ...]
    #: ``(table, column)`` of every identity column.
    identities: tuple[tuple[str, str], ...]


_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
# A test may add a trigger, a function or a column to its schema (to make a write fail,
# say): rows are not all a schema holds, and such a schema is not used again.
_SHAPE = """
    SELECT 'relation ' || relname || ' ' || relkind::text FROM pg_class
    WHERE relnamespace = current_schema()::regnamespace
    UNION ALL
    SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' '
        || is_nullable || ' ' || coalesce(column_default, '')
    FROM information_schema.columns WHERE table_schema = current_schema()
    UNION ALL
    SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
    WHERE connamespace = current_schema()::regnamespace
    UNION ALL
    SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = current_schema()::regnamespace
    UNION ALL
    SELECT 'trigger ' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal
"""
# Each foreign key as (referencing table, referenced table), names as the search path sees them.
_REFERENCES = """
    SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c
    JOIN pg_namespace n ON n.oid = c.connamespace
    WHERE c.contype = 'f' AND n.nspname = current_schema()
"""
_IDENTITIES = """
    SELECT table_name, column_name FROM information_schema.columns
    WHERE table_schema = current_schema() AND is_identity = 'YES'
"""


def _shape(conn: Any) -> tuple[str, ...]:
    return tuple(sorted(str(line) for (line,) in conn.execute(_SHAPE)))


def schema_snapshot(url: str) -> Snapshot:
    """The objects and rows of the schema ``url`` names: taken after a fresh migration,
    what :func:`reset_schema` brings a used schema back to.

    Raises :class:`graphlib.CycleError` when foreign keys of several tables form a cycle
    (rows could then not be deleted table by table).
    """
    with connect(url) as conn:
        tables = [str(name) for (name,) in conn.execute(_TABLES)]
        rows = {t: [tuple(row) for row in conn.execute(f'SELECT * FROM "{t}"')] for t in tables}
        referenced: dict[str, set[str]] = {t: set() for t in tables}
        for child, parent in conn.execute(_REFERENCES):
            if child != parent:  # a table's rows referring to each other go in one DELETE
                referenced[str(child)].add(str(parent))
        return Snapshot(
            shape=_shape(conn),
            rows=rows,
            parents_first=tuple(TopologicalSorter(referenced).static_order()),
            identities=tuple((str(t), str(c)) for t, c in conn.execute(_IDENTITIES)),
        )


def reset_schema(url: str, snapshot: Snapshot) -> bool:
    """Make a used schema hold exactly ``snapshot``'s rows again, identities restarted.

    Deleting rows creates no files, where a fresh schema's CREATE TABLEs each did (about
    10 ms apiece on the test machines). Returns ``False``, changing nothing, when the
    schema's objects are not the snapshot's (a test added a trigger or a column, or never
    finished migrating it) or its ``schema_version`` rows differ: drop that one instead.
    """
    with connect(url) as conn:
        if _shape(conn) != snapshot.shape or "schema_version" not in snapshot.rows:
            return False
        version = [tuple(row) for row in conn.execute("SELECT * FROM schema_version")]
        if version != snapshot.rows["schema_version"]:
            return False
        # The same shape: the snapshot's foreign keys and identities are this schema's.
        conn.execute("BEGIN")
        with conn.pipeline():
            for table in reversed(snapshot.parents_first):
                conn.execute(f'DELETE FROM "{table}"')
            for table in snapshot.parents_first:
                rows = snapshot.rows[table]
                if rows:
                    marks = ", ".join(["%s"] * len(rows[0]))
                    conn.cursor().executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
            for table, column in snapshot.identities:
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, %s), "
                    f'coalesce(max("{column}"), 0) + 1, false) FROM "{table}"',
                    (table, column),
                )
        conn.execute("COMMIT")
    return True


#: Each ``tmp_path``'s PostgreSQL schema in use, as (database URL, schema URL).
_SCHEMAS: dict[Path, tuple[str, str]] = {}

#: Schemas of finished tests, ready to be emptied and used again (see release_test_schemas).
_FREE: list[tuple[str, str]] = []

#: What a freshly migrated schema holds (the migrations' seed rows), taken once per process.
_FRESH: list[Snapshot] = []


def release_test_schemas() -> None:
    """Hand the PostgreSQL schemas of the tests so far back, to be emptied and used again.

    Call it between tests, when no gateway of theirs runs any more (the suite does after
    each test). A schema is emptied (rows deleted, the migrations' seed rows put back)
    rather than created anew: creating one costs a file per table and index, about 0.3 s.
    Until then a test that restarts its gateway finds its data again.
    """
    _FREE.extend(_SCHEMAS.values())
    _SCHEMAS.clear()


def schema_for(base_url: str, tmp_path: Path) -> str:
    """The PostgreSQL URL of ``tmp_path``'s schema: a released one emptied, or a new one."""
    if tmp_path not in _SCHEMAS:
        _SCHEMAS[tmp_path] = base_url, _reused_schema(base_url) or _new_schema(base_url)
    return _SCHEMAS[tmp_path][1]


def _reused_schema(base_url: str) -> str | None:
    import psycopg

    while _FREE:
        base, url = _FREE.pop()  # every one was made by _new_schema, so _FRESH is set
        if base != base_url:
            continue
        with suppress(psycopg.Error):  # one that cannot be emptied is left
            if reset_schema(url, _FRESH[0]):
                return url
    return None


def _new_schema(base_url: str) -> str:
    schema = f"gw_{secrets.token_hex(6)}"
    url = create_schema(base_url, schema)
    atexit.register(_drop_schema_quietly, base_url, schema)
    if not _FRESH:
        with closing(connect(url)) as conn:
            migrate_postgres(conn)
        _FRESH.append(schema_snapshot(url))
    return url


def _drop_schema_quietly(base_url: str, schema: str) -> None:
    # At exit the whole database may be gone already (a test run drops the database it
    # made, schemas and all): nothing is left to drop then.
    import psycopg

    with suppress(psycopg.Error):
        drop_schema(base_url, schema)

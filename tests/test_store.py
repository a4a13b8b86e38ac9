"""The store's writer: group commit, savepoint isolation, disk full, migrations.

Tests taking ``backend`` run twice: on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
import trio

from gateway.errors import StoreUnavailable
from gateway.store import SCHEMA_VERSION, Store, Tx, connect
from gateway.store.postgres import connect as pg_connect
from gateway.store.schema import migrate, migrate_postgres, postgres_version
from tests.conftest import StoreTarget


def make_service(name: str):  # type: ignore[no-untyped-def]
    def job(tx: Tx) -> str:
        return tx.insert_service(name=name).id

    return job


async def test_concurrent_writes_are_grouped_into_few_commits(backend: StoreTarget) -> None:
    store = await backend.open()
    try:
        ids: list[str] = []

        async def one(i: int) -> None:
            ids.append(await store.write(make_service(f"svc-{i}")))

        async with trio.open_nursery() as nursery:
            for i in range(200):
                nursery.start_soon(one, i)
        assert len(set(ids)) == 200
        assert store.stats.jobs >= 200
        assert store.stats.batches < 200  # at least some events shared a commit
        assert await store.read(lambda r: r.count("services")) == 200
    finally:
        await store.close()


async def test_a_failing_job_does_not_spoil_its_batch(backend: StoreTarget) -> None:
    store = await backend.open()
    try:
        outcomes: dict[int, object] = {}

        def job(i: int):  # type: ignore[no-untyped-def]
            def run(tx: Tx) -> str:
                service = tx.insert_service(name=f"svc-{i}")
                if i % 3 == 0:
                    raise ValueError("boom")  # after a write: the savepoint must undo it
                return service.id

            return run

        async def one(i: int) -> None:
            try:
                outcomes[i] = await store.write(job(i))
            except ValueError as exc:
                outcomes[i] = exc

        async with trio.open_nursery() as nursery:
            for i in range(60):
                nursery.start_soon(one, i)
        names = await store.read(lambda r: sorted(s.name for s in r.services()))
        assert names == sorted(f"svc-{i}" for i in range(60) if i % 3)
        assert all(isinstance(outcomes[i], ValueError) for i in range(0, 60, 3))
    finally:
        await store.close()


async def test_a_broken_constraint_fails_only_its_job(backend: StoreTarget) -> None:
    store = await backend.open()
    try:
        await store.write(make_service("dup"))
        with pytest.raises(backend.integrity_error):
            await store.write(make_service("dup"))
        await store.write(make_service("other"))
        assert await store.read(lambda r: r.count("services")) == 2
    finally:
        await store.close()


async def test_disk_full_is_store_unavailable_then_recovers(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    try:
        # Cap the database at its current size: SQLite then answers SQLITE_FULL,
        # exactly as on a full disk.
        await store.write(
            lambda tx: tx.conn.execute(
                "PRAGMA max_page_count = " + str(tx.conn.execute("PRAGMA page_count").fetchone()[0])
            ).fetchone()
        )
        failures = 0
        for i in range(300):
            try:
                await store.write(make_service(f"fill-{i}-" + "x" * 500))
            except StoreUnavailable:
                failures += 1
                break
        assert failures == 1
        before = await store.read(lambda r: r.count("services"))
        await store.write(lambda tx: tx.conn.execute("PRAGMA max_page_count = 1000000").fetchone())
        await store.write(make_service("after-recovery"))
        assert await store.read(lambda r: r.count("services")) == before + 1
    finally:
        await store.close()


async def test_close_flushes_queued_writes(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    async with trio.open_nursery() as nursery:
        for i in range(50):
            nursery.start_soon(store.write, make_service(f"s{i}"))
    await store.close()
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("SELECT count(*) FROM services").fetchone() == (50,)
    conn.close()


def test_migrations_are_versioned_and_idempotent(tmp_path: Path) -> None:
    conn = connect(tmp_path / "m.db")
    assert migrate(conn) == 0
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert migrate(conn) == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        migrate(conn)
    conn.close()


async def test_synchronous_level_is_applied(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db", synchronous="FULL")
    try:
        level = await store.write(lambda tx: tx.conn.execute("PRAGMA synchronous").fetchone()[0])
        assert level == 2  # FULL
    finally:
        await store.close()


async def test_close_flushes_queued_writes_on_both_backends(backend: StoreTarget) -> None:
    store = await backend.open()
    async with trio.open_nursery() as nursery:
        for i in range(50):
            nursery.start_soon(store.write, make_service(f"s{i}"))
    await store.close()
    store = await backend.open()
    try:
        assert await store.read(lambda r: r.count("services")) == 50
    finally:
        await store.close()


def test_postgres_migrations_are_versioned_and_idempotent(postgres: StoreTarget) -> None:
    conn = postgres.connect()  # migrates
    try:
        assert postgres_version(conn) == SCHEMA_VERSION
        assert migrate_postgres(conn) == SCHEMA_VERSION
        conn.execute("UPDATE schema_version SET version = version + 1")
        with pytest.raises(RuntimeError, match="newer than this gateway"):
            migrate_postgres(conn)
    finally:
        conn.close()


def test_a_failing_postgres_migration_leaves_the_schema_as_it_was(
    postgres: StoreTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every missing version runs in one transaction: a later one failing undoes the others.
    import gateway.store.schema as schema

    broken = "CREATE TABLE half_done (x BIGINT);\nSELECT no_such_function();\n"
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, broken])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    conn = pg_connect(postgres.url or "")
    try:
        with pytest.raises(psycopg.errors.UndefinedFunction):
            migrate_postgres(conn)
        assert postgres_version(conn) == 0
        assert conn.execute("SELECT to_regclass('services')").fetchone() == (None,)
        monkeypatch.undo()
        assert migrate_postgres(conn) == 0
        assert postgres_version(conn) == SCHEMA_VERSION
    finally:
        conn.close()


async def test_a_lost_postgres_connection_is_unavailable_then_recovers(
    postgres: StoreTarget,
) -> None:
    store = await postgres.open()
    try:
        await store.write(make_service("before"))
        # The server ends the writer's session, as a PostgreSQL restart or failover does.
        pid = await store.write(lambda tx: tx.conn.info.backend_pid)
        with postgres.connect() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(StoreUnavailable):
            await store.write(make_service("lost"))
        await store.write(make_service("after"))  # the next batch reconnects by itself
        names = await store.read(lambda r: sorted(s.name for s in r.services()))
        assert names == ["after", "before"]
    finally:
        await store.close()

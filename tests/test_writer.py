"""The writer under another process's lock and after an I/O error inside a job."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import trio

from gateway.errors import StoreUnavailable
from gateway.store import Store, Tx, connect
from tests.test_store import make_service


async def test_a_locked_database_is_waited_for_off_the_loop(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    other = connect(tmp_path / "s.db")
    try:
        other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
        ticks = 0
        written: list[str] = []
        waiting_at_release: list[bool] = []

        async def ticker() -> None:
            nonlocal ticks
            while not written:
                ticks += 1
                await trio.sleep(0.01)

        async def release_after_ten_ticks() -> None:
            # Released on the loop's own count, not after a wall-clock pause: a slow
            # machine only makes the test longer. Ten ticks while the write is still
            # waiting is what proves the loop was free; a write blocking the loop would
            # let none happen before SQLite's busy timeout (5 s) failed it.
            while ticks < 10:
                await trio.sleep(0.01)
            waiting_at_release.append(not written)
            await trio.to_thread.run_sync(other.execute, "COMMIT")

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ticker)
                nursery.start_soon(release_after_ten_ticks)
                written.append(await store.write(make_service("after-the-lock")))
        assert waiting_at_release == [True]  # the write was still waiting at the tenth tick
        assert await store.read(lambda r: r.count("services")) == 1
    finally:
        other.close()
        await store.close()


async def test_an_io_error_in_a_job_fails_the_whole_batch(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    try:

        def io_error(tx: Tx) -> None:
            tx.insert_service(name="written-first")
            raise sqlite3.OperationalError("disk I/O error")

        with pytest.raises(StoreUnavailable):
            await store.write(io_error)
        assert await store.read(lambda r: r.count("services")) == 0
        assert not store.stats.writable
        await store.write(make_service("recovered"))
        assert store.stats.writable
    finally:
        await store.close()


async def test_the_writer_keeps_its_statement_journal_in_memory(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    try:
        level = await store.write(lambda tx: tx.conn.execute("PRAGMA temp_store").fetchone()[0])
        assert level == 2  # MEMORY: no temporary file per batch for the savepoints
        reader_level = await store.read(lambda r: r.conn.execute("PRAGMA temp_store").fetchone()[0])
        assert reader_level == 0  # readers keep the default: big sorts may spill to disk
    finally:
        await store.close()

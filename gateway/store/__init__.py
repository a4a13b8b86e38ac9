"""The store: SQLite in WAL mode (or PostgreSQL), one writer thread, read connections.

Public surface: :class:`Store` (open, :meth:`~Store.write`, :meth:`~Store.read`,
close), :class:`Tx` and :class:`Reader` (the query methods jobs receive), ``connect``
and ``open_sync`` (connections with the gateway's pragmas).

Inside: ``queries`` composes :class:`Reader` and :class:`Tx` from one pair of mixins per
aggregate (``services``, ``maintenance``, ``incidents``, ``incident_lists``,
``timeline``, ``tokens``, ``outbox``, ``timers``; shared helpers in ``base``). Their SQL
reaches the database only through the ``seam.Database`` protocol, which
``sqlite.SqliteDatabase`` implements; ``postgres.PostgresDatabase`` is the same seam on
PostgreSQL, and ``backend`` tells the writer and readers how each database opens, begins
and fails; ``writer`` runs jobs in the writer thread, ``schema`` holds the migrations,
``offline`` gives the CLI the same methods synchronously, ``admin`` backs up and checks the
file.
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

import structlog
import trio

from gateway.clock import Clock, SystemClock
from gateway.errors import StoreUnavailable
from gateway.model import IncidentChange
from gateway.store.backend import Backend, backend_for
from gateway.store.queries import PageReader, Reader, Tx
from gateway.store.schema import SCHEMA_VERSION
from gateway.store.sqlite import connect, open_sync
from gateway.store.writer import BatchStats, Writer

__all__ = [
    "SCHEMA_VERSION",
    "BatchStats",
    "PageReader",
    "Reader",
    "Store",
    "Tx",
    "connect",
    "open_sync",
]

T = TypeVar("T")
Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]
READ_CONNECTIONS = 4

log = structlog.get_logger("gateway.store")


class Store:
    """The database as the daemon uses it: async writes through the writer, async reads."""

    def __init__(
        self, path: Path, writer: Writer, clock: Clock, backend: Backend | None = None
    ) -> None:
        #: The SQLite file, or on PostgreSQL the path the daemon's local files sit beside.
        self.path = path
        self.backend = backend or Backend(path)
        self._writer = writer
        self._clock = clock
        self._readers: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._read_limiter = trio.CapacityLimiter(READ_CONNECTIONS)
        self._closed = False
        #: Called with the incident changes of every committed job that made any (the
        #: daemon points it at the plugins' ``incident_changed`` hook). It must not raise.
        self.on_incident_changes: Callable[[list[IncidentChange]], None] | None = None

    @property
    def on_enqueued(self) -> Callable[[set[tuple[str, str]]], None] | None:
        """Called after a commit that enqueued outbound messages, with their (kind,
        destination) pairs (the deliverers' wake-up)."""
        return self._writer.on_enqueued

    @on_enqueued.setter
    def on_enqueued(self, callback: Callable[[set[tuple[str, str]]], None] | None) -> None:
        self._writer.on_enqueued = callback

    @property
    def on_timers(self) -> Callable[[str], None] | None:
        """Called after a commit that scheduled timers, with the earliest due time among
        them (the timer scheduler's re-arm)."""
        return self._writer.on_timers

    @on_timers.setter
    def on_timers(self, callback: Callable[[str], None] | None) -> None:
        self._writer.on_timers = callback

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        clock: Clock | None = None,
        url: str | None = None,
        password: str | None = None,
    ) -> Store:
        """Open the database, apply migrations and start the writer thread.

        With ``url`` (``postgresql://…``) the database is PostgreSQL and ``path`` only says
        where the daemon's local files go; otherwise it is the SQLite file at ``path``.
        """
        path = Path(path)
        clock = clock or SystemClock()
        backend = backend_for(path, url=url, synchronous=synchronous, password=password)

        def _open() -> Any:
            try:
                conn = backend.open_writer()
            except backend.unavailable_error as exc:
                # Said in one sentence by `serve`; systemd's Restart= tries again.
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise StoreUnavailable(f"cannot open {backend.describe()}: {reason}") from exc
            try:
                before = backend.migrate(conn)
            except BaseException:
                conn.close()
                raise
            if before != SCHEMA_VERSION:
                log.info("store.migrated", from_version=before, to_version=SCHEMA_VERSION)
            at_risk = backend.durability_warning(conn)
            if at_risk:
                log.warning("store.synchronous_commit_off", reason=at_risk)
            return conn

        conn = await trio.to_thread.run_sync(_open)
        writer = Writer(conn, clock, trio.lowlevel.current_trio_token(), backend)
        writer.start()
        return cls(path, writer, clock, backend)

    @property
    def stats(self) -> BatchStats:
        """Group-commit statistics (batches, jobs, failed commits, time in commit)."""
        return self._writer.stats

    async def write(self, fn: Callable[[Tx], T], *, background: bool = False) -> T:
        """Run ``fn(tx)`` in the writer's next transaction and return once it is on disk.

        When the job changed incidents, :attr:`on_incident_changes` hears of it after the
        commit and before this returns: the one place every writer (ingest, REST, UI,
        timers) reaches the ``incident_changed`` observers, so none can forget to.
        ``background``: no request waits on this job (the deliverers' records and claims);
        it is not counted in :attr:`stats`' foreground jobs, the writer's pressure.
        """
        result, changes = await self._writer.submit(fn, background=background)
        if changes and self.on_incident_changes is not None:
            self.on_incident_changes(changes)
        return result

    async def read(self, fn: Callable[[Reader], T]) -> T:
        """Run ``fn(reader)`` on a read connection in a worker thread (one snapshot)."""
        if self._closed:
            raise StoreUnavailable("the store is closed")
        return await trio.to_thread.run_sync(self._read_sync, fn, limiter=self._read_limiter)

    @contextlib.contextmanager
    def _pooled(self, doing: str) -> Iterator[Any]:
        """A read connection from the pool (or a new one), given back after unless broken;
        the backend's "database gone" errors become :class:`StoreUnavailable`."""
        backend = self.backend
        conn = None
        try:
            try:
                conn = self._readers.get_nowait()
            except queue.Empty:
                conn = backend.open_reader()
            yield conn
        except backend.unavailable_error as exc:
            raise StoreUnavailable(f"the store could not {doing}: {exc}") from exc
        finally:
            if conn is not None:
                if backend.reusable(conn):
                    self._readers.put(conn)
                else:
                    conn.close()

    def _read_sync(self, fn: Callable[[Reader], T]) -> T:
        with self._pooled("be read") as conn:
            self.backend.begin_read(conn)
            try:
                return fn(Reader(conn, self._clock))
            finally:
                conn.execute("COMMIT")

    async def claim(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn(tx)`` in a short transaction of its own on a pooled connection, beside
        the writer and without the write lock (PostgreSQL, :attr:`Backend.claims_apart`).

        For the deliverers' claims alone: they change only a claim's lease columns, under
        row locks (``SKIP LOCKED``), so ingest on every node goes on meanwhile. Nothing of
        ``fn`` reaches the producers or the observers.
        """
        if self._closed:
            raise StoreUnavailable("the store is closed")
        return await trio.to_thread.run_sync(self._claim_sync, fn, limiter=self._read_limiter)

    def _claim_sync(self, fn: Callable[[Tx], T]) -> T:
        with self._pooled("claim") as conn:
            self.backend.begin_claim(conn)
            try:
                result = fn(Tx(conn, self._clock))
            except BaseException:
                with contextlib.suppress(*self.backend.error):
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    async def close(self) -> None:
        """Flush the writer's queue, then close every connection."""
        if self._closed:
            return
        self._closed = True
        # Readers first, the writer last: the last connection to close is the one that
        # removes the WAL, and only the writer can (readers open the file read-only).
        self._close_readers()
        await self._writer.close()
        self._close_readers()  # one a late read put back meanwhile
        stats = self._writer.stats
        log.info(
            "store.closed",
            batches=stats.batches,
            jobs=stats.jobs,
            mean_batch=round(stats.jobs / stats.batches, 2) if stats.batches else 0,
            failed_commits=stats.failed_commits,
            wal_checkpoint=self._writer.checkpoint,
        )

    def _close_readers(self) -> None:
        while True:
            try:
                self._readers.get_nowait().close()
            except queue.Empty:
                break

"""The one writer: a dedicated database thread doing group commit.

Trio tasks hand jobs (``fn(tx) -> result``) to the thread through a
``queue.SimpleQueue``. The thread takes everything waiting, runs each job in
its own savepoint inside one transaction, commits once (fsync at the
configured ``synchronous`` level), and wakes all the waiting tasks with a
single ``TrioToken.run_sync_soon`` — one thread hop per batch, not per event
(a hop costs ~115 µs on our 2-core machines; see docs/architecture.md).

A job's caller is woken only after the COMMIT returned, so a 2xx sent after
``await submit(...)`` is durable. If COMMIT fails, every job in the batch
fails with :class:`StoreUnavailable` and nothing of it is on disk.

The same code drives SQLite and PostgreSQL: what differs (how a write transaction
begins, which errors are a job's own, reconnecting after a lost connection) is asked of
the :class:`~gateway.store.backend.Backend`.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import structlog
import trio

from gateway.clock import Clock
from gateway.errors import StoreUnavailable
from gateway.model import IncidentChange
from gateway.store.backend import Backend
from gateway.store.producers import run_producers
from gateway.store.queries import Tx

T = TypeVar("T")
MAX_BATCH = 512

log = structlog.get_logger("gateway.store")


@dataclass(eq=False)
class Job(Generic[T]):
    """One unit of work for the writer and, once done, its result."""

    fn: Callable[[Tx], T]
    done: trio.Event = field(default_factory=trio.Event)
    result: T | None = None
    error: BaseException | None = None
    changes: list[IncidentChange] = field(default_factory=list)
    #: (kind, destination) of the outbound messages the job enqueued (the store wakes the
    #: deliverers with them after the commit).
    enqueued: set[tuple[str, str]] = field(default_factory=set)
    #: The earliest due time of the timers the job scheduled (the store wakes the timer
    #: scheduler with it after the commit).
    timers_due: str | None = None
    #: Work nobody is waiting on to answer a request (the deliverers' records and claims):
    #: not counted as pressure on the writer (:attr:`BatchStats.foreground_jobs`).
    background: bool = False


@dataclass
class BatchStats:
    """Running totals the metrics endpoint and benchmarks read."""

    batches: int = 0
    jobs: int = 0
    failed_commits: int = 0
    last_batch_size: int = 0
    commit_seconds: float = 0.0
    observers: list[Callable[[int, float], None]] = field(default_factory=list)
    failure_observers: list[Callable[[], None]] = field(default_factory=list)
    #: False from a failed commit until a later commit that changed rows succeeds.
    writable: bool = True
    #: Committed jobs that were not ``background``, and the batches that held any: their
    #: ratio is how many callers queued for the writer at once (~1 at light load, several
    #: while ingest keeps the daemon's CPU busy); the deliverers yield to it.
    foreground_jobs: int = 0
    foreground_batches: int = 0


_STOP = object()


class Writer:
    """Owns the write connection and the thread that uses it."""

    def __init__(
        self,
        conn: Any,
        clock: Clock,
        token: trio.lowlevel.TrioToken,
        backend: Backend | None = None,
    ) -> None:
        self._conn = conn
        self._backend = backend or Backend(Path(""))
        self._clock = clock
        self._token = token
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="gateway-writer", daemon=True)
        self._closed = False
        self.stats = BatchStats()
        #: How the last checkpoint at close went: ``complete``, ``busy`` or ``failed``
        #: (``None`` while the writer runs).
        self.checkpoint: str | None = None
        #: Called (on the event loop) after a commit that enqueued outbound messages, with
        #: their (kind, destination) pairs: the deliverers' wake-up. It must not raise.
        self.on_enqueued: Callable[[set[tuple[str, str]]], None] | None = None
        #: Called (on the event loop) after a commit that scheduled timers, with the earliest
        #: due time among them: the timer scheduler's re-arm. It must not raise.
        self.on_timers: Callable[[str], None] | None = None
        #: The outbox's scratch for this connection (``Tx.outbox_memo``), kept across jobs.
        self._memo: dict[Any, Any] = {}

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    async def submit(
        self, fn: Callable[[Tx], T], *, background: bool = False
    ) -> tuple[T, list[IncidentChange]]:
        """Run ``fn`` in the next transaction; return its result once committed.

        ``background`` work (the deliverers') is left out of the foreground counts of
        :attr:`stats`.

        Once committed, a job that enqueued outbound messages calls :attr:`on_enqueued`.

        Raises what ``fn`` raised (its savepoint rolled back, the rest of the
        batch unharmed), or :class:`StoreUnavailable` if the commit failed.
        If the caller is cancelled the job may still commit: callers must not
        treat cancellation as "not written".
        """
        if self._closed:
            raise StoreUnavailable("the store is closed")
        job: Job[T] = Job(fn, background=background)
        self._queue.put(job)
        await job.done.wait()
        if job.error is not None:
            raise job.error
        if job.enqueued and self.on_enqueued is not None:
            self.on_enqueued(job.enqueued)
        if job.timers_due is not None and self.on_timers is not None:
            self.on_timers(job.timers_due)
        return job.result, job.changes  # type: ignore[return-value]

    async def close(self) -> None:
        """Finish every queued job, checkpoint the WAL, then stop the thread and close.

        The store closes its read connections before calling this: the connection closed
        last is the one SQLite lets remove the WAL, and a reader's snapshot would hold the
        checkpoint back.
        """
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        await trio.to_thread.run_sync(self._thread.join)

    # -- the thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    return
                batch: list[Job[Any]] = [first]
                stop = False
                while len(batch) < MAX_BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                        break
                    batch.append(item)
                self._run_batch(batch)
                self._wake(batch)
                if stop:
                    return
        finally:
            # After the last job: copy the WAL into the database and truncate it, so a stopped
            # daemon leaves one self-contained file (a 5.5 MB WAL was left after SIGTERM).
            self.checkpoint = self._backend.close_writer(self._conn)

    def _wake(self, batch: list[Job[Any]]) -> None:
        def wake_all() -> None:
            for job in batch:
                job.done.set()

        # If the event loop is gone, nobody is waiting any more.
        with contextlib.suppress(trio.RunFinishedError):
            self._token.run_sync_soon(wake_all)

    def _run_batch(self, batch: list[Job[Any]]) -> None:
        backend = self._backend
        started = time.perf_counter()
        try:
            # A connection lost since the last batch (PostgreSQL restarted) is replaced
            # here: the daemon recovers by itself once the database answers again.
            conn = self._conn = backend.reconnect_writer(self._conn)
            changes_before = backend.total_changes(conn)
            backend.begin_write(conn)
        except backend.error as exc:
            self._fail_all(batch, exc)
            return
        try:
            for job in batch:
                self._run_job(job)
            conn.execute("COMMIT")
        except backend.error as exc:
            try:
                conn.execute("ROLLBACK")
            except backend.error:
                log.warning("store.rollback_failed")
            self._fail_all(batch, exc)
            return
        elapsed = time.perf_counter() - started
        stats = self.stats
        if backend.total_changes(conn) != changes_before:
            stats.writable = True
        stats.batches += 1
        stats.jobs += len(batch)
        stats.last_batch_size = len(batch)
        foreground = sum(not job.background for job in batch)
        if foreground:
            stats.foreground_jobs += foreground
            stats.foreground_batches += 1
        stats.commit_seconds += elapsed
        for observe in stats.observers:
            observe(len(batch), elapsed)

    def _run_job(self, job: Job[Any]) -> None:
        conn = self._conn
        conn.execute("SAVEPOINT job")
        tx = Tx(conn, self._clock, memo=self._memo)
        try:
            job.result = job.fn(tx)
            # The transactional outbox: producers write their messages in this savepoint,
            # so a change and its messages commit (or roll back) together.
            run_producers(tx)
        except self._backend.fatal_error as exc:
            if not isinstance(exc, self._backend.job_error):
                # Disk full, I/O error, corruption, a lost connection: the whole transaction
                # is suspect (SQLite may already have rolled it back), so the batch fails
                # as one.
                raise
            # A constraint this job broke is only this job's fault.
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            job.error = exc
            return
        except Exception as exc:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            job.error = exc
            return
        conn.execute("RELEASE job")
        job.changes = tx.changes
        job.enqueued = tx.outbox_enqueued
        job.timers_due = tx.timers_earliest

    def _fail_all(self, batch: list[Job[Any]], exc: BaseException) -> None:
        self.stats.failed_commits += 1
        self.stats.writable = False
        for observe in self.stats.failure_observers:
            observe()
        log.error("store.commit_failed", error=str(exc), batch=len(batch))
        for job in batch:
            job.changes = []
            job.enqueued = set()
            job.timers_due = None
            job.result = None
            job.error = StoreUnavailable(f"the store could not commit: {exc}")

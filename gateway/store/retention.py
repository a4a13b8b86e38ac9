"""Retention: old resolved incidents, suppressed-event records and change events go.

Nothing was ever removed, and the database grew 11.3 MiB a minute under load. A pass
deletes, oldest first, what ``[storage]`` says has expired:

- incidents resolved more than ``retention_days`` ago, with their alerts and log entries
  (an open incident, and so everything it refers to, is never touched; nor is the
  highest-numbered incident, which keeps incident numbers from being reused);
- suppressed-event records (``suppress_log_entry``) older than ``retention_days``;
- change events older than ``change_event_retention_days``;
- delivered outbound messages (with their attempts) older than ``[outbound]
  retention_days`` (failed ones wait for an operator).

Each write job deletes at most :data:`BATCH_ROWS` rows and goes through the ordinary writer,
so ingest jobs interleave with a long pass instead of waiting behind it. Alerts go before
their incident (their foreign key), and an incident is deleted only once it has none left,
so a pass cut short anywhere leaves the database consistent. Afterwards freed pages are
handed back to the file system in small jobs too (``incremental_vacuum``, SQLite only,
through :func:`gateway.store.sqlite.incremental_vacuum`). The SQL itself lives in the
aggregates' modules (``incidents``, ``timeline``), behind the seam.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import structlog
import trio

from gateway.clock import Clock, SystemClock, iso
from gateway.errors import StoreUnavailable
from gateway.store import Store, open_sync
from gateway.store.queries import Reader, Tx
from gateway.store.sqlite import incremental_vacuum

__all__ = [
    "BATCH_ROWS",
    "PRUNE_INTERVAL",
    "Policy",
    "PruneReport",
    "count_expired",
    "prune_batch",
    "prune_file",
    "prune_pass",
    "prune_periodically",
]

log = structlog.get_logger("gateway.store")

#: Rows one write job deletes at most: ~10 ms of the writer's time (measured, docs/operations.md).
BATCH_ROWS = 200
#: Free pages one job hands back to the file system at most (256 KiB; ~8 ms measured).
VACUUM_PAGES = 64
#: Seconds between the daemon's passes; the first runs at start.
PRUNE_INTERVAL = 300.0
#: The tables a pass deletes from, as the metric's ``table`` label and the log's keys.
TABLES = ("incidents", "alerts", "log_entries", "change_events", "outbox_messages")


@dataclass(frozen=True)
class Policy:
    """How long rows are kept, in days; 0 keeps them forever."""

    retention_days: int
    change_event_retention_days: int
    #: Delivered outbound messages (``[outbound] retention_days``); 0 keeps them.
    outbox_retention_days: int = 0

    @property
    def enabled(self) -> bool:
        """Whether anything is ever pruned."""
        return bool(
            self.retention_days or self.change_event_retention_days or self.outbox_retention_days
        )

    def outbox_cutoff(self, now: datetime) -> str | None:
        """Delivered outbound messages finished before this are deleted."""
        days = self.outbox_retention_days
        return iso(now - timedelta(days=days)) if days else None

    def cutoffs(self, now: datetime) -> tuple[str | None, str | None]:
        """``(incidents and suppressed records, change events)``: delete what is older."""

        def before(days: int) -> str | None:
            return iso(now - timedelta(days=days)) if days else None

        return before(self.retention_days), before(self.change_event_retention_days)


@dataclass
class PruneReport:
    """What one pass (or a dry run) found or deleted, per table."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    jobs: int = 0
    most_rows_in_a_job: int = 0
    pages_freed: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        """Rows across every table."""
        return sum(self.counts.values())

    def add(self, batch: dict[str, int]) -> int:
        """Fold one job's counts in; return that job's row total."""
        rows = sum(batch.values())
        for table, count in batch.items():
            self.counts[table] += count
        self.jobs += 1
        self.most_rows_in_a_job = max(self.most_rows_in_a_job, rows)
        return rows


def prune_batch(tx: Tx, policy: Policy, limit: int = BATCH_ROWS) -> dict[str, int]:
    """Delete at most ``limit`` expired rows, oldest first; return the count per table.

    Fewer than ``limit`` means nothing expired is left (as of this job's clock).
    """
    incidents_before, changes_before = policy.cutoffs(tx.clock.now())
    counts = dict.fromkeys(TABLES, 0)
    budget = limit
    if incidents_before is not None:
        for incident_id in tx.expired_incidents(incidents_before, budget):
            # Log entries, then alerts (their foreign key), then the incident once bare.
            for table, delete in (
                ("log_entries", tx.delete_incident_log_entries),
                ("alerts", tx.delete_incident_alerts),
            ):
                gone = delete(incident_id, budget)
                counts[table] += gone
                budget -= gone
                if budget <= 0:
                    return counts
            # An incident's notifications are few (one per person and rule): no budget.
            tx.delete_incident_notifications(incident_id)
            gone = tx.delete_resolved_incident(incident_id)
            counts["incidents"] += gone
            budget -= gone
            if budget <= 0:
                return counts
        gone = tx.delete_suppressed_before(incidents_before, budget)
        counts["log_entries"] += gone
        budget -= gone
    if changes_before is not None and budget > 0:
        gone = tx.delete_change_events_before(changes_before, budget)
        counts["change_events"] += gone
        budget -= gone
    outbox_before = policy.outbox_cutoff(tx.clock.now())
    if outbox_before is not None and budget > 0:
        counts["outbox_messages"] += tx.prune_outbox(outbox_before, budget)
    return counts


def count_expired(reader: Reader, policy: Policy) -> PruneReport:
    """What a pass would delete now, per table, deleting nothing (``db prune --dry-run``)."""
    report = PruneReport()
    incidents_before, changes_before = policy.cutoffs(reader.clock.now())
    if incidents_before is not None:
        incidents, alerts, entries = reader.count_expired(incidents_before)
        report.counts["incidents"] = incidents
        report.counts["alerts"] = alerts
        suppressed = reader.count_suppressed_before(incidents_before)
        report.counts["log_entries"] = entries + suppressed
    if changes_before is not None:
        report.counts["change_events"] = reader.count_change_events_before(changes_before)
    outbox_before = policy.outbox_cutoff(reader.clock.now())
    if outbox_before is not None:
        report.counts["outbox_messages"] = reader.count_outbox_delivered_before(outbox_before)
    return report


async def prune_pass(store: Store, policy: Policy, limit: int = BATCH_ROWS) -> PruneReport:
    """Delete everything expired, one small write job at a time, then free the pages."""
    report = PruneReport()
    started = time.perf_counter()
    if policy.enabled:
        while report.add(await store.write(lambda tx: prune_batch(tx, policy, limit))) >= limit:
            pass
        if report.total:
            while True:
                freed = await store.write(lambda tx: incremental_vacuum(tx.conn, VACUUM_PAGES))
                report.pages_freed += freed
                if freed < VACUUM_PAGES:
                    break
    report.seconds = time.perf_counter() - started
    return report


async def prune_periodically(
    store: Store,
    policy: Policy,
    observe: Callable[[dict[str, int]], None],
    *,
    interval: float = PRUNE_INTERVAL,
) -> None:
    """The daemon's task: a pass at start, then one every ``interval`` seconds.

    Each pass logs ``store.pruned`` and hands its counts to ``observe`` (the metric). A
    pass that fails (the store cannot commit, or a job raised) is logged as
    ``store.prune_failed`` and the next pass tries again; the daemon carries on.
    """
    if not policy.enabled:
        log.info("store.retention_off")
        return
    while True:
        try:
            report = await prune_pass(store, policy)
        except StoreUnavailable as exc:
            log.warning("store.prune_failed", error=str(exc))
        except Exception as exc:  # a job that raised: its savepoint rolled back, nothing lost
            # Housekeeping must never take the daemon down (it would fail again at every
            # start): log it loudly and try again at the next pass.
            log.error("store.prune_failed", error=repr(exc))
        else:
            observe(report.counts)
            _log_pass(report)
        await trio.sleep(interval)


def prune_file(path: Path, policy: Policy, *, clock: Clock | None = None) -> PruneReport:
    """Prune the database at ``path`` from another process (``alert-gateway db prune``).

    Safe beside a running daemon: each batch is its own ``BEGIN IMMEDIATE`` transaction,
    taken between the daemon's batches (busy timeout), like the CLI's other writes.
    """
    report = PruneReport()
    started = time.perf_counter()
    conn = open_sync(path)
    clock = clock or SystemClock()
    try:
        while policy.enabled:
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = report.add(prune_batch(Tx(conn, clock), policy))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            if rows < BATCH_ROWS:
                break
        while report.total:
            conn.execute("BEGIN IMMEDIATE")
            try:
                freed = incremental_vacuum(conn, VACUUM_PAGES)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            report.pages_freed += freed
            if freed < VACUUM_PAGES:
                break
    finally:
        conn.close()
    report.seconds = time.perf_counter() - started
    return report


def _log_pass(report: PruneReport) -> None:
    log.info(
        "store.pruned",
        **report.counts,
        jobs=report.jobs,
        most_rows_in_a_job=report.most_rows_in_a_job,
        pages_freed=report.pages_freed,
        seconds=round(report.seconds, 3),
    )

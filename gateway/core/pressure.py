"""Whether ingest keeps the writer busy: the deliverers' cue to yield (``max_defer_seconds``).

The daemon runs on one CPU (``[server] cpu_affinity``), so every delivery's HTTP request
is CPU that accepting events does not get. The writer's group commit shows when callers
queue for that CPU: at light load each batch holds about one job; while ingest saturates
the process (10 senders at full speed: ~7 a batch, measured with bench/webhooks), several.
The deliverers' own records and claims are ``background`` jobs and not counted, so their
work never makes them yield to themselves.

A verdict needs ``MIN_JOBS`` jobs: a window that has fewer is stretched (the verdict
standing meanwhile) up to ``MAX_WINDOW``. On a slow or crowded machine ingest may reach
fewer than ``MIN_JOBS`` jobs a quarter second while its callers still queue; judged on
those short windows the writer looked idle, the deliverers sent, took the CPU ingest
needed, and ingest slowed further (with two webhook subscriptions, the deliverers had
20-58% of the daemon's CPU during bench/webhooks' rounds at ~100 events/s).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gateway.store.writer import BatchStats

__all__ = ["IngestPressure"]

#: Mean foreground jobs per batch from which the writer counts as busy. One caller at a
#: time (batches of 1) is never busy, however fast it sends: its requests wait for each
#: other, not for the CPU.
BUSY_JOBS_PER_BATCH = 2.0
#: A verdict needs at least this many foreground jobs in its window: two requests that
#: happened to share a batch say nothing.
MIN_JOBS = 16
#: Seconds a verdict stands before the counts are read again.
WINDOW = 0.25
#: The longest a window is stretched to gather ``MIN_JOBS``: past it, a window with fewer
#: is judged not busy (and a burst's end is seen within this time at the latest).
MAX_WINDOW = 1.0


class IngestPressure:
    """Reads the writer's foreground counts over short windows; :meth:`busy` says whether
    callers are queueing for it."""

    def __init__(self, stats: BatchStats, monotonic: Callable[[], float] = time.monotonic):
        self._stats = stats
        self._monotonic = monotonic
        self._at = monotonic()
        self._jobs = stats.foreground_jobs
        self._batches = stats.foreground_batches
        self._busy = False

    def busy(self) -> bool:
        """True while the last window's foreground batches held ``BUSY_JOBS_PER_BATCH``
        jobs or more on average (and at least ``MIN_JOBS`` of them).

        A window lasts ``WINDOW`` seconds, or longer, up to ``MAX_WINDOW``, until it has
        ``MIN_JOBS`` foreground jobs; the previous verdict stands until it is judged.
        """
        now = self._monotonic()
        elapsed = now - self._at
        if elapsed < WINDOW:
            return self._busy
        stats = self._stats
        jobs = stats.foreground_jobs - self._jobs
        if jobs < MIN_JOBS and elapsed < MAX_WINDOW:
            return self._busy  # too few jobs to judge yet: keep counting
        batches = stats.foreground_batches - self._batches
        self._at, self._jobs, self._batches = now, stats.foreground_jobs, stats.foreground_batches
        self._busy = jobs >= MIN_JOBS and jobs >= BUSY_JOBS_PER_BATCH * batches
        return self._busy

"""The timer scheduler: one Trio task per daemon that fires due timers.

It sleeps until the earliest due time (read on a read connection), then fires what is
due in one write job (:func:`gateway.core.timers.fire_due`: claim under a lease, run
each handler, delete each fired row, one commit). A commit that schedules an earlier
timer re-arms it (:meth:`Scheduler.wake`, called by the store after the commit, as
the outbox's deliverers are woken). It also looks again at least every
``poll_interval`` real seconds, which covers what no commit of this process announces:
a timer written by the command line or another node, a lease that lapsed, and a wall
clock that was stepped.

While ingest keeps the writer busy (:mod:`gateway.core.pressure`, the deliverers' signal),
timers of the kinds that may wait (the paging of new incidents) are held for up to
``max_defer_seconds``, commits' wake-ups are ignored and the table is looked at every
``HELD_LOOK`` seconds instead: when the burst ends, what was held fires at once.

Due times are instants of the injected clock. The sleep is only a guess of how long
until the next one: the decision to fire is always ``due_at <= clock.now()`` in the
database, so a clock stepped backwards delays timers (they are not due yet), and one
stepped forwards fires each due timer once, in due order, in batches.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import structlog
import trio

from gateway.clock import Clock, SystemClock, iso
from gateway.core import timers
from gateway.core.pressure import IngestPressure
from gateway.errors import StoreUnavailable
from gateway.store import Store, Tx

log = structlog.get_logger("gateway.timers")

#: Seconds between looks while timers are held for ingest (the pressure verdict's window).
HELD_LOOK: Final = 0.25


@dataclass(frozen=True)
class SchedulerConfig:
    """How the scheduler runs (the node id and lease are ``[outbound]``'s)."""

    node_id: str = ""
    #: Seconds a claim lasts: a failing handler is retried after it.
    lease_seconds: float = 60.0
    #: Timers fired per write job at most (the rest in the next job, at once).
    batch: int = 256
    #: Real seconds between looks at the table when nothing woke the scheduler.
    poll_interval: float = 1.0
    #: Look only when :meth:`Scheduler.wake` is called without a due time (tests driving
    #: a fake clock): no polling, and commits do not wake it.
    manual: bool = False
    #: Seconds the kinds that may wait are held while ingest is busy (0: never held).
    max_defer_seconds: float = 0.0

    @property
    def node(self) -> str:
        """The node id claims are made under: the configured one, else the host name."""
        return self.node_id or socket.gethostname()


class Scheduler:
    """Sleep until the earliest timer; fire what is due; repeat."""

    def __init__(
        self,
        store: Store,
        *,
        config: SchedulerConfig | None = None,
        clock: Clock | None = None,
        metrics: Any = None,
        busy: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        self.config = config or SchedulerConfig()
        self.node = self.config.node
        self.clock = clock or SystemClock()
        self.metrics = metrics
        #: Whether ingest keeps the writer busy now (replaceable: tests hold timers with it).
        self.busy = busy or IngestPressure(store.stats).busy
        self._holding = False
        self._wakeup = trio.Event()
        #: The due time the current sleep aims at (``None``: nothing pending).
        self._target: str | None = None
        #: Timers fired since start (tests and the bench read it).
        self.fired = 0

    def wake(self, due_at: str | None = None) -> None:
        """Look at the table now; with ``due_at`` only when it is earlier than the current aim.

        The store calls it after every commit that scheduled timers, with the earliest of
        them: a timer due after the one already awaited costs the scheduler nothing.
        """
        if due_at is not None and (
            self.config.manual
            or self._holding  # ingest is busy: the next look (HELD_LOOK) is soon enough
            or (self._target is not None and due_at >= self._target)
        ):
            return
        self._wakeup.set()

    def _held_for(self) -> float:
        """Seconds the kinds that may wait are held now: ``max_defer_seconds`` while ingest
        keeps the writer busy, else 0."""
        bound = self.config.max_defer_seconds
        self._holding = bound > 0 and self.busy()
        return bound if self._holding else 0.0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Fire timers until cancelled; first release the claims this node left at its last stop."""
        released = await self.store.write(lambda tx: timers.release_claims(tx, self.node))
        if released:
            log.info("timers.claims_recovered", node=self.node, timers=released)
        task_status.started()
        while True:
            delay = await self._step()
            if delay is None:
                continue  # more is due right now
            if self.config.manual:
                delay = math.inf
            with trio.move_on_after(delay):
                await self._wakeup.wait()
            self._wakeup = trio.Event()

    async def _step(self) -> float | None:
        """Fire what is due; return how long to sleep (``None``: look again at once)."""
        held_for = self._held_for()
        # While timers are held, look again within HELD_LOOK: the burst may end any time.
        poll = min(self.config.poll_interval, HELD_LOOK) if held_for else self.config.poll_interval
        try:
            due = await self.store.read(lambda r: timers.next_due(r, held_for=held_for))
        except StoreUnavailable as exc:
            log.warning("timers.read_failed", error=str(exc))
            return poll
        now = self.clock.now()
        if due is None or due > now:
            self._target = None if due is None else iso(due)
            if due is None:
                return poll
            return min(poll, (due - now).total_seconds())
        self._target = None
        if not held_for and self._held_for():
            return None  # ingest turned busy during the read: look again, holding what may wait
        held_until = iso(now - timedelta(seconds=held_for)) if held_for else None
        # After a firing look again at once (more may be due, or the next is near).
        return None if await self._fire(held_until) else poll

    async def _fire(self, held_until: str | None = None) -> bool:
        """One write job firing up to ``batch`` due timers; False when the store failed."""
        config = self.config

        def job(tx: Tx) -> timers.FireResult:
            return timers.fire_due(
                tx,
                node=self.node,
                lease_seconds=config.lease_seconds,
                limit=config.batch,
                held_until=held_until,
            )

        try:
            # Background: no request waits on it, so the scheduler's own firing never
            # counts as ingest pressure (the deliverers' jobs are written so too).
            result = await self.store.write(job, background=True)
        except StoreUnavailable as exc:
            # Nothing of the job is on disk: the timers are still due, and fire later.
            log.warning("timers.fire_failed", error=str(exc))
            return False
        for fired in result.fired:
            self._report(fired)
        return True

    def _report(self, fired: timers.Fired) -> None:
        timer = fired.timer
        outcome = "fired" if fired.ok else "failed"
        if fired.ok:
            self.fired += 1
        if self.metrics is not None:
            self.metrics.observe_timer(timer.kind, outcome, fired.lateness)
        # Fired timers at debug: the action logs its own line (incident.auto_resolved…), and
        # at thousands a second one more info line each would cost more than the firing.
        emit = log.debug if fired.ok else log.warning
        emit(
            "timer.fired" if fired.ok else "timer.failed",
            timer=timer.id,
            kind=timer.kind,
            incident=timer.incident_id,
            due_at=timer.due_at,
            late_ms=round(fired.lateness * 1000),
            error=fired.error,
        )


async def serve_timers(
    store: Store,
    *,
    config: SchedulerConfig | None = None,
    clock: Clock | None = None,
    metrics: Any = None,
    busy: Callable[[], bool] | None = None,
    task_status: trio.TaskStatus[Scheduler] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the scheduler until cancelled, re-armed by every commit that schedules a timer.

    Started by the daemon beside the outbound deliverers; ``task_status`` gets the
    :class:`Scheduler` (tests ``wake()`` it after moving a fake clock).
    """
    scheduler = Scheduler(store, config=config, clock=clock, metrics=metrics, busy=busy)
    store.on_timers = scheduler.wake
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(scheduler.run)
            task_status.started(scheduler)
    finally:
        if store.on_timers == scheduler.wake:
            store.on_timers = None

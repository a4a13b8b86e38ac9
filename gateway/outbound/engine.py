"""The deliverers: Trio tasks that empty the outbox over httpx.

One loop per daemon claims due messages (a row-level lease in the database, so several
daemons share one queue and take over a dead one's claims once its leases lapse), starts
a task per claimed message, and sleeps until a commit enqueues something for a destination
with a free slot (:meth:`Engine.wake`, called by the store after the commit), an attempt
finishes, or the poll interval passes. Each task makes one attempt with the message's
kind, bounded by the kind's timeout, and hands it back to the loop, which records every
finished attempt and claims their successors in one write job
(:func:`gateway.core.outbox.record_many`, then :func:`gateway.core.outbox.claim`).

Limits: at most ``per_destination`` attempts in flight per (kind, destination), and
``max_in_flight`` in all; so memory holds at most that many message bodies.

Yielding to ingest: while callers queue for the writer (:mod:`gateway.core.pressure`:
ingest saturates the daemon's one CPU), the loop claims only messages that have been due
for ``max_defer_seconds`` and ignores commits' wake-ups, so the CPU goes to accepting
events; the messages wait on disk (they were written with their change, as always) and
go out when the burst ends, or once they have waited the bound, whichever comes first.
"""

from __future__ import annotations

import math
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import httpx
import structlog
import trio

from gateway.clock import Clock, SystemClock, iso
from gateway.core import notifications, outbox
from gateway.core.outbox_policy import Delivered, Drop, Outcome, Retry, outcome_name
from gateway.core.pressure import IngestPressure
from gateway.errors import StoreUnavailable
from gateway.outbound.addresses import AddressPolicy, denied_in, make_client
from gateway.outbound.kinds import DeliveryKind, SendEnv
from gateway.store import Store, Tx

log = structlog.get_logger("gateway.outbound")

#: Real seconds between looks at the queue while deliveries yield to ingest: how soon a
#: message past the bound, or the end of the burst, is noticed.
DEFER_POLL = 0.25


@dataclass(frozen=True)
class EngineConfig:
    """How the deliverers run (``[outbound]``)."""

    node_id: str = ""
    per_destination: int = 4
    max_in_flight: int = 64
    lease_seconds: float = 60.0
    #: Real seconds between looks at the queue when nothing woke the loop.
    poll_interval: float = 1.0
    #: While ingest keeps the writer busy, a message waits up to this long past its due
    #: time before it is sent (``0``: deliveries never yield).
    max_defer_seconds: float = 30.0

    @property
    def node(self) -> str:
        """The node id claims are made under: the configured one, else the host name."""
        return self.node_id or socket.gethostname()


def classify_error(exc: BaseException) -> Outcome:
    """An exception from a send: a denied address or a TLS error is dropped, the rest retried.

    PagerDuty's rule for webhooks (TLS errors are not retried) is also the sensible one
    for any kind: a certificate problem does not fix itself within a retry schedule.
    """
    denied = denied_in(exc)
    if denied is not None:
        return Drop(str(denied))
    if _tls_error(exc):
        return Drop(f"TLS error: {exc}")
    if isinstance(exc, httpx.TimeoutException):
        return Retry(f"timeout: {type(exc).__name__}")
    return Retry(f"{type(exc).__name__}: {exc}"[:500])


def _tls_error(exc: BaseException) -> bool:
    import ssl

    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            return False
        if isinstance(current, ssl.SSLError):
            return True
        current = current.__cause__ or current.__context__
    return False


class Engine:
    """The delivery loop of one node: claim, send, record."""

    def __init__(
        self,
        store: Store,
        kinds: Mapping[str, DeliveryKind],
        *,
        config: EngineConfig,
        policy: AddressPolicy,
        clock: Clock | None = None,
        metrics: Any = None,
        client: httpx.AsyncClient | None = None,
        busy: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        self.kinds = dict(kinds)
        self.config = config
        self.node = config.node
        self.clock = clock or SystemClock()
        self.metrics = metrics
        self._client = client or make_client(policy, max_connections=config.max_in_flight)
        self._wakeup = trio.Event()
        self._in_flight: Counter[tuple[str, str]] = Counter()
        self._total_in_flight = 0
        #: Attempts finished and not yet recorded, with their duration in seconds.
        self._finished: list[tuple[outbox.Attempt, float]] = []
        self._env = SendEnv(
            client=self._client, read=store.read, clock=self.clock, log=log.bind(node=self.node)
        )
        # Per kind, a lease longer than its slowest attempt: a live node's claim never lapses
        # mid-send, and a dead node's webhooks (5 s timeout) come back after lease_seconds
        # rather than after the forwards' longer lease.
        self._lease = {
            name: max(config.lease_seconds, 2 * kind.policy.timeout + 10)
            for name, kind in self.kinds.items()
        }
        #: Whether ingest keeps the writer busy now (the deliverers then yield).
        self._busy = busy or IngestPressure(store.stats).busy
        self._deferring = False
        self._deferring_since = 0.0
        if metrics is not None:
            metrics.set_outbox_defer_bound(config.max_defer_seconds)

    @property
    def deferring(self) -> bool:
        """Whether deliveries are yielding to ingest (only long-waiting messages are sent)."""
        return self._deferring

    def wake(self, destinations: Iterable[tuple[str, str]] | None = None) -> None:
        """Look at the queue now: a commit enqueued messages for ``destinations`` (kind,
        destination), or an attempt finished (no argument).

        A commit's wake-up is ignored while every destination it names is at its limit
        of attempts in flight: the claim that follows their next recorded attempt takes
        the new messages, and an ingest commit costs the deliverers nothing.
        """
        if destinations is not None:
            if self._deferring:
                return  # yielding to ingest: the next look (DEFER_POLL) is soon enough
            if self._total_in_flight >= self.config.max_in_flight:
                return
            limit = self.config.per_destination
            if all(self._in_flight[key] >= limit for key in destinations):
                return
        self._wakeup.set()

    def _rooms(self) -> tuple[Callable[[str, str], int], list[tuple[str, str]]]:
        # A snapshot taken on the event loop: the claim runs in the writer thread while
        # attempts finish here, and a finished attempt only frees a slot (conservative).
        # The destinations without a free slot are left out of the claim's query: under
        # load the most overdue messages are all theirs.
        taken = dict(self._in_flight)
        per = self.config.per_destination
        full = sorted(key for key, n in taken.items() if n >= per)
        return (lambda kind, destination: per - taken.get((kind, destination), 0)), full

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Deliver until cancelled. First releases the claims this node left at its last stop."""
        released = await self.store.write(
            lambda tx: outbox.release_claims(tx, self.node), background=True
        )
        if released:
            log.info("outbox.claims_recovered", node=self.node, messages=released)
        task_status.started()
        try:
            async with trio.open_nursery() as nursery:
                while True:
                    claimed = await self._render(await self._exchange())
                    for item in claimed:
                        self._start(nursery, item)
                    if self._finished:
                        continue  # attempts finished while we wrote: record them now
                    if claimed and self._total_in_flight < self.config.max_in_flight:
                        continue  # there may be more due right now
                    wait = DEFER_POLL if self._deferring else self.config.poll_interval
                    with trio.move_on_after(wait):
                        await self._wakeup.wait()
                    self._wakeup = trio.Event()
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await self._shutdown()

    async def _shutdown(self) -> None:
        # Record what finished (a delivered message is not sent again after a clean stop),
        # then hand the claims back at once rather than when their leases lapse.
        try:
            if self._finished:
                await self._exchange(claiming=False)
            await self.store.write(lambda tx: outbox.release_claims(tx, self.node), background=True)
        except StoreUnavailable:
            log.warning("outbox.release_failed", node=self.node)
        await self._client.aclose()

    async def _exchange(self, *, claiming: bool = True) -> list[outbox.Claimed]:
        """One write job: record every finished attempt, then claim up to the free slots.

        While one exchange is on its way to the writer (a group commit, an fsync), the
        attempts finishing meanwhile wait for the next: under load one job records and
        claims many messages, instead of two jobs per message. On PostgreSQL the claim
        follows the job as a short transaction of its own (:meth:`Store.claim`): it then
        never holds the write lock every node's ingest waits for.
        """
        finished, self._finished = self._finished, []
        free = self.config.max_in_flight - self._total_in_flight if claiming else 0
        due_by = self._due_by() if free > 0 else None
        if free > 0 and self.kinds and not finished:
            # Nothing to record: look on a read connection first, so an idle queue (or one
            # whose destinations are all busy) costs the writer, which ingest waits on, nothing.
            try:
                # Among the most overdue only, busy destinations included: leaving them out
                # of this query made it read a busy destination's whole backlog after each
                # claim that filled it (+15 MB of page cache and slower storms, measured).
                room, _ = self._rooms()
                if not await self.store.read(
                    lambda r: outbox.anything_due(r, self.kinds, room=room, due_by=due_by)
                ):
                    return []
            except StoreUnavailable as exc:
                log.warning("outbox.claim_failed", error=str(exc))
                return []
        if not finished and free <= 0:
            return []
        room, full = self._rooms()
        attempts = [attempt for attempt, _ in finished]
        wants = free > 0 and bool(self.kinds)
        # PostgreSQL: the claim is a short transaction of its own beside the writers
        # (Store.claim, row locks, no cluster-wide write lock); SQLite: in this job.
        apart = self.store.backend.claims_apart

        def claim(tx: Tx) -> list[outbox.Claimed]:
            return outbox.claim(
                tx,
                node=self.node,
                lease_seconds=self._lease,
                room=room,
                limit=free,
                kinds_wanted=self.kinds,
                busy=full,
                # Enough candidates to fill a few destinations; the loop claims again
                # at once while it finds some.
                scan=2 * min(free, 4 * self.config.per_destination),
                due_by=due_by,
            )

        def job(tx: Tx) -> tuple[list[outbox.Settled | Exception], list[outbox.Claimed]]:
            settled = outbox.record_many(tx, attempts, node=self.node)
            return settled, claim(tx) if wants and not apart else []

        claimed: list[outbox.Claimed] = []
        if finished or not apart:
            try:
                results, claimed = await self.store.write(job, background=True)
            except StoreUnavailable as exc:
                # The leases lapse and the messages are sent again: at-least-once holds.
                for attempt in attempts:
                    log.warning("outbox.record_failed", message=attempt.message.id, error=str(exc))
                return []
            for (attempt, seconds), result in zip(finished, results, strict=True):
                self._report(attempt, seconds, result)
        if wants and apart:
            try:
                claimed = await self.store.claim(claim)
            except StoreUnavailable as exc:
                log.warning("outbox.claim_failed", error=str(exc))
                return []
        return claimed

    async def _render(self, claimed: list[outbox.Claimed]) -> list[outbox.Claimed]:
        """Notifications are stored compactly and rendered now, for all the claimed ones in
        one read (a read connection: the writer, which ingest waits on, is not involved)."""
        if not any(notifications.is_compact(item.message) for item in claimed):
            return claimed
        messages = [item.message for item in claimed]
        try:
            rendered = await self.store.read(lambda r: notifications.render_bodies(r, messages))
        except StoreUnavailable as exc:
            # Sent unrendered, each attempt is a Retry (_attempt): at-least-once holds.
            log.warning("outbox.render_failed", error=str(exc))
            return claimed
        return [replace(item, message=m) for item, m in zip(claimed, rendered, strict=True)]

    def _due_by(self) -> str | None:
        """The latest ``due_at`` a claim may take now: ``None`` (due at all) unless ingest
        keeps the writer busy, then ``max_defer_seconds`` before now."""
        bound = self.config.max_defer_seconds
        deferring = bound > 0 and self._busy()
        if deferring != self._deferring:
            self._deferring = deferring
            now = time.monotonic()
            if deferring:
                self._deferring_since = now
            # Debug: under a moderate load this may flip a few times a second.
            log.debug("outbox.deferring" if deferring else "outbox.deferring_ended")
            if self.metrics is not None:
                self.metrics.set_outbox_deferring(
                    deferring, 0.0 if deferring else now - self._deferring_since
                )
        if not deferring:
            return None
        return iso(self.clock.now() - timedelta(seconds=bound))

    def _start(self, nursery: trio.Nursery, item: outbox.Claimed) -> None:
        key = (item.message.kind, item.message.destination)
        self._in_flight[key] += 1
        self._total_in_flight += 1
        nursery.start_soon(self._deliver, item.message, key)

    async def _deliver(self, message: outbox.Message, key: tuple[str, str]) -> None:
        try:
            finished = await self._attempt(message)
            # Only now: the loop swaps ``_finished`` for a new list while attempts run.
            self._finished.append(finished)
        finally:
            self._in_flight[key] -= 1
            if not self._in_flight[key]:
                del self._in_flight[key]
            self._total_in_flight -= 1
            self.wake()  # record it; the next message of this order key may be due now

    async def _attempt(self, message: outbox.Message) -> tuple[outbox.Attempt, float]:
        kind = self.kinds[message.kind]
        started = time.perf_counter()
        status: int | None = None
        outcome: Outcome
        try:
            if notifications.is_compact(message):  # the store could not render it just now
                outcome = Retry("the notification could not be rendered (store unavailable)")
                return outbox.Attempt(message, outcome, None, 0), 0.0
            with trio.move_on_after(kind.policy.timeout) as scope:
                outcome, status = await kind.send(message, self._env)
            if scope.cancelled_caught:
                outcome = Retry(f"no answer within {kind.policy.timeout:g} s")
        except Exception as exc:  # a kind's failure is an attempt's outcome, not a crash
            outcome = classify_error(exc)
        seconds = time.perf_counter() - started
        return outbox.Attempt(message, outcome, status, math.ceil(seconds * 1000)), seconds

    def _report(
        self, attempt: outbox.Attempt, seconds: float, result: outbox.Settled | Exception
    ) -> None:
        message, outcome = attempt.message, attempt.outcome
        if isinstance(result, Exception):
            # Its recording was undone alone; the lease lapses and it is sent again.
            log.warning("outbox.record_failed", message=message.id, error=str(result))
            return
        name = outcome_name(outcome)
        if self.metrics is not None:
            self.metrics.observe_outbox_attempt(message.kind, name, seconds)
        # Delivered attempts at debug: at delivery rate, one info line each would cost more
        # than the delivery (measured with bench/outbox); retries and drops stay visible.
        emit = log.debug if isinstance(outcome, Delivered) else log.info
        emit(
            "outbox.attempt",
            message=message.id,
            kind=message.kind,
            destination=message.destination,
            outcome=name,
            status=attempt.status_code,
            ms=attempt.duration_ms,
            state=result.state,
            due_at=result.due_at,
            reason=None if isinstance(outcome, Delivered) else outcome.reason,
        )


async def serve_outbox(
    store: Store,
    kinds: Mapping[str, DeliveryKind],
    *,
    config: EngineConfig,
    policy: AddressPolicy,
    clock: Clock | None = None,
    metrics: Any = None,
    busy: Callable[[], bool] | None = None,
    task_status: trio.TaskStatus[Engine] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Register ``kinds`` with the queue, wake on every enqueueing commit, deliver until cancelled.

    Started by the daemon beside the HTTP server; ``task_status`` gets the :class:`Engine`.
    ``busy``: the daemon's one "ingest keeps the writer busy" verdict (default: the
    engine's own, :mod:`gateway.core.pressure`).
    """
    for kind in kinds.values():
        outbox.register_kind(kind)
    engine = Engine(
        store, kinds, config=config, policy=policy, clock=clock, metrics=metrics, busy=busy
    )
    store.on_enqueued = engine.wake
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(engine.run)
            task_status.started(engine)
    finally:
        if store.on_enqueued == engine.wake:
            store.on_enqueued = None
        for kind in kinds.values():
            outbox.unregister_kind(kind)
            # A kind that keeps connections of its own (email's open SMTP sessions).
            close = getattr(kind, "close", None)
            if callable(close):
                close()

"""The outbound delivery queue's rules: a transactional outbox every outbound message goes through.

A message is written by :func:`enqueue` in the transaction of the change that causes it,
so a change and its messages commit together or not at all. Core modules that turn
committed incident changes into messages register a *producer*
(:func:`register_producer`): the store calls it inside the job that made the changes.
Service changes reach :func:`service_changed`, which calls the service producers.

Deliverers (:mod:`gateway.outbound.engine`) then :func:`claim` due messages under a
lease, send them, and :func:`record` each attempt's outcome: delivered, dropped (failed
for good) or retried after a backoff — until the kind's :class:`RetryPolicy` is spent,
when the message is parked as ``failed`` for an operator (:func:`requeue`, :func:`discard`).

Kinds are registered by name (:func:`register_kind`): the engine registers the built-in
ones and those plugins add. The registry is per process, like the producers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import structlog

from gateway.clock import iso, parse_iso
from gateway.core import outbox_overflow
from gateway.core import outbox_registry as registry
from gateway.core.outbox_overflow import overflow_counts
from gateway.core.outbox_policy import (
    Delivered,
    Drop,
    Outcome,
    Retry,
    RetryPolicy,
    backoff,
    outcome_name,
)
from gateway.core.outbox_registry import (
    KindRules,
    kind,
    kinds,
    register_kind,
    register_producer,
    register_service_producer,
    service_changed,
    unregister_kind,
    unregister_producer,
    unregister_service_producer,
)
from gateway.core.text import scrub
from gateway.domain import OutboxMessage
from gateway.store import Reader, Tx

__all__ = [
    "Attempt",
    "Claimed",
    "KindRules",
    "Message",
    "Settled",
    "claim",
    "enqueue",
    "kind",
    "kinds",
    "overflow_counts",
    "record",
    "record_many",
    "register_kind",
    "register_producer",
    "register_service_producer",
    "service_changed",
    "unregister_kind",
    "unregister_producer",
    "unregister_service_producer",
]

log = structlog.get_logger("gateway.outbox")

#: One outbound message as a deliverer sends it: id, kind, destination, order_key, body
#: (the exact bytes), headers, created_at, attempts (made before this one).
Message = OutboxMessage


# -- enqueue ------------------------------------------------------------------------------
def enqueue(
    tx: Tx,
    *,
    kind: str,
    destination: str,
    order_key: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
) -> str | None:
    """Write one pending message in the caller's transaction; return its id.

    Delivered in order per ``(kind, destination, order_key)``. When ``destination``
    already has its kind's ``max_pending`` messages waiting, the kind's overflow policy
    applies: ``drop_on_overflow`` refuses the new message (``None`` is returned; counted
    and logged as ``outbox.overflow``), otherwise it is kept all the same (counted and
    logged: a kind that must never lose a message, such as forwarding). An unregistered
    kind has no limit.
    """
    rules = registry.kind(kind)
    # The bound is checked from a running estimate (core/outbox_overflow.py).
    if (
        rules is not None
        and rules.max_pending > 0
        and not outbox_overflow.admit(tx, kind, destination, rules)
    ):
        return None
    return tx.insert_outbox_message(
        kind=kind,
        destination=destination,
        order_key=order_key,
        body=body,
        headers=dict(headers or {}),
    )


# -- claim and record (the deliverers) ----------------------------------------------------
@dataclass(frozen=True, slots=True)
class Claimed:
    """A message a node now holds the lease on, and until when."""

    message: Message
    lease_until: str


def claim(
    tx: Tx,
    *,
    node: str,
    lease_seconds: float | Mapping[str, float],
    room: Callable[[str, str], int],
    limit: int,
    kinds_wanted: Iterable[str] | None = None,
    busy: Sequence[tuple[str, str]] = (),
    scan: int | None = None,
    due_by: str | None = None,
) -> list[Claimed]:
    """Claim up to ``limit`` due messages for ``node``, at most ``room(kind, destination)``
    per destination (its free delivery slots), under a lease of ``lease_seconds`` (one
    figure, or one per kind: a dead node's webhooks come back sooner than its forwards).

    Due: pending, ``due_at`` passed, no live lease, and no earlier pending message of its
    order key (a retrying message holds back only its own key). ``busy`` destinations
    (no room at all) are not looked at; ``scan`` bounds how many candidates are read
    (default ``4 * limit``): a later claim takes what this one left.
    """
    names = sorted(kinds_wanted) if kinds_wanted is not None else [k.name for k in registry.kinds()]
    if limit <= 0 or not names:
        return []
    now = tx.clock.now()
    # Each wanted kind's lease end, once per claim.
    until = {
        name: iso(now + timedelta(seconds=lease_seconds if isinstance(lease_seconds, float | int)
                                  else lease_seconds[name]))
        for name in names
    }  # fmt: skip
    taken: Counter[tuple[str, str]] = Counter()
    chosen: dict[str, list[str]] = {}
    count = 0
    # Look further than ``limit``: some candidates' destinations may have no room.
    due = tx.outbox_due(names, now=tx.now, limit=scan or limit * 4, busy=busy, due_by=due_by)
    for message_id, kind_name, destination in due:
        key = (kind_name, destination)
        if taken[key] >= room(kind_name, destination):
            continue
        taken[key] += 1
        chosen.setdefault(until[kind_name], []).append(message_id)
        count += 1
        if count >= limit:
            break
    # One UPDATE per lease length (most claims: one for the lot; a claim per message was
    # a statement and a read each).
    return [
        Claimed(message, until)
        for until, ids in chosen.items()
        for message in tx.claim_outbox_messages(ids, node=node, lease_until=until)
    ]


@dataclass(frozen=True, slots=True)
class Settled:
    """What :func:`record` made of an attempt: the message's state and next due time."""

    state: str  # pending | delivered | failed
    due_at: str | None
    owned: bool  # False: the node had lost its lease; nothing but the attempt was written


def record(
    tx: Tx,
    message: Message,
    outcome: Outcome,
    *,
    node: str,
    status_code: int | None,
    duration_ms: int,
) -> Settled:
    """Record one attempt and settle or reschedule the message accordingly.

    Delivered and Drop settle it (``delivered``/``failed``); a Retry reschedules it after
    ``outcome.after`` or the policy's backoff, unless that would pass the policy's
    ``max_attempts`` or ``max_age_seconds``, when it is ``failed``. On settling, the
    kind's ``settled`` runs in this transaction.
    """
    rules = registry.kind(message.kind)
    # The reason may quote a remote answer (an upstream's body, an SMTP reply): a NUL in
    # it becomes U+FFFD, or PostgreSQL could not record the attempt (gateway.core.text).
    error = None if isinstance(outcome, Delivered) else scrub(outcome.reason)
    tx.record_outbox_attempt(
        message.id,
        duration_ms=duration_ms,
        status_code=status_code,
        error=error,
        outcome=outcome_name(outcome),
        node=node,
    )
    attempts = message.attempts + 1
    if isinstance(outcome, Retry):
        due = _next_due(tx, message, outcome, attempts, rules.policy if rules else None)
        if due is not None:
            owned = tx.reschedule_outbox_message(message.id, due_at=due, error=error, node=node)
            return Settled("pending", due, owned)
    state = "delivered" if isinstance(outcome, Delivered) else "failed"
    owned = tx.finish_outbox_message(message.id, state=state, error=error, node=node)
    if owned:
        outbox_overflow.settled_here(tx, message.kind, message.destination)
    if owned and rules is not None:
        rules.settled(tx, message, outcome)
    if state == "failed":
        log.warning(
            "outbox.failed",
            message=message.id,
            kind=message.kind,
            destination=message.destination,
            attempts=attempts,
            error=error,
        )
    return Settled(state, None, owned)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One finished attempt waiting to be recorded (see :func:`record_many`)."""

    message: Message
    outcome: Outcome
    status_code: int | None
    duration_ms: int


def record_many(tx: Tx, attempts: Iterable[Attempt], *, node: str) -> list[Settled | Exception]:
    """:func:`record` each attempt in ``tx``, each in a savepoint of its own.

    The deliverers record every attempt that finished while their last write was on its
    way in one job: one commit for many attempts, and all or none of them durable. An
    attempt whose recording raises (a kind's ``settled``) is undone alone and its
    exception returned in its place: its lease lapses and it is sent again.
    """
    results: list[Settled | Exception] = []
    for attempt in attempts:
        try:
            with tx.outbox_savepoint():
                results.append(
                    record(
                        tx,
                        attempt.message,
                        attempt.outcome,
                        node=node,
                        status_code=attempt.status_code,
                        duration_ms=attempt.duration_ms,
                    )
                )
        except Exception as exc:  # one kind's failure is that attempt's, not the batch's
            results.append(exc)
    return results


def _next_due(
    tx: Tx, message: Message, outcome: Retry, attempts: int, policy: RetryPolicy | None
) -> str | None:
    """When to try again, or ``None`` when the policy is spent."""
    if policy is None:
        return None
    if policy.max_attempts is not None and attempts >= policy.max_attempts:
        return None
    delay = outcome.after if outcome.after is not None else backoff(policy, attempts)
    now = tx.clock.now()
    due = now + timedelta(seconds=max(delay, 0.0))
    if policy.max_age_seconds is not None:
        deadline = parse_iso(message.created_at) + timedelta(seconds=policy.max_age_seconds)
        if due > deadline:
            return None
    return iso(due)


def anything_due(
    reader: Reader,
    kinds_wanted: Iterable[str],
    *,
    room: Callable[[str, str], int] | None = None,
    limit: int = 64,
    busy: Sequence[tuple[str, str]] = (),
    due_by: str | None = None,
) -> bool:
    """Whether a claim could find a message now (a read: the deliverers ask before writing).

    With ``room``, only a due message whose destination has a free slot counts (among the
    ``limit`` most overdue, ``busy`` destinations left out).
    """
    names = sorted(kinds_wanted)
    if not names:
        return False
    now = iso(reader.clock.now())
    if room is None:
        return bool(reader.outbox_due(names, now=now, limit=1, due_by=due_by))
    due = reader.outbox_due(names, now=now, limit=limit, busy=busy, due_by=due_by)
    return any(room(k, d) > 0 for _, k, d in due)


def release_claims(tx: Tx, node: str) -> int:
    """Release the claims ``node`` left behind (it restarted): they are due again at once."""
    return tx.release_outbox_claims(node)


# -- reads -------------------------------------------------------------------------------
def depth_rows(reader: Reader) -> list[tuple[str, str, int, int, float | None]]:
    """``(kind, destination, pending, failed, age of the oldest pending in s)`` for metrics."""
    now = reader.clock.now()
    return [
        (
            d.kind,
            d.destination,
            d.pending,
            d.failed,
            None
            if d.oldest_pending is None
            else max((now - parse_iso(d.oldest_pending)).total_seconds(), 0.0),
        )
        for d in reader.outbox_depths()
    ]


# -- operators ----------------------------------------------------------------------------
def requeue(tx: Tx, message_id: str) -> bool:
    """Send a failed (or waiting) message again now, attempts counted anew; False: no such."""
    return tx.requeue_outbox_message(message_id)


def discard(tx: Tx, message_id: str) -> bool:
    """Remove a message that was not delivered (with its attempts); False: no such one."""
    return tx.delete_outbox_message(message_id)


__all__ += [
    "Delivered",
    "Drop",
    "Retry",
    "RetryPolicy",
    "anything_due",
    "depth_rows",
    "discard",
    "release_claims",
    "requeue",
]

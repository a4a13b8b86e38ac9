"""Durable timers: due actions as rows, fired once by whichever node claims them.

A timer is written by :func:`schedule` in the transaction of the change that causes it
(an acknowledgement schedules its timeout), so a change never commits without its timers
and no timer exists for a change that did not commit. :func:`cancel` removes an
incident's pending timers in the same way (a resolve cancels them all).

Kinds are registered by name with their handler (:func:`register`):
``handler(tx, timer) -> None`` runs the kind's core action in the writer's transaction.
The scheduler (:mod:`gateway.core.timer_scheduler`) calls :func:`fire_due`, one write
job that claims due rows under a lease, runs each handler in a savepoint of its own and
deletes each row it fired: the action, its effects (log entries, webhooks through the
outbox's producers) and the row's removal commit together, so a timer fires once. A
crash before that COMMIT leaves the row as it was (due, and claimed by nobody or by the
dead node), so it fires after the restart, once.

Adding a kind is one call: ``register("escalate", escalate_handler)`` in the module that
owns the action (core modules register at import, as the outbox's producers do). A
timer of a kind no handler is registered for stays in the table until a node that knows
it runs: the claim query asks for registered kinds only.

A kind registered with ``may_wait=True`` is work that may yield to ingest (the paging of
new incidents, :mod:`gateway.core.escalation`): while ingest keeps the writer busy the
scheduler passes ``held_until`` to :func:`fire_due`, and such timers fire only once due
by then (``max_defer_seconds`` ago), as the deliverers hold back their messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from gateway.clock import iso, parse_iso
from gateway.domain import Timer
from gateway.store import Reader, Tx

__all__ = [
    "MAX_ATTEMPTS",
    "Fired",
    "Handler",
    "Timer",
    "cancel",
    "fire_due",
    "handler",
    "kinds",
    "next_due",
    "register",
    "release_claims",
    "schedule",
    "unregister",
]

log = structlog.get_logger("gateway.timers")

#: What a kind does when its timer is due: the core action, in the firing transaction.
Handler = Callable[[Tx, Timer], None]

#: Firings of one timer that may fail before it is given up (logged as ``timer.dropped``).
MAX_ATTEMPTS = 5

_handlers: dict[str, Handler] = {}
#: The kinds that may wait while ingest is busy (``register(..., may_wait=True)``).
_may_wait: set[str] = set()


# -- the registry -------------------------------------------------------------------------
def register(kind: str, fn: Handler, *, may_wait: bool = False) -> None:
    """Have ``fn(tx, timer)`` run when a timer of ``kind`` is due. The latest one wins.

    ``may_wait``: the action may be held back while ingest keeps the writer busy (for
    ``max_defer_seconds`` at most), so that accepting events keeps the CPU.
    """
    _handlers[kind] = fn
    if may_wait:
        _may_wait.add(kind)
    else:
        _may_wait.discard(kind)


def unregister(kind: str, fn: Handler | None = None) -> None:
    """Forget a kind (only while ``fn`` is still its handler, when given)."""
    if fn is None or _handlers.get(kind) is fn:
        _handlers.pop(kind, None)
        _may_wait.discard(kind)


def waiting_kinds() -> list[str]:
    """The registered kinds that may wait while ingest is busy, sorted (an incident with a
    pending one has work held for a burst: the incident page says so)."""
    return sorted(_may_wait & _handlers.keys())


def _apart(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """``names`` split into the kinds that never wait and those that may wait."""
    return [n for n in names if n not in _may_wait], [n for n in names if n in _may_wait]


def handler(kind: str) -> Handler | None:
    """The handler registered for ``kind``, or ``None``."""
    return _handlers.get(kind)


def kinds() -> list[str]:
    """Every registered kind, sorted."""
    return sorted(_handlers)


# -- scheduling (any writer, in the change's transaction) ----------------------------------
def schedule(
    tx: Tx,
    kind: str,
    incident_id: str | None,
    due_at: datetime | str,
    payload: dict[str, Any] | None = None,
) -> str:
    """Write a timer of ``kind`` due at ``due_at`` (an instant) in ``tx``; return its id.

    Due times are absolute instants from the injected clock, never durations: a wall
    clock stepping backwards only delays what is due, and a step forward fires each due
    timer once. After the commit the store re-arms the scheduler when this is earlier
    than what it sleeps towards.
    """
    due = due_at if isinstance(due_at, str) else iso(due_at)
    # No log line here: this runs for every new incident on the ingest path, and the
    # action that schedules (incident.created, incident.acknowledged…) logs already.
    return tx.insert_timer(kind=kind, incident_id=incident_id, due_at=due, payload=payload or {})


def schedule_in(
    tx: Tx,
    kind: str,
    incident_id: str | None,
    seconds: float,
    payload: dict[str, Any] | None = None,
) -> str:
    """:func:`schedule` at the job's time plus ``seconds``."""
    return schedule(tx, kind, incident_id, parse_iso(tx.now) + timedelta(seconds=seconds), payload)


def cancel(tx: Tx, incident_id: str, kinds: Sequence[str] = ()) -> int:
    """Remove an incident's pending timers of ``kinds`` (all when empty); return how many."""
    return tx.delete_incident_timers(incident_id, kinds)


# -- firing (the scheduler) ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Fired:
    """One timer the firing job handled: fired (row deleted) or failed (kept, claimed)."""

    timer: Timer
    ok: bool
    lateness: float  # seconds between due_at and the firing transaction's time
    error: str | None = None


@dataclass
class FireResult:
    """What :func:`fire_due` did, and whether more may be due right now."""

    fired: list[Fired] = field(default_factory=list)
    more: bool = False


def fire_due(
    tx: Tx,
    *,
    node: str,
    lease_seconds: float,
    limit: int,
    kinds_wanted: Iterable[str] | None = None,
    held_until: str | None = None,
) -> FireResult:
    """Claim up to ``limit`` due timers for ``node`` and fire each, in ``tx``.

    Each handler runs in a savepoint: one that raises is undone alone, its timer keeps
    the claim until ``lease_until`` (a failing action is retried after the lease, not in
    a hot loop) and counts the attempt; after :data:`MAX_ATTEMPTS` it is given up.
    ``held_until`` (ingest is busy): timers of the kinds that may wait fire only when due
    by then; the others as usual.
    """
    names = sorted(kinds_wanted) if kinds_wanted is not None else kinds()
    result = FireResult()
    if limit <= 0 or not names:
        return result
    now = tx.clock.now()
    lease_until = iso(now + timedelta(seconds=lease_seconds))
    if held_until is None:
        due = tx.timers_due(names, now=tx.now, limit=limit)
    else:
        free, held = _apart(names)
        due = tx.timers_due(free, now=tx.now, limit=limit)
        due += tx.timers_due(held, now=tx.now, limit=limit - len(due), due_by=held_until)
    result.more = len(due) >= limit
    for timer in tx.claim_timers(due, node=node, lease_until=lease_until):
        lateness = max((now - parse_iso(timer.due_at)).total_seconds(), 0.0)
        fn = _handlers.get(timer.kind)
        # What the job collected so far: a handler undone by its savepoint must not leave
        # its incident changes behind for the producers and observers.
        changes, earliest = len(tx.changes), tx.timers_earliest
        try:
            with tx.outbox_savepoint():
                if fn is not None:
                    fn(tx, timer)
                tx.delete_timer(timer.id)
        except Exception as exc:  # one action's failure is that timer's, not the batch's
            del tx.changes[changes:]
            tx.timers_earliest = earliest
            result.fired.append(_failed(tx, timer, lateness, exc))
            continue
        result.fired.append(Fired(timer, True, lateness))
    return result


def _failed(tx: Tx, timer: Timer, lateness: float, exc: Exception) -> Fired:
    error = f"{type(exc).__name__}: {exc}"[:500]
    if timer.attempts + 1 >= MAX_ATTEMPTS:
        tx.delete_timer(timer.id)
        log.error(
            "timer.dropped",
            timer=timer.id,
            kind=timer.kind,
            incident=timer.incident_id,
            error=error,
        )
    else:
        tx.count_timer_failure(timer.id)
        log.warning(
            "timer.failed", timer=timer.id, kind=timer.kind, incident=timer.incident_id, error=error
        )
    return Fired(timer, False, lateness, error)


def next_due(
    reader: Reader, kinds_wanted: Iterable[str] | None = None, *, held_for: float = 0.0
) -> datetime | None:
    """When the earliest claimable timer of these kinds is due (``None``: none is pending).

    ``held_for`` (seconds, ingest is busy): a timer of a kind that may wait counts as due
    that much later, as :func:`fire_due` with ``held_until`` claims it.
    """
    names = sorted(kinds_wanted) if kinds_wanted is not None else kinds()
    now = iso(reader.clock.now())
    if held_for <= 0:
        value = reader.timers_next_due(names, now=now)
        return None if value is None else parse_iso(value)
    found: list[datetime] = []
    free, held = _apart(names)
    value = reader.timers_next_due(free, now=now)
    if value is not None:
        found.append(parse_iso(value))
    value = reader.timers_next_due(held, now=now)
    if value is not None:
        found.append(parse_iso(value) + timedelta(seconds=held_for))
    return min(found, default=None)


def release_claims(tx: Tx, node: str) -> int:
    """Release the claims ``node`` left behind (it restarted): they are due again at once."""
    return tx.release_timer_claims(node)


def pending_counts(reader: Reader) -> list[tuple[str, int]]:
    """``(kind, pending timers)`` for the metrics' gauge."""
    return reader.timer_counts()


__all__ += ["FireResult", "pending_counts", "schedule_in", "waiting_kinds"]

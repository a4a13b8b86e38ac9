"""The outbox's registries: delivery kinds, and the producers that turn changes into messages.

Per process, like the plugin host: the engine registers the built-in kinds and those
plugins add; core modules register producers at import. :mod:`gateway.core.outbox`
re-exports every name here, so callers keep importing them from there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from gateway.core.outbox_policy import Outcome, RetryPolicy
from gateway.domain import OutboxMessage
from gateway.model import IncidentChange
from gateway.store import Tx
from gateway.store.producers import PRODUCERS

__all__ = [
    "KindRules",
    "kind",
    "kinds",
    "register_kind",
    "register_producer",
    "register_service_producer",
    "service_changed",
    "unregister_kind",
    "unregister_producer",
    "unregister_service_producer",
]


class KindRules(Protocol):
    """What the queue needs of a delivery kind (:class:`gateway.outbound.kinds.DeliveryKind`)."""

    name: str
    policy: RetryPolicy
    max_pending: int
    drop_on_overflow: bool

    def settled(self, tx: Tx, message: OutboxMessage, outcome: Outcome) -> None:
        """Called in the transaction that records the message's final outcome."""
        ...


_kinds: dict[str, KindRules] = {}
_service_producers: list[Callable[[Tx, str, str], None]] = []


# -- registries ---------------------------------------------------------------------------
def register_kind(rules: KindRules) -> None:
    """Make a delivery kind known to the queue (overflow policy, retries, settling).

    The latest registration of a name wins (clashing plugin kinds are refused earlier, at
    plugin loading); several engines in one process (tests) register the same objects.
    """
    _kinds[rules.name] = rules


def unregister_kind(rules: KindRules) -> None:
    """Forget a delivery kind, unless another object has taken its name since."""
    if _kinds.get(rules.name) is rules:
        del _kinds[rules.name]


def kind(name: str) -> KindRules | None:
    """The registered kind called ``name``, or ``None``."""
    return _kinds.get(name)


def kinds() -> list[KindRules]:
    """Every registered kind, by name."""
    return [_kinds[name] for name in sorted(_kinds)]


def register_producer(
    fn: Callable[[Tx, list[IncidentChange]], None], *, first: bool = False
) -> None:
    """Have ``fn(tx, changes)`` called in every job that changed incidents, before it commits.

    ``changes`` are the incident changes that job made, in order; ``fn`` enqueues what
    they cause. It runs in the writer thread, inside the job's savepoint: an exception
    rolls back the job's change too. Registering the same function twice is a no-op.
    ``first``: call it before the producers registered so far (the escalation engine
    assigns a new incident before the webhooks describe it with its assignees).
    """
    if fn not in PRODUCERS:
        if first:
            PRODUCERS.insert(0, fn)
        else:
            PRODUCERS.append(fn)


def unregister_producer(fn: Callable[[Tx, list[IncidentChange]], None]) -> None:
    """Stop calling a producer."""
    if fn in PRODUCERS:
        PRODUCERS.remove(fn)


def register_service_producer(fn: Callable[[Tx, str, str], None]) -> None:
    """Have ``fn(tx, service_id, action)`` called by :func:`service_changed`."""
    if fn not in _service_producers:
        _service_producers.append(fn)


def unregister_service_producer(fn: Callable[[Tx, str, str], None]) -> None:
    """Stop calling a service producer."""
    if fn in _service_producers:
        _service_producers.remove(fn)


def service_changed(tx: Tx, service_id: str, action: str) -> None:
    """A service was ``created``, ``updated`` or ``deleted`` in ``tx``: tell the producers.

    Called by the core function that makes the change, in its transaction.
    """
    for produce in _service_producers:
        produce(tx, service_id, action)

"""Retry policies and attempt outcomes of outbound messages: plain values and one formula.

The delivery kinds (:mod:`gateway.outbound.kinds`, which re-exports these names) choose
a :class:`RetryPolicy` and classify each attempt as :class:`Delivered`, :class:`Retry`
or :class:`Drop`; :mod:`gateway.core.outbox` turns a retry into the next due time with
:func:`backoff`, or into ``failed`` once the policy's attempts or age are spent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TypeAlias

# Jitter needs no secrecy; one generator per process, seeded from the OS.
_jitter = random.Random()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a kind retries: how often, for how long, and how long one attempt may take.

    ``max_attempts`` counts every attempt (the first included); ``max_age_seconds`` is
    measured from the message's creation. ``None`` means no limit of that sort; with both
    ``None`` a message is retried until an operator drops it. The delay before attempt
    ``n + 1`` is ``first_delay * 2 ** (n - 1)``, capped at ``max_delay``, less up to
    ``jitter`` of itself at random (so a destination that comes back is not hit by every
    waiting message at the same instant).
    """

    max_attempts: int | None
    max_age_seconds: float | None
    first_delay: float
    max_delay: float
    timeout: float
    jitter: float = 0.25


@dataclass(frozen=True, slots=True)
class Delivered:
    """The destination took the message."""


@dataclass(frozen=True, slots=True)
class Retry:
    """Try again: after ``after`` seconds (the destination said so), else the policy's backoff."""

    reason: str
    after: float | None = None


@dataclass(frozen=True, slots=True)
class Drop:
    """Never try again: the destination refused the message for good."""

    reason: str


Outcome: TypeAlias = Delivered | Retry | Drop


def backoff(policy: RetryPolicy, attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1 for the first failure)."""
    exponent = max(attempts - 1, 0)
    # Cap the exponent too: 2 ** 1000 would overflow a float before the min() applies.
    delay: float = min(policy.first_delay * 2.0 ** min(exponent, 60), policy.max_delay)
    return delay * (1.0 - policy.jitter * _jitter.random())


def outcome_name(outcome: Outcome) -> str:
    """The word an attempt's outcome is recorded and counted as."""
    if isinstance(outcome, Delivered):
        return "delivered"
    if isinstance(outcome, Retry):
        return "retry"
    return "drop"

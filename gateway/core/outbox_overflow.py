"""The outbox's overflow bound: how many messages one destination may have waiting.

A kind's ``max_pending`` bounds the messages waiting for one destination; past it a new
message is refused (``drop_on_overflow``) or kept with a warning, and counted either way
(:func:`overflow_counts`, the ``outbox_overflow`` metric). The bound is checked from a
running estimate rather than a count of the backlog per message (:func:`_estimate`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Final

import structlog

from gateway.core.outbox_registry import KindRules
from gateway.store import Tx

__all__ = ["RECOUNT_EVERY", "RECOUNT_SECONDS", "admit", "overflow_counts", "settled_here"]

log = structlog.get_logger("gateway.outbox")

#: Messages refused or let through past ``max_pending``, per (kind, destination, "dropped"|
#: "kept"). Written in the writer thread, read at scrape time: plain ints under the GIL.
_overflow: Counter[tuple[str, str, str]] = Counter()
_overflow_lock = threading.Lock()


def admit(tx: Tx, kind: str, destination: str, rules: KindRules) -> bool:
    """Whether a new message for ``destination`` is written (False: refused, overflow).

    Past ``rules.max_pending`` waiting, the overflow is counted and logged
    (``outbox.overflow``); the message is refused if the kind drops on overflow.
    """
    estimate = _estimate(tx, kind, destination, rules.max_pending)
    if estimate.pending() >= rules.max_pending:
        verdict = "dropped" if rules.drop_on_overflow else "kept"
        with _overflow_lock:
            _overflow[(kind, destination, verdict)] += 1
        log.warning(
            "outbox.overflow",
            kind=kind,
            destination=destination,
            max_pending=rules.max_pending,
            verdict=verdict,
        )
        if rules.drop_on_overflow:
            return False
    estimate.added += 1
    return True


#: The overflow check counts a destination's pending rows again after this many seconds…
RECOUNT_SECONDS: Final = 1.0
#: …or after this many enqueues (at most; a small ``max_pending`` recounts more often).
RECOUNT_EVERY: Final = 256


@dataclass(slots=True)
class _Estimate:
    """A destination's pending messages as last counted, plus what this writer did since."""

    counted: int
    at: float
    added: int = 0  # enqueued by this writer since the count
    settled: int = 0  # delivered or failed by this writer since the count

    def pending(self) -> int:
        return self.counted + self.added - self.settled


def _estimate(tx: Tx, kind: str, destination: str, max_pending: int) -> _Estimate:
    """How many messages ``destination`` has waiting, without counting them every time.

    Counting the pending rows at every enqueue cost ingest O(backlog) per message (7% of
    the daemon's time with two subscriptions, bench/webhooks). This writer's own enqueues
    and settlements are applied to the last count (``tx.outbox_memo``, one per writer
    connection), and the rows are counted again every :data:`RECOUNT_SECONDS` or every
    ``min(RECOUNT_EVERY, max_pending // 16)`` enqueues, to see what other writers (the
    command line, other nodes) did meanwhile. So the bound is exact for one writer and
    approximate across several: each may let through about that many before it sees the
    others' messages (docs/architecture.md, "The outbox").
    """
    memo: dict[tuple[str, str, str], _Estimate] = tx.outbox_memo
    key = ("pending", kind, destination)
    estimate = memo.get(key)
    now = time.monotonic()
    every = max(1, min(RECOUNT_EVERY, max_pending // 16))
    if estimate is None or estimate.added >= every or now - estimate.at >= RECOUNT_SECONDS:
        estimate = _Estimate(tx.outbox_pending_count(kind, destination, up_to=max_pending), now)
        memo[key] = estimate
    return estimate


def settled_here(tx: Tx, kind: str, destination: str) -> None:
    """A message of ``destination`` left the pending state in this writer's transaction."""
    estimate = tx.outbox_memo.get(("pending", kind, destination))
    if estimate is not None:
        estimate.settled += 1


def overflow_counts() -> dict[tuple[str, str, str], int]:
    """Messages past ``max_pending`` so far, per (kind, destination, dropped|kept)."""
    with _overflow_lock:
        return dict(_overflow)

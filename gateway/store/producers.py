"""The producer seam: functions that turn a job's incident changes into rows of the same job.

The transactional outbox needs its messages written in the transaction of the change that
causes them. The core registers producers (:func:`gateway.core.outbox.register_producer`);
the store calls each one inside the job's savepoint, right after the job's function, with
the incident changes that job made. A producer that raises fails the job as the job itself
would (its savepoint rolls back: neither the change nor its messages are written).

The list lives here, below the core, so the writer thread and the command line's
:func:`gateway.store.offline.write_sync` can run it without importing the core.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway.model import IncidentChange

if TYPE_CHECKING:
    from gateway.store.queries import Tx

#: The registered producers, called in registration order.
PRODUCERS: list[Callable[[Tx, list[IncidentChange]], None]] = []


def run_producers(tx: Tx) -> None:
    """Call every producer with the job's incident changes (nothing when it made none)."""
    if tx.changes and PRODUCERS:
        changes = list(tx.changes)
        for produce in PRODUCERS:
            produce(tx, changes)

"""The durable timers' SQL: due actions, their claims (leases) and their removal.

The rules (which kinds exist, what firing does, when to schedule) are
:mod:`gateway.core.timers`'; this module only names the statements. A claim is a
row-level lease as in the outbox: ``claimed_by`` is the node, ``lease_until`` when the
claim lapses; a lapsed claim is anyone's again. A fired timer's row is deleted in the
transaction that ran its action, so it fires once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.domain import Timer
from gateway.store.base import ReadBase, WriteBase, dumps, loads, marks

TIMER_COLS = "id, kind, incident_id, due_at, payload, attempts, created_at"


def _timer(row: Sequence[Any]) -> Timer:
    return Timer(
        id=row[0],
        kind=row[1],
        incident_id=row[2],
        due_at=row[3],
        payload=loads(row[4]) or {},
        attempts=int(row[5]),
        created_at=row[6],
    )


def _pad(ids: Sequence[str]) -> list[str]:
    # A power-of-two list length (repeating the last id): one prepared statement per size
    # class rather than per length, as the outbox's claim does.
    size = 4
    while size < len(ids):
        size *= 2
    return [*ids, *[ids[-1]] * (size - len(ids))]


class TimerReads(ReadBase):
    """What is due, and what an incident has pending."""

    def timers_next_due(self, kinds: Sequence[str], *, now: str) -> str | None:
        """The earliest ``due_at`` of a timer of these kinds not under a live lease."""
        if not kinds:
            return None
        value = self._db.fetch_value(
            "SELECT due_at FROM timers WHERE (lease_until IS NULL OR lease_until <= ?)"
            # ``kind || ''``: stay on the (due_at, id) index, which LIMIT stops early in
            # (SQLite's ``+kind`` idiom, spelled so PostgreSQL accepts it too).
            f" AND kind || '' IN ({marks(kinds)}) ORDER BY due_at, id LIMIT 1",
            (now, *kinds),
        )
        return None if value is None else str(value)

    def timers_due(
        self, kinds: Sequence[str], *, now: str, limit: int, due_by: str | None = None
    ) -> list[str]:
        """Ids of claimable timers at ``now`` (due, no live lease), most overdue first;
        with ``due_by``, only those due by then (a kind held back while ingest is busy)."""
        if not kinds:
            return []
        rows = self._db.fetch_all(
            "SELECT id FROM timers WHERE due_at <= ? AND (lease_until IS NULL OR lease_until <= ?)"
            f" AND kind || '' IN ({marks(kinds)}) ORDER BY due_at, id LIMIT ?",
            (due_by or now, now, *kinds, limit),
        )
        return [row[0] for row in rows]

    def incident_timers(self, incident_id: str, kinds: Sequence[str] = ()) -> list[Timer]:
        """An incident's pending timers (of ``kinds``, or all), soonest first."""
        kind_filter = f" AND kind IN ({marks(kinds)})" if kinds else ""
        rows = self._db.fetch_all(
            f"SELECT {TIMER_COLS} FROM timers WHERE incident_id = ?{kind_filter}"
            " ORDER BY due_at, id",
            (incident_id, *kinds),
        )
        return [_timer(row) for row in rows]

    def service_timeouts(self, service_id: str) -> tuple[int, int]:
        """``(acknowledgement_timeout, auto_resolve_timeout)`` of a service (deleted ones
        too), 0 for off or unknown: two columns by primary key, read per new incident."""
        row = self._db.fetch_one(
            "SELECT acknowledgement_timeout, auto_resolve_timeout FROM services WHERE id = ?",
            (service_id,),
        )
        return (0, 0) if row is None else (int(row[0] or 0), int(row[1] or 0))

    def any_timer(self) -> bool:
        """Whether the table holds any timer at all (one index step)."""
        return self._db.fetch_one("SELECT 1 FROM timers LIMIT 1") is not None

    def open_incidents_without_timers(self) -> list[tuple[str, str, str, str, str]]:
        """``(id, service_id, status, created_at, last_status_change_at)`` of every open
        incident with no timer (a database from before timers: read once, at start)."""
        rows = self._db.fetch_all(
            "SELECT i.id, i.service_id, i.status, i.created_at, i.last_status_change_at"
            " FROM incidents AS i WHERE i.status != 'resolved'"
            " AND NOT EXISTS (SELECT 1 FROM timers AS t WHERE t.incident_id = i.id)"
            " ORDER BY i.number"
        )
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def timer_counts(self) -> list[tuple[str, int]]:
        """``(kind, pending timers)`` for every kind with any (the metrics' gauge)."""
        rows = self._db.fetch_all("SELECT kind, count(*) FROM timers GROUP BY kind ORDER BY kind")
        return [(str(kind), int(count)) for kind, count in rows]


class TimerWrites(TimerReads, WriteBase):
    """Scheduling, cancelling, claiming and finishing timers."""

    #: The earliest ``due_at`` this job scheduled (``Tx.__init__`` starts it at ``None``):
    #: after the commit the store hands it to the scheduler's wake-up.
    timers_earliest: str | None

    def insert_timer(
        self, *, kind: str, incident_id: str | None, due_at: str, payload: dict[str, Any]
    ) -> str:
        """Store a timer due at ``due_at``; return its ordered id (prefix ``T``)."""
        timer_id = self._insert_new(
            "timers",
            "T",
            "INSERT INTO timers (id, kind, incident_id, due_at, payload, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (kind, incident_id, due_at, dumps(payload), self.now),
        )
        if self.timers_earliest is None or due_at < self.timers_earliest:
            self.timers_earliest = due_at
        return timer_id

    def delete_incident_timers(self, incident_id: str, kinds: Sequence[str] = ()) -> int:
        """Cancel an incident's timers (of ``kinds``, or all); return how many went."""
        kind_filter = f" AND kind IN ({marks(kinds)})" if kinds else ""
        return self._db.execute(
            f"DELETE FROM timers WHERE incident_id = ?{kind_filter}", (incident_id, *kinds)
        )

    def claim_timers(self, timer_ids: Sequence[str], *, node: str, lease_until: str) -> list[Timer]:
        """Take the lease on each claimable timer of ``timer_ids``; return those taken, in order.

        The conditional UPDATE is what lets several nodes share the table: a timer another
        node holds under a live lease is left alone.
        """
        if not timer_ids:
            return []
        padded = _pad(timer_ids)
        id_marks = marks(padded)
        claimable = f"id IN ({id_marks}) AND (lease_until IS NULL OR lease_until <= ?)"
        lock = self._db.skip_locked("t")
        if lock:
            # PostgreSQL: rows another transaction is claiming are passed over, not waited
            # for. The write lock already keeps this node's scheduler from meeting another's
            # here; the row locks keep the claim right without relying on it.
            claimable = f"id IN (SELECT id FROM timers AS t WHERE {claimable}{lock})"
        self._db.execute(
            f"UPDATE timers SET claimed_by = ?, lease_until = ? WHERE {claimable}",
            (node, lease_until, *padded, self.now),
        )
        rows = self._db.fetch_all(
            f"SELECT {TIMER_COLS} FROM timers WHERE id IN ({id_marks})"
            " AND claimed_by = ? AND lease_until = ?",
            (*padded, node, lease_until),
        )
        by_id = {row[0]: _timer(row) for row in rows}
        return [by_id[i] for i in timer_ids if i in by_id]

    def delete_timer(self, timer_id: str) -> bool:
        """Remove one timer (it fired, or was given up); False when it was gone already."""
        return bool(self._db.execute("DELETE FROM timers WHERE id = ?", (timer_id,)))

    def count_timer_failure(self, timer_id: str) -> None:
        """Count one failed firing; the row keeps its claim until the lease lapses."""
        self._db.execute("UPDATE timers SET attempts = attempts + 1 WHERE id = ?", (timer_id,))

    def release_timer_claims(self, node: str) -> int:
        """Release every claim ``node`` holds (a restarted node's leftovers); return how many."""
        return self._db.execute(
            "UPDATE timers SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = ?",
            (node,),
        )

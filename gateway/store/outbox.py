"""The outbound delivery queue's SQL: messages, their claims (leases) and their attempts.

The rules (what is due, when to retry, overflow) are :mod:`gateway.core.outbox`'s; this
module only names the statements. A claim is a row-level lease: ``claimed_by`` is the
node, ``lease_until`` when the claim lapses; a claim that lapsed is anyone's again, so a
dead node's messages are taken over (docs/architecture.md, "The outbox").
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from gateway.domain import OutboxAttempt, OutboxDepth, OutboxEntry, OutboxMessage
from gateway.store.base import ReadBase, Where, WriteBase, dumps, loads, marks

ENTRY_COLS = (
    "id, kind, destination, order_key, created_at, due_at, attempts, state, claimed_by,"
    " lease_until, last_error, finished_at, length(body)"
)
MESSAGE_COLS = "id, kind, destination, order_key, body, headers, created_at, attempts"
ATTEMPT_COLS = "message_id, attempt, at, duration_ms, status_code, error, outcome, node"


def _message(row: tuple[Any, ...]) -> OutboxMessage:
    body = row[4]
    return OutboxMessage(
        id=row[0],
        kind=row[1],
        destination=row[2],
        order_key=row[3],
        body=bytes(body) if not isinstance(body, bytes) else body,
        headers=loads(row[5]) or {},
        created_at=row[6],
        attempts=row[7],
    )


class OutboxReads(ReadBase):
    """Listing the queue for operators and metrics."""

    def outbox_entry(self, message_id: str) -> OutboxEntry | None:
        """One message's state (not its body), or ``None``."""
        row = self._db.fetch_one(
            f"SELECT {ENTRY_COLS} FROM outbox_messages WHERE id = ?", (message_id,)
        )
        return OutboxEntry(*row) if row else None

    def outbox_body(self, message_id: str) -> OutboxMessage | None:
        """One message with its body and headers, or ``None``."""
        row = self._db.fetch_one(
            f"SELECT {MESSAGE_COLS} FROM outbox_messages WHERE id = ?", (message_id,)
        )
        return _message(row) if row else None

    def outbox_entries(
        self,
        *,
        kind: str | None = None,
        destination: str | None = None,
        states: Sequence[str] = (),
        after: str | None = None,
        limit: int = 100,
    ) -> list[OutboxEntry]:
        """Messages oldest first, filtered by kind, destination and states; paged by id."""
        where = Where()
        if kind is not None:
            where.add("kind = ?", kind)
        if destination is not None:
            where.add("destination = ?", destination)
        where.within("state", states)
        if after is not None:
            where.add("id > ?", after)
        rows = self._db.fetch_all(
            f"SELECT {ENTRY_COLS} FROM outbox_messages{where.sql()} ORDER BY id LIMIT ?",
            (*where.params, limit),
        )
        return [OutboxEntry(*row) for row in rows]

    def outbox_attempts(self, message_id: str) -> list[OutboxAttempt]:
        """Every recorded attempt of one message, oldest first."""
        rows = self._db.fetch_all(
            f"SELECT {ATTEMPT_COLS} FROM outbox_attempts WHERE message_id = ? ORDER BY at, attempt",
            (message_id,),
        )
        return [OutboxAttempt(*row) for row in rows]

    def outbox_depths(self) -> list[OutboxDepth]:
        """Pending and failed counts per (kind, destination), with the oldest pending."""
        # Two grouped queries over the partial indexes: delivered rows are never read.
        found: dict[tuple[str, str], list[Any]] = {}
        for kind, destination, pending, oldest in self._db.fetch_all(
            "SELECT kind, destination, count(*), min(created_at) FROM outbox_messages"
            " WHERE state = 'pending' GROUP BY kind, destination"
        ):
            found[(kind, destination)] = [int(pending), 0, oldest]
        for kind, destination, failed in self._db.fetch_all(
            "SELECT kind, destination, count(*) FROM outbox_messages"
            " WHERE state = 'failed' GROUP BY kind, destination"
        ):
            found.setdefault((kind, destination), [0, 0, None])[1] = int(failed)
        return [
            OutboxDepth(kind, destination, pending, failed, oldest)
            for (kind, destination), (pending, failed, oldest) in sorted(found.items())
        ]

    def outbox_pending_count(self, kind: str, destination: str, *, up_to: int) -> int:
        """Pending messages of one destination, counted no further than ``up_to``."""
        return int(
            self._db.fetch_value(
                "SELECT count(*) FROM (SELECT 1 FROM outbox_messages"
                " WHERE kind = ? AND destination = ? AND state = 'pending' LIMIT ?) AS capped",
                (kind, destination, up_to),
            )
        )

    def count_outbox_delivered_before(self, before: str) -> int:
        """Delivered messages finished before ``before`` (what retention would delete)."""
        return int(
            self._db.fetch_value(
                "SELECT count(*) FROM outbox_messages WHERE state = 'delivered'"
                " AND finished_at < ?",
                (before,),
            )
        )

    def outbox_next_due(self, kinds: Sequence[str]) -> str | None:
        """The earliest ``due_at`` of a pending message of these kinds (``None``: none)."""
        if not kinds:
            return None
        value = self._db.fetch_value(
            "SELECT min(due_at) FROM outbox_messages WHERE state = 'pending'"
            f" AND kind IN ({marks(kinds)})",
            tuple(kinds),
        )
        return None if value is None else str(value)

    def outbox_due(
        self,
        kinds: Sequence[str],
        *,
        now: str,
        limit: int,
        busy: Sequence[tuple[str, str]] = (),
        due_by: str | None = None,
    ) -> list[tuple[str, str, str]]:
        """Claimable messages ``(id, kind, destination)`` at ``now``, most overdue first.

        Claimable: pending, due (``due_at`` at or before ``due_by``, default ``now``), not
        under a live lease at ``now``, and first of its order key (no earlier pending
        message with the same kind, destination and order key). ``busy`` (kind,
        destination) pairs are left out: the caller has no room for them.
        """
        if not kinds:
            return []
        kind_marks = marks(kinds)
        skip = "".join(" AND NOT (m.kind = ? AND m.destination = ?)" for _ in busy)
        return [
            (row[0], row[1], row[2])
            for row in self._db.fetch_all(
                "SELECT m.id, m.kind, m.destination FROM outbox_messages AS m"
                # ``m.kind || ''``: keep the planner on the pending index in (due_at, id)
                # order, which LIMIT can stop early in, rather than a per-kind index and a
                # sort (SQLite's ``+m.kind`` idiom, spelled so PostgreSQL accepts it too).
                f" WHERE m.state = 'pending' AND m.due_at <= ? AND m.kind || '' IN ({kind_marks})"
                f" AND (m.lease_until IS NULL OR m.lease_until <= ?){skip}"
                " AND NOT EXISTS (SELECT 1 FROM outbox_messages AS e"
                " WHERE e.kind = m.kind AND e.destination = m.destination"
                " AND e.order_key = m.order_key AND e.state = 'pending' AND e.id < m.id)"
                " ORDER BY m.due_at, m.id LIMIT ?",
                (due_by or now, *kinds, now, *(v for pair in busy for v in pair), limit),
            )
        ]


class OutboxWrites(OutboxReads, WriteBase):
    """Enqueueing, claiming, recording attempts and outcomes, operator actions, pruning."""

    #: (kind, destination) of the messages this job enqueued: after the commit the store
    #: hands them to the deliverers' wake-up (``Tx.__init__`` gives each job its own set).
    outbox_enqueued: set[tuple[str, str]]
    #: Per-connection scratch of :mod:`gateway.core.outbox` (its pending-count estimates):
    #: the writer hands every job the same dict; a one-off transaction gets a fresh one.
    outbox_memo: dict[Any, Any]

    def insert_outbox_message(
        self,
        *,
        kind: str,
        destination: str,
        order_key: str,
        body: bytes,
        headers: dict[str, str],
    ) -> str:
        """Store a pending message, due now; return its ordered id (prefix ``M``)."""
        now = self.now
        message_id = self._insert_new(
            "outbox_messages",
            "M",
            "INSERT INTO outbox_messages (id, kind, destination, order_key, body, headers,"
            " created_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (kind, destination, order_key, body, dumps(headers), now, now),
        )
        self.outbox_enqueued.add((kind, destination))
        return message_id

    @contextmanager
    def outbox_savepoint(self) -> Iterator[None]:
        """Run a block in a nested savepoint: an exception undoes the block alone.

        Several attempts are recorded in one job; one kind's failing ``settled`` must not
        undo the others' records.
        """
        self._db.execute("SAVEPOINT outbox_step")
        try:
            yield
        except BaseException:
            self.log_written.clear()  # what the block wrote is undone: forget it too
            self._db.execute("ROLLBACK TO outbox_step")
            self._db.execute("RELEASE outbox_step")
            raise
        self._db.execute("RELEASE outbox_step")

    def claim_outbox_messages(
        self, message_ids: Sequence[str], *, node: str, lease_until: str
    ) -> list[OutboxMessage]:
        """Take the lease on each claimable message of ``message_ids`` in one statement.

        Returns those claimed (with bodies), in ``message_ids`` order; the others had been
        taken (a live lease) or settled meanwhile.
        """
        if not message_ids:
            return []
        # The id list is padded (repeating its last id) to a power of two: a statement per
        # list length would crowd the connection's cache of prepared statements, which the
        # ingest statements live in.
        size = 4
        while size < len(message_ids):
            size *= 2
        padded = [*message_ids, *[message_ids[-1]] * (size - len(message_ids))]
        id_marks = marks(padded)
        # Two statements for the lot (a claim per message was two each). The lease's end
        # tells this claim's rows from ones the node held before.
        claimable = (
            f"id IN ({id_marks}) AND state = 'pending'"
            " AND (lease_until IS NULL OR lease_until <= ?)"
        )
        lock = self._db.skip_locked("o")
        if lock:
            # PostgreSQL, where claims run beside each other (Store.claim): lock the rows
            # taken, passing over those another claim not yet committed holds, rather
            # than waiting for it and then finding them taken.
            claimable = f"id IN (SELECT id FROM outbox_messages AS o WHERE {claimable}{lock})"
        self._db.execute(
            f"UPDATE outbox_messages SET claimed_by = ?, lease_until = ? WHERE {claimable}",
            (node, lease_until, *padded, self.now),
        )
        rows = self._db.fetch_all(
            f"SELECT {MESSAGE_COLS} FROM outbox_messages WHERE id IN ({id_marks})"
            " AND claimed_by = ? AND lease_until = ? AND state = 'pending'",
            (*padded, node, lease_until),
        )
        by_id = {row[0]: _message(row) for row in rows}
        return [by_id[i] for i in message_ids if i in by_id]

    def claim_outbox_message(
        self, message_id: str, *, node: str, lease_until: str
    ) -> OutboxMessage | None:
        """Take the lease on a claimable message and return it (``None``: someone has it)."""
        now = self.now
        changed = self._db.execute(
            "UPDATE outbox_messages SET claimed_by = ?, lease_until = ?"
            " WHERE id = ? AND state = 'pending' AND (lease_until IS NULL OR lease_until <= ?)",
            (node, lease_until, message_id, now),
        )
        return self.outbox_body(message_id) if changed else None

    def record_outbox_attempt(
        self,
        message_id: str,
        *,
        duration_ms: int,
        status_code: int | None,
        error: str | None,
        outcome: str,
        node: str,
    ) -> None:
        """Append one attempt to the message's history and count it."""
        # The attempt's number is the message's count so far plus one (the 1st, 2nd...).
        self._db.execute(
            f"INSERT INTO outbox_attempts ({ATTEMPT_COLS}) SELECT ?, attempts + 1,"
            " ?, ?, ?, ?, ?, ? FROM outbox_messages WHERE id = ?",
            (message_id, self.now, duration_ms, status_code, error, outcome, node, message_id),
        )
        self._db.execute(
            "UPDATE outbox_messages SET attempts = attempts + 1 WHERE id = ?", (message_id,)
        )

    def finish_outbox_message(
        self, message_id: str, *, state: str, error: str | None, node: str | None
    ) -> bool:
        """Settle a pending message as ``delivered`` or ``failed``, releasing its lease.

        With ``node``, only while that node still holds the claim (a node whose lease
        lapsed and was taken over must not settle what the new holder is sending).
        """
        owner = "" if node is None else " AND claimed_by = ?"
        params: tuple[Any, ...] = (state, error, self.now, message_id)
        return bool(
            self._db.execute(
                "UPDATE outbox_messages SET state = ?, last_error = ?, finished_at = ?,"
                " claimed_by = NULL, lease_until = NULL"
                f" WHERE id = ? AND state = 'pending'{owner}",
                params if node is None else (*params, node),
            )
        )

    def reschedule_outbox_message(
        self, message_id: str, *, due_at: str, error: str | None, node: str
    ) -> bool:
        """Put a message back to wait until ``due_at``, releasing the node's lease."""
        return bool(
            self._db.execute(
                "UPDATE outbox_messages SET due_at = ?, last_error = ?,"
                " claimed_by = NULL, lease_until = NULL"
                " WHERE id = ? AND state = 'pending' AND claimed_by = ?",
                (due_at, error, message_id, node),
            )
        )

    def release_outbox_claims(self, node: str) -> int:
        """Release every claim ``node`` holds (a restarted node's leftovers); return how many."""
        return self._db.execute(
            "UPDATE outbox_messages SET claimed_by = NULL, lease_until = NULL"
            " WHERE claimed_by = ? AND state = 'pending'",
            (node,),
        )

    def requeue_outbox_message(self, message_id: str) -> bool:
        """Make a failed (or waiting) message pending and due now, its attempts counted anew."""
        now = self.now
        return bool(
            self._db.execute(
                "UPDATE outbox_messages SET state = 'pending', due_at = ?, attempts = 0,"
                " finished_at = NULL, claimed_by = NULL, lease_until = NULL"
                " WHERE id = ? AND state != 'delivered'",
                (now, message_id),
            )
        )

    def delete_outbox_message(self, message_id: str) -> bool:
        """Remove a message that is not delivered, with its attempts."""
        self._db.execute("DELETE FROM outbox_attempts WHERE message_id = ?", (message_id,))
        return bool(
            self._db.execute(
                "DELETE FROM outbox_messages WHERE id = ? AND state != 'delivered'",
                (message_id,),
            )
        )

    def prune_outbox(self, before: str, limit: int) -> int:
        """Delete up to ``limit`` delivered messages finished before ``before``, attempts too."""
        ids = [
            row[0]
            for row in self._db.fetch_all(
                "SELECT id FROM outbox_messages WHERE state = 'delivered' AND finished_at < ?"
                " ORDER BY finished_at LIMIT ?",
                (before, limit),
            )
        ]
        if not ids:
            return 0
        rows = [(message_id,) for message_id in ids]
        self._db.execute_many("DELETE FROM outbox_attempts WHERE message_id = ?", rows)
        self._db.execute_many("DELETE FROM outbox_messages WHERE id = ?", rows)
        return len(ids)

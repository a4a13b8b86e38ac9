"""A service's forwarding settings (relay mode): where its accepted events go upstream.

One row per service that forwards or has a forwarding setting (``service_forwarding``):
its targets as a JSON array (each ``{id, url, routing_key}``, in order), whether
suppressed events are forwarded too, and whether the configuration file declares them.
The rules are :mod:`gateway.core.forwarding`'s; this module only names the statements.
Read once per accepted event (a primary-key lookup in the writer's transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.domain import ForwardTarget, OutboxEntry, ServiceForwarding
from gateway.store.base import ReadBase, WriteBase, dumps, loads, marks
from gateway.store.outbox import ENTRY_COLS


def _forwarding(service_id: str, row: tuple[Any, ...] | None) -> ServiceForwarding:
    if row is None:
        return ServiceForwarding(service_id, (), False, False)
    targets = tuple(ForwardTarget(t["id"], t["url"], t["routing_key"]) for t in loads(row[0]) or [])
    return ServiceForwarding(service_id, targets, bool(row[1]), bool(row[2]))


class ForwardingReads(ReadBase):
    """A service's forwarding settings."""

    def service_forwarding(self, service_id: str) -> ServiceForwarding:
        """The service's forwarding (no targets when it has no row)."""
        row = self._db.fetch_one(
            "SELECT targets, forward_suppressed, declared FROM service_forwarding"
            " WHERE service_id = ?",
            (service_id,),
        )
        return _forwarding(service_id, row)

    def services_forwarding(self) -> list[ServiceForwarding]:
        """Every service's forwarding row (services that forward, or once did)."""
        rows = self._db.fetch_all(
            "SELECT service_id, targets, forward_suppressed, declared FROM service_forwarding"
            " ORDER BY service_id"
        )
        return [_forwarding(row[0], row[1:]) for row in rows]

    def forward_entries(
        self, target_ids: Sequence[str], states: Sequence[str], *, limit: int
    ) -> list[OutboxEntry]:
        """Forwarded messages of these targets (order keys ``<target id>:…``), oldest first."""
        if not target_ids or not states:
            return []
        # A range per target id: ':' sorts just before ';', so [id:, id;) is the prefix.
        ranges = " OR ".join("(order_key >= ? AND order_key < ?)" for _ in target_ids)
        bounds = [b for t in target_ids for b in (f"{t}:", f"{t};")]
        rows = self._db.fetch_all(
            f"SELECT {ENTRY_COLS} FROM outbox_messages WHERE kind = 'forward'"
            f" AND state IN ({marks(states)}) AND ({ranges}) ORDER BY id LIMIT ?",
            (*states, *bounds, limit),
        )
        return [OutboxEntry(*row) for row in rows]


class ForwardingWrites(ForwardingReads, WriteBase):
    """Replacing a service's forwarding settings."""

    def put_service_forwarding(self, forwarding: ServiceForwarding) -> None:
        """Store a service's forwarding settings, replacing what it had."""
        targets = [
            {"id": t.id, "url": t.url, "routing_key": t.routing_key} for t in forwarding.targets
        ]
        self._db.execute(
            "DELETE FROM service_forwarding WHERE service_id = ?", (forwarding.service_id,)
        )
        self._db.execute(
            "INSERT INTO service_forwarding (service_id, targets, forward_suppressed, declared,"
            " updated_at) VALUES (?, ?, ?, ?, ?)",
            (
                forwarding.service_id,
                dumps(targets),
                int(forwarding.forward_suppressed),
                int(forwarding.declared),
                self.now,
            ),
        )

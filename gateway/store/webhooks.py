"""The SQL of v3 webhook subscriptions: the rows, nothing of their rules.

The rules (what is valid, who may change what, when a subscription is disabled) are
:mod:`gateway.core.webhooks`'s. The producer's lookup (:meth:`WebhookReads.live_webhooks`)
runs in every job that changes incidents, so it reads one small indexed table only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from gateway.domain import OutboxEntry, WebhookSubscription
from gateway.ids import new_object_id
from gateway.store.base import ReadBase, WriteBase, dumps, loads, marks
from gateway.store.outbox import ENTRY_COLS

COLS = (
    "id, name, description, url, custom_headers, events, filter_type, filter_id, active,"
    " temporarily_disabled, consecutive_drops, secret, previous_secret, created_at,"
    " updated_at, source, secret_declared"
)
#: Columns a caller may set through :meth:`WebhookWrites.update_webhook`.
WRITABLE = frozenset(
    {
        "name",
        "description",
        "url",
        "custom_headers",
        "events",
        "filter_type",
        "filter_id",
        "active",
        "temporarily_disabled",
        "consecutive_drops",
        "secret",
        "previous_secret",
        "secret_declared",
    }
)
_JSON = frozenset({"custom_headers", "events"})


#: Decoded live subscriptions by their whole row: the producer asks for them in every job
#: that changes an incident, and decoding (two JSON columns, the dataclass) cost more
#: than the query. Keyed by every column, so any change to a row misses; kept small.
_LIVE: dict[tuple[Any, ...], WebhookSubscription] = {}
_LIVE_MAX = 256


def _live_row(row: tuple[Any, ...]) -> WebhookSubscription:
    key = tuple(row)
    found = _LIVE.get(key)
    if found is None:
        if len(_LIVE) >= _LIVE_MAX:
            _LIVE.clear()
        found = _LIVE[key] = _row(row)
    return found


def _row(row: tuple[Any, ...]) -> WebhookSubscription:
    return WebhookSubscription(
        id=row[0],
        name=row[1],
        description=row[2],
        url=row[3],
        custom_headers=[(str(n), str(v)) for n, v in loads(row[4]) or []],
        events=list(loads(row[5]) or []),
        filter_type=row[6],
        filter_id=row[7],
        active=bool(row[8]),
        temporarily_disabled=bool(row[9]),
        consecutive_drops=int(row[10]),
        secret=row[11],
        previous_secret=row[12],
        created_at=row[13],
        updated_at=row[14],
        source=row[15],
        secret_declared=bool(row[16]),
    )


class WebhookReads(ReadBase):
    """Looking subscriptions up."""

    def webhook(self, subscription_id: str) -> WebhookSubscription | None:
        """One subscription, or ``None``."""
        row = self._db.fetch_one(
            f"SELECT {COLS} FROM webhook_subscriptions WHERE id = ?", (subscription_id,)
        )
        return _row(row) if row else None

    def webhooks(
        self, *, filter_type: str | None = None, filter_id: str | None = None
    ) -> list[WebhookSubscription]:
        """Every subscription (optionally one filter's), oldest first."""
        where: list[str] = []
        params: list[Any] = []
        if filter_type is not None:
            where.append("filter_type = ?")
            params.append(filter_type)
        if filter_id is not None:
            where.append("filter_id = ?")
            params.append(filter_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.fetch_all(
            f"SELECT {COLS} FROM webhook_subscriptions{clause} ORDER BY created_at, id",
            tuple(params),
        )
        return [_row(r) for r in rows]

    def live_webhooks(self, service_ids: Iterable[str]) -> list[WebhookSubscription]:
        """Active, not disabled subscriptions for the whole account or one of ``service_ids``."""
        ids = sorted(set(service_ids))
        id_marks = marks(ids) or "NULL"
        rows = self._db.fetch_all(
            f"SELECT {COLS} FROM webhook_subscriptions"
            " WHERE active = 1 AND temporarily_disabled = 0"
            f" AND (filter_type = 'account_reference' OR filter_id IN ({id_marks}))"
            " ORDER BY id",
            tuple(ids),
        )
        return [_live_row(r) for r in rows]

    def webhook_deliveries(
        self, kind: str, destination: str, *, states: Sequence[str] = (), limit: int = 25
    ) -> list[OutboxEntry]:
        """One destination's messages of ``kind``, newest first (``states`` narrows them)."""
        where = "kind = ? AND destination = ?"
        params: list[Any] = [kind, destination]
        if states:
            where += f" AND state IN ({marks(states)})"
            params.extend(states)
        rows = self._db.fetch_all(
            f"SELECT {ENTRY_COLS} FROM outbox_messages WHERE {where} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [OutboxEntry(*row) for row in rows]

    def webhook_by_name(self, name: str) -> WebhookSubscription | None:
        """The subscription the configuration file calls ``name``, or ``None``."""
        row = self._db.fetch_one(
            f"SELECT {COLS} FROM webhook_subscriptions WHERE name = ? ORDER BY id LIMIT 1",
            (name,),
        )
        return _row(row) if row else None


class WebhookWrites(WebhookReads, WriteBase):
    """Creating, changing and deleting subscriptions."""

    def insert_webhook(self, **fields: Any) -> WebhookSubscription:
        """Store a new subscription; ``fields`` are column names; returns it."""
        subscription_id = new_object_id("P", 6)
        while self.webhook(subscription_id) is not None:  # six characters may clash, rarely
            subscription_id = new_object_id("P", 6)
        values = {k: dumps(v) if k in _JSON else v for k, v in fields.items()}
        values.update(id=subscription_id, created_at=self.now, updated_at=self.now)
        cols = ", ".join(values)
        self._db.execute(
            f"INSERT INTO webhook_subscriptions ({cols}) VALUES ({marks(values)})",
            tuple(values.values()),
        )
        made = self.webhook(subscription_id)
        assert made is not None
        return made

    def update_webhook(self, subscription_id: str, **fields: Any) -> None:
        """Change some columns (:data:`WRITABLE`) of a subscription."""
        unknown = set(fields) - WRITABLE
        if unknown:
            raise ValueError(f"not writable: {sorted(unknown)}")
        if not fields:
            return
        values = {k: dumps(v) if k in _JSON else v for k, v in fields.items()}
        sets = ", ".join(f"{k} = ?" for k in values)
        self._db.execute(
            f"UPDATE webhook_subscriptions SET {sets}, updated_at = ? WHERE id = ?",
            (*values.values(), self.now, subscription_id),
        )

    def count_webhook_drop(self, subscription_id: str, *, limit: int) -> bool:
        """Count one dropped delivery; at ``limit`` in a row disable it (True: disabled now)."""
        self._db.execute(
            "UPDATE webhook_subscriptions SET consecutive_drops = consecutive_drops + 1"
            " WHERE id = ?",
            (subscription_id,),
        )
        return bool(
            self._db.execute(
                "UPDATE webhook_subscriptions SET temporarily_disabled = 1, updated_at = ?"
                " WHERE id = ? AND temporarily_disabled = 0 AND consecutive_drops >= ?",
                (self.now, subscription_id, limit),
            )
        )

    def reset_webhook_drops(self, subscription_id: str) -> None:
        """A delivery succeeded: the count of drops in a row starts again."""
        self._db.execute(
            "UPDATE webhook_subscriptions SET consecutive_drops = 0"
            " WHERE id = ? AND consecutive_drops != 0",
            (subscription_id,),
        )

    def delete_webhook(self, subscription_id: str) -> bool:
        """Remove a subscription and its undelivered messages; False: there was none."""
        self._db.execute(
            "DELETE FROM outbox_attempts WHERE message_id IN (SELECT id FROM outbox_messages"
            " WHERE kind = 'webhook' AND destination = ? AND state != 'delivered')",
            (subscription_id,),
        )
        self._db.execute(
            "DELETE FROM outbox_messages WHERE kind = 'webhook' AND destination = ?"
            " AND state != 'delivered'",
            (subscription_id,),
        )
        return bool(
            self._db.execute("DELETE FROM webhook_subscriptions WHERE id = ?", (subscription_id,))
        )

    def set_declared_webhooks(self, subscription_ids: Iterable[str]) -> None:
        """Mark exactly these subscriptions as declared by the file; others become 'api'."""
        self._db.execute("UPDATE webhook_subscriptions SET source = 'api' WHERE source = 'config'")
        self._db.execute_many(
            "UPDATE webhook_subscriptions SET source = 'config' WHERE id = ?",
            ((i,) for i in subscription_ids),
        )

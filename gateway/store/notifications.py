"""Notifications sent to people: written with their log entry and outbox message, listed by
``GET /notifications`` (newest first, through the ``notifications_started`` index).

A notification's status is its outbox message's state, read through a join; the row
itself never changes once written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.domain import Notification
from gateway.store.base import ReadBase, Where, WriteBase, marks

_COLS = (
    "n.id, n.type, n.started_at, n.address, n.user_id, n.user_name, n.contact_method_id, "
    "n.contact_method_type, n.incident_id, n.service_id, n.log_entry_id, n.message_id, o.state"
)
_FROM = "notifications n LEFT JOIN outbox_messages o ON o.id = n.message_id"
_INSERT = (
    "INSERT INTO notifications (id, type, started_at, address, user_id, user_name, "
    "contact_method_id, contact_method_type, incident_id, service_id, log_entry_id, message_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _row(row: Sequence[Any]) -> Notification:
    return Notification(*row)


class NotificationReads(ReadBase):
    """``GET /notifications``: a time range, optionally one type, paged in SQL."""

    def notifications_page(
        self,
        *,
        since: str,
        until: str,
        types: Sequence[str] = (),
        limit: int,
        offset: int = 0,
    ) -> list[Notification]:
        """Notifications started in ``[since, until)``, newest first."""
        where = _filter(since, until, types)
        rows = self._db.fetch_all(
            f"SELECT {_COLS} FROM {_FROM}{where.sql()} "
            "ORDER BY n.started_at DESC, n.id DESC LIMIT ? OFFSET ?",
            (*where.params, limit, offset),
        )
        return [_row(r) for r in rows]

    def count_notifications(self, *, since: str, until: str, types: Sequence[str] = ()) -> int:
        """How many notifications :meth:`notifications_page` pages through."""
        where = _filter(since, until, types)
        return int(
            self._db.fetch_value(f"SELECT count(*) FROM notifications n{where.sql()}", where.params)
        )

    def incident_notifications(self, incident_id: str) -> list[Notification]:
        """An incident's notifications, oldest first (tests, the incident's page)."""
        rows = self._db.fetch_all(
            f"SELECT {_COLS} FROM {_FROM} WHERE n.incident_id = ? ORDER BY n.started_at, n.id",
            (incident_id,),
        )
        return [_row(r) for r in rows]

    def notified_incidents(
        self, incident_ids: Sequence[str]
    ) -> dict[str, tuple[Any, str, str, str, str, str | None]]:
        """What a notification says of each incident, by id: ``(number, status, urgency,
        created_at, service_id, service name)``; ids of incidents that are gone are absent."""
        if not incident_ids:
            return {}
        # Padded to a power of two (repeating the last id): one prepared statement per
        # size class, not per list length.
        size = 4
        while size < len(incident_ids):
            size *= 2
        padded = (*incident_ids, *[incident_ids[-1]] * (size - len(incident_ids)))
        rows = self._db.fetch_all(
            "SELECT i.id, i.number, i.status, i.urgency, i.created_at, i.service_id, s.name"
            " FROM incidents i LEFT JOIN services s ON s.id = i.service_id"
            f" WHERE i.id IN ({marks(padded)})",
            padded,
        )
        return {str(r[0]): (r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows}


class NotificationWrites(NotificationReads, WriteBase):
    """Recording a notification (in the transaction that enqueues its message)."""

    def insert_notification(
        self,
        *,
        type: str,
        address: str,
        user_id: str,
        user_name: str | None,
        contact_method_id: str | None,
        contact_method_type: str,
        incident_id: str,
        service_id: str | None,
        log_entry_id: str,
        message_id: str | None,
    ) -> str:
        """Write one notification, started now; return its id."""
        return self._insert_new(
            "notifications",
            "N",
            _INSERT,
            (
                type,
                self.now,
                address,
                user_id,
                user_name,
                contact_method_id,
                contact_method_type,
                incident_id,
                service_id,
                log_entry_id,
                message_id,
            ),
        )

    def delete_incident_notifications(self, incident_id: str) -> int:
        """Remove an incident's notifications (retention removes the incident)."""
        return self._db.execute("DELETE FROM notifications WHERE incident_id = ?", (incident_id,))


def _filter(since: str, until: str, types: Sequence[str]) -> Where:
    where = Where()
    where.add("n.started_at >= ?", since)
    where.add("n.started_at < ?", until)
    where.within("n.type", types)
    return where

"""The append-only records: log entries (the timeline) and change events.

Both get ordered ids (:meth:`WriteBase._insert_new`). Log entries keep the order
they were written in through their ``seq`` column, which every read sorts by.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.domain import LogEntry
from gateway.store.base import ReadBase, WriteBase, dumps, loads

LOG_COLS = (
    "id, type, created_at, service_id, integration_id, incident_id, alert_id, agent_type, "
    "agent_id, summary, details"
)
_INSERT_LOG = f"INSERT INTO log_entries ({LOG_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_CHANGE = (
    "INSERT INTO change_events (id, service_id, integration_id, summary, body, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


def log_entry_row(row: Sequence[Any]) -> LogEntry:
    """A :class:`LogEntry` from a row of :data:`LOG_COLS` (details decoded)."""
    return LogEntry(
        id=row[0],
        type=row[1],
        created_at=row[2],
        service_id=row[3],
        integration_id=row[4],
        incident_id=row[5],
        alert_id=row[6],
        agent_type=row[7],
        agent_id=row[8],
        summary=row[9],
        details=loads(row[10]) or {},
    )


class TimelineReads(ReadBase):
    """An incident's or a service's timeline, and single entries."""

    def log_entries(
        self, *, incident_id: str | None = None, service_id: str | None = None
    ) -> list[LogEntry]:
        """Timeline entries for an incident or a service, oldest first."""
        if incident_id:
            where, param = "incident_id = ?", incident_id
        elif service_id:
            where, param = "service_id = ?", service_id
        else:
            raise ValueError("log_entries needs incident_id or service_id")
        rows = self._db.fetch_all(
            f"SELECT {LOG_COLS} FROM log_entries WHERE {where} ORDER BY seq", (param,)
        )
        return [log_entry_row(r) for r in rows]

    def log_entry(self, entry_id: str) -> LogEntry | None:
        """One timeline entry by id."""
        row = self._db.fetch_one(f"SELECT {LOG_COLS} FROM log_entries WHERE id = ?", (entry_id,))
        return log_entry_row(row) if row else None

    def first_log_entry(self, incident_id: str, type: str) -> LogEntry | None:
        """An incident's oldest timeline entry of one type (``trigger_log_entry``…)."""
        row = self._db.fetch_one(
            f"SELECT {LOG_COLS} FROM log_entries WHERE incident_id = ? AND type = ? "
            "ORDER BY seq LIMIT 1",
            (incident_id, type),
        )
        return log_entry_row(row) if row else None

    def latest_log_entry(self, incident_id: str, type: str) -> LogEntry | None:
        """An incident's newest timeline entry of one type (who made its latest change)."""
        row = self._db.fetch_one(
            f"SELECT {LOG_COLS} FROM log_entries WHERE incident_id = ? AND type = ? "
            "ORDER BY seq DESC LIMIT 1",
            (incident_id, type),
        )
        return log_entry_row(row) if row else None

    def count_suppressed_before(self, before: str) -> int:
        """How many suppressed-event records were written before ``before``."""
        return int(
            self._db.fetch_value(
                "SELECT count(*) FROM log_entries "
                "WHERE type = 'suppress_log_entry' AND created_at < ?",
                (before,),
            )
        )

    def count_change_events_before(self, before: str) -> int:
        """How many change events were received before ``before``."""
        return int(
            self._db.fetch_value(
                "SELECT count(*) FROM change_events WHERE created_at < ?", (before,)
            )
        )


class TimelineWrites(TimelineReads, WriteBase):
    """Appending log entries and change events."""

    def insert_log_entry(
        self,
        type: str,
        *,
        service_id: str | None,
        integration_id: str | None,
        incident_id: str | None = None,
        alert_id: str | None = None,
        agent_type: str | None = None,
        agent_id: str | None = None,
        summary: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> str:
        """Append a line to the timeline; return its id."""
        return self._insert_new(
            "log_entries",
            "R",
            _INSERT_LOG,
            (
                type,
                self.now,
                service_id,
                integration_id,
                incident_id,
                alert_id,
                agent_type,
                agent_id,
                summary,
                dumps(details or {}),
            ),
        )

    def insert_change_event(
        self, *, service_id: str, integration_id: str, summary: str, body: dict[str, Any]
    ) -> str:
        """Store a change event; return its id."""
        return self._insert_new(
            "change_events",
            "C",
            _INSERT_CHANGE,
            (service_id, integration_id, summary, dumps(body), self.now),
        )

    # -- retention (gateway/store/retention.py): at most ``limit`` rows per call, oldest first

    def delete_incident_log_entries(self, incident_id: str, limit: int) -> int:
        """Delete up to ``limit`` of an incident's log entries; return how many went."""
        return self._db.execute(
            "DELETE FROM log_entries WHERE seq IN (SELECT seq FROM log_entries "
            "WHERE incident_id = ? ORDER BY seq LIMIT ?)",
            (incident_id, limit),
        )

    def delete_suppressed_before(self, before: str, limit: int) -> int:
        """Delete up to ``limit`` suppressed-event records written before ``before``."""
        return self._db.execute(
            "DELETE FROM log_entries WHERE seq IN (SELECT seq FROM log_entries "
            "WHERE type = 'suppress_log_entry' AND created_at < ? ORDER BY created_at LIMIT ?)",
            (before, limit),
        )

    def delete_change_events_before(self, before: str, limit: int) -> int:
        """Delete up to ``limit`` change events received before ``before``."""
        return self._db.execute(
            "DELETE FROM change_events WHERE id IN (SELECT id FROM change_events "
            "WHERE created_at < ? ORDER BY created_at LIMIT ?)",
            (before, limit),
        )

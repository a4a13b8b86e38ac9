"""The append-only records: log entries (the timeline) and change events.

Both get ordered ids (:meth:`WriteBase._insert_new`). Log entries keep the order
they were written in through their ``seq`` column, which every read sorts by.

An incident's timeline can be long (a flapping alert, or a database from before the
trigger limit of :mod:`gateway.core.trigger_limit`), so what pages and lists show is read
a page or a few entries at a time through the ``log_entries_incident (incident_id, seq)``
index, with ``LIMIT`` in the SQL: no read here but :meth:`TimelineReads.log_entries`
(for tests and tools) loads a whole timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.domain import LogEntry
from gateway.store.base import ReadBase, WriteBase, dumps, loads, marks

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
        """Every timeline entry of an incident or a service, oldest first.

        The whole timeline: for tests, tools and small timelines. Pages use
        :meth:`incident_log_page`.
        """
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

    def incident_log_page(
        self, incident_id: str, *, limit: int, offset: int = 0, newest_first: bool = False
    ) -> list[LogEntry]:
        """At most ``limit`` of an incident's entries after skipping ``offset``, paged in SQL.

        Oldest first, or newest first with ``newest_first`` (the latest entries of a long
        timeline without reading its start).
        """
        order = "DESC" if newest_first else "ASC"
        rows = self._db.fetch_all(
            f"SELECT {LOG_COLS} FROM log_entries WHERE incident_id = ? "
            f"ORDER BY seq {order} LIMIT ? OFFSET ?",
            (incident_id, limit, offset),
        )
        return [log_entry_row(r) for r in rows]

    def count_incident_log_entries(
        self, incident_id: str, *, type: str | None = None, at_most: int | None = None
    ) -> int:
        """How many entries an incident has (of one ``type``), counting no further than
        ``at_most``: "has it reached N?" then costs N index steps, however long the timeline.

        Without ``type`` the count reads the index alone, never the rows.
        """
        where = "incident_id = ?"
        params: list[Any] = [incident_id]
        if type is not None:
            where += " AND type = ?"
            params.append(type)
        if at_most is None:
            sql = f"SELECT count(*) FROM log_entries WHERE {where}"
        else:
            sql = (
                f"SELECT count(*) FROM (SELECT 1 FROM log_entries WHERE {where} LIMIT ?) AS capped"
            )
            params.append(at_most)
        return int(self._db.fetch_value(sql, params))

    def has_log_entries(self, incident_id: str, at_least: int) -> bool:
        """Whether an incident has ``at_least`` entries: a walk of the index alone that
        stops there (the trigger limit's check on every repeated trigger)."""
        row = self._db.fetch_one(
            "SELECT 1 FROM log_entries WHERE incident_id = ? ORDER BY seq LIMIT 1 OFFSET ?",
            (incident_id, at_least - 1),
        )
        return row is not None

    def last_log_entries(self, incident_id: str, type: str, limit: int) -> list[LogEntry]:
        """An incident's newest ``limit`` entries of one type, oldest first."""
        rows = self._db.fetch_all(
            f"SELECT {LOG_COLS} FROM log_entries WHERE incident_id = ? AND type = ? "
            "ORDER BY seq DESC LIMIT ?",
            (incident_id, type, limit),
        )
        return [log_entry_row(r) for r in reversed(rows)]

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

    def edge_log_entries(
        self, incident_ids: Sequence[str], type: str, *, newest: bool = False
    ) -> dict[str, LogEntry]:
        """Each of these incidents' oldest (``newest``: latest) entry of one type, by incident.

        One statement for a page of a list, not one per incident: each incident's entry is
        still found by walking its own ``log_entries_incident`` range until the type
        matches, so a long timeline costs what it did.
        """
        if not incident_ids:
            return {}
        rows = self._db.fetch_all(
            f"SELECT {LOG_COLS} FROM log_entries WHERE seq IN (SELECT (SELECT e.seq "
            "FROM log_entries e WHERE e.incident_id = i.id AND e.type = ? "
            f"ORDER BY e.seq {'DESC' if newest else 'ASC'} LIMIT 1) "
            f"FROM incidents i WHERE i.id IN ({marks(incident_ids)}))",
            (type, *incident_ids),
        )
        return {e.incident_id: e for e in map(log_entry_row, rows) if e.incident_id}

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

    def job_log_entry(self, incident_id: str, type: str, *, first: bool) -> LogEntry | None:
        """An incident's oldest (``first``) or newest log entry of one type, as
        :meth:`first_log_entry` and :meth:`latest_log_entry` return it.

        Served without a query when this job wrote one: the newest then is always this
        job's; the oldest only when the incident has no entry of that type from before
        (the caller knows: the job created it) — ask with ``first`` only then, else the
        table is read.
        """
        rows = self.log_written.get((incident_id, type))
        if rows is not None:
            return log_entry_row(rows[0] if first else rows[1])
        if first:
            return self.first_log_entry(incident_id, type)
        return self.latest_log_entry(incident_id, type)

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
        rest = (
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
        )
        entry_id = self._insert_new("log_entries", "R", _INSERT_LOG, rest)
        if incident_id is not None:
            row = (entry_id, *rest)
            key = (incident_id, type)
            written = self.log_written.get(key)
            self.log_written[key] = (written[0] if written else row, row)
        return entry_id

    def set_log_entry_details(self, entry_id: str, details: dict[str, Any]) -> None:
        """Replace an entry's details (the trigger limit's count of triggers not logged)."""
        self.log_written.clear()  # rare: the next reads go to the table
        self._db.execute(
            "UPDATE log_entries SET details = ? WHERE id = ?", (dumps(details), entry_id)
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

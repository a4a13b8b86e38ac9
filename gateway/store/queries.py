"""SQL behind named methods: :class:`Reader` for queries, :class:`Tx` adds writes.

The core calls these inside the writer's transaction; the REST layer and the
CLI call the :class:`Reader` half on read connections. No SQL lives outside
``gateway/store/``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from gateway.clock import Clock, iso
from gateway.domain import (
    Alert,
    ApiToken,
    Incident,
    Integration,
    LogEntry,
    MaintenanceWindow,
    Service,
    UrgencyRule,
)
from gateway.ids import new_object_id, new_ordered_id
from gateway.model import IncidentChange

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode


def dumps(value: Any) -> str:
    """JSON-encode for a TEXT column."""
    return _json_encode(value).decode()


def loads(text: str | None) -> Any:
    """Decode a JSON TEXT column (``None`` stays ``None``)."""
    return None if text is None else _json_decode(text)


_SERVICE_COLS = (
    "id, name, description, status, alert_creation, urgency, acknowledgement_timeout, "
    "auto_resolve_timeout, alert_grouping, alert_grouping_timeout, escalation_policy_id, "
    "created_at, updated_at, last_incident_timestamp"
)
_INTEGRATION_COLS = (
    "id, service_id, name, type, vendor_id, integration_key, integration_email, settings, "
    "created_at"
)
_INCIDENT_COLS = (
    "id, number, service_id, integration_id, title, status, urgency, incident_key, created_at, "
    "updated_at, last_status_change_at, resolved_at, alert_grouping_key"
)
_ALERT_COLS = (
    "id, incident_id, service_id, integration_id, alert_key, status, severity, summary, body, "
    "created_at, resolved_at"
)
_LOG_COLS = (
    "id, type, created_at, service_id, integration_id, incident_id, alert_id, agent_type, "
    "agent_id, summary, details"
)


_WINDOW_COLS = (
    "id, sequence_number, description, start_time, end_time, created_at, source, created_by"
)
# Incident list orderings by REST ``sort_by`` name (gateway.domain.INCIDENT_SORT_FIELDS);
# urgency sorts high above low.
INCIDENT_ORDER = {
    "incident_number": "number",
    "created_at": "created_at",
    "resolved_at": "resolved_at",
    "urgency": "CASE urgency WHEN 'high' THEN 1 ELSE 0 END",
}
_TOKEN_COLS = "id, name, role, last4, created_at, last_used_at, revoked_at"  # noqa: S105
# The hot path's one lookup: integration, service and maintenance state together.
_ROUTE_SQL = (
    "SELECT "
    + ", ".join(f"i.{c.strip()}" for c in _INTEGRATION_COLS.split(","))
    + ", "
    + ", ".join(f"s.{c.strip()}" for c in _SERVICE_COLS.split(","))
    + ", EXISTS (SELECT 1 FROM maintenance_window_services m "
    "JOIN maintenance_windows w ON w.id = m.window_id WHERE m.service_id = s.id "
    "AND w.start_time <= ? AND w.end_time > ?) "
    "FROM integrations i JOIN services s ON s.id = i.service_id "
    "WHERE i.integration_key = ? AND i.deleted_at IS NULL AND s.deleted_at IS NULL"
)
_INTEGRATION_WIDTH = _INTEGRATION_COLS.count(",") + 1


def _service(row: Sequence[Any]) -> Service:
    return Service(
        id=row[0],
        name=row[1],
        description=row[2],
        status=row[3],
        alert_creation=row[4],
        urgency_rule=UrgencyRule(row[5]),
        acknowledgement_timeout=row[6],
        auto_resolve_timeout=row[7],
        alert_grouping=row[8],
        alert_grouping_timeout=row[9],
        escalation_policy_id=row[10],
        created_at=row[11],
        updated_at=row[12],
        last_incident_timestamp=row[13],
    )


def _integration(row: Sequence[Any]) -> Integration:
    return Integration(
        id=row[0],
        service_id=row[1],
        name=row[2],
        type=row[3],
        vendor_id=row[4],
        integration_key=row[5],
        integration_email=row[6],
        settings=loads(row[7]) or {},
        created_at=row[8],
    )


def _incident(row: Sequence[Any]) -> Incident:
    return Incident(*row)


def _alert(row: Sequence[Any]) -> Alert:
    return Alert(
        id=row[0],
        incident_id=row[1],
        service_id=row[2],
        integration_id=row[3],
        alert_key=row[4],
        status=row[5],
        severity=row[6],
        summary=row[7],
        body=loads(row[8]) or {},
        created_at=row[9],
        resolved_at=row[10],
    )


def _log_entry(row: Sequence[Any]) -> LogEntry:
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


class Reader:
    """Read-only queries over one connection."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock) -> None:
        self.conn = conn
        self.clock = clock

    # -- services and integrations --------------------------------------------------------
    def service(self, service_id: str) -> Service | None:
        """A live (not deleted) service by id."""
        row = self.conn.execute(
            f"SELECT {_SERVICE_COLS} FROM services WHERE id = ? AND deleted_at IS NULL",
            (service_id,),
        ).fetchone()
        return _service(row) if row else None

    def service_by_name(self, name: str) -> Service | None:
        """A live service by its unique name."""
        row = self.conn.execute(
            f"SELECT {_SERVICE_COLS} FROM services WHERE name = ? AND deleted_at IS NULL",
            (name,),
        ).fetchone()
        return _service(row) if row else None

    def services(self) -> list[Service]:
        """Every live service, by name."""
        rows = self.conn.execute(
            f"SELECT {_SERVICE_COLS} FROM services WHERE deleted_at IS NULL ORDER BY name"
        ).fetchall()
        return [_service(r) for r in rows]

    def integration_by_key(self, key: str) -> Integration | None:
        """The live integration that owns ``key`` (deleted ones have no key)."""
        row = self.conn.execute(
            f"SELECT {_INTEGRATION_COLS} FROM integrations WHERE integration_key = ?", (key,)
        ).fetchone()
        return _integration(row) if row else None

    def route(self, key: str, at: str) -> tuple[Integration, Service, bool] | None:
        """Where an event with routing key ``key`` goes, in one query (the hot path).

        Returns the live integration, its live service, and whether a maintenance
        window covers ``at``; ``None`` when no live integration owns the key.
        """
        row = self.conn.execute(_ROUTE_SQL, (at, at, key)).fetchone()
        if row is None:
            return None
        width = _INTEGRATION_WIDTH
        return _integration(row[:width]), _service(row[width:-1]), bool(row[-1])

    def integration_by_email(self, address: str) -> Integration | None:
        """The live integration whose ``integration_email`` is ``address`` (case-insensitive)."""
        row = self.conn.execute(
            f"SELECT {_INTEGRATION_COLS} FROM integrations "
            "WHERE lower(integration_email) = lower(?) AND deleted_at IS NULL",
            (address,),
        ).fetchone()
        return _integration(row) if row else None

    def integration(self, integration_id: str) -> Integration | None:
        """A live integration by id."""
        row = self.conn.execute(
            f"SELECT {_INTEGRATION_COLS} FROM integrations WHERE id = ? AND deleted_at IS NULL",
            (integration_id,),
        ).fetchone()
        return _integration(row) if row else None

    def integrations(self, service_id: str) -> list[Integration]:
        """A service's live integrations, oldest first."""
        rows = self.conn.execute(
            f"SELECT {_INTEGRATION_COLS} FROM integrations "
            "WHERE service_id = ? AND deleted_at IS NULL ORDER BY created_at, id",
            (service_id,),
        ).fetchall()
        return [_integration(r) for r in rows]

    def services_in_maintenance(self, at: str) -> set[str]:
        """Ids of the services that a maintenance window covering ``at`` includes."""
        rows = self.conn.execute(
            "SELECT DISTINCT s.service_id FROM maintenance_window_services s "
            "JOIN maintenance_windows w ON w.id = s.window_id "
            "WHERE w.start_time <= ? AND w.end_time > ?",
            (at, at),
        ).fetchall()
        return {r[0] for r in rows}

    def open_incident_statuses(self, service_id: str | None = None) -> dict[str, set[str]]:
        """For each service with open incidents, which open statuses it has.

        One query for every service (or just ``service_id``), so a service list
        can show PagerDuty's critical/warning status without a query per row.
        """
        sql = "SELECT DISTINCT service_id, status FROM incidents WHERE status != 'resolved'"
        params: tuple[str, ...] = ()
        if service_id is not None:
            sql += " AND service_id = ?"
            params = (service_id,)
        found: dict[str, set[str]] = {}
        for sid, status in self.conn.execute(sql, params).fetchall():
            found.setdefault(sid, set()).add(status)
        return found

    def deleted_integration(self, integration_id: str) -> Integration | None:
        """An integration that was deleted (its key and email released), by id."""
        row = self.conn.execute(
            f"SELECT {_INTEGRATION_COLS} FROM integrations WHERE id = ? AND deleted_at IS NOT NULL",
            (integration_id,),
        ).fetchone()
        return _integration(row) if row else None

    def in_maintenance(self, service_id: str, at: str) -> bool:
        """Whether a maintenance window covering ``at`` includes the service."""
        row = self.conn.execute(
            "SELECT 1 FROM maintenance_window_services s "
            "JOIN maintenance_windows w ON w.id = s.window_id "
            "WHERE s.service_id = ? AND w.start_time <= ? AND w.end_time > ? LIMIT 1",
            (service_id, at, at),
        ).fetchone()
        return row is not None

    def maintenance_windows(self, *, source: str | None = None) -> list[MaintenanceWindow]:
        """Every maintenance window (optionally only those from ``source``), by start time."""
        sql = f"SELECT {_WINDOW_COLS} FROM maintenance_windows"
        params: tuple[Any, ...] = ()
        if source:
            sql += " WHERE source = ?"
            params = (source,)
        rows = self.conn.execute(sql + " ORDER BY start_time, sequence_number", params)
        return [self._window(row) for row in rows.fetchall()]

    def maintenance_window(self, window_id: str) -> MaintenanceWindow | None:
        """One maintenance window by id."""
        row = self.conn.execute(
            f"SELECT {_WINDOW_COLS} FROM maintenance_windows WHERE id = ?", (window_id,)
        ).fetchone()
        return self._window(row) if row else None

    def _window(self, row: Sequence[Any]) -> MaintenanceWindow:
        services = tuple(
            r[0]
            for r in self.conn.execute(
                "SELECT service_id FROM maintenance_window_services WHERE window_id = ? "
                "ORDER BY service_id",
                (row[0],),
            )
        )
        return MaintenanceWindow(
            id=row[0],
            sequence_number=row[1],
            description=row[2],
            start_time=row[3],
            end_time=row[4],
            service_ids=services,
            created_at=row[5],
            source=row[6],
            created_by=row[7],
        )

    # -- incidents and alerts -------------------------------------------------------------
    def incident(self, incident_id: str) -> Incident | None:
        """An incident by id."""
        row = self.conn.execute(
            f"SELECT {_INCIDENT_COLS} FROM incidents WHERE id = ?", (incident_id,)
        ).fetchone()
        return _incident(row) if row else None

    def incidents(
        self,
        *,
        service_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Incident]:
        """Incidents, newest first, optionally by service and status."""
        where, params = [], []
        if service_id:
            where.append("service_id = ?")
            params.append(service_id)
        if status:
            where.append("status = ?")
            params.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.conn.execute(
            f"SELECT {_INCIDENT_COLS} FROM incidents {clause} ORDER BY number DESC "
            "LIMIT ? OFFSET ?",
            (*params, limit, offset),
        ).fetchall()
        return [_incident(r) for r in rows]

    def alerts(self, incident_id: str) -> list[Alert]:
        """An incident's alerts, oldest first."""
        rows = self.conn.execute(
            f"SELECT {_ALERT_COLS} FROM alerts WHERE incident_id = ? ORDER BY created_at, id",
            (incident_id,),
        ).fetchall()
        return [_alert(r) for r in rows]

    def open_alert(self, integration_id: str, alert_key: str) -> Alert | None:
        """The triggered alert with this dedup key on this integration, if any."""
        row = self.conn.execute(
            f"SELECT {_ALERT_COLS} FROM alerts "
            "WHERE integration_id = ? AND alert_key = ? AND status = 'triggered'",
            (integration_id, alert_key),
        ).fetchone()
        return _alert(row) if row else None

    def open_incident_by_key(self, integration_id: str, incident_key: str) -> Incident | None:
        """The open alert-less incident with this key on this integration (create_incidents)."""
        row = self.conn.execute(
            f"SELECT {_INCIDENT_COLS} FROM incidents WHERE integration_id = ? "
            "AND incident_key = ? AND status != 'resolved' AND alert_grouping_key IS NULL",
            (integration_id, incident_key),
        ).fetchone()
        return _incident(row) if row else None

    def grouping_incident(self, service_id: str, grouping_key: str, since: str) -> Incident | None:
        """The newest open incident of a time-grouping bucket created at or after ``since``."""
        row = self.conn.execute(
            f"SELECT {_INCIDENT_COLS} FROM incidents WHERE service_id = ? "
            "AND alert_grouping_key = ? AND status != 'resolved' AND created_at >= ? "
            "ORDER BY created_at DESC LIMIT 1",
            (service_id, grouping_key, since),
        ).fetchone()
        return _incident(row) if row else None

    def open_alert_count(self, incident_id: str) -> int:
        """How many of an incident's alerts are still triggered."""
        (count,) = self.conn.execute(
            "SELECT count(*) FROM alerts WHERE incident_id = ? AND status = 'triggered'",
            (incident_id,),
        ).fetchone()
        return int(count)

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
        rows = self.conn.execute(
            f"SELECT {_LOG_COLS} FROM log_entries WHERE {where} ORDER BY seq", (param,)
        ).fetchall()
        return [_log_entry(r) for r in rows]

    def log_entry(self, entry_id: str) -> LogEntry | None:
        """One timeline entry by id."""
        row = self.conn.execute(
            f"SELECT {_LOG_COLS} FROM log_entries WHERE id = ?", (entry_id,)
        ).fetchone()
        return _log_entry(row) if row else None

    def open_incident_counts(self) -> list[tuple[str, str, int]]:
        """``(service name, status, count)`` for every service with open incidents."""
        rows = self.conn.execute(
            "SELECT s.name, i.status, count(*) FROM incidents i JOIN services s "
            "ON s.id = i.service_id WHERE i.status != 'resolved' GROUP BY s.name, i.status"
        ).fetchall()
        return [(name, status, int(n)) for name, status, n in rows]

    def open_incident_counts_by_service(self) -> dict[str, dict[str, int]]:
        """``{service id: {open status: count}}`` for every service with open incidents."""
        found: dict[str, dict[str, int]] = {}
        for sid, status, n in self.conn.execute(
            "SELECT service_id, status, count(*) FROM incidents WHERE status != 'resolved' "
            "GROUP BY service_id, status"
        ).fetchall():
            found.setdefault(sid, {})[status] = int(n)
        return found

    def incident_by_number(self, number: int) -> Incident | None:
        """An incident by its account-wide number."""
        row = self.conn.execute(
            f"SELECT {_INCIDENT_COLS} FROM incidents WHERE number = ?", (number,)
        ).fetchone()
        return _incident(row) if row else None

    def open_incident_on_service(self, service_id: str, incident_key: str) -> Incident | None:
        """An open incident with this ``incident_key`` on the service, from any source."""
        row = self.conn.execute(
            f"SELECT {_INCIDENT_COLS} FROM incidents WHERE service_id = ? AND incident_key = ? "
            "AND status != 'resolved' LIMIT 1",
            (service_id, incident_key),
        ).fetchone()
        return _incident(row) if row else None

    def search_incidents(
        self,
        *,
        statuses: Sequence[str] = (),
        service_ids: Sequence[str] = (),
        urgencies: Sequence[str] = (),
        incident_key: str | None = None,
        since: str | None = None,
        until: str | None = None,
        order: Sequence[tuple[str, bool]] = (("incident_number", False),),
        limit: int = 25,
        offset: int = 0,
    ) -> tuple[list[Incident], int]:
        """One page of incidents matching every given filter, and how many match in all.

        ``incident_key`` also matches the ``alert_key`` of an incident's alerts
        (PagerDuty's rule); ``since`` is inclusive, ``until`` exclusive, both on
        ``created_at``. ``order`` is ``(INCIDENT_ORDER name, descending)`` pairs;
        the incident number breaks ties so pages never overlap.
        """
        where: list[str] = []
        params: list[Any] = []
        for column, values in (
            ("status", statuses),
            ("service_id", service_ids),
            ("urgency", urgencies),
        ):
            if values:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if incident_key is not None:
            where.append(
                "(incident_key = ? OR EXISTS (SELECT 1 FROM alerts a "
                "WHERE a.incident_id = incidents.id AND a.alert_key = ?))"
            )
            params.extend((incident_key, incident_key))
        if since is not None:
            where.append("created_at >= ?")
            params.append(since)
        if until is not None:
            where.append("created_at < ?")
            params.append(until)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        (total,) = self.conn.execute(f"SELECT count(*) FROM incidents{clause}", params).fetchone()
        terms = [f"{INCIDENT_ORDER[name]} {'DESC' if desc else 'ASC'}" for name, desc in order]
        terms.append("number ASC")
        rows = self.conn.execute(
            f"SELECT {_INCIDENT_COLS} FROM incidents{clause} ORDER BY {', '.join(terms)} "
            "LIMIT ? OFFSET ?",
            (*params, limit, offset),
        ).fetchall()
        return [_incident(r) for r in rows], int(total)

    def alert_counts(self, incident_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """``(triggered, resolved)`` alert counts for each of these incidents that has alerts."""
        if not incident_ids:
            return {}
        rows = self.conn.execute(
            "SELECT incident_id, sum(status = 'triggered'), sum(status = 'resolved') FROM alerts "
            f"WHERE incident_id IN ({', '.join('?' * len(incident_ids))}) GROUP BY incident_id",
            tuple(incident_ids),
        ).fetchall()
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    def first_log_entry(self, incident_id: str, type: str) -> LogEntry | None:
        """An incident's oldest timeline entry of one type (``trigger_log_entry``…)."""
        row = self.conn.execute(
            f"SELECT {_LOG_COLS} FROM log_entries WHERE incident_id = ? AND type = ? "
            "ORDER BY seq LIMIT 1",
            (incident_id, type),
        ).fetchone()
        return _log_entry(row) if row else None

    # -- API tokens --------------------------------------------------------------------------
    def token_by_hash(self, token_hash: str) -> ApiToken | None:
        """The live (not revoked) token with this SHA-256 digest."""
        row = self.conn.execute(
            f"SELECT {_TOKEN_COLS} FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
            (token_hash,),
        ).fetchone()
        return ApiToken(*row) if row else None

    def tokens(self, *, include_revoked: bool = False) -> list[ApiToken]:
        """All tokens, oldest first."""
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        rows = self.conn.execute(
            f"SELECT {_TOKEN_COLS} FROM api_tokens{where} ORDER BY created_at, id"
        ).fetchall()
        return [ApiToken(*row) for row in rows]

    def count(self, table: str) -> int:
        """Row count of one of the store's tables (for tests, checks and benchmarks)."""
        if table not in {
            "services",
            "integrations",
            "incidents",
            "alerts",
            "log_entries",
            "change_events",
            "maintenance_windows",
        }:
            raise ValueError(f"unknown table {table}")
        (n,) = self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(n)


class Tx(Reader):
    """Writes, inside the writer thread's transaction (one savepoint per job).

    ``changes`` collects incident changes for the after-commit hooks; the
    writer drops them if the job's savepoint is rolled back.
    """

    def __init__(self, conn: sqlite3.Connection, clock: Clock) -> None:
        super().__init__(conn, clock)
        self.changes: list[IncidentChange] = []
        self._now: str | None = None

    @property
    def now(self) -> str:
        """The job's timestamp, fixed for the whole job so its rows agree."""
        if self._now is None:
            self._now = iso(self.clock.now())
        return self._now

    def _insert_new(self, table: str, prefix: str, sql: str, rest: tuple[Any, ...]) -> str:
        """INSERT a row whose first column is a new ordered id; return the id.

        Ordered ids are unique within a process; another process writing in the same
        millisecond (the CLI beside the daemon) could, very rarely, pick the same one.
        SQLite then refuses the statement alone, so try the next id.
        """
        clash = f"UNIQUE constraint failed: {table}.id"
        for _ in range(3):
            row_id = new_ordered_id(prefix)
            try:
                self.conn.execute(sql, (row_id, *rest))
            except sqlite3.IntegrityError as exc:
                if str(exc) != clash:
                    raise
                continue
            return row_id
        raise sqlite3.IntegrityError(clash)

    # -- services and integrations --------------------------------------------------------
    def insert_service(self, **fields: Any) -> Service:
        """Create a service; ``fields`` are column names (``urgency`` is the rule's value)."""
        service_id = fields.pop("id", None) or new_object_id()
        fields.setdefault("created_at", self.now)
        fields.setdefault("updated_at", self.now)
        cols = ", ".join(["id", *fields])
        marks = ", ".join("?" * (len(fields) + 1))
        self.conn.execute(
            f"INSERT INTO services ({cols}) VALUES ({marks})", (service_id, *fields.values())
        )
        service = self.service(service_id)
        assert service is not None
        return service

    def update_service(self, service_id: str, **fields: Any) -> None:
        """Change some of a service's columns."""
        if not fields:
            return
        fields["updated_at"] = self.now
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.conn.execute(
            f"UPDATE services SET {sets} WHERE id = ?", (*fields.values(), service_id)
        )

    def insert_integration(
        self,
        *,
        service_id: str,
        name: str,
        type: str,
        vendor_id: str | None,
        integration_key: str | None,
        integration_email: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Integration:
        """Create an integration on a service."""
        integration_id = new_object_id()
        self.conn.execute(
            f"INSERT INTO integrations ({_INTEGRATION_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                integration_id,
                service_id,
                name,
                type,
                vendor_id,
                integration_key,
                integration_email,
                dumps(settings or {}),
                self.now,
            ),
        )
        integration = self.integration(integration_id)
        assert integration is not None
        return integration

    def update_integration(self, integration_id: str, **fields: Any) -> None:
        """Change some of an integration's columns (``settings`` as a dict)."""
        if "settings" in fields:
            fields["settings"] = dumps(fields["settings"])
        if not fields:
            return
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.conn.execute(
            f"UPDATE integrations SET {sets} WHERE id = ?", (*fields.values(), integration_id)
        )

    def delete_integration(self, integration_id: str) -> bool:
        """Soft-delete an integration for good: mark it deleted and release its key and email.

        With the key gone from the row, the routing lookup misses at once and the
        key can never be brought back; incidents and alerts keep their
        ``integration_id``. ``False`` when no live integration has that id.
        """
        cursor = self.conn.execute(
            "UPDATE integrations SET deleted_at = ?, integration_key = NULL, "
            "integration_email = NULL WHERE id = ? AND deleted_at IS NULL",
            (self.now, integration_id),
        )
        return cursor.rowcount == 1

    def delete_service(self, service_id: str) -> list[str]:
        """Soft-delete a service and every live integration on it; return those integrations' ids.

        Incidents, alerts and log entries stay as they are.
        """
        ids = [i.id for i in self.integrations(service_id)]
        for integration_id in ids:
            self.delete_integration(integration_id)
        self.conn.execute(
            "UPDATE services SET deleted_at = ?, updated_at = ? "
            "WHERE id = ? AND deleted_at IS NULL",
            (self.now, self.now, service_id),
        )
        return ids

    def move_integration(self, integration_id: str, to_service_id: str) -> tuple[int, int]:
        """Move an integration, its incidents and their alerts to another service.

        Alerts follow their incident (an incident never spans two services);
        returns ``(incidents moved, alerts moved)``.
        """
        self.conn.execute(
            "UPDATE integrations SET service_id = ? WHERE id = ?", (to_service_id, integration_id)
        )
        alerts = self.conn.execute(
            "UPDATE alerts SET service_id = ? WHERE incident_id IN "
            "(SELECT id FROM incidents WHERE integration_id = ?)",
            (to_service_id, integration_id),
        ).rowcount
        incidents = self.conn.execute(
            "UPDATE incidents SET service_id = ? WHERE integration_id = ?",
            (to_service_id, integration_id),
        ).rowcount
        return incidents, alerts

    def replace_config_windows(
        self, windows: Iterable[tuple[str | None, str, str, list[str]]]
    ) -> None:
        """Replace every maintenance window that came from the configuration file."""
        self.conn.execute("DELETE FROM maintenance_windows WHERE source = 'config'")
        for description, start, end, service_ids in windows:
            self.insert_maintenance_window(description, start, end, service_ids, source="config")

    def insert_maintenance_window(
        self,
        description: str | None,
        start: str,
        end: str,
        service_ids: Iterable[str],
        *,
        source: str = "api",
        created_by: str | None = None,
    ) -> str:
        """Create a maintenance window over some services; return its id."""
        window_id = new_object_id()
        (seq,) = self.conn.execute(
            "SELECT coalesce(max(sequence_number), 0) + 1 FROM maintenance_windows"
        ).fetchone()
        self.conn.execute(
            "INSERT INTO maintenance_windows (id, sequence_number, description, start_time, "
            "end_time, created_at, source, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (window_id, seq, description, start, end, self.now, source, created_by),
        )
        self.conn.executemany(
            "INSERT INTO maintenance_window_services (window_id, service_id) VALUES (?, ?)",
            [(window_id, s) for s in service_ids],
        )
        return window_id

    # -- incidents and alerts -------------------------------------------------------------
    def insert_incident(
        self,
        *,
        service: Service,
        integration_id: str | None,
        title: str,
        urgency: str,
        incident_key: str | None,
        alert_grouping_key: str | None = None,
    ) -> Incident:
        """Open a triggered incident with the next incident number."""
        (number,) = self.conn.execute(
            "SELECT coalesce(max(number), 0) + 1 FROM incidents"
        ).fetchone()
        now = self.now
        incident_id = self._insert_new(
            "incidents",
            "Q",
            f"INSERT INTO incidents ({_INCIDENT_COLS}) "
            "VALUES (?, ?, ?, ?, ?, 'triggered', ?, ?, ?, ?, ?, NULL, ?)",
            (
                number,
                service.id,
                integration_id,
                title,
                urgency,
                incident_key,
                now,
                now,
                now,
                alert_grouping_key,
            ),
        )
        self.conn.execute(
            "UPDATE services SET last_incident_timestamp = ? WHERE id = ?", (now, service.id)
        )
        incident = Incident(
            id=incident_id,
            number=number,
            service_id=service.id,
            integration_id=integration_id,
            title=title,
            status="triggered",
            urgency=urgency,  # type: ignore[arg-type]  # checked by the table's CHECK
            incident_key=incident_key,
            created_at=now,
            updated_at=now,
            last_status_change_at=now,
            resolved_at=None,
            alert_grouping_key=alert_grouping_key,
        )
        self._record_change(incident, None, "trigger")
        return incident

    def set_incident_status(self, incident: Incident, status: str, action: str) -> Incident:
        """Move an incident to ``status`` and record the change for observers."""
        now = self.now
        self.conn.execute(
            "UPDATE incidents SET status = ?, updated_at = ?, last_status_change_at = ?, "
            "resolved_at = ? WHERE id = ?",
            (status, now, now, now if status == "resolved" else None, incident.id),
        )
        updated = self.incident(incident.id)
        assert updated is not None
        self._record_change(updated, incident.status, action)
        return updated

    def touch_incident(self, incident_id: str) -> None:
        """Mark an incident updated without a status change."""
        self.conn.execute(
            "UPDATE incidents SET updated_at = ? WHERE id = ?", (self.now, incident_id)
        )

    def insert_alert(
        self,
        *,
        incident: Incident,
        integration_id: str | None,
        alert_key: str,
        severity: str | None,
        summary: str,
        body: dict[str, Any],
    ) -> Alert:
        """Add a triggered alert to an incident."""
        alert_id = self._insert_new(
            "alerts",
            "A",
            f"INSERT INTO alerts ({_ALERT_COLS}) VALUES (?, ?, ?, ?, ?, 'triggered', ?, ?, ?, ?, "
            "NULL)",
            (
                incident.id,
                incident.service_id,
                integration_id,
                alert_key,
                severity,
                summary,
                dumps(body),
                self.now,
            ),
        )
        return Alert(
            alert_id,
            incident.id,
            incident.service_id,
            integration_id,
            alert_key,
            "triggered",
            severity,
            summary,
            body,
            self.now,
            None,
        )

    def refresh_alert(
        self, alert: Alert, *, severity: str | None, summary: str, body: dict[str, Any]
    ) -> None:
        """A re-trigger: the open alert shows the newest summary, severity and details."""
        self.conn.execute(
            "UPDATE alerts SET severity = ?, summary = ?, body = ? WHERE id = ?",
            (severity, summary, dumps(body), alert.id),
        )

    def resolve_alert(self, alert: Alert) -> None:
        """Mark an alert resolved."""
        self.conn.execute(
            "UPDATE alerts SET status = 'resolved', resolved_at = ? WHERE id = ?",
            (self.now, alert.id),
        )

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
            f"INSERT INTO log_entries ({_LOG_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            "INSERT INTO change_events (id, service_id, integration_id, summary, body, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (service_id, integration_id, summary, dumps(body), self.now),
        )

    def update_maintenance_window(
        self, window_id: str, *, service_ids: Iterable[str] | None = None, **fields: Any
    ) -> None:
        """Change a window's ``description``/``start_time``/``end_time`` and/or its services."""
        if fields:
            sets = ", ".join(f"{k} = ?" for k in fields)
            self.conn.execute(
                f"UPDATE maintenance_windows SET {sets} WHERE id = ?",
                (*fields.values(), window_id),
            )
        if service_ids is not None:
            self.conn.execute(
                "DELETE FROM maintenance_window_services WHERE window_id = ?", (window_id,)
            )
            self.conn.executemany(
                "INSERT INTO maintenance_window_services (window_id, service_id) VALUES (?, ?)",
                [(window_id, s) for s in dict.fromkeys(service_ids)],
            )

    def delete_maintenance_window(self, window_id: str) -> bool:
        """Remove a window and its service links; ``False`` when there was none."""
        cursor = self.conn.execute("DELETE FROM maintenance_windows WHERE id = ?", (window_id,))
        return cursor.rowcount == 1

    def _record_change(self, incident: Incident, previous: str | None, action: str) -> None:
        self.changes.append(
            IncidentChange(
                incident_id=incident.id,
                incident_number=incident.number,
                service_id=incident.service_id,
                status=incident.status,
                previous_status=previous,
                title=incident.title,
                urgency=incident.urgency,
                action=action,
                at=self.now,
            )
        )

    # -- API tokens --------------------------------------------------------------------------
    def insert_token(self, *, name: str, role: str, token_hash: str, last4: str) -> ApiToken:
        """Store a new token's digest."""
        token_id = new_object_id()
        self.conn.execute(
            "INSERT INTO api_tokens (id, name, role, token_hash, last4, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (token_id, name, role, token_hash, last4, self.now),
        )
        return ApiToken(token_id, name, role, last4, self.now, None, None)

    def revoke_token(self, token_id: str) -> bool:
        """Revoke a token by id; ``False`` when no live token has that id."""
        cursor = self.conn.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (self.now, token_id),
        )
        return cursor.rowcount == 1

"""Incidents and their alerts: the lookups the rules make per event, and the writes.

Every incident status change is recorded in ``Tx.changes`` (the ``incident_changed``
hooks hear of it after the commit). Listing and counting incidents for the REST API
and the UI is in :mod:`gateway.store.incident_lists`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.domain import Alert, Incident, Service
from gateway.model import IncidentChange
from gateway.store.base import ReadBase, WriteBase, dumps, loads

INCIDENT_COLS = (
    "id, number, service_id, integration_id, title, status, urgency, incident_key, created_at, "
    "updated_at, last_status_change_at, resolved_at, alert_grouping_key"
)
ALERT_COLS = (
    "id, incident_id, service_id, integration_id, alert_key, status, severity, summary, body, "
    "created_at, resolved_at"
)
# The statements the rules run for every event are built once, not per call.
_BY_ID = f"SELECT {INCIDENT_COLS} FROM incidents WHERE id = ?"
_OPEN_ALERT = (
    f"SELECT {ALERT_COLS} FROM alerts "
    "WHERE integration_id = ? AND alert_key = ? AND status = 'triggered'"
)
_OPEN_BY_KEY = (
    f"SELECT {INCIDENT_COLS} FROM incidents WHERE integration_id = ? "
    "AND incident_key = ? AND status != 'resolved' AND alert_grouping_key IS NULL"
)
_GROUPING = (
    f"SELECT {INCIDENT_COLS} FROM incidents WHERE service_id = ? "
    "AND alert_grouping_key = ? AND status != 'resolved' AND created_at >= ? "
    "ORDER BY created_at DESC LIMIT 1"
)
_INSERT_INCIDENT = (
    f"INSERT INTO incidents ({INCIDENT_COLS}) "
    "VALUES (?, ?, ?, ?, ?, 'triggered', ?, ?, ?, ?, ?, NULL, ?)"
)
_INSERT_ALERT = (
    f"INSERT INTO alerts ({ALERT_COLS}) VALUES (?, ?, ?, ?, ?, 'triggered', ?, ?, ?, ?, NULL)"
)


# Resolved before the cutoff (the one parameter), and not the highest number (see
# ``expired_incidents``). Written so the partial index ``incidents_resolved`` serves it.
_EXPIRED = (
    "WHERE status = 'resolved' AND resolved_at < ? AND number < (SELECT max(number) FROM incidents)"
)


def incident_row(row: Sequence[Any]) -> Incident:
    """An :class:`Incident` from a row of :data:`INCIDENT_COLS` (same order as its fields)."""
    return Incident(*row)


def alert_row(row: Sequence[Any]) -> Alert:
    """An :class:`Alert` from a row of :data:`ALERT_COLS` (body decoded)."""
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


class IncidentReads(ReadBase):
    """One incident or alert: by id, by number, by dedup key, by grouping bucket."""

    def incident(self, incident_id: str) -> Incident | None:
        """An incident by id."""
        row = self._db.fetch_one(_BY_ID, (incident_id,))
        return incident_row(row) if row else None

    def incident_by_number(self, number: int) -> Incident | None:
        """An incident by its account-wide number."""
        row = self._db.fetch_one(
            f"SELECT {INCIDENT_COLS} FROM incidents WHERE number = ?", (number,)
        )
        return incident_row(row) if row else None

    def alerts(self, incident_id: str) -> list[Alert]:
        """An incident's alerts, oldest first."""
        rows = self._db.fetch_all(
            f"SELECT {ALERT_COLS} FROM alerts WHERE incident_id = ? ORDER BY created_at, id",
            (incident_id,),
        )
        return [alert_row(r) for r in rows]

    def open_alert(self, integration_id: str, alert_key: str) -> Alert | None:
        """The triggered alert with this dedup key on this integration, if any."""
        row = self._db.fetch_one(_OPEN_ALERT, (integration_id, alert_key))
        return alert_row(row) if row else None

    def open_incident_by_key(self, integration_id: str, incident_key: str) -> Incident | None:
        """The open alert-less incident with this key on this integration (create_incidents)."""
        row = self._db.fetch_one(_OPEN_BY_KEY, (integration_id, incident_key))
        return incident_row(row) if row else None

    def open_incident_on_service(self, service_id: str, incident_key: str) -> Incident | None:
        """An open incident with this ``incident_key`` on the service, from any source."""
        row = self._db.fetch_one(
            f"SELECT {INCIDENT_COLS} FROM incidents WHERE service_id = ? AND incident_key = ? "
            "AND status != 'resolved' LIMIT 1",
            (service_id, incident_key),
        )
        return incident_row(row) if row else None

    def grouping_incident(self, service_id: str, grouping_key: str, since: str) -> Incident | None:
        """The newest open incident of a time-grouping bucket created at or after ``since``."""
        row = self._db.fetch_one(_GROUPING, (service_id, grouping_key, since))
        return incident_row(row) if row else None

    def open_alert_count(self, incident_id: str) -> int:
        """How many of an incident's alerts are still triggered."""
        count = self._db.fetch_value(
            "SELECT count(*) FROM alerts WHERE incident_id = ? AND status = 'triggered'",
            (incident_id,),
        )
        return int(count)

    # -- retention (gateway/store/retention.py) ---------------------------------------------

    def expired_incidents(self, before: str, limit: int) -> list[str]:
        """Ids of up to ``limit`` incidents resolved before ``before``, oldest first.

        Never an open incident; never the highest-numbered one, which stays whatever its
        age so that the next incident number (``max() + 1``) is never handed out twice.
        """
        rows = self._db.fetch_all(
            f"SELECT id FROM incidents {_EXPIRED} ORDER BY resolved_at LIMIT ?", (before, limit)
        )
        return [row[0] for row in rows]

    def count_expired(self, before: str) -> tuple[int, int, int]:
        """``(incidents, alerts, log entries)`` that :meth:`expired_incidents` would free."""
        expired = f"SELECT id FROM incidents {_EXPIRED}"
        incidents = self._db.fetch_value(f"SELECT count(*) FROM ({expired}) e", (before,))
        alerts = self._db.fetch_value(
            f"SELECT count(*) FROM alerts WHERE incident_id IN ({expired})", (before,)
        )
        entries = self._db.fetch_value(
            f"SELECT count(*) FROM log_entries WHERE incident_id IN ({expired})", (before,)
        )
        return int(incidents), int(alerts), int(entries)


class IncidentWrites(IncidentReads, WriteBase):
    """Opening incidents, moving their status, adding and resolving alerts."""

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
        # max() + 1 is safe: the job holds the write lock until it commits (see seam.py).
        number = self._db.fetch_value("SELECT coalesce(max(number), 0) + 1 FROM incidents")
        now = self.now
        incident_id = self._insert_new(
            "incidents",
            "Q",
            _INSERT_INCIDENT,
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
        self._db.execute(
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
        self._db.execute(
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
        self._db.execute(
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
            _INSERT_ALERT,
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
        self._db.execute(
            "UPDATE alerts SET severity = ?, summary = ?, body = ? WHERE id = ?",
            (severity, summary, dumps(body), alert.id),
        )

    def resolve_alert(self, alert: Alert) -> None:
        """Mark an alert resolved."""
        self._db.execute(
            "UPDATE alerts SET status = 'resolved', resolved_at = ? WHERE id = ?",
            (self.now, alert.id),
        )

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

    def delete_incident_alerts(self, incident_id: str, limit: int) -> int:
        """Delete up to ``limit`` alerts of an incident (retention); return how many went."""
        return self._db.execute(
            "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE incident_id = ? LIMIT ?)",
            (incident_id, limit),
        )

    def delete_resolved_incident(self, incident_id: str) -> int:
        """Delete a resolved incident once nothing refers to it any more (retention).

        Returns 1, or 0 when it is open or still has alerts (their foreign key).
        """
        return self._db.execute(
            "DELETE FROM incidents WHERE id = ? AND status = 'resolved' "
            "AND NOT EXISTS (SELECT 1 FROM alerts WHERE incident_id = ?)",
            (incident_id, incident_id),
        )

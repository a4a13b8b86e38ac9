"""PagerDuty's incident, alert, log entry and reference objects, rendered for the REST API.

Shared by the incidents and maintenance-window resources. These helpers read
the objects an answer refers to (a service's or an integration's name for a
reference), nothing more: no rule is involved, and a deleted service or
integration still renders, with a null summary.
"""

from __future__ import annotations

from typing import Any

from gateway.core.incident_reads import IncidentDetails
from gateway.domain import Alert, Incident, LogEntry
from gateway.http.rest._common import api_url, html_url, reference
from gateway.store import Reader

__all__ = [
    "agent_reference",
    "alert_object",
    "incident_object",
    "log_entry_object",
    "service_reference",
]


def service_reference(reader: Reader, service_id: str) -> dict[str, Any]:
    """A ``service_reference``; a deleted service keeps its last name as the summary, as
    PagerDuty keeps it, so its incidents stay readable."""
    return reference(
        "service", service_id, reader.service_name(service_id), f"/services/{service_id}"
    )


def agent_reference(reader: Reader, agent: tuple[str | None, str | None]) -> dict[str, Any] | None:
    """Who did something: a user (the ``From`` address) or an integration."""
    kind, ident = agent
    if ident is None:
        return None
    if kind == "integration":
        # A deleted integration is still named, and still points where it lived.
        integration = reader.integration(ident) or reader.deleted_integration(ident)
        path = f"/services/{integration.service_id}/integrations/{ident}" if integration else ""
        return reference(
            "inbound_integration", ident, integration.name if integration else None, path
        )
    # The gateway has no user objects: the From address is the user's id and name.
    return {"id": ident, "type": "user_reference", "summary": ident, "self": None, "html_url": None}


def _incident_reference(incident: Incident) -> dict[str, Any]:
    return reference("incident", incident.id, _summary(incident), f"/incidents/{incident.id}")


def _summary(incident: Incident) -> str:
    return f"[#{incident.number}] {incident.title}"


def log_entry_object(reader: Reader, entry: LogEntry, incident: Incident | None) -> dict[str, Any]:
    """A log entry as PagerDuty shapes it (``trigger_log_entry``, ``acknowledge_log_entry``…).

    ``incident`` is ``None`` for a service-level entry (an event suppressed by a disabled
    service or a maintenance window opened no incident).
    """
    details = {k: v for k, v in entry.details.items() if k not in ("channel", "incident_body")}
    if entry.agent_type == "integration":
        channel: dict[str, Any] = {"type": "api", "summary": entry.summary, "details": details}
    else:
        channel = {"type": entry.details.get("channel", "api"), "summary": entry.summary}
    # The incident's service (it follows a moved integration), else the entry's own.
    service_id = incident.service_id if incident else entry.service_id
    return {
        "id": entry.id,
        "type": entry.type,
        "summary": entry.summary,
        "self": api_url(f"/log_entries/{entry.id}"),
        "html_url": None,
        "created_at": entry.created_at,
        "agent": agent_reference(reader, (entry.agent_type, entry.agent_id)),
        "channel": channel,
        "service": service_reference(reader, service_id) if service_id else None,
        "incident": _incident_reference(incident) if incident else None,
        "teams": [],
        "contexts": [],
    }


def incident_object(
    reader: Reader, details: IncidentDetails, include: set[str] | frozenset[str] = frozenset()
) -> dict[str, Any]:
    """An incident as PagerDuty shapes it.

    ``include`` may hold ``body`` and ``first_trigger_log_entries`` (a full entry).
    """
    incident = details.incident
    first = details.first_trigger_log_entry
    first_ref: dict[str, Any] | None = None
    if first is not None:
        first_ref = (
            log_entry_object(reader, first, incident)
            if "first_trigger_log_entries" in include
            else {
                "id": first.id,
                "type": "trigger_log_entry_reference",
                "summary": first.summary,
                "self": None,
                "html_url": None,
            }
        )
    obj: dict[str, Any] = {
        "id": incident.id,
        "type": "incident",
        "summary": _summary(incident),
        "self": api_url(f"/incidents/{incident.id}"),
        "html_url": html_url(f"/incidents/{incident.id}"),
        "incident_number": incident.number,
        "title": incident.title,
        "description": incident.title,
        "created_at": incident.created_at,
        "updated_at": incident.updated_at,
        "status": incident.status,
        "incident_key": incident.incident_key,
        "service": service_reference(reader, incident.service_id),
        "assignments": [],
        "assigned_via": None,
        "acknowledgements": [
            {"at": at, "acknowledger": agent_reference(reader, agent)}
            for at, agent in details.acknowledgements
        ],
        "last_status_change_at": incident.last_status_change_at,
        "last_status_change_by": agent_reference(reader, details.last_status_change_by),
        "resolved_at": incident.resolved_at,
        "first_trigger_log_entry": first_ref,
        "alert_counts": details.alert_counts,
        "is_mergeable": True,
        "incident_type": {"name": "incident_default"},
        "escalation_policy": None,
        "teams": [],
        "pending_actions": [],
        "priority": None,
        "resolve_reason": None,
        "conference_bridge": None,
        "alert_grouping": None,
        "urgency": incident.urgency,
    }
    if "body" in include:
        obj["body"] = details.body or {"type": "incident_body", "details": None}
    return obj


def _contexts(body: dict[str, Any]) -> list[dict[str, Any]]:
    links = [{"type": "link", **link} for link in body.get("links") or [] if isinstance(link, dict)]
    images = [{"type": "image", **i} for i in body.get("images") or [] if isinstance(i, dict)]
    return links + images


def alert_object(reader: Reader, alert: Alert, incident: Incident) -> dict[str, Any]:
    """An alert as PagerDuty shapes it; ``body.cef_details`` holds the stored PD-CEF event."""
    path = f"/incidents/{incident.id}/alerts/{alert.id}"
    integration = None
    if alert.integration_id:
        integration = agent_reference(reader, ("integration", alert.integration_id))
    return {
        "id": alert.id,
        "type": "alert",
        "summary": alert.summary,
        "self": api_url(path),
        "html_url": html_url(path),
        "created_at": alert.created_at,
        "status": alert.status,
        "resolved_at": alert.resolved_at,
        "alert_key": alert.alert_key,
        "service": service_reference(reader, alert.service_id),
        "incident": _incident_reference(incident),
        "suppressed": False,
        "severity": alert.severity,
        "integration": integration,
        "body": {
            "type": "alert_body",
            "contexts": _contexts(alert.body),
            "details": alert.body.get("custom_details"),
            "cef_details": alert.body,
        },
    }

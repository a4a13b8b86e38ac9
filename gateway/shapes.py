"""PagerDuty's objects as JSON: incidents, alerts, log entries, services and references.

One renderer for every face that speaks PagerDuty's shapes: the REST API
(:mod:`gateway.http.rest.bodies` and ``services`` call these with the request's
base URL) and the v3 webhook payloads (:mod:`gateway.core.webhooks`, with
``[server] public_url``). The functions read the objects an answer refers to (a
service's or an integration's name for a reference), nothing more: no rule is
involved, and a deleted service or integration still renders, with a null summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.core.incident_reads import IncidentDetails
from gateway.core.service_reads import ServiceDetails
from gateway.domain import Alert, Incident, Integration, LogEntry, Notification
from gateway.store import Reader

__all__ = [
    "Urls",
    "agent_reference",
    "alert_object",
    "incident_object",
    "incident_reference",
    "integration_path",
    "integration_ref",
    "log_entry_object",
    "notification_object",
    "reference",
    "service_object",
    "service_reference",
    "user_reference",
]


@dataclass(frozen=True, slots=True)
class Urls:
    """Where this gateway's objects live: ``self`` links and ``html_url`` (its web UI)."""

    base: str

    def api(self, path: str) -> str:
        """``self`` of the object at ``path`` (which starts with ``/``)."""
        return self.base.rstrip("/") + path

    def html(self, path: str) -> str:
        """``html_url``: the object's page in the web UI."""
        return self.base.rstrip("/") + "/ui" + path


#: Where escalation policies live in the REST API.
POLICIES = "/escalation_policies"


def reference(
    urls: Urls, kind: str, object_id: str, summary: str | None, path: str
) -> dict[str, Any]:
    """A PagerDuty reference ``{id, type: <kind>_reference, summary, self, html_url}``."""
    return {
        "id": object_id,
        "type": f"{kind}_reference",
        "summary": summary,
        "self": urls.api(path),
        "html_url": urls.html(path),
    }


def service_reference(urls: Urls, reader: Reader, service_id: str) -> dict[str, Any]:
    """A ``service_reference``; a deleted service keeps its last name as the summary, as
    PagerDuty keeps it, so its incidents stay readable."""
    name = reader.service_name(service_id)
    return reference(urls, "service", service_id, name, f"/services/{service_id}")


def agent_reference(
    urls: Urls, reader: Reader, agent: tuple[str | None, str | None]
) -> dict[str, Any] | None:
    """Who did something: a user (the ``From`` address), an integration or a service."""
    kind, ident = agent
    if ident is None:
        return None
    if kind == "integration":
        # A deleted integration is still named, and still points where it lived.
        integration = reader.integration(ident) or reader.deleted_integration(ident)
        path = f"/services/{integration.service_id}/integrations/{ident}" if integration else ""
        return reference(
            urls, "inbound_integration", ident, integration.name if integration else None, path
        )
    if kind == "service":
        # A timeout's own action (an auto-resolution, an acknowledgement timeout).
        service = reader.service(ident) or reader.deleted_service(ident)
        return reference(
            urls, "service", ident, service.name if service else None, f"/services/{ident}"
        )
    # The gateway has no user objects: the From address is the user's id and name.
    return {"id": ident, "type": "user_reference", "summary": ident, "self": None, "html_url": None}


def incident_reference(urls: Urls, incident: Incident) -> dict[str, Any]:
    """An ``incident_reference`` (summary ``[#number] title``)."""
    return reference(urls, "incident", incident.id, _summary(incident), f"/incidents/{incident.id}")


def _summary(incident: Incident) -> str:
    return f"[#{incident.number}] {incident.title}"


def log_entry_object(
    urls: Urls, reader: Reader, entry: LogEntry, incident: Incident | None
) -> dict[str, Any]:
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
    extra: dict[str, Any] = {}
    if entry.type == "notify_log_entry":
        # Who was told, and how: the channel carries the notification, as PagerDuty's does.
        user = user_reference(urls, entry.details.get("user") or {})
        message_id = entry.details.get("message_id")
        message = reader.outbox_entry(message_id) if message_id else None
        channel["notification"] = {
            **(entry.details.get("notification") or {}),
            "started_at": entry.created_at,
            "status": message.state if message else None,
            "user": user,
        }
        channel["user"] = user
        extra["user"] = user
    return {
        "id": entry.id,
        "type": entry.type,
        "summary": entry.summary,
        "self": urls.api(f"/log_entries/{entry.id}"),
        "html_url": None,
        "created_at": entry.created_at,
        "agent": agent_reference(urls, reader, (entry.agent_type, entry.agent_id)),
        "channel": channel,
        "service": service_reference(urls, reader, service_id) if service_id else None,
        "incident": incident_reference(urls, incident) if incident else None,
        "teams": [],
        "contexts": [],
        **extra,
        **({"note": entry.details.get("content")} if entry.type == "annotate_log_entry" else {}),
    }


def user_reference(urls: Urls, user: dict[str, Any]) -> dict[str, Any]:
    """A ``user_reference`` from stored ``{id, name}`` (the name as it was when written)."""
    user_id = str(user.get("id") or "")
    return reference(urls, "user", user_id, user.get("name"), f"/users/{user_id}")


def notification_object(
    urls: Urls, notification: Notification, *, full_user: bool = False
) -> dict[str, Any]:
    """A notification as ``GET /notifications`` lists it (``full_user``: ``include[]=users``).

    ``status`` is its delivery's state (``pending``, ``delivered``, ``failed``), ``null``
    once the delivery queue no longer keeps it.
    """
    user = user_reference(urls, {"id": notification.user_id, "name": notification.user_name})
    if full_user:
        user = {**user, "type": "user", "name": notification.user_name}
    return {
        "id": notification.id,
        "type": notification.type,
        "started_at": notification.started_at,
        "address": notification.address,
        "user": user,
        "status": notification.status,
    }


def note_object(urls: Urls, reader: Reader, entry: LogEntry, incident: Incident) -> dict[str, Any]:
    """A note (an ``annotate_log_entry``) as PagerDuty's ``IncidentNote``."""
    return {
        "id": entry.id,
        "type": "incident_note",
        "user": agent_reference(urls, reader, (entry.agent_type, entry.agent_id)),
        "channel": {"summary": entry.details.get("channel", "api")},
        "content": entry.details.get("content", ""),
        "created_at": entry.created_at,
        "updated_at": entry.created_at,
        "incident": incident_reference(urls, incident),
        "trimmed": False,
    }


def incident_object(
    urls: Urls,
    reader: Reader,
    details: IncidentDetails,
    include: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """An incident as PagerDuty's REST API shapes it.

    ``include`` may hold ``body`` and ``first_trigger_log_entries`` (a full entry).
    """
    incident = details.incident
    first = details.first_trigger_log_entry
    first_ref: dict[str, Any] | None = None
    if first is not None:
        first_ref = (
            log_entry_object(urls, reader, first, incident)
            if "first_trigger_log_entries" in include
            else {
                "id": first.id,
                "type": "trigger_log_entry_reference",
                "summary": first.summary,
                "self": None,
                "html_url": None,
            }
        )
    obj = incident_core(urls, reader, incident)
    obj.update(
        {
            "incident_number": incident.number,
            "description": incident.title,
            "updated_at": incident.updated_at,
            "assigned_via": None,
            "acknowledgements": [
                {"at": at, "acknowledger": agent_reference(urls, reader, agent)}
                for at, agent in details.acknowledgements
            ],
            "last_status_change_at": incident.last_status_change_at,
            "last_status_change_by": agent_reference(urls, reader, details.last_status_change_by),
            "resolved_at": incident.resolved_at,
            "first_trigger_log_entry": first_ref,
            "alert_counts": details.alert_counts,
            "is_mergeable": True,
            "incident_type": {"name": "incident_default"},
            "pending_actions": [{"type": kind, "at": at} for kind, at in details.pending_actions],
            "alert_grouping": None,
        }
    )
    obj["assignments"] = obj.pop("assignees")
    del obj["number"]  # the REST object names it incident_number
    if "body" in include:
        obj["body"] = details.body or {"type": "incident_body", "details": None}
    return obj


def incident_core(urls: Urls, reader: Reader, incident: Incident) -> dict[str, Any]:
    """The fields of an incident both its REST object and a v3 webhook's ``data`` carry.

    This is the webhook ``data`` as it is (``number``, ``assignees``); the REST object
    adds its own fields (:func:`incident_object`).
    """
    return {
        "id": incident.id,
        "type": "incident",
        "summary": _summary(incident),
        "self": urls.api(f"/incidents/{incident.id}"),
        "html_url": urls.html(f"/incidents/{incident.id}"),
        "number": incident.number,
        "status": incident.status,
        "incident_key": incident.incident_key,
        "created_at": incident.created_at,
        "title": incident.title,
        "service": service_reference(urls, reader, incident.service_id),
        "assignees": [],
        "escalation_policy": None,
        "teams": [],
        "priority": None,
        "urgency": incident.urgency,
        "conference_bridge": None,
        "resolve_reason": None,
    }


def _contexts(body: dict[str, Any]) -> list[dict[str, Any]]:
    links = [{"type": "link", **link} for link in body.get("links") or [] if isinstance(link, dict)]
    images = [{"type": "image", **i} for i in body.get("images") or [] if isinstance(i, dict)]
    return links + images


def alert_object(urls: Urls, reader: Reader, alert: Alert, incident: Incident) -> dict[str, Any]:
    """An alert as PagerDuty shapes it; ``body.cef_details`` holds the stored PD-CEF event."""
    path = f"/incidents/{incident.id}/alerts/{alert.id}"
    integration = None
    if alert.integration_id:
        integration = agent_reference(urls, reader, ("integration", alert.integration_id))
    return {
        "id": alert.id,
        "type": "alert",
        "summary": alert.summary,
        "self": urls.api(path),
        "html_url": urls.html(path),
        "created_at": alert.created_at,
        "status": alert.status,
        "resolved_at": alert.resolved_at,
        "alert_key": alert.alert_key,
        "service": service_reference(urls, reader, alert.service_id),
        "incident": incident_reference(urls, incident),
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


def integration_path(integration: Integration) -> str:
    """The REST path of an integration (under its service)."""
    return f"/services/{integration.service_id}/integrations/{integration.id}"


def integration_ref(urls: Urls, integration: Integration) -> dict[str, Any]:
    """An integration reference, as a service's ``integrations[]`` lists them."""
    ref = reference(
        urls, "integration", integration.id, integration.name, integration_path(integration)
    )
    ref["type"] = f"{integration.type}_reference"
    return ref


def service_object(
    urls: Urls, details: ServiceDetails, integrations: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A service object in PagerDuty's shape; arrays are never null.

    ``integrations`` replaces the references in ``integrations[]`` (REST's
    ``include[]=integrations`` gives full objects).
    """
    service = details.service
    path = f"/services/{service.id}"
    policy = service.escalation_policy_id
    policy_path = f"{POLICIES}/{policy}"
    listed = integrations
    if listed is None:
        listed = [integration_ref(urls, i) for i in details.integrations]
    grouping: dict[str, Any] = {"type": service.alert_grouping}
    if service.alert_grouping == "time":
        grouping["config"] = {"timeout": service.alert_grouping_timeout or 0}
    return {
        "id": service.id,
        "type": "service",
        "summary": service.name,
        "self": urls.api(path),
        "html_url": urls.html(path),
        "name": service.name,
        "description": service.description,
        "status": details.status,
        "auto_resolve_timeout": service.auto_resolve_timeout,
        "acknowledgement_timeout": service.acknowledgement_timeout,
        "created_at": service.created_at,
        "updated_at": service.updated_at,
        "last_incident_timestamp": service.last_incident_timestamp,
        "escalation_policy": (
            reference(urls, "escalation_policy", policy, details.policy_name, policy_path)
            if policy
            else None
        ),
        "incident_urgency_rule": {"type": "constant", "urgency": service.urgency_rule.urgency},
        "alert_creation": service.alert_creation,
        "alert_grouping": service.alert_grouping,
        "alert_grouping_timeout": service.alert_grouping_timeout,
        "alert_grouping_parameters": grouping,
        "auto_pause_notifications_parameters": {"enabled": False, "timeout": None},
        "integrations": listed,
        "teams": [],
        "addons": [],
        "scheduled_actions": [],
        "support_hours": None,
        "response_play": None,
    }

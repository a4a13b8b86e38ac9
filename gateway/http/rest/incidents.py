"""REST resource: incidents, their alerts and their log entries (PagerDuty REST v2 shapes).

Reads need any role; acknowledge, resolve and create need ``limited_user``
(Responder) or above and the ``From`` header naming who acts. The rules live
in :mod:`gateway.core.incidents` and :mod:`gateway.core.incident_reads`; this module only
speaks HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from quart import Blueprint, request

from gateway.auth import Level
from gateway.core import incident_reads as reads
from gateway.core import incidents as core
from gateway.core.incident_reads import IncidentDetails
from gateway.domain import Alert, Incident, LogEntry
from gateway.http.rest._common import (
    Page,
    RestError,
    api_url,
    context,
    html_url,
    json_body,
    json_value,
    list_arg,
    page_args,
    paginated,
    reference,
    requester,
    requires,
)
from gateway.store import Reader, Tx

__all__ = [
    "agent_reference",
    "blueprint",
    "run_read",
    "run_write",
    "service_reference",
]

blueprint = Blueprint("rest_incidents", __name__)

T = TypeVar("T")


# -- store access, shared with maintenance_windows.py ------------------------------------------
# The core's refusals propagate: gateway.http.rest answers them app-wide (_common.rest_error).


async def run_read(fn: Callable[[Reader], T]) -> T:
    """Run a read job on a read connection."""
    return await context().store.read(fn)


async def run_write(fn: Callable[[Tx], T]) -> T:
    """Run a write job in the writer's next transaction (returns after commit)."""
    return await context().store.write(fn)


# -- objects ------------------------------------------------------------------------------------


# Rendering helpers below read the objects an answer refers to (a service's or an
# integration's name for a reference), nothing more: no rule is involved, and a deleted
# service or integration still renders, with a null summary.


def service_reference(reader: Reader, service_id: str) -> dict[str, Any]:
    """A ``service_reference`` (summary ``None`` once the service is deleted)."""
    service = reader.service(service_id)
    return reference(
        "service", service_id, service.name if service else None, f"/services/{service_id}"
    )


def agent_reference(reader: Reader, agent: tuple[str | None, str | None]) -> dict[str, Any] | None:
    """Who did something: a user (the ``From`` address) or an integration."""
    kind, ident = agent
    if ident is None:
        return None
    if kind == "integration":
        integration = reader.integration(ident)
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


def _include() -> set[str]:
    return set(list_arg("include"))


def _render(
    reader: Reader, incidents: list[Incident], include: set[str] | frozenset[str]
) -> list[dict[str, Any]]:
    return [incident_object(reader, d, include) for d in reads.incident_details(reader, incidents)]


async def _one(ident: str, include: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    def job(reader: Reader) -> dict[str, Any]:
        return _render(reader, [reads.find_incident(reader, ident)], include)[0]

    return {"incident": await run_read(job)}


# -- routes -------------------------------------------------------------------------------------


@blueprint.get("/incidents")
@requires(Level.VIEW)
async def list_incidents() -> dict[str, Any]:
    """``GET /incidents`` with statuses[], service_ids[], urgencies[], incident_key, since,
    until, date_range, sort_by, include[], limit/offset/total."""
    page = page_args()
    args = request.args
    include = _include()

    def job(reader: Reader) -> tuple[list[dict[str, Any]], int]:
        items, total = reads.list_incidents(
            reader,
            statuses=list_arg("statuses"),
            service_ids=list_arg("service_ids"),
            urgencies=list_arg("urgencies"),
            incident_key=args.get("incident_key"),
            since=args.get("since"),
            until=args.get("until"),
            date_range=args.get("date_range"),
            sort_by=list_arg("sort_by"),
            limit=page.limit,
            offset=page.offset,
        )
        return _render(reader, items, include), total

    items, total = await run_read(job)
    return _page("incidents", items, total, page)


def _page(root: str, items: list[dict[str, Any]], total: int, page: Page) -> dict[str, Any]:
    return {
        root: items,
        "limit": page.limit,
        "offset": page.offset,
        "more": page.offset + len(items) < total,
        "total": total if page.total else None,
    }


@blueprint.get("/incidents/<ident>")
@requires(Level.VIEW)
async def get_incident(ident: str) -> dict[str, Any]:
    """``GET /incidents/{id}``: by id or incident number."""
    return await _one(ident, _include())


def _status(item: dict[str, Any], where: str) -> str:
    status = item.get("status")
    if status not in ("acknowledged", "resolved"):
        raise RestError(
            400,
            "Invalid Status Provided",
            1003,
            [f"{where}'status' must be acknowledged or resolved"],
        )
    return str(status)


@blueprint.put("/incidents/<ident>")
@requires(Level.RESPOND)
async def update_incident(ident: str) -> dict[str, Any]:
    """``PUT /incidents/{id}`` with ``{"incident":{"type":"incident_reference","status":...}}``."""
    by = requester()
    status = _status(await json_body("incident"), "")

    def job(tx: Tx) -> str:
        return core.update_incidents(tx, [(ident, status)], by=by)[0].id

    return await _one(await run_write(job))


@blueprint.put("/incidents")
@requires(Level.RESPOND)
async def update_incidents() -> dict[str, Any]:
    """Bulk ``PUT /incidents`` with ``{"incidents":[{"id","type","status"},...]}`` (max 250)."""
    by = requester()
    data = await json_value()
    items = data.get("incidents") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise RestError(
            400, "Invalid Input Provided", 2001, ["'incidents' must be a non-empty array"]
        )
    if len(items) > core.MAX_BULK:
        raise RestError(
            413,
            "Request Entity Too Large",
            2001,
            [f"At most {core.MAX_BULK} incidents can be updated at once, got {len(items)}"],
        )
    updates = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str | int):
            raise RestError(400, "Invalid Input Provided", 2001, [f"incidents[{n}] needs an 'id'"])
        updates.append((item["id"], _status(item, f"incidents[{n}]: ")))

    def job(tx: Tx) -> list[str]:
        return [i.id for i in core.update_incidents(tx, updates, by=by)]

    ids = await run_write(job)

    def render(reader: Reader) -> list[dict[str, Any]]:
        return _render(reader, [reads.find_incident(reader, i) for i in ids], set())

    return {"incidents": await run_read(render)}


@blueprint.post("/incidents")
@requires(Level.RESPOND)
async def create_incident() -> tuple[dict[str, Any], int]:
    """``POST /incidents``: a manual incident on a service; 201."""
    by = requester()
    body = await json_body("incident")
    service = body.get("service")
    service_id = service.get("id") if isinstance(service, dict) else None
    if not isinstance(service_id, str):
        raise RestError(400, "Invalid Input Provided", 2001, ["'service' must be {\"id\": ...}"])
    incident_body = body.get("body")
    details = incident_body.get("details") if isinstance(incident_body, dict) else None

    def job(tx: Tx) -> str:
        return core.create_incident(
            tx,
            service_id,
            body.get("title"),  # type: ignore[arg-type]  # checked by the core
            by=by,
            incident_key=body.get("incident_key"),
            urgency=body.get("urgency"),
            details=details,
        ).id

    return await _one(await run_write(job), {"body"}), 201


@blueprint.get("/incidents/<ident>/alerts")
@requires(Level.VIEW)
async def list_alerts(ident: str) -> dict[str, Any]:
    """``GET /incidents/{id}/alerts`` with alert_key, statuses[], limit/offset/total."""
    page = page_args()
    alert_key = request.args.get("alert_key")
    statuses = list_arg("statuses")

    def job(reader: Reader) -> list[dict[str, Any]]:
        incident = reads.find_incident(reader, ident)
        alerts = reads.incident_alerts(reader, incident.id, alert_key=alert_key, statuses=statuses)
        return [alert_object(reader, a, incident) for a in alerts]

    return paginated("alerts", await run_read(job), page)


@blueprint.get("/incidents/<ident>/log_entries")
@requires(Level.VIEW)
async def list_log_entries(ident: str) -> dict[str, Any]:
    """``GET /incidents/{id}/log_entries``: the timeline, oldest first, paginated."""
    page = page_args()

    def job(reader: Reader) -> list[dict[str, Any]]:
        incident = reads.find_incident(reader, ident)
        entries = reads.incident_log_entries(reader, incident.id)
        return [log_entry_object(reader, e, incident) for e in entries]

    return paginated("log_entries", await run_read(job), page)


@blueprint.get("/log_entries/<entry_id>")
@requires(Level.VIEW)
async def get_log_entry(entry_id: str) -> dict[str, Any]:
    """``GET /log_entries/{id}``: one timeline entry (the ``self`` of every log entry)."""

    def job(reader: Reader) -> dict[str, Any]:
        entry, incident = reads.find_log_entry(reader, entry_id)
        return log_entry_object(reader, entry, incident)

    return {"log_entry": await run_read(job)}

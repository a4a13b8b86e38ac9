"""REST resource: incidents, their alerts and their log entries (PagerDuty REST v2 shapes).

Reads need any role; acknowledge, resolve and create need ``limited_user``
(Responder) or above and the ``From`` header naming who acts. The rules live
in :mod:`gateway.core.incidents` and :mod:`gateway.core.incident_reads`; this module only
speaks HTTP.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request

from gateway import shapes
from gateway.auth import Level
from gateway.core import incident_reads as reads
from gateway.core import incidents as core
from gateway.core import log_reads
from gateway.domain import Incident, LogEntry
from gateway.http.rest._common import (
    Page,
    RestError,
    bool_arg,
    context,
    json_body,
    json_value,
    list_arg,
    page_args,
    paginated,
    requester,
    requires,
)
from gateway.http.rest.bodies import (
    alert_object,
    incident_object,
    log_entry_object,
    rest_urls,
)
from gateway.http.rest.services import load_service, service_body
from gateway.store import PageReader, Reader, Tx

__all__ = ["blueprint"]

blueprint = Blueprint("rest_incidents", __name__)


def _include() -> set[str]:
    return set(list_arg("include"))


def _render(
    reader: Reader, incidents: list[Incident], include: set[str] | frozenset[str]
) -> list[dict[str, Any]]:
    # One base URL and one lookup per service or integration for the page, not per row.
    urls, page = rest_urls(), PageReader(reader)
    page.prefetch_services(i.service_id for i in incidents)
    return [
        shapes.incident_object(urls, page, d, include)
        for d in reads.incident_details(page, incidents)
    ]


async def _one(ident: str, include: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    def job(reader: Reader) -> dict[str, Any]:
        return _render(reader, [reads.find_incident(reader, ident)], include)[0]

    return {"incident": await context().store.read(job)}


# -- routes -------------------------------------------------------------------------------------


@blueprint.get("/incidents")
@requires(Level.VIEW)
async def list_incidents() -> dict[str, Any]:
    """``GET /incidents`` with statuses[], service_ids[], urgencies[], incident_key, since,
    until, date_range, sort_by, include[], limit/offset/total."""
    page = page_args()
    args = request.args
    include = _include()

    def job(reader: Reader) -> tuple[list[dict[str, Any]], bool, int | None]:
        found = reads.list_incidents(
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
            count=page.total,  # PagerDuty's total is null unless total=true: count only then
        )
        return _render(reader, found.incidents, include), found.more, found.total

    items, more, total = await context().store.read(job)
    return {
        "incidents": items,
        "limit": page.limit,
        "offset": page.offset,
        "more": more,
        "total": total,
    }


@blueprint.get("/incidents/<ident>")
@requires(Level.VIEW)
async def get_incident(ident: str) -> dict[str, Any]:
    """``GET /incidents/{id}``: by id or incident number."""
    return await _one(ident, _include())


def _status(item: dict[str, Any], where: str) -> str:
    status = item.get("status")
    # triggered (and acknowledged) on a resolved incident reopens it (core.update_incidents).
    if status not in ("acknowledged", "resolved", "triggered"):
        raise RestError(
            400,
            "Invalid Status Provided",
            1003,
            [f"{where}'status' must be acknowledged, resolved or triggered"],
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

    return await _one(await context().store.write(job))


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

    ids = await context().store.write(job)

    def render(reader: Reader) -> list[dict[str, Any]]:
        return _render(reader, [reads.find_incident(reader, i) for i in ids], set())

    return {"incidents": await context().store.read(render)}


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

    return await _one(await context().store.write(job), {"body"}), 201


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

    return paginated("alerts", await context().store.read(job), page)


@blueprint.get("/incidents/<ident>/log_entries")
@requires(Level.VIEW)
async def list_log_entries(ident: str) -> dict[str, Any]:
    """``GET /incidents/{id}/log_entries``: the timeline, oldest first, limit/offset/total.

    Paged in SQL: a request reads its page (and counts the rest for ``total=true``),
    however long the timeline.
    """
    page = page_args()

    def job(reader: Reader) -> tuple[list[dict[str, Any]], reads.LogPage]:
        incident = reads.find_incident(reader, ident)
        found = reads.incident_log_entries(
            reader, incident.id, limit=page.limit, offset=page.offset, total=page.total
        )
        return [log_entry_object(reader, e, incident) for e in found.entries], found

    items, found = await context().store.read(job)
    return _log_page(items, found, page)


@blueprint.get("/log_entries")
@requires(Level.VIEW)
async def list_account_log_entries() -> dict[str, Any]:
    """``GET /log_entries``: every log entry of the account, newest first.

    ``since``/``until``, ``is_overview``, ``include[]`` (``incidents``, ``services``),
    limit/offset/total. Entries no incident holds (suppressed events, service and
    integration changes) are listed too.
    """
    page = page_args()
    args = request.args
    overview = bool_arg("is_overview")
    include = _include()

    def job(reader: Reader) -> tuple[list[dict[str, Any]], reads.LogPage]:
        found = log_reads.account_log_entries(
            reader,
            since=args.get("since"),
            until=args.get("until"),
            is_overview=overview,
            limit=page.limit,
            offset=page.offset,
            total=page.total,
        )
        return [_account_entry(reader, e, include) for e in found.entries], found

    items, found = await context().store.read(job)
    return _log_page(items, found, page)


def _account_entry(reader: Reader, entry: LogEntry, include: set[str]) -> dict[str, Any]:
    incident = reader.incident(entry.incident_id) if entry.incident_id else None
    body = log_entry_object(reader, entry, incident)
    if "incidents" in include and incident is not None:
        body["incident"] = incident_object(reader, reads.incident_details(reader, [incident])[0])
    service_id = body["service"]["id"] if body["service"] else None
    if "services" in include and service_id and reader.service(service_id) is not None:
        body["service"] = service_body(load_service(reader, service_id))
    return body


def _log_page(items: list[dict[str, Any]], found: reads.LogPage, page: Page) -> dict[str, Any]:
    """A page of log entries in PagerDuty's list shape (``more`` and ``total`` from SQL)."""
    return {
        "log_entries": items,
        "limit": page.limit,
        "offset": page.offset,
        "more": found.more,
        "total": found.total,
    }


@blueprint.get("/log_entries/<entry_id>")
@requires(Level.VIEW)
async def get_log_entry(entry_id: str) -> dict[str, Any]:
    """``GET /log_entries/{id}``: one timeline entry (the ``self`` of every log entry)."""

    def job(reader: Reader) -> dict[str, Any]:
        entry, incident = reads.find_log_entry(reader, entry_id)
        return log_entry_object(reader, entry, incident)

    return {"log_entry": await context().store.read(job)}

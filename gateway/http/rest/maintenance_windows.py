"""REST resource: maintenance windows (PagerDuty REST v2 shapes).

Reads need any role; creating, changing and ending windows needs ``user``
(Manager) or above, and ``POST`` the ``From`` header. The rules live in
:mod:`gateway.core.maintenance`.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from gateway.auth import Level
from gateway.core import maintenance as core
from gateway.domain import MaintenanceWindow
from gateway.http.rest._common import (
    RestError,
    api_url,
    context,
    html_url,
    json_body,
    list_arg,
    page_args,
    paginated,
    requester,
    requires,
)
from gateway.http.rest.bodies import agent_reference, service_reference
from gateway.store import Reader, Tx

__all__ = ["blueprint", "window_object"]

blueprint = Blueprint("rest_maintenance_windows", __name__)


def window_object(reader: Reader, window: MaintenanceWindow) -> dict[str, Any]:
    """A maintenance window as PagerDuty shapes it, plus ``source`` (``api`` or ``config``)."""
    path = f"/maintenance_windows/{window.id}"
    return {
        "id": window.id,
        "type": "maintenance_window",
        "summary": window.description or f"Maintenance window #{window.sequence_number}",
        "self": api_url(path),
        "html_url": html_url(path),
        "sequence_number": window.sequence_number,
        "start_time": window.start_time,
        "end_time": window.end_time,
        "description": window.description,
        "created_by": agent_reference(reader, ("user", window.created_by)),
        "services": [service_reference(reader, s) for s in window.service_ids],
        "teams": [],
        "source": window.source,
    }


def _services(body: dict[str, Any], *, required: bool) -> list[str] | None:
    services = body.get("services")
    if services is None and not required:
        return None
    if not isinstance(services, list) or not all(
        isinstance(s, dict) and isinstance(s.get("id"), str) for s in services
    ):
        raise RestError(
            400,
            "Invalid Input Provided",
            2001,
            ["'services' must be an array of service references ({\"id\": ...})"],
        )
    return [s["id"] for s in services]


async def _one(window_id: str) -> dict[str, Any]:
    def job(reader: Reader) -> dict[str, Any]:
        return window_object(reader, core.find_window(reader, window_id))

    return {"maintenance_window": await context().store.read(job)}


@blueprint.get("/maintenance_windows")
@requires(Level.VIEW)
async def list_windows() -> dict[str, Any]:
    """``GET /maintenance_windows`` with filter, service_ids[], query, limit/offset/total."""
    page = page_args()
    window_filter = request.args.get("filter") or "all"
    service_ids = list_arg("service_ids")
    query = request.args.get("query")

    def job(reader: Reader) -> list[dict[str, Any]]:
        windows = core.list_windows(
            reader, filter=window_filter, service_ids=service_ids, query=query
        )
        return [window_object(reader, w) for w in windows]

    return paginated("maintenance_windows", await context().store.read(job), page)


@blueprint.post("/maintenance_windows")
@requires(Level.MANAGE)
async def create_window() -> tuple[dict[str, Any], int]:
    """``POST /maintenance_windows``: 201; a start in the past becomes now."""
    by = requester()
    body = await json_body("maintenance_window")
    services = _services(body, required=True) or []
    missing = [f"'{name}' is required" for name in ("start_time", "end_time") if name not in body]
    if missing:
        raise RestError(400, "Invalid Input Provided", 2001, missing)

    def job(tx: Tx) -> str:
        return core.create_window(
            tx,
            services,
            body["start_time"],
            body["end_time"],
            body.get("description"),
            by=by,
        ).id

    return await _one(await context().store.write(job)), 201


@blueprint.get("/maintenance_windows/<window_id>")
@requires(Level.VIEW)
async def get_window(window_id: str) -> dict[str, Any]:
    """``GET /maintenance_windows/{id}``."""
    return await _one(window_id)


@blueprint.put("/maintenance_windows/<window_id>")
@requires(Level.MANAGE)
async def update_window(window_id: str) -> dict[str, Any]:
    """``PUT /maintenance_windows/{id}``: change times, description or services."""
    body = await json_body("maintenance_window")
    services = _services(body, required=False)
    by = request.headers.get("From") or None

    def job(tx: Tx) -> str:
        return core.update_window(
            tx,
            window_id,
            services=services,
            start=body.get("start_time"),
            end=body.get("end_time"),
            description=body.get("description"),
            by=by,
        ).id

    return await _one(await context().store.write(job))


@blueprint.delete("/maintenance_windows/<window_id>")
@requires(Level.MANAGE)
async def delete_window(window_id: str) -> Response:
    """``DELETE /maintenance_windows/{id}``: end an ongoing window or delete a future one (204);
    a window that has ended is 405 with code 5003."""
    by = request.headers.get("From") or None

    def job(tx: Tx) -> str:
        return core.end_or_delete_window(tx, window_id, by=by)

    await context().store.write(job)
    return Response("", status=204)

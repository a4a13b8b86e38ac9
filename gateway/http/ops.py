"""Operational pages: health, readiness and the plugin listing."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from quart import Blueprint, current_app
from quart import Response as QuartResponse

from gateway.core import outbox, timers
from gateway.core.incident_reads import open_incident_counts
from gateway.core.service_reads import count_services
from gateway.errors import StoreUnavailable

blueprint = Blueprint("ops", __name__)


@blueprint.get("/healthz")
async def healthz() -> tuple[dict[str, Any], int]:
    """Liveness: the event loop answers."""
    return {"status": "ok"}, 200


@blueprint.get("/readyz")
async def readyz() -> tuple[dict[str, Any], int]:
    """Readiness: the writer commits, the last real commit did not fail, and reads answer."""
    gateway = current_app.config["GATEWAY"]

    try:
        await gateway.store.write(lambda tx: None)
        services = await gateway.store.read(count_services)
    except StoreUnavailable as exc:
        return {"status": "unavailable", "store": str(exc)}, 503
    if not gateway.store.stats.writable:
        return {"status": "unavailable", "store": "the last commit failed"}, 503
    return {"status": "ready", "store": "writable", "services": services}, 200


@blueprint.get("/metrics")
async def metrics() -> QuartResponse:
    """Prometheus text exposition; the outbox and timers counted at scrape, open incidents
    in the background (see :class:`gateway.metrics.OpenIncidents`)."""
    gateway = current_app.config["GATEWAY"]
    gauge = gateway.metrics.open_incidents
    rows = None
    try:
        if gauge.read_at is None:
            rows = await gateway.store.read(open_incident_counts)  # the first scrape waits
        elif gauge.refresh_due():
            gauge.reading = True
            current_app.add_background_task(_count_open_incidents, gateway)
        depths = await gateway.store.read(outbox.depth_rows)
        pending = await gateway.store.read(timers.pending_counts)
    except StoreUnavailable:
        # Still serve the counters: they say why the store is failing.
        rows = depths = pending = None
    if rows is not None:
        gateway.metrics.set_open_incidents(rows)
    if depths is not None:
        gateway.metrics.set_outbox(depths, outbox.overflow_counts())
    if pending is not None:
        gateway.metrics.set_timers(pending)
    return QuartResponse(gateway.metrics.render(), content_type=CONTENT_TYPE_LATEST)


async def _count_open_incidents(gateway: Any) -> None:
    """Count open incidents for the next scrape; a failing store keeps the last count."""
    try:
        # Counted and rendered in the reader's worker thread, off the event loop.
        await gateway.store.read(
            lambda reader: gateway.metrics.set_open_incidents(open_incident_counts(reader))
        )
    except StoreUnavailable:
        pass
    finally:
        gateway.metrics.open_incidents.reading = False


@blueprint.get("/-/plugins")
async def plugins() -> tuple[dict[str, Any], int]:
    """Every loaded plugin with its distribution, version and vendors."""
    host = current_app.config["GATEWAY"].plugins
    return {
        "plugins": [
            {
                "name": p.name,
                "module": p.module,
                "distribution": p.distribution,
                "version": p.version,
                "vendors": list(p.vendors),
            }
            for p in host.plugins
        ],
        "problems": [{"name": p.name, "error": p.error} for p in host.problems],
    }, 200


@blueprint.get("/openapi.json")
async def openapi() -> tuple[dict[str, Any], int]:
    """The OpenAPI document of every route the gateway serves."""
    from gateway.http.openapi import document

    return document(), 200

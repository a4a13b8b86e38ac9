"""Operational pages: health, readiness and the plugin listing."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app

from gateway.errors import StoreUnavailable
from gateway.store import Reader

blueprint = Blueprint("ops", __name__)


@blueprint.get("/healthz")
async def healthz() -> tuple[dict[str, Any], int]:
    """Liveness: the event loop answers."""
    return {"status": "ok"}, 200


@blueprint.get("/readyz")
async def readyz() -> tuple[dict[str, Any], int]:
    """Readiness: the store answers a query and the writer has not been failing."""
    gateway = current_app.config["GATEWAY"]

    def probe(reader: Reader) -> int:
        return reader.count("services")

    try:
        services = await gateway.store.read(probe)
    except StoreUnavailable as exc:
        return {"status": "unavailable", "store": str(exc)}, 503
    return {"status": "ready", "services": services}, 200


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

"""The daemon's ASGI application: the raw ingest app in front of Quart."""

from __future__ import annotations

import json
from typing import Any

from quart import Response as QuartResponse
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from gateway.context import GatewayContext
from gateway.http import ops, rest, ui
from gateway.http.buffered import BufferedBodyApp
from gateway.http.events import ASGIApp, IngestApp

__all__ = ["GatewayContext", "create_app", "create_quart_app"]  # GatewayContext: re-exported


def create_quart_app(context: GatewayContext) -> QuartTrio:
    """The Quart app for everything that is not event ingest."""
    app = QuartTrio("alert_gateway")
    app.config["GATEWAY"] = context
    app.config["MAX_CONTENT_LENGTH"] = context.settings.server.max_body_size
    app.register_blueprint(ops.blueprint)
    rest.register(app)
    ui.register(app)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Any:
        # PagerDuty's REST error shape, always JSON (go-pagerduty parses only JSON errors).
        code = {404: 2100, 405: 2100, 413: 2001}.get(error.code or 500, 2000)
        body = {"error": {"message": error.name, "code": code, "errors": []}}
        return QuartResponse(_json(body), status=error.code or 500, content_type="application/json")

    return app


def _json(body: Any) -> str:
    return json.dumps(body)


def create_app(context: GatewayContext) -> ASGIApp:
    """The whole ASGI app the daemon serves."""
    quart_app = create_quart_app(context)
    buffered = BufferedBodyApp(
        quart_app,  # type: ignore[arg-type]  # Quart's ASGI signature is stricter
        limit=context.settings.server.max_body_size,
    )
    return IngestApp(context, fallback=buffered)

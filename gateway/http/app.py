"""The daemon's ASGI application: the raw ingest app in front of Quart."""

from __future__ import annotations

from typing import Any

from quart import request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from gateway.context import GatewayContext
from gateway.core.text import NUL, nul_errors, nul_message
from gateway.errors import Invalid
from gateway.http import ops, rest, ui
from gateway.http.buffered import BufferedBodyApp
from gateway.http.events import ASGIApp, IngestApp
from gateway.http.rest import RestError

__all__ = ["GatewayContext", "create_app", "create_quart_app"]  # GatewayContext: re-exported


def create_quart_app(context: GatewayContext) -> QuartTrio:
    """The Quart app for everything that is not event ingest."""
    app = QuartTrio("alert_gateway")
    app.config["GATEWAY"] = context
    app.config["MAX_CONTENT_LENGTH"] = context.settings.server.max_body_size
    app.register_blueprint(ops.blueprint)
    rest.register(app)
    ui.register(app)

    @app.before_request
    async def refuse_nul() -> None:
        # PostgreSQL can neither store nor look up a NUL (gateway.core.text): a path,
        # query argument or form field holding one is bad input, refused with a 400
        # naming it before any handler reads or writes (REST JSON bodies: json_value).
        errors = _request_nul_errors()
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for name, value in (await request.form).items(multi=True):
                errors += nul_errors({name: value})
        if errors:
            raise Invalid(errors)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Any:
        # PagerDuty's REST error shape for Quart's own errors (404, 405, 413...).
        status = error.code or 500
        code = {404: 2100, 405: 2100, 413: 2001}.get(status, 2000)
        return RestError(status, error.name, code).response()

    return app


def _request_nul_errors() -> list[str]:
    """:func:`~gateway.core.text.nul_errors` of this request's path and query arguments.

    Headers need no check: the HTTP server (h11) refuses a NUL in one with a 400 itself.
    """
    errors = [nul_message("path")] if NUL in request.path else []
    for name, value in request.args.items(multi=True):
        errors += nul_errors({name: value})  # a NUL in the name is named too
    return errors


def create_app(context: GatewayContext) -> ASGIApp:
    """The whole ASGI app the daemon serves."""
    quart_app = create_quart_app(context)
    buffered = BufferedBodyApp(
        quart_app,  # type: ignore[arg-type]  # Quart's ASGI signature is stricter
        limit=context.settings.server.max_body_size,
        timeout=context.settings.server.body_timeout,
        metrics=context.metrics,
    )
    return IngestApp(context, fallback=buffered)

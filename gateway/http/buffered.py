"""An ASGI adapter that reads a request's body before Quart sees the request.

Why: Quart reads the body in a task of its own that is still waiting on
``receive()`` when the response is sent. Under Hypercorn's trio worker that
leaves the connection without its keep-alive idle timer: an idle keep-alive
connection to any Quart route (REST, UI, /metrics, /healthz) is then never
closed by the server, and a graceful shutdown waits the whole
``shutdown_timeout`` for it. Reading the body here first, then giving Quart a
``receive`` that answers ``http.disconnect`` once the response is complete,
makes every Quart request look to Hypercorn like the raw ingest path's, whose
idle connections close on time and at shutdown.
"""

from __future__ import annotations

import math

import structlog
import trio

from gateway.errors import PayloadTooLarge
from gateway.http.events import (
    ASGIApp,
    BodyTimeout,
    Message,
    Receive,
    Scope,
    Send,
    body_timeout_errors,
    read_body,
    send_response,
)
from gateway.metrics import Metrics
from gateway.model import Response

__all__ = ["BufferedBodyApp"]

log = structlog.get_logger("gateway.http")


class BufferedBodyApp:
    """Wrap ``app`` so it receives a fully read body (at most ``limit`` bytes).

    The body must arrive within ``timeout`` seconds of the request's head, else 408
    (counted in ``metrics`` when given) and the connection closes.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        timeout: float = math.inf,
        metrics: Metrics | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection; non-HTTP scopes (lifespan) pass straight through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(scope, receive, self.limit, timeout=self.timeout)
        except BodyTimeout as exc:
            await self._timed_out(scope, send, exc)
            return
        except PayloadTooLarge as exc:
            error = {
                "message": "Request Entity Too Large",
                "code": 2001,
                "errors": [f"The request body exceeds {exc.limit} bytes"],
            }
            await send_response(send, Response(413, {"error": error}))
            return
        except ConnectionAbortedError:
            return
        finished = trio.Event()
        delivered = False

        async def buffered_receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await finished.wait()
            return {"type": "http.disconnect"}

        async def tracking_send(message: Message) -> None:
            try:
                await send(message)
            finally:
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    finished.set()

        try:
            await self.app(scope, buffered_receive, tracking_send)
        finally:
            finished.set()

    async def _timed_out(self, scope: Scope, send: Send, exc: BodyTimeout) -> None:
        # The client's doing (a slow or stalled sender): info, not an error.
        if self.metrics is not None:
            self.metrics.http_body_timeouts.labels("other").inc()
        log.info(
            "http.body_timeout",
            method=scope["method"],
            path=scope["path"],
            seconds=exc.seconds,
            received=exc.received,
        )
        error = {"message": "Request Timeout", "code": 2000, "errors": body_timeout_errors(exc)}
        await send_response(send, Response(408, {"error": error}))

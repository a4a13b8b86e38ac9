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

import trio

from gateway.errors import PayloadTooLarge
from gateway.http.events import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    read_body,
    send_response,
)
from gateway.model import Response

__all__ = ["BufferedBodyApp"]


class BufferedBodyApp:
    """Wrap ``app`` so it receives a fully read body (at most ``limit`` bytes)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection; non-HTTP scopes (lifespan) pass straight through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(scope, receive, self.limit)
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

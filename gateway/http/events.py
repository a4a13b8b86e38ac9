"""Event ingest as a plain ASGI app: the hot path, in front of the Quart app.

Quart costs ~40% of raw Hypercorn throughput per request, so the Events API
paths and the vendor paths are served here directly; every other path falls
through to ``fallback`` (the REST API, UI and ops pages).
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, MutableMapping
from itertools import count
from typing import Any
from urllib.parse import parse_qsl

import msgspec
import structlog
import trio

from gateway.context import GatewayContext
from gateway.core.ingest import Refused
from gateway.errors import (
    InvalidEvent,
    PayloadTooLarge,
    PluginFailure,
    RateLimited,
    RetryLater,
    StoreUnavailable,
    UnrecognizedEvent,
)
from gateway.logs import redact
from gateway.model import InboundRequest, Outcome, Response, Vendor

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# PagerDuty's URL forms that carry the integration key in the path.
KEY_PATH = re.compile(
    r"^/(?:integration/(?P<a>[^/]+)/enqueue|x-ere/(?P<b>[^/]+)|adapter/[^/]+/v1/(?P<c>[^/]+))/?$"
)

log = structlog.get_logger("gateway.ingest")
_encode = msgspec.json.Encoder().encode
_request_ids = count(1)


def default_success(outcomes: list[Outcome]) -> Response:
    """Events API v2's 202 body, echoing the first event's ``dedup_key``."""
    body: dict[str, Any] = {"status": "success", "message": "Event processed"}
    if outcomes:
        body["dedup_key"] = outcomes[0].dedup_key
    return Response(202, body)


def default_error(error: Exception) -> Response:
    """Events API v2's error bodies for the errors a request can cause."""
    if isinstance(error, InvalidEvent):
        return Response(
            400, {"status": "invalid event", "message": error.message, "errors": error.errors}
        )
    if isinstance(error, UnrecognizedEvent):
        return Response(
            400,
            {
                "status": "Unrecognized object",
                "message": "Event object format is unrecognized",
                "errors": error.errors,
            },
        )
    if isinstance(error, PayloadTooLarge):
        return Response(
            413,
            {
                "status": "Request Entity Too Large",
                "message": "Request body is too large",
                "errors": [f"The request body exceeds {error.limit} bytes"],
            },
        )
    if isinstance(error, RateLimited):
        return Response(
            429,
            {
                "status": "throttle exceeded",
                "message": "Requests for this integration are arriving too quickly; retry later",
                "errors": [f"More than {error.limit} events per minute"],
            },
        )
    if isinstance(error, RetryLater):
        # Say which transient fault it was: "could not commit" sends operators to the
        # disk, which is wrong when a plugin's upstream (an SNS certificate) failed.
        reason = (
            "The gateway could not commit the event to its store"
            if isinstance(error, StoreUnavailable) or not str(error)
            else str(error)
        )
        return Response(
            503,
            {
                "status": "unavailable",
                "message": "Event not stored; retry later",
                "errors": [reason],
            },
        )
    if isinstance(error, PluginFailure):
        return Response(
            500,
            {
                "status": "error",
                "message": f"Plugin {error.plugin} failed to process the event",
                "errors": [type(error.cause).__name__],
            },
        )
    return Response(500, {"status": "error", "message": "Internal error", "errors": []})


def render_error(vendor: Vendor | None, error: Exception) -> Response:
    """A vendor's own error body for client errors, the default for everything else."""
    if (
        vendor is not None
        and vendor.render_error is not None
        and isinstance(error, InvalidEvent | UnrecognizedEvent | RateLimited)
    ):
        rendered = vendor.render_error(error)
        if rendered is not None:
            return rendered
    return default_error(error)


async def send_response(send: Send, response: Response) -> None:
    """Send a complete response (JSON-encoded unless the body is already text)."""
    if response.content_type == "application/json":
        payload = _encode(response.body)
    else:
        payload = str(response.body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": [
                (b"content-type", response.content_type.encode()),
                (b"content-length", str(len(payload)).encode()),
                # A 413 or 408 leaves the body unread, so the server closes the connection;
                # say so, or a keep-alive client reuses a dead socket for its next request.
                # (HTTP/2 strips the header and ends only the stream.)
                *([(b"connection", b"close")] if response.status in (408, 413) else []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodyTimeout(Exception):
    """The request body did not arrive within ``seconds`` of the request's head."""

    def __init__(self, seconds: float, received: int) -> None:
        super().__init__(f"request body not received within {seconds:g} s")
        self.seconds = seconds
        self.received = received


def body_timeout_errors(error: BodyTimeout) -> list[str]:
    """The ``errors`` list of a 408 answer, in words a sender's log can show."""
    return [f"The request body did not arrive within {error.seconds:g} seconds"]


async def read_body(scope: Scope, receive: Receive, limit: int, timeout: float = math.inf) -> bytes:
    """Read the whole request body, refusing (without buffering) one over ``limit``.

    The whole body must arrive within ``timeout`` seconds of the call (made as the
    request's head is parsed), else :class:`BodyTimeout`. Hypercorn's ``read_timeout``
    bounds each read only: one byte every few seconds would hold the request forever.
    """
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = 0
            if declared > limit:
                raise PayloadTooLarge(limit)
            break
    chunks: list[bytes] = []
    size = 0
    with trio.move_on_after(timeout):
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ConnectionAbortedError("client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    raise BodyTimeout(timeout, size)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _query(scope: Scope) -> dict[str, str]:
    raw = scope.get("query_string", b"").decode("latin-1")
    if not raw:
        return {}
    return dict(parse_qsl(raw, keep_blank_values=True))


class IngestApp:
    """ASGI app serving the Events API and vendor inbound URLs."""

    def __init__(self, context: GatewayContext, *, fallback: ASGIApp | None = None) -> None:
        self.context = context
        self.ingest = context.ingest
        self.plugins = context.plugins
        self.metrics = context.metrics
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch one ASGI connection."""
        if scope["type"] != "http":
            if self.fallback is not None:
                await self.fallback(scope, receive, send)
            elif scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        path: str = scope["path"]
        vendor = self.plugins.vendor_for_path(path)
        key_match = None if vendor is not None else KEY_PATH.match(path)
        if vendor is None and key_match is None:
            if self.fallback is not None:
                await self.fallback(scope, receive, send)
            else:
                await send_response(
                    send, Response(404, {"error": {"message": "Not Found", "code": 2100}})
                )
            return
        if scope["method"] != "POST":
            await send_response(
                send,
                Response(
                    405,
                    {"status": "error", "message": "Method Not Allowed", "errors": ["Use POST"]},
                ),
            )
            return
        key = None
        if key_match is not None:
            key = key_match.group("a") or key_match.group("b") or key_match.group("c")
        try:
            response = await self._handle(scope, receive, vendor, key)
        except ConnectionAbortedError:
            return
        await send_response(send, response)

    async def _handle(
        self, scope: Scope, receive: Receive, vendor: Vendor | None, key: str | None
    ) -> Response:
        """Read the body, hand the request to the pipeline, render its answer."""
        path: str = scope["path"]
        # The key in the URL is a secret: logs see its last four characters only.
        bound = log.bind(
            request_id=next(_request_ids), path=path.replace(key, redact(key)) if key else path
        )
        server = self.context.settings.server
        try:
            body = await read_body(
                scope, receive, server.max_body_size, timeout=server.body_timeout
            )
        except PayloadTooLarge as exc:
            return self._render_refused(self.ingest.refuse(exc, vendor=vendor, logger=bound))
        except BodyTimeout as exc:
            # A sender too slow to finish its body: its doing, so info and its own
            # outcome, not an error; the 408 closes the connection and frees its slot.
            self.metrics.http_body_timeouts.labels("ingest").inc()
            self.ingest.abandoned(
                "body_timeout",
                vendor=vendor,
                logger=bound,
                seconds=exc.seconds,
                received=exc.received,
            )
            body_408 = {
                "status": "Request Timeout",
                "message": "Request body not received in time",
                "errors": body_timeout_errors(exc),
            }
            return Response(408, body_408)
        except ConnectionAbortedError:
            # The client hung up mid-body: its doing, not a fault of ours (no traceback,
            # and not counted where operators alert on errors).
            self.ingest.abandoned("client_disconnected", vendor=vendor, logger=bound)
            raise
        request = InboundRequest(
            method=scope["method"],
            path=scope["path"],
            headers=_headers(scope),
            body=body,
            query=_query(scope),
            integration_key=key,
        )
        result = await self.ingest.handle(request, logger=bound)
        if isinstance(result, Refused):
            return self._render_refused(result)
        vendor = result.vendor
        if vendor.render_success is None:
            return default_success(result.outcomes)
        try:
            return vendor.render_success(result.outcomes)
        except Exception:
            # The events are committed: acknowledge them (v2's body) rather than invite a retry.
            plugin = self.plugins.vendor_plugin.get(vendor.id, vendor.id)
            self.metrics.plugin_errors.labels(plugin).inc()
            bound.exception("plugin.hook_failed", plugin=plugin, hook="render_success")
            return default_success(result.outcomes)

    def _render_refused(self, refused: Refused) -> Response:
        """The answer to a refused request: the vendor's own error body where it has one."""
        vendor, exc = refused.vendor, refused.error
        try:
            response = render_error(vendor, exc)
        except Exception:
            # The vendor's error renderer has a bug: the sender still gets a true answer.
            assert vendor is not None  # only a vendor's renderer can raise
            plugin = self.plugins.vendor_plugin.get(vendor.id, vendor.id)
            self.metrics.plugin_errors.labels(plugin).inc()
            log.exception("plugin.hook_failed", plugin=plugin, hook="render_error")
            response = default_error(exc)
        if (
            vendor is not None
            and not vendor.generic
            and isinstance(exc, InvalidEvent | UnrecognizedEvent)
            and isinstance(response.body, dict)
        ):
            # Name the plugin that rejected the payload: the operator's first question.
            plugin = self.plugins.vendor_plugin.get(vendor.id, vendor.id)
            response = Response(response.status, {**response.body, "plugin": plugin})
        return response


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

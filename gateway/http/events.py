"""Event ingest as a plain ASGI app: the hot path, in front of the Quart app.

Quart costs ~40% of raw Hypercorn throughput per request, so the Events API
paths and the vendor paths are served here directly; every other path falls
through to ``fallback`` (the REST API, UI and ops pages).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from itertools import count
from typing import Any
from urllib.parse import parse_qsl

import msgspec
import structlog

from gateway.context import GatewayContext
from gateway.domain import Integration
from gateway.errors import (
    EventError,
    InvalidEvent,
    InvalidRoutingKey,
    PayloadTooLarge,
    PluginFailure,
    RateLimited,
    RetryLater,
    UnrecognizedEvent,
)
from gateway.logs import redact
from gateway.model import Event, InboundRequest, Outcome, Response, Vendor

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
        return Response(
            503,
            {
                "status": "unavailable",
                "message": "Event not stored; retry later",
                "errors": ["The gateway could not commit the event to its store"],
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
                # A 413 may leave the body unread, so the server closes the connection;
                # say so, or a keep-alive client reuses a dead socket for its next request.
                *([(b"connection", b"close")] if response.status == 413 else []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """Read the whole request body, refusing (without buffering) one over ``limit``."""
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
        try:
            response = await self._handle(scope, receive, vendor, key_match)
        except ConnectionAbortedError:
            return
        await send_response(send, response)

    async def _route_by_key(self, key: str) -> tuple[Vendor, Integration]:
        integration = await self.ingest.integration_for_key(key)
        if integration is None:
            raise InvalidRoutingKey()
        vendor = (
            self.plugins.vendor(integration.vendor_id)
            if integration.vendor_id
            else self.plugins.vendor_by_type(integration.type)
        )
        if vendor is None:
            raise InvalidEvent([f"integration type {integration.type} does not accept HTTP events"])
        return vendor, integration

    def _check_rate(self, events: list[Event]) -> None:
        limiter = self.context.limiter
        if limiter is None:
            return
        for event in events:
            if not limiter.allow(event.routing_key):
                raise RateLimited(limiter.per_minute)

    async def _handle(
        self, scope: Scope, receive: Receive, vendor: Vendor | None, key_match: re.Match[str] | None
    ) -> Response:
        request_id = next(_request_ids)
        bound = log.bind(request_id=request_id, path=scope["path"])
        events: list[Event] = []
        request: InboundRequest | None = None
        started = time.perf_counter()
        try:
            body = await read_body(scope, receive, self.context.settings.server.max_body_size)
            key: str | None = None
            settings: Mapping[str, Any] = {}
            if key_match is not None:
                key = key_match.group("a") or key_match.group("b") or key_match.group("c")
                vendor, integration = await self._route_by_key(key)
                settings = integration.settings
                bound = bound.bind(integration_id=integration.id, service_id=integration.service_id)
            assert vendor is not None
            request = InboundRequest(
                method=scope["method"],
                path=scope["path"],
                headers=_headers(scope),
                body=body,
                query=_query(scope),
                integration_key=key,
                settings=settings,
            )
            events = self.ingest.prepare(vendor, await self.ingest.parse(vendor, request))
            self._check_rate(events)
            outcomes = await self.ingest.commit(events, expect_key=key)
        except (EventError, RetryLater, PluginFailure) as exc:
            if key_match is not None and isinstance(exc, InvalidRoutingKey):
                # The URL's integration went away after its lookup was cached: answer
                # exactly as for a key that is unknown when the request arrives.
                self.ingest.forget_keys()
                return self._refused(bound, None, [], exc)
            self._after(vendor, request, committed=False)
            return self._refused(bound, vendor, events, exc)
        except Exception as exc:  # a bug of ours: answer 500 with JSON, never a traceback page
            bound.exception("event.internal_error")
            self._after(vendor, request, committed=False)
            return self._refused(bound, vendor, events, exc)
        self._after(vendor, request, committed=True)
        vendor_id = vendor.id
        self.metrics.ingest_seconds.labels(vendor_id).observe(time.perf_counter() - started)
        # Accepted events are the normal case: debug, so a busy gateway's log holds what
        # needs attention (rejections, failures); the store's timeline records every event.
        for event, outcome in zip(events, outcomes, strict=False):
            counted = "suppressed" if outcome.status == "suppressed" else "accepted"
            self.metrics.events.labels(vendor_id, outcome.event_action, counted).inc()
            bound.debug(
                "event.accepted",
                vendor=vendor_id,
                routing_key=redact(event.routing_key),
                integration_id=outcome.integration_id,
                service_id=outcome.service_id,
                event_action=outcome.event_action,
                dedup_key=outcome.dedup_key[:64],
                outcome=outcome.status,
            )
        if vendor.render_success is None:
            return default_success(outcomes)
        try:
            return vendor.render_success(outcomes)
        except Exception:
            # The events are committed: acknowledge them (v2's body) rather than invite a retry.
            plugin = self.plugins.vendor_plugin.get(vendor_id, vendor_id)
            self.metrics.plugin_errors.labels(plugin).inc()
            bound.exception("plugin.hook_failed", plugin=plugin, hook="render_success")
            return default_success(outcomes)

    def _after(
        self, vendor: Vendor | None, request: InboundRequest | None, *, committed: bool
    ) -> None:
        """Tell the vendor whether its request's events are on disk (isolating its bugs)."""
        if vendor is None or request is None or vendor.after_request is None:
            return
        try:
            vendor.after_request(request, committed)
        except Exception:
            plugin = self.plugins.vendor_plugin.get(vendor.id, vendor.id)
            self.metrics.plugin_errors.labels(plugin).inc()
            log.exception("plugin.hook_failed", plugin=plugin, hook="after_request")

    def _refused(
        self, bound: Any, vendor: Vendor | None, events: list[Event], exc: Exception
    ) -> Response:
        """Log and count a request that was not accepted, and render its answer."""
        vendor_id = vendor.id if vendor else "unknown"
        if isinstance(exc, RateLimited):
            outcome, level = "rate_limited", "info"
        elif isinstance(exc, EventError):
            outcome, level = "invalid", "info"
        elif isinstance(exc, RetryLater):
            outcome, level = "unavailable", "warning"
        else:
            outcome, level = "error", "error"
        if isinstance(exc, PluginFailure):
            self.metrics.plugin_errors.labels(exc.plugin).inc()
        actions: list[str] = [e.event_action for e in events] or ["unknown"]
        for action in actions:
            self.metrics.events.labels(vendor_id, action, outcome).inc()
        if outcome != "error":
            getattr(bound, level)(
                "event.refused",
                vendor=vendor_id,
                outcome=outcome,
                event_action=actions[0],
                error=type(exc).__name__,
                detail=str(exc)[:200],
            )
        response = render_error(vendor, exc)
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

"""PagerDuty Events API v2: ``/v2/enqueue`` and ``/v2/change/enqueue``.

The request body is already PD-CEF; this plugin checks each field's JSON
type (PagerDuty's error strings), builds an :class:`~gateway.pluginkit.Event` and
leaves the PD-CEF rules to :func:`gateway.validate`.
"""

from __future__ import annotations

from typing import Any

from gateway.pluginkit import (
    Event,
    Image,
    InboundRequest,
    InvalidEvent,
    Link,
    Outcome,
    Response,
    Vendor,
    hookimpl,
    missing,
)

from ._vendor import decode_json_object, invalid_type

VENDOR_ID = "events_api_v2"
INTEGRATION_TYPE = "events_api_v2_inbound_integration"
CHANGE_PATH = "/v2/change/enqueue"

_PAYLOAD_TEXT_FIELDS = ("summary", "source", "severity", "timestamp", "component", "group")


def _text(obj: dict[str, Any], key: str, name: str, errors: list[str]) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    errors.append(invalid_type(name, "a string"))
    return None


def _links(raw: Any, errors: list[str]) -> list[Link]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.append(invalid_type("links", "an array"))
        return []
    links = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("href"), str):
            errors.append(missing(f"links[{i}].href"))
            continue
        text = item.get("text")
        links.append(Link(href=item["href"], text=text if isinstance(text, str) else None))
    return links


def _images(raw: Any, errors: list[str]) -> list[Image]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.append(invalid_type("images", "an array"))
        return []
    images = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("src"), str):
            errors.append(missing(f"images[{i}].src"))
            continue
        href, alt = item.get("href"), item.get("alt")
        images.append(
            Image(
                src=item["src"],
                href=href if isinstance(href, str) else None,
                alt=alt if isinstance(alt, str) else None,
            )
        )
    return images


def routing_key_of(body: dict[str, Any], request: InboundRequest, errors: list[str]) -> str:
    """The body's ``routing_key``, falling back to the legacy ``X-Routing-Key`` header."""
    key = body.get("routing_key")
    if key is None or key == "":
        key = request.headers.get("x-routing-key") or request.integration_key
    if not key:
        errors.append(missing("routing_key"))
        return ""
    if not isinstance(key, str):
        errors.append(invalid_type("routing_key", "a string"))
        return ""
    return key


def event_from_body(body: dict[str, Any], request: InboundRequest) -> Event:
    """Build a v2 alert or change event from a decoded body; raise on type errors."""
    errors: list[str] = []
    routing_key = routing_key_of(body, request, errors)
    is_change = request.path == CHANGE_PATH
    action: Any = "change" if is_change else body.get("event_action")
    if not is_change:
        if action is None or action == "":
            errors.append(missing("event_action"))
        elif action not in ("trigger", "acknowledge", "resolve"):
            errors.append(
                "'event_action' is invalid (must be one of the following: "
                "'trigger', 'acknowledge' or 'resolve')"
            )
    dedup_key = None if is_change else _text(body, "dedup_key", "dedup_key", errors)
    payload = body.get("payload")
    if payload is None:
        payload = {}
        if is_change or action == "trigger":
            errors.append(missing("payload"))
    elif not isinstance(payload, dict):
        errors.append(invalid_type("payload", "an object"))
        payload = {}
    fields = {k: _text(payload, k, f"payload.{k}", errors) for k in _PAYLOAD_TEXT_FIELDS}
    class_ = _text(payload, "class", "payload.class", errors)
    client = _text(body, "client", "client", errors)
    client_url = _text(body, "client_url", "client_url", errors)
    links = _links(body.get("links"), errors)
    images = _images(body.get("images"), errors)
    if errors:
        # The action the body named labels the refusal's metric (the core keeps only
        # real action names, so an arbitrary string cannot add a label value).
        raise InvalidEvent(errors, event_action=action if isinstance(action, str) else None)
    event = Event(
        routing_key=routing_key,
        event_action=action,
        dedup_key=dedup_key or None,
        summary=fields["summary"],
        source=fields["source"],
        severity=fields["severity"],  # type: ignore[arg-type]  # checked by the pipeline
        timestamp=fields["timestamp"],
        component=fields["component"],
        group=fields["group"],
        class_=class_,
        custom_details=payload.get("custom_details"),
        images=images,
        links=links,
        client=client,
        client_url=client_url,
    )
    # PD-CEF's rules (summary, source, severity, lengths …) are checked once, by the
    # core's pipeline after the enrich/filter hooks; this parser checks only the shape.
    return event


async def parse(request: InboundRequest) -> list[Event]:
    """Parse one Events API v2 request into exactly one event."""
    return [event_from_body(decode_json_object(request.body), request)]


def render_success(outcomes: list[Outcome]) -> Response:
    """202 with ``dedup_key`` (alert events) or ``id`` (change events), as PagerDuty.

    ``outcomes`` is empty when a ``filter_event`` hook dropped the event: still 202.
    """
    if not outcomes:
        return Response(202, {"status": "success", "message": "Event processed"})
    outcome = outcomes[0]
    if outcome.event_action == "change":
        return Response(
            202,
            {"status": "success", "message": "Change event processed", "id": outcome.change_id},
        )
    return Response(
        202, {"status": "success", "message": "Event processed", "dedup_key": outcome.dedup_key}
    )


VENDOR = Vendor(
    id=VENDOR_ID,
    name="Events API v2",
    integration_type=INTEGRATION_TYPE,
    parse=parse,
    paths=("/v2/enqueue", CHANGE_PATH),
    aliases=("events_api_v2", "events-api-v2", "v2"),
    description="PagerDuty Events API v2 (PD-CEF alert and change events).",
    render_success=render_success,
    generic=True,
)


@hookimpl
def register_vendors() -> list[Vendor]:
    """Register the generic Events API v2 vendor."""
    return [VENDOR]

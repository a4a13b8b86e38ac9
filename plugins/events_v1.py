"""PagerDuty Events API v1: ``/generic/2010-04-15/create_event.json``.

v1 speaks its own field names and error strings (``service_key``,
``event_type``, ``incident_key``, ``description``) and answers 200 with
``incident_key``. Extra fields real clients send (pdagent's ``agent``,
Alertmanager's ``"event_action": ""`` and ``"payload": null``) are ignored.
"""

from __future__ import annotations

from typing import Any

from gateway.pluginkit import (
    MAX_DEDUP_KEY_CHARS,
    MAX_SUMMARY_CHARS,
    ROUTING_KEY_LENGTH,
    Event,
    EventAction,
    Image,
    InboundRequest,
    InvalidEvent,
    Link,
    Outcome,
    RateLimited,
    Response,
    Severity,
    UnrecognizedEvent,
    Vendor,
    hookimpl,
)

from ._vendor import decode_json_object

VENDOR_ID = "events_api_v1"
INTEGRATION_TYPE = "generic_events_api_inbound_integration"
PATH = "/generic/2010-04-15/create_event.json"
EVENT_TYPES = ("trigger", "acknowledge", "resolve")
# v1's event types are v2's event actions; the mapping narrows a checked string to the literal
# (membership is tested on the tuple: a JSON list or object is unhashable).
_ACTIONS: dict[str, EventAction] = {
    "trigger": "trigger",
    "acknowledge": "acknowledge",
    "resolve": "resolve",
}
# v1 carries no severity; PagerDuty treats such events as high urgency.
V1_SEVERITY: Severity = "critical"


def _contexts(raw: Any, errors: list[str]) -> tuple[list[Link], list[Image]]:
    links: list[Link] = []
    images: list[Image] = []
    if raw is None:
        return links, images
    if not isinstance(raw, list):
        errors.append("contexts is invalid (must be an array)")
        return links, images
    for item in raw:
        if not isinstance(item, dict):
            errors.append("contexts is invalid (each context must be an object)")
            continue
        kind = item.get("type")
        if kind == "link" and isinstance(item.get("href"), str):
            text = item.get("text")
            links.append(Link(href=item["href"], text=text if isinstance(text, str) else None))
        elif kind == "image" and isinstance(item.get("src"), str):
            href, alt = item.get("href"), item.get("alt")
            images.append(
                Image(
                    src=item["src"],
                    href=href if isinstance(href, str) else None,
                    alt=alt if isinstance(alt, str) else None,
                )
            )
        else:
            errors.append("contexts is invalid (type must be link with href or image with src)")
    return links, images


def _string(body: dict[str, Any], key: str, label: str, errors: list[str]) -> str | None:
    value = body.get(key)
    if value is None or isinstance(value, str):
        return value or None
    errors.append(f"{label} is invalid (must be a string)")
    return None


def event_from_body(body: dict[str, Any], request: InboundRequest) -> Event:
    """Build an event from a decoded v1 body, with v1's own error strings."""
    errors: list[str] = []
    service_key = _string(body, "service_key", "Service key", errors)
    if not service_key:
        service_key = request.integration_key
    if not service_key:
        errors.append("Service key can't be blank")
    elif len(service_key) != ROUTING_KEY_LENGTH:
        errors.append("Service key is the wrong length (should be 32 characters)")
    event_type = body.get("event_type")
    if event_type is None or event_type == "":
        errors.append("'event_type' is missing or blank")
    elif event_type not in EVENT_TYPES:
        errors.append("event_type is invalid (must be one of: trigger acknowledge resolve)")
    incident_key = _string(body, "incident_key", "Incident key", errors)
    description = _string(body, "description", "Description", errors)
    if incident_key and len(incident_key) > MAX_DEDUP_KEY_CHARS:
        errors.append("Incident key is too long (maximum is 255 characters)")
    if event_type == "trigger":
        if not description:
            errors.append("Description is missing or blank")
    elif event_type in EVENT_TYPES and not incident_key:
        errors.append("Incident key is missing or blank")
    if description and len(description) > MAX_SUMMARY_CHARS:
        errors.append("Description is too long (maximum is 1024 characters)")
    client = _string(body, "client", "client", errors)
    client_url = _string(body, "client_url", "client_url", errors)
    links, images = _contexts(body.get("contexts"), errors)
    action = _ACTIONS.get(event_type) if isinstance(event_type, str) else None
    if errors:
        raise InvalidEvent(errors, event_action=action)  # labels the refusal's metric
    assert service_key is not None and action is not None  # errors were raised otherwise
    is_trigger = action == "trigger"
    return Event(
        routing_key=service_key,
        event_action=action,
        dedup_key=incident_key,
        summary=description,
        source=(client or "Events API v1") if is_trigger else None,
        severity=V1_SEVERITY if is_trigger else None,
        custom_details=body.get("details"),
        images=images,
        links=links,
        client=client,
        client_url=client_url,
    )


async def parse(request: InboundRequest) -> list[Event]:
    """Parse one Events API v1 request into exactly one event."""
    # PD-CEF's rules are checked once, by the core's pipeline after the enrich/filter hooks.
    return [event_from_body(decode_json_object(request.body), request)]


def render_success(outcomes: list[Outcome]) -> Response:
    """200 with ``incident_key``: go-pagerduty treats anything but 200 as failure.

    ``outcomes`` is empty when a ``filter_event`` hook dropped the event: still 200.
    """
    body = {"status": "success", "message": "Event processed"}
    if outcomes:
        body["incident_key"] = outcomes[0].dedup_key
    return Response(200, body)


def render_error(error: Exception) -> Response | None:
    """v1's error bodies: lowercase ``unrecognized object``; 403 (not 429) when throttled."""
    if isinstance(error, RateLimited):
        # v1 clients (pdagent, Alertmanager in v1 mode) treat 403 as "throttled, retry".
        return Response(
            403,
            {
                "status": "throttle exceeded",
                "message": "Requests for this service are arriving too quickly; retry later",
                "errors": [f"More than {error.limit} events per minute"],
            },
        )
    if isinstance(error, UnrecognizedEvent):
        return Response(
            400,
            {
                "status": "unrecognized object",
                "message": "Event object format is unrecognized",
                "errors": error.errors,
            },
        )
    if not isinstance(error, InvalidEvent):
        return None
    return Response(
        400, {"status": "invalid event", "message": error.message, "errors": error.errors}
    )


VENDOR = Vendor(
    id=VENDOR_ID,
    name="Events API v1",
    integration_type=INTEGRATION_TYPE,
    parse=parse,
    paths=(PATH,),
    aliases=("events_api_v1", "events-api-v1", "v1", "generic_events_api"),
    description="PagerDuty Events API v1 (service_key / event_type / incident_key).",
    render_success=render_success,
    render_error=render_error,
    generic=True,
)


@hookimpl
def register_vendors() -> list[Vendor]:
    """Register the generic Events API v1 vendor."""
    return [VENDOR]

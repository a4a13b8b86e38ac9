"""alert-gateway-example-plugin: the "Example Webhook" vendor, an enrichment and an observer.

A plugin is a module with functions marked ``@hookimpl`` whose names match
the hooks in :mod:`gateway.hookspecs`. It imports everything it uses from
:mod:`gateway.pluginkit`, the plugin face. This one implements these hooks:

* ``register_vendors``: teaches the gateway one payload format, "Example
  Webhook", whose ``parse`` turns a request into PD-CEF events;
* ``enrich_event``: stamps every event of that format before routing;
* ``incident_changed``: logs every incident change after it is committed;
* ``register_delivery_kinds``: adds the ``example_notify`` outbound kind
  (:mod:`alert_gateway_example.notify`), which POSTs each incident change to
  ``EXAMPLE_NOTIFY_URL`` through the gateway's durable delivery queue, and the
  ``chat_webhook_notification`` kind (:mod:`alert_gateway_example.chat`), which delivers
  notifications to people whose contact method is a chat room's incoming webhook;
* ``register_contact_method_types``: that contact method type,
  ``chat_webhook_contact_method`` (its address: the webhook URL).

It is loaded through the entry point ``example`` in the group
``alert_gateway.plugins`` (see ``pyproject.toml``).
"""

from __future__ import annotations

import json
from typing import Any

import structlog

from alert_gateway_example.chat import CHAT, CHAT_TYPE, CONTACT_TYPE
from alert_gateway_example.chat import KIND as CHAT_KIND
from alert_gateway_example.notify import NOTIFY, produce
from gateway.pluginkit import (
    ContactMethodType,
    DeliveryKind,
    Event,
    EventAction,
    InboundRequest,
    IncidentChange,
    InvalidEvent,
    Severity,
    UnrecognizedEvent,
    Vendor,
    fit_dedup_key,
    fit_size,
    fit_summary,
    hookimpl,
    missing,
    register_contact_delivery,
    register_producer,
    validate,
)

VENDOR_ID = "PEXAMPL"  # P + 6 uppercase letters or digits, like PagerDuty's vendor ids
DISTRIBUTION = "alert-gateway-example-plugin"
STATES: dict[str, EventAction] = {"alerting": "trigger", "ok": "resolve"}

# The typed literals (EventAction, Severity) let mypy --strict check the Event built below.
LEVELS: dict[str, Severity] = {
    "critical": "critical",
    "error": "error",
    "warning": "warning",
    "info": "info",
}

log = structlog.get_logger("alert_gateway_example")


def _text(body: dict[str, Any], name: str, errors: list[str], *, required: bool) -> str | None:
    """A string field; a missing required one or a wrong type adds PagerDuty-style errors."""
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.append(missing(name))
        return None
    if not isinstance(value, str):
        errors.append(f"'{name}' is invalid (must be a string)")
        return None
    return value


async def parse(request: InboundRequest) -> list[Event]:
    """Turn one Example Webhook request into one event.

    Raises :class:`UnrecognizedEvent` for a body that is not a JSON object and
    :class:`InvalidEvent` for one that breaks the format: both answer ``400``,
    and the sender must not retry. Any other exception would be a bug of this
    plugin: the gateway answers ``500`` and logs it with the plugin's name.
    """
    try:
        body = json.loads(request.body)
    except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd nesting
        raise UnrecognizedEvent("JSON parse error") from exc
    if not isinstance(body, dict):
        raise UnrecognizedEvent("JSON parse error")

    errors: list[str] = []
    check_id = _text(body, "id", errors, required=True)
    state = _text(body, "state", errors, required=True)
    action = STATES.get(state.strip().lower()) if state else None
    if state and action is None:
        errors.append("'state' is invalid (must be 'alerting' or 'ok')")
    title = _text(body, "title", errors, required=action == "trigger")
    host = _text(body, "host", errors, required=False)
    level = LEVELS.get((_text(body, "level", errors, required=False) or "error").strip().lower())
    if level is None:
        errors.append("'level' is invalid (must be critical, error, warning or info)")
    if not request.integration_key:
        errors.append("post to /integration/{integration_key}/enqueue")
    if errors:
        raise InvalidEvent(errors)
    assert check_id is not None and action is not None and level is not None
    assert request.integration_key is not None

    event = Event(
        routing_key=request.integration_key,
        event_action=action,
        # The limits helpers bring native values inside PagerDuty's limits instead of
        # refusing the page: a key over 255 characters is hashed, a summary cut at 1024.
        dedup_key=fit_dedup_key(f"example:{check_id}"),
        summary=fit_summary(title or f"{check_id} is ok"),
        source=host or "example",
        severity=level if action == "trigger" else "info",
        custom_details=body.get("details"),
        client="Example Webhook",
    )
    event = fit_size(event)  # over 512 KB: custom_details replaced by PagerDuty's notice
    problems = validate(event)
    if problems:
        raise InvalidEvent(problems)
    return [event]


VENDOR = Vendor(
    id=VENDOR_ID,
    name="Example Webhook",
    integration_type="example_webhook_inbound_integration",
    parse=parse,
    aliases=("example", "example_webhook"),
    description="The Example Webhook JSON format (alert-gateway-example-plugin).",
    website_url="https://github.com/alert-gateway/alert-gateway-example-plugin",
)


@hookimpl
def register_vendors() -> list[Vendor]:
    """Register the Example Webhook vendor."""
    return [VENDOR]


@hookimpl
def enrich_event(event: Event, vendor_id: str) -> None:
    """Record which plugin parsed each Example Webhook event, in its ``custom_details``."""
    if vendor_id != VENDOR_ID:
        return  # leave other vendors' events alone
    details = event.custom_details
    if not isinstance(details, dict):
        details = {} if details is None else {"details": details}
    details["parsed_by"] = DISTRIBUTION
    event.custom_details = details


@hookimpl
def incident_changed(change: IncidentChange) -> None:
    """Log each committed incident change (a real plugin would notify someone here)."""
    log.info(
        "example.incident_changed",
        incident_id=change.incident_id,
        incident_number=change.incident_number,
        action=change.action,
        previous_status=change.previous_status,
        status=change.status,
    )


@hookimpl
def register_delivery_kinds() -> list[DeliveryKind]:
    """Add the ``example_notify`` kind with the producer that enqueues its messages, and the
    chat webhook kind that carries notifications to ``chat_webhook_contact_method``s."""
    register_producer(produce)
    # Notifications to a contact method of this type go out as messages of this kind.
    register_contact_delivery(CONTACT_TYPE, CHAT_KIND)
    return [NOTIFY, CHAT]


@hookimpl
def register_contact_method_types() -> list[ContactMethodType]:
    """Let people have a chat room's incoming webhook as a contact method (delivered by the
    ``chat_webhook_notification`` kind registered above)."""
    return [CHAT_TYPE]

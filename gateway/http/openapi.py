"""The OpenAPI 3.1 document of everything the gateway serves over HTTP.

Built from one table of operations rather than written as a long JSON file by
hand, so each operation is a line to review. ``GET /openapi.json`` serves it,
``docs/openapi.json`` holds a copy in the repository, and tests check both
that the copy is current and that the document and the routes agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway import __version__
from gateway.http.openapi_schemas import SCHEMAS, _array, _obj, _ref, _str

__all__ = ["OPERATIONS", "Operation", "document"]

JSON = "application/json"


@dataclass(frozen=True)
class Operation:
    """One method on one path, with what it takes and what it answers."""

    method: str
    path: str
    summary: str
    tag: str
    responses: dict[int, str | None]  # status -> schema name (None: no body / not JSON)
    body: str | None = None  # request schema name, wrapped under ``wrap`` when given
    wrap: str | None = None
    query: tuple[str, ...] = ()
    auth: bool = True
    from_header: bool = False
    content_type: str = JSON
    extra: dict[str, Any] = field(default_factory=dict)


_ERRORS = {400: "Error", 401: "Error", 403: "Error"}
_FOUND = {**_ERRORS, 404: "Error"}
_EVENT_ERRORS: dict[int, str | None] = {400: "EventError", 413: "EventError", 503: "EventError"}
_LIST = ("limit", "offset", "total")

OPERATIONS: tuple[Operation, ...] = (
    # -- Events API and vendor inbound URLs (no token: the routing key is the credential) ----
    Operation("post", "/v2/enqueue", "Send an alert event (Events API v2)", "events",
              {202: "EventAccepted", 429: "EventError", **_EVENT_ERRORS}, "EventV2", auth=False),
    Operation("post", "/v2/change/enqueue", "Send a change event", "events",
              {202: "EventAccepted", 429: "EventError", **_EVENT_ERRORS}, "ChangeEvent",
              auth=False),
    Operation("post", "/generic/2010-04-15/create_event.json", "Send an event (Events API v1)",
              "events", {200: "EventV1Accepted", 403: "EventError", **_EVENT_ERRORS}, "EventV1",
              auth=False),
    Operation("post", "/integration/{integration_key}/enqueue",
              "Send a vendor's native payload to an integration", "events",
              {200: None, 202: "EventAccepted", 429: "EventError", **_EVENT_ERRORS}, auth=False),
    Operation("post", "/x-ere/{integration_key}", "Send a vendor's native payload (x-ere)",
              "events", {200: None, 202: "EventAccepted", 429: "EventError", **_EVENT_ERRORS},
              auth=False),
    Operation("post", "/adapter/{adapter}/v1/{integration_key}",
              "Send a vendor's native payload (adapter URL, e.g. cloudwatch_sns)", "events",
              {200: None, 202: "EventAccepted", 429: "EventError", **_EVENT_ERRORS}, auth=False),
    Operation("post", "/nagios/2010-04-15/create_event",
              "pagerduty_nagios.pl form post", "events",
              {200: None, 400: "EventError", 413: "EventError", 429: "EventError",
               503: "EventError"}, auth=False, content_type="application/x-www-form-urlencoded"),
    # -- operations ------------------------------------------------------------------------
    Operation("get", "/healthz", "Liveness", "operations", {200: None}, auth=False),
    Operation("get", "/readyz", "Readiness: store writable, listeners up", "operations",
              {200: None, 503: None}, auth=False),
    Operation("get", "/metrics", "Prometheus metrics", "operations", {200: None}, auth=False),
    Operation("get", "/-/plugins", "Loaded plugins and their vendors", "operations",
              {200: None}, auth=False),
    Operation("get", "/openapi.json", "This document", "operations", {200: None}, auth=False),
    # -- services and integrations --------------------------------------------------------
    Operation("get", "/services", "List services", "services", {200: "ServiceList", **_ERRORS},
              query=("query", "sort_by", "include[]", *_LIST)),
    Operation("post", "/services", "Create a service", "services", {201: "Service", **_ERRORS},
              "ServiceInput", "service"),
    Operation("get", "/services/{id}", "Get a service", "services", {200: "Service", **_FOUND},
              query=("include[]",)),
    Operation("put", "/services/{id}", "Update, disable or enable a service", "services",
              {200: "Service", **_FOUND}, "ServiceInput", "service"),
    Operation("delete", "/services/{id}", "Delete a service", "services",
              {204: None, **_FOUND}),
    Operation("get", "/services/{id}/forwarding/messages",
              "Forwarded events waiting or failed (extension)", "services",
              {200: "ForwardedMessageList", **_FOUND}, query=("state[]",)),
    Operation("post", "/services/{id}/forwarding/messages/{message_id}/retry",
              "Send a forwarded event again now (extension)", "services",
              {200: "ForwardedMessage", **_FOUND}),
    Operation("delete", "/services/{id}/forwarding/messages/{message_id}",
              "Drop an undelivered forwarded event (extension)", "services",
              {204: None, **_FOUND}),
    Operation("post", "/services/{id}/forwarding/retry",
              "Send every failed forwarded event again now (extension)", "services",
              {200: "RetriedCount", **_FOUND}),
    Operation("post", "/services/{id}/integrations", "Add an integration", "services",
              {201: "Integration", **_FOUND}, "IntegrationInput", "integration"),
    Operation("get", "/services/{id}/integrations/{integration_id}", "Get an integration",
              "services", {200: "Integration", **_FOUND}, query=("include[]",)),
    Operation("put", "/services/{id}/integrations/{integration_id}",
              "Update or move an integration (409 lists differences unless confirm=true)",
              "services", {200: "Integration", 409: "Error", **_FOUND}, "IntegrationInput",
              "integration", query=("confirm",)),
    Operation("delete", "/services/{id}/integrations/{integration_id}",
              "Delete an integration; its key stops working, its incidents stay", "services",
              {204: None, **_FOUND}),
    Operation("get", "/vendors", "List vendors", "vendors", {200: "VendorList", **_ERRORS},
              query=("query", *_LIST)),
    Operation("get", "/vendors/{id}", "Get a vendor", "vendors", {200: "Vendor", **_FOUND}),
    # -- incidents -------------------------------------------------------------------------
    Operation("get", "/incidents", "List incidents", "incidents",
              {200: "IncidentList", **_ERRORS},
              query=("statuses[]", "service_ids[]", "urgencies[]", "incident_key", "since",
                     "until", "date_range", "sort_by", "include[]", *_LIST, "user_ids[]")),
    Operation("post", "/incidents", "Create an incident", "incidents",
              {201: "Incident", **_FOUND}, "IncidentInput", "incident", from_header=True),
    Operation("put", "/incidents", "Acknowledge, resolve, reopen or reassign up to 250 incidents",
              "incidents",
              {200: "IncidentList", 413: "Error", **_FOUND}, from_header=True,
              extra={"requestBody": {"required": True, "content": {JSON: {"schema": _obj(
                  ["incidents"], incidents=_array({"type": "object"}))}}}}),
    Operation("get", "/incidents/{id}", "Get an incident by id or number", "incidents",
              {200: "Incident", **_FOUND}),
    Operation("put", "/incidents/{id}", "Acknowledge, resolve, reopen or reassign an incident",
              "incidents",
              {200: "Incident", **_FOUND}, "IncidentUpdate", "incident", from_header=True),
    Operation("get", "/incidents/{id}/alerts", "An incident's alerts", "incidents",
              {200: "AlertList", **_FOUND}, query=("alert_key", "statuses[]", *_LIST)),
    Operation("get", "/incidents/{id}/log_entries", "An incident's timeline", "incidents",
              {200: "LogEntryList", **_FOUND}, query=_LIST),
    Operation("get", "/log_entries", "The account's log entries, newest first", "incidents",
              {200: "LogEntryList", **_ERRORS},
              query=("since", "until", "is_overview", "include[]", *_LIST)),
    Operation("get", "/log_entries/{id}", "Get one timeline entry", "incidents",
              {200: "LogEntry", **_FOUND}),
    # -- maintenance windows ---------------------------------------------------------------
    Operation("get", "/maintenance_windows", "List maintenance windows", "maintenance",
              {200: "MaintenanceWindowList", **_ERRORS},
              query=("filter", "service_ids[]", "query", *_LIST)),
    Operation("post", "/maintenance_windows", "Create a maintenance window", "maintenance",
              {201: "MaintenanceWindow", **_FOUND}, "MaintenanceWindowInput",
              "maintenance_window", from_header=True),
    Operation("get", "/maintenance_windows/{id}", "Get a maintenance window", "maintenance",
              {200: "MaintenanceWindow", **_FOUND}),
    Operation("put", "/maintenance_windows/{id}", "Update a maintenance window", "maintenance",
              {200: "MaintenanceWindow", **_FOUND}, "MaintenanceWindowInput",
              "maintenance_window"),
    Operation("delete", "/maintenance_windows/{id}",
              "End an ongoing window or delete a future one (405 for a past one)",
              "maintenance", {204: None, 405: "Error", **_FOUND}),
    # -- webhook subscriptions (v3); rotate_secret, end_rotation, deliveries are extensions -
    Operation("get", "/webhook_subscriptions", "List webhook subscriptions", "webhooks",
              {200: "WebhookSubscriptionList", **_ERRORS},
              query=("filter_type", "filter_id", *_LIST)),
    Operation("post", "/webhook_subscriptions", "Create a webhook subscription", "webhooks",
              {201: "WebhookSubscription", **_ERRORS}, "WebhookSubscriptionInput",
              "webhook_subscription"),
    Operation("get", "/webhook_subscriptions/{id}", "Get a webhook subscription", "webhooks",
              {200: "WebhookSubscription", **_FOUND}),
    Operation("put", "/webhook_subscriptions/{id}", "Update a webhook subscription", "webhooks",
              {200: "WebhookSubscription", **_FOUND}, "WebhookSubscriptionInput",
              "webhook_subscription"),
    Operation("delete", "/webhook_subscriptions/{id}", "Delete a webhook subscription",
              "webhooks", {204: None, **_FOUND}),
    Operation("post", "/webhook_subscriptions/{id}/enable",
              "Enable a temporarily disabled webhook subscription", "webhooks",
              {200: "WebhookSubscription", **_FOUND}),
    Operation("post", "/webhook_subscriptions/{id}/ping", "Send a pagey.ping test event",
              "webhooks", {202: None, 429: "Error", **_FOUND}),
    Operation("post", "/webhook_subscriptions/{id}/rotate_secret",
              "Extension: start a secret rotation (new secret shown once; both sign)",
              "webhooks", {200: "WebhookSubscription", **_FOUND}),
    Operation("post", "/webhook_subscriptions/{id}/end_rotation",
              "Extension: end a secret rotation (the previous secret stops signing)",
              "webhooks", {200: "WebhookSubscription", **_FOUND}),
    Operation("get", "/webhook_subscriptions/{id}/deliveries",
              "Extension: a subscription's deliveries, newest first", "webhooks",
              {200: "WebhookDeliveryList", **_FOUND}, query=("statuses[]", "limit")),
    Operation("post", "/webhook_subscriptions/{id}/deliveries/{message_id}/retry",
              "Extension: send a failed delivery again now", "webhooks",
              {200: "WebhookDelivery", **_FOUND}),
    Operation("delete", "/webhook_subscriptions/{id}/deliveries/{message_id}",
              "Extension: drop a delivery that was not delivered", "webhooks",
              {204: None, **_FOUND}),
    # -- people: users, contact methods, notification rules --------------------------------
    Operation("get", "/users", "List users", "users", {200: "UserList", **_ERRORS},
              query=("query", "include[]", *_LIST)),
    Operation("post", "/users", "Create a user (with an email contact method and rules)",
              "users", {201: "User", **_ERRORS}, "UserInput", "user"),
    Operation("get", "/users/me", "Get the user the API token belongs to", "users",
              {200: "User", **_ERRORS}, query=("include[]",)),
    Operation("get", "/users/{id}", "Get a user", "users", {200: "User", **_FOUND},
              query=("include[]",)),
    Operation("put", "/users/{id}", "Update a user", "users", {200: "User", **_FOUND},
              "UserInput", "user"),
    Operation("delete", "/users/{id}", "Delete a user", "users", {204: None, **_FOUND}),
    Operation("get", "/users/{id}/contact_methods", "List a user's contact methods", "users",
              {200: "ContactMethodList", **_FOUND}),
    Operation("post", "/users/{id}/contact_methods", "Create a user contact method", "users",
              {201: "ContactMethod", **_FOUND}, "ContactMethodInput", "contact_method"),
    Operation("get", "/users/{id}/contact_methods/{contact_method_id}",
              "Get a user's contact method", "users", {200: "ContactMethod", **_FOUND}),
    Operation("put", "/users/{id}/contact_methods/{contact_method_id}",
              "Update a user's contact method", "users", {200: "ContactMethod", **_FOUND},
              "ContactMethodInput", "contact_method"),
    Operation("delete", "/users/{id}/contact_methods/{contact_method_id}",
              "Delete a user's contact method (400 while notification rules use it)", "users",
              {204: None, **_FOUND}),
    Operation("get", "/users/{id}/notification_rules", "List a user's notification rules",
              "users", {200: "NotificationRuleList", **_FOUND},
              query=("urgency", "include[]")),
    Operation("post", "/users/{id}/notification_rules", "Create a user notification rule",
              "users", {201: "NotificationRule", **_FOUND}, "NotificationRuleInput",
              "notification_rule"),
    Operation("get", "/users/{id}/notification_rules/{notification_rule_id}",
              "Get a user's notification rule", "users", {200: "NotificationRule", **_FOUND},
              query=("include[]",)),
    Operation("put", "/users/{id}/notification_rules/{notification_rule_id}",
              "Update a user's notification rule", "users", {200: "NotificationRule", **_FOUND},
              "NotificationRuleInput", "notification_rule"),
    Operation("delete", "/users/{id}/notification_rules/{notification_rule_id}",
              "Delete a user's notification rule", "users", {204: None, **_FOUND}),
    # -- on-call schedules --------------------------------------------------------------------
    Operation("get", "/schedules", "List on-call schedules", "schedules",
              {200: "ScheduleList", **_ERRORS}, query=("query", "time_zone", *_LIST)),
    Operation("post", "/schedules", "Create an on-call schedule", "schedules",
              {201: "Schedule", **_ERRORS}, "ScheduleInput", "schedule"),
    Operation("get", "/schedules/{id}",
              "Get a schedule; since/until render its layers and final schedule", "schedules",
              {200: "Schedule", **_FOUND}, query=("since", "until", "time_zone")),
    Operation("put", "/schedules/{id}", "Update a schedule (its layers as a whole)",
              "schedules", {200: "Schedule", **_FOUND}, "ScheduleInput", "schedule"),
    Operation("delete", "/schedules/{id}", "Delete a schedule", "schedules",
              {204: None, **_FOUND}),
    Operation("get", "/schedules/{id}/overrides", "List a schedule's overrides in since/until",
              "schedules", {200: "OverrideList", **_FOUND}, query=("since", "until", "time_zone")),
    Operation("post", "/schedules/{id}/overrides", "Create overrides (all or none)",
              "schedules", {201: "OverridesCreated", **_FOUND}, "OverridesInput"),
    Operation("delete", "/schedules/{id}/overrides/{override_id}", "Delete an override",
              "schedules", {204: None, **_FOUND}),
    Operation("get", "/schedules/{id}/users", "Users on call on a schedule in since/until",
              "schedules", {200: "OnCallUsers", **_FOUND}, query=("since", "until")),
    # -- notifications ---------------------------------------------------------------------
    Operation("get", "/notifications",
              "Notifications sent to people from since to until (both required), newest first",
              "notifications", {200: "NotificationList", **_ERRORS},
              query=("since", "until", "filter", "include[]", "time_zone", *_LIST)),
    # -- incident notes and snooze -------------------------------------------------------------
    Operation("get", "/incidents/{id}/notes", "An incident's notes, oldest first", "incidents",
              {200: "IncidentNoteList", **_FOUND}),
    Operation("post", "/incidents/{id}/notes", "Add a note to an incident", "incidents",
              {200: "IncidentNote", **_FOUND}, "IncidentNoteInput", "note", from_header=True),
    Operation("post", "/incidents/{id}/snooze",
              "Snooze an acknowledged incident: triggered again after 'duration' seconds",
              "incidents", {201: "Incident", **_FOUND}, "SnoozeInput", from_header=True),
    # -- escalation policies ----------------------------------------------------------------
    Operation("get", "/escalation_policies", "List escalation policies", "escalation",
              {200: "EscalationPolicyList", **_ERRORS},
              query=("query", "user_ids[]", "sort_by", "include[]", *_LIST)),
    Operation("post", "/escalation_policies", "Create an escalation policy", "escalation",
              {201: "EscalationPolicy", **_ERRORS}, "EscalationPolicyInput", "escalation_policy"),
    Operation("get", "/escalation_policies/{id}", "Get an escalation policy", "escalation",
              {200: "EscalationPolicy", **_FOUND}, query=("include[]",)),
    Operation("put", "/escalation_policies/{id}", "Update an escalation policy", "escalation",
              {200: "EscalationPolicy", **_FOUND}, "EscalationPolicyInput", "escalation_policy"),
    Operation("delete", "/escalation_policies/{id}",
              "Delete an escalation policy (400 while a service uses it)", "escalation",
              {204: None, **_FOUND}),
    Operation("get", "/oncalls", "Who is on call for which escalation policy level",
              "escalation", {200: "OncallList", **_ERRORS},
              query=("since", "until", "escalation_policy_ids[]", "schedule_ids[]", "user_ids[]",
                     "earliest", *_LIST)),
)  # fmt: skip


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for segment in op.path.split("/"):
        if segment.startswith("{"):
            name = segment[1:-1]
            params.append({"name": name, "in": "path", "required": True, "schema": _str()})
    for name in op.query:
        schema: dict[str, Any] = (
            _array(_str()) if name.endswith("[]") else
            {"type": "integer", "minimum": 0} if name in ("limit", "offset") else
            {"type": "boolean"} if name in ("total", "confirm", "earliest") else _str()
        )  # fmt: skip
        params.append({"name": name, "in": "query", "required": False, "schema": schema})
    if op.from_header:
        params.append(
            {
                "name": "From",
                "in": "header",
                "required": True,
                "description": "Email address of the user acting (PagerDuty's rule)",
                "schema": _str(format="email"),
            }
        )
    return params


# REST answers one object wrapped under its singular root: {"service": {...}}.
WRAPPED = {
    "Service": "service",
    "Integration": "integration",
    "Vendor": "vendor",
    "Incident": "incident",
    "Alert": "alert",
    "LogEntry": "log_entry",
    "MaintenanceWindow": "maintenance_window",
    "ForwardedMessage": "message",
    "WebhookSubscription": "webhook_subscription",
    "WebhookDelivery": "delivery",
    "User": "user",
    "ContactMethod": "contact_method",
    "NotificationRule": "notification_rule",
    "Schedule": "schedule",
    "IncidentNote": "note",
    "EscalationPolicy": "escalation_policy",
}


def _response_schema(name: str) -> dict[str, Any]:
    root = WRAPPED.get(name)
    return _obj([root], **{root: _ref(name)}) if root else _ref(name)


def _operation(op: Operation) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": f"{op.method}_{op.path}".replace("/", "_").replace("{", "").replace("}", ""),
        "responses": {},
    }
    params = _parameters(op)
    if params:
        spec["parameters"] = params
    if op.body is not None:
        schema = _ref(op.body)
        if op.wrap is not None:
            schema = _obj([op.wrap], **{op.wrap: _ref(op.body)})
        spec["requestBody"] = {"required": True, "content": {op.content_type: {"schema": schema}}}
    elif op.method == "post" and op.tag == "events":
        spec["requestBody"] = {"required": True, "content": {op.content_type: {"schema": {}}}}
    spec.update(op.extra)
    for status, name in sorted(op.responses.items()):
        answer: dict[str, Any] = {"description": str(status)}
        if name is not None:
            answer["content"] = {JSON: {"schema": _response_schema(name)}}
        spec["responses"][str(status)] = answer
    if not op.auth:
        spec["security"] = []
    return spec


def document() -> dict[str, Any]:
    """The whole OpenAPI document as a JSON-able dict."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "alert-gateway",
            "version": __version__,
            "description": (
                "PagerDuty's Events API v1/v2, vendor inbound URLs and a REST API v2 subset, "
                "served by a self-hosted gateway. REST calls take "
                "'Authorization: Token token=...' (or Bearer) from 'alert-gateway token create'."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Token token=<token>",
                }
            },
        },
        "security": [{"token": []}],
    }


def render() -> str:
    """The document as the repository keeps it (``docs/openapi.json``)."""
    import json

    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")  # noqa: T201  # `make openapi` writes docs/openapi.json from this

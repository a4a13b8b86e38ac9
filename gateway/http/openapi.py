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

__all__ = ["OPERATIONS", "Operation", "document"]

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


def _str(**extra: Any) -> dict[str, Any]:
    return {"type": "string", **extra}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def _list_of(root: str, item: str) -> dict[str, Any]:
    return _obj(
        [root, "limit", "offset", "more", "total"],
        **{root: _array(_ref(item))},
        limit={"type": "integer"},
        offset={"type": "integer"},
        more={"type": "boolean"},
        total=_nullable({"type": "integer"}),
    )


SEVERITY = _str(enum=["critical", "error", "warning", "info"])
EMAIL_INCIDENT_CREATION = _str(
    enum=["on_new_email", "on_new_email_subject", "only_if_no_open_incidents", "use_rules"]
)
EMAIL_PRESET = _nullable(
    _str(enum=["nagios"], description="Gateway extension: Nagios/Icinga notification mails.")
)
TIMESTAMP = _str(format="date-time")
TARGET_REFERENCES = ["user_reference", "schedule_reference"]

SCHEMAS: dict[str, Any] = {
    # -- Events API -------------------------------------------------------------------------
    "EventV2": _obj(
        ["routing_key", "event_action"],
        routing_key=_str(minLength=32, maxLength=32),
        event_action=_str(enum=["trigger", "acknowledge", "resolve"]),
        dedup_key=_str(maxLength=255),
        payload=_obj(
            ["summary", "source", "severity"],
            summary=_str(maxLength=1024),
            source=_str(),
            severity=SEVERITY,
            timestamp=TIMESTAMP,
            component=_str(),
            group=_str(),
            **{"class": _str()},
            custom_details={},
        ),
        images=_array({"type": "object"}),
        links=_array({"type": "object"}),
        client=_str(),
        client_url=_str(),
    ),
    "ChangeEvent": _obj(
        ["routing_key", "payload"],
        routing_key=_str(minLength=32, maxLength=32),
        payload=_obj(
            ["summary"],
            summary=_str(maxLength=1024),
            source=_str(),
            timestamp=TIMESTAMP,
            custom_details={"type": "object"},
        ),
        links=_array({"type": "object"}),
    ),
    "EventV1": _obj(
        ["service_key", "event_type"],
        service_key=_str(minLength=32, maxLength=32),
        event_type=_str(enum=["trigger", "acknowledge", "resolve"]),
        incident_key=_str(maxLength=255),
        description=_str(maxLength=1024),
        details={},
        client=_str(),
        client_url=_str(),
        contexts=_array({"type": "object"}),
    ),
    "EventAccepted": _obj(
        ["status", "message"], status=_str(), message=_str(), dedup_key=_str(), id=_str()
    ),
    "EventV1Accepted": _obj(
        ["status", "message"], status=_str(), message=_str(), incident_key=_str()
    ),
    "EventError": _obj(
        ["status", "message", "errors"],
        status=_str(),
        message=_str(),
        errors=_array(_str()),
        plugin=_str(),
    ),
    # -- REST conventions -------------------------------------------------------------------
    "Error": _obj(
        ["error"],
        error=_obj(
            ["message", "code"],
            message=_str(),
            code={"type": "integer"},
            errors=_array(_str()),
        ),
    ),
    "Reference": _obj(
        ["id", "type"],
        id=_str(),
        type=_str(),
        summary=_nullable(_str()),
        self=_nullable(_str()),
        html_url=_nullable(_str()),
    ),
    "Service": _obj(
        ["id", "type", "name", "status"],
        id=_str(),
        type=_str(const="service"),
        summary=_str(),
        self=_str(),
        html_url=_str(),
        name=_str(),
        description=_nullable(_str()),
        status=_str(enum=["active", "warning", "critical", "maintenance", "disabled"]),
        alert_creation=_str(enum=["create_alerts_and_incidents", "create_incidents"]),
        incident_urgency_rule={"type": "object"},
        acknowledgement_timeout=_nullable({"type": "integer"}),
        auto_resolve_timeout=_nullable({"type": "integer"}),
        escalation_policy=_nullable(_ref("Reference")),
        integrations=_array({"type": "object"}),
        teams=_array({"type": "object"}),
        created_at=TIMESTAMP,
        forward_to=_array(_ref("ForwardTarget")),
        forward_suppressed={"type": "boolean"},
    ),
    # Extension: forwarding upstream (docs/forwarding.md); keys shown by their last 4 characters.
    "ForwardTarget": _obj(
        ["url", "routing_key"], id=_str(), url=_str(format="uri"), routing_key=_str()
    ),
    "ForwardedMessage": _obj(
        ["id", "state", "destination"],
        id=_str(),
        type=_str(const="outbound_message"),
        kind=_str(),
        destination=_str(),
        forward_target=_str(),
        dedup_key=_nullable(_str()),
        state=_str(enum=["pending", "delivered", "failed"]),
        attempts={"type": "integer"},
        created_at=TIMESTAMP,
        due_at=TIMESTAMP,
        last_error=_nullable(_str()),
        finished_at=_nullable(TIMESTAMP),
    ),
    "ForwardedMessageList": _obj(["messages"], messages=_array(_ref("ForwardedMessage"))),
    "RetriedCount": _obj(["retried"], retried={"type": "integer"}),
    "ServiceInput": _obj(
        ["name"],
        name=_str(minLength=1),
        description=_nullable(_str()),
        status=_str(enum=["active", "disabled"]),
        alert_creation=_str(enum=["create_alerts_and_incidents", "create_incidents"]),
        incident_urgency_rule={"type": "object"},
        acknowledgement_timeout=_nullable({"type": "integer"}),
        auto_resolve_timeout=_nullable({"type": "integer"}),
        escalation_policy=_nullable(_ref("Reference")),
        forward_to=_array(_obj(["url", "routing_key"], url=_str(), routing_key=_str())),
        forward_suppressed={"type": "boolean"},
    ),
    "Integration": _obj(
        ["id", "type", "name"],
        id=_str(),
        type=_str(),
        summary=_str(),
        self=_str(),
        html_url=_str(),
        name=_str(),
        service=_ref("Reference"),
        vendor=_nullable(_ref("Reference")),
        integration_key=_nullable(_str()),
        integration_email=_nullable(
            _str(description="The whole address (a local part gains [smtp] domain).")
        ),
        email_incident_creation=EMAIL_INCIDENT_CREATION,
        email_preset=EMAIL_PRESET,
        created_at=TIMESTAMP,
    ),
    "IntegrationInput": _obj(
        [],
        type=_str(),
        name=_str(),
        service=_ref("Reference"),
        vendor=_nullable(_ref("Reference")),
        integration_email=_str(
            description="A local part, or an address at [smtp] domain; needs [smtp]."
        ),
        email_incident_creation=EMAIL_INCIDENT_CREATION,
        email_preset=EMAIL_PRESET,
    ),
    "Vendor": _obj(
        ["id", "type", "name"],
        id=_str(),
        type=_str(const="vendor"),
        summary=_str(),
        self=_str(),
        html_url=_nullable(_str()),
        name=_str(),
        description=_nullable(_str()),
        website_url=_nullable(_str()),
        generic_service_type=_nullable(_str()),
    ),
    "Incident": _obj(
        ["id", "type", "incident_number", "title", "status", "urgency"],
        id=_str(),
        type=_str(const="incident"),
        summary=_str(),
        self=_str(),
        html_url=_str(),
        incident_number={"type": "integer"},
        title=_str(),
        status=_str(enum=["triggered", "acknowledged", "resolved"]),
        urgency=_str(enum=["high", "low"]),
        incident_key=_nullable(_str()),
        service=_ref("Reference"),
        assignments=_array(_obj(["at", "assignee"], at=TIMESTAMP, assignee={"type": "object"})),
        escalation_policy=_nullable(_ref("Reference")),
        created_at=TIMESTAMP,
        resolved_at=_nullable(TIMESTAMP),
        alert_counts={"type": "object"},
    ),
    "IncidentInput": _obj(
        ["title", "service"],
        type=_str(),
        title=_str(minLength=1),
        service=_ref("Reference"),
        incident_key=_str(),
        urgency=_str(enum=["high", "low"]),
        body={"type": "object"},
    ),
    # At least one of status, assignments, escalation_level; not both of the last two.
    # triggered (or acknowledged) on a resolved incident reopens it, within 30 days.
    "IncidentUpdate": _obj(
        [],
        type=_str(),
        status=_str(enum=["acknowledged", "resolved", "triggered"]),
        assignments={**_array(_obj(["assignee"], assignee=_ref("Reference"))), "minItems": 1},
        escalation_level={"type": "integer", "minimum": 1},
    ),
    "Alert": _obj(
        ["id", "type", "status", "alert_key"],
        id=_str(),
        type=_str(const="alert"),
        summary=_str(),
        status=_str(enum=["triggered", "resolved"]),
        alert_key=_str(),
        severity=_nullable(SEVERITY),
        incident=_ref("Reference"),
        service=_ref("Reference"),
        body={"type": "object"},
    ),
    "LogEntry": _obj(
        ["id", "type", "created_at"],
        id=_str(),
        type=_str(),
        summary=_nullable(_str()),
        created_at=TIMESTAMP,
        agent=_nullable({"type": "object"}),
        incident=_nullable(_ref("Reference")),
        service=_nullable(_ref("Reference")),
    ),
    "MaintenanceWindow": _obj(
        ["id", "type", "start_time", "end_time", "services"],
        id=_str(),
        type=_str(const="maintenance_window"),
        summary=_nullable(_str()),
        sequence_number={"type": "integer"},
        start_time=TIMESTAMP,
        end_time=TIMESTAMP,
        description=_nullable(_str()),
        services=_array(_ref("Reference")),
    ),
    "MaintenanceWindowInput": _obj(
        ["start_time", "end_time", "services"],
        type=_str(),
        start_time=TIMESTAMP,
        end_time=TIMESTAMP,
        description=_str(),
        services=_array(_ref("Reference")),
    ),
    "WebhookSubscription": _obj(
        ["id", "type", "active", "events", "filter", "delivery_method"],
        id=_str(),
        type=_str(const="webhook_subscription"),
        summary=_str(),
        active={"type": "boolean"},
        description=_nullable(_str()),
        events=_array(_str()),
        filter=_obj(
            ["type"], type=_str(enum=["account_reference", "service_reference"]), id=_str()
        ),
        delivery_method=_obj(
            ["type", "url"],
            id=_str(),
            type=_str(const="http_delivery_method"),
            url=_str(format="uri"),
            custom_headers=_array(_obj(["name", "value"], name=_str(), value=_str())),
            secret=_nullable(_str(description="Only in the create and rotate_secret answers")),
            temporarily_disabled={"type": "boolean"},
            secret_rotating={"type": "boolean", "description": "Extension"},
        ),
        name=_nullable(_str(description="Extension: the configuration file's name")),
        declared_in_config={"type": "boolean", "description": "Extension"},
    ),
    "WebhookSubscriptionInput": _obj(
        [],
        type=_str(const="webhook_subscription"),
        active={"type": "boolean"},
        description=_nullable(_str()),
        events=_array(_str()),
        filter=_obj(
            ["type"],
            type=_str(enum=["account_reference", "service_reference", "team_reference"]),
            id=_str(),
        ),
        delivery_method=_obj(
            [],
            type=_str(const="http_delivery_method"),
            url=_str(format="uri"),
            custom_headers=_array(_obj(["name", "value"], name=_str(), value=_str())),
        ),
    ),
    "WebhookDelivery": _obj(
        ["id", "type", "state", "attempts", "attempt_log"],
        id=_str(),
        type=_str(const="webhook_delivery"),
        state=_str(enum=["pending", "delivered", "failed"]),
        order_key=_str(),
        created_at=TIMESTAMP,
        due_at=TIMESTAMP,
        finished_at=_nullable(TIMESTAMP),
        attempts={"type": "integer"},
        last_error=_nullable(_str()),
        size={"type": "integer"},
        attempt_log=_array({"type": "object"}),
    ),
    "WebhookDeliveryList": _obj(
        ["deliveries", "limit"],
        deliveries=_array(_ref("WebhookDelivery")),
        limit={"type": "integer"},
    ),
    # -- people ------------------------------------------------------------------------------
    "User": _obj(
        ["id", "type", "name", "email", "time_zone", "role", "contact_methods",
         "notification_rules"],
        id=_str(),
        type=_str(const="user"),
        summary=_str(),
        name=_str(maxLength=100),
        email=_str(format="email"),
        time_zone=_str(description="IANA time zone name"),
        role=_str(enum=["admin", "limited_user", "observer", "owner", "read_only_user",
                        "restricted_access", "read_only_limited_user", "user"]),
        description=_nullable(_str()),
        job_title=_nullable(_str()),
        teams=_array(_ref("Reference")),
        contact_methods=_array({"type": "object", "description": "references, or objects "
                                "with include[]=contact_methods"}),
        notification_rules=_array({"type": "object", "description": "references, or objects "
                                   "with include[]=notification_rules"}),
        declared_in_config={"type": "boolean", "description": "Extension"},
    ),
    "UserInput": _obj(
        [],
        type=_str(const="user"),
        name=_str(maxLength=100),
        email=_str(format="email"),
        time_zone=_str(),
        role=_str(),
        description=_nullable(_str()),
        job_title=_nullable(_str()),
    ),
    "ContactMethod": _obj(
        ["id", "type", "label", "address"],
        id=_str(),
        type=_str(description="email_contact_method, or a type a loaded plugin registers"),
        summary=_str(),
        label=_str(),
        address=_str(),
        send_short_email={"type": "boolean"},
        declared_in_config={"type": "boolean", "description": "Extension"},
    ),
    "ContactMethodInput": _obj([], type=_str(), label=_str(), address=_str()),
    "ContactMethodList": _obj(["contact_methods"], contact_methods=_array(_ref("ContactMethod"))),
    "NotificationRule": _obj(
        ["id", "type", "start_delay_in_minutes", "contact_method", "urgency"],
        id=_str(),
        type=_str(const="assignment_notification_rule"),
        summary=_str(),
        start_delay_in_minutes={"type": "integer", "minimum": 0},
        contact_method=_nullable({"type": "object"}),
        urgency=_str(enum=["high", "low"]),
        declared_in_config={"type": "boolean", "description": "Extension"},
    ),
    "NotificationRuleInput": _obj(
        [],
        type=_str(const="assignment_notification_rule"),
        start_delay_in_minutes={"type": "integer", "minimum": 0},
        contact_method=_obj(["id"], id=_str(), type=_str()),
        urgency=_str(enum=["high", "low"]),
    ),
    "NotificationRuleList": _obj(
        ["notification_rules"], notification_rules=_array(_ref("NotificationRule"))
    ),
    # -- on-call schedules --------------------------------------------------------------------
    "Restriction": _obj(
        ["type", "start_time_of_day", "duration_seconds"],
        type=_str(enum=["daily_restriction", "weekly_restriction"]),
        start_time_of_day=_str(description="HH:MM:SS in the schedule's time zone"),
        duration_seconds={"type": "integer", "minimum": 1},
        start_day_of_week={"type": "integer", "minimum": 1, "maximum": 7},
    ),
    "ScheduleLayerEntry": _obj(
        ["start", "end"], start=TIMESTAMP, end=TIMESTAMP, user=_ref("Reference")
    ),
    "SubSchedule": _obj(
        ["name"],
        name=_str(enum=["Final Schedule", "Overrides"]),
        rendered_schedule_entries=_array(_ref("ScheduleLayerEntry")),
        rendered_coverage_percentage=_nullable({"type": "number"}),
    ),
    "ScheduleLayer": _obj(
        ["start", "users", "rotation_virtual_start", "rotation_turn_length_seconds"],
        id=_str(),
        name=_str(),
        start=TIMESTAMP,
        end=_nullable(TIMESTAMP),
        rotation_virtual_start=TIMESTAMP,
        rotation_turn_length_seconds={"type": "integer", "minimum": 1},
        users=_array(_obj(["user"], user=_ref("Reference"))),
        restrictions=_array(_ref("Restriction")),
        rendered_schedule_entries=_array(_ref("ScheduleLayerEntry")),
        rendered_coverage_percentage=_nullable({"type": "number"}),
    ),
    "ScheduleInput": _obj(
        ["name", "time_zone", "schedule_layers"],
        name=_str(),
        description=_nullable(_str()),
        time_zone=_str(description="An IANA time zone, such as Europe/Berlin"),
        schedule_layers=_array(_ref("ScheduleLayer")),
    ),
    "Schedule": _obj(
        ["id", "type", "name", "time_zone", "schedule_layers", "final_schedule"],
        id=_str(),
        type=_str(const="schedule"),
        summary=_str(),
        self=_str(format="uri"),
        html_url=_str(format="uri"),
        name=_str(),
        description=_nullable(_str()),
        time_zone=_str(),
        schedule_layers=_array(_ref("ScheduleLayer")),
        overrides_subschedule=_ref("SubSchedule"),
        final_schedule=_ref("SubSchedule"),
        users=_array(_ref("Reference")),
        escalation_policies=_array(_ref("Reference")),
        teams=_array(_ref("Reference")),
        declared_in_config={"type": "boolean"},
    ),
    "Override": _obj(
        ["start", "end", "user"],
        id=_str(),
        start=TIMESTAMP,
        end=TIMESTAMP,
        user=_ref("Reference"),
    ),
    "OverrideList": _obj(["overrides"], overrides=_array(_ref("Override"))),
    "OverridesInput": _obj(["overrides"], overrides=_array(_ref("Override"))),
    "OverridesCreated": _array(
        _obj(
            ["status", "override"],
            status={"type": "integer"},
            errors=_array(_str()),
            override=_ref("Override"),
        )
    ),
    "OnCallUsers": _obj(["users"], users=_array(_ref("Reference"))),
    "Notification": _obj(
        ["id", "type", "started_at", "address", "user"],
        id=_str(),
        type=_str(),
        started_at=TIMESTAMP,
        address=_str(),
        user={"type": "object"},
        status=_nullable(_str(enum=["pending", "delivered", "failed"])),
    ),
    "IncidentNote": _obj(
        ["id", "content"],
        id=_str(),
        type=_str(const="incident_note"),
        user=_nullable({"type": "object"}),
        channel={"type": "object"},
        content=_str(),
        created_at=TIMESTAMP,
        updated_at=TIMESTAMP,
        incident=_ref("Reference"),
    ),
    "IncidentNoteInput": _obj(["content"], content=_str(minLength=1)),
    "IncidentNoteList": _obj(["notes"], notes=_array(_ref("IncidentNote"))),
    "SnoozeInput": _obj(
        ["duration"], duration={"type": "integer", "minimum": 1, "maximum": 604800}
    ),
    "EscalationRule": _obj(
        ["escalation_delay_in_minutes", "targets"],
        id=_str(),
        escalation_delay_in_minutes={"type": "integer", "minimum": 0},
        escalation_rule_assignment_strategy=_str(enum=["assign_to_everyone", "round_robin"]),
        targets=_array(_obj(["id", "type"], id=_str(), type=_str(enum=TARGET_REFERENCES))),
    ),
    "EscalationPolicy": _obj(
        ["id", "type", "name", "escalation_rules", "num_loops", "services"],
        id=_str(),
        type=_str(const="escalation_policy"),
        summary=_str(),
        self=_str(format="uri"),
        html_url=_str(format="uri"),
        name=_str(),
        description=_nullable(_str()),
        num_loops={"type": "integer", "minimum": 0},
        on_call_handoff_notifications=_str(enum=["if_has_services", "always"]),
        escalation_rules=_array(_ref("EscalationRule")),
        services=_array(_ref("Reference")),
        teams=_array(_ref("Reference")),
        declared_in_config={"type": "boolean", "description": "Extension"},
    ),
    "Oncall": _obj(
        ["escalation_policy", "escalation_level", "user", "start", "end"],
        escalation_policy=_ref("Reference"),
        escalation_level={"type": "integer", "minimum": 1},
        schedule=_nullable(_ref("Reference")),
        user=_ref("Reference"),
        start=_nullable(TIMESTAMP),
        end=_nullable(TIMESTAMP),
    ),
    "EscalationPolicyInput": _obj(
        [],
        type=_str(const="escalation_policy"),
        name=_str(),
        description=_nullable(_str()),
        num_loops={"type": "integer", "minimum": 0},
        on_call_handoff_notifications=_str(enum=["if_has_services", "always"]),
        escalation_rules=_array(_ref("EscalationRule")),
    ),
}  # fmt: skip
for _root, _item in (
    ("services", "Service"),
    ("vendors", "Vendor"),
    ("incidents", "Incident"),
    ("alerts", "Alert"),
    ("log_entries", "LogEntry"),
    ("maintenance_windows", "MaintenanceWindow"),
    ("webhook_subscriptions", "WebhookSubscription"),
    ("users", "User"),
    ("schedules", "Schedule"),
    ("notifications", "Notification"),
    ("escalation_policies", "EscalationPolicy"),
    ("oncalls", "Oncall"),
):
    SCHEMAS[f"{_item}List"] = _list_of(_root, _item)


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

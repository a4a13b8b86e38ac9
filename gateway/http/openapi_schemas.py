"""The component schemas of the OpenAPI document: one table of PagerDuty's objects.

One table on purpose (so it is longer than our ~400-line rule): each object the gateway
reads or writes is a line to review beside PagerDuty's own schema, and the operations
table in :mod:`gateway.http.openapi` names them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMAS", "TIMESTAMP"]


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
        type=_str(
            enum=["assignment_notification_rule", "status_change_notification_rule"],
            description="status_change_notification_rule: extension (docs/people.md)",
        ),
        summary=_str(),
        start_delay_in_minutes={"type": "integer", "minimum": 0},
        contact_method=_nullable({"type": "object"}),
        urgency=_str(enum=["high", "low"]),
        declared_in_config={"type": "boolean", "description": "Extension"},
    ),
    "NotificationRuleInput": _obj(
        [],
        type=_str(enum=["assignment_notification_rule", "status_change_notification_rule"]),
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
        escalation_delay_in_minutes={"type": "integer", "minimum": 0, "maximum": 525600},
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
        num_loops={"type": "integer", "minimum": 0, "maximum": 100},
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
        num_loops={"type": "integer", "minimum": 0, "maximum": 100},
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

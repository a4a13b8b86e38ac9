"""The domain's vocabulary and its stored objects, in PagerDuty's own words.

Rows as the core, the REST API, the CLI and the UI see them; the store builds them and
nothing else writes them. The vocabulary (integration types, alert creation modes,
urgencies, statuses) lives here, not in the configuration parser, so every face checks
against the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from gateway.domain_people import (
    ASSIGNMENT_STRATEGIES,
    ContactMethod,
    EscalationPolicy,
    EscalationRule,
    EscalationTarget,
    Notification,
    NotificationRule,
    StoredLayer,
    StoredOverride,
    StoredSchedule,
    Timer,
    User,
)

#: The people-and-paging rows live in gateway.domain_people; callers import them from here.
__all__ = [
    "ASSIGNMENT_STRATEGIES",
    "ContactMethod",
    "EscalationPolicy",
    "EscalationRule",
    "EscalationTarget",
    "Notification",
    "NotificationRule",
    "StoredLayer",
    "StoredOverride",
    "StoredSchedule",
    "Timer",
    "User",
]

#: The generic integration types by their configuration name (REST ``type`` on the right).
INTEGRATION_TYPES: Final = {
    "events_api_v2": "events_api_v2_inbound_integration",
    "events_api_v1": "generic_events_api_inbound_integration",
    "email": "generic_email_inbound_integration",
}
#: The generic integration types as the REST API names them.
GENERIC_INTEGRATION_TYPES: Final = frozenset(INTEGRATION_TYPES.values())
EVENTS_API_V2: Final = INTEGRATION_TYPES["events_api_v2"]
EVENTS_API_V1: Final = INTEGRATION_TYPES["events_api_v1"]
GENERIC_EMAIL: Final = INTEGRATION_TYPES["email"]

#: A service's ``alert_creation``: with alerts (and dedup per alert), or incidents only.
ALERT_CREATIONS: Final = ("create_alerts_and_incidents", "create_incidents")
#: A service's ``incident_urgency_rule.urgency``.
URGENCY_RULES: Final = ("high", "low", "severity_based")
#: An incident's urgency.
URGENCIES: Final = ("high", "low")
#: The service statuses a client may set; the others (warning, critical, maintenance) are computed.
SERVICE_STATUSES: Final = ("active", "disabled")
INCIDENT_STATUSES: Final = ("triggered", "acknowledged", "resolved")
#: The incident list orderings (REST ``sort_by`` field names).
INCIDENT_SORT_FIELDS: Final = ("incident_number", "created_at", "resolved_at", "urgency")

ServiceStatus = Literal["active", "warning", "critical", "maintenance", "disabled"]
AlertCreation = Literal["create_alerts_and_incidents", "create_incidents"]
IncidentStatus = Literal["triggered", "acknowledged", "resolved"]
Urgency = Literal["high", "low"]


# -- the rule that ties integrations to services --------------------------------------------
# Vocabulary-level: the configuration parser and the core's service layer both ask it, so it
# lives below both.


def placement_problem(integration_type: str, alert_creation: str) -> str | None:
    """Why an integration of ``integration_type`` cannot be on a service with ``alert_creation``.

    ``None`` when it can. The one rule: Events API v2 events are alerts (with
    their own dedup keys), so an Events API v2 integration never lands on a
    ``create_incidents`` service. Creating or changing a service, adding,
    changing or moving an integration, and provisioning all ask here, and
    every face shows this sentence.
    """
    if integration_type == EVENTS_API_V2 and alert_creation == "create_incidents":
        return (
            "An Events API v2 integration cannot be on a service whose alert_creation is "
            "'create_incidents' (Events API v2 needs alerts)"
        )
    return None


@dataclass(frozen=True, slots=True)
class UrgencyRule:
    """A service's ``incident_urgency_rule``: constant ``high``/``low`` or ``severity_based``."""

    urgency: Literal["high", "low", "severity_based"] = "high"

    def urgency_for(self, severity: str | None) -> Urgency:
        """The incident urgency for an event of ``severity`` (no severity is high)."""
        if self.urgency == "severity_based":
            return "low" if severity in ("warning", "info") else "high"
        return self.urgency


@dataclass(frozen=True, slots=True)
class Service:
    """A service: where incidents open, and the rules that decide how."""

    id: str
    name: str
    description: str | None
    status: Literal["active", "disabled"]
    alert_creation: AlertCreation
    urgency_rule: UrgencyRule
    acknowledgement_timeout: int | None
    auto_resolve_timeout: int | None
    alert_grouping: str | None
    alert_grouping_timeout: int | None
    escalation_policy_id: str | None
    created_at: str
    updated_at: str
    last_incident_timestamp: str | None = None


@dataclass(frozen=True, slots=True)
class Integration:
    """How events reach a service: a key (or email address) and the vendor that parses."""

    id: str
    service_id: str
    name: str
    type: str
    vendor_id: str | None
    integration_key: str | None
    integration_email: str | None
    settings: dict[str, Any]
    created_at: str


@dataclass(frozen=True, slots=True)
class Incident:
    """An incident: what a responder acts on."""

    id: str
    number: int
    service_id: str
    integration_id: str | None
    title: str
    status: IncidentStatus
    urgency: Urgency
    incident_key: str | None
    created_at: str
    updated_at: str
    last_status_change_at: str
    resolved_at: str | None
    alert_grouping_key: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert: one deduplicated problem reported by an integration."""

    id: str
    incident_id: str
    service_id: str
    integration_id: str | None
    alert_key: str
    status: Literal["triggered", "resolved"]
    severity: str | None
    summary: str
    body: dict[str, Any]
    created_at: str
    resolved_at: str | None


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of an incident's (or a suppressed event's) timeline."""

    id: str
    type: str
    created_at: str
    service_id: str | None
    integration_id: str | None
    incident_id: str | None
    alert_id: str | None
    agent_type: str | None
    agent_id: str | None
    summary: str | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """A span of time during which a set of services opens no incidents."""

    id: str
    sequence_number: int
    description: str | None
    start_time: str
    end_time: str
    service_ids: tuple[str, ...]
    created_at: str
    #: ``api`` (REST, CLI, UI) or ``config`` (``[[maintenance_windows]]``, replaced on reload).
    source: str = "api"
    #: Who created it: the REST ``From`` address, ``cli:<user>``; ``None`` for config windows.
    created_by: str | None = None


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A REST API token as stored: never the token itself, only its digest and last 4."""

    id: str
    name: str
    role: str
    last4: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None
    #: The user the token belongs to (REST ``From`` defaults to them); ``None``: an account token.
    user_id: str | None = None


#: The states of an outbound message (``outbox_messages.state``).
OUTBOX_STATES: Final = ("pending", "delivered", "failed")


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One outbound message as a deliverer sends it (``gateway.core.outbox.Message``).

    ``body`` is the exact bytes to send; ``attempts`` counts the attempts made before this one.
    """

    id: str
    kind: str
    destination: str
    order_key: str
    body: bytes
    headers: dict[str, str]
    created_at: str
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An outbound message as operators list it: its state and history, not its body."""

    id: str
    kind: str
    destination: str
    order_key: str
    created_at: str
    due_at: str
    attempts: int
    state: str
    claimed_by: str | None
    lease_until: str | None
    last_error: str | None
    finished_at: str | None
    size: int


@dataclass(frozen=True, slots=True)
class OutboxAttempt:
    """One recorded delivery attempt of a message."""

    message_id: str
    #: 1 for the first attempt, 2 for the second...
    attempt: int
    at: str
    duration_ms: int
    status_code: int | None
    error: str | None
    outcome: str
    node: str | None


@dataclass(frozen=True, slots=True)
class OutboxDepth:
    """Undelivered messages of one (kind, destination), read at scrape time."""

    kind: str
    destination: str
    pending: int
    failed: int
    oldest_pending: str | None


@dataclass(frozen=True, slots=True)
class ForwardTarget:
    """One upstream Events API v2 a service forwards to: its base URL and the key to use there."""

    id: str
    url: str
    routing_key: str


@dataclass(frozen=True, slots=True)
class ServiceForwarding:
    """A service's forwarding (relay mode): targets in order, and whether suppressed events go.

    ``declared``: the configuration file sets them, so runtime edits are refused.
    """

    service_id: str
    targets: tuple[ForwardTarget, ...]
    forward_suppressed: bool
    declared: bool


@dataclass(frozen=True, slots=True)
class WebhookSubscription:
    """A v3 webhook subscription: where to POST which events, signed with ``secret``.

    ``filter_type`` is ``account_reference`` (every service) or ``service_reference``
    (``filter_id`` names the service). ``previous_secret`` is set while a secret is
    being rotated: deliveries are then signed with both. ``name`` is the configuration
    file's handle for a subscription it declares (``None`` for one made at runtime).
    """

    id: str
    name: str | None
    description: str | None
    url: str
    custom_headers: list[tuple[str, str]]
    events: list[str]
    filter_type: str
    filter_id: str | None
    active: bool
    temporarily_disabled: bool
    consecutive_drops: int
    secret: str
    previous_secret: str | None
    created_at: str
    updated_at: str
    source: str
    #: The configuration file sets the secret (so it is rotated there, not at runtime).
    secret_declared: bool = False

"""People and paging, as stored: users, their contact methods and notification rules,
on-call schedules, escalation policies, notifications sent and the timers that act.

Re-exported by :mod:`gateway.domain`, the one place callers import stored objects from;
kept apart so neither module outgrows one screenful of review.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal


@dataclass(frozen=True, slots=True)
class User:
    """A person who can be notified (PagerDuty's ``user``).

    ``email`` is unique among live users whatever its case; ``time_zone`` is an IANA name;
    ``role`` one of PagerDuty's eight REST roles (:mod:`gateway.auth`). ``source`` is
    ``config`` when the configuration file declares the user. A deleted user keeps its row
    (``deleted_at``) so what names them still can.
    """

    id: str
    name: str
    email: str
    time_zone: str
    role: str
    description: str | None
    job_title: str | None
    created_at: str
    updated_at: str
    deleted_at: str | None = None
    source: str = "api"


@dataclass(frozen=True, slots=True)
class ContactMethod:
    """Where a user can be reached: ``type`` (``email_contact_method``, or a plugin's), a
    ``label`` such as "Work" and the ``address`` the type's deliverer sends to."""

    id: str
    user_id: str
    type: str
    label: str
    address: str
    created_at: str
    updated_at: str
    source: str = "api"


#: A rule for being assigned an incident (PagerDuty's ``assignment_notification_rule``).
ASSIGNMENT_RULE: Final = "assignment_notification_rule"
#: A rule for a change of a high-urgency incident assigned to the user: acknowledged,
#: escalated away from them, resolved (PagerDuty's "when a high-urgency incident assigned
#: to me changes"; its public REST API has no type for it, so this name is the gateway's).
STATUS_CHANGE_RULE: Final = "status_change_notification_rule"
NOTIFICATION_RULE_TYPES: Final = (ASSIGNMENT_RULE, STATUS_CHANGE_RULE)


@dataclass(frozen=True, slots=True)
class NotificationRule:
    """When to use a contact method: ``start_delay_in_minutes`` after a user is assigned an
    incident of ``urgency`` (``high`` or ``low``) that is still unacknowledged; or, of
    ``type`` :data:`STATUS_CHANGE_RULE`, when a high-urgency incident assigned to the user
    changes."""

    id: str
    user_id: str
    contact_method_id: str
    start_delay_in_minutes: int
    urgency: str
    created_at: str
    updated_at: str
    source: str = "api"
    type: str = ASSIGNMENT_RULE


@dataclass(frozen=True, slots=True)
class StoredSchedule:
    """An on-call schedule's own row; its layers and overrides are rows of their own.

    ``source`` is ``config`` when the configuration file declares it (runtime edits refused).
    """

    id: str
    name: str
    description: str | None
    time_zone: str
    created_at: str
    updated_at: str
    source: str


@dataclass(frozen=True, slots=True)
class StoredLayer:
    """One schedule layer. ``users`` are user ids in turn order; ``restrictions`` are
    PagerDuty restriction objects (``type``, ``start_time_of_day``, ``duration_seconds``,
    ``start_day_of_week``) exactly as validated; times are ISO UTC text."""

    id: str
    schedule_id: str
    position: int
    name: str | None
    start: str
    end: str | None
    rotation_virtual_start: str
    rotation_turn_length_seconds: int
    users: list[str]
    restrictions: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class StoredOverride:
    """``user_id`` on call on ``schedule_id`` from ``start`` to ``end`` (ISO UTC text)."""

    id: str
    schedule_id: str
    user_id: str
    start: str
    end: str
    created_at: str


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification sent to a person (``GET /notifications``), as it was sent.

    ``type`` is PagerDuty's word (``email_notification``…); ``status`` is its outbox
    message's state (``pending``, ``delivered``, ``failed``), ``None`` once the delivery
    queue no longer keeps that message.
    """

    id: str
    type: str
    started_at: str
    address: str
    user_id: str
    user_name: str | None
    contact_method_id: str | None
    contact_method_type: str
    incident_id: str
    service_id: str | None
    log_entry_id: str
    message_id: str | None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class Timer:
    """A due action (``gateway.core.timers``): what to do, to which incident, and when.

    ``payload`` is the kind's own JSON; ``attempts`` counts the firings that failed.
    """

    id: str
    kind: str
    incident_id: str | None
    due_at: str
    payload: dict[str, Any]
    attempts: int
    created_at: str


#: What an escalation rule may target: a user, or whoever is on call on a schedule.
TargetType = Literal["user", "schedule"]
#: How a rule assigns: everyone it targets, or one of them in turn.
ASSIGNMENT_STRATEGIES: Final = ("assign_to_everyone", "round_robin")


@dataclass(frozen=True, slots=True)
class EscalationTarget:
    """One target of an escalation rule: a user or a schedule, by id."""

    type: TargetType
    id: str


@dataclass(frozen=True, slots=True)
class EscalationRule:
    """One level of an escalation policy: who is assigned, and how long before it moves on."""

    id: str
    escalation_delay_in_minutes: int
    targets: tuple[EscalationTarget, ...]
    assignment_strategy: str = "assign_to_everyone"


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """Who is told about a service's incidents, level by level; ``rules`` in order."""

    id: str
    name: str
    description: str | None
    num_loops: int
    on_call_handoff_notifications: str
    rules: tuple[EscalationRule, ...]
    created_at: str
    updated_at: str
    source: str = "api"

"""The gateway's vocabulary: PD-CEF events, inbound requests and vendors.

Everything a vendor plugin produces or consumes is defined here, so a plugin
needs no other import from the core. Objects use PagerDuty's own words.
"""

from __future__ import annotations

import random
import secrets
import string
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

EventAction = Literal["trigger", "acknowledge", "resolve", "change"]
Severity = Literal["critical", "error", "warning", "info"]

SEVERITIES: tuple[str, ...] = ("critical", "error", "warning", "info")
ALERT_ACTIONS: tuple[str, ...] = ("trigger", "acknowledge", "resolve")

#: PagerDuty's limits (Events API v2 overview).
MAX_SUMMARY_CHARS = 1024
MAX_DEDUP_KEY_CHARS = 255
MAX_EVENT_BYTES = 512 * 1024

_ID_ALPHABET = string.ascii_uppercase + string.digits
_KEY_ALPHABET = string.ascii_lowercase + string.digits


# Object ids are names, not secrets: a fast PRNG seeded from the OS is enough, and
# secrets.choice cost ~100 µs per event on the hot path.
_id_random = random.Random(secrets.randbits(128))


def new_object_id(prefix: str = "P", length: int = 6) -> str:
    """Return a PagerDuty-style object id: ``P`` and six uppercase alphanumerics.

    High-volume objects (incidents, alerts, log entries) use a longer id, as
    PagerDuty's own do (``Q0RIJJZL24RC6W``), so a store with millions of rows
    has no collisions: ``new_object_id("Q", 13)``.
    """
    return prefix + "".join(_id_random.choices(_ID_ALPHABET, k=length))


#: Digits before letters, so an ordered id's text sorts like its number.
_ORDERED_ALPHABET = string.digits + string.ascii_uppercase
_SEQUENCE_SPACE = 36**4  # the last 4 of an ordered id's 13 characters count within a millisecond


def _base36(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 36)
        chars.append(_ORDERED_ALPHABET[digit])
    return "".join(reversed(chars))


#: Every 2-character sequence text, so an id costs two lookups rather than a conversion.
_PAIRS = tuple(_base36(n, 2) for n in range(36**2))
_PAIR_SPACE = len(_PAIRS)


class _OrderedIds:
    """Strictly increasing ids in this process: milliseconds, then a sequence number.

    Each millisecond's sequence starts at a random point in the lower half of its space,
    so another process writing in the same millisecond (the CLI beside the daemon) is
    unlikely to produce the same id; the store retries on the rare clash. If the wall
    clock steps back, the sequence keeps counting within the last millisecond seen.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ms = 0
        self._ms_text = ""
        self._seq = 0

    def next(self, prefix: str) -> str:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms > self._ms:
                self._ms, self._ms_text = ms, _base36(ms, 9)
                self._seq = _id_random.randrange(_SEQUENCE_SPACE // 2)
            else:
                self._seq += 1
                if self._seq == _SEQUENCE_SPACE:  # 1.7 million in one millisecond: borrow the next
                    self._ms += 1
                    self._ms_text, self._seq = _base36(self._ms, 9), 0
            seq = self._seq
            return prefix + self._ms_text + _PAIRS[seq // _PAIR_SPACE] + _PAIRS[seq % _PAIR_SPACE]


_ordered_ids = _OrderedIds()


def new_ordered_id(prefix: str) -> str:
    """Return a 14-character id that sorts after every earlier one from this process.

    For rows written at event rate (incidents, alerts, log entries, change events): a
    new row's index entries then land on the B-tree's last pages instead of random
    ones, which took the store's CPU per new trigger from ~0.21 to ~0.15 ms and halved
    its write volume (bench/README.md). 13 characters after the prefix, like the
    random ids they replace: 9 for the millisecond (good until the year 5188), 4 for
    the sequence within it.
    """
    return _ordered_ids.next(prefix)


def new_integration_key() -> str:
    """Return a fresh 32-character lowercase alphanumeric integration key."""
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(32))


def new_dedup_key() -> str:
    """Return a generated dedup key: 32 lowercase hex digits, like PagerDuty's."""
    return secrets.token_hex(16)


def redact(secret: str | None) -> str:
    """Show at most the last four characters of a key or token, for logs."""
    if not secret:
        return ""
    return "…" + secret[-4:]


class Link(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A link attached to an event (PD-CEF ``links[]``)."""

    href: str
    text: str | None = None


class Image(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An image attached to an event (PD-CEF ``images[]``)."""

    src: str
    href: str | None = None
    alt: str | None = None


class Event(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One PagerDuty Common Event Format event, validated and ready to route.

    Vendor plugins return these from ``parse``. ``routing_key`` names the
    integration the event is for; ``dedup_key`` is ``None`` only on a trigger
    that asked the gateway to generate one.
    """

    routing_key: str
    event_action: EventAction
    dedup_key: str | None = None
    summary: str | None = None
    source: str | None = None
    severity: Severity | None = None
    timestamp: str | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = msgspec.field(default=None, name="class")
    custom_details: Any = None
    images: list[Image] = msgspec.field(default_factory=list)
    links: list[Link] = msgspec.field(default_factory=list)
    client: str | None = None
    client_url: str | None = None


#: ``InboundRequest.method`` of a mail handed over by the SMTP listener.
SMTP_METHOD = "SMTP"


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """What a vendor plugin sees of an HTTP request (or an email turned into one).

    ``headers`` has lowercase names. ``integration_key`` is set when the key
    travelled in the URL (``/integration/{key}/enqueue``); ``settings`` holds
    the integration's per-vendor settings from the configuration, when known.
    A mail arrives as one request per recipient integration: ``method`` is
    :data:`SMTP_METHOD`, ``body`` the raw RFC 5322 message, the envelope in
    the ``x-smtp-mail-from``, ``x-smtp-rcpt-to`` and ``x-smtp-peer`` headers.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)
    integration_key: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        """The media type without parameters, lowercased (``""`` when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the core did with one event, for the vendor's success response."""

    event_action: str
    dedup_key: str
    status: Literal["created", "appended", "acknowledged", "resolved", "ignored", "suppressed"]
    change_id: str | None = None
    integration_id: str | None = None
    service_id: str | None = None


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP answer a vendor renders: status code, JSON-able body or text."""

    status: int
    body: Any
    content_type: str = "application/json"


Parser = Callable[[InboundRequest], Awaitable[list[Event]]]
SuccessRenderer = Callable[[list[Outcome]], Response]


@dataclass(frozen=True, slots=True)
class Vendor:
    """A kind of monitoring tool the gateway understands, registered by a plugin.

    ``id`` follows PagerDuty's vendor ids where one is known (``PZQ6AUS`` is
    Amazon CloudWatch). ``paths`` are exact inbound paths this vendor serves
    besides ``/integration/{key}/enqueue`` (e.g. ``/v2/enqueue``).
    ``parse`` turns one request into events, raising
    :class:`gateway.errors.InvalidEvent` for a payload it rejects.
    ``render_success`` shapes the 2xx answer; the default is Events API v2's.
    ``render_error`` may shape the answer to a request the vendor's senders got
    wrong (invalid, unrecognized, rate-limited); returning ``None`` keeps the
    default (Events API v2's bodies).
    ``aliases`` are short names accepted in configuration (``"cloudwatch"``).
    ``check_settings`` validates an integration's per-vendor settings when the
    configuration is loaded or an integration is created, returning one
    message per problem (empty when valid).
    ``after_request(request, committed)`` is called once a request is
    answered: ``committed`` is ``True`` when its events are on disk, ``False``
    when nothing was accepted (invalid, rate-limited, store unavailable). A
    plugin that remembers deliveries for idempotency forgets the uncommitted
    ones here, so the sender's retry is not mistaken for a duplicate.
    """

    id: str
    name: str
    integration_type: str
    parse: Parser
    paths: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    description: str = ""
    website_url: str | None = None
    render_success: SuccessRenderer | None = None
    render_error: Callable[[Exception], Response | None] | None = None
    check_settings: Callable[[Mapping[str, Any]], list[str]] | None = None
    after_request: Callable[[InboundRequest, bool], None] | None = None
    generic: bool = False


@dataclass(frozen=True, slots=True)
class IncidentChange:
    """An incident that changed in a committed transaction, for observers.

    ``action`` is what happened (``trigger``, ``acknowledge``, ``resolve``);
    ``previous_status`` is ``None`` for a new incident.
    """

    incident_id: str
    incident_number: int
    service_id: str
    status: str
    previous_status: str | None
    title: str
    urgency: str
    action: str
    at: str


# -- Stored objects ---------------------------------------------------------------------------
# Rows as the core and the REST layer see them; the store builds them, nothing else writes them.

ServiceStatus = Literal["active", "warning", "critical", "maintenance", "disabled"]
AlertCreation = Literal["create_alerts_and_incidents", "create_incidents"]
IncidentStatus = Literal["triggered", "acknowledged", "resolved"]
Urgency = Literal["high", "low"]


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

"""What a vendor plugin produces and consumes: PD-CEF events, inbound requests, vendors.

These are the plugin-facing types; plugin authors import them through
:mod:`gateway.pluginkit`. Stored objects (services, incidents …) live in
:mod:`gateway.domain`, id generation in :mod:`gateway.ids`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

EventAction = Literal["trigger", "acknowledge", "resolve", "change"]
Severity = Literal["critical", "error", "warning", "info"]

SEVERITIES: tuple[str, ...] = ("critical", "error", "warning", "info")
ALERT_ACTIONS: tuple[str, ...] = ("trigger", "acknowledge", "resolve")
#: Every ``event_action``: the alert actions and change events.
EVENT_ACTIONS: tuple[str, ...] = (*ALERT_ACTIONS, "change")

#: PagerDuty's limits (Events API v2 overview).
MAX_SUMMARY_CHARS = 1024
MAX_DEDUP_KEY_CHARS = 255
MAX_EVENT_BYTES = 512 * 1024


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
    ``checks_sender(settings)`` says whether, under an integration's settings,
    this vendor authenticates who sent a request (SNS signatures and topic
    allow-lists, email sender filters). Such an integration takes events only
    through its own vendor's path: on the generic Events API paths its key is
    an "Invalid routing key", so a setting the operator turned on cannot be
    bypassed by posting a forged event to ``/v2/enqueue``. ``None`` (the
    default) means the vendor checks nothing, and its integrations keep
    accepting Events API v1/v2 events as PagerDuty's vendor integrations do.
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
    checks_sender: Callable[[Mapping[str, Any]], bool] | None = None
    generic: bool = False


@dataclass(frozen=True, slots=True)
class IncidentChange:
    """An incident that changed in a committed transaction, for observers.

    ``action`` is what happened (``trigger``, ``acknowledge``, ``resolve``,
    ``unacknowledge`` when an acknowledgement timeout or a snooze's end returned it to
    triggered, or ``reopen`` when a person reopened a resolved incident as triggered or
    acknowledged); ``previous_status`` is ``None`` for a new incident.
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


@dataclass(frozen=True, slots=True)
class ContactMethodType:
    """A kind of user contact method a plugin offers (``register_contact_method_types``).

    ``name`` is PagerDuty's contact method ``type`` (``sms_contact_method``) or a plugin's
    own ending in ``_contact_method``; ``summary`` names it for people ("SMS"). ``check_address``
    returns one message per problem with an address (empty when it is fine); it runs before
    a contact method of this type is stored. Messages are delivered by a delivery kind the
    plugin registers (``register_delivery_kinds``); the type only says what may be stored.
    """

    name: str
    summary: str
    check_address: Callable[[str], list[str]]

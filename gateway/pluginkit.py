"""Everything a vendor plugin needs, and nothing else: the public face of the plugin contract.

A plugin imports from this module only::

    from gateway.pluginkit import Event, InboundRequest, InvalidEvent, Vendor, hookimpl

The names are re-exported from private homes (:mod:`gateway.model`,
:mod:`gateway.cef`, :mod:`gateway.errors`, :mod:`gateway.logs`,
:mod:`gateway.hookspecs`) that the core may reorganise; this list is what the
gateway promises plugin authors to keep stable. ``docs/plugins.md`` documents
each name.

The groups:

* the hook marker: :data:`hookimpl`;
* what a plugin produces and consumes: :class:`Event` (with :class:`Link` and
  :class:`Image`), :class:`InboundRequest`, :class:`Vendor`, :class:`Outcome`,
  :class:`Response`, :class:`IncidentChange`, :data:`SMTP_METHOD` and the
  ``EventAction``/``Severity`` literal types;
* PagerDuty's limits: :data:`SEVERITIES`, :data:`MAX_SUMMARY_CHARS`,
  :data:`MAX_DEDUP_KEY_CHARS`, :data:`MAX_EVENT_BYTES`,
  :data:`ROUTING_KEY_LENGTH`, :data:`SIZE_ERROR_DETAILS`;
* the PD-CEF helpers: :func:`fit_summary`, :func:`fit_dedup_key`,
  :func:`fit_size`, :func:`validate`, :func:`missing`,
  :func:`routing_key_errors`, :func:`parse_timestamp`, :func:`as_text`;
* the errors a plugin raises (or, in ``render_error``, receives):
  :class:`InvalidEvent`, :class:`UnrecognizedEvent`, :class:`RetryLater`,
  :class:`PayloadTooLarge`, :class:`RateLimited`;
* :func:`redact`, to log an integration key without leaking it;
* outbound delivery kinds (``register_delivery_kinds``): :class:`DeliveryKind`,
  :class:`RetryPolicy`, the attempt outcomes :class:`Delivered`, :class:`Retry`,
  :class:`Drop`, :class:`OutboundMessage`, :class:`SendEnv`, :func:`classify_status`,
  and the queue's :func:`enqueue` and :func:`register_producer`;
* user contact method types (``register_contact_method_types``): :class:`ContactMethodType`;
* notifications to people: :func:`register_contact_delivery` (a contact method type →
  the delivery kind that carries it).
"""

from __future__ import annotations

from gateway.cef import (
    ROUTING_KEY_LENGTH,
    SIZE_ERROR_DETAILS,
    as_text,
    fit_dedup_key,
    fit_size,
    fit_summary,
    missing,
    parse_timestamp,
    routing_key_errors,
    validate,
)
from gateway.core.notifications import register_contact_delivery
from gateway.core.outbox import Message as OutboundMessage
from gateway.core.outbox import enqueue, register_producer
from gateway.errors import (
    InvalidEvent,
    PayloadTooLarge,
    RateLimited,
    RetryLater,
    UnrecognizedEvent,
)
from gateway.hookspecs import hookimpl
from gateway.logs import redact
from gateway.model import (
    MAX_DEDUP_KEY_CHARS,
    MAX_EVENT_BYTES,
    MAX_SUMMARY_CHARS,
    SEVERITIES,
    SMTP_METHOD,
    ContactMethodType,
    Event,
    EventAction,
    Image,
    InboundRequest,
    IncidentChange,
    Link,
    Outcome,
    Response,
    Severity,
    Vendor,
)
from gateway.outbound.kinds import (
    Delivered,
    DeliveryKind,
    Drop,
    Retry,
    RetryPolicy,
    SendEnv,
    classify_status,
)

__all__ = [
    "MAX_DEDUP_KEY_CHARS",
    "MAX_EVENT_BYTES",
    "MAX_SUMMARY_CHARS",
    "ROUTING_KEY_LENGTH",
    "SEVERITIES",
    "SIZE_ERROR_DETAILS",
    "SMTP_METHOD",
    "ContactMethodType",
    "Delivered",
    "DeliveryKind",
    "Drop",
    "Event",
    "EventAction",
    "Image",
    "InboundRequest",
    "IncidentChange",
    "InvalidEvent",
    "Link",
    "OutboundMessage",
    "Outcome",
    "PayloadTooLarge",
    "RateLimited",
    "Response",
    "Retry",
    "RetryLater",
    "RetryPolicy",
    "SendEnv",
    "Severity",
    "UnrecognizedEvent",
    "Vendor",
    "as_text",
    "classify_status",
    "enqueue",
    "fit_dedup_key",
    "fit_size",
    "fit_summary",
    "hookimpl",
    "missing",
    "parse_timestamp",
    "redact",
    "register_contact_delivery",
    "register_producer",
    "routing_key_errors",
    "validate",
]

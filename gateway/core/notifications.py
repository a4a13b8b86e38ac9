"""Notifying a person: a ``notify_log_entry`` on the incident and one outbox message, together.

:func:`notify` is what escalation (and anything else that pages someone) calls inside its
transaction: the log entry, the listed notification (``GET /notifications``) and the
outbox message commit together or not at all, so a timeline never claims a notification
that was not queued and no email leaves for a change that rolled back.

Which delivery kind carries a contact method is a table (:func:`register_contact_delivery`):
``email_contact_method`` → the built-in ``email_notification`` kind
(:mod:`gateway.outbound.email_notify`); a plugin that adds a contact method type registers
its own kind with ``register_delivery_kinds`` and maps its type to it here. The message
body is the same JSON for every kind (:func:`notification_body`): each kind renders it for
its medium.

The queue stores a notification compactly (:func:`compact_body`: the incident's id, its title
at that moment, the person) and the deliverers render the full body just before sending
(:func:`render_bodies`, on a read connection, one query per claim): the transaction that
notifies (an event's, on the ingest path) then writes ~150 bytes instead of ~650 and reads
no service name; the number, status, urgency and service come from the incident as it is
when the message goes out.

A notification that cannot be delivered (no deliverer for the type, a relay that refuses
it) never raises into the caller: escalation is timer-driven and goes on regardless.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import msgspec
import structlog

from gateway.core import outbox, webhook_events
from gateway.core.contact_types import EMAIL as EMAIL_CONTACT
from gateway.domain import ContactMethod, Incident, OutboxMessage, User
from gateway.store import Reader, Tx

__all__ = [
    "COMPACT_PREFIX",
    "ContactPoint",
    "Notified",
    "NotifiedUser",
    "compact_body",
    "contact_delivery",
    "is_compact",
    "notification_body",
    "notification_type",
    "notify",
    "register_contact_delivery",
    "render_bodies",
    "undelivered_types",
    "unregister_contact_delivery",
]

log = structlog.get_logger("gateway.notifications")

#: The kind that delivers the built-in contact method type, ``email_contact_method``.
EMAIL_KIND = "email_notification"


@dataclass(frozen=True, slots=True)
class NotifiedUser:
    """The person notified, as plain values (the users' tables are the caller's business)."""

    id: str
    name: str
    email: str | None = None

    @classmethod
    def of(cls, user: User) -> NotifiedUser:
        """From a stored user."""
        return cls(user.id, user.name, user.email)


@dataclass(frozen=True, slots=True)
class ContactPoint:
    """One contact method of that person: its id, PagerDuty type and address."""

    id: str | None
    type: str
    address: str
    label: str | None = None

    @classmethod
    def of(cls, method: ContactMethod) -> ContactPoint:
        """From a stored contact method."""
        return cls(method.id, method.type, method.address, method.label)


@dataclass(frozen=True, slots=True)
class Notified:
    """What :func:`notify` wrote: the notification, its log entry and its outbox message."""

    notification_id: str
    log_entry_id: str
    message_id: str | None
    kind: str


@dataclass(frozen=True, slots=True)
class _Delivery:
    kind: str
    notification_type: str


_deliveries: dict[str, _Delivery] = {EMAIL_CONTACT: _Delivery(EMAIL_KIND, EMAIL_KIND)}
#: The delivery kinds that carry notifications (their bodies are rendered at delivery).
_kinds: set[str] = {EMAIL_KIND}


def notification_type(contact_type: str) -> str:
    """PagerDuty's notification word for a contact method type:
    ``email_contact_method`` → ``email_notification``, ``sms_contact_method`` →
    ``sms_notification``; any other ``<x>_contact_method`` → ``<x>_notification``."""
    stem = contact_type.removesuffix("_contact_method")
    return f"{stem}_notification"


def register_contact_delivery(
    contact_type: str, kind: str, *, notification: str | None = None
) -> None:
    """Deliver contact methods of ``contact_type`` with the delivery kind named ``kind``.

    ``notification`` is the ``type`` its notifications are listed as (default from the
    contact type, :func:`notification_type`). A plugin calls this from its
    ``register_delivery_kinds`` implementation, beside returning the kind itself.
    """
    _deliveries[contact_type] = _Delivery(kind, notification or notification_type(contact_type))
    _kinds.add(kind)


def unregister_contact_delivery(contact_type: str) -> None:
    """Forget a plugin's mapping (tests); the built-in email mapping stays."""
    if contact_type != EMAIL_CONTACT:
        _deliveries.pop(contact_type, None)
        _kinds.intersection_update(d.kind for d in _deliveries.values())


def undelivered_types(contact_types: Iterable[str], kinds: Iterable[str]) -> list[str]:
    """The contact method types among ``contact_types`` no kind in ``kinds`` delivers (a
    plugin that registered a type but no mapping, or a mapping to a kind nobody loaded)."""
    loaded = set(kinds)
    return sorted(t for t in contact_types if contact_delivery(t) not in loaded)


def contact_delivery(contact_type: str) -> str | None:
    """The delivery kind that carries ``contact_type``, or ``None`` when none does."""
    found = _deliveries.get(contact_type)
    return found.kind if found else None


def notification_body(tx: Tx, incident: Incident, user: NotifiedUser) -> dict[str, Any]:
    """What every delivery kind gets to render: the incident, its service, and the links.

    Links start with ``[server] public_url``: ``html_url`` is the incident's page, and
    ``acknowledge`` names both ways to acknowledge it (the page, and the REST call).
    """
    return _shape(
        {
            "id": incident.id,
            "number": incident.number,
            "title": incident.title,
            "status": incident.status,
            "urgency": incident.urgency,
            "created_at": incident.created_at,
        },
        incident.service_id,
        tx.service_name(incident.service_id),
        {"id": user.id, "name": user.name, "email": user.email},
    )


def _shape(
    incident: dict[str, Any], service_id: str | None, service_name: str | None, user: Any
) -> dict[str, Any]:
    urls = webhook_events.public_urls()
    path = f"/incidents/{incident['id']}"
    return {
        "incident": {**incident, "html_url": urls.html(path), "self": urls.api(path)},
        "service": {
            "id": service_id,
            "name": service_name,
            "html_url": urls.html(f"/services/{service_id}"),
        },
        "user": user,
        "acknowledge": {
            "html_url": urls.html(path),
            "method": "PUT",
            "url": urls.api(path),
            "body": {"incident": {"type": "incident_reference", "status": "acknowledged"}},
        },
    }


#: How a compact notification body starts (:func:`compact_body`); a full body never does.
COMPACT_PREFIX: Final = b'{"notify":'
_encode = msgspec.json.Encoder().encode


def compact_body(
    incident: Incident, user: NotifiedUser, change: Mapping[str, Any] | None = None
) -> bytes:
    """What the queue stores for a notification: the incident's id and its title now (the
    page is about that title, whatever it becomes), the person, and for a status-change
    notification the change. :func:`render_bodies` turns it into :func:`notification_body`'s
    JSON before a kind sees it."""
    data: dict[str, Any] = {
        "notify": 1, "incident": incident.id, "title": incident.title,
        "user": {"id": user.id, "name": user.name, "email": user.email},
    }  # fmt: skip
    if change is not None:
        data["change"] = dict(change)
    return _encode(data)


def is_compact(message: OutboxMessage) -> bool:
    """Whether ``message`` is a notification still in its stored, compact form."""
    return message.kind in _kinds and message.body.startswith(COMPACT_PREFIX)


def render_bodies(reader: Reader, messages: Sequence[OutboxMessage]) -> list[OutboxMessage]:
    """``messages`` with each compact notification's full body (one query for all of them).

    The incident's number, status, urgency, creation time and service are read as they are
    now; an incident that is gone (retention) is rendered from what the message holds.
    Other messages (other kinds, bodies written before compact bodies) are returned as
    they are.
    """
    stored: dict[int, dict[str, Any]] = {}
    for index, message in enumerate(messages):
        if is_compact(message):
            try:
                stored[index] = json.loads(message.body)
            except ValueError:
                continue  # the kind refuses it, as any body that is no notification
    if not stored:
        return list(messages)
    found = reader.notified_incidents(sorted({str(s.get("incident")) for s in stored.values()}))
    out = list(messages)
    for index, data in stored.items():
        incident_id = str(data.get("incident"))
        row = found.get(incident_id)
        incident: dict[str, Any] = {"id": incident_id, "number": None, "title": data.get("title")}
        service_id = service_name = None
        if row is not None:
            number, status, urgency, created_at, service_id, service_name = row
            incident.update(number=number, status=status, urgency=urgency, created_at=created_at)
        body = _shape(incident, service_id, service_name, data.get("user") or {})
        if isinstance(data.get("change"), dict):
            body["change"] = data["change"]
        out[index] = replace(
            out[index],
            body=json.dumps(body, separators=(",", ":")).encode(),
            headers={"content-type": "application/json"},
        )
    return out


def notify(
    tx: Tx,
    incident: Incident,
    user: NotifiedUser,
    method: ContactPoint,
    change: Mapping[str, Any] | None = None,
) -> Notified | None:
    """Notify ``user`` of ``incident`` through ``method``, in ``tx``.

    ``change`` (``{"type": "acknowledged" | "escalated" | "resolved", "summary": …}``) makes
    it a status-change notification (:mod:`gateway.core.status_notifications`): the body's
    ``change`` and the log entry say so; without it the incident needs the user.

    Writes a ``notify_log_entry`` (channel with the notification's type and address, the
    user as the person notified), a notification row and one outbox message of the
    contact type's delivery kind to ``method.address`` (ordered per incident). Returns
    ``None``, with a warning and nothing written, when no loaded plugin delivers the
    contact method's type: a missing deliverer must not stop escalation.
    """
    delivery = _deliveries.get(method.type)
    if delivery is None:
        log.warning(
            "notification.no_deliverer",
            incident=incident.id,
            user=user.id,
            contact_method_type=method.type,
        )
        return None
    # Rendered at delivery (render_bodies): this transaction may be an event's.
    message_id = outbox.enqueue(
        tx,
        kind=delivery.kind,
        destination=method.address,
        order_key=incident.id,
        body=compact_body(incident, user, change),
    )
    # The delivery's state is read from its message when shown, never stored here: this
    # entry is written once and the state changes after.
    notification = {"type": delivery.notification_type, "address": method.address}
    summary = f"Notified {user.name} by {_medium(delivery.notification_type)}"
    details: dict[str, Any] = {
        "channel": "auto",
        "notification": notification,
        "user": {"id": user.id, "name": user.name, "email": user.email},
        "contact_method": {"id": method.id, "type": method.type, "label": method.label},
        "message_id": message_id,
    }
    if change is not None:
        summary += f" that the incident was {change.get('type')}"
        details["change"] = dict(change)
    entry_id = tx.insert_log_entry(
        "notify_log_entry",
        service_id=incident.service_id,
        integration_id=None,
        incident_id=incident.id,
        agent_type="system",
        summary=summary,
        details=details,
    )
    notification_id = tx.insert_notification(
        type=delivery.notification_type,
        address=method.address,
        user_id=user.id,
        user_name=user.name,
        contact_method_id=method.id,
        contact_method_type=method.type,
        incident_id=incident.id,
        service_id=incident.service_id,
        log_entry_id=entry_id,
        message_id=message_id,
    )
    return Notified(notification_id, entry_id, message_id, delivery.kind)


def _medium(notification: str) -> str:
    """``email_notification`` → ``email``; the word a timeline says it was sent by."""
    return notification.removesuffix("_notification").replace("_", " ")

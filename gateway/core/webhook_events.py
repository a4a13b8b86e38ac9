"""What webhook subscriptions receive: PagerDuty's v3 event envelope, one message each.

Two producers turn committed changes into outbox messages, in the change's own
transaction (:mod:`gateway.core.outbox`): :func:`produce_incident_events` for incident
changes (``incident.triggered``, ``incident.acknowledged``, ``incident.unacknowledged``,
``incident.resolved``, ``incident.reopened``), :func:`produce_annotated` for a note
(``incident.annotated``) and :func:`produce_service_event` for
``service.created/updated/deleted``. Each event goes to every active, not temporarily
disabled subscription whose filter and events match, as one message per subscription:
destination = the subscription's id, order key = subscription and incident (or service),
so a slow incident holds back only itself.

The body is rendered once per event (the same bytes for every subscription) with
:mod:`gateway.shapes`, the renderer the REST API uses, and the links' base is
``[server] public_url`` (:func:`set_public_url`). Signing happens when a message is
sent (:mod:`gateway.outbound.webhooks`), so a secret rotation covers queued messages.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from gateway import shapes
from gateway.core import outbox
from gateway.core.service_reads import service_details
from gateway.core.webhooks import KIND, get_webhook
from gateway.domain import Incident, LogEntry, WebhookSubscription
from gateway.errors import Refused
from gateway.ids import new_object_id
from gateway.model import IncidentChange
from gateway.store import PageReader, Reader, Tx

__all__ = [
    "PING_MESSAGE",
    "envelope",
    "ping",
    "produce_annotated",
    "produce_escalated",
    "produce_incident_events",
    "produce_reassigned",
    "produce_service_event",
    "public_urls",
    "set_public_url",
]

#: The event type of an incident change, by its new status (a new incident is triggered).
_INCIDENT_EVENTS: Final = {
    "triggered": "incident.triggered",
    "acknowledged": "incident.acknowledged",
    "resolved": "incident.resolved",
}
#: Changes told by what happened rather than the status they leave (an acknowledgement
#: timeout or a snooze's end leaves the incident triggered, but it is not a new trigger).
_ACTION_EVENTS: Final = {
    "unacknowledge": "incident.unacknowledged",
    "reopen": "incident.reopened",
}
#: The log entry that records who made each change (its agent is the event's).
_ENTRY_OF: Final = {
    "incident.triggered": "trigger_log_entry",
    "incident.acknowledged": "acknowledge_log_entry",
    "incident.resolved": "resolve_log_entry",
    "incident.unacknowledged": "unacknowledge_log_entry",
    "incident.reopened": "reopen_log_entry",
}
PING_MESSAGE: Final = "Hello from your friend Pagey!"
_DEFAULT_BASE: Final = "http://localhost:8080"
#: Compact JSON, as ``json.dumps(..., separators=(",", ":"))`` wrote it, several times
#: faster (a body per event is rendered in the writer thread, on the ingest path); text
#: other than ASCII is written as UTF-8 rather than ``\uXXXX`` escapes: the same JSON.
_encode: Final = msgspec.json.Encoder().encode
#: The links' base; the daemon sets it from ``[server]`` at start and on reload.
_base: list[str] = [_DEFAULT_BASE]


def set_public_url(url: str | None, listen: str | None = None) -> None:
    """Use ``url`` (``[server] public_url``) as the base of payload links; without one, the
    listening address ``listen`` (``host:port``), the only guess there is."""
    base = url or (f"http://{listen}" if listen else _DEFAULT_BASE)
    _base[0] = base.rstrip("/")


def public_urls() -> shapes.Urls:
    """The base of ``self`` and ``html_url`` links in payloads."""
    return shapes.Urls(_base[0])


def envelope(
    event_type: str,
    resource_type: str,
    occurred_at: str,
    data: dict[str, Any],
    *,
    agent: dict[str, Any] | None = None,
    client: dict[str, Any] | None = None,
) -> bytes:
    """PagerDuty's v3 webhook body ``{"event": {...}}`` as the exact bytes sent and signed."""
    event = {
        "id": new_object_id("Q", 13),
        "event_type": event_type,
        "resource_type": resource_type,
        "occurred_at": occurred_at,
        "agent": agent,
        "client": client,
        "data": data,
    }
    return _encode({"event": event})


def _matches(subscription: WebhookSubscription, event_type: str, service_id: str) -> bool:
    if event_type not in subscription.events:
        return False
    return subscription.filter_type == "account_reference" or subscription.filter_id == service_id


def produce_incident_events(tx: Tx, changes: list[IncidentChange]) -> None:
    """The outbox producer: one message per change and matching subscription, in ``tx``."""
    live = tx.live_webhooks({c.service_id for c in changes})
    if not live:
        return  # the common case costs one indexed query per job
    urls = public_urls()
    for change in changes:
        event_type = _ACTION_EVENTS.get(change.action) or _INCIDENT_EVENTS.get(change.status)
        if event_type is None:
            continue
        wanted = [s for s in live if _matches(s, event_type, change.service_id)]
        if not wanted:
            continue
        body = _incident_body(tx, urls, change, event_type)
        if body is None:
            continue
        _send(tx, wanted, change.incident_id, body)


def _incident_body(
    tx: Tx, urls: shapes.Urls, change: IncidentChange, event_type: str
) -> bytes | None:
    incident = tx.incident(change.incident_id)
    if incident is None:
        return None
    entry_type = _ENTRY_OF[event_type]
    # Who made the change: the entry this job just wrote, without reading it back. The
    # oldest trigger entry is this job's only if the job created the incident.
    entry = (
        tx.job_log_entry(incident.id, entry_type, first=True)
        if event_type == "incident.triggered" and change.previous_status is None
        else tx.first_log_entry(incident.id, entry_type)
        if event_type == "incident.triggered"
        else tx.job_log_entry(incident.id, entry_type, first=False)
    )
    reader = _job_reader(tx, entry)
    data = shapes.incident_core(urls, reader, incident)
    # The job may have changed the incident again after this change: the event says what
    # this change made of it.
    data["status"] = change.status
    if event_type == "incident.reopened":
        data["reopened_at"] = change.at
    agent = client = None
    if entry is not None:
        agent = shapes.agent_reference(urls, reader, (entry.agent_type, entry.agent_id))
        name = entry.details.get("client")
        client = {"name": name} if isinstance(name, str) and name else None
    return envelope(event_type, "incident", change.at, data, agent=agent, client=client)


def _job_reader(tx: Tx, entry: LogEntry | None) -> Reader:
    """``tx``, or, when an event this job routed made the change, a reader that names its
    integration (the agent) and service from the rows routing read: two statements fewer
    per event and subscription set (bench/webhooks)."""
    routed = (
        tx.routed(entry.agent_id)
        if entry is not None and entry.agent_type == "integration" and entry.agent_id
        else None
    )
    if routed is None:
        return tx
    reader = PageReader(tx)
    reader.remember(*routed)
    return reader


def produce_annotated(tx: Tx, incident: Incident, entry: LogEntry) -> None:
    """``incident.annotated`` for a note just added (``entry``), in ``tx``.

    Called by :func:`gateway.core.incident_notes.add_note`: a note changes no status, so
    no incident change carries it to :func:`produce_incident_events`.
    """
    _produce_entry_event(tx, "incident.annotated", incident, entry)


def produce_reassigned(tx: Tx, incident: Incident, entry: LogEntry) -> None:
    """``incident.reassigned`` for a responder's reassignment (``entry``, its
    ``assign_log_entry``), in ``tx``: the incident as it now is, assignees included.

    Called by :func:`gateway.core.incident_reassign.reassign`; a reassignment changes no
    status, so no incident change carries it.
    """
    _produce_entry_event(tx, "incident.reassigned", incident, entry)


def _produce_entry_event(tx: Tx, event_type: str, incident: Incident, entry: LogEntry) -> None:
    """One message per subscription that wants ``event_type`` for a log entry's event."""
    live = tx.live_webhooks({incident.service_id})
    wanted = [s for s in live if _matches(s, event_type, incident.service_id)]
    if not wanted:
        return
    urls = public_urls()
    if event_type == "incident.annotated":
        data = shapes.note_object(urls, tx, entry, incident)
    else:
        data = shapes.incident_core(urls, tx, incident)
    agent = shapes.agent_reference(urls, tx, (entry.agent_type, entry.agent_id))
    body = envelope(event_type, "incident", entry.created_at, data, agent=agent)
    _send(tx, wanted, incident.id, body)


def produce_escalated(tx: Tx, incident: Incident) -> None:
    """``incident.escalated`` for an incident just moved to another level, in ``tx``.

    Called by :mod:`gateway.core.escalation`: an escalation changes no status, so no
    incident change carries it to :func:`produce_incident_events`.
    """
    event_type = "incident.escalated"
    wanted = [
        s
        for s in tx.live_webhooks({incident.service_id})
        if _matches(s, event_type, incident.service_id)
    ]
    if not wanted:
        return
    data = shapes.incident_core(public_urls(), tx, incident)
    body = envelope(event_type, "incident", tx.now, data)
    _send(tx, wanted, incident.id, body)


def produce_service_event(tx: Tx, service_id: str, action: str) -> None:
    """The service producer: ``service.<action>`` to every matching subscription, in ``tx``.

    A deleted service is told as it was when it was deleted (without its integrations,
    which died with it).
    """
    event_type = f"service.{action}"
    wanted = [s for s in tx.live_webhooks([service_id]) if _matches(s, event_type, service_id)]
    service = tx.service(service_id) or tx.deleted_service(service_id)
    if not wanted or service is None:
        return
    data = shapes.service_object(public_urls(), service_details(tx, [service])[0])
    if action == "deleted":
        data["status"] = "deleted"
    body = envelope(event_type, "service", tx.now, data)
    _send(tx, wanted, service_id, body)


def _send(tx: Tx, wanted: list[WebhookSubscription], subject_id: str, body: bytes) -> None:
    """One message per subscription, ordered per subscription and subject (incident/service)."""
    for subscription in wanted:
        outbox.enqueue(
            tx,
            kind=KIND,
            destination=subscription.id,
            order_key=f"{subscription.id}:{subject_id}",
            body=body,
        )


def ping(tx: Tx, subscription_id: str) -> str | None:
    """Queue a ``pagey.ping`` event for one subscription; the message id (None: queue full)."""
    subscription = get_webhook(tx, subscription_id)
    if subscription.temporarily_disabled:
        raise Refused(
            "Webhook Subscription Temporarily Disabled",
            code=2001,
            errors=[f"subscription {subscription.id} is temporarily disabled; enable it first"],
        )
    body = envelope("pagey.ping", "pagey", tx.now, {"message": PING_MESSAGE, "type": "ping"})
    return outbox.enqueue(
        tx, kind=KIND, destination=subscription.id, order_key=f"{subscription.id}:ping", body=body
    )


outbox.register_producer(produce_incident_events)
outbox.register_service_producer(produce_service_event)

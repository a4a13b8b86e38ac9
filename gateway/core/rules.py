"""What one event does to a service's alerts and incidents.

:func:`apply_event` runs inside the writer's transaction (one savepoint per
request), so the read-decide-write sequence below cannot race with another
event: dedup is exact without locks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import msgspec

from gateway.clock import iso, parse_iso
from gateway.core.forwarding import forward_accepted
from gateway.core.trigger_limit import log_trigger
from gateway.domain import Incident, Integration, Service
from gateway.errors import InvalidRoutingKey
from gateway.ids import new_dedup_key
from gateway.model import Event, Outcome
from gateway.store import Tx

#: How an incident groups its alerts (``incidents.alert_grouping_key``).
SINGLE = "single"  # one incident per alert (PagerDuty's default)
TIME = "time"  # alerts within a time window share an incident


def event_details(event: Event) -> dict[str, Any]:
    """The event as stored on alerts and log entries: PD-CEF without the routing key."""
    body: dict[str, Any] = msgspec.to_builtins(event)
    body.pop("routing_key", None)
    return body


def apply_event(
    tx: Tx, event: Event, *, admit: Callable[[Integration], bool] | None = None
) -> Outcome:
    """Route one validated event to its service and apply the service's rules.

    Raises :class:`InvalidRoutingKey` when no live integration owns the key, or when
    ``admit`` (the ingest pipeline's vendor check) refuses the integration it found.
    A service that forwards upstream gets the event's copies enqueued in this same
    transaction (:func:`gateway.core.forwarding.forward_accepted`).
    """
    outcome, integration = _apply(tx, event, admit)
    outcome = replace(outcome, integration_id=integration.id, service_id=integration.service_id)
    # Relay mode: the event's copies for upstream targets commit with it (the outbox).
    forward_accepted(tx, event, outcome)
    return outcome


def _apply(
    tx: Tx, event: Event, admit: Callable[[Integration], bool] | None
) -> tuple[Outcome, Integration]:
    route = tx.route(event.routing_key, tx.now)
    if route is None or (admit is not None and not admit(route[0])):
        raise InvalidRoutingKey()
    integration, service, in_maintenance = route
    if event.event_action == "change":
        change_id = tx.insert_change_event(
            service_id=service.id,
            integration_id=integration.id,
            summary=event.summary or "",
            body=event_details(event),
        )
        return Outcome("change", "", "created", change_id=change_id), integration

    dedup_key = event.dedup_key or new_dedup_key()
    details = event_details(event)
    details["dedup_key"] = dedup_key
    reason = _suppression_reason(service, in_maintenance)
    if reason:
        tx.insert_log_entry(
            "suppress_log_entry",
            service_id=service.id,
            integration_id=integration.id,
            agent_type="integration",
            agent_id=integration.id,
            summary=f"Suppressed {event.event_action}: {reason}",
            details={"reason": reason, "event": details},
        )
        return Outcome(event.event_action, dedup_key, "suppressed"), integration
    if service.alert_creation == "create_incidents":
        outcome = _apply_incident_only(tx, service, integration, event, dedup_key, details)
    else:
        outcome = _apply_with_alerts(tx, service, integration, event, dedup_key, details)
    return outcome, integration


def _suppression_reason(service: Service, in_maintenance: bool) -> str | None:
    if service.status == "disabled":
        return "service disabled"
    if in_maintenance:
        return "service in maintenance"
    return None


def _log(
    tx: Tx,
    kind: str,
    integration: Integration,
    incident: Incident,
    alert_id: str | None,
    summary: str | None,
    details: dict[str, Any],
) -> None:
    tx.insert_log_entry(
        kind,
        service_id=incident.service_id,
        integration_id=integration.id,
        incident_id=incident.id,
        alert_id=alert_id,
        agent_type="integration",
        agent_id=integration.id,
        summary=summary,
        details=details,
    )


def _trigger(
    tx: Tx,
    integration: Integration,
    incident: Incident,
    alert_id: str | None,
    summary: str | None,
    details: dict[str, Any],
) -> None:
    # Past the trigger limit the timeline only counts (gateway/core/trigger_limit.py).
    log_trigger(
        tx,
        incident,
        integration_id=integration.id,
        alert_id=alert_id,
        summary=summary,
        details=details,
    )


def _apply_with_alerts(
    tx: Tx,
    service: Service,
    integration: Integration,
    event: Event,
    dedup_key: str,
    details: dict[str, Any],
) -> Outcome:
    action = event.event_action
    alert = tx.open_alert(integration.id, dedup_key)
    if action == "trigger":
        summary = event.summary or ""
        if alert is not None:
            tx.refresh_alert(alert, severity=event.severity, summary=summary, body=details)
            incident = tx.incident(alert.incident_id)
            assert incident is not None
            tx.touch_incident(incident.id)
            _trigger(tx, integration, incident, alert.id, summary, details)
            return Outcome(action, dedup_key, "appended")
        incident = _incident_for_new_alert(tx, service, integration, event, dedup_key)
        new_alert = tx.insert_alert(
            incident=incident,
            integration_id=integration.id,
            alert_key=dedup_key,
            severity=event.severity,
            summary=summary,
            body=details,
        )
        _trigger(tx, integration, incident, new_alert.id, summary, details)
        return Outcome(action, dedup_key, "created")

    if alert is None:  # nothing open under this key on this integration: accepted, no change
        return Outcome(action, dedup_key, "ignored")
    incident = tx.incident(alert.incident_id)
    assert incident is not None
    if action == "acknowledge":
        if incident.status != "triggered":
            return Outcome(action, dedup_key, "ignored")
        tx.set_incident_status(incident, "acknowledged", action)
        _log(tx, "acknowledge_log_entry", integration, incident, alert.id, event.summary, details)
        return Outcome(action, dedup_key, "acknowledged")
    tx.resolve_alert(alert)
    _log(tx, "resolve_log_entry", integration, incident, alert.id, event.summary, details)
    if tx.open_alert_count(incident.id) == 0:
        tx.set_incident_status(incident, "resolved", action)
    return Outcome(action, dedup_key, "resolved")


def _incident_for_new_alert(
    tx: Tx, service: Service, integration: Integration, event: Event, dedup_key: str
) -> Incident:
    if service.alert_grouping == TIME:
        minutes = service.alert_grouping_timeout or 0
        # 0 means "group until the incident is resolved".
        since = "" if minutes == 0 else iso(parse_iso(tx.now) - timedelta(minutes=minutes))
        grouped = tx.grouping_incident(service.id, TIME, since)
        if grouped is not None:
            tx.touch_incident(grouped.id)
            return grouped
        grouping = TIME
    else:
        grouping = SINGLE
    return tx.insert_incident(
        service=service,
        integration_id=integration.id,
        title=event.summary or dedup_key,
        urgency=service.urgency_rule.urgency_for(event.severity),
        incident_key=dedup_key,
        alert_grouping_key=grouping,
    )


def _apply_incident_only(
    tx: Tx,
    service: Service,
    integration: Integration,
    event: Event,
    dedup_key: str,
    details: dict[str, Any],
) -> Outcome:
    action = event.event_action
    incident = tx.open_incident_by_key(integration.id, dedup_key)
    if action == "trigger":
        if incident is not None:
            tx.touch_incident(incident.id)
            _trigger(tx, integration, incident, None, event.summary, details)
            return Outcome(action, dedup_key, "appended")
        incident = tx.insert_incident(
            service=service,
            integration_id=integration.id,
            title=event.summary or dedup_key,
            urgency=service.urgency_rule.urgency_for(event.severity),
            incident_key=dedup_key,
        )
        _trigger(tx, integration, incident, None, event.summary, details)
        return Outcome(action, dedup_key, "created")
    if incident is None:
        return Outcome(action, dedup_key, "ignored")
    if action == "acknowledge":
        if incident.status != "triggered":
            return Outcome(action, dedup_key, "ignored")
        tx.set_incident_status(incident, "acknowledged", action)
        _log(tx, "acknowledge_log_entry", integration, incident, None, event.summary, details)
        return Outcome(action, dedup_key, "acknowledged")
    tx.set_incident_status(incident, "resolved", action)
    _log(tx, "resolve_log_entry", integration, incident, None, event.summary, details)
    return Outcome(action, dedup_key, "resolved")

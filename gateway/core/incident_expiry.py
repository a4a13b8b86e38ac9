"""What an incident's timers do when they fire: the actions no person takes.

- ``ack_timeout``: an incident still acknowledged returns to triggered, with an
  ``unacknowledge_log_entry`` whose agent is the service (webhook
  ``incident.unacknowledged``);
- ``snooze_end``: the same, at the end of a snooze;
- ``auto_resolve``: an incident still open is resolved with its alerts, with a
  ``resolve_log_entry`` whose agent is the service (webhook ``incident.resolved``); while
  the incident is snoozed the resolution waits for the snooze's end, as PagerDuty's
  snooze suspends auto-resolution.

Each handler checks the incident's state first: a timer that a change in the same
batch made pointless does nothing (and its row is deleted all the same). When these
are scheduled and cancelled is :mod:`gateway.core.incident_timers`.
"""

from __future__ import annotations

import structlog

from gateway.core import outbox, timers
from gateway.core.incident_timers import ACK_TIMEOUT, AUTO_RESOLVE, SNOOZE_END, on_changes
from gateway.core.incidents import close_incident
from gateway.domain import Incident, Timer
from gateway.store import Tx

__all__ = ["auto_resolve", "unacknowledge"]

log = structlog.get_logger("gateway.incidents")


def _service_log(tx: Tx, kind: str, incident: Incident, summary: str, **details: object) -> None:
    tx.insert_log_entry(
        kind,
        service_id=incident.service_id,
        integration_id=None,
        incident_id=incident.id,
        agent_type="service",
        agent_id=incident.service_id,
        summary=summary,
        details={"channel": "timeout", **details},
    )


def unacknowledge(tx: Tx, timer: Timer) -> None:
    """``ack_timeout`` / ``snooze_end``: an acknowledged incident returns to triggered."""
    incident = tx.incident(timer.incident_id or "")
    if incident is None or incident.status != "acknowledged":
        return
    updated = tx.set_incident_status(incident, "triggered", "unacknowledge")
    reason = "snooze ended" if timer.kind == SNOOZE_END else "acknowledgement timeout"
    _service_log(
        tx, "unacknowledge_log_entry", updated, f"Unacknowledged: {reason}", reason=timer.kind
    )
    log.info("incident.unacknowledged", incident=incident.id, number=incident.number, by=timer.kind)


def auto_resolve(tx: Tx, timer: Timer) -> None:
    """``auto_resolve``: an open incident is resolved by its service, alerts included."""
    incident = tx.incident(timer.incident_id or "")
    if incident is None or incident.status == "resolved":
        return
    snoozes = tx.incident_timers(incident.id, [SNOOZE_END])
    if snoozes and snoozes[-1].due_at > timer.due_at:
        # Snoozed: resolve when the snooze ends (this row is deleted, a new one written).
        timers.schedule(tx, AUTO_RESOLVE, incident.id, snoozes[-1].due_at, timer.payload)
        return
    updated, alert_ids = close_incident(tx, incident)
    _service_log(
        tx,
        "resolve_log_entry",
        updated,
        "Resolved automatically: auto-resolution timeout",
        resolved_alerts=alert_ids,
    )
    log.info("incident.auto_resolved", incident=incident.id, number=incident.number)


timers.register(ACK_TIMEOUT, unacknowledge)
timers.register(SNOOZE_END, unacknowledge)
timers.register(AUTO_RESOLVE, auto_resolve)
outbox.register_producer(on_changes)

"""Reopening a resolved incident: a person says the problem is back, within a window.

PagerDuty lets a responder put a resolved incident back to ``triggered`` or
``acknowledged`` (REST ``PUT /incidents/{id}`` with that status) for a limited time after
its resolution, and tells webhook subscribers ``incident.reopened``. The rules here:

- only a resolved incident, resolved at most :data:`REOPEN_WINDOW` ago, can be reopened
  (400 otherwise, nothing changed);
- the incident's alerts stay resolved: the monitoring tool said its condition cleared, and
  a reopen is a person's judgement about the incident, not a new alert. So a later trigger
  with the same dedup key on an alert-based service opens a new incident, as after any
  resolution; on a service without alerts (the incident's key is its dedup key) it is
  appended to the reopened incident, and a resolve event resolves it;
- an incident of a disabled (or deleted) service is not reopened, as none is opened by hand
  there;
- one open incident per key and service: a reopen is refused while another open incident
  on the service has the same ``incident_key`` (a trigger after the resolution opened it);
- a ``reopen_log_entry`` names who reopened it (PagerDuty's log entry types name no
  reopen entry: this one is the gateway's, in PagerDuty's ``<verb>_log_entry`` style); a
  reopen as acknowledged also writes an ``acknowledge_log_entry`` by the same person, so
  the incident's ``acknowledgements[]`` name them;
- the status change is recorded with action ``reopen``, so the producers see it: the
  webhook producer emits ``incident.reopened``, the timers producer gives the incident
  its auto-resolution (and acknowledgement timeout) again, and escalation restarts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final, Literal

import structlog

from gateway.clock import parse_iso
from gateway.core.incident_reads import find_incident
from gateway.domain import Incident
from gateway.errors import Invalid, Refused
from gateway.store import Tx

__all__ = ["REOPEN_STATUSES", "REOPEN_WINDOW", "can_reopen", "reopen"]

log = structlog.get_logger("gateway.incidents")

#: How long after its resolution an incident can be reopened.
REOPEN_WINDOW: Final = timedelta(days=30)
#: The statuses a reopened incident can take.
REOPEN_STATUSES: Final = ("triggered", "acknowledged")

Channel = Literal["api", "web_ui", "cli"]


def can_reopen(incident: Incident, now: str) -> bool:
    """Whether ``incident`` is resolved and still within the reopen window at ``now``."""
    if incident.status != "resolved" or not incident.resolved_at:
        return False
    return parse_iso(now) <= parse_iso(incident.resolved_at) + REOPEN_WINDOW


def reopen(
    tx: Tx, incident_id: str | int, status: str, *, by: str, channel: Channel = "api"
) -> Incident:
    """Reopen a resolved incident (id or number) as ``status``, on behalf of ``by``.

    ``status`` is ``triggered`` or ``acknowledged``. Refused (400, nothing changed) for an
    incident that is not resolved, one resolved more than :data:`REOPEN_WINDOW` ago, one
    whose service is disabled or deleted, and one whose key another open incident on the
    service holds.
    """
    if status not in REOPEN_STATUSES:
        raise Invalid([f"A reopened incident must be triggered or acknowledged, not {status!r}"])
    incident = find_incident(tx, incident_id)
    if incident.status != "resolved":
        raise Refused(
            "Incident Not Resolved",
            code=2001,
            errors=[
                f"Incident {incident.number} is {incident.status}; only a resolved one "
                "can be reopened"
            ],
        )
    if not can_reopen(incident, tx.now):
        days = REOPEN_WINDOW.days
        raise Refused(
            "Reopen Window Passed",
            code=2001,
            errors=[
                f"Incident {incident.number} was resolved at {incident.resolved_at}; an "
                f"incident can be reopened only within {days} days of its resolution"
            ],
        )
    service = tx.service(incident.service_id)
    if service is None or service.status == "disabled":
        # As for opening one by hand: a switched-off service pages nobody again.
        state = "deleted" if service is None else "disabled"
        raise Refused(
            f"Service is {state}",
            code=2001,
            errors=[f"Incident {incident.number}'s service is {state}; it cannot be reopened"],
        )
    if incident.incident_key is not None:
        other = tx.open_incident_on_service(incident.service_id, incident.incident_key)
        if other is not None and other.id != incident.id:
            raise Refused(
                "Invalid Input Provided",
                code=2001,
                errors=[
                    f"Open incident {other.number} on this service has the same dedup "
                    "key; resolve it before reopening this one"
                ],
            )
    resolved_at = incident.resolved_at
    updated = tx.set_incident_status(incident, status, "reopen")
    _log(
        tx,
        "reopen_log_entry",
        updated,
        by,
        channel,
        f"Reopened by {by}",
        {"status": status, "resolved_at": resolved_at},
    )
    if status == "acknowledged":
        _log(
            tx,
            "acknowledge_log_entry",
            updated,
            by,
            channel,
            f"Acknowledged by {by}",
            {"reopen": True},
        )
    log.info(
        "incident.reopened", incident=incident.id, number=incident.number, by=by, status=status
    )
    return updated


def _log(
    tx: Tx,
    kind: str,
    incident: Incident,
    by: str,
    channel: Channel,
    summary: str,
    details: dict[str, object],
) -> None:
    tx.insert_log_entry(
        kind,
        service_id=incident.service_id,
        integration_id=None,
        incident_id=incident.id,
        agent_type="user",
        agent_id=by,
        summary=summary,
        details={"channel": channel, **details},
    )

"""A responder reassigns an incident: to named users, or to a level of its escalation policy.

PagerDuty's ``PUT /incidents/{id}`` takes either ``assignments`` (the new assignees,
replacing the old) or ``escalation_level`` (that rule's targets become the assignees and
escalation goes on from there). The REST API and the web UI both call :func:`reassign`;
the assignment itself (assignees replaced, ``assign_log_entry`` / ``escalate_log_entry``,
the new assignees notified by their rules, the escalation delay restarted) is the
escalation engine's :func:`gateway.core.assignments.reassign`. This adds what a person's
reassignment says to the world: the ``incident.reassigned`` webhook, or
``incident.escalated`` for a level (PagerDuty counts a manual escalation as one).

Refused, with nothing changed: both or neither of users and level (:class:`Invalid`),
unknown users or a level the policy does not have (:class:`Invalid`, from the engine), a
resolved incident (:class:`Refused`, 1001).
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from gateway.core import assignments, webhook_events
from gateway.core.incident_reads import find_incident
from gateway.core.incidents import Channel
from gateway.core.inputs import Agent
from gateway.domain import Incident
from gateway.errors import Invalid, Refused
from gateway.store import Tx

__all__ = ["Reassignment", "reassign"]

log = structlog.get_logger("gateway.incidents")


@dataclass(frozen=True, slots=True)
class Reassignment:
    """What to reassign to: ``user_ids`` (the new assignees) or ``escalation_level``."""

    user_ids: tuple[str, ...] = ()
    escalation_level: int | None = None


def reassign(
    tx: Tx,
    incident_id: str | int,
    change: Reassignment,
    *,
    by: str,
    channel: Channel = "api",
) -> Incident:
    """Reassign the incident (id or number) as ``change`` says, on behalf of ``by``, from
    ``channel`` (the log entries say where the person acted: ``api``, ``web_ui``, ``cli``).

    Returns the incident as it now is. See the module's docstring for what is written
    and what is refused.
    """
    level = change.escalation_level
    if bool(change.user_ids) == (level is not None):
        raise Invalid(["Give either 'assignments' or 'escalation_level', not both or neither"])
    if level is not None and (isinstance(level, bool) or not isinstance(level, int)):
        raise Invalid(["'escalation_level' must be a whole number"])
    incident = find_incident(tx, incident_id)
    if incident.status == "resolved":
        raise Refused(
            "Incident Already Resolved",
            code=1001,
            errors=[f"Incident #{incident.number} is resolved: it cannot be reassigned"],
        )
    target: list[str] | int = level if level is not None else list(change.user_ids)
    assignments.reassign(tx, incident, target, Agent("user", by), channel)
    updated = find_incident(tx, incident.id)
    if level is None:
        entry = tx.latest_log_entry(incident.id, "assign_log_entry")
        if entry is not None:
            webhook_events.produce_reassigned(tx, updated, entry)
    else:
        # The engine emits it for the escalations its timers make; a person's is here.
        webhook_events.produce_escalated(tx, updated)
    log.info(
        "incident.reassigned",
        incident=incident.id,
        number=incident.number,
        by=by,
        users=len(change.user_ids),
        level=level,
    )
    return updated

"""Who holds an incident: reading assignees, and reassigning by hand.

The escalation engine (:mod:`gateway.core.escalation`) assigns incidents as they escalate;
this module is what the REST API, the UI and the CLI call:

- :func:`assignees_of` — the assignees of many incidents in one read (the ``assignments``
  of the incident object, ``include[]=assignees``);
- :func:`reassign` — PagerDuty's two ways (``PUT /incidents/{id}`` with ``assignments``
  or ``escalation_level``): to users, who replace the assignees and are notified; or to a
  level of the incident's policy, which is entered as an escalation would (its targets
  assigned and notified). Either way the incident keeps its policy: unacknowledged, it
  escalates on from its level after that level's delay, counted from the reassignment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from gateway.core import escalation, timers
from gateway.core.escalation_targets import NOTIFY, Memo, notify_assignees
from gateway.core.inputs import SYSTEM, Agent
from gateway.domain import Incident, User
from gateway.errors import Invalid, Refused
from gateway.store import Reader, Tx

__all__ = ["Assignment", "assignees_of", "reassign"]

log = structlog.get_logger("gateway.escalation")

#: PagerDuty's limit on users named in one reassignment.
MAX_ASSIGNEES = 10


@dataclass(frozen=True, slots=True)
class Assignment:
    """One assignee of an incident: the user (``None`` once deleted), its id, and since when."""

    user_id: str
    user: User | None
    at: str


def assignees_of(reader: Reader, incident_ids: Sequence[str]) -> dict[str, list[Assignment]]:
    """``{incident id: [Assignment…]}`` for ``incident_ids`` (two reads whatever their number);
    an incident nobody holds maps to an empty list."""
    rows = reader.incident_assignees(list(incident_ids))
    user_ids = sorted({u for pairs in rows.values() for u, _, _ in pairs})
    users: dict[str, User | None] = {u.id: u for u in reader.users(ids=user_ids)}
    for gone in (u for u in user_ids if u not in users):  # deleted since: still named
        users[gone] = reader.user(gone, deleted=True)
    return {
        incident_id: [Assignment(u, users.get(u), at) for u, at, _ in rows.get(incident_id, [])]
        for incident_id in incident_ids
    }


def reassign(
    tx: Tx,
    incident: Incident,
    target: Sequence[str] | int,
    agent: Agent = SYSTEM,
    channel: str = "api",
) -> list[User]:
    """Reassign an open incident to users (ids) or to an escalation level (1-based).

    Users replace the assignees (an ``assign_log_entry`` by ``agent``) and are notified by
    their rules when the incident is triggered; a level is entered as an escalation enters
    it (``escalate_log_entry`` by ``agent``, then its ``assign_log_entry``). Refused for a
    resolved incident; :class:`Invalid` for users that do not exist or a level the policy
    does not have. Returns the new assignees. ``channel`` is the log entries' channel
    (``api``, ``web_ui``, ``cli``): where the person acted.
    """
    if incident.status == "resolved":
        raise Refused("Incident Already Resolved", code=1001)
    memo = Memo()
    if isinstance(target, int):
        return _to_level(tx, incident, target, agent, memo, channel)
    return _to_users(tx, incident, list(dict.fromkeys(target)), agent, memo, channel)


def _to_users(
    tx: Tx, incident: Incident, user_ids: list[str], agent: Agent, memo: Memo, channel: str
) -> list[User]:
    if not user_ids:
        raise Invalid(["assignments must name at least one user"])
    if len(user_ids) > MAX_ASSIGNEES:
        raise Invalid([f"assignments may name at most {MAX_ASSIGNEES} users"])
    found = {u.id: u for u in tx.users(ids=user_ids)}
    missing = [u for u in user_ids if u not in found]
    if missing:
        raise Invalid([f"user {u} does not exist" for u in missing])
    users = [found[u] for u in user_ids]
    timers.cancel(tx, incident.id, (NOTIFY,))
    tx.replace_incident_assignments(incident.id, user_ids)
    tx.insert_log_entry(
        "assign_log_entry",
        service_id=incident.service_id,
        integration_id=None,
        incident_id=incident.id,
        agent_type=agent.type,
        agent_id=agent.id,
        summary="Reassigned to " + ", ".join(u.name for u in users),
        details={"channel": channel, "assignees": [{"id": u.id, "name": u.name} for u in users]},
    )
    if incident.status == "triggered":
        notify_assignees(tx, incident, users, memo)
        escalation.restart_delay(tx, incident, memo)
    log.info("incident.reassigned", incident=incident.id, users=len(users), by=agent.type)
    return users


def _to_level(
    tx: Tx, incident: Incident, level: int, agent: Agent, memo: Memo, channel: str
) -> list[User]:
    policy = escalation.policy_of(tx, incident, memo)
    count = len(policy.rules) if policy else 0
    if policy is None or isinstance(level, bool) or not 1 <= level <= count:
        raise Invalid([f"escalation_level must be between 1 and {count} (the policy's levels)"])
    state = tx.incident_escalation(incident.id)
    loop = state[2] if state else 0
    tx.insert_log_entry(
        "escalate_log_entry",
        service_id=incident.service_id,
        integration_id=None,
        incident_id=incident.id,
        agent_type=agent.type,
        agent_id=agent.id,
        summary=f"Escalated to level {level} by hand",
        details={
            "channel": channel,
            "escalation_level": level,
            "escalation_loop": loop,
            "escalation_policy": {"id": policy.id, "name": policy.name},
        },
    )
    users = escalation.enter_level(
        tx, incident, policy, level, loop, memo, channel=channel, agent=(agent.type, agent.id),
        notify=incident.status == "triggered",
    )  # fmt: skip
    log.info("incident.reassigned", incident=incident.id, level=level, by=agent.type)
    return users

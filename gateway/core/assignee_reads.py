"""Who holds incidents and where they are on their policy, for pages and API objects.

Reads only the store (the escalation engine's tables), so the incident objects of
:mod:`gateway.core.incident_reads` and :mod:`gateway.shapes` can carry assignees without
importing the engine, which itself renders incidents for its webhooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.domain import User
from gateway.store import Reader

__all__ = ["Assignee", "Escalation", "assignees", "escalations"]


@dataclass(frozen=True, slots=True)
class Assignee:
    """One assignee of an incident: the user's id and name, since when, and the user
    (``None`` once deleted: the name is the last one it had)."""

    user_id: str
    name: str
    at: str
    user: User | None


@dataclass(frozen=True, slots=True)
class Escalation:
    """The escalation policy an incident follows and its level on it (``None``: no level,
    as for incidents opened before escalation existed or on a policy without rules)."""

    policy_id: str
    policy_name: str
    level: int | None


def assignees(reader: Reader, incident_ids: Sequence[str]) -> dict[str, list[Assignee]]:
    """``{incident id: [Assignee…]}`` in assignment order; nobody assigned → ``[]``.

    Three statements whatever the number of incidents (assignments, live users, the
    deleted ones among them).
    """
    rows = reader.incident_assignees(list(incident_ids))
    user_ids = sorted({u for pairs in rows.values() for u, _ in pairs})
    users: dict[str, User | None] = {u.id: u for u in reader.users(ids=user_ids)}
    names = {u: user.name for u, user in users.items() if user is not None}
    for gone in (u for u in user_ids if u not in users):
        users[gone] = None
        former = reader.user(gone, deleted=True)
        names[gone] = former.name if former else gone
    return {
        incident_id: [Assignee(u, names[u], at, users[u]) for u, at in rows.get(incident_id, [])]
        for incident_id in incident_ids
    }


def escalations(
    reader: Reader, incidents: Sequence[tuple[str, str | None]]
) -> dict[str, Escalation]:
    """``{incident id: Escalation}`` for ``(incident id, its service's policy id)`` pairs.

    The policy is the one escalation started the incident on, else its service's (an
    incident the engine never took); an incident with neither is absent.
    """
    states = reader.incident_escalations([i for i, _ in incidents])
    found: dict[str, Escalation] = {}
    policies: dict[str, str | None] = {}
    for incident_id, service_policy in incidents:
        state = states.get(incident_id)
        policy_id = state[0] if state else service_policy
        if policy_id is None:
            continue
        if policy_id not in policies:
            policy = reader.escalation_policy(policy_id)
            policies[policy_id] = policy.name if policy else None
        name = policies[policy_id]
        if name is not None:
            found[incident_id] = Escalation(policy_id, name, state[1] if state else None)
    return found

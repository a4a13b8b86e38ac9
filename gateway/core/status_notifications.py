"""Telling assignees that their high-urgency incident changed (status-change notification rules).

PagerDuty's "when a high-urgency incident assigned to me changes": a user with notification
rules of type ``status_change_notification_rule`` is notified, through each such rule's
contact method, when a high-urgency incident assigned to them is

- **acknowledged** or **resolved** (:func:`status_changed`, called by the escalation engine
  while the incident's assignees are still assigned: a resolve unassigns them next);
- **escalated** away from them, by a timer or a person (:func:`escalated_away`, called by
  the engine when a level's assignees replace theirs).

The person who made the change (a user's acknowledgement or resolve) is not told about it.
Each notification goes the one way every notification goes
(:func:`gateway.core.notifications.notify`: a ``notify_log_entry`` with channel and address,
a row of ``GET /notifications``, an outbox message) with the change in its body. Low
urgency never notifies here, as in PagerDuty. Cost when nobody has such a rule: one indexed
query per acknowledgement or resolve of a high-urgency incident, none per escalation.
"""

from __future__ import annotations

from collections.abc import Collection

import structlog

from gateway.core.escalation_targets import Memo, send
from gateway.domain import Incident, NotificationRule
from gateway.domain_people import STATUS_CHANGE_RULE
from gateway.model import IncidentChange
from gateway.store import Tx

__all__ = ["escalated_away", "status_changed"]

log = structlog.get_logger("gateway.notifications")

#: The log entry that says who made each change.
_ENTRY = {"acknowledged": "acknowledge_log_entry", "resolved": "resolve_log_entry"}


def status_changed(tx: Tx, change: IncidentChange, memo: Memo) -> int:
    """An assigned high-urgency incident was acknowledged or resolved: notify its assignees'
    status-change rules (not the acting user's). Call before the assignees are replaced.
    Returns how many notifications were queued."""
    if change.urgency != "high" or change.status not in _ENTRY:
        return 0
    rules = tx.assignee_rules(change.incident_id, STATUS_CHANGE_RULE)
    if not rules:
        return 0
    incident = tx.incident(change.incident_id)
    if incident is None:
        return 0
    entry = tx.latest_log_entry(incident.id, _ENTRY[change.status])
    summary = entry.summary if entry is not None and entry.summary else change.status.title()
    actor = entry.agent_id if entry is not None and entry.agent_type == "user" else None
    return _notify(tx, incident, rules, change.status, summary, memo, actor=actor)


def escalated_away(
    tx: Tx, incident: Incident, previous: Collection[str], now: Collection[str], level: int,
    memo: Memo,
) -> int:  # fmt: skip
    """``incident`` moved to ``level`` and the users in ``previous`` not in ``now`` lost it:
    notify their status-change rules. Returns how many notifications were queued."""
    gone = set(previous) - set(now)
    if incident.urgency != "high" or not gone:
        return 0
    rules = [
        r
        for user_id in sorted(gone)
        for r in tx.notification_rules(user_id, urgency="high", type=STATUS_CHANGE_RULE)
    ]
    return _notify(tx, incident, rules, "escalated", f"Escalated to level {level}", memo)


def _notify(
    tx: Tx,
    incident: Incident,
    rules: list[NotificationRule],
    what: str,
    summary: str,
    memo: Memo,
    *,
    actor: str | None = None,
) -> int:
    sent = 0
    for rule in rules:
        user = memo.user(tx, rule.user_id)
        if user is None:
            continue
        if actor is not None and actor.lower() in (user.id.lower(), user.email.lower()):
            continue  # they made the change: they know
        if send(tx, incident, user, rule.contact_method_id, {"type": what, "summary": summary}):
            sent += 1
    if sent:
        log.info("notification.status_change", incident=incident.id, change=what, sent=sent)
    return sent

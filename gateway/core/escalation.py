"""The escalation engine: a new incident reaches a person, and moves on while nobody acts.

A producer (:func:`on_changes`) sees every committed job's incident changes in the job's
own transaction, whoever opened or changed the incident (Events API, email, ``POST
/incidents``, the UI, a timer), so no path can skip escalation:

- **a new incident** follows its service's escalation policy from level 1: it is assigned
  to the first rule's targets (:mod:`gateway.core.escalation_targets`), an
  ``assign_log_entry`` names them, and each is notified by their notification rules for
  the incident's urgency (a delay of 0 now, a later one a ``notify`` timer). A high-urgency
  incident also gets an ``escalate`` timer at the rule's ``escalation_delay_in_minutes``;
- **the escalate timer** (:func:`escalate`) moves an incident still triggered to the next
  level (``escalate_log_entry``, the new level's assignees replace the old ones, new
  notifications, webhook ``incident.escalated``); after the last level it starts again
  from the first, ``num_loops`` times (``repeat_escalation_path_log_entry``), then stays
  (``exhaust_escalation_path_log_entry``);
- a level whose targets have **nobody on call** is logged and the incident escalates on at
  once (high urgency);
- **low urgency** is assigned and notified by low-urgency rules, and never escalates;
- **acknowledge** cancels the incident's ``escalate`` and ``notify`` timers; the return
  to triggered (the acknowledgement timeout, a snooze's end) notifies the assignees again
  and restarts the current level's delay; **resolve** unassigns everyone (its timers are
  cancelled by :mod:`gateway.core.incident_timers`); a **reopened** incident follows its
  policy from level 1 again.

**While ingest is busy** (the job on the event path says so: ``Tx.page_later``) a new
incident is not paged in the event's job: a ``page`` timer due now stands for its level 1,
and the scheduler fires it when the burst ends, or once it has waited
``max_defer_seconds`` (a kind that may wait, :mod:`gateway.core.timers`). Accepting events
keeps the CPU; the notifications' own deliveries wait under the same rule anyway. An
incident acknowledged meanwhile is assigned without notifying, one resolved is not paged
(its timers go with it), one a person assigned meanwhile keeps its assignees.

Each step is one transaction with the timer firing it, so after a crash a step happens
once: never lost, never twice. An ``escalate`` timer names the level it leaves; one that
finds the incident elsewhere (reassigned in the meantime) does nothing.
"""

from __future__ import annotations

from typing import Any, Final
from weakref import WeakKeyDictionary

import structlog

from gateway.core import escalation_policies, outbox, status_notifications, timers, webhook_events
from gateway.core.escalation_targets import NOTIFY, Memo, notify_assignees, resolve, send
from gateway.domain import EscalationPolicy, Incident, Timer, User
from gateway.errors import NotFound
from gateway.model import IncidentChange
from gateway.store import Tx

__all__ = [
    "ESCALATE",
    "NOTIFY",
    "PAGE",
    "enter_level",
    "escalate",
    "notify_due",
    "on_changes",
    "page_due",
    "policy_of",
    "reopened",
    "restart",
    "restart_delay",
    "start",
    "step",
]

log = structlog.get_logger("gateway.escalation")

#: The timer kind that moves an unacknowledged incident to its next level.
ESCALATE: Final = "escalate"
#: The timer kind that pages a new incident the event's job left to the scheduler.
PAGE: Final = "page"
#: What an acknowledgement stops.
_ACTIVE: Final = (ESCALATE, NOTIFY)
#: One Memo per firing job: the scheduler fires a burst's ``page`` timers together, and
#: they read the same policies, users and rules.
_job_memos: WeakKeyDictionary[Tx, Memo] = WeakKeyDictionary()


def on_changes(tx: Tx, changes: list[IncidentChange]) -> None:
    """The producer: start, stop and restart escalation for the changed incidents, in ``tx``."""
    memo = Memo()
    for change in changes:
        if change.action == "reopen":  # a person reopened it: its policy from level 1 again
            incident = tx.incident(change.incident_id)
            if incident is not None and incident.status != "resolved":
                reopened(tx, incident, memo)
        elif change.previous_status is None:
            # The incident as this job leaves it: one it already resolved is not paged.
            incident = tx.incident(change.incident_id)
            if incident is None or incident.status == "resolved":
                continue
            if tx.page_later:
                page_later(tx, incident)
            else:
                start(tx, incident, memo)
        elif change.status == "acknowledged":
            timers.cancel(tx, change.incident_id, _ACTIVE)
            status_notifications.status_changed(tx, change, memo)
        elif change.status == "resolved":
            timers.cancel(tx, change.incident_id, _ACTIVE)
            status_notifications.status_changed(tx, change, memo)  # while still assigned
            tx.replace_incident_assignments(change.incident_id, [])
        elif change.status == "triggered" and change.previous_status == "acknowledged":
            incident = tx.incident(change.incident_id)
            if incident is not None:
                restart(tx, incident, memo)


def _policy(tx: Tx, service_id: str, memo: Memo) -> EscalationPolicy | None:
    if service_id not in memo.policies:
        try:
            memo.policies[service_id] = escalation_policies.policy_for_service(tx, service_id)
        except NotFound:
            memo.policies[service_id] = None
    return memo.policies[service_id]


def start(tx: Tx, incident: Incident, memo: Memo | None = None) -> None:
    """A new incident: level 1 of its service's policy (nothing when the policy has no levels).

    One already acknowledged (in the job that opened it) is assigned without notifying.
    """
    memo = memo or Memo()
    policy = _policy(tx, incident.service_id, memo)
    if policy is None or not policy.rules:
        return
    notify = incident.status == "triggered"
    enter_level(tx, incident, policy, 1, 0, memo, channel="auto", notify=notify, fresh=True)


def page_later(tx: Tx, incident: Incident) -> None:
    """A new incident whose level 1 waits for the scheduler: a ``page`` timer due now
    (nothing when its policy has no levels). Asked with one probe of the rules, not by
    reading the policy whole: this runs for every new incident of a burst."""
    service = tx.service(incident.service_id)
    if service is None:
        return
    if tx.policy_has_levels(escalation_policies.policy_id_of(service)):
        timers.schedule(tx, PAGE, incident.id, tx.now)


def page_due(tx: Tx, timer: Timer) -> None:
    """The ``page`` timer: level 1 for a new incident nobody has paged or assigned yet."""
    incident = tx.incident(timer.incident_id or "")
    if incident is None or incident.status == "resolved":
        return
    if tx.incident_escalation(incident.id) is not None:
        return  # reassigned by hand meanwhile: its assignees stand
    if tx.incident_assignees([incident.id]).get(incident.id):
        return
    memo = _job_memos.get(tx)
    if memo is None:
        memo = _job_memos[tx] = Memo()
    start(tx, incident, memo)


def reopened(tx: Tx, incident: Incident, memo: Memo | None = None) -> None:
    """A reopened incident follows its policy from level 1 again (assigned, notified and
    escalating when reopened as triggered; assigned only when reopened as acknowledged)."""
    memo = memo or Memo()
    policy = policy_of(tx, incident, memo)
    if policy is None:
        return
    notify = incident.status == "triggered"
    enter_level(tx, incident, policy, 1, 0, memo, channel="auto", notify=notify)


def enter_level(
    tx: Tx,
    incident: Incident,
    policy: EscalationPolicy,
    level: int,
    loop: int,
    memo: Memo,
    *,
    channel: str,
    agent: tuple[str, str | None] = ("system", None),
    hops: int = 0,
    notify: bool = True,
    fresh: bool = False,
) -> list[User]:
    """Assign ``incident`` to level ``level`` (1-based) of ``policy`` in loop ``loop``.

    The level's users replace the assignees (an ``assign_log_entry`` names them, with the
    schedules that had nobody on call), each is notified, and a high-urgency incident gets
    the level's ``escalate`` timer — or escalates on at once when the level reached nobody.
    Returns the assignees. ``notify=False`` (an acknowledged incident reassigned by hand)
    assigns only: nobody is notified and nothing escalates until it is triggered again.
    ``fresh``: a new incident (no assignees, state or timers to replace: three statements
    fewer on the ingest path).
    """
    rule = policy.rules[level - 1]
    reached = resolve(tx, rule, memo)
    tx.set_incident_escalation(incident.id, policy.id, level, loop, fresh=fresh)
    previous: list[str] = []
    if not fresh:
        timers.cancel(tx, incident.id, _ACTIVE)
        previous = [u for u, _, _ in tx.incident_assignees([incident.id]).get(incident.id, [])]
    tx.replace_incident_assignments(incident.id, [u.id for u in reached.users], fresh=fresh)
    names = ", ".join(u.name for u in reached.users)
    summary = f"Assigned to {names}" if reached.users else "Assigned to nobody"
    if reached.nobody_on_call:
        summary += f" (nobody on call on {', '.join(reached.nobody_on_call)})"
    tx.insert_log_entry(
        "assign_log_entry",
        service_id=incident.service_id,
        integration_id=None,
        incident_id=incident.id,
        agent_type=agent[0],
        agent_id=agent[1],
        summary=f"{summary}, level {level}",
        details={
            "channel": channel,
            "assignees": [{"id": u.id, "name": u.name} for u in reached.users],
            "escalation_policy": {"id": policy.id, "name": policy.name},
            "escalation_level": level,
            "escalation_loop": loop,
            "nobody_on_call": reached.nobody_on_call,
        },
    )
    if previous:  # those it left are told (their status-change rules)
        now = [u.id for u in reached.users]
        status_notifications.escalated_away(tx, incident, previous, now, level, memo)
    if not notify:
        return reached.users
    notify_assignees(tx, incident, reached.users, memo)
    if incident.urgency != "high":
        return reached.users  # PagerDuty: low-urgency incidents never escalate
    if not reached.users and hops < escalation_policies.levels(policy):
        log.info("escalation.nobody_on_call", incident=incident.id, level=level)
        step(tx, incident, policy, level, loop, memo, hops=hops + 1)
        return []
    payload = {"level": level, "loop": loop}
    timers.schedule_in(tx, ESCALATE, incident.id, rule.escalation_delay_in_minutes * 60, payload)
    return reached.users


def step(
    tx: Tx,
    incident: Incident,
    policy: EscalationPolicy,
    level: int,
    loop: int,
    memo: Memo,
    *,
    hops: int = 0,
) -> None:
    """Move ``incident`` on from ``(level, loop)``: the next level, the first again, or stay."""
    if level < len(policy.rules):
        kind, new_level, new_loop = "escalate_log_entry", level + 1, loop
        summary = f"Escalated to level {new_level}"
    elif loop < policy.num_loops:
        kind, new_level, new_loop = "repeat_escalation_path_log_entry", 1, loop + 1
        summary = f"Repeated escalation path (loop {new_loop} of {policy.num_loops})"
    else:
        _log(tx, incident, "exhaust_escalation_path_log_entry", "Escalation path exhausted",
             {"escalation_level": level, "escalation_loop": loop})  # fmt: skip
        log.info("escalation.exhausted", incident=incident.id, policy=policy.id)
        return
    _log(tx, incident, kind, summary,
         {"escalation_level": new_level, "escalation_loop": new_loop,
          "escalation_policy": {"id": policy.id, "name": policy.name}})  # fmt: skip
    enter_level(tx, incident, policy, new_level, new_loop, memo, channel="timeout", hops=hops)
    webhook_events.produce_escalated(tx, incident)
    log.info("incident.escalated", incident=incident.id, level=new_level, loop=new_loop)


def _log(tx: Tx, incident: Incident, kind: str, summary: str, details: dict[str, Any]) -> None:
    tx.insert_log_entry(
        kind,
        service_id=incident.service_id,
        integration_id=None,
        incident_id=incident.id,
        agent_type="system",
        summary=summary,
        details={"channel": "timeout", **details},
    )


def policy_of(tx: Tx, incident: Incident, memo: Memo | None = None) -> EscalationPolicy | None:
    """The policy ``incident`` follows: the one it started on while that exists, else its
    service's (``None``: neither has levels)."""
    memo = memo or Memo()
    state = tx.incident_escalation(incident.id)
    policy = tx.escalation_policy(state[0]) if state else None
    policy = policy or _policy(tx, incident.service_id, memo)
    return policy if policy is not None and policy.rules else None


def _current(tx: Tx, incident: Incident, memo: Memo) -> tuple[EscalationPolicy, int, int] | None:
    """The incident's policy, level and loop (the level kept within a policy that shrank)."""
    state = tx.incident_escalation(incident.id)
    if state is None:
        return None
    policy = policy_of(tx, incident, memo)
    if policy is None:
        return None
    _, level, loop = state
    return policy, min(level, len(policy.rules)), min(loop, policy.num_loops)


def escalate(tx: Tx, timer: Timer) -> None:
    """The ``escalate`` timer: a triggered incident still at the timer's level moves on."""
    incident = tx.incident(timer.incident_id or "")
    if incident is None or incident.status != "triggered":
        return
    memo = Memo()
    current = _current(tx, incident, memo)
    if current is None:
        return
    policy, level, loop = current
    if (level, loop) != (timer.payload.get("level"), timer.payload.get("loop")):
        return  # moved since (reassigned): this timer's step is not the incident's
    step(tx, incident, policy, level, loop, memo)


def notify_due(tx: Tx, timer: Timer) -> None:
    """The ``notify`` timer: a delayed notification rule, if its user is still assigned."""
    incident = tx.incident(timer.incident_id or "")
    if incident is None or incident.status != "triggered":
        return
    user_id = str(timer.payload.get("user_id") or "")
    assigned = {u for u, _, _ in tx.incident_assignees([incident.id]).get(incident.id, [])}
    user = tx.user(user_id)
    if user is None or user_id not in assigned:
        return
    send(tx, incident, user, str(timer.payload.get("contact_method_id") or ""))


def restart(tx: Tx, incident: Incident, memo: Memo | None = None) -> None:
    """Back to triggered (acknowledgement timeout, snooze's end): notify the assignees again
    and restart the current level's delay; an incident nobody holds re-enters its level."""
    memo = memo or Memo()
    current = _current(tx, incident, memo)
    if current is None:
        return
    policy, level, loop = current
    assigned = [
        user
        for user_id, _, _ in tx.incident_assignees([incident.id]).get(incident.id, [])
        if (user := memo.user(tx, user_id)) is not None
    ]
    if not assigned:
        enter_level(tx, incident, policy, level, loop, memo, channel="timeout")
        return
    timers.cancel(tx, incident.id, _ACTIVE)
    notify_assignees(tx, incident, assigned, memo)
    restart_delay(tx, incident, memo)


def restart_delay(tx: Tx, incident: Incident, memo: Memo | None = None) -> None:
    """A high-urgency incident's current level starts its delay again from now (its pending
    ``escalate`` timer replaced): after a return to triggered or a reassignment."""
    timers.cancel(tx, incident.id, (ESCALATE,))
    current = _current(tx, incident, memo or Memo())
    if current is None or incident.urgency != "high":
        return
    policy, level, loop = current
    delay = policy.rules[level - 1].escalation_delay_in_minutes * 60
    timers.schedule_in(tx, ESCALATE, incident.id, delay, {"level": level, "loop": loop})


timers.register(ESCALATE, escalate)
timers.register(NOTIFY, notify_due)
timers.register(PAGE, page_due, may_wait=True)
# First: the webhooks' producer then describes a new incident with its assignees.
outbox.register_producer(on_changes, first=True)

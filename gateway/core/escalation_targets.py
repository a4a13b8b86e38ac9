"""Who a level of an escalation policy reaches, and how each of them is notified.

Two questions the engine (:mod:`gateway.core.escalation`) asks at every level:

- :func:`resolve` — the users an escalation rule assigns right now: a user target is that
  user; a schedule target is whoever is on call there at this instant (nobody: noted, the
  level may still reach its other targets); ``round_robin`` takes one target in turn,
  the rule's turn stored so consecutive incidents go to consecutive targets;
- :func:`notify_assignees` — the users' notification rules for the incident's urgency: a
  rule without delay notifies in this transaction, a later one is a ``notify`` timer.

Both read a level's people in one query each (the users; their rules with their contact
methods), and a level's notifications are written in one savepoint, not one per person:
on the ingest path each statement is paid per event.

A :class:`Memo` lives for one job: an alert storm opens many incidents in one job, and
they all read the same policy, schedules and notification rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import structlog

from gateway.clock import parse_iso
from gateway.core import notifications, schedules, timers
from gateway.domain import (
    ContactMethod,
    EscalationPolicy,
    EscalationRule,
    Incident,
    NotificationRule,
    User,
)
from gateway.errors import NotFound
from gateway.store import Tx

__all__ = ["NOTIFY", "Memo", "Reached", "notify_assignees", "resolve", "send"]

log = structlog.get_logger("gateway.escalation")

#: The timer kind of a notification rule with a start delay.
NOTIFY: Final = "notify"
ROUND_ROBIN: Final = "round_robin"


#: A notification rule with its contact method (``None``: the method is gone).
Plan = tuple[NotificationRule, ContactMethod | None]


@dataclass
class Memo:
    """What one job has read already (policies per service, users, notification rules)."""

    policies: dict[str, EscalationPolicy | None] = field(default_factory=dict)
    users: dict[str, User | None] = field(default_factory=dict)
    plans: dict[tuple[str, str], list[Plan]] = field(default_factory=dict)

    def user(self, tx: Tx, user_id: str) -> User | None:
        """A live user, read once per job."""
        if user_id not in self.users:
            self.users[user_id] = tx.user(user_id)
        return self.users[user_id]

    def read_users(self, tx: Tx, user_ids: list[str]) -> None:
        """Read the users of ``user_ids`` not read yet, in one query."""
        wanted = [u for u in dict.fromkeys(user_ids) if u not in self.users]
        if len(wanted) > 1:
            found = tx.users_by_id(wanted)
            for user_id in wanted:
                self.users[user_id] = found.get(user_id)

    def notification_plans(self, tx: Tx, user_ids: list[str], urgency: str) -> list[list[Plan]]:
        """Each user's rules for ``urgency`` with their contact methods, read once per job
        (one query for all those not read yet)."""
        wanted = [u for u in dict.fromkeys(user_ids) if (u, urgency) not in self.plans]
        if wanted:
            for user_id, plan in tx.notification_plans(wanted, urgency).items():
                self.plans[(user_id, urgency)] = plan
        return [self.plans[(u, urgency)] for u in user_ids]

    def notification_rules(self, tx: Tx, user_id: str, urgency: str) -> list[NotificationRule]:
        """A user's assignment rules for ``urgency``, read once per job (their
        status-change rules are :mod:`gateway.core.status_notifications`' business)."""
        return [rule for rule, _ in self.notification_plans(tx, [user_id], urgency)[0]]


@dataclass(frozen=True, slots=True)
class Reached:
    """Who a level assigns, and the schedule targets that had nobody on call."""

    users: list[User]
    nobody_on_call: list[str]  # schedule names


def _target_users(tx: Tx, memo: Memo, kind: str, target_id: str) -> tuple[User | None, str | None]:
    """``(user, None)`` or ``(None, schedule name)`` when a schedule has nobody on call."""
    if kind == "user":
        return memo.user(tx, target_id), None
    try:
        user_id = schedules.on_call_user(tx, target_id, parse_iso(tx.now))
    except NotFound:  # deleted under the policy: as good as nobody on call
        user_id = None
    if user_id is None:
        schedule = tx.schedule(target_id)
        return None, schedule.name if schedule is not None else target_id
    return memo.user(tx, user_id), None


def resolve(tx: Tx, rule: EscalationRule, memo: Memo) -> Reached:
    """The users ``rule`` assigns now (each once, in target order)."""
    users: dict[str, User] = {}
    nobody: list[str] = []
    targets = list(rule.targets)
    if rule.assignment_strategy == ROUND_ROBIN and targets:
        # One target, the rule's next; one with nobody on call passes the turn on.
        turn = tx.rule_turn(rule.id)
        for step in range(len(targets)):
            index = (turn + step) % len(targets)
            user, schedule = _target_users(tx, memo, targets[index].type, targets[index].id)
            if schedule is not None:
                nobody.append(schedule)
            if user is not None:
                users[user.id] = user
                tx.set_rule_turn(rule.id, (index + 1) % len(targets))
                break
        return Reached(list(users.values()), nobody)
    memo.read_users(tx, [t.id for t in targets if t.type == "user"])
    for target in targets:
        user, schedule = _target_users(tx, memo, target.type, target.id)
        if schedule is not None:
            nobody.append(schedule)
        if user is not None:
            users.setdefault(user.id, user)
    return Reached(list(users.values()), nobody)


def notify_assignees(tx: Tx, incident: Incident, users: list[User], memo: Memo) -> int:
    """Notify each of ``users`` of ``incident`` by their rules for its urgency; return the
    rules used.

    A rule without delay notifies now, in ``tx``; a later one becomes a ``notify`` timer
    (the acknowledgement cancels it, an escalation or reassignment away from the user
    makes it do nothing).
    """
    plans = memo.notification_plans(tx, [u.id for u in users], incident.urgency)
    now: list[tuple[User, str, ContactMethod | None]] = []
    used = 0
    for user, plan in zip(users, plans, strict=True):
        used += len(plan)
        for rule, method in plan:
            if rule.start_delay_in_minutes <= 0:
                now.append((user, rule.contact_method_id, method))
            else:
                payload = {"user_id": user.id, "contact_method_id": rule.contact_method_id}
                timers.schedule_in(
                    tx, NOTIFY, incident.id, rule.start_delay_in_minutes * 60, payload=payload
                )
    if len(now) > 1:
        # One savepoint for the lot; should one fail, they are written again one by one,
        # each in its own, so only the failing one is lost.
        try:
            with tx.outbox_savepoint():
                for user, method_id, method in now:
                    _notify(tx, incident, user, method_id, method)
            return used
        except Exception as exc:  # retried one by one below, where each failure is logged
            log.info("notification.batch_retried", incident=incident.id, error=type(exc).__name__)
    for user, method_id, method in now:
        _send(tx, incident, user, method_id, method)
    return used


def _notify(
    tx: Tx,
    incident: Incident,
    user: User,
    method_id: str,
    method: ContactMethod | None,
    change: Mapping[str, Any] | None = None,
) -> bool:
    if method is None or method.user_id != user.id:
        log.warning(
            "notification.contact_method_gone", incident=incident.id, user=user.id,
            contact_method=method_id,
        )  # fmt: skip
        return False
    done = notifications.notify(
        tx,
        incident,
        notifications.NotifiedUser.of(user),
        notifications.ContactPoint.of(method),
        change,
    )
    return done is not None


def send(
    tx: Tx,
    incident: Incident,
    user: User,
    contact_method_id: str,
    change: Mapping[str, Any] | None = None,
) -> bool:
    """One notification through one contact method; ``False`` when it could not be queued.
    ``change``: a status-change notification (:func:`gateway.core.notifications.notify`).

    A failure is the notification's alone: it is undone in its own savepoint and logged,
    and escalation goes on (PagerDuty's rule: a failed notification never stops it).
    """
    method = tx.contact_method(contact_method_id)
    return _send(tx, incident, user, contact_method_id, method, change)


def _send(
    tx: Tx,
    incident: Incident,
    user: User,
    method_id: str,
    method: ContactMethod | None,
    change: Mapping[str, Any] | None = None,
) -> bool:
    try:
        with tx.outbox_savepoint():
            return _notify(tx, incident, user, method_id, method, change)
    except Exception as exc:  # the notification's failure, never the escalation's
        log.error(
            "notification.failed", incident=incident.id, user=user.id,
            error=f"{type(exc).__name__}: {exc}"[:300],
        )  # fmt: skip
        return False

"""Escalation policies: the rules for creating, changing and deleting them, and what they say.

Pure functions over a :class:`~gateway.store.Tx` or :class:`~gateway.store.Reader`, called
alike by the REST API, the web UI, the CLI and configuration provisioning. Each write checks
everything before it changes anything (:class:`~gateway.errors.Invalid` lists every problem;
the value checks are :mod:`gateway.core.escalation_checks`).

PagerDuty's rules, kept here once:

- ``name`` is required and unique; ``num_loops`` ≥ 0; ``on_call_handoff_notifications`` is
  ``if_has_services`` (the default) or ``always``.
- A user who is a target cannot be deleted (:data:`gateway.core.users.IN_USE_CHECKS`).
- At least one rule. Each rule has 1 to 10 targets (``user_reference`` or
  ``schedule_reference`` to one that exists: :func:`target_exists`), no target twice, an
  ``escalation_rule_assignment_strategy`` (``assign_to_everyone``, the default, or
  ``round_robin``) and an ``escalation_delay_in_minutes`` ≥ 0, at least 1 when the policy
  has more than one rule or loops (the delay is then the time before the next level).
- A rule keeps its id across updates when the update names it; new rules get new ids.
- A policy that a service uses cannot be deleted (400 naming the services).
- Every service has a policy. A service created without one gets the **Default** policy
  (:func:`default_policy`, made again if it was deleted), so a configuration file and
  scripts written before policies existed keep working.
- A policy the configuration file declares (``source = 'config'``) changes only there.

What the escalation engine reads: :func:`policy_for_service`, :func:`rule_at` and
:func:`levels`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import structlog

from gateway.core import users
from gateway.core.escalation_checks import (
    RuleInput,
    check_delays,
    check_description,
    check_handoff,
    check_loops,
    check_name,
    check_rules,
    rule_input,
    target_exists,
)
from gateway.core.inputs import CONFIG, SYSTEM, UNSET, Agent, Unset
from gateway.core.ownership import DECLARED
from gateway.domain import (
    EscalationPolicy,
    EscalationRule,
    EscalationTarget,
    Service,
    User,
)
from gateway.errors import Invalid, NotFound, Refused
from gateway.ids import new_object_id
from gateway.store import Reader, Tx
from gateway.store.escalation_policies import RuleRow

__all__ = [
    "DEFAULT_POLICY_ID",
    "PolicyInput",
    "PolicyPatch",
    "RuleInput",
    "create_policy",
    "default_policy",
    "delete_policy",
    "find_policy",
    "get_policy",
    "levels",
    "list_policies",
    "policy_for_service",
    "policy_id_of",
    "policy_problem",
    "refuse_declared_policy",
    "rule_at",
    "rule_input",
    "target_exists",
    "target_name",
    "targeting_policies",
    "update_policy",
]

log = structlog.get_logger("gateway.escalation_policies")

#: The policy the upgrade made (the escalation policies migration) and a service without one gets.
DEFAULT_POLICY_ID: Final = "PDEFALT"
DEFAULT_POLICY_NAME: Final = "Default"
SORTS: Final = ("name", "name:asc", "name:desc")


@dataclass(frozen=True, slots=True)
class PolicyInput:
    """A new policy, values unchecked."""

    name: object
    rules: Sequence[RuleInput] | object
    description: object = None
    num_loops: object = 0
    on_call_handoff_notifications: object = None


@dataclass(frozen=True, slots=True)
class PolicyPatch:
    """Changes to a policy; :data:`UNSET` fields are left as they are (``rules`` as a whole)."""

    name: object | Unset = UNSET
    description: object | Unset = UNSET
    num_loops: object | Unset = UNSET
    on_call_handoff_notifications: object | Unset = UNSET
    rules: Sequence[RuleInput] | object | Unset = UNSET


def target_name(reader: Reader, target: EscalationTarget) -> str:
    """What the pages call a target: the user's or schedule's name, else its id."""
    if target.type == "user":
        user = reader.user(target.id, deleted=True)
        return user.name if user is not None else target.id
    schedule = reader.schedule(target.id)
    return schedule.name if schedule is not None else target.id


def targeting_policies(reader: Reader, target_type: str, target_id: str) -> list[str]:
    """The names of the policies with this user or schedule as a target (then it may not
    be deleted: the policy would page nobody at that level)."""
    return [name for _, name in reader.policies_targeting(target_type, target_id)]


def _user_in_use(reader: Reader, user: User) -> str | None:
    names = targeting_policies(reader, "user", user.id)
    if not names:
        return None
    return (
        f"{user.name} is a target of the escalation policies {', '.join(names)}; "
        "take them off those policies first"
    )


# Deleting a user asks every aggregate that names users (gateway.core.users).
users.IN_USE_CHECKS.append(_user_in_use)


# -- reads ----------------------------------------------------------------------------------------


def get_policy(reader: Reader, policy_id: str) -> EscalationPolicy:
    """The policy ``policy_id``, or :class:`NotFound` ``Escalation Policy``."""
    found = reader.escalation_policy(policy_id) if isinstance(policy_id, str) else None
    if found is None:
        raise NotFound("Escalation Policy", policy_id)
    return found


def find_policy(reader: Reader, id_or_name: str) -> EscalationPolicy:
    """A policy by id, else by exact name (the CLI and the file name policies either way)."""
    found = reader.escalation_policy(id_or_name) or reader.escalation_policy_by_name(id_or_name)
    if found is None:
        raise NotFound("Escalation Policy", id_or_name)
    return found


def list_policies(
    reader: Reader,
    *,
    query: str | None = None,
    sort_by: str | None = None,
    user_ids: Sequence[str] = (),
) -> list[EscalationPolicy]:
    """Policies whose name contains ``query`` (case-blind), optionally only those with one
    of ``user_ids`` as a target, sorted by name (``sort_by``: ``name``, ``name:desc``)."""
    sort = sort_by or "name"
    if sort not in SORTS:
        raise Invalid([f"sort_by must be one of {', '.join(SORTS)}"])
    found = reader.escalation_policies(target_ids=list(user_ids))
    if user_ids:  # the store matched ids of any type; keep user targets only
        wanted = set(user_ids)
        found = [p for p in found if any(t.type == "user" and t.id in wanted for t in _targets(p))]
    if query:
        needle = query.casefold()
        found = [p for p in found if needle in p.name.casefold()]
    return sorted(found, key=lambda p: (p.name.casefold(), p.id), reverse=sort == "name:desc")


def policy_problem(reader: Reader, policy_id: object) -> str | None:
    """Why ``policy_id`` cannot be a service's escalation policy; ``None`` when it can."""
    if not isinstance(policy_id, str) or not policy_id:
        return "escalation_policy must reference an escalation policy (id)"
    if reader.escalation_policy(policy_id) is None:
        return f"escalation_policy {policy_id} does not exist"
    return None


# -- what the escalation engine reads ------------------------------------------------------------


def policy_id_of(service: Service) -> str:
    """The id of the policy ``service`` follows: its own, or the default policy."""
    return service.escalation_policy_id or DEFAULT_POLICY_ID


def policy_for_service(reader: Reader, service_id: str) -> EscalationPolicy:
    """The policy of the live service ``service_id`` (:class:`NotFound` for either)."""
    service = reader.service(service_id)
    if service is None:
        raise NotFound("Service", service_id)
    return get_policy(reader, policy_id_of(service))


def levels(policy: EscalationPolicy) -> int:
    """How many levels an incident passes through: rules * (1 + ``num_loops``)."""
    return len(policy.rules) * (1 + policy.num_loops)


def rule_at(policy: EscalationPolicy, level: int) -> EscalationRule | None:
    """The rule at escalation ``level`` (1-based, counting loops), ``None`` past the last."""
    if level < 1 or level > levels(policy):
        return None
    return policy.rules[(level - 1) % len(policy.rules)]


def _targets(policy: EscalationPolicy) -> list[EscalationTarget]:
    return [t for rule in policy.rules for t in rule.targets]


# -- writes ---------------------------------------------------------------------------------------


def default_policy(tx: Tx) -> EscalationPolicy:
    """The Default policy, made again (with no rules) if someone deleted it."""
    found = tx.escalation_policy(DEFAULT_POLICY_ID)
    if found is not None:
        return found
    name = DEFAULT_POLICY_NAME
    if tx.escalation_policy_by_name(name) is not None:  # another policy took the name
        name = f"{DEFAULT_POLICY_NAME} ({DEFAULT_POLICY_ID})"
    tx.insert_escalation_policy(
        DEFAULT_POLICY_ID, name=name, description="For services created without a policy"
    )
    log.info("escalation_policy.created", policy_id=DEFAULT_POLICY_ID, name=name, by="system")
    return get_policy(tx, DEFAULT_POLICY_ID)


def create_policy(
    tx: Tx, data: PolicyInput, *, by: Agent = SYSTEM, policy_id: str | None = None
) -> EscalationPolicy:
    """Make a policy with its rules; :class:`Invalid` lists every problem."""
    errors: list[str] = []
    loops = check_loops(data.num_loops, errors)
    columns = {
        "name": check_name(tx, data.name, None, errors),
        "description": check_description(data.description, errors),
        "num_loops": loops,
        "on_call_handoff_notifications": check_handoff(data.on_call_handoff_notifications, errors),
    }
    rules = check_rules(tx, data.rules, loops, {}, errors)
    if errors:
        raise Invalid(errors)
    new_id = policy_id or new_object_id()
    tx.insert_escalation_policy(new_id, **columns)
    tx.replace_escalation_rules(new_id, rules)
    log.info("escalation_policy.created", policy_id=new_id, rules=len(rules), by=by.type)
    return get_policy(tx, new_id)


def update_policy(
    tx: Tx, policy_id: str, patch: PolicyPatch, *, by: Agent = SYSTEM
) -> EscalationPolicy:
    """Change a policy; ``rules`` given replace them all (named rule ids are kept)."""
    policy = get_policy(tx, policy_id)
    errors: list[str] = []
    columns: dict[str, Any] = {}
    if not isinstance(patch.name, Unset):
        columns["name"] = check_name(tx, patch.name, policy.id, errors)
    if not isinstance(patch.description, Unset):
        columns["description"] = check_description(patch.description, errors)
    if not isinstance(patch.num_loops, Unset):
        columns["num_loops"] = check_loops(patch.num_loops, errors)
    if not isinstance(patch.on_call_handoff_notifications, Unset):
        columns["on_call_handoff_notifications"] = check_handoff(
            patch.on_call_handoff_notifications, errors
        )
    loops = columns.get("num_loops", policy.num_loops)
    rules: list[RuleRow] | None = None
    if not isinstance(patch.rules, Unset):
        rules = check_rules(tx, patch.rules, loops, {r.id: r for r in policy.rules}, errors)
    elif "num_loops" in columns and policy.rules:  # the delays must still fit the loops
        check_delays([r.escalation_delay_in_minutes for r in policy.rules], loops, errors)
    if errors:
        raise Invalid(errors)
    current = {
        "name": policy.name,
        "description": policy.description,
        "num_loops": policy.num_loops,
        "on_call_handoff_notifications": policy.on_call_handoff_notifications,
    }
    changed = {k: v for k, v in columns.items() if current[k] != v}
    rules_changed = rules is not None and [
        (r.id, r.escalation_delay_in_minutes, r.assignment_strategy, list(r.targets))
        for r in policy.rules
    ] != [(i, d, s, list(t)) for i, d, s, t in rules]
    _refuse_declared(policy, [*changed, *(["escalation_rules"] if rules_changed else [])], by)
    if changed:
        tx.update_escalation_policy(policy.id, **changed)
    if rules is not None and rules_changed:
        tx.replace_escalation_rules(policy.id, rules)
    if changed or rules_changed:
        log.info(
            "escalation_policy.updated",
            policy_id=policy.id,
            fields=sorted([*changed, *(["escalation_rules"] if rules_changed else [])]),
            by=by.type,
        )
    return get_policy(tx, policy.id)


def delete_policy(tx: Tx, policy_id: str, *, by: Agent = SYSTEM) -> None:
    """Delete a policy no service uses (:class:`Invalid` naming the services otherwise)."""
    policy = get_policy(tx, policy_id)
    _refuse_declared(policy, ["deleted"], by)
    users = tx.policy_services([policy.id])[policy.id]
    if users:
        names = ", ".join(f"{name} ({sid})" for sid, name in users)
        raise Invalid(
            [
                f"Escalation policy {policy.name!r} is used by {len(users)} service(s): "
                f"{names}; give them another escalation policy first"
            ]
        )
    tx.delete_escalation_policy(policy.id)
    log.info("escalation_policy.deleted", policy_id=policy.id, by=by.type)


def refuse_declared_policy(reader: Reader, service_id: str, service_name: str, by: Agent) -> None:
    """Refuse changing a service's policy where the configuration file sets it."""
    if by.type == CONFIG.type or not reader.service_policy_declared(service_id):
        return
    raise Refused(
        DECLARED,
        code=2001,
        errors=[
            f"Service {service_name!r} has its escalation policy set in the configuration "
            "file; change it there (refused: escalation_policy)"
        ],
    )


def _refuse_declared(policy: EscalationPolicy, changes: Sequence[str], by: Agent) -> None:
    """The file owns the policies it declares (:mod:`gateway.core.ownership`'s rule)."""
    if not changes or by.type == CONFIG.type or policy.source != "config":
        return
    raise Refused(
        DECLARED,
        code=2001,
        errors=[
            f"Escalation policy {policy.name!r} is declared in the configuration file; "
            f"change it there (refused: {', '.join(sorted(set(changes)))})"
        ],
    )

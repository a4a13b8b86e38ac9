"""Declarative escalation policies from the configuration, through the policy rules.

Each ``[[escalation_policies]]`` block is matched to a policy by its ``name``; an
unmatched block creates one, a matched one is made what the block says (its rules keep
their ids by position, so an unchanged file changes nothing). As for services
(:mod:`gateway.core.provision`), the file owns what it declares (``source = 'config'``:
REST, the UI and the CLI refuse to change or delete it), releases what it no longer
declares, and leaves runtime policies alone. A rule's ``users`` are named by id or email
and its ``schedules`` by id or name (:func:`find_target`), so a file can declare a user
and page them in the same edit.

A service block's ``escalation_policy`` names a policy by name or id
(:func:`service_policy`); the file then owns that service's policy. Without it, runtime
edits own it and a new service gets the Default policy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from gateway.core.escalation_policies import (
    PolicyInput,
    PolicyPatch,
    RuleInput,
    create_policy,
    find_policy,
    update_policy,
)
from gateway.core.inputs import Agent
from gateway.core.ownership import apply_declared
from gateway.domain import EscalationPolicy
from gateway.errors import ConfigError, NotFound
from gateway.store import Reader, Tx

if TYPE_CHECKING:
    from gateway.config import EscalationPolicyConfig, EscalationRuleConfig

__all__ = ["find_target", "provision_policies", "service_policy"]


def find_target(reader: Reader, kind: Literal["user", "schedule"], handle: str) -> str:
    """The id of the user (by id or email) or schedule (by id, or its name when one schedule
    has it) ``handle`` names; the handle itself when nothing matches (the policy rules then
    refuse it, naming it)."""
    if kind == "user":
        user = reader.user(handle) or reader.user_by_email(handle)
        return user.id if user is not None else handle
    if reader.schedule(handle) is not None:
        return handle
    named = reader.schedules_by_name(handle)
    return named[0].id if len(named) == 1 else handle


def provision_policies(
    tx: Tx, blocks: tuple[EscalationPolicyConfig, ...], by: Agent, problems: list[ConfigError]
) -> None:
    """Create or update every block's policy; refusals go to ``problems``."""
    tx.set_declared_policies(apply_declared(blocks, lambda block: _apply(tx, block, by), problems))


def service_policy(reader: Reader, handle: str, key: str, line: int | None) -> str:
    """The id of the policy a service block names (by name, else id), or a ConfigError."""
    try:
        return find_policy(reader, handle).id
    except NotFound:
        pass
    raise ConfigError(f"no escalation policy is named {handle!r}", key=key, line=line)


def _apply(tx: Tx, block: EscalationPolicyConfig, by: Agent) -> str:
    existing = tx.escalation_policy_by_name(block.name)
    rules = [_rule(tx, rule, existing, n) for n, rule in enumerate(block.rules)]
    if existing is None:
        data = PolicyInput(
            name=block.name,
            rules=rules,
            description=block.description,
            num_loops=block.num_loops,
            on_call_handoff_notifications=block.on_call_handoff_notifications,
        )
        return create_policy(tx, data, by=by).id
    patch = PolicyPatch(
        description=block.description,
        num_loops=block.num_loops,
        on_call_handoff_notifications=block.on_call_handoff_notifications
        or existing.on_call_handoff_notifications,
        rules=rules,
    )
    return update_policy(tx, existing.id, patch, by=by).id


def _rule(
    reader: Reader, rule: EscalationRuleConfig, existing: EscalationPolicy | None, n: int
) -> RuleInput:
    targets = [("user", find_target(reader, "user", u)) for u in rule.users]
    targets += [("schedule", find_target(reader, "schedule", s)) for s in rule.schedules]
    same = existing.rules[n].id if existing is not None and n < len(existing.rules) else None
    return RuleInput(
        escalation_delay_in_minutes=rule.escalation_delay_in_minutes,
        targets=targets,
        assignment_strategy=rule.assignment_strategy,
        id=same,
    )

"""The value checks of escalation policies: each reads one field a face gave and appends
what is wrong to ``errors`` (all problems found at once), returning the value to store.

:mod:`gateway.core.escalation_policies` holds the rules that use them; here are the checks
alone, so each is a few lines to read (as :mod:`gateway.core.webhook_checks` is for
webhooks). :func:`target_exists` is the one place a policy asks whether a user or a
schedule exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from gateway.domain import ASSIGNMENT_STRATEGIES, EscalationRule, EscalationTarget
from gateway.ids import new_object_id
from gateway.store import Reader
from gateway.store.escalation_policies import RuleRow

__all__ = [
    "HANDOFFS",
    "MAX_DELAY",
    "MAX_LOOPS",
    "MAX_NAME",
    "MAX_TARGETS",
    "TARGET_TYPES",
    "RuleInput",
    "check_delays",
    "check_description",
    "check_handoff",
    "check_loops",
    "check_name",
    "check_rules",
    "rule_input",
    "target_exists",
]

MAX_NAME: Final = 255
HANDOFFS: Final = ("if_has_services", "always")
MAX_TARGETS: Final = 10
#: Typo guards, as schedules have for turns: a delay past a year (in minutes) or more than a
#: hundred repeats is no policy anyone pages by, and bigger numbers overflow the database's
#: integers and the timers' date arithmetic (a 500 instead of a 400).
MAX_DELAY: Final = 525_600
MAX_LOOPS: Final = 100
#: PagerDuty's target types, each with the stored type it means.
TARGET_TYPES: Final = {
    "user_reference": "user",
    "user": "user",
    "schedule_reference": "schedule",
    "schedule": "schedule",
}


@dataclass(frozen=True, slots=True)
class RuleInput:
    """One rule as a face read it (values unchecked); ``targets`` are ``(type, id)`` pairs."""

    escalation_delay_in_minutes: object
    targets: object
    assignment_strategy: object = None
    id: object = None


def rule_input(data: Mapping[str, Any]) -> RuleInput:
    """A rule from PagerDuty's JSON shape (REST and the configuration file's tables)."""
    raw = data.get("targets")
    targets: object = raw
    if isinstance(raw, list):
        targets = [
            (t.get("type"), t.get("id")) if isinstance(t, Mapping) else (None, None) for t in raw
        ]
    return RuleInput(
        escalation_delay_in_minutes=data.get("escalation_delay_in_minutes"),
        targets=targets,
        assignment_strategy=data.get("escalation_rule_assignment_strategy"),
        id=data.get("id"),
    )


# -- what exists ----------------------------------------------------------------------------------


def target_exists(reader: Reader, target_type: str, target_id: str) -> bool:
    """Whether the user or schedule ``target_id`` exists: the one check every face relies on."""
    if target_type == "user":
        return reader.user(target_id) is not None
    return reader.schedule(target_id) is not None


def check_name(reader: Reader, value: object, own_id: str | None, errors: list[str]) -> str:
    if not isinstance(value, str) or not value.strip():
        errors.append("name is required")
        return ""
    name = value.strip()
    if len(name) > MAX_NAME:
        errors.append(f"name must be at most {MAX_NAME} characters")
    other = reader.escalation_policy_by_name(name)
    if other is not None and other.id != own_id:
        errors.append(f"an escalation policy is already named {name!r}")
    return name


def check_description(value: object, errors: list[str]) -> str | None:
    if value is None or isinstance(value, str):
        return value
    errors.append("description must be a string")
    return None


def check_loops(value: object, errors: list[str]) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LOOPS:
        errors.append(f"num_loops must be an integer from 0 to {MAX_LOOPS}")
        return 0
    return value


def check_handoff(value: object, errors: list[str]) -> str:
    if value is None:
        return HANDOFFS[0]
    if value not in HANDOFFS:
        errors.append(f"on_call_handoff_notifications must be one of {', '.join(HANDOFFS)}")
        return HANDOFFS[0]
    return str(value)


def check_rules(
    reader: Reader,
    value: object,
    loops: int,
    existing: Mapping[str, EscalationRule],
    errors: list[str],
) -> list[RuleRow]:
    """Check every rule; the rows to store (ids kept when an existing rule is named)."""
    if not isinstance(value, (list, tuple)) or not value:
        errors.append("escalation_rules must list at least one rule")
        return []
    rows: list[RuleRow] = []
    used: set[str] = set()
    delays: list[int] = []
    for n, rule in enumerate(value, start=1):
        where = f"escalation_rules[{n}]"
        if not isinstance(rule, RuleInput):
            errors.append(f"{where} must be an object")
            continue
        delay = rule.escalation_delay_in_minutes
        if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_DELAY:
            errors.append(
                f"{where}.escalation_delay_in_minutes must be an integer from 0 to {MAX_DELAY} "
                "(a year)"
            )
            delay = 0
        delays.append(delay)
        strategy = rule.assignment_strategy or ASSIGNMENT_STRATEGIES[0]
        if strategy not in ASSIGNMENT_STRATEGIES:
            errors.append(
                f"{where}.escalation_rule_assignment_strategy must be one of "
                f"{', '.join(ASSIGNMENT_STRATEGIES)}"
            )
        targets = _rule_targets(reader, where, rule.targets, errors)
        rule_id = rule.id if isinstance(rule.id, str) and rule.id in existing else None
        if rule_id is None or rule_id in used:
            rule_id = new_object_id()
        used.add(rule_id)
        rows.append((rule_id, delay, str(strategy), targets))
    check_delays(delays, loops, errors)
    return rows


def check_delays(delays: Sequence[int], loops: int, errors: list[str]) -> None:
    """PagerDuty's floor: a delay leads somewhere when there is another rule or a loop."""
    if len(delays) < 2 and loops == 0:
        return
    for n, delay in enumerate(delays, start=1):
        if delay < 1:
            errors.append(
                f"escalation_rules[{n}].escalation_delay_in_minutes must be at least 1 when "
                "the policy has more than one rule or repeats (num_loops)"
            )


def _rule_targets(
    reader: Reader, where: str, value: object, errors: list[str]
) -> tuple[EscalationTarget, ...]:
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_TARGETS:
        errors.append(f"{where}.targets must list 1 to {MAX_TARGETS} users or schedules")
        return ()
    found: list[EscalationTarget] = []
    for m, pair in enumerate(value, start=1):
        kind, target_id = pair if isinstance(pair, tuple) and len(pair) == 2 else (None, None)
        stored = TARGET_TYPES.get(kind) if isinstance(kind, str) else None
        if stored is None:
            errors.append(f"{where}.targets[{m}].type must be user_reference or schedule_reference")
            continue
        if not isinstance(target_id, str) or not target_id:
            errors.append(f"{where}.targets[{m}].id must be a string")
            continue
        if not target_exists(reader, stored, target_id):
            errors.append(f"{where}.targets[{m}]: {stored} {target_id} does not exist")
            continue
        target = EscalationTarget("user" if stored == "user" else "schedule", target_id)
        if target in found:
            errors.append(f"{where}.targets[{m}]: {stored} {target_id} is listed twice")
            continue
        found.append(target)
    return tuple(found)

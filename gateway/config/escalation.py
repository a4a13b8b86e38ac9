"""The parser of ``[[escalation_policies]]``: escalation policies the file declares.

Only shapes and types are checked here (a typo fails at start-up with its line); the
policy rules (targets that exist, delays, 1 to 10 targets) are checked by
:mod:`gateway.core.escalation_policies` when provisioning applies the block, with the
same line. Each block is matched by its ``name``; each rule lists ``users`` (by id or
email) and ``schedules`` (by id or name).
"""

from __future__ import annotations

from typing import Any

from gateway.config.reader import Reader
from gateway.config.settings import EscalationPolicyConfig, EscalationRuleConfig

_KEYS = {"name", "description", "num_loops", "on_call_handoff_notifications", "escalation_rules"}
_RULE_KEYS = {
    "escalation_delay_in_minutes",
    "escalation_rule_assignment_strategy",
    "users",
    "schedules",
}


def escalation_policy_configs(
    r: Reader, data: dict[str, Any]
) -> tuple[EscalationPolicyConfig, ...]:
    """Every ``[[escalation_policies]]`` block; names are unique (the file's handle)."""
    blocks: list[EscalationPolicyConfig] = []
    names: dict[str, str] = {}
    for i, item in enumerate(r.array(data, "escalation_policies")):
        key = f"escalation_policies[{i}]"
        r.only(item, _KEYS, f"{key}.")
        name = (r.string(item, "name", f"{key}.name", required=True) or "").strip()
        if name in names:
            raise r.error(f"another block has the same name: {names[name]}", key)
        names[name] = key
        rules = []
        for j, rule in enumerate(r.array(item, "escalation_rules", f"{key}.")):
            where = f"{key}.escalation_rules[{j}]"
            r.only(rule, _RULE_KEYS, f"{where}.")
            rules.append(
                EscalationRuleConfig(
                    escalation_delay_in_minutes=r.integer(
                        rule, "escalation_delay_in_minutes", f"{where}.escalation_delay_in_minutes"
                    )
                    or 0,
                    assignment_strategy=r.string(
                        rule,
                        "escalation_rule_assignment_strategy",
                        f"{where}.escalation_rule_assignment_strategy",
                    ),
                    users=r.strings(rule, "users", f"{where}.users"),
                    schedules=r.strings(rule, "schedules", f"{where}.schedules"),
                    key=where,
                    line=r.lines.get(where),
                )
            )
        blocks.append(
            EscalationPolicyConfig(
                name=name,
                description=r.string(item, "description", f"{key}.description"),
                num_loops=r.integer(item, "num_loops", f"{key}.num_loops") or 0,
                on_call_handoff_notifications=r.string(
                    item, "on_call_handoff_notifications", f"{key}.on_call_handoff_notifications"
                ),
                rules=tuple(rules),
                key=key,
                line=r.lines.get(key),
            )
        )
    return tuple(blocks)

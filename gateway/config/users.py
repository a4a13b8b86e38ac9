"""The parser of ``[[users]]``: the people the file declares, with their contact details.

Shapes, types and references within the file are checked here (a typo fails at start-up
with its line); the user rules (email address, time zone, role, contact method addresses)
are checked by :mod:`gateway.core.users` and :mod:`gateway.core.contact_methods` when
provisioning applies the block, with the same line.
"""

from __future__ import annotations

from typing import Any

from gateway.config.reader import Reader
from gateway.config.settings import ContactMethodConfig, NotificationRuleConfig, UserConfig

_KEYS = {
    "name",
    "email",
    "role",
    "time_zone",
    "description",
    "job_title",
    "contact_methods",
    "notification_rules",
}
_METHOD_KEYS = {"label", "type", "address"}
_RULE_KEYS = {"contact_method", "start_delay_in_minutes", "urgency", "type"}
_RULE_TYPES = ("assignment_notification_rule", "status_change_notification_rule")


def user_configs(r: Reader, data: dict[str, Any]) -> tuple[UserConfig, ...]:
    """Every ``[[users]]`` block; two blocks with one email address (any case) are an error."""
    blocks: list[UserConfig] = []
    emails: dict[str, str] = {}
    for i, item in enumerate(r.array(data, "users")):
        key = f"users[{i}]"
        r.only(item, _KEYS, f"{key}.")
        email = r.string(item, "email", f"{key}.email", required=True) or ""
        folded = email.strip().lower()
        if folded in emails:
            raise r.error(f"another block has the same email: {emails[folded]}", f"{key}.email")
        emails[folded] = key
        declares = "contact_methods" in item or "notification_rules" in item
        methods = _methods(r, item, key) if declares else None
        rules = _rules(r, item, key, methods or ()) if declares else None
        blocks.append(
            UserConfig(
                name=r.string(item, "name", f"{key}.name", required=True) or "",
                email=email,
                role=r.string(item, "role", f"{key}.role"),
                time_zone=r.string(item, "time_zone", f"{key}.time_zone"),
                description=r.string(item, "description", f"{key}.description"),
                job_title=r.string(item, "job_title", f"{key}.job_title"),
                contact_methods=methods,
                notification_rules=rules,
                key=key,
                line=r.lines.get(key),
            )
        )
    return tuple(blocks)


def _methods(r: Reader, item: dict[str, Any], key: str) -> tuple[ContactMethodConfig, ...]:
    methods: list[ContactMethodConfig] = []
    labels: dict[str, str] = {}
    for j, method in enumerate(r.array(item, "contact_methods", f"{key}.")):
        at = f"{key}.contact_methods[{j}]"
        r.only(method, _METHOD_KEYS, f"{at}.")
        label = r.string(method, "label", f"{at}.label", required=True) or ""
        if label in labels:
            raise r.error(f"another contact method has the label {label!r}: {labels[label]}", at)
        labels[label] = at
        methods.append(
            ContactMethodConfig(
                label=label,
                type=r.string(method, "type", f"{at}.type", default="email_contact_method") or "",
                address=r.string(method, "address", f"{at}.address", required=True) or "",
                key=at,
                line=r.lines.get(at),
            )
        )
    return tuple(methods)


def _rules(
    r: Reader, item: dict[str, Any], key: str, methods: tuple[ContactMethodConfig, ...]
) -> tuple[NotificationRuleConfig, ...]:
    labels = {m.label for m in methods}
    rules: list[NotificationRuleConfig] = []
    for j, rule in enumerate(r.array(item, "notification_rules", f"{key}.")):
        at = f"{key}.notification_rules[{j}]"
        r.only(rule, _RULE_KEYS, f"{at}.")
        label = r.string(rule, "contact_method", f"{at}.contact_method", required=True) or ""
        if label not in labels:
            known = ", ".join(sorted(labels)) or "none: add [[users.contact_methods]]"
            raise r.error(
                f"names no contact method of this user (labels: {known})", f"{at}.contact_method"
            )
        rules.append(
            NotificationRuleConfig(
                contact_method=label,
                start_delay_in_minutes=r.integer(
                    rule, "start_delay_in_minutes", f"{at}.start_delay_in_minutes", default=0
                )
                or 0,
                urgency=r.string(
                    rule, "urgency", f"{at}.urgency", default="high", choices=("high", "low")
                )
                or "high",
                key=at,
                line=r.lines.get(at),
                type=r.string(
                    rule, "type", f"{at}.type", default=_RULE_TYPES[0], choices=_RULE_TYPES
                )
                or _RULE_TYPES[0],
            )
        )
    return tuple(rules)

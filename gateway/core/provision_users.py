"""Declarative users from the configuration, through the user rules.

Each ``[[users]]`` block is matched to a live user by email address (whatever its case);
an unmatched block creates one (with PagerDuty's defaults when the block declares no
contact details), a matched one is made what the block says. As for services
(:mod:`gateway.core.provision`), the file owns what it declares (``source = 'config'``:
REST, the UI and the CLI refuse to change or delete it), releases what it no longer
declares, and leaves runtime users alone.

A block with ``contact_methods``/``notification_rules`` owns those too: its contact
methods are matched by label, its rules by contact method, delay, urgency and type; the ones the
file declared before and no longer does are deleted. Contact methods and rules added at
runtime stay, and stay editable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.core import contact_methods as cm
from gateway.core.contact_types import ContactMethodType
from gateway.core.inputs import Agent
from gateway.core.users import UserInput, UserPatch, create_user, update_user
from gateway.domain import ContactMethod
from gateway.errors import ConfigError, OperationError
from gateway.store import Tx

if TYPE_CHECKING:
    from gateway.config import UserConfig

__all__ = ["provision_users"]


@dataclass(slots=True)
class _Declared:
    users: set[str] = field(default_factory=set)
    methods: set[str] = field(default_factory=set)
    rules: set[str] = field(default_factory=set)


def provision_users(
    tx: Tx,
    blocks: tuple[UserConfig, ...],
    types: Mapping[str, ContactMethodType],
    by: Agent,
    problems: list[ConfigError],
) -> None:
    """Create or update every block's user and contact details; refusals go to ``problems``."""
    declared = _Declared()
    for block in blocks:
        try:
            _apply(tx, block, types, by, declared)
        except OperationError as exc:
            why = "; ".join(exc.errors) or exc.message
            problems.append(ConfigError(why, key=block.key, line=block.line))
        except ConfigError as exc:
            problems.append(exc)
    tx.set_declared_people(declared.users, declared.methods, declared.rules)


def _apply(
    tx: Tx,
    block: UserConfig,
    types: Mapping[str, ContactMethodType],
    by: Agent,
    declared: _Declared,
) -> None:
    fields = {
        "name": block.name,
        "email": block.email,
        "role": block.role,
        "time_zone": block.time_zone,
        "description": block.description,
        "job_title": block.job_title,
    }
    existing = tx.user_by_email(block.email)
    if existing is None:
        defaults = block.contact_methods is None
        user = create_user(tx, UserInput(**fields), by=by, defaults=defaults)
    else:
        user = update_user(tx, existing.id, UserPatch(**fields), by=by)
    declared.users.add(user.id)
    if block.contact_methods is None:
        return
    by_label: dict[str, ContactMethod] = {}
    for method in sorted(cm.contact_methods_for(tx, user), key=lambda m: m.source != "config"):
        by_label.setdefault(method.label, method)  # the file's own first, then runtime ones
    ids: dict[str, str] = {}
    for config in block.contact_methods:
        found = by_label.get(config.label)
        try:
            if found is None:
                data = cm.ContactMethodInput(config.type, config.address, config.label)
                ids[config.label] = cm.create_contact_method(tx, user.id, data, types, by=by).id
            else:
                patch = cm.ContactMethodPatch(config.type, config.address, config.label)
                cm.update_contact_method(tx, user.id, found.id, patch, types, by=by)
                ids[config.label] = found.id
        except OperationError as exc:
            raise ConfigError(
                "; ".join(exc.errors) or exc.message, key=config.key, line=config.line
            ) from exc
    declared.methods.update(ids.values())
    _rules(tx, block, user.id, ids, by, declared)
    # Contact methods the file declared before and no longer does: gone, unless a rule
    # added at runtime still uses one (it is then released to runtime edits).
    for method in cm.contact_methods_for(tx, user):
        stale = method.source == "config" and method.id not in declared.methods
        if stale and not tx.rules_using(method.id):
            cm.delete_contact_method(tx, user.id, method.id, by=by)


def _rules(
    tx: Tx, block: UserConfig, user_id: str, ids: dict[str, str], by: Agent, declared: _Declared
) -> None:
    existing = cm.notification_rules_for(tx, user_id)
    existing.sort(key=lambda r: r.source != "config")
    claimed: set[str] = set()
    for config in block.notification_rules or ():
        want = (
            ids[config.contact_method],
            config.start_delay_in_minutes,
            config.urgency,
            config.type,
        )
        same = next(
            (
                r
                for r in existing
                if r.id not in claimed
                and (r.contact_method_id, r.start_delay_in_minutes, r.urgency, r.type) == want
            ),
            None,
        )
        if same is None:
            data = cm.RuleInput(*want)
            try:
                same = cm.create_rule(tx, user_id, data, by=by)
            except OperationError as exc:
                raise ConfigError(
                    "; ".join(exc.errors) or exc.message, key=config.key, line=config.line
                ) from exc
        claimed.add(same.id)
    declared.rules.update(claimed)
    for rule in existing:
        if rule.source == "config" and rule.id not in claimed:
            cm.delete_rule(tx, user_id, rule.id, by=by)

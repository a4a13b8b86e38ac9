"""A user's contact methods and notification rules: the rules for changing and reading them.

- A **contact method** has a ``type`` from :func:`gateway.core.contact_types.available`
  (``email_contact_method`` built in; others only when a loaded plugin registers them), a
  ``label`` ("Work") and an ``address`` the type checks. One user cannot have the same
  type and address twice (PagerDuty's "must be unique").
- A **notification rule** says: ``start_delay_in_minutes`` (an integer ≥ 0) after an
  incident of ``urgency`` (``high`` or ``low``) is assigned to the user and still
  unacknowledged, use ``contact_method`` (one of the user's own). That is its ``type``
  ``assignment_notification_rule``; a ``status_change_notification_rule`` instead says
  which contact method tells the user that a high-urgency incident assigned to them was
  acknowledged, escalated away from them or resolved (:mod:`gateway.core.status_notifications`):
  always ``high`` urgency, at once (delay 0), as PagerDuty offers it.
- Deleting a contact method that notification rules use is refused, naming the rules:
  silently dropping the rules could leave someone who is on call unreachable.
- What the configuration file declares (``source = 'config'``) is changed only there.

Readers for notifications: :func:`contact_methods_for` and :func:`notification_rules_for`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import structlog

from gateway.core.contact_types import ContactMethodType, address_problems
from gateway.core.inputs import CONFIG, SYSTEM, UNSET, Agent, Unset
from gateway.core.ownership import DECLARED
from gateway.core.users import get_user
from gateway.domain import ContactMethod, NotificationRule, User
from gateway.domain_people import ASSIGNMENT_RULE, NOTIFICATION_RULE_TYPES, STATUS_CHANGE_RULE
from gateway.errors import Invalid, NotFound, Refused
from gateway.store import Reader, Tx

__all__ = [
    "ASSIGNMENT_RULE",
    "NOTIFICATION_RULE_TYPES",
    "STATUS_CHANGE_RULE",
    "URGENCIES",
    "ContactMethodInput",
    "ContactMethodPatch",
    "RuleInput",
    "RulePatch",
    "contact_counts",
    "contact_methods_for",
    "create_contact_method",
    "create_rule",
    "delete_contact_method",
    "delete_rule",
    "get_contact_method",
    "get_rule",
    "list_contact_methods",
    "list_rules",
    "notification_rules_for",
    "update_contact_method",
    "update_rule",
]

log = structlog.get_logger("gateway.users")

URGENCIES: Final = ("high", "low")
MAX_LABEL = 100
#: The longest start delay (PagerDuty documents none; a week is beyond any escalation).
MAX_DELAY_MINUTES = 7 * 24 * 60

Types = Mapping[str, ContactMethodType]


@dataclass(frozen=True, slots=True)
class ContactMethodInput:
    """A new contact method, as a face read it (values unchecked)."""

    type: object = None
    address: object = None
    label: object = None


@dataclass(frozen=True, slots=True)
class ContactMethodPatch:
    """Changes to a contact method; :data:`UNSET` fields are left as they are."""

    type: object | Unset = UNSET
    address: object | Unset = UNSET
    label: object | Unset = UNSET


@dataclass(frozen=True, slots=True)
class RuleInput:
    """A new notification rule, as a face read it (values unchecked)."""

    contact_method_id: object = None
    start_delay_in_minutes: object = 0
    urgency: object = "high"
    type: object = ASSIGNMENT_RULE


@dataclass(frozen=True, slots=True)
class RulePatch:
    """Changes to a notification rule; :data:`UNSET` fields are left as they are."""

    contact_method_id: object | Unset = UNSET
    start_delay_in_minutes: object | Unset = UNSET
    urgency: object | Unset = UNSET
    type: object | Unset = UNSET


# -- reads for other aggregates ------------------------------------------------------------------


def contact_methods_for(reader: Reader, user: User | str) -> list[ContactMethod]:
    """A user's contact methods, oldest first (``user``: the user or their id)."""
    return reader.contact_methods(user if isinstance(user, str) else user.id)


def notification_rules_for(
    reader: Reader, user: User | str, urgency: str | None = None, type: str | None = None
) -> list[NotificationRule]:
    """A user's notification rules for incidents of ``urgency`` (``None``: all) and of
    ``type`` (``None``: both), by delay.

    This is what notifying someone reads: each rule's contact method is
    ``reader.contact_method(rule.contact_method_id)``.
    """
    user_id = user if isinstance(user, str) else user.id
    return reader.notification_rules(user_id, urgency=urgency, type=type)


def contact_counts(reader: Reader, users: Iterable[User]) -> dict[str, tuple[int, int]]:
    """``{user id: (contact methods, notification rules)}``: how reachable each user is."""
    return reader.contact_counts([u.id for u in users])


# -- contact methods -----------------------------------------------------------------------------


def list_contact_methods(reader: Reader, user_id: str) -> list[ContactMethod]:
    """A live user's contact methods, oldest first (:class:`NotFound` for no such user)."""
    return reader.contact_methods(get_user(reader, user_id).id)


def get_contact_method(reader: Reader, user_id: str, method_id: str) -> ContactMethod:
    """One of a live user's contact methods, or :class:`NotFound` (user or contact method)."""
    get_user(reader, user_id)
    found = reader.contact_method(method_id) if isinstance(method_id, str) else None
    if found is None or found.user_id != user_id:
        raise NotFound("Contact Method", method_id)
    return found


def create_contact_method(
    tx: Tx,
    user_id: str,
    data: ContactMethodInput,
    types: Types,
    *,
    by: Agent = SYSTEM,
    source: str = "api",
) -> ContactMethod:
    """Add a contact method to a user (``types``: :func:`~gateway.core.contact_types.available`)."""
    user = get_user(tx, user_id)
    errors: list[str] = []
    kind, address = _kind_and_address(data.type, data.address, types, errors)
    label = _label(data.label, errors)
    if not errors:
        _unique(tx, user.id, kind, address, None, errors)
    if errors:
        raise Invalid(errors)
    made = tx.insert_contact_method(
        user_id=user.id, type=kind, label=label, address=address, source=source
    )
    log.info("contact_method.created", user=user.id, contact_method=made.id, type=kind, by=by.type)
    return made


def update_contact_method(
    tx: Tx, user_id: str, method_id: str, patch: ContactMethodPatch, types: Types, *,
    by: Agent = SYSTEM,
) -> ContactMethod:  # fmt: skip
    """Change a contact method's label, address or type (checked as when created)."""
    current = get_contact_method(tx, user_id, method_id)
    errors: list[str] = []
    columns: dict[str, Any] = {}
    if not isinstance(patch.type, Unset) or not isinstance(patch.address, Unset):
        kind = current.type if isinstance(patch.type, Unset) else patch.type
        raw = current.address if isinstance(patch.address, Unset) else patch.address
        columns["type"], columns["address"] = _kind_and_address(kind, raw, types, errors)
        if not errors:
            _unique(tx, user_id, columns["type"], columns["address"], current.id, errors)
    if not isinstance(patch.label, Unset):
        columns["label"] = _label(patch.label, errors)
    if errors:
        raise Invalid(errors)
    changed = {k: v for k, v in columns.items() if getattr(current, k) != v}
    _refuse_declared(current.source, "Contact method", current.label, changed, by)
    if changed:
        tx.update_contact_method(current.id, **changed)
        log.info("contact_method.updated", contact_method=current.id, fields=sorted(changed))
    return get_contact_method(tx, user_id, current.id)


def delete_contact_method(tx: Tx, user_id: str, method_id: str, *, by: Agent = SYSTEM) -> None:
    """Delete a contact method no notification rule uses (else :class:`Refused`, naming them)."""
    current = get_contact_method(tx, user_id, method_id)
    _refuse_declared(current.source, "Contact method", current.label, ["deleted"], by)
    using = tx.rules_using(current.id)
    if using:
        rules = ", ".join(f"{r.id} ({r.urgency}, {r.start_delay_in_minutes} min)" for r in using)
        raise Refused(
            "Contact Method In Use",
            code=2001,
            errors=[
                f"contact method {current.label!r} is used by notification rules {rules}; "
                "delete or change those rules first"
            ],
        )
    tx.delete_contact_method(current.id)
    log.info("contact_method.deleted", contact_method=current.id, by=by.type)


# -- notification rules --------------------------------------------------------------------------


def list_rules(
    reader: Reader, user_id: str, *, urgency: str | None = None
) -> list[NotificationRule]:
    """A live user's notification rules (``urgency`` high or low narrows them), by delay."""
    get_user(reader, user_id)
    if urgency is not None and urgency not in URGENCIES:
        raise Invalid([f"urgency must be high or low (got {urgency!r})"])
    return reader.notification_rules(user_id, urgency=urgency)


def get_rule(reader: Reader, user_id: str, rule_id: str) -> NotificationRule:
    """One of a live user's notification rules, or :class:`NotFound`."""
    get_user(reader, user_id)
    found = reader.notification_rule(rule_id) if isinstance(rule_id, str) else None
    if found is None or found.user_id != user_id:
        raise NotFound("Notification Rule", rule_id)
    return found


def create_rule(
    tx: Tx, user_id: str, data: RuleInput, *, by: Agent = SYSTEM, source: str = "api"
) -> NotificationRule:
    """Add a notification rule; its contact method must be one of the user's own."""
    user = get_user(tx, user_id)
    errors: list[str] = []
    method_id = _own_method(tx, user.id, data.contact_method_id, errors)
    delay = _delay(data.start_delay_in_minutes, errors)
    urgency = _urgency(data.urgency, errors)
    kind = _type(data.type, delay, urgency, errors)
    if errors:
        raise Invalid(errors)
    made = tx.insert_notification_rule(
        user_id=user.id,
        contact_method_id=method_id,
        start_delay_in_minutes=delay,
        urgency=urgency,
        source=source,
        type=kind,
    )
    log.info("notification_rule.created", user=user.id, rule=made.id, by=by.type)
    return made


def update_rule(
    tx: Tx, user_id: str, rule_id: str, patch: RulePatch, *, by: Agent = SYSTEM
) -> NotificationRule:
    """Change a notification rule's delay, urgency or contact method."""
    current = get_rule(tx, user_id, rule_id)
    errors: list[str] = []
    columns: dict[str, Any] = {}
    if not isinstance(patch.contact_method_id, Unset):
        columns["contact_method_id"] = _own_method(tx, user_id, patch.contact_method_id, errors)
    if not isinstance(patch.start_delay_in_minutes, Unset):
        columns["start_delay_in_minutes"] = _delay(patch.start_delay_in_minutes, errors)
    if not isinstance(patch.urgency, Unset):
        columns["urgency"] = _urgency(patch.urgency, errors)
    kind = current.type if isinstance(patch.type, Unset) else patch.type
    delay = columns.get("start_delay_in_minutes", current.start_delay_in_minutes)
    checked = _type(kind, delay, columns.get("urgency", current.urgency), errors)
    if not isinstance(patch.type, Unset):
        columns["type"] = checked
    if errors:
        raise Invalid(errors)
    changed = {k: v for k, v in columns.items() if getattr(current, k) != v}
    _refuse_declared(current.source, "Notification rule", current.id, changed, by)
    if changed:
        tx.update_notification_rule(current.id, **changed)
        log.info("notification_rule.updated", rule=current.id, fields=sorted(changed))
    return get_rule(tx, user_id, current.id)


def delete_rule(tx: Tx, user_id: str, rule_id: str, *, by: Agent = SYSTEM) -> None:
    """Delete a notification rule."""
    current = get_rule(tx, user_id, rule_id)
    _refuse_declared(current.source, "Notification rule", current.id, ["deleted"], by)
    tx.delete_notification_rule(current.id)
    log.info("notification_rule.deleted", rule=current.id, by=by.type)


# -- checks ---------------------------------------------------------------------------------------


def _kind_and_address(
    kind: object, address: object, types: Types, errors: list[str]
) -> tuple[Any, Any]:
    problems = address_problems(kind, address, types)
    errors.extend(problems)
    return kind, address.strip() if isinstance(address, str) else address


def _label(value: object, errors: list[str]) -> Any:
    if not isinstance(value, str) or not value.strip():
        errors.append("label must be a non-empty string (e.g. Work)")
        return None
    if len(value.strip()) > MAX_LABEL:
        errors.append(f"label must be at most {MAX_LABEL} characters")
    return value.strip()


def _unique(
    reader: Reader, user_id: str, kind: str, address: str, own_id: str | None, errors: list[str]
) -> None:
    for other in reader.contact_methods(user_id):
        if other.id != own_id and other.type == kind and other.address.lower() == address.lower():
            errors.append(f"User Contact method must be unique: {kind} {address!r} exists")
            return


def _own_method(reader: Reader, user_id: str, value: object, errors: list[str]) -> Any:
    method = reader.contact_method(value) if isinstance(value, str) and value else None
    if method is None or method.user_id != user_id:
        errors.append(f"contact_method must be one of this user's contact methods (got {value!r})")
        return None
    return method.id


def _delay(value: object, errors: list[str]) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        errors.append("start_delay_in_minutes must be an integer of at least 0")
        return None
    if value > MAX_DELAY_MINUTES:
        errors.append(f"start_delay_in_minutes must be at most {MAX_DELAY_MINUTES}")
    return value


def _urgency(value: object, errors: list[str]) -> Any:
    if value not in URGENCIES:
        errors.append(f"urgency must be high or low (got {value!r})")
        return None
    return value


def _type(value: object, delay: object, urgency: object, errors: list[str]) -> Any:
    """The rule's type; a status-change rule is high urgency and immediate (PagerDuty offers
    "when a high-urgency incident assigned to me changes" only, without a delay)."""
    if value not in NOTIFICATION_RULE_TYPES:
        errors.append(f"type must be one of {', '.join(NOTIFICATION_RULE_TYPES)} (got {value!r})")
        return None
    if value == STATUS_CHANGE_RULE:
        if urgency not in (None, "high"):
            errors.append(f"a {STATUS_CHANGE_RULE} is for high-urgency incidents only")
        if delay not in (None, 0):
            errors.append(f"a {STATUS_CHANGE_RULE} notifies at once: start_delay_in_minutes 0")
    return value


def _refuse_declared(source: str, kind: str, label: str, changes: Iterable[str], by: Agent) -> None:
    wanted = sorted(set(changes))
    if not wanted or by.type == CONFIG.type or source != "config":
        return
    raise Refused(
        DECLARED,
        code=2001,
        errors=[
            f"{kind} {label!r} is declared in the configuration file; change it there "
            f"(refused: {', '.join(wanted)})"
        ],
    )

"""PagerDuty's people objects as JSON: users, contact methods, notification rules, references.

The sibling of :mod:`gateway.shapes` for the people aggregate, shared by the REST API and
whatever else names a user in PagerDuty's shape (assignments, webhook payloads): call
:func:`user_reference` with a :class:`~gateway.shapes.Urls`. The functions only shape; the
rows come from :mod:`gateway.core.users` and :mod:`gateway.core.contact_methods`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from gateway.domain import ContactMethod, NotificationRule, User
from gateway.domain_people import STATUS_CHANGE_RULE
from gateway.shapes import Urls, reference

__all__ = [
    "contact_method_object",
    "contact_method_reference",
    "rule_object",
    "rule_reference",
    "user_object",
    "user_path",
    "user_reference",
]


def user_path(user_id: str) -> str:
    """The REST path of a user."""
    return f"/users/{user_id}"


def user_reference(urls: Urls, user: User) -> dict[str, Any]:
    """A ``user_reference`` (its summary is the user's name)."""
    return reference(urls, "user", user.id, user.name, user_path(user.id))


def _method_path(method: ContactMethod) -> str:
    return f"{user_path(method.user_id)}/contact_methods/{method.id}"


def _rule_path(rule: NotificationRule) -> str:
    return f"{user_path(rule.user_id)}/notification_rules/{rule.id}"


def contact_method_reference(urls: Urls, method: ContactMethod) -> dict[str, Any]:
    """A ``<type>_reference`` such as ``email_contact_method_reference``; summary is the label."""
    return {
        "id": method.id,
        "type": f"{method.type}_reference",
        "summary": method.label,
        "self": urls.api(_method_path(method)),
        "html_url": None,
    }


def contact_method_object(urls: Urls, method: ContactMethod) -> dict[str, Any]:
    """A contact method (``email_contact_method`` adds PagerDuty's ``send_short_email``)."""
    body: dict[str, Any] = {
        "id": method.id,
        "type": method.type,
        "summary": method.label,
        "self": urls.api(_method_path(method)),
        "html_url": None,
        "label": method.label,
        "address": method.address,
        # Extension: whether the configuration file declares it (then it is changed there).
        "declared_in_config": method.source == "config",
    }
    if method.type == "email_contact_method":
        body["send_short_email"] = False
        body["enabled"] = True
    return body


def rule_reference(
    urls: Urls, rule: NotificationRule, summary: str | None = None
) -> dict[str, Any]:
    """An ``assignment_notification_rule_reference`` (or ``status_change_…`` for that type)."""
    return {
        "id": rule.id,
        "type": f"{rule.type}_reference",
        "summary": summary or _rule_summary(rule, None),
        "self": urls.api(_rule_path(rule)),
        "html_url": None,
    }


def rule_object(
    urls: Urls, rule: NotificationRule, method: ContactMethod | None, *, full_method: bool = False
) -> dict[str, Any]:
    """An ``assignment_notification_rule`` (or ``status_change_notification_rule``, an
    extension); its ``contact_method`` a reference, or the whole object with ``full_method``
    (``include[]=contact_methods``)."""
    contact: dict[str, Any] | None = None
    if method is not None:
        contact = (
            contact_method_object(urls, method)
            if full_method
            else contact_method_reference(urls, method)
        )
    return {
        "id": rule.id,
        "type": rule.type,
        "summary": _rule_summary(rule, method),
        "self": urls.api(_rule_path(rule)),
        "html_url": None,
        "start_delay_in_minutes": rule.start_delay_in_minutes,
        "contact_method": contact,
        "urgency": rule.urgency,
        "declared_in_config": rule.source == "config",
    }


def user_object(
    urls: Urls,
    user: User,
    methods: list[ContactMethod],
    rules: list[NotificationRule],
    include: Collection[str] = (),
) -> dict[str, Any]:
    """A ``user``: ``contact_methods`` and ``notification_rules`` as references, or whole
    objects when ``include`` names them (PagerDuty's ``include[]``)."""
    by_id: Mapping[str, ContactMethod] = {m.id: m for m in methods}
    return {
        "id": user.id,
        "type": "user",
        "summary": user.name,
        "self": urls.api(user_path(user.id)),
        "html_url": urls.html(user_path(user.id)),
        "name": user.name,
        "email": user.email,
        "time_zone": user.time_zone,
        "color": None,
        "role": user.role,
        "avatar_url": None,
        "description": user.description,
        "invitation_sent": False,
        "job_title": user.job_title,
        "teams": [],
        "contact_methods": [
            contact_method_object(urls, m)
            if "contact_methods" in include
            else contact_method_reference(urls, m)
            for m in methods
        ],
        "notification_rules": [
            rule_object(urls, r, by_id.get(r.contact_method_id))
            if "notification_rules" in include
            else rule_reference(urls, r, _rule_summary(r, by_id.get(r.contact_method_id)))
            for r in rules
        ],
        # Extension: whether the configuration file declares the user.
        "declared_in_config": user.source == "config",
    }


def _rule_summary(rule: NotificationRule, method: ContactMethod | None) -> str:
    when = (
        "immediately"
        if rule.start_delay_in_minutes == 0
        else f"after {rule.start_delay_in_minutes} minutes"
    )
    what = method.label if method is not None else "a contact method"
    if rule.type == STATUS_CHANGE_RULE:
        return f"high-urgency incident assigned to them changes: {what}"
    return f"{rule.urgency}-urgency: {what} {when}"

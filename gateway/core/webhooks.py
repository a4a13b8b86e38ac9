"""v3 webhook subscriptions: the rules for creating, changing, enabling and deleting them.

Pure functions over a :class:`~gateway.store.Tx` or :class:`~gateway.store.Reader`,
called alike by the REST API, the web UI and configuration provisioning. Each write
checks everything before it changes anything (:class:`~gateway.errors.Invalid` lists
every problem; the value checks are :mod:`gateway.core.webhook_checks`). What the
subscriptions *receive* is :mod:`gateway.core.webhook_events`;
how a message is sent and signed is :mod:`gateway.outbound.webhooks`.

- ``delivery_method.url`` is http or https; ``custom_headers`` are ``{name, value}``
  pairs that may not replace the headers the gateway sets; their values are shown
  redacted (:data:`REDACTED`) everywhere but on the wire.
- ``events`` come from :data:`EVENT_TYPES`; ``filter`` is ``account_reference`` or a
  ``service_reference`` to a live service (teams do not exist: refused).
- The ``secret`` is generated at creation and shown once, in the create answer.
  :func:`rotate_secret` makes a new one (shown once) and keeps the old one until
  :func:`end_rotation`: deliveries meanwhile carry both signatures.
- A subscription the configuration file declares (``source = 'config'``) is changed only
  through the file; enabling it again and pinging it stay allowed.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from gateway.core import outbox
from gateway.core.inputs import CONFIG, SYSTEM, UNSET, Agent, Unset
from gateway.core.ownership import DECLARED
from gateway.core.webhook_checks import (
    ACCOUNT,
    EMITTED,
    EVENT_TYPES,
    KIND,
    REDACTED,
    SERVICE,
    check_description,
    check_events,
    check_filter,
    check_flag,
    check_headers,
    check_secret,
    check_url,
)
from gateway.domain import OutboxEntry, WebhookSubscription
from gateway.errors import Invalid, NotFound, Refused
from gateway.store import Reader, Tx

__all__ = [
    "ACCOUNT",
    "EMITTED",
    "EVENT_TYPES",
    "KIND",
    "REDACTED",
    "SERVICE",
    "WebhookInput",
    "WebhookPatch",
    "create_webhook",
    "delete_webhook",
    "drop_delivery",
    "enable_webhook",
    "end_rotation",
    "find_delivery",
    "get_webhook",
    "list_webhooks",
    "recent_deliveries",
    "retry_delivery",
    "rotate_secret",
    "update_webhook",
]

log = structlog.get_logger("gateway.webhooks")


@dataclass(frozen=True, slots=True)
class WebhookInput:
    """A new subscription, as a face read it (values unchecked)."""

    url: object
    events: object
    filter_type: object = ACCOUNT
    filter_id: object = None
    custom_headers: object = field(default_factory=list)
    description: object = None
    active: object = True
    name: str | None = None
    secret: object = None  # only provisioning sets one; otherwise generated


@dataclass(frozen=True, slots=True)
class WebhookPatch:
    """Changes to a subscription; :data:`UNSET` fields are left as they are."""

    url: object | Unset = UNSET
    events: object | Unset = UNSET
    filter_type: object | Unset = UNSET
    filter_id: object | Unset = UNSET
    custom_headers: object | Unset = UNSET
    description: object | Unset = UNSET
    active: object | Unset = UNSET
    secret: object | Unset = UNSET


# -- reads ----------------------------------------------------------------------------------------


def get_webhook(reader: Reader, subscription_id: str) -> WebhookSubscription:
    """The subscription ``subscription_id``, or :class:`NotFound` ``Webhook Subscription``."""
    found = reader.webhook(subscription_id) if isinstance(subscription_id, str) else None
    if found is None:
        raise NotFound("Webhook Subscription", subscription_id)
    return found


def list_webhooks(
    reader: Reader, *, filter_type: str | None = None, filter_id: str | None = None
) -> list[WebhookSubscription]:
    """Subscriptions, oldest first; PagerDuty's ``filter_type``/``filter_id`` narrow them."""
    if filter_type is not None and filter_type not in (ACCOUNT, SERVICE, "team_reference"):
        raise Invalid([f"filter_type must be {ACCOUNT}, {SERVICE} or team_reference"])
    if filter_type == "team_reference":
        return []  # no teams, so no subscription filters on one
    return reader.webhooks(filter_type=filter_type, filter_id=filter_id)


def recent_deliveries(
    reader: Reader, subscription_id: str, *, states: Sequence[str] = (), limit: int = 25
) -> list[OutboxEntry]:
    """A subscription's messages, newest first (``states``: pending, delivered, failed)."""
    get_webhook(reader, subscription_id)
    wrong = [s for s in states if s not in ("pending", "delivered", "failed")]
    if wrong:
        raise Invalid([f"state must be pending, delivered or failed (got {wrong[0]!r})"])
    return reader.webhook_deliveries(KIND, subscription_id, states=states, limit=limit)


# -- writes ---------------------------------------------------------------------------------------


def create_webhook(tx: Tx, data: WebhookInput, *, by: Agent = SYSTEM) -> WebhookSubscription:
    """Create a subscription with a new secret (the answer is the one place it is shown)."""
    errors: list[str] = []
    columns: dict[str, Any] = {
        "url": check_url(data.url, errors),
        "events": check_events(data.events, errors),
        "custom_headers": check_headers(data.custom_headers, [], errors),
        "description": check_description(data.description, errors),
        "active": check_flag("active", data.active, errors),
        "name": data.name,
    }
    columns["filter_type"], columns["filter_id"] = check_filter(
        tx, data.filter_type, data.filter_id, errors
    )
    columns["secret"] = (
        check_secret(data.secret, errors) if data.secret is not None else new_secret()
    )
    columns["secret_declared"] = data.secret is not None
    if errors:
        raise Invalid(errors)
    made = tx.insert_webhook(**columns)
    log.info("webhook.created", subscription=made.id, events=made.events, by=by.type)
    return made


def update_webhook(
    tx: Tx, subscription_id: str, patch: WebhookPatch, *, by: Agent = SYSTEM
) -> WebhookSubscription:
    """Change a subscription. A header value sent back as :data:`REDACTED` keeps its value."""
    current = get_webhook(tx, subscription_id)
    errors: list[str] = []
    columns: dict[str, Any] = {}
    if not isinstance(patch.url, Unset):
        columns["url"] = check_url(patch.url, errors)
    if not isinstance(patch.events, Unset):
        columns["events"] = check_events(patch.events, errors)
    if not isinstance(patch.custom_headers, Unset):
        columns["custom_headers"] = check_headers(
            patch.custom_headers, current.custom_headers, errors
        )
    if not isinstance(patch.description, Unset):
        columns["description"] = check_description(patch.description, errors)
    if not isinstance(patch.active, Unset):
        columns["active"] = check_flag("active", patch.active, errors)
    if not isinstance(patch.filter_type, Unset) or not isinstance(patch.filter_id, Unset):
        kind = current.filter_type if isinstance(patch.filter_type, Unset) else patch.filter_type
        ident = current.filter_id if isinstance(patch.filter_id, Unset) else patch.filter_id
        columns["filter_type"], columns["filter_id"] = check_filter(tx, kind, ident, errors)
    if not isinstance(patch.secret, Unset):
        # None: the file no longer sets the secret (it stays, and may be rotated at runtime).
        columns["secret_declared"] = patch.secret is not None
        if patch.secret is not None:
            columns["secret"] = check_secret(patch.secret, errors)
    if errors:
        raise Invalid(errors)
    now = _values(current)
    changed = {k: v for k, v in columns.items() if now[k] != v}
    if "secret" in changed:
        changed["previous_secret"] = None  # the file's secret replaces any rotation
    _refuse_declared(current, sorted(set(changed) - {"secret_declared"}), by)
    if changed:
        tx.update_webhook(current.id, **changed)
        log.info("webhook.updated", subscription=current.id, fields=sorted(changed), by=by.type)
    return get_webhook(tx, current.id)


def delete_webhook(tx: Tx, subscription_id: str, *, by: Agent = SYSTEM) -> None:
    """Delete a subscription; what it had not delivered yet is dropped with it."""
    current = get_webhook(tx, subscription_id)
    _refuse_declared(current, ["deleted"], by)
    tx.delete_webhook(current.id)
    log.info("webhook.deleted", subscription=current.id, by=by.type)


def enable_webhook(tx: Tx, subscription_id: str, *, by: Agent = SYSTEM) -> WebhookSubscription:
    """Enable a temporarily disabled subscription again (its count of drops starts anew)."""
    current = get_webhook(tx, subscription_id)
    if current.temporarily_disabled or current.consecutive_drops:
        tx.update_webhook(current.id, temporarily_disabled=0, consecutive_drops=0)
        log.info("webhook.enabled", subscription=current.id, by=by.type)
    return get_webhook(tx, current.id)


def rotate_secret(tx: Tx, subscription_id: str, *, by: Agent = SYSTEM) -> WebhookSubscription:
    """Start a secret rotation: a new secret (returned, shown once); the current one is kept.

    Until :func:`end_rotation`, deliveries carry a ``v1=`` signature for each secret, so a
    receiver can switch to the new one at its own pace. Rotating again drops the oldest.
    A subscription whose secret the configuration file sets is rotated in the file.
    """
    current = get_webhook(tx, subscription_id)
    if current.secret_declared:
        _refuse_declared(current, ["secret"], by)
    tx.update_webhook(current.id, secret=new_secret(), previous_secret=current.secret)
    log.info("webhook.secret_rotated", subscription=current.id, by=by.type)
    return get_webhook(tx, current.id)


def end_rotation(tx: Tx, subscription_id: str, *, by: Agent = SYSTEM) -> WebhookSubscription:
    """End a secret rotation: the previous secret no longer signs deliveries."""
    current = get_webhook(tx, subscription_id)
    if current.previous_secret is not None:
        tx.update_webhook(current.id, previous_secret=None)
        log.info("webhook.rotation_ended", subscription=current.id, by=by.type)
    return get_webhook(tx, current.id)


def new_secret() -> str:
    """A fresh signing secret: 48 random bytes, URL-safe base64 (64 characters)."""
    return secrets.token_urlsafe(48)


# -- checks ---------------------------------------------------------------------------------------


def _values(current: WebhookSubscription) -> dict[str, Any]:
    return {
        "url": current.url,
        "events": current.events,
        "custom_headers": current.custom_headers,
        "description": current.description,
        "active": current.active,
        "filter_type": current.filter_type,
        "filter_id": current.filter_id,
        "secret": current.secret,
        "secret_declared": current.secret_declared,
    }


def _refuse_declared(current: WebhookSubscription, changes: list[str], by: Agent) -> None:
    if not changes or by.type == CONFIG.type or current.source != "config":
        return
    label = current.name or current.description or current.id
    raise Refused(
        DECLARED,
        code=2001,
        errors=[
            f"Webhook subscription {label!r} is declared in the configuration file; "
            f"change it there (refused: {', '.join(sorted(set(changes)))})"
        ],
    )


# -- operators: one delivery ----------------------------------------------------------------------


def find_delivery(reader: Reader, subscription_id: str, message_id: str) -> OutboxEntry:
    """One of a subscription's messages, or :class:`NotFound` ``Delivery``."""
    get_webhook(reader, subscription_id)
    entry = reader.outbox_entry(message_id) if isinstance(message_id, str) else None
    if entry is None or entry.kind != KIND or entry.destination != subscription_id:
        raise NotFound("Delivery", message_id)
    return entry


def retry_delivery(tx: Tx, subscription_id: str, message_id: str) -> OutboxEntry:
    """Send a failed (or waiting) message again now, its attempts counted anew."""
    entry = find_delivery(tx, subscription_id, message_id)
    if entry.state == "delivered":
        raise Refused(
            "Delivery Already Delivered", code=2001, errors=[f"{message_id} was delivered"]
        )
    outbox.requeue(tx, entry.id)
    return find_delivery(tx, subscription_id, message_id)


def drop_delivery(tx: Tx, subscription_id: str, message_id: str) -> None:
    """Remove a message that was not delivered (it will not be sent)."""
    entry = find_delivery(tx, subscription_id, message_id)
    if entry.state == "delivered":
        raise Refused(
            "Delivery Already Delivered", code=2001, errors=[f"{message_id} was delivered"]
        )
    outbox.discard(tx, entry.id)

"""Declarative webhook subscriptions from the configuration, through the webhook rules.

Each ``[[webhook_subscriptions]]`` block is matched to a subscription by its ``name``, or,
when it has none, by its description (among unnamed subscriptions, one the file declared
first, then the oldest). An unmatched block creates one; a matched one is made what the
block says. As for services (:mod:`gateway.core.provision`), the file owns what it
declares (``source = 'config'``: REST and the UI refuse to change or delete it, enabling
and pinging stay open), releases what it no longer declares, and leaves runtime
subscriptions alone. A block without ``secret`` keeps the subscription's own (generated,
and rotatable at runtime to learn it); one with ``secret`` sets it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.core.inputs import Agent
from gateway.core.webhooks import (
    ACCOUNT,
    SERVICE,
    WebhookInput,
    WebhookPatch,
    create_webhook,
    update_webhook,
)
from gateway.domain import WebhookSubscription
from gateway.errors import ConfigError, OperationError
from gateway.store import Tx

if TYPE_CHECKING:
    from gateway.config import WebhookConfig

__all__ = ["provision_webhooks"]


def provision_webhooks(
    tx: Tx, blocks: tuple[WebhookConfig, ...], by: Agent, problems: list[ConfigError]
) -> None:
    """Create or update every block's subscription; refusals go to ``problems``."""
    declared: set[str] = set()
    for block in blocks:
        try:
            declared.add(_apply(tx, block, by, declared))
        except OperationError as exc:
            problems.append(ConfigError("; ".join(exc.errors), key=block.key, line=block.line))
        except ConfigError as exc:
            problems.append(exc)
    tx.set_declared_webhooks(declared)


def _apply(tx: Tx, block: WebhookConfig, by: Agent, claimed: set[str]) -> str:
    filter_type, filter_id = ACCOUNT, None
    if block.service is not None:
        service = tx.service_by_name(block.service)
        if service is None:
            raise ConfigError(
                f"no service is named {block.service!r}",
                key=f"{block.key}.service",
                line=block.line,
            )
        filter_type, filter_id = SERVICE, service.id
    headers = [{"name": name, "value": value} for name, value in block.custom_headers]
    mine = _match(tx, block, claimed)
    # What the file says of the subscription, the same for a new one and a change.
    declared = {
        "url": block.url,
        "events": list(block.events),
        "filter_type": filter_type,
        "filter_id": filter_id,
        "custom_headers": headers,
        "description": block.description,
        "active": block.active,
        "secret": block.secret,
    }
    if mine is None:
        return create_webhook(tx, WebhookInput(**declared, name=block.name), by=by).id
    patch = WebhookPatch(**declared)
    return update_webhook(tx, mine.id, patch, by=by).id


def _match(tx: Tx, block: WebhookConfig, claimed: set[str]) -> WebhookSubscription | None:
    if block.name is not None:
        found = tx.webhook_by_name(block.name)
        return found if found is not None and found.id not in claimed else None
    candidates = [
        s
        for s in tx.webhooks()
        if s.name is None and s.description == block.description and s.id not in claimed
    ]
    candidates.sort(key=lambda s: s.source != "config")  # stable: declared first, then oldest
    return candidates[0] if candidates else None

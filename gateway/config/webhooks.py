"""The parser of ``[[webhook_subscriptions]]``: v3 webhook subscriptions the file declares.

Only shapes and types are checked here (a typo fails at start-up with its line); the
webhook rules (URL scheme, event names, header names) are checked by
:mod:`gateway.core.webhooks` when provisioning applies the block, with the same line.
"""

from __future__ import annotations

from typing import Any

from gateway.config.reader import Reader
from gateway.config.settings import WebhookConfig

_KEYS = {"name", "description", "url", "events", "service", "custom_headers", "active", "secret"}


def webhook_configs(r: Reader, data: dict[str, Any]) -> tuple[WebhookConfig, ...]:
    """Every ``[[webhook_subscriptions]]`` block; each is named or described (its handle)."""
    blocks: list[WebhookConfig] = []
    handles: dict[str, str] = {}
    for i, item in enumerate(r.array(data, "webhook_subscriptions")):
        key = f"webhook_subscriptions[{i}]"
        r.only(item, _KEYS, f"{key}.")
        name = r.string(item, "name", f"{key}.name")
        description = r.string(item, "description", f"{key}.description")
        handle = name or description
        if not handle:
            raise r.error("needs a name or a description (how the block is matched)", key)
        label = f"name {name!r}" if name else f"description {description!r}"
        if label in handles:
            raise r.error(f"another block has the same {label}: {handles[label]}", key)
        handles[label] = key
        headers = r.table(item, "custom_headers", f"{key}.")
        for header, value in headers.items():
            if not isinstance(value, str):
                raise r.error("must be a string", f"{key}.custom_headers.{header}")
        active = item.get("active", True)
        if not isinstance(active, bool):
            raise r.error("must be true or false", f"{key}.active")
        events = r.strings(item, "events", f"{key}.events")
        if not events:
            raise r.error("must name at least one event type", f"{key}.events")
        blocks.append(
            WebhookConfig(
                name=name,
                description=description,
                url=r.string(item, "url", f"{key}.url", required=True) or "",
                events=events,
                service=r.string(item, "service", f"{key}.service"),
                custom_headers=tuple(headers.items()),
                active=active,
                secret=r.string(item, "secret", f"{key}.secret"),
                key=key,
                line=r.lines.get(key),
            )
        )
    return tuple(blocks)

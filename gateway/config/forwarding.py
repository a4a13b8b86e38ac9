"""``[forwarding]`` (how forwarded events are retried and paced) and a block's ``forward_to``."""

from __future__ import annotations

from typing import Any

from gateway.config.reader import Reader
from gateway.config.settings import ForwardingSettings, ForwardTargetConfig

_KEYS = {"max_age_hours", "rate_per_minute", "timeout_seconds", "first_delay_seconds",
         "max_delay_seconds"}  # fmt: skip


def forwarding_settings(r: Reader, data: dict[str, Any]) -> ForwardingSettings:
    """``[forwarding]``: every value checked here so a typo fails at start-up."""
    t = r.table(data, "forwarding")
    r.only(t, _KEYS, "forwarding.")
    d = ForwardingSettings()
    values = {name: r.number(t, name, f"forwarding.{name}", getattr(d, name)) for name in _KEYS}
    for name in ("rate_per_minute", "timeout_seconds", "first_delay_seconds"):
        if values[name] <= 0:
            raise r.error("must be more than 0", f"forwarding.{name}")
    if values["max_delay_seconds"] < values["first_delay_seconds"]:
        raise r.error("must be at least first_delay_seconds", "forwarding.max_delay_seconds")
    return ForwardingSettings(**values)


def forward_targets(
    r: Reader, data: dict[str, Any], key: str
) -> tuple[ForwardTargetConfig, ...] | None:
    """A ``[[services]]`` block's ``forward_to`` (``None`` when the block does not set it).

    Only the shape is checked here; the values (URL, routing key) by the core when the
    file is applied (:func:`gateway.core.forwarding.set_forwarding`), with this key and line.
    """
    if "forward_to" not in data:
        return None
    value = data["forward_to"]
    name = f"{key}.forward_to"
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise r.error(
            'must be an array of tables: [{ url = "https://events.pagerduty.com", '
            'routing_key = "..." }]',
            name,
        )
    targets = []
    for i, item in enumerate(value):
        r.only(item, {"url", "routing_key"}, f"{name}[{i}].")
        url = r.string(item, "url", f"{name}[{i}].url", required=True)
        routing_key = r.string(item, "routing_key", f"{name}[{i}].routing_key", required=True)
        targets.append(ForwardTargetConfig(url or "", routing_key or ""))
    return tuple(targets)

"""``[outbound]``: the deliverers of the outbound queue and the outbound address policy."""

from __future__ import annotations

import ipaddress
from typing import Any

from gateway.config.reader import Reader
from gateway.config.settings import DEFAULT_OUTBOUND_DENY, OutboundSettings

_KEYS = {
    "deny",
    "allow",
    "per_destination",
    "max_in_flight",
    "lease_seconds",
    "retention_days",
    "node_id",
    "max_defer_seconds",
}


def outbound_settings(r: Reader, data: dict[str, Any]) -> OutboundSettings:
    """``[outbound]``; every network is checked here so a typo fails at start-up."""
    t = r.table(data, "outbound")
    r.only(t, _KEYS, "outbound.")
    deny = r.strings(t, "deny", "outbound.deny") if "deny" in t else DEFAULT_OUTBOUND_DENY
    allow = r.strings(t, "allow", "outbound.allow")
    for name, networks in (("deny", deny), ("allow", allow)):
        for text in networks:
            try:
                ipaddress.ip_network(text.strip(), strict=False)
            except ValueError:
                raise r.error(
                    f"{text!r} is not an IP network (CIDR such as 169.254.0.0/16)",
                    f"outbound.{name}",
                ) from None
    defaults = OutboundSettings()
    return OutboundSettings(
        deny=deny,
        allow=allow,
        per_destination=_int(r, t, "per_destination", defaults.per_destination, 1),
        max_in_flight=_int(r, t, "max_in_flight", defaults.max_in_flight, 1),
        lease_seconds=_int(r, t, "lease_seconds", defaults.lease_seconds, 10),
        retention_days=_int(r, t, "retention_days", defaults.retention_days, 0),
        node_id=r.string(t, "node_id", "outbound.node_id", default="") or "",
        max_defer_seconds=_int(r, t, "max_defer_seconds", defaults.max_defer_seconds, 0),
    )


def _int(r: Reader, t: dict[str, Any], name: str, default: int, minimum: int) -> int:
    value = r.integer(t, name, f"outbound.{name}", default=default, minimum=minimum)
    return default if value is None else value

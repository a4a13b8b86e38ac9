"""What a v3 webhook subscription may hold: the names, limits and value checks.

The words every face shows for a refused subscription live here once;
:mod:`gateway.core.webhooks` (the rules of changing subscriptions) runs these checks
before it writes anything, collecting every problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from gateway.store import Reader

__all__ = [
    "ACCOUNT",
    "EMITTED",
    "EVENT_TYPES",
    "KIND",
    "REDACTED",
    "RESERVED_HEADERS",
    "SERVICE",
    "TEAMS_REFUSED",
    "check_description",
    "check_events",
    "check_filter",
    "check_flag",
    "check_headers",
    "check_secret",
    "check_url",
]

#: The outbox kind of webhook deliveries (:mod:`gateway.outbound.webhooks`).
KIND: Final = "webhook"
ACCOUNT: Final = "account_reference"
SERVICE: Final = "service_reference"
#: Event types a subscription may ask for (PagerDuty's names).
EVENT_TYPES: Final = (
    "incident.triggered",
    "incident.acknowledged",
    "incident.unacknowledged",
    "incident.resolved",
    "incident.reopened",
    "incident.escalated",
    "incident.reassigned",
    "incident.annotated",
    "incident.priority_updated",
    "service.created",
    "service.updated",
    "service.deleted",
)
#: The ones the gateway emits today (the others wait for escalation and priorities).
EMITTED: Final = (
    "incident.triggered",
    "incident.acknowledged",
    "incident.resolved",
    "incident.unacknowledged",
    "incident.annotated",
    "service.created",
    "service.updated",
    "service.deleted",
    "incident.escalated",
    "incident.reassigned",
    "incident.reopened",
)
#: What a custom header's value reads as in every answer.
REDACTED: Final = "[REDACTED]"
#: Headers the gateway sets itself; a custom header may not replace one.
RESERVED_HEADERS: Final = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "transfer-encoding",
        "connection",
        "x-pagerduty-signature",
        "x-webhook-id",
        "x-webhook-subscription",
    }
)
MAX_HEADERS: Final = 10
MAX_DESCRIPTION: Final = 1024
MAX_URL: Final = 2048
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name (RFC 9110)
TEAMS_REFUSED: Final = (
    "filter type 'team_reference' is not supported: teams do not exist in this gateway; "
    "use 'service_reference' or 'account_reference'"
)


def check_url(value: object, errors: list[str]) -> str:
    """An http or https URL (problems appended to ``errors``)."""
    if not isinstance(value, str) or not value.strip():
        errors.append("delivery_method.url must be an http or https URL")
        return ""
    url = value.strip()
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number
    except ValueError:
        parts, port = None, None
    del port
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        errors.append(f"delivery_method.url must be an http or https URL (got {url[:100]!r})")
    elif len(url) > MAX_URL:
        errors.append(f"delivery_method.url must be at most {MAX_URL} characters")
    elif any(c.isspace() for c in url):
        errors.append("delivery_method.url must not contain spaces")
    return url


def check_events(value: object, errors: list[str]) -> list[str]:
    """A non-empty list of known event types, without repeats."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        errors.append("events must be a non-empty list of event types")
        return []
    unknown = [v for v in value if v not in EVENT_TYPES]
    if unknown:
        errors.append(f"unknown event type {unknown[0]!r}; supported: {', '.join(EVENT_TYPES)}")
    if len(set(value)) != len(value):
        errors.append("events must not repeat an event type")
    return list(dict.fromkeys(value))


def check_headers(
    value: object, current: list[tuple[str, str]], errors: list[str]
) -> list[tuple[str, str]]:
    """Custom headers as ``(name, value)``; a :data:`REDACTED` value keeps ``current``'s."""
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append("delivery_method.custom_headers must be a list of {name, value} objects")
        return []
    known = {name.lower(): v for name, v in current}
    out: list[tuple[str, str]] = []
    for item in value:
        name = item.get("name") if isinstance(item, Mapping) else None
        text = item.get("value") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or not _TOKEN.match(name):
            errors.append(f"custom header name {name!r} is not a valid HTTP header name")
            continue
        if name.lower() in RESERVED_HEADERS:
            errors.append(f"custom header {name!r} is set by the gateway and cannot be replaced")
            continue
        if text == REDACTED and name.lower() in known:
            text = known[name.lower()]  # a GET answer sent back unchanged keeps the value
        if not isinstance(text, str) or any(c in text for c in "\r\n\0"):
            errors.append(f"custom header {name!r} needs a string value without line breaks")
            continue
        out.append((name, text))
    if len(out) > MAX_HEADERS:
        errors.append(f"at most {MAX_HEADERS} custom headers")
    if len({n.lower() for n, _ in out}) != len(out):
        errors.append("custom header names must not repeat")
    return out


def check_description(value: object, errors: list[str]) -> str | None:
    """A description of at most :data:`MAX_DESCRIPTION` characters, or ``None``."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        errors.append(f"description must be a string of at most {MAX_DESCRIPTION} characters")
        return None
    return value


def check_flag(label: str, value: object, errors: list[str]) -> bool:
    """A boolean."""
    if not isinstance(value, bool):
        errors.append(f"{label} must be true or false")
        return True
    return value


def check_filter(
    reader: Reader, kind: object, ident: object, errors: list[str]
) -> tuple[str, str | None]:
    """``(filter_type, filter_id)``: the account, or one live service; teams are refused."""
    if kind == ACCOUNT:
        return ACCOUNT, None
    if kind == SERVICE:
        if not isinstance(ident, str) or not ident:
            errors.append("filter.id must name a service for a service_reference filter")
        elif reader.service(ident) is None:
            errors.append(f"filter.id: service {ident} not found")
        return SERVICE, ident if isinstance(ident, str) else None
    if kind == "team_reference":
        errors.append(TEAMS_REFUSED)
    else:
        errors.append(f"filter.type must be {SERVICE} or {ACCOUNT} (got {kind!r})")
    return ACCOUNT, None


def check_secret(value: object, errors: list[str]) -> str:
    """A secret of at least 16 characters (the configuration file's)."""
    if not isinstance(value, str) or len(value) < 16:
        errors.append("secret must be a string of at least 16 characters")
        return ""
    return value

"""PagerDuty Common Event Format rules: validation and the limits every vendor obeys.

The error strings are PagerDuty's own (including the real API's typo
"maiximum"), so tools that match on them keep working. Vendor plugins use
:func:`fit_summary`, :func:`fit_dedup_key` and :func:`fit_size` to bring
native payloads inside PagerDuty's limits instead of rejecting them.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

import msgspec

from gateway.model import (
    ALERT_ACTIONS,
    MAX_DEDUP_KEY_CHARS,
    MAX_EVENT_BYTES,
    MAX_SUMMARY_CHARS,
    SEVERITIES,
    Event,
)

ROUTING_KEY_LENGTH = 32
SIZE_ERROR_DETAILS = {
    "error": "Custom details have been removed because the original event exceeds the "
    "maximum size of 512KB"
}
_ALNUM = re.compile(r"[A-Za-z0-9]+")
# ISO 8601 with a date, a time and an optional offset: +0000, +00:00 or Z.
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", re.ASCII
)
_encoder = msgspec.json.Encoder()


def missing(name: str) -> str:
    """PagerDuty's message for a required field that is absent or blank."""
    return f"'{name}' is missing or blank"


def routing_key_errors(key: str) -> list[str]:
    """Check a routing key's shape: 32 alphanumeric characters."""
    errors = []
    if len(key) != ROUTING_KEY_LENGTH:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    if not _ALNUM.fullmatch(key):
        errors.append("'routing_key' cannot contain non-alphanumeric characters.")
    return errors


def parse_timestamp(value: str) -> datetime | None:
    """Parse an ISO 8601 timestamp (``+0000``, ``+00:00`` or ``Z``); ``None`` if invalid."""
    if not _TIMESTAMP.fullmatch(value):
        return None
    text = value.replace(" ", "T")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) >= 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def validate(event: Event) -> list[str]:
    """Return every rule ``event`` breaks, as PagerDuty's error strings (empty: valid)."""
    errors = routing_key_errors(event.routing_key)
    if event.event_action == "change":
        if not event.summary:
            errors.append(missing("payload.summary"))
    elif event.event_action not in ALERT_ACTIONS:
        errors.append(
            "'event_action' is invalid (must be one of the following: "
            "'trigger', 'acknowledge' or 'resolve')"
        )
    elif event.event_action == "trigger":
        if not event.summary:
            errors.append(missing("payload.summary"))
        if not event.source:
            errors.append(missing("payload.source"))
        if not event.severity:
            errors.append(missing("payload.severity"))
        elif event.severity not in SEVERITIES:
            errors.append(
                "'payload.severity' is invalid (must be one of the following: "
                "'critical', 'warning', 'error' or 'info')"
            )
    elif not event.dedup_key:
        errors.append(missing("dedup_key"))
    if event.summary is not None and len(event.summary) > MAX_SUMMARY_CHARS:
        errors.append("'summary' is too long (maiximum is 1024 characters)")
    if event.dedup_key is not None and len(event.dedup_key) > MAX_DEDUP_KEY_CHARS:
        errors.append("'dedup_key' is too long (maximum is 255 characters)")
    if event.timestamp is not None and parse_timestamp(event.timestamp) is None:
        errors.append("'payload.timestamp' is invalid (must be an ISO 8601 date-time)")
    # No rule on a link's or an image's URL scheme: an http:// image (Grafana and other
    # self-hosted tools send them) is kept, and the UI decides how safely to show it.
    return errors


def fit_summary(text: str, *, fallback: str = "(no summary)") -> str:
    """Cut a summary to PagerDuty's limit: 1023 code points plus ``…``; never empty.

    The text is otherwise kept exactly, spaces included: only a blank one (empty or
    whitespace only, PagerDuty's "missing or blank") is replaced by ``fallback``.
    """
    if not text.strip():
        text = fallback
    if len(text) > MAX_SUMMARY_CHARS:
        return text[: MAX_SUMMARY_CHARS - 1] + "…"
    return text


def fit_dedup_key(key: str) -> str:
    """Keep a dedup key within 255 characters by hashing a longer one (SHA-256 hex)."""
    if len(key) <= MAX_DEDUP_KEY_CHARS:
        return key
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def fit_size(event: Event) -> Event:
    """Replace ``custom_details`` when the encoded event exceeds 512 KB (as Alertmanager)."""
    if len(_encoder.encode(event)) <= MAX_EVENT_BYTES:
        return event
    return msgspec.structs.replace(event, custom_details=dict(SIZE_ERROR_DETAILS))


def as_text(value: Any) -> str | None:
    """A JSON scalar as text (``None`` stays ``None``); objects are JSON-encoded."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return _encoder.encode(value).decode()

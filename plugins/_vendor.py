"""Helpers shared by the native-vendor plugins (CloudWatch, Datadog, Nagios, Alertmanager).

Native payloads are hostile input: any byte string, any JSON. These helpers
turn every way of being malformed into :class:`~gateway.pluginkit.UnrecognizedEvent`
or :class:`~gateway.pluginkit.InvalidEvent`, so a parser built on them never lets
another exception escape.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec

from gateway.pluginkit import (
    MAX_EVENT_BYTES,
    SEVERITIES,
    SIZE_ERROR_DETAILS,
    Event,
    InvalidEvent,
    UnrecognizedEvent,
    as_text,
    fit_size,
    missing,
    parse_timestamp,
)

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


class NotJson(ValueError):
    """The text is not a JSON document."""


def decode_json(data: bytes | str) -> Any:
    """Decode any JSON document, raising :class:`NotJson` for every kind of bad input."""
    try:
        return _decoder.decode(data)
    # msgspec raises UnicodeDecodeError for invalid UTF-8 and RecursionError for deep
    # nesting, neither of which is a DecodeError.
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise NotJson(str(exc)) from exc


def decode_json_object(body: bytes) -> dict[str, Any]:
    """Decode a request body that must be a JSON object, or raise ``UnrecognizedEvent``."""
    try:
        value = decode_json(body)
    except NotJson as exc:
        raise UnrecognizedEvent("JSON parse error") from exc
    if not isinstance(value, dict):
        raise UnrecognizedEvent("JSON parse error")
    return value


def invalid_type(name: str, kind: str) -> str:
    """The error string for a field of the wrong JSON type (PagerDuty's wording)."""
    return f"'{name}' is invalid (must be {kind})"


def clip(value: str, limit: int = 80) -> str:
    """A caller-supplied value, shortened for an error string or a log field."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def text(
    obj: Mapping[str, Any],
    key: str,
    errors: list[str],
    *,
    name: str | None = None,
    required: bool = False,
    scalars: bool = False,
) -> str | None:
    """Read a string field; wrong types and (when ``required``) blanks add an error.

    ``scalars`` also accepts numbers and booleans (as text), for templated
    payloads where a user may have left a ``$VARIABLE`` unquoted.
    """
    label = name or key
    value = obj.get(key)
    if value is None:
        if required:
            errors.append(missing(label))
        return None
    if isinstance(value, str):
        if required and not value.strip():
            errors.append(missing(label))
        return value
    if scalars and isinstance(value, bool | int | float):
        return as_text(value)
    errors.append(invalid_type(label, "a string"))
    return None


def loose_text(value: Any) -> str | None:
    """A non-blank string, or ``None``: for cosmetic fields that must never reject a page."""
    if isinstance(value, str) and value.strip():
        return value
    return None


def mapping(
    obj: Mapping[str, Any], key: str, errors: list[str], *, name: str | None = None
) -> dict[str, Any] | None:
    """Read an optional JSON object field; a non-object adds an error."""
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    errors.append(invalid_type(name or key, "an object"))
    return None


def rfc3339(moment: datetime) -> str | None:
    """Format an instant as RFC 3339 UTC with milliseconds (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # e.g. year 9999 with a negative offset
        return None
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}."
        f"{moment.microsecond // 1000:03d}Z"
    )


def iso_timestamp(value: Any) -> str | None:
    """Normalise an ISO 8601 timestamp to RFC 3339 UTC; ``None`` if it is not one."""
    if not isinstance(value, str):
        return None
    parsed = parse_timestamp(value.strip())
    return rfc3339(parsed) if parsed is not None else None


def epoch_timestamp(value: Any, *, millis: bool = False) -> str | None:
    """Epoch seconds (or milliseconds), as a number or a numeric string, to RFC 3339 UTC."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    elif isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float range
            return None
    else:
        return None
    if not math.isfinite(number) or number < 0:
        return None
    if millis:
        number /= 1000
    try:
        moment = datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return rfc3339(moment)


def severity_or(value: Any, default: str) -> str:
    """``value`` lowercased when it is a PD-CEF severity, else ``default``."""
    if isinstance(value, str) and value.strip().lower() in SEVERITIES:
        return value.strip().lower()
    return default


def finish(event: Event) -> Event:
    """Bring an event inside PagerDuty's size limit.

    Returns the event ready for the core, or raises :class:`InvalidEvent` when even
    the trimmed event is over 512 KB. PD-CEF's other rules (summary, source, severity,
    lengths …) are checked once, by the core's pipeline after the enrich/filter hooks.
    """
    try:
        event = fit_size(event)
        size = len(_encoder.encode(event))
    except RecursionError:  # nesting just under the decoder's limit can trip the encoder
        event = msgspec.structs.replace(event, custom_details=dict(SIZE_ERROR_DETAILS))
        size = len(_encoder.encode(event))
    if size > MAX_EVENT_BYTES:
        raise InvalidEvent(["Event object is too large (maximum is 512KB without custom_details)"])
    return event


class SeenIds:
    """A bounded, in-memory set of recently seen delivery ids (least recently used first out).

    It makes redeliveries idempotent for as long as an id stays in memory;
    the bound keeps a flood of distinct ids from growing the process.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[Hashable, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._ids

    def check_and_add(self, key: Hashable) -> bool:
        """Remember ``key``; return ``True`` if it had been seen already."""
        if key in self._ids:
            self._ids.move_to_end(key)
            return True
        self._ids[key] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return False

    def discard(self, key: Hashable) -> None:
        """Forget ``key``, so that a redelivery is processed again."""
        self._ids.pop(key, None)

    def clear(self) -> None:
        """Forget everything (tests, or an operator reset)."""
        self._ids.clear()


def setting_bool(settings: Mapping[str, Any], key: str, default: bool, errors: list[str]) -> bool:
    """A boolean integration setting (TOML ``true``/``false``)."""
    value = settings.get(key, default)
    if isinstance(value, bool):
        return value
    errors.append(f"integration setting '{key}' is invalid (must be true or false)")
    return default


def setting_choice(
    settings: Mapping[str, Any], key: str, choices: tuple[str, ...], errors: list[str]
) -> str:
    """A string integration setting restricted to ``choices`` (the first is the default)."""
    value = settings.get(key, choices[0])
    if isinstance(value, str) and value.strip().lower() in choices:
        return value.strip().lower()
    allowed = ", ".join(repr(c) for c in choices)
    errors.append(f"integration setting '{key}' is invalid (must be one of {allowed})")
    return choices[0]


def unknown_settings(settings: Mapping[str, Any], known: tuple[str, ...]) -> list[str]:
    """Errors for setting keys a vendor does not know (a typo would silently do nothing)."""
    return [
        f"integration setting '{key}' is unknown (known: {', '.join(known) or 'none'})"
        for key in settings
        if key not in known
    ]

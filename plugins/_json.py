"""Small JSON helpers shared by the built-in vendor plugins."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.errors import UnrecognizedEvent

_decoder = msgspec.json.Decoder()


def decode_object(body: bytes) -> dict[str, Any]:
    """Decode a JSON object body, or raise :class:`UnrecognizedEvent`."""
    try:
        value = _decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise UnrecognizedEvent("JSON parse error") from exc
    if not isinstance(value, dict):
        raise UnrecognizedEvent("JSON parse error")
    return value


def invalid_type(name: str, kind: str) -> str:
    """The error string for a field of the wrong JSON type."""
    return f"'{name}' is invalid (must be {kind})"

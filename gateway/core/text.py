"""The one rule on NUL (U+0000) in text, for both backends.

PostgreSQL's ``text`` cannot hold a NUL, while SQLite stores it: without this rule the
same input would be stored on one backend and answered with a 500 on the other.

- An event (any channel) is never refused over a detail, so :func:`scrub_event` replaces
  each NUL in every string of it with U+FFFD (the Unicode replacement character) before
  it is validated and stored; the event is accepted and stored identically on both.
- Everything else (REST bodies, paths, query arguments and headers, web UI forms, the
  configuration file) is written by a person or a tool that can correct it:
  :func:`nul_errors` names each field holding a NUL, and the face refuses the input
  (400, or a configuration error), changing nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from gateway.model import Event

__all__ = [
    "NUL",
    "REPLACEMENT",
    "nul_errors",
    "nul_fields",
    "nul_message",
    "scrub",
    "scrub_event",
]

NUL = "\x00"
#: What a NUL becomes in an event: U+FFFD REPLACEMENT CHARACTER.
REPLACEMENT = "\ufffd"

T = TypeVar("T")
_encoder = msgspec.json.Encoder()


def scrub(value: T) -> T:
    """``value`` with each NUL in every string (keys too, at any depth) replaced by U+FFFD.

    Walks strings, mappings, lists, tuples and msgspec structs; anything else is
    returned as it is.
    """
    result: Any
    if isinstance(value, str):
        result = value.replace(NUL, REPLACEMENT) if NUL in value else value
    elif isinstance(value, Mapping):
        result = {scrub(k): scrub(v) for k, v in value.items()}
    elif isinstance(value, list):
        result = [scrub(v) for v in value]
    elif isinstance(value, tuple):
        result = tuple(scrub(v) for v in value)
    elif isinstance(value, msgspec.Struct):
        fields = {name: scrub(getattr(value, name)) for name in value.__struct_fields__}
        result = msgspec.structs.replace(value, **fields)
    else:
        result = value
    return result  # type: ignore[no-any-return]


def scrub_event(event: Event) -> Event:
    """``event`` with every NUL replaced by U+FFFD (the same object when it has none).

    The check runs on the event's JSON (one C-level encode and a byte search), so the
    common event without a NUL costs no walk in Python.
    """
    if b"\\u0000" not in _encoder.encode(event):
        return event
    return scrub(event)


def nul_message(field: str) -> str:
    """The refusal of a NUL in ``field`` (as the REST API, the UI and the config say it)."""
    return f"'{field}' must not contain a NUL character (U+0000)"


def nul_errors(value: object, field: str = "") -> list[str]:
    """One :func:`nul_message` per field of ``value`` holding a NUL (:func:`nul_fields`)."""
    return [nul_message(name) for name in nul_fields(value, field)]


def nul_fields(value: object, field: str = "") -> list[str]:
    """The path of each field of ``value`` holding a NUL (a string, at any depth).

    ``field`` is the path of ``value`` itself (``service``); a key is named
    ``service.name``, a list item ``rules[0]``. A NUL inside a key names the key
    (its NUL shown as U+FFFD). An empty ``field`` for a bare string is ``body``.
    """
    found: list[str] = []
    _collect(value, field, found)
    return found


def _collect(value: object, field: str, found: list[str]) -> None:
    if isinstance(value, str):
        if NUL in value:
            found.append(field or "body")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            name = f"{field}.{key}" if field else str(key)
            if isinstance(key, str) and NUL in key:
                found.append(name.replace(NUL, REPLACEMENT))
                continue
            _collect(item, name, found)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _collect(item, f"{field}[{index}]", found)

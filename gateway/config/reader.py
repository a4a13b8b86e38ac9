"""Reading TOML tables with line locations, so every error can name its key and line.

``tomllib`` gives values without positions; :func:`locate_keys` scans the text once for
table headers and assignments, and :class:`Reader` uses that map to attach a line number
to every :class:`~gateway.errors.ConfigError` it raises.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from gateway import cef
from gateway.errors import ConfigError

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
_ASSIGN = re.compile(r'^\s*("?[A-Za-z0-9_.\-]+"?)\s*=')


def locate_keys(text: str) -> dict[str, int]:
    """Map each key path (``services[0].integrations[1].type``) to its line number."""
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}
    current = ""

    def resolve(parts: list[str], *, index_last: bool) -> str:
        # Each array-of-tables prefix points at its newest element.
        path = ""
        for i, part in enumerate(parts):
            path = f"{path}.{part}" if path else part
            if path in counts and (index_last or i < len(parts) - 1):
                path = f"{path}[{counts[path] - 1}]"
        return path

    for number, raw in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(raw)
        if header:
            parts = [p.strip() for p in header.group(2).replace('"', "").split(".")]
            if header.group(1) == "[[":
                base = resolve(parts, index_last=False)
                index = counts.get(base, 0)
                counts[base] = index + 1
                current = f"{base}[{index}]"
            else:
                current = resolve(parts, index_last=True)
            lines.setdefault(current, number)
            continue
        assign = _ASSIGN.match(raw)
        if assign:
            key = assign.group(1).strip('"')
            lines.setdefault(f"{current}.{key}" if current else key, number)
    return lines


class Reader:
    """Pulls typed values out of a TOML table, raising errors with key and line."""

    def __init__(self, lines: dict[str, int]) -> None:
        self.lines = lines

    def error(self, message: str, key: str) -> ConfigError:
        """A :class:`ConfigError` for ``key``, at its line or the nearest enclosing table's."""
        line = self.lines.get(key)
        probe = key
        while line is None and ("." in probe or "[" in probe):
            probe = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", probe)
            line = self.lines.get(probe)
        return ConfigError(message, key=key, line=line)

    def table(self, data: dict[str, Any], name: str, prefix: str = "") -> dict[str, Any]:
        """The table ``name`` in ``data`` (empty if absent); an error if it is not a table."""
        key = f"{prefix}{name}"
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise self.error("must be a table", key)
        return value

    def array(self, data: dict[str, Any], name: str, prefix: str = "") -> list[dict[str, Any]]:
        """The array of tables ``name`` in ``data`` (empty if absent)."""
        key = f"{prefix}{name}"
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(f"must be an array of tables ([[{key}]])", key)
        return value

    def string(
        self,
        data: dict[str, Any],
        name: str,
        key: str,
        *,
        default: str | None = None,
        required: bool = False,
        choices: tuple[str, ...] | None = None,
    ) -> str | None:
        """A string value, checked against ``required`` and ``choices``; None if absent."""
        value = data.get(name, default)
        if value is None:
            if required:
                raise self.error("is required", key)
            return None
        if not isinstance(value, str):
            raise self.error("must be a string", key)
        if required and not value.strip():
            raise self.error("must not be empty", key)
        if choices and value not in choices:
            raise self.error(f"must be one of {', '.join(choices)} (got {value!r})", key)
        return value

    def integer(
        self,
        data: dict[str, Any],
        name: str,
        key: str,
        *,
        default: int | None = None,
        minimum: int = 0,
    ) -> int | None:
        """An integer value of at least ``minimum`` (booleans refused); None if absent."""
        value = data.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error("must be an integer", key)
        if value < minimum:
            raise self.error(f"must be at least {minimum}", key)
        return value

    def number(self, data: dict[str, Any], name: str, key: str, default: float) -> float:
        """A non-negative int or float value, as a float."""
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.error("must be a non-negative number", key)
        return float(value)

    def strings(self, data: dict[str, Any], name: str, key: str) -> tuple[str, ...]:
        """An array of strings, as a tuple (empty if absent)."""
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error("must be an array of strings", key)
        return tuple(value)

    def only(self, data: dict[str, Any], allowed: set[str], prefix: str) -> None:
        """Refuse any key of ``data`` not in ``allowed`` (a typo should not pass silently)."""
        for name in data:
            if name not in allowed:
                raise self.error(
                    f"unknown key (allowed: {', '.join(sorted(allowed))})", f"{prefix}{name}"
                )

    def when(self, data: dict[str, Any], name: str, key: str) -> datetime:
        """A required date-time (TOML or RFC 3339 text); naive values are taken as UTC."""
        value = data.get(name)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, str):
            parsed = cef.parse_timestamp(value)
            if parsed is not None:
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if isinstance(value, date) or value is not None:
            raise self.error("must be a date-time such as 2026-11-22T10:00:00Z", key)
        raise self.error("is required", key)

"""The value checks of on-call schedules: each returns problems as sentences, all at once.

:mod:`gateway.core.schedules` gathers them and refuses a change with one
:class:`~gateway.errors.Invalid` listing every problem, so a client fixes its body in one
round. What the values mean is :mod:`gateway.core.oncall`'s.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.clock import iso
from gateway.core.inputs import parse_time
from gateway.core.oncall import DAY, Restriction
from gateway.errors import Invalid

__all__ = [
    "DAILY",
    "FIRST_YEAR",
    "LAST_YEAR",
    "MAX_LAYERS",
    "MAX_TURN",
    "MIN_TURN",
    "WEEKLY",
    "check_layers",
    "check_time_zone",
    "check_user_ids",
    "layer_user_ids",
    "restriction_of",
    "time_problem",
]

DAILY = "daily_restriction"
WEEKLY = "weekly_restriction"
MAX_LAYERS = 50
#: Turns shorter than a minute are not a rotation people work; longer than five years, a typo.
MIN_TURN = 60
MAX_TURN = 5 * 365 * 86400
#: Times outside these years are typos, and would overflow date arithmetic near year 9999.
FIRST_YEAR, LAST_YEAR = 1970, 2999
MAX_USERS = 500
_TIME_OF_DAY = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2}))?$")


def check_time_zone(value: object, problems: list[str]) -> str:
    """``value`` as an IANA zone name (``Europe/Berlin``); a problem when it is not one."""
    if not isinstance(value, str) or not value.strip():
        problems.append("time_zone is required: an IANA time zone such as Europe/Berlin")
        return "UTC"
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            f"time_zone {value!r} is not a known IANA time zone (such as Europe/Berlin or UTC)"
        )
        return "UTC"
    return value.strip()


def time_problem(value: object, name: str) -> tuple[datetime | None, str | None]:
    """``(parsed, None)`` or ``(None, why)`` for an ISO 8601 date-time field."""
    try:
        parsed = parse_time(value, name)  # type: ignore[arg-type]
    except Invalid as exc:
        return None, exc.errors[0]
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        return None, f"'{name}' must be between the years {FIRST_YEAR} and {LAST_YEAR}"
    return parsed, None


def _user_id(item: object) -> object:
    """The id in ``{"user": {"id": ...}}``, ``{"id": ...}`` or a bare id."""
    if isinstance(item, Mapping):
        inner = item.get("user", item)
        return inner.get("id") if isinstance(inner, Mapping) else inner
    return item


def layer_user_ids(raw: object) -> list[object]:
    """The user ids a layer's ``users`` list names, in order (unchecked)."""
    return [_user_id(item) for item in raw] if isinstance(raw, list) else []


def check_user_ids(
    ids: list[object], where: str, user_problem: Callable[[str], str | None], problems: list[str]
) -> list[str]:
    """The ids as strings, each asked of ``user_problem`` (unknown users are problems)."""
    out: list[str] = []
    for user_id in ids:
        if not isinstance(user_id, str) or not user_id.strip():
            problems.append(f"{where}: every user needs an id (as {{'user': {{'id': ...}}}})")
            continue
        why = user_problem(user_id)
        if why is not None:
            problems.append(f"{where}: {why}")
        out.append(user_id)
    return out


def _restriction(raw: object, where: str, problems: list[str]) -> dict[str, Any] | None:
    """One restriction object, normalised (``start_time_of_day`` as ``HH:MM:SS``)."""
    if not isinstance(raw, Mapping):
        problems.append(f"{where} must be an object")
        return None
    kind = raw.get("type")
    if kind not in (DAILY, WEEKLY):
        problems.append(f"{where}.type must be {DAILY} or {WEEKLY}")
        return None
    start = raw.get("start_time_of_day")
    match = _TIME_OF_DAY.match(start) if isinstance(start, str) else None
    hh, mm, ss = (int(match[1]), int(match[2]), int(match[3] or 0)) if match else (99, 0, 0)
    if hh > 23 or mm > 59 or ss > 59:
        problems.append(f"{where}.start_time_of_day must be a time of day as HH:MM:SS")
    longest = DAY if kind == DAILY else 7 * DAY
    duration = raw.get("duration_seconds")
    if not isinstance(duration, int) or isinstance(duration, bool) or not 0 < duration <= longest:
        problems.append(f"{where}.duration_seconds must be an integer from 1 to {longest}")
    out: dict[str, Any] = {
        "type": kind,
        "start_time_of_day": f"{hh:02d}:{mm:02d}:{ss:02d}",
        "duration_seconds": duration,
    }
    if kind == WEEKLY:
        day = raw.get("start_day_of_week")
        if not isinstance(day, int) or isinstance(day, bool) or not 1 <= day <= 7:
            problems.append(f"{where}.start_day_of_week must be 1 (Monday) to 7 (Sunday)")
        out["start_day_of_week"] = day
    return out


def restriction_of(stored: Mapping[str, Any]) -> Restriction:
    """A checked, stored restriction as the arithmetic's :class:`Restriction`."""
    hh, mm, ss = (int(part) for part in str(stored["start_time_of_day"]).split(":"))
    return Restriction(
        type=str(stored["type"]),
        start_time_of_day=time(hh, mm, ss),
        duration_seconds=int(stored["duration_seconds"]),
        start_day_of_week=stored.get("start_day_of_week"),
    )


def _layer(
    raw: object, where: str, user_problem: Callable[[str], str | None], problems: list[str]
) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where} must be an object")
        return None
    start, why = time_problem(raw.get("start"), f"{where}.start")
    if why:
        problems.append(why)
    end = None
    if raw.get("end") is not None:
        end, why = time_problem(raw.get("end"), f"{where}.end")
        if why:
            problems.append(why)
        elif start is not None and end is not None and end <= start:
            problems.append(f"{where}.end must be after its start")
    virtual = raw.get("rotation_virtual_start", raw.get("start"))
    origin, why = time_problem(virtual, f"{where}.rotation_virtual_start")
    if why:
        problems.append(why)
    turn = raw.get("rotation_turn_length_seconds")
    if not isinstance(turn, int) or isinstance(turn, bool) or turn <= 0:
        problems.append(f"{where}.rotation_turn_length_seconds must be a positive integer")
    elif not MIN_TURN <= turn <= MAX_TURN:
        problems.append(
            f"{where}.rotation_turn_length_seconds must be from {MIN_TURN} (a minute) "
            f"to {MAX_TURN} (five years)"
        )
    users_raw = raw.get("users")
    if not isinstance(users_raw, list) or not users_raw:
        problems.append(f"{where}.users must list at least one user")
    elif len(users_raw) > MAX_USERS:
        problems.append(f"{where}.users may list at most {MAX_USERS} users")
    users = check_user_ids(layer_user_ids(users_raw), f"{where}.users", user_problem, problems)
    restrictions_raw = raw.get("restrictions") or []
    if not isinstance(restrictions_raw, list):
        problems.append(f"{where}.restrictions must be a list")
        restrictions_raw = []
    restrictions = [
        _restriction(r, f"{where}.restrictions[{i}]", problems)
        for i, r in enumerate(restrictions_raw)
    ]
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        problems.append(f"{where}.name must be text")
    if start is None or origin is None:
        return None
    return {
        "id": raw.get("id") if isinstance(raw.get("id"), str) else None,
        "name": name if isinstance(name, str) else None,
        "start": iso(start),
        "end": iso(end) if end is not None else None,
        "rotation_virtual_start": iso(origin),
        "rotation_turn_length_seconds": turn,
        "users": users,
        "restrictions": [r for r in restrictions if r is not None],
    }


def check_layers(
    raw: object, user_problem: Callable[[str], str | None], problems: list[str]
) -> list[dict[str, Any]]:
    """``schedule_layers`` normalised for the store (times ISO UTC), problems collected."""
    if not isinstance(raw, list) or not raw:
        problems.append("schedule_layers must list at least one layer")
        return []
    if len(raw) > MAX_LAYERS:
        problems.append(f"schedule_layers may list at most {MAX_LAYERS} layers")
        return []
    layers = [
        _layer(item, f"schedule_layers[{i}]", user_problem, problems) for i, item in enumerate(raw)
    ]
    return [layer for layer in layers if layer is not None]

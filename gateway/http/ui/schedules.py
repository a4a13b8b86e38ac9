"""On-call schedules in the web UI: the list (who is on call now and next) and one schedule's
week, day by day, with its layers and overrides.

Pages over :mod:`gateway.core.schedules` and :mod:`gateway.core.oncall`, as the REST API
reads them. The forms that write schedules are :mod:`gateway.http.ui.schedule_forms` and
:mod:`gateway.http.ui.schedule_overrides`; both answer a refusal with :func:`schedule_view`.
Times are shown in the schedule's own zone, the exact UTC instant on hover.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from quart import request
from quart.typing import ResponseReturnValue

from gateway.auth import Level
from gateway.clock import iso, parse_iso
from gateway.core import oncall, schedules, users
from gateway.core.schedules import ScheduleDetails
from gateway.domain import StoredOverride
from gateway.http.ui._web import blueprint, page, read, requires
from gateway.http.ui.words import exact_time
from gateway.store import Reader

#: How far around now the list looks for the current shift's bounds and the next one.
HORIZON = timedelta(days=35)
DAY = 86400
#: Overrides not yet over that a schedule's page lists (the REST API lists every one).
OVERRIDES_SHOWN = 100


@dataclass(frozen=True, slots=True)
class Shift:
    """An entry as a page shows it: a name (and the user's id for the link), and both ends as
    ISO text, local clock time and the exact UTC time."""

    user_id: str
    name: str
    start: str
    end: str
    start_local: str
    end_local: str
    start_exact: str
    end_exact: str


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    """A schedule in the list: who is on call now and who is next."""

    details: ScheduleDetails
    now: Shift | None
    next: Shift | None


@dataclass(frozen=True, slots=True)
class Day:
    """One local date of the week view and the final schedule's shifts that touch it."""

    label: str
    shifts: list[Shift]


def _name(reader: Reader, user_id: str) -> str:
    return schedules.user_summary(reader, user_id) or user_id


def _shift(reader: Reader, entry: oncall.Entry, zone: ZoneInfo) -> Shift:
    def local(when: datetime) -> str:
        return when.astimezone(zone).strftime("%a %H:%M")

    return Shift(
        entry.user_id,
        _name(reader, entry.user_id),
        iso(entry.start),
        iso(entry.end),
        local(entry.start),
        local(entry.end),
        exact_time(iso(entry.start)),
        exact_time(iso(entry.end)),
    )


def _row(reader: Reader, details: ScheduleDetails, now: datetime) -> ScheduleRow:
    # Short turns look less far, so one schedule of minute-long turns cannot slow the list.
    shortest = min((la.rotation_turn_length_seconds for la in details.layers), default=DAY)
    horizon = min(HORIZON, timedelta(seconds=shortest * 500))
    around = schedules.get_schedule(
        reader, details.schedule.id, since=now - horizon, until=now + horizon
    )
    computed = schedules.as_oncall(around)
    zone = ZoneInfo(details.schedule.time_zone)
    current = oncall.shift_at(computed, now, horizon)
    upcoming = oncall.next_shift(computed, current.end if current else now, horizon)
    return ScheduleRow(
        details,
        _shift(reader, current, zone) if current else None,
        _shift(reader, upcoming, zone) if upcoming else None,
    )


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _duration(seconds: int) -> str:
    """``1 week``, ``12 hours``, ``1 day 6 hours``: a turn or window length in words."""
    parts = []
    for size, unit in ((604800, "week"), (86400, "day"), (3600, "hour"), (60, "minute")):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    if seconds:
        parts.append(f"{seconds} second{'s' if seconds != 1 else ''}")
    return " ".join(parts) or "0 seconds"


def _restriction_words(restriction: dict[str, object]) -> str:
    """``every day from 09:00 for 8 hours`` / ``from Monday 09:00 for 4 days 8 hours``."""
    at = str(restriction.get("start_time_of_day", ""))[:5]
    length = _duration(int(str(restriction.get("duration_seconds", 0))))
    day = restriction.get("start_day_of_week")
    if restriction.get("type") == "weekly_restriction" and isinstance(day, int):
        return f"every week from {_DAYS[day - 1]} {at} for {length}"
    return f"every day from {at} for {length}"


@blueprint.get("/schedules")
@requires(Level.VIEW)
async def schedule_list() -> ResponseReturnValue:
    """Every schedule with who is on call now (until when) and who is next (from when)."""

    def rows(reader: Reader) -> list[ScheduleRow]:
        now = reader.clock.now()
        return [_row(reader, d, now) for d in schedules.list_schedules(reader)]

    return await page("schedules.html", rows=await read(rows))


def _week_start(raw: str | None, now: datetime, zone: ZoneInfo) -> date:
    """The Monday of ``?week=YYYY-MM-DD`` (any day of it), else of this week, in ``zone``."""
    day = now.astimezone(zone).date()
    if raw:
        with suppress(ValueError):  # a bad date shows this week rather than an error page
            day = date.fromisoformat(raw)
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True, slots=True)
class OverrideRow:
    """An override as the page lists it, with its id for the remove button."""

    id: str
    shift: Shift


def _overrides(
    reader: Reader, schedule_id: str, week: tuple[StoredOverride, ...], zone: ZoneInfo
) -> list[OverrideRow]:
    """The week's overrides and the first :data:`OVERRIDES_SHOWN` not yet over, by start."""
    found = {o.id: o for o in week}
    ahead = schedules.get_schedule(reader, schedule_id, since=reader.clock.now()).overrides
    found.update((o.id, o) for o in sorted(ahead, key=lambda o: o.start)[:OVERRIDES_SHOWN])
    ordered = sorted(found.values(), key=lambda o: (o.start, o.created_at))
    return [
        OverrideRow(
            o.id,
            _shift(reader, oncall.Entry(o.user_id, parse_iso(o.start), parse_iso(o.end)), zone),
        )
        for o in ordered
    ]


@blueprint.get("/schedules/<schedule_id>")
@requires(Level.VIEW)
async def schedule_page(schedule_id: str) -> ResponseReturnValue:
    """One schedule's week (``?week=`` picks another), its layers and its overrides."""
    return await schedule_view(schedule_id, week=request.args.get("week"))


async def schedule_view(
    schedule_id: str,
    *,
    week: str | None = None,
    errors: list[str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """The schedule's page; a refused form shows it again with ``errors`` and its ``values``."""

    def view(reader: Reader) -> dict[str, Any]:
        found = schedules.get_schedule(reader, schedule_id).schedule
        zone = ZoneInfo(found.time_zone)
        monday = _week_start(week, reader.clock.now(), zone)
        bounds = [
            datetime.combine(monday + timedelta(days=i), datetime.min.time(), zone)
            for i in range(8)
        ]
        details, rendered = schedules.render_schedule(reader, schedule_id, bounds[0], bounds[7])
        days = []
        for i in range(7):
            start, end = bounds[i], bounds[i + 1]
            shifts = [
                _shift(reader, e, zone) for e in rendered.final if e.start < end and e.end > start
            ]
            days.append(Day(start.strftime("%A %d %B"), shifts))
        names = {u: _name(reader, u) for u in details.user_ids}
        layers = [
            {
                "name": layer.name or f"Layer {layer.position + 1}",
                "users": [(u, names[u]) for u in layer.users],
                "turn": _duration(layer.rotation_turn_length_seconds),
                "restrictions": [_restriction_words(r) for r in layer.restrictions],
            }
            for layer in details.layers
        ]
        return {
            "details": details,
            "days": days,
            "layers": layers,
            "overrides": _overrides(reader, schedule_id, details.overrides, zone),
            "people": [(u.id, f"{u.name} ({u.email})") for u in users.list_users(reader)],
            "coverage": rendered.final_coverage,
            "previous": (monday - timedelta(days=7)).isoformat(),
            "following": (monday + timedelta(days=7)).isoformat(),
            "week_of": monday.strftime("%d %B %Y"),
        }

    shown = await read(view)
    return await page(
        "schedule.html", status=status, errors=errors or [], values=values or {}, **shown
    )

"""Writing on-call schedules in the web UI: the new-schedule and edit forms, and deleting one.

One form holds the schedule's name, time zone and description, and its layers: each
layer's start, rotation start and optional end (wall-clock times in the schedule's zone),
its turn length (a preset or a number of minutes, hours or days), its users in turn order
(chosen by name) and its optional daily or weekly restrictions. Layers are added, removed
and moved with the form's own buttons (:mod:`gateway.http.ui.form_lists`). Saving calls
:func:`gateway.core.schedules.create_schedule` or ``update_schedule`` and deleting
``delete_schedule``, as the REST API does; a refusal shows the form (or the schedule's page)
again with every problem, nothing changed. Overrides are
:mod:`gateway.http.ui.schedule_overrides`'.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from quart import request
from quart.typing import ResponseReturnValue

from gateway.auth import Level
from gateway.clock import parse_iso
from gateway.core import schedules, users
from gateway.core.schedule_checks import DAILY, WEEKLY
from gateway.core.schedules import ScheduleDetails
from gateway.domain import StoredLayer
from gateway.errors import Invalid, Refused
from gateway.http.ui._web import agent, back, blueprint, form, page, read, requires, write
from gateway.http.ui.form_lists import (
    MAX_ITEMS,
    SELECT_LIMIT,
    apply_action,
    form_problems,
    refusal_status,
    user_ref,
    whole_number,
)
from gateway.http.ui.schedules import schedule_view
from gateway.store import Reader

#: Turn lengths offered by name; anything else is "custom" (a number and a unit).
TURN_PRESETS = {
    "86400": "1 day",
    "604800": "1 week",
    "1209600": "2 weeks",
    "43200": "12 hours",
    "28800": "8 hours",
}
UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def zone_of(name: str) -> ZoneInfo:
    """The zone the form's times are read in: the chosen one, UTC while it is not a zone
    (the core then refuses the name, so nothing is stored in the wrong zone)."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_text(stamp: str | None, zone: ZoneInfo) -> str:
    """An ISO UTC time as a ``datetime-local`` field shows it in ``zone``."""
    if not stamp:
        return ""
    when = parse_iso(stamp).astimezone(zone)
    return when.strftime("%Y-%m-%dT%H:%M:%S" if when.second else "%Y-%m-%dT%H:%M")


def from_local(text: str, zone: ZoneInfo) -> str:
    """A ``datetime-local`` field's wall-clock time in ``zone`` as ISO text with its offset.

    Text that is no date-time goes through unchanged: the core refuses it naming the field.
    A time that does not exist locally (the spring-forward gap) lands as far past the jump
    as it was meant to be, the schedules' own rule (docs/schedules.md).
    """
    try:
        when = datetime.fromisoformat(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone)
        return when.astimezone(UTC).isoformat()
    except (ValueError, OverflowError):  # year 1 or 9999 may leave datetime's range in UTC
        return text


def _time_of_day(stored: str) -> str:
    """``09:00:00`` as the form shows it, ``09:00`` (seconds only when there are some)."""
    return stored[:5] if stored.endswith(":00") else stored


def _hours(seconds: int) -> str:
    hours = seconds / 3600
    return str(int(hours)) if hours == int(hours) else f"{hours:g}"


@dataclass(slots=True)
class RestrictionForm:
    """A restriction as typed: ``type`` empty for "none"; ``hours`` its length."""

    type: str = ""
    day: str = "1"
    start: str = "09:00"
    hours: str = "8"

    def data(self) -> dict[str, object]:
        """PagerDuty's restriction object (unchecked: the core checks it)."""
        try:
            seconds: object = round(float(self.hours) * 3600)
        except (ValueError, OverflowError):  # "nan", "inf": the core names the field
            seconds = self.hours
        out: dict[str, object] = {
            "type": self.type,
            "start_time_of_day": self.start,
            "duration_seconds": seconds,
        }
        if self.type == WEEKLY:
            out["start_day_of_week"] = whole_number(self.day)
        return out


@dataclass(slots=True)
class LayerForm:
    """A layer as typed; times are wall-clock text in the schedule's zone."""

    id: str = ""
    name: str = ""
    start: str = ""
    virtual_start: str = ""
    end: str = ""
    turn: str = "604800"
    turn_count: str = "1"
    turn_unit: str = "days"
    users: list[str] = field(default_factory=list)
    restrictions: list[RestrictionForm] = field(default_factory=list)

    @classmethod
    def of(cls, layer: StoredLayer, zone: ZoneInfo) -> LayerForm:
        """The form's layer filled from a stored one."""
        seconds = layer.rotation_turn_length_seconds
        unit = next((u for u in ("days", "hours") if seconds % UNITS[u] == 0), "minutes")
        return cls(
            layer.id,
            layer.name or "",
            local_text(layer.start, zone),
            local_text(layer.rotation_virtual_start, zone),
            local_text(layer.end, zone),
            str(seconds) if str(seconds) in TURN_PRESETS else "custom",
            f"{seconds / UNITS[unit]:g}",
            unit,
            list(layer.users),
            [
                RestrictionForm(
                    str(r.get("type", "")),
                    str(r.get("start_day_of_week") or 1),
                    _time_of_day(str(r.get("start_time_of_day", ""))),
                    _hours(int(r.get("duration_seconds", 0))),
                )
                for r in layer.restrictions
            ],
        )

    def turn_seconds(self) -> object:
        """The turn length in seconds (text the core refuses when it is no number)."""
        if self.turn != "custom":
            return whole_number(self.turn)
        try:  # 1.5 hours is 5400 seconds: only the seconds must be whole
            return round(float(self.turn_count) * UNITS[self.turn_unit])
        except (ValueError, KeyError, OverflowError):
            return self.turn_count

    def data(self, zone: ZoneInfo) -> dict[str, Any]:
        """PagerDuty's layer object, times with their offset (unchecked)."""
        out: dict[str, Any] = {
            "id": self.id or None,
            "name": self.name or None,
            "start": from_local(self.start, zone),
            "rotation_turn_length_seconds": self.turn_seconds(),
            "users": list(self.users),
            "restrictions": [r.data() for r in self.restrictions if r.type],
        }
        if self.virtual_start:  # left out, the rotation starts at the layer's start
            out["rotation_virtual_start"] = from_local(self.virtual_start, zone)
        if self.end:
            out["end"] = from_local(self.end, zone)
        return out


@dataclass(slots=True)
class ScheduleForm:
    """The whole form: the schedule's fields and its layers, in order."""

    name: str = ""
    time_zone: str = "UTC"
    description: str = ""
    layers: list[LayerForm] = field(default_factory=list)

    @classmethod
    def of(cls, details: ScheduleDetails) -> ScheduleForm:
        """The form filled from a stored schedule."""
        found = details.schedule
        zone = zone_of(found.time_zone)
        return cls(
            found.name,
            found.time_zone,
            found.description or "",
            [LayerForm.of(layer, zone) for layer in details.layers],
        )

    def data(self) -> schedules.ScheduleInput:
        """What the core checks and stores."""
        zone = zone_of(self.time_zone)
        return schedules.ScheduleInput(
            name=self.name,
            time_zone=self.time_zone,
            layers=[layer.data(zone) for layer in self.layers],
            description=self.description or None,
        )


def _count(values: Mapping[str, str], key: str) -> int:
    found = whole_number(values.get(key, "0"))
    return min(found, MAX_ITEMS) if isinstance(found, int) else 0


def read_form(values: Mapping[str, str], lists: Mapping[str, list[str]]) -> ScheduleForm:
    """The form as posted: ``layer-N-…`` and ``layer-N-rM-…`` fields."""
    layers = []
    for n in range(_count(values, "layers")):
        key = f"layer-{n}-"
        restrictions = [
            RestrictionForm(
                values.get(f"{key}r{m}-type", ""),
                values.get(f"{key}r{m}-day", "1"),
                values.get(f"{key}r{m}-start", ""),
                values.get(f"{key}r{m}-hours", ""),
            )
            for m in range(_count(values, f"{key}restrictions"))
        ]
        layers.append(
            LayerForm(
                values.get(f"{key}id", ""),
                values.get(f"{key}name", ""),
                values.get(f"{key}start", ""),
                values.get(f"{key}virtual_start", ""),
                values.get(f"{key}end", ""),
                values.get(f"{key}turn", ""),
                values.get(f"{key}turn_count", ""),
                values.get(f"{key}turn_unit", ""),
                [u.strip() for u in lists.get(f"{key}user", []) if u.strip()],
                restrictions,
            )
        )
    return ScheduleForm(
        values.get("name", ""), values.get("time_zone", ""), values.get("description", ""), layers
    )


@cache
def zone_names() -> list[str]:
    """Every IANA zone name, for the time zone field's suggestions."""
    return sorted(available_timezones())


def new_layer(now: datetime, zone_name: str = "UTC") -> LayerForm:
    """A blank layer starting at the current hour in the schedule's zone, weekly turns."""
    hour = now.astimezone(zone_of(zone_name)).replace(minute=0, second=0, microsecond=0)
    return LayerForm(start=hour.strftime("%Y-%m-%dT%H:%M"))


async def _now() -> datetime:
    return await read(lambda r: r.clock.now())


async def _form_page(
    details: ScheduleDetails | None,
    filled: ScheduleForm,
    errors: list[str],
    *,
    status: int | None = None,
) -> ResponseReturnValue:
    people = await read(lambda r: [(u.id, u.name, u.email) for u in users.list_users(r)])
    return await page(
        "schedule_form.html",
        status=status or (400 if errors else 200),
        details=details,
        filled=filled,
        errors=errors,
        people=people,
        emails={uid: email for uid, _, email in people},
        many_people=len(people) > SELECT_LIMIT,
        presets=TURN_PRESETS,
        units=list(UNITS),
        weekdays=WEEKDAYS,
        zones=zone_names(),
        restriction_types={DAILY: "every day", WEEKLY: "every week"},
    )


async def _posted() -> tuple[ScheduleForm, str]:
    values = await form()
    raw = await request.form
    lists = {key: raw.getlist(key) for key in raw if key.endswith("-user")}
    filled = read_form(values, lists)

    def resolve(reader: Reader) -> None:  # a text box names people by email (or id)
        for layer in filled.layers:
            layer.users = [user_ref(reader, ref) for ref in layer.users]

    await read(resolve)
    action = values.get("action", "save")
    # "add-restriction-N" gives layer N a restriction row; the list buttons move layers.
    if action.startswith("add-restriction-"):
        index = whole_number(action.removeprefix("add-restriction-"))
        if isinstance(index, int) and 0 <= index < len(filled.layers):
            filled.layers[index].restrictions.append(RestrictionForm(type=DAILY))
        return filled, "more"
    now = await _now()
    if apply_action(filled.layers, action, lambda: new_layer(now, filled.time_zone)):
        return filled, "more"
    return filled, action


@blueprint.get("/schedules/new")
@requires(Level.MANAGE)
async def schedule_new() -> ResponseReturnValue:
    """The new-schedule form, with one weekly layer to fill."""
    return await _form_page(None, ScheduleForm(layers=[new_layer(await _now())]), [])


@blueprint.post("/schedules/new")
@requires(Level.MANAGE)
async def schedule_create() -> ResponseReturnValue:
    """Change the form's layers (the form again), or create the schedule."""
    filled, action = await _posted()
    if action != "save":
        return await _form_page(None, filled, [])
    data, by = filled.data(), agent()
    try:
        made = await write(lambda tx: schedules.create_schedule(tx, data, by=by))
    except (Invalid, Refused) as exc:
        return await _form_page(None, filled, form_problems(exc), status=refusal_status(exc))
    name = made.schedule.name
    return back("ui.schedule_page", f"Schedule {name} created.", schedule_id=made.schedule.id)


@blueprint.get("/schedules/<schedule_id>/edit")
@requires(Level.MANAGE)
async def schedule_edit(schedule_id: str) -> ResponseReturnValue:
    """The edit form, filled from the schedule."""
    details = await read(lambda r: schedules.get_schedule(r, schedule_id))
    return await _form_page(details, ScheduleForm.of(details), [])


@blueprint.post("/schedules/<schedule_id>/edit")
@requires(Level.MANAGE)
async def schedule_update(schedule_id: str) -> ResponseReturnValue:
    """Change the form's layers (the form again), or save the schedule and all its layers."""
    details = await read(lambda r: schedules.get_schedule(r, schedule_id))
    filled, action = await _posted()
    if action != "save":
        return await _form_page(details, filled, [])
    data, by = filled.data(), agent()
    try:
        await write(lambda tx: schedules.update_schedule(tx, schedule_id, data, by=by))
    except (Invalid, Refused) as exc:
        return await _form_page(details, filled, form_problems(exc), status=refusal_status(exc))
    return back("ui.schedule_page", "Schedule saved.", schedule_id=schedule_id)


@blueprint.post("/schedules/<schedule_id>/delete")
@requires(Level.MANAGE)
async def schedule_delete(schedule_id: str) -> ResponseReturnValue:
    """Delete the schedule; refused (its page again, saying why) while a policy targets it."""
    by = agent()
    try:
        await write(lambda tx: schedules.delete_schedule(tx, schedule_id, by=by))
    except (Invalid, Refused) as exc:
        return await schedule_view(
            schedule_id, errors=form_problems(exc), status=refusal_status(exc)
        )
    return back("ui.schedule_list", "Schedule deleted.")

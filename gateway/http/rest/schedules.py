"""REST resource: on-call schedules (``/schedules``), their overrides and on-call users.

Thin HTTP over :mod:`gateway.core.schedules`. PagerDuty's routes and shapes: list, create,
get (``since``/``until`` render each layer's ``rendered_schedule_entries``, the
``overrides_subschedule`` and the ``final_schedule``; ``time_zone`` chooses the zone the
times are written in, the schedule's own by default), update, delete; overrides (list,
create, delete); ``/schedules/{id}/users``: who is on call in ``since``/``until``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from quart import Blueprint, request

from gateway.auth import Level
from gateway.core import oncall, schedules
from gateway.core.inputs import parse_time
from gateway.core.schedule_checks import check_time_zone, layer_user_ids
from gateway.domain import StoredLayer, StoredOverride
from gateway.errors import Invalid
from gateway.http.rest._common import (
    context,
    html_url,
    invalid,
    json_value,
    page_args,
    paginated,
    reference,
    requires,
)
from gateway.http.rest.services import agent
from gateway.store import Reader

blueprint = Blueprint("rest_schedules", __name__)

ROOT = "schedule"
#: ``/schedules/{id}/users`` without ``until``: who is on call over the next day.
DEFAULT_USERS_SPAN = timedelta(days=1)


# -- rendering --------------------------------------------------------------------------------


class _Writer:
    """Times in one zone (PagerDuty writes them with the offset) and user references."""

    def __init__(self, reader: Reader, zone: str) -> None:
        self.reader = reader
        self.zone = ZoneInfo(zone)

    def time(self, value: datetime | str | None) -> str | None:
        if value is None:
            return None
        when = parse_time(value, "time") if isinstance(value, str) else value
        return when.astimezone(self.zone).isoformat(timespec="seconds")

    def user(self, user_id: str) -> dict[str, Any]:
        summary = schedules.user_summary(self.reader, user_id)
        return reference("user", user_id, summary, f"/users/{user_id}")

    def entries(self, entries: Sequence[oncall.Entry]) -> list[dict[str, Any]]:
        return [
            {"start": self.time(e.start), "end": self.time(e.end), "user": self.user(e.user_id)}
            for e in entries
        ]

    def override(self, found: StoredOverride) -> dict[str, Any]:
        return {
            "id": found.id,
            "type": "override",
            "start": self.time(found.start),
            "end": self.time(found.end),
            "user": self.user(found.user_id),
        }


def _layer_body(
    w: _Writer, layer: StoredLayer, entries: Sequence[oncall.Entry] | None, coverage: float | None
) -> dict[str, Any]:
    return {
        "id": layer.id,
        "name": layer.name or f"Layer {layer.position + 1}",
        "start": w.time(layer.start),
        "end": w.time(layer.end),
        "rotation_virtual_start": w.time(layer.rotation_virtual_start),
        "rotation_turn_length_seconds": layer.rotation_turn_length_seconds,
        "users": [{"user": w.user(u)} for u in layer.users],
        "restrictions": [dict(r) for r in layer.restrictions],
        "rendered_schedule_entries": w.entries(entries or ()),
        "rendered_coverage_percentage": coverage,
    }


def schedule_body(
    reader: Reader,
    details: schedules.ScheduleDetails,
    rendered: oncall.Rendered | None = None,
    zone: str | None = None,
) -> dict[str, Any]:
    """PagerDuty's ``schedule``; with ``rendered``, the entries and coverage of its range."""
    found = details.schedule
    w = _Writer(reader, zone or found.time_zone)
    path = f"/schedules/{found.id}"
    layers = [
        _layer_body(
            w,
            layer,
            rendered.layers[i] if rendered else None,
            rendered.layer_coverage[i] if rendered else None,
        )
        for i, layer in enumerate(details.layers)
    ]
    return {
        "id": found.id,
        "type": "schedule",
        "summary": found.name,
        "self": reference("schedule", found.id, None, path)["self"],
        "html_url": html_url(path),
        "name": found.name,
        "description": found.description,
        "time_zone": found.time_zone,
        "schedule_layers": layers,
        "overrides_subschedule": {
            "name": "Overrides",
            "rendered_schedule_entries": w.entries(rendered.overrides if rendered else ()),
            "rendered_coverage_percentage": rendered.overrides_coverage if rendered else None,
        },
        "final_schedule": {
            "name": "Final Schedule",
            "rendered_schedule_entries": w.entries(rendered.final if rendered else ()),
            "rendered_coverage_percentage": rendered.final_coverage if rendered else None,
        },
        "users": [w.user(u) for u in details.user_ids],
        "escalation_policies": [],
        "teams": [],
        # Extension: whether the configuration file owns it (then runtime edits are refused).
        "declared_in_config": found.source == "config",
    }


# -- reading requests -------------------------------------------------------------------------


def _zone_arg(default: str | None) -> str | None:
    value = request.args.get("time_zone")
    if value is None:
        return default
    problems: list[str] = []
    zone = check_time_zone(value, problems)
    if problems:
        raise invalid(*problems)
    return zone


def _range_args(now: datetime, span: timedelta | None) -> tuple[datetime, datetime] | None:
    """``since``/``until`` (one given: the other is now or ``span`` after ``since``)."""
    since_raw, until_raw = request.args.get("since"), request.args.get("until")
    if since_raw is None and until_raw is None and span is None:
        return None
    try:
        since = parse_time(since_raw, "since") if since_raw is not None else now
        if until_raw is not None:
            until = parse_time(until_raw, "until")
        else:
            until = since + (span or timedelta(weeks=2))
        schedules.check_range(since, until)
    except Invalid as exc:
        raise invalid(*exc.errors) from None
    return since, until


def _schedule_input(data: Mapping[str, Any]) -> schedules.ScheduleInput:
    return schedules.ScheduleInput(
        name=data.get("name"),
        time_zone=data.get("time_zone"),
        layers=data.get("schedule_layers"),
        description=data.get("description"),
    )


async def _schedule_json() -> dict[str, Any]:
    data = await json_value()
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON object")
    inner = data.get(ROOT, data)
    if not isinstance(inner, dict):
        raise invalid(f"'{ROOT}' must be an object")
    return inner


def _override_input(raw: object, where: str) -> schedules.OverrideInput:
    if not isinstance(raw, dict):
        raise invalid(f"{where} must be an object with start, end and user")
    (user_id,) = layer_user_ids([{"user": raw.get("user")}])
    return schedules.OverrideInput(raw.get("start"), raw.get("end"), user_id)


# -- routes -----------------------------------------------------------------------------------


@blueprint.get("/schedules")
@requires(Level.VIEW)
async def list_schedules() -> dict[str, Any]:
    """``GET /schedules``: ``query`` (the name contains it), ``limit``/``offset``/``total``."""
    page = page_args()
    query = request.args.get("query")
    zone = _zone_arg(None)

    def read(reader: Reader) -> dict[str, Any]:
        body = paginated("schedules", schedules.list_schedules(reader, query=query), page)
        body["schedules"] = [schedule_body(reader, d, zone=zone) for d in body["schedules"]]
        return body

    return await context().store.read(read)


@blueprint.post("/schedules")
@requires(Level.MANAGE)
async def create_schedule() -> tuple[dict[str, Any], int]:
    """``POST /schedules``: 201 with the schedule."""
    data = _schedule_input(await _schedule_json())
    by = agent()
    made = await context().store.write(lambda tx: schedules.create_schedule(tx, data, by=by))
    body = await context().store.read(lambda r: schedule_body(r, made))
    return {ROOT: body}, 201


@blueprint.get("/schedules/<schedule_id>")
@requires(Level.VIEW)
async def get_schedule(schedule_id: str) -> dict[str, Any]:
    """``GET /schedules/{id}``: ``since``/``until`` render the entries, ``time_zone`` the times."""
    if request.args.get("overflow", "false").lower() in ("true", "1"):
        raise invalid("overflow: not supported (entries are always cut at since and until)")
    zone = _zone_arg(None)

    def read(reader: Reader) -> dict[str, Any]:
        span = _range_args(reader.clock.now(), None)
        if span is None:
            details = schedules.get_schedule(reader, schedule_id)
            return schedule_body(reader, details, zone=zone)
        details, rendered = schedules.render_schedule(reader, schedule_id, *span)
        return schedule_body(reader, details, rendered, zone)

    return {ROOT: await context().store.read(read)}


@blueprint.put("/schedules/<schedule_id>")
@requires(Level.MANAGE)
async def update_schedule(schedule_id: str) -> dict[str, Any]:
    """``PUT /schedules/{id}``: the whole schedule, layers included."""
    data = _schedule_input(await _schedule_json())
    by = agent()
    done = await context().store.write(
        lambda tx: schedules.update_schedule(tx, schedule_id, data, by=by)
    )
    return {ROOT: await context().store.read(lambda r: schedule_body(r, done))}


@blueprint.delete("/schedules/<schedule_id>")
@requires(Level.MANAGE)
async def delete_schedule(schedule_id: str) -> tuple[str, int]:
    """``DELETE /schedules/{id}``: 204; its layers and overrides go with it."""
    by = agent()
    await context().store.write(lambda tx: schedules.delete_schedule(tx, schedule_id, by=by))
    return "", 204


@blueprint.get("/schedules/<schedule_id>/overrides")
@requires(Level.VIEW)
async def list_overrides(schedule_id: str) -> dict[str, Any]:
    """``GET /schedules/{id}/overrides``: those overlapping ``since``/``until``."""
    zone = _zone_arg(None)

    def read(reader: Reader) -> dict[str, Any]:
        span = _range_args(reader.clock.now(), timedelta(weeks=2))
        assert span is not None
        found = schedules.get_schedule(reader, schedule_id).schedule
        w = _Writer(reader, zone or found.time_zone)
        overrides = schedules.list_overrides(reader, schedule_id, *span)
        return {"overrides": [w.override(o) for o in overrides]}

    return await context().store.read(read)


@blueprint.post("/schedules/<schedule_id>/overrides")
@requires(Level.MANAGE)
async def create_overrides(schedule_id: str) -> tuple[Any, int]:
    """``POST /schedules/{id}/overrides``: ``{"overrides": [...]}`` answers one status per
    override (all are made or none), the older ``{"override": {...}}`` answers the one."""
    data = await json_value()
    many = isinstance(data, dict) and isinstance(data.get("overrides"), list)
    if many:
        inputs = [_override_input(o, f"overrides[{i}]") for i, o in enumerate(data["overrides"])]
    elif isinstance(data, dict) and "override" in data:
        inputs = [_override_input(data["override"], "override")]
    else:
        raise invalid("The body must be {'overrides': [...]} or {'override': {...}}")
    by = agent()
    made = await context().store.write(
        lambda tx: schedules.create_overrides(tx, schedule_id, inputs, by=by)
    )

    def read(reader: Reader) -> Any:
        found = schedules.get_schedule(reader, schedule_id).schedule
        w = _Writer(reader, found.time_zone)
        if many:
            return [{"status": 201, "errors": [], "override": w.override(o)} for o in made]
        return {"override": w.override(made[0])}

    return await context().store.read(read), 201


@blueprint.delete("/schedules/<schedule_id>/overrides/<override_id>")
@requires(Level.MANAGE)
async def delete_override(schedule_id: str, override_id: str) -> tuple[str, int]:
    """``DELETE /schedules/{id}/overrides/{override_id}``: 204."""
    by = agent()
    await context().store.write(
        lambda tx: schedules.delete_override(tx, schedule_id, override_id, by=by)
    )
    return "", 204


@blueprint.get("/schedules/<schedule_id>/users")
@requires(Level.VIEW)
async def list_on_call_users(schedule_id: str) -> dict[str, Any]:
    """``GET /schedules/{id}/users``: every user on call in ``since``/``until`` (default: the
    next day), each once, in the order their first shift starts."""

    def read(reader: Reader) -> dict[str, Any]:
        span = _range_args(reader.clock.now(), DEFAULT_USERS_SPAN)
        assert span is not None
        users = schedules.on_call_users(reader, schedule_id, *span)
        w = _Writer(reader, "UTC")
        return {"users": [w.user(u) for u in users]}

    return await context().store.read(read)


__all__ = ["blueprint", "schedule_body"]

"""On-call schedules: the rules for creating, changing and deleting them and their overrides,
and the one question everything else asks of them: who is on call.

Pure functions over a :class:`~gateway.store.Tx` or :class:`~gateway.store.Reader`,
called alike by the REST API, the web UI and configuration provisioning. Each write checks
everything before it changes anything (:class:`~gateway.errors.Invalid` lists every problem;
the value checks are :mod:`gateway.core.schedule_checks`); the arithmetic is
:mod:`gateway.core.oncall`.

- ``time_zone`` is an IANA name; ``schedule_layers`` (at least one) each have ``start``,
  optional ``end`` (after ``start``), ``rotation_virtual_start``,
  ``rotation_turn_length_seconds`` (> 0), ``users`` (known users, in turn order) and optional
  ``restrictions``. An update replaces the layers as a whole (PagerDuty's PUT sends all of
  them); a layer sent with the ``id`` of one of the schedule's layers keeps that id.
- A schedule the configuration file declares (``source = 'config'``) is changed and deleted
  only through the file. Its overrides stay open to everyone who may write schedules:
  swapping a shift is an operational act, like acknowledging an incident.
- Deleting a schedule an escalation policy uses is refused (:func:`schedule_in_use`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from gateway.clock import iso, parse_iso
from gateway.core import oncall, users
from gateway.core.inputs import CONFIG, Agent
from gateway.core.ownership import DECLARED
from gateway.core.schedule_checks import (
    FIRST_YEAR,
    LAST_YEAR,
    check_layers,
    check_time_zone,
    check_user_ids,
    restriction_of,
    time_problem,
)
from gateway.domain import StoredLayer, StoredOverride, StoredSchedule, User
from gateway.errors import Invalid, NotFound, Refused
from gateway.store import Reader, Tx

__all__ = [
    "MAX_RANGE",
    "MAX_TURNS",
    "OverrideInput",
    "ScheduleDetails",
    "ScheduleInput",
    "as_oncall",
    "create_overrides",
    "create_schedule",
    "delete_override",
    "delete_schedule",
    "get_schedule",
    "list_overrides",
    "list_schedules",
    "on_call_user",
    "on_call_users",
    "render_schedule",
    "schedule_in_use",
    "schedules_naming_user",
    "update_schedule",
    "user_problem",
    "user_summary",
]

log = structlog.get_logger("gateway.schedules")

#: The longest ``since``/``until`` range rendered at once (a year: PagerDuty's UI shows months).
MAX_RANGE = timedelta(days=366)
#: The most turns one rendering cuts: a week of 5-minute turns is 2,016 (18 ms measured on
#: one core), so this bound is about half a second of work.
MAX_TURNS = 50_000
_MAX_NAME = 255


@dataclass(frozen=True, slots=True)
class ScheduleInput:
    """A schedule as a face read it (values unchecked; ``layers`` in PagerDuty's shape)."""

    name: object
    time_zone: object
    layers: object
    description: object = None


@dataclass(frozen=True, slots=True)
class OverrideInput:
    """An override as a face read it (values unchecked)."""

    start: object
    end: object
    user_id: object


@dataclass(frozen=True, slots=True)
class ScheduleDetails:
    """A schedule with its layers (in order) and the overrides that were asked for."""

    schedule: StoredSchedule
    layers: tuple[StoredLayer, ...]
    overrides: tuple[StoredOverride, ...] = ()

    @property
    def user_ids(self) -> list[str]:
        """Every user on a layer, each once, in order of first appearance."""
        return list(dict.fromkeys(u for layer in self.layers for u in layer.users))


# -- hooks other parts of the gateway fill in -------------------------------------------------


def user_problem(reader: Reader, user_id: str) -> str | None:
    """Why ``user_id`` cannot be put on a schedule (no live user has it); ``None`` when it can.

    The one place schedules ask about users (:mod:`gateway.core.users` owns them).
    """
    if not users.users_exist(reader, [user_id]):
        return f"user {user_id!r} does not exist"
    return None


def user_summary(reader: Reader, user_id: str) -> str | None:
    """The name a user reference shows; a deleted user keeps its last name (``None``: an id no
    user ever had)."""
    found = reader.user(user_id, deleted=True)
    return found.name if found is not None else None


def schedules_naming_user(reader: Reader, user_id: str) -> list[str]:
    """The names of the schedules that still need ``user_id``: on a layer, or with an override
    not yet over. Deleting that user is refused while this is not empty."""
    now = iso(reader.clock.now())
    wanted = set(reader.user_override_schedule_ids(user_id, now))
    everything = reader.schedules()
    for layer in reader.schedule_layers([s.id for s in everything]):
        if user_id in layer.users:
            wanted.add(layer.schedule_id)
    return [s.name for s in everything if s.id in wanted]


def schedule_in_use(reader: Reader, schedule_id: str) -> bool:
    """Whether an escalation policy targets ``schedule_id`` (then it may not be deleted).

    Every face that deletes a schedule (REST, UI, provisioning) asks here, so all are
    refused alike.
    """
    return bool(reader.policies_targeting("schedule", schedule_id))


def _user_in_use(reader: Reader, user: User) -> str | None:
    """Deleting a user still on a schedule (a layer, or an override not yet over) is refused:
    the schedule would page nobody there without anyone noticing."""
    names = schedules_naming_user(reader, user.id)
    if not names:
        return None
    listed = ", ".join(repr(n) for n in names)
    return f"{user.name} is on the schedule(s) {listed}: take them off first"


users.IN_USE_CHECKS.append(_user_in_use)


# -- reads ------------------------------------------------------------------------------------


def get_schedule(
    reader: Reader,
    schedule_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ScheduleDetails:
    """The schedule with its layers and the overrides overlapping ``since``/``until`` (all
    of them when neither is given), or :class:`NotFound` ``Schedule``."""
    found = reader.schedule(schedule_id) if isinstance(schedule_id, str) else None
    if found is None:
        raise NotFound("Schedule", schedule_id)
    overrides = reader.schedule_overrides(
        schedule_id,
        since=iso(since) if since is not None else None,
        until=iso(until) if until is not None else None,
    )
    return ScheduleDetails(found, tuple(reader.schedule_layers([schedule_id])), tuple(overrides))


def list_schedules(reader: Reader, *, query: str | None = None) -> list[ScheduleDetails]:
    """Every schedule by name with its layers (``query``: the name contains it)."""
    wanted = (query or "").casefold()
    schedules = [s for s in reader.schedules() if wanted in s.name.casefold()]
    layers: dict[str, list[StoredLayer]] = {}
    for layer in reader.schedule_layers([s.id for s in schedules]):
        layers.setdefault(layer.schedule_id, []).append(layer)
    return [ScheduleDetails(s, tuple(layers.get(s.id, ()))) for s in schedules]


def list_overrides(
    reader: Reader, schedule_id: str, since: datetime, until: datetime
) -> list[StoredOverride]:
    """The schedule's overrides overlapping ``[since, until)``, oldest made first."""
    return list(get_schedule(reader, schedule_id, since=since, until=until).overrides)


def as_oncall(details: ScheduleDetails) -> oncall.Schedule:
    """The schedule as :mod:`gateway.core.oncall` computes with it."""
    layers = tuple(
        oncall.Layer(
            start=parse_iso(layer.start),
            end=parse_iso(layer.end) if layer.end else None,
            rotation_virtual_start=parse_iso(layer.rotation_virtual_start),
            turn_seconds=layer.rotation_turn_length_seconds,
            users=tuple(layer.users),
            restrictions=tuple(restriction_of(r) for r in layer.restrictions),
            id=layer.id,
            name=layer.name or "",
        )
        for layer in details.layers
    )
    overrides = tuple(
        oncall.Override(parse_iso(o.start), parse_iso(o.end), o.user_id, o.id)
        for o in details.overrides
    )
    return oncall.Schedule(details.schedule.time_zone, layers, overrides)


def check_range(since: datetime, until: datetime) -> None:
    """Refuse a ``since``/``until`` range that is empty, reversed, longer than a year or
    outside the years times may have."""
    if not FIRST_YEAR <= since.year <= LAST_YEAR or not FIRST_YEAR <= until.year <= LAST_YEAR:
        raise Invalid([f"since and until must be between the years {FIRST_YEAR} and {LAST_YEAR}"])
    if until <= since:
        raise Invalid(["until must be after since"])
    if until - since > MAX_RANGE:
        raise Invalid([f"since and until may be at most {MAX_RANGE.days} days apart"])


def _check_work(details: ScheduleDetails, since: datetime, until: datetime) -> None:
    """Refuse a range that would cut more than :data:`MAX_TURNS` turns: short turns over a
    long range are a lot of work for one request (a minute's turns over a year are 500,000)."""
    span = (until - since).total_seconds()
    turns = sum(span / layer.rotation_turn_length_seconds for layer in details.layers)
    if turns > MAX_TURNS:
        raise Invalid(
            [
                f"since and until span about {int(turns)} turns of this schedule's layers; "
                f"ask for a shorter range (at most {MAX_TURNS} turns)"
            ]
        )


def render_schedule(
    reader: Reader, schedule_id: str, since: datetime, until: datetime
) -> tuple[ScheduleDetails, oncall.Rendered]:
    """The schedule and everything rendered for ``[since, until)`` (layers, overrides, final)."""
    check_range(since, until)
    details = get_schedule(reader, schedule_id, since=since, until=until)
    _check_work(details, since, until)
    return details, oncall.render(as_oncall(details), since, until)


def on_call_user(reader: Reader, schedule_id: str, at: datetime) -> str | None:
    """The id of the user on call on ``schedule_id`` at the instant ``at``; ``None``: nobody.

    What an escalation policy asks for a schedule target: the read costs one schedule,
    its layers and the overrides around ``at``.
    """
    details = get_schedule(reader, schedule_id, since=at, until=at + timedelta(seconds=1))
    return oncall.on_call_at(as_oncall(details), at)


def on_call_users(reader: Reader, schedule_id: str, since: datetime, until: datetime) -> list[str]:
    """Every user on call on the schedule at some moment of ``[since, until)``, each once,
    in the order their first shift starts (``GET /schedules/{id}/users``)."""
    _, rendered = render_schedule(reader, schedule_id, since, until)
    return list(dict.fromkeys(entry.user_id for entry in rendered.final))


# -- writes -----------------------------------------------------------------------------------


def _check(
    reader: Reader, data: ScheduleInput
) -> tuple[str, str | None, str, list[dict[str, object]]]:
    problems: list[str] = []
    name = data.name.strip() if isinstance(data.name, str) else ""
    if not name or len(name) > _MAX_NAME:
        problems.append(f"name is required (text of at most {_MAX_NAME} characters)")
    description = data.description
    if description is not None and not isinstance(description, str):
        problems.append("description must be text")
    time_zone = check_time_zone(data.time_zone, problems)
    layers = check_layers(data.layers, lambda u: user_problem(reader, u), problems)
    if problems:
        raise Invalid(problems)
    return name, description if isinstance(description, str) else None, time_zone, list(layers)


def _refuse_declared(found: StoredSchedule, what: str, by: Agent) -> None:
    if found.source == "config" and by.type != CONFIG.type:
        raise Refused(
            DECLARED,
            code=2001,
            errors=[
                f"Schedule {found.name!r} is declared in the configuration file; "
                f"change it there (refused: {what})"
            ],
        )


def create_schedule(tx: Tx, data: ScheduleInput, *, by: Agent) -> ScheduleDetails:
    """Check and store a new schedule with its layers."""
    name, description, time_zone, layers = _check(tx, data)
    source = "config" if by.type == CONFIG.type else "api"
    made = tx.insert_schedule(
        name=name, description=description, time_zone=time_zone, source=source
    )
    for layer in layers:
        layer["id"] = None  # a new schedule's layers get new ids
    tx.replace_schedule_layers(made.id, layers)
    log.info("schedule.created", schedule_id=made.id, layers=len(layers), by=by.type)
    return get_schedule(tx, made.id)


def update_schedule(tx: Tx, schedule_id: str, data: ScheduleInput, *, by: Agent) -> ScheduleDetails:
    """Replace a schedule's name, description, time zone and layers (PagerDuty's PUT)."""
    found = get_schedule(tx, schedule_id)
    name, description, time_zone, layers = _check(tx, data)
    old = found.schedule
    changed = (name, description, time_zone) != (old.name, old.description, old.time_zone)
    own_ids = {layer.id for layer in found.layers}
    for layer in layers:
        if layer.get("id") not in own_ids:
            layer["id"] = None
    kept = [{k: v for k, v in layer.items() if k != "id"} for layer in layers] != [
        _layer_fields(layer) for layer in found.layers
    ]
    if changed or kept:
        _refuse_declared(old, "name, time_zone, description or schedule_layers", by)
    tx.update_schedule_row(schedule_id, name=name, description=description, time_zone=time_zone)
    tx.replace_schedule_layers(schedule_id, layers)
    log.info("schedule.updated", schedule_id=schedule_id, layers=len(layers), by=by.type)
    return get_schedule(tx, schedule_id)


def _layer_fields(layer: StoredLayer) -> dict[str, object]:
    """A stored layer as :func:`check_layers` returns one, without its id (to compare)."""
    return {
        "name": layer.name,
        "start": layer.start,
        "end": layer.end,
        "rotation_virtual_start": layer.rotation_virtual_start,
        "rotation_turn_length_seconds": layer.rotation_turn_length_seconds,
        "users": list(layer.users),
        "restrictions": list(layer.restrictions),
    }


def delete_schedule(tx: Tx, schedule_id: str, *, by: Agent) -> None:
    """Delete a schedule with its layers and overrides; refused while a policy uses it."""
    found = get_schedule(tx, schedule_id).schedule
    _refuse_declared(found, "deleted", by)
    if schedule_in_use(tx, schedule_id):
        raise Refused(
            "Schedule in use",
            code=2001,
            errors=[
                f"Schedule {found.name!r} is used by an escalation policy; "
                "remove it from the policy first"
            ],
        )
    tx.delete_schedule_row(schedule_id)
    log.info("schedule.deleted", schedule_id=schedule_id, by=by.type)


def create_overrides(
    tx: Tx, schedule_id: str, inputs: Sequence[OverrideInput], *, by: Agent
) -> list[StoredOverride]:
    """Check every override, then store them all (or none): the later made wins an overlap."""
    get_schedule(tx, schedule_id)
    problems: list[str] = []
    checked: list[tuple[str, str, str]] = []
    if not inputs:
        problems.append("overrides must list at least one override")
    for i, data in enumerate(inputs):
        where = f"overrides[{i}]"
        start, why_start = time_problem(data.start, f"{where}.start")
        end, why_end = time_problem(data.end, f"{where}.end")
        problems.extend(why for why in (why_start, why_end) if why)
        if start is not None and end is not None and end <= start:
            problems.append(f"{where}.end must be after its start")
        users = check_user_ids(
            [data.user_id], f"{where}.user", lambda u: user_problem(tx, u), problems
        )
        if start is not None and end is not None and users:
            checked.append((users[0], iso(start), iso(end)))
    if problems:
        raise Invalid(problems)
    made = [
        tx.insert_schedule_override(schedule_id, user_id=user, start=start, end=end)
        for user, start, end in checked
    ]
    log.info("schedule.overrides_created", schedule_id=schedule_id, count=len(made), by=by.type)
    return made


def delete_override(tx: Tx, schedule_id: str, override_id: str, *, by: Agent) -> None:
    """Delete one override of the schedule, or :class:`NotFound` ``Override``."""
    get_schedule(tx, schedule_id)
    if not tx.delete_schedule_override(schedule_id, override_id):
        raise NotFound("Override", override_id)
    log.info("schedule.override_deleted", schedule_id=schedule_id, by=by.type)

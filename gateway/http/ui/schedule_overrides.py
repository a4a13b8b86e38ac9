"""Overrides in the web UI: add one (a user on call from a start to an end) and remove one.

The form on a schedule's page takes wall-clock times in the schedule's zone and calls
:func:`gateway.core.schedules.create_overrides` and ``delete_override``, as the REST API
does. Overrides stay open on schedules the configuration file declares (docs/schedules.md):
swapping a shift is day-to-day work. A refusal shows the schedule's page again with the
problems and the form refilled, nothing changed.
"""

from __future__ import annotations

from quart.typing import ResponseReturnValue

from gateway.auth import Level
from gateway.core import schedules
from gateway.errors import Invalid, NotFound, Refused
from gateway.http.ui._web import agent, back, blueprint, form, read, requires, write
from gateway.http.ui.form_lists import form_problems, refusal_status
from gateway.http.ui.schedule_forms import from_local, zone_of
from gateway.http.ui.schedules import schedule_view


@blueprint.post("/schedules/<schedule_id>/overrides")
@requires(Level.MANAGE)
async def override_create(schedule_id: str) -> ResponseReturnValue:
    """Put the chosen user on call from ``start`` to ``end`` (local times of the schedule)."""
    values = dict(await form())
    found = await read(lambda r: schedules.get_schedule(r, schedule_id).schedule)
    zone = zone_of(found.time_zone)
    data = schedules.OverrideInput(
        start=from_local(values.get("start", ""), zone),
        end=from_local(values.get("end", ""), zone),
        user_id=values.get("user_id", ""),
    )
    by = agent()
    try:
        await write(lambda tx: schedules.create_overrides(tx, schedule_id, [data], by=by))
    except (Invalid, Refused) as exc:
        return await schedule_view(
            schedule_id,
            week=values.get("week") or None,
            errors=form_problems(exc),
            values=values,
            status=refusal_status(exc),
        )
    return back("ui.schedule_page", "Override added.", schedule_id=schedule_id)


@blueprint.post("/schedules/<schedule_id>/overrides/<override_id>/delete")
@requires(Level.MANAGE)
async def override_delete(schedule_id: str, override_id: str) -> ResponseReturnValue:
    """Remove one override; one already gone says so on the schedule's page."""
    by = agent()
    try:
        await write(lambda tx: schedules.delete_override(tx, schedule_id, override_id, by=by))
    except NotFound as exc:
        if exc.kind != "Override":
            raise  # the schedule itself is gone: the 404 page
        return back(
            "ui.schedule_page", "That override was already removed.", schedule_id=schedule_id
        )
    return back("ui.schedule_page", "Override removed.", schedule_id=schedule_id)

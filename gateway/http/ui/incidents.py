"""Incidents (lists, a page with alerts and timeline, acknowledge and resolve) and
maintenance windows: forms over :mod:`gateway.core.incidents`,
:mod:`gateway.core.incident_reads` and :mod:`gateway.core.maintenance`.

A refusal the page cannot show in place (an unknown incident or window) becomes
an error page through :func:`gateway.http.ui._web.page_error`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from quart import g, request
from quart.typing import ResponseReturnValue

from gateway.auth import Level
from gateway.clock import iso
from gateway.core import incident_notes
from gateway.core import incident_reads as reads
from gateway.core import incidents as inc
from gateway.core import maintenance as mw
from gateway.core import services as svc
from gateway.core.agents import agent_name
from gateway.core.incident_reopen import can_reopen
from gateway.core.incident_timers import SNOOZE_END
from gateway.core.inputs import parse_time
from gateway.domain import (
    INCIDENT_STATUSES,
    URGENCIES,
    Alert,
    ApiToken,
    Incident,
    LogEntry,
    Service,
)
from gateway.errors import Invalid, Refused
from gateway.http.ui._web import back, blueprint, context, form, page, read, requires
from gateway.store import Reader, Tx

PAGE_SIZE = 50
#: Up to this many live services the incident filter is a choice list of them all; above
#: it, a name search (1,000 options were two thirds of the page and most of its time).
SERVICE_CHOICES_MAX = 100
#: Timeline entries an incident page shows at once, the newest first chosen.
TIMELINE_PAGE = 50
MAX_TIMELINE_OFFSET = 1_000_000_000
MAX_WINDOW_MINUTES = 60 * 24 * 366
#: The snooze lengths the incident page offers, as PagerDuty's web app does: (seconds, words).
SNOOZE_CHOICES = (
    (3600, "1 hour"),
    (4 * 3600, "4 hours"),
    (8 * 3600, "8 hours"),
    (86400, "24 hours"),
)


def responder() -> str:
    """Who the timeline names for an action taken here: the signed-in token's name."""
    user: ApiToken = g.ui_user
    return user.name


def _choices(name: str, allowed: tuple[str, ...]) -> list[str]:
    """A multi-valued filter from the query string, unknown values dropped."""
    return [v for v in request.args.getlist(name) if v in allowed]


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """An incident in a list, with its service's name."""

    incident: Incident
    service_name: str


def incident_rows(reader: Reader, incidents: list[Incident]) -> list[IncidentRow]:
    """Pair incidents with their service names (deleted services show their id).

    A rendering helper: it only reads the names of the services it shows (names, not
    whole rows).
    """
    names: dict[str, str] = {}
    for incident in incidents:
        if incident.service_id not in names:
            name = reader.service_name(incident.service_id)
            names[incident.service_id] = name if name is not None else incident.service_id
    return [IncidentRow(i, names[i.service_id]) for i in incidents]


@dataclass(frozen=True, slots=True)
class ServiceFilter:
    """The incident list's service filter: what it shows and which services it keeps."""

    #: Every live service, when there are few enough to list; else ``None`` (a search box).
    choices: list[svc.ServiceName] | None
    #: The services whose incidents the list shows (empty: every service's).
    service_ids: tuple[str, ...]
    #: The search box's text: the query, or the chosen service's name.
    query: str
    #: How many services the query matched (more than SERVICE_CHOICES_MAX: only those kept).
    matched: int
    #: The query matched no service: the list is empty rather than unfiltered.
    nothing: bool


def service_filter(reader: Reader, service_id: str, query: str) -> ServiceFilter:
    """A chosen service (``?service=id``) or the services whose names contain ``query``
    (``?service_query=``, the first SERVICE_CHOICES_MAX of them by name)."""
    names = svc.service_names(reader)
    choices = names if len(names) <= SERVICE_CHOICES_MAX else None
    if service_id:
        chosen = reader.service_name(service_id)
        return ServiceFilter(choices, (service_id,), chosen or service_id, 1, False)
    if not query:
        return ServiceFilter(choices, (), "", 0, False)
    matched = svc.service_names(reader, query=query)
    kept = tuple(s.id for s in matched[:SERVICE_CHOICES_MAX])
    return ServiceFilter(choices, kept, query, len(matched), not matched)


@blueprint.get("/incidents")
@requires(Level.VIEW)
async def incident_list() -> ResponseReturnValue:
    """Open and recent incidents, filtered by status, urgency and service."""
    statuses = _choices("status", INCIDENT_STATUSES)
    urgencies = _choices("urgency", URGENCIES)
    service_id = request.args.get("service", "")
    service_query = request.args.get("service_query", "").strip()
    try:
        offset = max(0, int(request.args.get("offset", "0")))
    except ValueError:
        offset = 0

    def load(reader: Reader) -> tuple[list[IncidentRow], bool, ServiceFilter]:
        chosen = service_filter(reader, service_id, service_query)
        if chosen.nothing:
            return [], False, chosen
        found = reads.list_incidents(
            reader,
            statuses=statuses,
            urgencies=urgencies,
            service_ids=chosen.service_ids,
            date_range="all",
            sort_by="incident_number:desc",
            limit=PAGE_SIZE,
            offset=offset,
        )  # no count: it read every match (~50 ms for the open ones of 100,000)
        return incident_rows(reader, found.incidents), found.more, chosen

    rows, more, chosen = await read(load)
    return await page(
        "incidents.html",
        rows=rows,
        more=more,
        offset=offset,
        page_size=PAGE_SIZE,
        services=chosen,
        choices_max=SERVICE_CHOICES_MAX,
        selected={
            "status": statuses,
            "urgency": urgencies,
            "service": service_id,
            "service_query": "" if service_id else service_query,
        },
        statuses=INCIDENT_STATUSES,
        urgencies=URGENCIES,
    )


@dataclass(frozen=True, slots=True)
class IncidentView:
    """An incident page: the incident, its service, alerts and one page of its timeline.

    ``timeline`` is oldest first; it holds the entries ``timeline_offset`` to
    ``timeline_offset + TIMELINE_PAGE`` counted back from the newest, of
    ``timeline_total`` in all.
    """

    incident: Incident
    service: Service | None
    alerts: list[Alert]
    timeline: list[LogEntry]
    timeline_offset: int
    timeline_total: int
    details: reads.IncidentDetails
    #: The service's name, a deleted service's last one too.
    service_name: str | None
    #: Who each ``(agent_type, agent_id)`` on the page is, by name (core.agents).
    agents: dict[tuple[str | None, str | None], str | None]
    #: The incident's notes, oldest first (``annotate_log_entry`` lines).
    notes: list[LogEntry]
    #: When a snooze ends (``None``: not snoozed).
    snoozed_until: str | None
    #: Resolved and still within the reopen window (the page offers Reopen).
    reopenable: bool = False


def incident_view(reader: Reader, incident_id: str, timeline_offset: int = 0) -> IncidentView:
    """Everything an incident page shows, in one snapshot: the newest timeline entries
    (``timeline_offset`` skips that many newer ones), never the whole timeline."""
    incident = reads.find_incident(reader, incident_id)
    found = reads.incident_log_entries(
        reader,
        incident.id,
        limit=TIMELINE_PAGE,
        offset=timeline_offset,
        total=True,
        newest_first=True,
    )
    details = reads.incident_details(reader, [incident])[0]
    notes = incident_notes.notes(reader, incident.id)
    snoozes = reader.incident_timers(incident.id, [SNOOZE_END])
    pairs = {(e.agent_type, e.agent_id) for e in [*found.entries, *notes]}
    pairs.add(details.last_status_change_by)
    return IncidentView(
        incident=incident,
        service=reader.service(incident.service_id),  # rendering: None once deleted
        alerts=reads.incident_alerts(reader, incident.id),
        timeline=found.entries[::-1],
        timeline_offset=timeline_offset,
        timeline_total=found.total or 0,
        details=details,
        service_name=reader.service_name(incident.service_id),
        agents={pair: agent_name(reader, *pair) for pair in pairs},
        notes=notes,
        snoozed_until=snoozes[-1].due_at if snoozes else None,
        reopenable=can_reopen(incident, iso(reader.clock.now())),
    )


def _timeline_offset() -> int:
    """``?timeline=N``: how many newer entries to skip; anything else is 0."""
    try:
        # Capped so SQLite's 64-bit OFFSET never overflows (a 500): past the end is empty.
        return min(max(0, int(request.args.get("timeline", "0"))), MAX_TIMELINE_OFFSET)
    except ValueError:
        return 0


@blueprint.get("/incidents/<incident_id>")
@requires(Level.VIEW)
async def incident_page(incident_id: str) -> ResponseReturnValue:
    """An incident with its alerts, timeline, and Acknowledge / Resolve buttons."""
    offset = _timeline_offset()
    view = await read(lambda r: incident_view(r, incident_id, offset))
    return await page(
        "incident.html", view=view, timeline_page=TIMELINE_PAGE, snoozes=SNOOZE_CHOICES
    )


async def _change(incident_id: str, action: str) -> ResponseReturnValue:
    by = responder()
    act = inc.acknowledge if action == "acknowledge" else inc.resolve

    def job(tx: Tx) -> Incident:
        return act(tx, incident_id, by=by, channel="web_ui")

    try:
        incident = await context().store.write(job)
    except Refused as exc:
        # Someone resolved it first: say so on the incident page rather than failing.
        return back("ui.incident_page", f"Not changed: {exc.message}.", incident_id=incident_id)
    word = "acknowledged" if action == "acknowledge" else "resolved"
    return back("ui.incident_page", f"Incident #{incident.number} {word}.", incident_id=incident.id)


@blueprint.post("/incidents/<incident_id>/acknowledge")
@requires(Level.RESPOND)
async def incident_acknowledge(incident_id: str) -> ResponseReturnValue:
    """Acknowledge the incident."""
    return await _change(incident_id, "acknowledge")


@blueprint.post("/incidents/<incident_id>/resolve")
@requires(Level.RESPOND)
async def incident_resolve(incident_id: str) -> ResponseReturnValue:
    """Resolve the incident and its alerts."""
    return await _change(incident_id, "resolve")


# -- maintenance windows ----------------------------------------------------------------------


async def _service(service_id: str) -> Service:
    return await read(lambda r: svc.get_service(r, service_id))


@blueprint.get("/services/<service_id>/maintenance/new")
@requires(Level.MANAGE)
async def maintenance_new(service_id: str) -> ResponseReturnValue:
    """The schedule-a-window form (start empty means now)."""
    service = await _service(service_id)
    values = {"minutes": "60", "start": "", "description": ""}
    return await page("maintenance_new.html", service=service, values=values, errors=[])


@blueprint.post("/services/<service_id>/maintenance/new")
@requires(Level.MANAGE)
async def maintenance_create(service_id: str) -> ResponseReturnValue:
    """Start (or schedule) a maintenance window on the service."""
    service = await _service(service_id)
    values = await form()
    errors: list[str] = []
    try:
        minutes = int(values.get("minutes", ""))
        if not 1 <= minutes <= MAX_WINDOW_MINUTES:
            raise ValueError
    except ValueError:
        errors.append(f"Duration must be a whole number of minutes, 1 to {MAX_WINDOW_MINUTES}")
        minutes = 0
    start_text = values.get("start", "")
    by = responder()

    def create(tx: Tx) -> str:
        now = tx.clock.now()
        start = parse_time(start_text, "start") if start_text else now
        end = max(start, now) + timedelta(minutes=minutes)
        window = mw.create_window(
            tx, [service.id], iso(start), iso(end), values.get("description") or None, by=by
        )
        return window.id

    if not errors:
        try:
            await context().store.write(create)
        except (Invalid, Refused) as exc:
            errors.extend(exc.errors)
    if errors:
        return await page(
            "maintenance_new.html", status=400, service=service, values=values, errors=errors
        )
    return back("ui.service_page", "Maintenance window scheduled.", service_id=service.id)


@blueprint.post("/services/<service_id>/maintenance/<window_id>/end")
@requires(Level.MANAGE)
async def maintenance_end(service_id: str, window_id: str) -> ResponseReturnValue:
    """End an ongoing window now, or cancel a future one."""
    by = responder()
    outcome = await context().store.write(lambda tx: mw.end_or_delete_window(tx, window_id, by=by))
    word = "ended" if outcome == "ended" else "cancelled"
    return back("ui.service_page", f"Maintenance window {word}.", service_id=service_id)

"""Looking incidents up: by id or number, PagerDuty's list filters, alerts and timelines.

Pure functions on a :class:`~gateway.store.Reader`, shared by the REST API, the
CLI and the web UI; the changes a responder makes are in
:mod:`gateway.core.incidents`. Refusals are :class:`~gateway.errors.NotFound`
(5001) and :class:`~gateway.errors.Invalid` (2001).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from gateway.clock import iso
from gateway.core import timers
from gateway.core.inputs import parse_time
from gateway.domain import (
    INCIDENT_SORT_FIELDS,
    INCIDENT_STATUSES,
    URGENCIES,
    Alert,
    Incident,
    LogEntry,
)
from gateway.errors import Invalid, NotFound
from gateway.store import Reader

__all__ = [
    "DEFAULT_RANGE",
    "MAX_ACKNOWLEDGEMENTS",
    "SORT_FIELDS",
    "IncidentDetails",
    "IncidentPage",
    "LogPage",
    "find_incident",
    "find_log_entry",
    "incident_alerts",
    "incident_details",
    "incident_log_entries",
    "list_incidents",
    "open_incident_counts",
    "parse_sort",
]

SORT_FIELDS = INCIDENT_SORT_FIELDS
#: Without ``since``/``until`` or ``date_range=all``, lists cover the last month, as PagerDuty's.
DEFAULT_RANGE = timedelta(days=30)
#: The newest acknowledgements an incident shows (re-acknowledging is allowed and logged,
#: so a script could pile them up; the list must not grow with it).
MAX_ACKNOWLEDGEMENTS = 100


def find_incident(reader: Reader, id_or_number: str | int) -> Incident:
    """The incident with this id or incident number (``"PXXXX"``, ``42`` or ``"42"``)."""
    text = str(id_or_number).strip()
    incident = reader.incident_by_number(int(text)) if text.isdigit() else reader.incident(text)
    if incident is None:
        raise NotFound("Incident", text)
    return incident


def find_log_entry(reader: Reader, entry_id: str) -> tuple[LogEntry, Incident | None]:
    """A timeline entry and its incident (``None`` for a service-level entry, e.g. a
    suppressed event), or :class:`NotFound` ``Log Entry``."""
    entry = reader.log_entry(entry_id.strip())
    if entry is None:
        raise NotFound("Log Entry", entry_id)
    incident = reader.incident(entry.incident_id) if entry.incident_id else None
    return entry, incident


def parse_sort(sort_by: str | Sequence[str] | None) -> list[tuple[str, bool]]:
    """``incident_number:desc,created_at`` → ``[("incident_number", True), ("created_at", False)]``.

    Up to two fields from :data:`SORT_FIELDS`, each optionally ``:asc``/``:desc``.
    """
    if not sort_by:
        return [("incident_number", False)]
    parts = sort_by.split(",") if isinstance(sort_by, str) else list(sort_by)
    parts = [p.strip() for part in parts for p in part.split(",") if p.strip()]
    if len(parts) > 2:
        raise Invalid(["'sort_by' takes at most two fields"])
    order = []
    for part in parts:
        name, _, direction = part.partition(":")
        if name not in SORT_FIELDS or direction not in ("", "asc", "desc"):
            raise Invalid(
                [
                    f"'sort_by' value {part!r} is not one of "
                    + ", ".join(SORT_FIELDS)
                    + " (with :asc or :desc)"
                ]
            )
        order.append((name, direction == "desc"))
    return order


class IncidentPage(NamedTuple):
    """One page of a list: its incidents, whether more follow, and the total if counted."""

    incidents: list[Incident]
    more: bool
    total: int | None


def list_incidents(
    reader: Reader,
    *,
    statuses: Sequence[str] = (),
    service_ids: Sequence[str] = (),
    urgencies: Sequence[str] = (),
    incident_key: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    date_range: str | None = None,
    sort_by: str | Sequence[str] | None = None,
    limit: int = 25,
    offset: int = 0,
    count: bool = False,
    user_ids: Sequence[str] = (),
) -> IncidentPage:
    """One page of incidents with PagerDuty's filters; the number that match if ``count``.

    ``incident_key`` also matches alerts' ``alert_key``. With neither ``since``
    nor ``until`` and no ``date_range="all"``, only the last 30 days are listed
    (PagerDuty's default range); ``until`` alone means the 30 days before it.
    Counting reads every match, so it happens only when asked (REST ``total=true``).
    ``user_ids`` keeps the triggered and acknowledged incidents assigned to any of them.
    """
    problems = [
        f"'statuses' value {s!r} is not valid" for s in statuses if s not in INCIDENT_STATUSES
    ]
    problems += [f"'urgencies' value {u!r} is not valid" for u in urgencies if u not in URGENCIES]
    if date_range not in (None, "", "all"):
        problems.append("'date_range' may only be 'all'")
    if problems:
        raise Invalid(problems)
    order = parse_sort(sort_by)
    start = parse_time(since, "since") if since else None
    end = parse_time(until, "until") if until else None
    if date_range == "all":
        start = end = None
    elif start is None:
        start = (end or reader.clock.now()) - DEFAULT_RANGE
    if start is not None and end is not None and end <= start:
        raise Invalid(["'until' must be after 'since'"])
    found, more, total = reader.search_incidents(
        statuses=tuple(dict.fromkeys(statuses)),
        service_ids=tuple(dict.fromkeys(service_ids)),
        urgencies=tuple(dict.fromkeys(urgencies)),
        incident_key=incident_key or None,
        user_ids=tuple(dict.fromkeys(user_ids)),
        since=iso(start) if start else None,
        until=iso(end) if end else None,
        order=order,
        limit=limit,
        offset=offset,
        count=count,
    )
    return IncidentPage(found, more, total)


def incident_alerts(
    reader: Reader,
    id_or_number: str | int,
    *,
    alert_key: str | None = None,
    statuses: Sequence[str] = (),
) -> list[Alert]:
    """An incident's alerts, oldest first, optionally by ``alert_key`` and status."""
    bad = [s for s in statuses if s not in ("triggered", "resolved")]
    if bad:
        raise Invalid([f"'statuses' value {s!r} is not valid for alerts" for s in bad])
    incident = find_incident(reader, id_or_number)
    return [
        a
        for a in reader.alerts(incident.id)
        if (alert_key is None or a.alert_key == alert_key)
        and (not statuses or a.status in statuses)
    ]


@dataclass(frozen=True, slots=True)
class LogPage:
    """One page of an incident's timeline: its entries, whether more follow, and (when
    asked for) how many the timeline holds in all."""

    entries: list[LogEntry]
    more: bool
    total: int | None = None


def incident_log_entries(
    reader: Reader,
    id_or_number: str | int,
    *,
    limit: int,
    offset: int = 0,
    total: bool = False,
    newest_first: bool = False,
) -> LogPage:
    """A page of an incident's timeline (each trigger, acknowledge and resolve, and who),
    oldest first or ``newest_first``.

    Paged in SQL: one more entry than ``limit`` is read to tell whether more follow, and
    the whole timeline is only counted, never loaded, for ``total``.
    """
    incident = find_incident(reader, id_or_number)
    rows = reader.incident_log_page(
        incident.id, limit=limit + 1, offset=offset, newest_first=newest_first
    )
    return LogPage(
        entries=rows[:limit],
        more=len(rows) > limit,
        total=reader.count_incident_log_entries(incident.id) if total else None,
    )


@dataclass(frozen=True, slots=True)
class IncidentDetails:
    """What a page or an API object shows beyond the incident row itself.

    ``acknowledgements`` are the ``(at, agent)`` pairs of the current
    acknowledgement (empty unless acknowledged); ``last_status_change_by`` is
    the agent of the newest status change; ``body`` is the details a manual
    incident was created with (``None`` otherwise).
    """

    incident: Incident
    alert_counts: dict[str, int]
    first_trigger_log_entry: LogEntry | None
    last_status_change_by: tuple[str | None, str | None]
    acknowledgements: list[tuple[str, tuple[str | None, str | None]]] = field(default_factory=list)
    body: dict[str, Any] | None = None
    #: PagerDuty's ``pending_actions``: ``(type, at)`` from the incident's timers.
    pending_actions: list[tuple[str, str]] = field(default_factory=list)
    #: The current assignees as ``(user id, assigned_at, user name)``.
    assignments: list[tuple[str, str, str | None]] = field(default_factory=list)
    #: ``(id, name)`` of the escalation policy the incident follows.
    escalation_policy: tuple[str, str] | None = None
    #: Its paging waits for an ingest burst to end (a pending ``page`` timer).
    paging_held: bool = False


def incident_details(reader: Reader, incidents: Sequence[Incident]) -> list[IncidentDetails]:
    """:class:`IncidentDetails` for each incident, in the same order.

    A few entries of each timeline are read, each with ``LIMIT``: never a whole
    timeline, so a list costs the same whatever its incidents' histories.
    """
    ids = [i.id for i in incidents]
    counts = reader.alert_counts(ids)
    # Two statements for the page rather than two per incident (bench/pages: 100 incidents
    # took ~10 ms in per-incident queries).
    firsts = reader.edge_log_entries(ids, "trigger_log_entry")
    resolves = reader.edge_log_entries(
        [i.id for i in incidents if i.status == "resolved"], "resolve_log_entry", newest=True
    )
    assignees = reader.incident_assignees(ids)
    policies = reader.incident_policy_refs(ids)
    out = []
    for incident in incidents:
        triggered, resolved = counts.get(incident.id, (0, 0))
        first = firsts.get(incident.id)
        # The newest entry of the current status's kind is the change that put it there (a
        # re-ack counts, as in PagerDuty). An incident is triggered again only by a timeout
        # (unacknowledge_log_entry) or a reopen (reopen_log_entry), and then its status
        # changed after its creation: only then are those entries looked for, so a long
        # timeline of triggers is not walked.
        acks: list[LogEntry] = []
        last = first
        if incident.status == "triggered" and incident.last_status_change_at != incident.created_at:
            again = [
                *reader.last_log_entries(incident.id, "unacknowledge_log_entry", 1),
                *reader.last_log_entries(incident.id, "reopen_log_entry", 1),
            ]
            last = max(again, key=lambda e: (e.created_at, e.id), default=first)
        elif incident.status == "acknowledged":
            acks = reader.last_log_entries(
                incident.id, "acknowledge_log_entry", MAX_ACKNOWLEDGEMENTS
            )
            last = acks[-1] if acks else first
        elif incident.status == "resolved":
            last = resolves.get(incident.id, first)
        pending, held = _pending_actions(reader, incident)
        out.append(
            IncidentDetails(
                incident=incident,
                alert_counts={
                    "all": triggered + resolved,
                    "triggered": triggered,
                    "resolved": resolved,
                },
                first_trigger_log_entry=first,
                last_status_change_by=(last.agent_type, last.agent_id) if last else (None, None),
                acknowledgements=[(e.created_at, (e.agent_type, e.agent_id)) for e in acks],
                body=first.details.get("incident_body") if first else None,
                pending_actions=pending,
                paging_held=held,
                assignments=assignees.get(incident.id, []),
                escalation_policy=policies.get(incident.id),
            )
        )
    return out


#: PagerDuty's ``pending_actions[].type`` for each timer kind that has one.
_PENDING_TYPES = {
    "ack_timeout": "unacknowledge",
    "snooze_end": "unacknowledge",
    "auto_resolve": "resolve",
    "escalate": "escalate",
}


def _pending_actions(reader: Reader, incident: Incident) -> tuple[list[tuple[str, str]], bool]:
    """``(type, at)`` of what the incident's timers will do, soonest first (none once
    resolved), and whether its paging is held for an ingest burst (not a PagerDuty type)."""
    if incident.status == "resolved":
        return [], False
    # The kinds that may wait are the held paging (core/escalation.py's ``page``); named
    # through the timers' registry, so this module does not import the engine.
    waiting = timers.waiting_kinds()
    found = reader.incident_timers(incident.id, (*_PENDING_TYPES, *waiting))
    pending = [(_PENDING_TYPES[t.kind], t.due_at) for t in found if t.kind in _PENDING_TYPES]
    return pending, any(t.kind in waiting for t in found)


def open_incident_counts(reader: Reader) -> list[tuple[str, str, int]]:
    """Open incidents counted by (service id, status, urgency), for the metrics page."""
    return reader.open_incident_counts()

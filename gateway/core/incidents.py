"""What a responder does to incidents: acknowledge, resolve, open one by hand, look them up.

Pure functions on a :class:`~gateway.store.Tx` (writes, run them with
``Store.write`` or ``offline.write_sync``) or a :class:`~gateway.store.Reader`
(reads). No HTTP and no click here: the REST API, the CLI and the web UI all
call these, so the rules hold the same way everywhere.

Every status change goes through ``Tx.set_incident_status``, so plugins'
``incident_changed`` observers see it after commit (the caller passes
``tx.changes`` on, as :class:`~gateway.core.ingest.Ingest` does), and every
change appends a log entry naming who did it (``by``: the REST ``From``
address, ``cli:<user>``, …).

Errors (also raised by :mod:`gateway.core.maintenance`)::

    OperationError              message + PagerDuty error code
    ├── NotFound                no such incident / service / window (5001; 5002 for services)
    ├── Invalid                 bad input, ``errors`` lists each problem (2001)
    └── Refused                 valid input the current state forbids (code per case:
        │                       1001 already resolved, 2001 duplicate incident key or
        │                       disabled service, 2015 config-file window)
        └── PastWindow          a window that has already ended (5003; HTTP 405)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import structlog

from gateway.clock import iso, parse_iso
from gateway.domain import (
    INCIDENT_SORT_FIELDS,
    INCIDENT_STATUSES,
    URGENCIES,
    Alert,
    Incident,
    LogEntry,
    Service,
)
from gateway.errors import GatewayError
from gateway.ids import new_dedup_key
from gateway.store import Reader, Tx

__all__ = [
    "INCIDENT_STATUSES",
    "MAX_BULK",
    "SORT_FIELDS",
    "URGENCIES",
    "IncidentDetails",
    "Invalid",
    "NotFound",
    "OperationError",
    "PastWindow",
    "Refused",
    "acknowledge",
    "create_incident",
    "find_incident",
    "incident_alerts",
    "incident_details",
    "incident_log_entries",
    "list_incidents",
    "parse_sort",
    "parse_time",
    "resolve",
    "update_incidents",
]

log = structlog.get_logger("gateway.incidents")

SORT_FIELDS = INCIDENT_SORT_FIELDS
#: PagerDuty's cap on one bulk update (``PUT /incidents``); above it the REST API answers 413.
MAX_BULK = 250
#: Without ``since``/``until`` or ``date_range=all``, lists cover the last month, as PagerDuty's.
DEFAULT_RANGE = timedelta(days=30)
MAX_TITLE_CHARS = 1024

Channel = Literal["api", "web_ui", "cli"]


# -- errors -------------------------------------------------------------------------------------


class OperationError(GatewayError):
    """A request the core refuses; ``code`` is PagerDuty's REST error code."""

    code = 2001

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(OperationError):
    """No such object: ``kind`` is ``Incident``, ``Service`` or ``Maintenance Window``."""

    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"{kind} Not Found", code=5002 if kind == "Service" else 5001)
        self.kind = kind
        self.ident = ident


class Invalid(OperationError):
    """Input that breaks the rules; ``errors`` holds one message per problem."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("Invalid Input Provided", code=2001)
        self.errors = list(errors)


class Refused(OperationError):
    """Well-formed input that the object's current state does not allow."""

    def __init__(self, message: str, *, code: int = 2001, errors: Sequence[str] = ()) -> None:
        super().__init__(message, code=code)
        self.errors = list(errors) or [message]


class PastWindow(Refused):
    """A maintenance window that has already ended cannot be cancelled or changed."""

    def __init__(self) -> None:
        super().__init__("Cannot cancel a maintenance window from the past", code=5003)


# -- reading ----------------------------------------------------------------------------------


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


def parse_time(value: str | datetime, name: str) -> datetime:
    """An ISO 8601 time (an offset or ``Z``; naive means UTC), or :class:`Invalid` naming it."""
    if isinstance(value, datetime):
        return value if value.tzinfo else parse_iso(value.isoformat())
    try:
        if not isinstance(value, str):  # JSON numbers, lists… from REST bodies
            raise ValueError(value)
        return parse_iso(value.strip())
    except ValueError:
        raise Invalid([f"'{name}' must be an ISO 8601 date-time, got {value!r}"]) from None


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
) -> tuple[list[Incident], int]:
    """One page of incidents and the number that match, with PagerDuty's filters.

    ``incident_key`` also matches alerts' ``alert_key``. With neither ``since``
    nor ``until`` and no ``date_range="all"``, only the last 30 days are listed
    (PagerDuty's default range); ``until`` alone means the 30 days before it.
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
    return reader.search_incidents(
        statuses=tuple(dict.fromkeys(statuses)),
        service_ids=tuple(dict.fromkeys(service_ids)),
        urgencies=tuple(dict.fromkeys(urgencies)),
        incident_key=incident_key or None,
        since=iso(start) if start else None,
        until=iso(end) if end else None,
        order=order,
        limit=limit,
        offset=offset,
    )


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


def incident_log_entries(reader: Reader, id_or_number: str | int) -> list[LogEntry]:
    """An incident's timeline, oldest first: each trigger, acknowledge and resolve, and who."""
    incident = find_incident(reader, id_or_number)
    return reader.log_entries(incident_id=incident.id)


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


def incident_details(reader: Reader, incidents: Sequence[Incident]) -> list[IncidentDetails]:
    """:class:`IncidentDetails` for each incident, in the same order."""
    counts = reader.alert_counts([i.id for i in incidents])
    out = []
    for incident in incidents:
        triggered, resolved = counts.get(incident.id, (0, 0))
        entries = reader.log_entries(incident_id=incident.id)
        first = next((e for e in entries if e.type == "trigger_log_entry"), None)
        # Incidents never return to triggered, so the newest entry of the current
        # status's kind is the change that put it there (a re-ack counts, as in PagerDuty).
        kind = {"acknowledged": "acknowledge_log_entry", "resolved": "resolve_log_entry"}
        last = next((e for e in reversed(entries) if e.type == kind.get(incident.status)), first)
        acks = [
            (e.created_at, (e.agent_type, e.agent_id))
            for e in entries
            if incident.status == "acknowledged" and e.type == "acknowledge_log_entry"
        ]
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
                acknowledgements=acks,
                body=first.details.get("incident_body") if first else None,
            )
        )
    return out


# -- writing ----------------------------------------------------------------------------------


def _user_log(
    tx: Tx,
    kind: str,
    incident: Incident,
    by: str,
    channel: Channel,
    summary: str,
    details: dict[str, Any] | None = None,
) -> str:
    return tx.insert_log_entry(
        kind,
        service_id=incident.service_id,
        integration_id=None,
        incident_id=incident.id,
        agent_type="user",
        agent_id=by,
        summary=summary,
        details={"channel": channel, **(details or {})},
    )


def acknowledge(tx: Tx, incident_id: str | int, *, by: str, channel: Channel = "api") -> Incident:
    """Acknowledge an incident (id or number) on behalf of ``by``.

    Acknowledging an acknowledged incident again is allowed and logged, as
    PagerDuty does (it restarts the acknowledgement); a resolved one is
    refused with code 1001.
    """
    incident = find_incident(tx, incident_id)
    if incident.status == "resolved":
        raise Refused("Incident Already Resolved", code=1001)
    if incident.status == "acknowledged":
        tx.touch_incident(incident.id)
        updated = find_incident(tx, incident.id)
    else:
        updated = tx.set_incident_status(incident, "acknowledged", "acknowledge")
    _user_log(tx, "acknowledge_log_entry", updated, by, channel, f"Acknowledged by {by}")
    log.info("incident.acknowledged", incident=incident.id, number=incident.number, by=by)
    return updated


def resolve(tx: Tx, incident_id: str | int, *, by: str, channel: Channel = "api") -> Incident:
    """Resolve an incident (id or number) and all its open alerts, on behalf of ``by``.

    An incident that is already resolved is refused with code 1001.
    """
    incident = find_incident(tx, incident_id)
    if incident.status == "resolved":
        raise Refused("Incident Already Resolved", code=1001)
    open_alerts = [a for a in tx.alerts(incident.id) if a.status == "triggered"]
    for alert in open_alerts:
        tx.resolve_alert(alert)
    updated = tx.set_incident_status(incident, "resolved", "resolve")
    _user_log(
        tx,
        "resolve_log_entry",
        updated,
        by,
        channel,
        f"Resolved by {by}",
        {"resolved_alerts": [a.id for a in open_alerts]},
    )
    log.info(
        "incident.resolved",
        incident=incident.id,
        number=incident.number,
        by=by,
        alerts=len(open_alerts),
    )
    return updated


def update_incidents(
    tx: Tx,
    updates: Sequence[tuple[str | int, str]],
    *,
    by: str,
    channel: Channel = "api",
) -> list[Incident]:
    """Apply ``(incident id or number, "acknowledged" | "resolved")`` pairs, all or nothing.

    Raises on the first bad pair; the caller's transaction (one savepoint per
    ``Store.write`` job) then rolls every earlier change back. More than
    :data:`MAX_BULK` pairs is :class:`Invalid` (the REST layer answers 413 first).
    """
    if len(updates) > MAX_BULK:
        raise Invalid([f"At most {MAX_BULK} incidents can be updated at once"])
    bad = [
        f"Incident {ident}: 'status' must be acknowledged or resolved, not {status!r}"
        for ident, status in updates
        if status not in ("acknowledged", "resolved")
    ]
    if bad:
        raise Invalid(bad)
    done = []
    for ident, status in updates:
        action = acknowledge if status == "acknowledged" else resolve
        done.append(action(tx, ident, by=by, channel=channel))
    return done


def create_incident(
    tx: Tx,
    service_id: str,
    title: str,
    *,
    by: str,
    incident_key: str | None = None,
    urgency: str | None = None,
    details: Any = None,
    channel: Channel = "api",
) -> Incident:
    """Open an incident by hand on a service (no integration: "don't use an integration").

    ``urgency`` defaults from the service's urgency rule (high when it is
    severity based); ``incident_key`` defaults to a fresh key. Refused when
    the service is disabled or already has an open incident with the same
    key. The incident has no alerts; ``details`` is kept as its body.
    """
    problems = []
    if not isinstance(title, str) or not title.strip():
        problems.append("'title' is required")
    elif len(title) > MAX_TITLE_CHARS:
        problems.append(f"'title' must be at most {MAX_TITLE_CHARS} characters")
    if urgency is not None and urgency not in URGENCIES:
        problems.append("'urgency' must be high or low")
    if incident_key is not None and (not isinstance(incident_key, str) or not incident_key):
        problems.append("'incident_key' must be a non-empty string")
    if problems:
        raise Invalid(problems)
    service = _live_service(tx, service_id)
    if service.status == "disabled":
        raise Refused(
            "Service is disabled",
            errors=[f"Service {service.name!r} is disabled; enable it to open incidents on it"],
        )
    key = incident_key or new_dedup_key()
    if tx.open_incident_on_service(service.id, key) is not None:
        raise Refused(
            "Invalid Input Provided",
            errors=["Open incident with matching dedup key already exists on this service"],
        )
    incident = tx.insert_incident(
        service=service,
        integration_id=None,
        title=title.strip(),
        urgency=urgency or service.urgency_rule.urgency_for(None),
        incident_key=key,
    )
    _user_log(
        tx,
        "trigger_log_entry",
        incident,
        by,
        channel,
        f"Triggered by {by}",
        {"incident_body": {"type": "incident_body", "details": details}},
    )
    log.info("incident.created", incident=incident.id, number=incident.number, by=by)
    return incident


def _live_service(reader: Reader, service_id: str) -> Service:
    service = reader.service(service_id) if isinstance(service_id, str) else None
    if service is None:
        raise NotFound("Service", service_id)
    return service

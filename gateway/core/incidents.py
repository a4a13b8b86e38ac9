"""What a responder does to incidents: acknowledge, resolve, snooze, open one by hand.

Reopening a resolved incident is :mod:`gateway.core.incident_reopen` (re-exported here).

Pure functions on a :class:`~gateway.store.Tx`, run with ``Store.write`` or
``offline.write_sync``. No HTTP and no click here: the REST API, the CLI and
the web UI all call these, so the rules hold the same way everywhere. Reads
(find, list, alerts, timeline) are in :mod:`gateway.core.incident_reads`.

Every status change goes through ``Tx.set_incident_status``, so plugins'
``incident_changed`` observers see it after commit (``Store.write`` tells
them), and every change appends a log entry naming who did it (``by``: the
REST ``From`` address, ``cli:<user>``, the UI user's token name).

Refusals are the :class:`~gateway.errors.OperationError` tree:
:class:`~gateway.errors.NotFound` (no such incident or service),
:class:`~gateway.errors.Invalid` (2001) and :class:`~gateway.errors.Refused`
(1001 already resolved; 2001 duplicate incident key or disabled service).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import structlog

from gateway.core import incident_timers
from gateway.core.incident_reads import find_incident
from gateway.core.incident_reopen import reopen
from gateway.core.services import get_service
from gateway.domain import URGENCIES, Incident
from gateway.errors import Invalid, Refused
from gateway.ids import new_dedup_key
from gateway.store import Tx

__all__ = [
    "MAX_BULK",
    "Channel",
    "acknowledge",
    "close_incident",
    "create_incident",
    "reopen",
    "resolve",
    "snooze",
    "update_incidents",
]

log = structlog.get_logger("gateway.incidents")

#: PagerDuty's cap on one bulk update (``PUT /incidents``); above it the REST API answers 413.
MAX_BULK = 250
MAX_TITLE_CHARS = 1024
#: PagerDuty's longest snooze: a week.
MAX_SNOOZE_SECONDS = 604_800

Channel = Literal["api", "web_ui", "cli"]


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
    PagerDuty does (it restarts the acknowledgement timeout); a resolved one is
    refused with code 1001.
    """
    incident = find_incident(tx, incident_id)
    if incident.status == "resolved":
        raise Refused("Incident Already Resolved", code=1001)
    if incident.status == "acknowledged":
        tx.touch_incident(incident.id)
        updated = find_incident(tx, incident.id)
        # No status change for the producers to see: restart the timeout here.
        incident_timers.acknowledged(tx, updated)
    else:
        updated = tx.set_incident_status(incident, "acknowledged", "acknowledge")
    _user_log(tx, "acknowledge_log_entry", updated, by, channel, f"Acknowledged by {by}")
    log.info("incident.acknowledged", incident=incident.id, number=incident.number, by=by)
    return updated


def resolve(tx: Tx, incident_id: str | int, *, by: str, channel: Channel = "api") -> Incident:
    """Resolve an incident (id or number) and all its open alerts, on behalf of ``by``.

    An incident that is already resolved is refused with code 1001. Its pending timers
    (acknowledgement timeout, auto-resolution, snooze) are cancelled in the same
    transaction (:mod:`gateway.core.incident_timers`).
    """
    incident = find_incident(tx, incident_id)
    if incident.status == "resolved":
        raise Refused("Incident Already Resolved", code=1001)
    updated, alert_ids = close_incident(tx, incident)
    _user_log(
        tx,
        "resolve_log_entry",
        updated,
        by,
        channel,
        f"Resolved by {by}",
        {"resolved_alerts": alert_ids},
    )
    log.info(
        "incident.resolved",
        incident=incident.id,
        number=incident.number,
        by=by,
        alerts=len(alert_ids),
    )
    return updated


def close_incident(tx: Tx, incident: Incident) -> tuple[Incident, list[str]]:
    """Resolve an open incident's triggered alerts, then the incident; the caller logs who.

    Returns the resolved incident and the ids of the alerts it resolved. Shared by a
    responder's resolve and the auto-resolution timer, so both close alike.
    """
    open_alerts = [a for a in tx.alerts(incident.id) if a.status == "triggered"]
    for alert in open_alerts:
        tx.resolve_alert(alert)
    return tx.set_incident_status(incident, "resolved", "resolve"), [a.id for a in open_alerts]


def snooze(
    tx: Tx, incident_id: str | int, seconds: int, *, by: str, channel: Channel = "api"
) -> Incident:
    """Snooze an acknowledged incident for ``seconds`` (1 to 604,800), on behalf of ``by``.

    PagerDuty's rule: the acknowledgement timeout is suspended, and the incident returns
    to triggered when the snooze ends (a ``snooze_end`` timer); auto-resolution waits
    for the snooze to end. Only an acknowledged incident can be snoozed (400 otherwise).
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise Invalid(["'duration' must be a whole number of seconds"])
    if not 1 <= seconds <= MAX_SNOOZE_SECONDS:
        raise Invalid([f"'duration' must be between 1 and {MAX_SNOOZE_SECONDS} seconds"])
    incident = find_incident(tx, incident_id)
    if incident.status == "resolved":
        raise Refused("Incident Already Resolved", code=1001)
    if incident.status != "acknowledged":
        raise Refused(
            "Incident Not Acknowledged",
            errors=["Only an acknowledged incident can be snoozed; acknowledge it first"],
        )
    tx.touch_incident(incident.id)
    until = incident_timers.start_snooze(tx, incident, seconds)
    _user_log(
        tx,
        "snooze_log_entry",
        incident,
        by,
        channel,
        f"Snoozed by {by} for {seconds} seconds",
        {"duration": seconds, "snoozed_until": until},
    )
    log.info("incident.snoozed", incident=incident.id, number=incident.number, by=by, s=seconds)
    return find_incident(tx, incident.id)


def update_incidents(
    tx: Tx,
    updates: Sequence[tuple[str | int, str]],
    *,
    by: str,
    channel: Channel = "api",
) -> list[Incident]:
    """Apply ``(incident id or number, status)`` pairs, all or nothing.

    ``acknowledged`` acknowledges an open incident, ``resolved`` resolves one; on a
    resolved incident ``triggered`` or ``acknowledged`` reopens it
    (:func:`gateway.core.incident_reopen.reopen`, within its window). ``triggered`` on an
    open incident is :class:`Invalid`. Raises on the first bad pair; the caller's
    transaction (one savepoint per ``Store.write`` job) then rolls every earlier change
    back. More than :data:`MAX_BULK` pairs is :class:`Invalid` (the REST layer answers
    413 first).
    """
    if len(updates) > MAX_BULK:
        raise Invalid([f"At most {MAX_BULK} incidents can be updated at once"])
    bad = [
        f"Incident {ident}: 'status' must be acknowledged, resolved or triggered, not {status!r}"
        for ident, status in updates
        if status not in ("acknowledged", "resolved", "triggered")
    ]
    if bad:
        raise Invalid(bad)
    done = []
    for ident, status in updates:
        if status != "resolved" and find_incident(tx, ident).status == "resolved":
            done.append(reopen(tx, ident, status, by=by, channel=channel))
        elif status == "triggered":
            raise Invalid(
                [f"Incident {ident}: 'status' triggered only reopens a resolved incident"]
            )
        else:
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
    service = get_service(tx, service_id)
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

"""How many triggers one incident's timeline records: PagerDuty's trigger limit.

A flapping alert re-triggers its open incident again and again, and each trigger used to
append a ``trigger_log_entry``: one incident gathered thousands, and every page that showed
it grew slower. Past :data:`TRIGGER_LOG_LIMIT` trigger entries an incident gets one
``reach_trigger_limit_log_entry`` (PagerDuty's log entry type for this), and every later
trigger only adds one to that entry's ``unlogged_triggers`` count (with the time of the
newest in ``last_trigger_at``). The event itself is still applied as before: the alert
keeps deduplicating and shows the newest summary, severity and details, and the incident's
``updated_at`` moves. Only the timeline stops growing.
"""

from __future__ import annotations

from typing import Any, Final

import structlog

from gateway.domain import Incident, LogEntry
from gateway.store import Tx

__all__ = ["REACH_TRIGGER_LIMIT", "TRIGGER", "TRIGGER_LOG_LIMIT", "log_trigger"]

log = structlog.get_logger("gateway.incidents")

#: Trigger log entries one incident keeps before it only counts further triggers. Ten REST
#: pages of 100; at one trigger a minute, the first 16 hours of a flapping alert, entry by
#: entry; about 1 MB of timeline for events with ~1 KB of details. One incident's reads
#: stay bounded by it whatever the alert does.
TRIGGER_LOG_LIMIT: Final = 1000
TRIGGER: Final = "trigger_log_entry"
REACH_TRIGGER_LIMIT: Final = "reach_trigger_limit_log_entry"


def log_trigger(
    tx: Tx,
    incident: Incident,
    *,
    integration_id: str,
    alert_id: str | None,
    summary: str | None,
    details: dict[str, Any],
) -> None:
    """Record an event's trigger on ``incident``: an entry, or past the limit a count.

    A flapping incident past the limit has the limit entry as its newest: one index step
    finds it. Otherwise one walk of the incident's index, stopping at the limit, tells
    whether it can be reached at all; only then are trigger entries counted.
    """
    newest = tx.incident_log_page(incident.id, limit=1, newest_first=True)
    if newest and newest[0].type == REACH_TRIGGER_LIMIT:
        _count(tx, newest[0])
        return
    if tx.has_log_entries(incident.id, at_least=TRIGGER_LOG_LIMIT):
        # Acknowledgements or resolutions may follow the limit entry: look further back.
        reached = tx.last_log_entries(incident.id, REACH_TRIGGER_LIMIT, 1)
        if reached:
            _count(tx, reached[0])
            return
        triggers = tx.count_incident_log_entries(
            incident.id, type=TRIGGER, at_most=TRIGGER_LOG_LIMIT
        )
        if triggers >= TRIGGER_LOG_LIMIT:
            _reach_limit(tx, incident, integration_id, alert_id)
            return
    tx.insert_log_entry(
        TRIGGER,
        service_id=incident.service_id,
        integration_id=integration_id,
        incident_id=incident.id,
        alert_id=alert_id,
        agent_type="integration",
        agent_id=integration_id,
        summary=summary,
        details=details,
    )


def _count(tx: Tx, entry: LogEntry) -> None:
    counted = dict(entry.details)
    counted["unlogged_triggers"] = int(counted.get("unlogged_triggers", 0)) + 1
    counted["last_trigger_at"] = tx.now
    tx.set_log_entry_details(entry.id, counted)


def _reach_limit(tx: Tx, incident: Incident, integration_id: str, alert_id: str | None) -> None:
    # The trigger that finds the limit reached is the first one not logged: it is counted.
    tx.insert_log_entry(
        REACH_TRIGGER_LIMIT,
        service_id=incident.service_id,
        integration_id=integration_id,
        incident_id=incident.id,
        alert_id=alert_id,
        agent_type="integration",
        agent_id=integration_id,
        summary=(
            f"Reached the limit of {TRIGGER_LOG_LIMIT} trigger log entries: "
            "further triggers are counted here"
        ),
        details={"limit": TRIGGER_LOG_LIMIT, "unlogged_triggers": 1, "last_trigger_at": tx.now},
    )
    log.warning(
        "incident.trigger_limit_reached",
        incident=incident.id,
        number=incident.number,
        limit=TRIGGER_LOG_LIMIT,
    )

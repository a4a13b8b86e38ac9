"""When an incident's timers are scheduled and cancelled: one rule per status change.

A producer (:func:`on_changes`) sees every committed job's incident changes in the
job's own transaction, whoever made them (Events API, REST, UI, CLI, a timer), so no
path can forget a timer:

- a new incident schedules ``auto_resolve`` at its creation + the service's
  ``auto_resolve_timeout`` (0/null: off);
- an acknowledgement schedules ``ack_timeout`` at now + ``acknowledgement_timeout``
  (0/null: off), replacing a pending one and ending a snooze;
- a return to triggered (the timeout or a snooze's end) cancels those two;
- a resolve cancels everything the incident has pending;
- a reopen (:mod:`gateway.core.incident_reopen`) schedules ``auto_resolve`` again, at
  now + ``auto_resolve_timeout`` (the one from the creation would be due already), and,
  reopened as acknowledged, ``ack_timeout`` as any acknowledgement does.

Acknowledging an acknowledged incident changes no status, so
:func:`gateway.core.incidents.acknowledge` calls :func:`acknowledged` itself. What the
timers do when they fire is :mod:`gateway.core.incident_expiry`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from gateway.clock import iso, parse_iso
from gateway.core import timers
from gateway.domain import Incident
from gateway.model import IncidentChange
from gateway.store import Tx

__all__ = [
    "ACK_TIMEOUT",
    "AUTO_RESOLVE",
    "SNOOZE_END",
    "acknowledged",
    "backfill",
    "on_changes",
    "start_snooze",
]

ACK_TIMEOUT: Final = "ack_timeout"
AUTO_RESOLVE: Final = "auto_resolve"
SNOOZE_END: Final = "snooze_end"
#: What an acknowledgement (or its end) replaces.
_ACK_KINDS: Final = (ACK_TIMEOUT, SNOOZE_END)


def _timeouts(tx: Tx, service_id: str, memo: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """``(acknowledgement_timeout, auto_resolve_timeout)`` of a service, 0 for off."""
    found = memo.get(service_id)
    if found is None:
        found = memo[service_id] = tx.service_timeouts(service_id)
    return found


def on_changes(tx: Tx, changes: list[IncidentChange]) -> None:
    """The producer: schedule and cancel the changed incidents' timers, in ``tx``."""
    memo: dict[str, tuple[int, int]] = {}
    for change in changes:
        if change.action == "reopen":
            ack, auto = _timeouts(tx, change.service_id, memo)
            if auto > 0:
                timers.schedule_in(tx, AUTO_RESOLVE, change.incident_id, auto)
            if change.status == "acknowledged":
                _restart_ack_timeout(tx, change.incident_id, ack)
        elif change.status == "resolved":
            timers.cancel(tx, change.incident_id)
        elif change.status == "acknowledged":
            ack, _ = _timeouts(tx, change.service_id, memo)
            _restart_ack_timeout(tx, change.incident_id, ack)
        elif change.previous_status is None:
            _, auto = _timeouts(tx, change.service_id, memo)
            if auto > 0:
                timers.schedule_in(tx, AUTO_RESOLVE, change.incident_id, auto)
        else:  # back to triggered
            timers.cancel(tx, change.incident_id, _ACK_KINDS)


def backfill(tx: Tx) -> int:
    """Give the open incidents of a database from before timers the timers they lacked.

    Run by the daemon at start, and only while the table is empty (the first start after
    the upgrade; later a cheap look): each open incident gets its auto-resolution at
    creation + the service's ``auto_resolve_timeout``, and an acknowledged one its
    acknowledgement timeout from its last status change. Either may be due already: it
    fires at once. Returns how many timers were written.
    """
    if tx.any_timer():
        return 0
    memo: dict[str, tuple[int, int]] = {}
    written = 0
    for (
        incident_id,
        service_id,
        status,
        created_at,
        changed_at,
    ) in tx.open_incidents_without_timers():
        ack, auto = _timeouts(tx, service_id, memo)
        if auto > 0:
            timers.schedule(tx, AUTO_RESOLVE, incident_id, parse_iso(created_at) + _s(auto))
            written += 1
        if status == "acknowledged" and ack > 0:
            timers.schedule(tx, ACK_TIMEOUT, incident_id, parse_iso(changed_at) + _s(ack))
            written += 1
    return written


def _s(seconds: int) -> timedelta:
    return timedelta(seconds=seconds)


def acknowledged(tx: Tx, incident: Incident) -> None:
    """An acknowledged incident was acknowledged again: its timeout starts over."""
    ack, _ = _timeouts(tx, incident.service_id, {})
    _restart_ack_timeout(tx, incident.id, ack)


def _restart_ack_timeout(tx: Tx, incident_id: str, seconds: int) -> None:
    timers.cancel(tx, incident_id, _ACK_KINDS)
    if seconds > 0:
        timers.schedule_in(tx, ACK_TIMEOUT, incident_id, seconds)


def start_snooze(tx: Tx, incident: Incident, seconds: int) -> str:
    """Replace the acknowledgement timeout by a snooze ending in ``seconds``; return its end."""
    timers.cancel(tx, incident.id, _ACK_KINDS)
    until = iso(parse_iso(tx.now) + timedelta(seconds=seconds))
    timers.schedule(tx, SNOOZE_END, incident.id, until, {"duration": seconds})
    return until

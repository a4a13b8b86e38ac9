"""The account's log entries, and what a service suppressed: reads without an incident id.

PagerDuty's ``GET /log_entries`` lists every log entry of the account; here that includes
the entries no incident holds (suppressed events, service and integration changes), so
they can be found without knowing an id. A service's page shows how many events it
suppressed in the last day and the latest few, with why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from gateway.clock import iso
from gateway.core.incident_reads import LogPage
from gateway.core.inputs import parse_time
from gateway.domain import LogEntry
from gateway.errors import Invalid
from gateway.store import Reader

__all__ = [
    "OVERVIEW_TYPES",
    "SUPPRESSED_COUNT_CAP",
    "SuppressedEvents",
    "account_log_entries",
    "suppressed_events",
]

#: ``is_overview=true``: the entries that change an incident's state, and suppressed events
#: (an event that changed nothing because of a rule is as important as one that did).
OVERVIEW_TYPES = (
    "trigger_log_entry",
    "acknowledge_log_entry",
    "resolve_log_entry",
    "suppress_log_entry",
)
#: A service page counts its suppressed events up to this many ("10,000 or more"): the
#: count then costs at most that many index steps, however noisy a disabled service is.
SUPPRESSED_COUNT_CAP = 10_000


def account_log_entries(
    reader: Reader,
    *,
    since: str | None = None,
    until: str | None = None,
    is_overview: bool = False,
    limit: int,
    offset: int = 0,
    total: bool = False,
) -> LogPage:
    """A page of the account's log entries, newest first, ``since``/``until`` (ISO 8601).

    Paged in SQL: one entry more than ``limit`` tells whether more follow; the count for
    ``total`` is only made when asked for. Raises :class:`Invalid` for a bad time or a
    range that ends before it starts.
    """
    start = iso(parse_time(since, "since")) if since else None
    end = iso(parse_time(until, "until")) if until else None
    if start is not None and end is not None and end <= start:
        raise Invalid(["'until' must be after 'since'"])
    types = OVERVIEW_TYPES if is_overview else ()
    rows = reader.account_log_page(
        since=start, until=end, types=types, limit=limit + 1, offset=offset
    )
    return LogPage(
        entries=rows[:limit],
        more=len(rows) > limit,
        total=reader.count_account_log_entries(since=start, until=end, types=types)
        if total
        else None,
    )


@dataclass(frozen=True, slots=True)
class SuppressedEvents:
    """A service's suppressed events over a period: how many (``capped`` when the count
    stopped at :data:`SUPPRESSED_COUNT_CAP`) and the latest few, newest first."""

    hours: int
    count: int
    capped: bool
    latest: list[LogEntry]


def suppressed_events(
    reader: Reader, service_id: str, *, hours: int = 24, latest: int = 5
) -> SuppressedEvents:
    """What ``service_id`` suppressed (disabled, in maintenance) in the last ``hours``."""
    since = iso(reader.clock.now() - timedelta(hours=hours))
    count = reader.count_suppressed(service_id, since=since, at_most=SUPPRESSED_COUNT_CAP)
    return SuppressedEvents(
        hours=hours,
        count=count,
        capped=count >= SUPPRESSED_COUNT_CAP,
        latest=reader.suppressed_log(service_id, since=since, limit=latest) if count else [],
    )

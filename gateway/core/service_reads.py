"""How the faces see services: displayed statuses, details and the Service Directory.

Reads only, over a :class:`~gateway.store.Reader` snapshot; the rules for changing
services are in :mod:`gateway.core.services`, as incident lookups sit in
:mod:`gateway.core.incident_reads` beside the incident writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.clock import iso
from gateway.core.services import page_services
from gateway.domain import Integration, Service, ServiceForwarding
from gateway.store import Reader

__all__ = [
    "DirectoryPage",
    "ServiceDetails",
    "ServiceRow",
    "count_services",
    "service_details",
    "service_directory",
    "service_status",
    "service_statuses",
]


def count_services(reader: Reader) -> int:
    """How many services the database holds (the readiness probe's proof that reads answer)."""
    return reader.count("services")


def service_statuses(
    reader: Reader, services: list[Service], at: str | None = None
) -> dict[str, str]:
    """PagerDuty's displayed status for many services at once (two queries in all).

    ``disabled`` if disabled; else ``maintenance`` in a window covering ``at``;
    else ``critical`` with a triggered incident, ``warning`` with an
    acknowledged one, otherwise ``active``. Only these services' open incidents are
    read, so one service's page does not read every open incident.
    """
    when = at or iso(reader.clock.now())
    in_maintenance = reader.services_in_maintenance(when)
    open_statuses = reader.open_incident_statuses([s.id for s in services])
    result: dict[str, str] = {}
    for service in services:
        statuses = open_statuses.get(service.id, set())
        if service.status == "disabled":
            result[service.id] = "disabled"
        elif service.id in in_maintenance:
            result[service.id] = "maintenance"
        elif "triggered" in statuses:
            result[service.id] = "critical"
        elif "acknowledged" in statuses:
            result[service.id] = "warning"
        else:
            result[service.id] = "active"
    return result


def service_status(reader: Reader, service: Service, at: str | None = None) -> str:
    """PagerDuty's displayed status of one service (see :func:`service_statuses`)."""
    return service_statuses(reader, [service], at)[service.id]


@dataclass(frozen=True, slots=True)
class ServiceDetails:
    """A service as every face shows it: displayed status, live integrations, forwarding."""

    service: Service
    status: str
    integrations: list[Integration]
    forwarding: ServiceForwarding
    #: The name of the service's escalation policy (``None`` only if it vanished).
    policy_name: str | None = None


def service_details(reader: Reader, services: list[Service]) -> list[ServiceDetails]:
    """:class:`ServiceDetails` for each service, in the same order (one snapshot)."""
    statuses = service_statuses(reader, services)
    forwarding = {f.service_id: f for f in reader.services_forwarding()}
    policies = dict(reader.escalation_policy_names())
    return [
        ServiceDetails(
            s,
            statuses[s.id],
            reader.integrations(s.id),
            forwarding.get(s.id) or ServiceForwarding(s.id, (), False, False),
            policies.get(s.escalation_policy_id or ""),
        )
        for s in services
    ]


@dataclass(frozen=True, slots=True)
class ServiceRow:
    """A service in the Service Directory: its displayed status and open incident counts."""

    service: Service
    status: str
    triggered: int
    acknowledged: int


@dataclass(frozen=True, slots=True)
class DirectoryPage:
    """One page of the Service Directory: its rows and how many services match in all."""

    rows: list[ServiceRow]
    total: int
    limit: int
    offset: int

    @property
    def more(self) -> bool:
        """Whether services follow this page."""
        return self.offset + len(self.rows) < self.total


def service_directory(
    reader: Reader, query: str | None = None, *, limit: int = 25, offset: int = 0
) -> DirectoryPage:
    """One page of live services (optionally matching ``query``) with status and open counts.

    The names are matched and sorted by :func:`~gateway.core.services.page_services`, the
    REST list's rule; rows, statuses and counts are read for this page's services only.
    """
    shown, total = page_services(reader, query=query, limit=limit, offset=offset)
    statuses = service_statuses(reader, shown)
    # One query for the page, not two per service.
    counts = reader.open_incident_counts_by_service([s.id for s in shown])
    rows = [
        ServiceRow(
            s,
            statuses[s.id],
            counts.get(s.id, {}).get("triggered", 0),
            counts.get(s.id, {}).get("acknowledged", 0),
        )
        for s in shown
    ]
    return DirectoryPage(rows, total, limit, offset)

"""The service layer for services: look them up, create, change, disable and delete them.

Pure functions over a :class:`~gateway.store.Tx` (writes) or a
:class:`~gateway.store.Reader` (reads): no HTTP, no click. The REST API, the
CLI, the web UI and configuration provisioning all call these, so each rule
exists once. Each write validates everything before it changes anything, so
a refused call leaves the database as it was; refusals are the
:class:`~gateway.errors.OperationError` tree (:class:`~gateway.errors.NotFound`,
:class:`~gateway.errors.Invalid`).

Every change writes a service-level log entry (agent from ``by``), a
structlog event (``service.created``, ``service.updated``, ``service.deleted``)
and tells the outbox's service producers (:func:`gateway.core.outbox.service_changed`:
webhook subscriptions hear of it in the same transaction).
Integrations live in :mod:`gateway.core.integrations`, inputs in
:mod:`gateway.core.inputs`.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple, Protocol, TypeVar

import structlog

from gateway.core import outbox
from gateway.core.escalation_policies import default_policy, policy_problem, refuse_declared_policy
from gateway.core.inputs import SYSTEM, Agent, ServiceInput, ServicePatch, Unset
from gateway.core.ownership import refuse_declared
from gateway.domain import (
    ALERT_CREATIONS,
    SERVICE_STATUSES,
    URGENCY_RULES,
    Service,
    placement_problem,
)
from gateway.errors import Invalid, NotFound
from gateway.store import Reader, Tx

__all__ = [
    "ServiceName",
    "create_service",
    "delete_service",
    "find_service",
    "get_service",
    "list_services",
    "page_services",
    "placement_problem",
    "record_change",
    "service_names",
    "update_service",
]

log = structlog.get_logger("gateway.services")

SORTS: Final = ("name", "name:asc", "name:desc")
MAX_NAME: Final = 255
MAX_GROUPING_MINUTES: Final = 1440
# The file's key for it is optional: whether it owns it is per service (refuse_declared_policy).
NOT_DECLARED: Final = {"escalation_policy_id"}


# -- reads ----------------------------------------------------------------------------------------


def get_service(reader: Reader, service_id: str) -> Service:
    """The live service ``service_id``, or :class:`NotFound`."""
    service = reader.service(service_id) if isinstance(service_id, str) else None
    if service is None:
        raise NotFound("Service", service_id)
    return service


def find_service(reader: Reader, id_or_name: str) -> Service:
    """A live service by id, else by exact name (the CLI and the UI name services either way)."""
    service = reader.service(id_or_name) or reader.service_by_name(id_or_name)
    if service is None:
        raise NotFound("Service", id_or_name)
    return service


def list_services(
    reader: Reader, *, query: str | None = None, sort_by: str | None = None
) -> list[Service]:
    """Live services whose name contains ``query`` (case-insensitive), sorted by name.

    ``sort_by`` is ``name``, ``name:asc`` or ``name:desc`` (PagerDuty's values).
    """
    return _search(reader.services(), query, sort_by)


class _Named(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=_Named)


def _search(items: list[N], query: str | None, sort_by: str | None) -> list[N]:
    """The list rule, once: name contains ``query`` (case-blind), sorted by name then id."""
    sort = sort_by or "name"
    if sort not in SORTS:
        raise Invalid([f"sort_by must be one of {', '.join(SORTS)}"])
    if query:
        needle = query.casefold()
        items = [s for s in items if needle in s.name.casefold()]
    return sorted(items, key=lambda s: (s.name.casefold(), s.id), reverse=sort == "name:desc")


class ServiceName(NamedTuple):
    """A live service's id and name: what a list searches, sorts and pages by."""

    id: str
    name: str


def service_names(
    reader: Reader, *, query: str | None = None, sort_by: str | None = None
) -> list[ServiceName]:
    """:func:`list_services`'s rule (name contains ``query``, case-blind; sorted by name)
    over ids and names only: a choice list of every service, or the step before a page."""
    return _search([ServiceName(i, n) for i, n in reader.service_names()], query, sort_by)


def page_services(
    reader: Reader,
    *,
    query: str | None = None,
    sort_by: str | None = None,
    limit: int = 25,
    offset: int = 0,
) -> tuple[list[Service], int]:
    """One page of :func:`list_services` and how many match in all.

    Searches and sorts ids and names, then reads whole rows for the page only: building
    every service of a large install for 25 of them cost most of a list's time.
    """
    names = service_names(reader, query=query, sort_by=sort_by)
    page = reader.services_by_ids([s.id for s in names[offset : offset + limit]])
    return page, len(names)


# -- writes ---------------------------------------------------------------------------------------


def create_service(tx: Tx, data: ServiceInput, *, by: Agent = SYSTEM) -> Service:
    """Create a service (status must be ``active``; names are unique among live services)."""
    errors: list[str] = []
    name = _check_name(tx, data.name, None, errors)
    if data.status != "active":
        errors.append("status must be 'active' when a service is created")
    columns = {
        "name": name,
        "description": data.description,
        "status": "active",
        "alert_creation": _choice("alert_creation", data.alert_creation, ALERT_CREATIONS, errors),
        "urgency": _choice("incident_urgency_rule.urgency", data.urgency, URGENCY_RULES, errors),
        "acknowledgement_timeout": _timeout(
            "acknowledgement_timeout", data.acknowledgement_timeout, errors
        ),
        "auto_resolve_timeout": _timeout("auto_resolve_timeout", data.auto_resolve_timeout, errors),
        "alert_grouping": _grouping(data.alert_grouping, errors),
        "alert_grouping_timeout": _grouping_timeout(data.alert_grouping_timeout, errors),
        "escalation_policy_id": _policy(tx, data.escalation_policy_id, errors),
    }
    if errors:
        raise Invalid(errors)
    service = tx.insert_service(**columns)
    record_change(tx, "service_create", by, service.id, None, f"Service {service.name} created")
    outbox.service_changed(tx, service.id, "created")
    log.info("service.created", service_id=service.id, name=service.name, by=by.type)
    return service


def update_service(tx: Tx, service_id: str, patch: ServicePatch, *, by: Agent = SYSTEM) -> Service:
    """Change a service's settings; ``status`` ``disabled``/``active`` disables or re-enables it.

    A disabled service keeps all its settings and integrations; events to it
    open no incidents until it is active again. ``alert_creation`` may not
    become one that one of its integrations cannot live with
    (:func:`placement_problem`).
    """
    service = get_service(tx, service_id)
    errors: list[str] = []
    columns: dict[str, Any] = {}
    if not isinstance(patch.name, Unset):
        columns["name"] = _check_name(tx, patch.name, service.id, errors)
    if not isinstance(patch.description, Unset):
        columns["description"] = patch.description
    if not isinstance(patch.status, Unset):
        columns["status"] = _choice("status", patch.status, SERVICE_STATUSES, errors)
    if not isinstance(patch.alert_creation, Unset):
        creation = _choice("alert_creation", patch.alert_creation, ALERT_CREATIONS, errors)
        problems = {placement_problem(i.type, creation) for i in tx.integrations(service.id)}
        errors.extend(sorted(p for p in problems if p))
        columns["alert_creation"] = creation
    if not isinstance(patch.urgency, Unset):
        columns["urgency"] = _choice(
            "incident_urgency_rule.urgency", patch.urgency, URGENCY_RULES, errors
        )
    if not isinstance(patch.acknowledgement_timeout, Unset):
        columns["acknowledgement_timeout"] = _timeout(
            "acknowledgement_timeout", patch.acknowledgement_timeout, errors
        )
    if not isinstance(patch.auto_resolve_timeout, Unset):
        columns["auto_resolve_timeout"] = _timeout(
            "auto_resolve_timeout", patch.auto_resolve_timeout, errors
        )
    if not isinstance(patch.alert_grouping, Unset):
        columns["alert_grouping"] = _grouping(patch.alert_grouping, errors)
    if not isinstance(patch.alert_grouping_timeout, Unset):
        columns["alert_grouping_timeout"] = _grouping_timeout(patch.alert_grouping_timeout, errors)
    if not isinstance(patch.escalation_policy_id, Unset):
        problem = policy_problem(tx, patch.escalation_policy_id)
        if problem:
            errors.append(problem)
        columns["escalation_policy_id"] = patch.escalation_policy_id
    if errors:
        raise Invalid(errors)
    current = _columns(service)
    changed = {k: v for k, v in columns.items() if current[k] != v}
    refuse_declared(tx, "Service", service.id, service.name, set(changed) - NOT_DECLARED, by)
    if "escalation_policy_id" in changed:
        refuse_declared_policy(tx, service.id, service.name, by)
    if changed:
        tx.update_service(service.id, **changed)
        kind = {"disabled": "service_disable", "active": "service_enable"}.get(
            changed.get("status", ""), "service_update"
        )
        record_change(
            tx,
            kind,
            by,
            service.id,
            None,
            f"Service {columns.get('name', service.name)} updated: {', '.join(sorted(changed))}",
            {"changed": sorted(changed)},
        )
        outbox.service_changed(tx, service.id, "updated")
        log.info("service.updated", service_id=service.id, fields=sorted(changed), by=by.type)
    return get_service(tx, service.id)


def delete_service(tx: Tx, service_id: str, *, by: Agent = SYSTEM) -> None:
    """Delete a service for good: its integrations (and keys) die with it; incidents stay."""
    service = get_service(tx, service_id)
    refuse_declared(tx, "Service", service.id, service.name, ["deleted"], by)
    integration_ids = tx.delete_service(service.id)
    record_change(
        tx,
        "service_delete",
        by,
        service.id,
        None,
        f"Service {service.name} deleted",
        {"integrations": integration_ids},
    )
    outbox.service_changed(tx, service.id, "deleted")
    log.info("service.deleted", service_id=service.id, integrations=len(integration_ids))


def record_change(
    tx: Tx,
    kind: str,
    by: Agent,
    service_id: str,
    integration_id: str | None,
    summary: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Write the service-level log entry ``<kind>_log_entry`` for a change ``by`` made."""
    tx.insert_log_entry(
        f"{kind}_log_entry",
        service_id=service_id,
        integration_id=integration_id,
        agent_type=by.type,
        agent_id=by.id,
        summary=summary,
        details=details,
    )


# -- checks ---------------------------------------------------------------------------------------


def _columns(service: Service) -> dict[str, Any]:
    """The service's values under their column names, to tell what a patch really changes."""
    return {
        "name": service.name,
        "description": service.description,
        "status": service.status,
        "alert_creation": service.alert_creation,
        "urgency": service.urgency_rule.urgency,
        "acknowledgement_timeout": service.acknowledgement_timeout,
        "auto_resolve_timeout": service.auto_resolve_timeout,
        "alert_grouping": service.alert_grouping,
        "alert_grouping_timeout": service.alert_grouping_timeout,
        "escalation_policy_id": service.escalation_policy_id,
    }


def _check_name(reader: Reader, name: object, own_id: str | None, errors: list[str]) -> str:
    if not isinstance(name, str) or not name.strip():
        errors.append("name must not be empty")
        return ""
    name = name.strip()
    if len(name) > MAX_NAME:
        errors.append(f"name must be at most {MAX_NAME} characters")
    other = reader.service_by_name(name)
    if other is not None and other.id != own_id:
        errors.append("Name has already been taken")
    return name


def _choice(label: str, value: object, allowed: tuple[str, ...], errors: list[str]) -> str:
    if value not in allowed:
        errors.append(f"{label} must be one of {', '.join(allowed)} (got {value!r})")
        return allowed[0]
    assert isinstance(value, str)
    return value


def _policy(tx: Tx, policy_id: str | None, errors: list[str]) -> str:
    """A new service's policy: the one it names if that exists, else the Default policy."""
    if policy_id is None:
        return default_policy(tx).id
    problem = policy_problem(tx, policy_id)
    if problem:
        errors.append(problem)
    return policy_id


def _timeout(label: str, value: object, errors: list[str]) -> int | None:
    if value is None or value == 0:
        return None  # PagerDuty: 0 or null turns the timeout off
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        errors.append(f"{label} must be a number of seconds (0 or null turns it off)")
        return None
    return value


def _grouping(value: object, errors: list[str]) -> str | None:
    # Only time-based grouping is implemented by the rules; refusing the others is
    # honest where silently ignoring them would change how incidents open.
    if value is None or value == "time":
        return value
    errors.append(f"alert grouping {value!r} is not supported (use 'time' or null)")
    return None


def _grouping_timeout(value: object, errors: list[str]) -> int | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= MAX_GROUPING_MINUTES
    ):
        errors.append(
            f"alert grouping timeout must be 0..{MAX_GROUPING_MINUTES} minutes (0 = until resolved)"
        )
        return None
    return value

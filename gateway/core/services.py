"""The service layer: services and integrations, for REST, the CLI and the web UI alike.

Pure functions over a :class:`~gateway.store.Tx` (writes) or a
:class:`~gateway.store.Reader` (reads): no HTTP, no click. Run writes through
``Store.write`` (daemon) or ``store.offline.write_sync`` (CLI), reads through
``Store.read`` / ``read_sync``. Each write validates everything before it
changes anything, so a refused call leaves the database as it was (and the
caller's transaction rolls back on the exception anyway).

Errors form one small tree, each mapping to one HTTP answer::

    ServiceError                  (a GatewayError)
    ├── NotFound(kind, id)        404 (kind "Service" → code 5002, others 5001)
    ├── Invalid(errors)           400 "Invalid Input Provided" with errors[]
    │   └── Incompatible          400: a move that no confirmation can allow
    └── Conflict(differences)     409: a move that changes incident settings; retry with confirm

Every change writes a service-level log entry (``agent_type``/``agent_id`` from
``by``) and a structlog event (``service.created``, ``integration.moved`` …).
Integration keys appear in logs only as their last four characters.

Public API (stable; the web UI builds on it):

- inputs: :class:`ServiceInput`, :class:`ServicePatch`, :class:`IntegrationInput`,
  :class:`IntegrationPatch`, :data:`UNSET`, :class:`Agent`
- services: :func:`get_service`, :func:`list_services`, :func:`service_status`,
  :func:`service_statuses`, :func:`create_service`, :func:`update_service`,
  :func:`delete_service`
- integrations: :func:`get_integration`, :func:`add_integration`,
  :func:`update_integration`, :func:`rename_integration`,
  :func:`integration_move_differences`, :func:`move_integration`,
  :func:`delete_integration`
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import structlog

from gateway.clock import iso
from gateway.domain import (
    ALERT_CREATIONS,
    EVENTS_API_V1,
    EVENTS_API_V2,
    GENERIC_EMAIL,
    INTEGRATION_TYPES,
    SERVICE_STATUSES,
    URGENCY_RULES,
    Integration,
    Service,
)
from gateway.errors import GatewayError
from gateway.ids import new_integration_key
from gateway.logs import redact
from gateway.model import Vendor
from gateway.plugins import PluginHost
from gateway.store import Reader, Tx

__all__ = [
    "ALERT_CREATIONS",
    "EVENTS_API_V1",
    "EVENTS_API_V2",
    "GENERIC_EMAIL",
    "SERVICE_STATUSES",
    "UNSET",
    "URGENCIES",
    "Agent",
    "Conflict",
    "Difference",
    "Incompatible",
    "IntegrationInput",
    "IntegrationPatch",
    "Invalid",
    "MoveResult",
    "NotFound",
    "ServiceError",
    "ServiceInput",
    "ServicePatch",
    "Unset",
    "add_integration",
    "create_service",
    "delete_integration",
    "delete_service",
    "get_integration",
    "get_service",
    "integration_move_differences",
    "list_services",
    "move_integration",
    "rename_integration",
    "service_status",
    "service_statuses",
    "update_integration",
    "update_service",
]

log = structlog.get_logger("gateway.services")

URGENCIES: Final = URGENCY_RULES  # a service's urgency rule values
SORTS: Final = ("name", "name:asc", "name:desc")
MAX_NAME = 255
MAX_GROUPING_MINUTES = 1440
_EMAIL = re.compile(r"^[^@\s]+(@[^@\s]+)?$")


# -- errors -----------------------------------------------------------------------------------


class ServiceError(GatewayError):
    """Base of every error this layer raises on purpose."""


class NotFound(ServiceError):
    """No live object of ``kind`` (``Service``, ``Integration``) has ``object_id``."""

    def __init__(self, kind: str, object_id: str) -> None:
        super().__init__(f"{kind} {object_id} not found")
        self.kind = kind
        self.object_id = object_id


class Invalid(ServiceError):
    """The input breaks a rule; ``errors`` has one readable message per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class Incompatible(Invalid):
    """A move that is never allowed, confirmed or not (Events API v2 onto create_incidents)."""


@dataclass(frozen=True, slots=True)
class Difference:
    """One incident setting that differs between an integration's service and the destination."""

    field: str
    from_: str | None
    to: str | None

    def as_dict(self) -> dict[str, str | None]:
        """``{"field", "from", "to"}``, as REST bodies and the UI show it."""
        return {"field": self.field, "from": self.from_, "to": self.to}

    def __str__(self) -> str:
        return f"{self.field}: {self.from_ or '(none)'} -> {self.to or '(none)'}"


class Conflict(ServiceError):
    """A move that changes how the integration's incidents behave; repeat it with ``confirm``."""

    def __init__(self, differences: list[Difference]) -> None:
        super().__init__(
            "The destination service's incident settings differ: "
            + "; ".join(str(d) for d in differences)
        )
        self.differences = differences


# -- inputs -----------------------------------------------------------------------------------


class _Unset(enum.Enum):
    UNSET = 0

    def __repr__(self) -> str:
        return "UNSET"


#: A patch field left as UNSET is not changed (``None`` is a value: "no timeout").
UNSET: Final = _Unset.UNSET
#: The type of :data:`UNSET`, for annotations (``str | Unset``).
Unset = _Unset


@dataclass(frozen=True, slots=True)
class Agent:
    """Who made a change, as written to log entries (``api_token``/id, ``cli``/user …)."""

    type: str = "system"
    id: str | None = None


SYSTEM = Agent()


@dataclass(frozen=True, slots=True)
class ServiceInput:
    """A new service. Timeouts are seconds; ``0`` or ``None`` turns one off."""

    name: str
    description: str | None = None
    status: str = "active"
    alert_creation: str = "create_alerts_and_incidents"
    urgency: str = "high"
    acknowledgement_timeout: int | None = 1800
    auto_resolve_timeout: int | None = 14400
    alert_grouping: str | None = None
    alert_grouping_timeout: int | None = None
    escalation_policy_id: str | None = None


@dataclass(frozen=True, slots=True)
class ServicePatch:
    """Changes to a service; fields left :data:`UNSET` keep their value."""

    name: str | _Unset = UNSET
    description: str | _Unset | None = UNSET
    status: str | _Unset = UNSET
    alert_creation: str | _Unset = UNSET
    urgency: str | _Unset = UNSET
    acknowledgement_timeout: int | _Unset | None = UNSET
    auto_resolve_timeout: int | _Unset | None = UNSET
    alert_grouping: str | _Unset | None = UNSET
    alert_grouping_timeout: int | _Unset | None = UNSET
    escalation_policy_id: str | _Unset | None = UNSET


@dataclass(frozen=True, slots=True)
class IntegrationInput:
    """A new integration: a ``type``, or a vendor (id, name or alias) that decides the type.

    With ``vendor_id`` the client's ``type`` is ignored (Terraform sends
    ``service_integration``). ``integration_email`` is needed for email
    integrations and ignored for the others. There is no key field: the key is
    always generated.
    """

    name: str | None = None
    type: str | None = None
    vendor_id: str | None = None
    integration_email: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IntegrationPatch:
    """Changes to an integration; fields left :data:`UNSET` keep their value."""

    name: str | _Unset = UNSET
    integration_email: str | _Unset | None = UNSET
    settings: Mapping[str, Any] | _Unset = UNSET


@dataclass(frozen=True, slots=True)
class MoveResult:
    """What a move did: the integration as it is now, and how much followed it."""

    integration: Integration
    from_service_id: str
    to_service_id: str
    incidents_moved: int
    alerts_moved: int
    differences: list[Difference]


# -- reads ------------------------------------------------------------------------------------


def get_service(reader: Reader, service_id: str) -> Service:
    """The live service ``service_id``, or :class:`NotFound`."""
    service = reader.service(service_id)
    if service is None:
        raise NotFound("Service", service_id)
    return service


def get_integration(
    reader: Reader, integration_id: str, *, service_id: str | None = None
) -> Integration:
    """The live integration ``integration_id`` (on ``service_id`` if given) or :class:`NotFound`."""
    integration = reader.integration(integration_id)
    if integration is None or (service_id is not None and integration.service_id != service_id):
        raise NotFound("Integration", integration_id)
    return integration


def list_services(
    reader: Reader, *, query: str | None = None, sort_by: str | None = None
) -> list[Service]:
    """Live services whose name contains ``query`` (case-insensitive), sorted by name.

    ``sort_by`` is ``name``, ``name:asc`` or ``name:desc`` (PagerDuty's values).
    """
    sort = sort_by or "name"
    if sort not in SORTS:
        raise Invalid([f"sort_by must be one of {', '.join(SORTS)}"])
    services = reader.services()
    if query:
        needle = query.casefold()
        services = [s for s in services if needle in s.name.casefold()]
    services.sort(key=lambda s: (s.name.casefold(), s.id), reverse=sort == "name:desc")
    return services


def service_statuses(
    reader: Reader, services: list[Service], at: str | None = None
) -> dict[str, str]:
    """PagerDuty's displayed status for many services at once (two queries in all).

    ``disabled`` if disabled; else ``maintenance`` in a window covering ``at``;
    else ``critical`` with a triggered incident, ``warning`` with an
    acknowledged one, otherwise ``active``.
    """
    when = at or iso(reader.clock.now())
    in_maintenance = reader.services_in_maintenance(when)
    open_statuses = reader.open_incident_statuses()
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


# -- service writes ---------------------------------------------------------------------------


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
        "urgency": _choice("incident_urgency_rule.urgency", data.urgency, URGENCIES, errors),
        "acknowledgement_timeout": _timeout(
            "acknowledgement_timeout", data.acknowledgement_timeout, errors
        ),
        "auto_resolve_timeout": _timeout("auto_resolve_timeout", data.auto_resolve_timeout, errors),
        "alert_grouping": _grouping(data.alert_grouping, errors),
        "alert_grouping_timeout": _grouping_timeout(data.alert_grouping_timeout, errors),
        "escalation_policy_id": data.escalation_policy_id,
    }
    if errors:
        raise Invalid(errors)
    service = tx.insert_service(**columns)
    _entry(tx, "service_create", by, service.id, None, f"Service {service.name} created")
    log.info("service.created", service_id=service.id, name=service.name)
    return service


def update_service(tx: Tx, service_id: str, patch: ServicePatch, *, by: Agent = SYSTEM) -> Service:
    """Change a service's settings; ``status`` ``disabled``/``active`` disables or re-enables it.

    A disabled service keeps all its settings and integrations; events to it
    open no incidents until it is active again.
    """
    service = get_service(tx, service_id)
    errors: list[str] = []
    columns: dict[str, Any] = {}
    if not isinstance(patch.name, _Unset):
        columns["name"] = _check_name(tx, patch.name, service.id, errors)
    if not isinstance(patch.description, _Unset):
        columns["description"] = patch.description
    if not isinstance(patch.status, _Unset):
        columns["status"] = _choice("status", patch.status, SERVICE_STATUSES, errors)
    if not isinstance(patch.alert_creation, _Unset):
        creation = _choice("alert_creation", patch.alert_creation, ALERT_CREATIONS, errors)
        if creation == "create_incidents" and any(
            i.type == EVENTS_API_V2 for i in tx.integrations(service.id)
        ):
            errors.append(
                "alert_creation cannot be 'create_incidents' while the service has an "
                "Events API v2 integration"
            )
        columns["alert_creation"] = creation
    if not isinstance(patch.urgency, _Unset):
        columns["urgency"] = _choice(
            "incident_urgency_rule.urgency", patch.urgency, URGENCIES, errors
        )
    if not isinstance(patch.acknowledgement_timeout, _Unset):
        columns["acknowledgement_timeout"] = _timeout(
            "acknowledgement_timeout", patch.acknowledgement_timeout, errors
        )
    if not isinstance(patch.auto_resolve_timeout, _Unset):
        columns["auto_resolve_timeout"] = _timeout(
            "auto_resolve_timeout", patch.auto_resolve_timeout, errors
        )
    if not isinstance(patch.alert_grouping, _Unset):
        columns["alert_grouping"] = _grouping(patch.alert_grouping, errors)
    if not isinstance(patch.alert_grouping_timeout, _Unset):
        columns["alert_grouping_timeout"] = _grouping_timeout(patch.alert_grouping_timeout, errors)
    if not isinstance(patch.escalation_policy_id, _Unset):
        columns["escalation_policy_id"] = patch.escalation_policy_id
    if errors:
        raise Invalid(errors)
    current = _columns(service)
    changed = {k: v for k, v in columns.items() if current[k] != v}
    if changed:
        tx.update_service(service.id, **changed)
        kind = {"disabled": "service_disable", "active": "service_enable"}.get(
            changed.get("status", ""), "service_update"
        )
        _entry(
            tx,
            kind,
            by,
            service.id,
            None,
            f"Service {columns.get('name', service.name)} updated: {', '.join(sorted(changed))}",
            {"changed": sorted(changed)},
        )
        log.info("service.updated", service_id=service.id, fields=sorted(changed))
    return get_service(tx, service.id)


def delete_service(tx: Tx, service_id: str, *, by: Agent = SYSTEM) -> None:
    """Delete a service for good: its integrations (and keys) die with it; incidents stay."""
    service = get_service(tx, service_id)
    integration_ids = tx.delete_service(service.id)
    _entry(
        tx,
        "service_delete",
        by,
        service.id,
        None,
        f"Service {service.name} deleted",
        {"integrations": integration_ids},
    )
    log.info("service.deleted", service_id=service.id, integrations=len(integration_ids))


# -- integration writes -----------------------------------------------------------------------


def add_integration(
    tx: Tx, service_id: str, data: IntegrationInput, plugins: PluginHost, *, by: Agent = SYSTEM
) -> Integration:
    """Add an integration to a service with a freshly generated 32-character key.

    The type comes from the vendor when one is given (a generic vendor such
    as ``events_api_v2`` just names its type), otherwise from ``type``: one of
    the generic types, or a vendor-specific type that exactly one loaded
    vendor has. Vendor settings are checked by the vendor's ``check_settings``.
    """
    service = get_service(tx, service_id)
    errors: list[str] = []
    kind, vendor = _resolve_type(data, plugins, errors)
    name = data.name.strip() if data.name and data.name.strip() else _default_name(kind, vendor)
    if len(name) > MAX_NAME:
        errors.append(f"name must be at most {MAX_NAME} characters")
    if kind == EVENTS_API_V2 and service.alert_creation == "create_incidents":
        errors.append(
            "An Events API v2 integration cannot be added to a service whose alert_creation "
            "is 'create_incidents'"
        )
    email = None
    if kind == GENERIC_EMAIL:
        email = _check_email(tx, data.integration_email, None, errors, required=True)
    settings = dict(data.settings)
    _check_settings(kind, vendor, plugins, settings, errors)
    if errors:
        raise Invalid(errors)
    key = new_integration_key()
    integration = tx.insert_integration(
        service_id=service.id,
        name=name,
        type=kind,
        vendor_id=vendor.id if vendor is not None and not vendor.generic else None,
        integration_key=key,
        integration_email=email,
        settings=settings,
    )
    _entry(
        tx,
        "integration_create",
        by,
        service.id,
        integration.id,
        f"Integration {name} ({kind}) added to service {service.name}",
    )
    log.info(
        "integration.created",
        integration_id=integration.id,
        service_id=service.id,
        type=kind,
        key=redact(key),
    )
    return integration


def update_integration(
    tx: Tx,
    integration_id: str,
    patch: IntegrationPatch,
    *,
    plugins: PluginHost | None = None,
    by: Agent = SYSTEM,
) -> Integration:
    """Rename an integration, change its email address or its vendor settings.

    The key never changes. ``plugins`` is needed to check new ``settings``.
    """
    integration = get_integration(tx, integration_id)
    errors: list[str] = []
    columns: dict[str, Any] = {}
    if not isinstance(patch.name, _Unset):
        name = patch.name.strip() if isinstance(patch.name, str) else ""
        if not name:
            errors.append("name must not be empty")
        elif len(name) > MAX_NAME:
            errors.append(f"name must be at most {MAX_NAME} characters")
        columns["name"] = name
    if not isinstance(patch.integration_email, _Unset) and integration.type == GENERIC_EMAIL:
        columns["integration_email"] = _check_email(
            tx, patch.integration_email, integration.id, errors, required=True
        )
    if not isinstance(patch.settings, _Unset):
        settings = dict(patch.settings)
        vendor = None
        if plugins is not None:
            vendor = plugins.vendors.get(integration.vendor_id or "") or plugins.vendor_by_type(
                integration.type
            )
            _check_settings(integration.type, vendor, plugins, settings, errors)
        columns["settings"] = settings
    if errors:
        raise Invalid(errors)
    changed = {k: v for k, v in columns.items() if getattr(integration, k) != v}
    if changed:
        tx.update_integration(integration.id, **changed)
        _entry(
            tx,
            "integration_update",
            by,
            integration.service_id,
            integration.id,
            f"Integration {columns.get('name', integration.name)} updated: "
            + ", ".join(sorted(changed)),
            {"changed": sorted(changed)},
        )
        log.info("integration.updated", integration_id=integration.id, fields=sorted(changed))
    return get_integration(tx, integration.id)


def rename_integration(
    tx: Tx, integration_id: str, name: str, *, by: Agent = SYSTEM
) -> Integration:
    """Give an integration a new name (names need not be unique)."""
    return update_integration(tx, integration_id, IntegrationPatch(name=name), by=by)


def integration_move_differences(
    reader: Reader, integration_id: str, to_service_id: str
) -> list[Difference]:
    """The incident settings that would change if the integration moved to ``to_service_id``.

    Compared: ``alert_creation``, ``incident_urgency_rule`` (urgency),
    ``escalation_policy`` (id) and ``status``. Raises :class:`Incompatible`
    when the move can never happen (Events API v2 onto a ``create_incidents``
    service), :class:`NotFound` for a missing integration or service.
    """
    integration = get_integration(reader, integration_id)
    source = get_service(reader, integration.service_id)
    target = get_service(reader, to_service_id)
    if integration.type == EVENTS_API_V2 and target.alert_creation == "create_incidents":
        raise Incompatible(
            [
                f"An Events API v2 integration cannot move to service {target.name}: its "
                "alert_creation is 'create_incidents' (Events API v2 needs alerts)"
            ]
        )
    pairs = (
        ("alert_creation", source.alert_creation, target.alert_creation),
        ("incident_urgency_rule", source.urgency_rule.urgency, target.urgency_rule.urgency),
        ("escalation_policy", source.escalation_policy_id, target.escalation_policy_id),
        ("status", source.status, target.status),
    )
    return [Difference(name, old, new) for name, old, new in pairs if old != new]


def move_integration(
    tx: Tx, integration_id: str, to_service_id: str, *, confirm: bool, by: Agent = SYSTEM
) -> MoveResult:
    """Move an integration to another service, keeping its key.

    Every incident opened through the integration, and each of those
    incidents' alerts, moves with it. When the destination's incident settings
    differ the move is refused with :class:`Conflict` (listing each
    :class:`Difference`) unless ``confirm``; :class:`Incompatible` is raised
    even with ``confirm``. Moving to the service it is on changes nothing.
    """
    differences = integration_move_differences(tx, integration_id, to_service_id)
    integration = get_integration(tx, integration_id)
    source_id = integration.service_id
    if source_id == to_service_id:
        return MoveResult(integration, source_id, source_id, 0, 0, [])
    if differences and not confirm:
        raise Conflict(differences)
    incidents, alerts = tx.move_integration(integration.id, to_service_id)
    details = {
        "from_service_id": source_id,
        "to_service_id": to_service_id,
        "incidents_moved": incidents,
        "alerts_moved": alerts,
        "differences": [d.as_dict() for d in differences],
    }
    summary = f"Integration {integration.name} moved from service {source_id} to {to_service_id}"
    _entry(tx, "integration_move", by, source_id, integration.id, summary, details)
    _entry(tx, "integration_move", by, to_service_id, integration.id, summary, details)
    log.info(
        "integration.moved",
        integration_id=integration.id,
        from_service_id=source_id,
        to_service_id=to_service_id,
        incidents=incidents,
        alerts=alerts,
        confirmed_differences=len(differences),
    )
    return MoveResult(
        get_integration(tx, integration.id),
        source_id,
        to_service_id,
        incidents,
        alerts,
        differences,
    )


def delete_integration(tx: Tx, integration_id: str, *, by: Agent = SYSTEM) -> Integration:
    """Delete an integration for good; return it as it was.

    Its key is released in the same transaction, so from the commit on the
    Events API answers ``400 Invalid routing key`` for it, and it cannot be
    recovered. Its incidents and alerts, open or resolved, are not touched.
    """
    integration = get_integration(tx, integration_id)
    tx.delete_integration(integration.id)
    _entry(
        tx,
        "integration_delete",
        by,
        integration.service_id,
        integration.id,
        f"Integration {integration.name} deleted",
        {"integration_key": redact(integration.integration_key)},
    )
    log.info(
        "integration.deleted",
        integration_id=integration.id,
        service_id=integration.service_id,
        key=redact(integration.integration_key),
    )
    return integration


# -- helpers ----------------------------------------------------------------------------------


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


def _entry(
    tx: Tx,
    kind: str,
    by: Agent,
    service_id: str,
    integration_id: str | None,
    summary: str,
    details: dict[str, Any] | None = None,
) -> None:
    tx.insert_log_entry(
        f"{kind}_log_entry",
        service_id=service_id,
        integration_id=integration_id,
        agent_type=by.type,
        agent_id=by.id,
        summary=summary,
        details=details,
    )


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


def _check_email(
    reader: Reader, value: object, own_id: str | None, errors: list[str], *, required: bool
) -> str | None:
    if value is None or value == "":
        if required:
            errors.append("integration_email is required for an email integration")
        return None
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        errors.append("integration_email must be an email address (or its local part)")
        return None
    address = value.strip()
    other = reader.integration_by_email(address)
    if other is not None and other.id != own_id:
        errors.append("integration_email is already used by another integration")
    return address


def _resolve_type(
    data: IntegrationInput, plugins: PluginHost, errors: list[str]
) -> tuple[str, Vendor | None]:
    if data.vendor_id:
        vendor = plugins.vendor(data.vendor_id)
        if vendor is None:
            errors.append(f"Vendor {data.vendor_id} not found")
            return EVENTS_API_V2, None
        return vendor.integration_type, vendor
    kind = (data.type or "").strip()
    kind = INTEGRATION_TYPES.get(kind, kind)
    kind = kind.removesuffix("_reference")
    if kind in INTEGRATION_TYPES.values():
        return kind, plugins.vendor_by_type(kind)
    matching = [v for v in plugins.vendors.values() if not v.generic and v.integration_type == kind]
    if len(matching) == 1:
        return kind, matching[0]
    if not kind:
        errors.append("type is required (or a vendor)")
    elif matching:
        names = ", ".join(f"{v.id} ({v.name})" for v in matching)
        errors.append(f"type {kind} is ambiguous: give a vendor id, one of {names}")
    else:
        errors.append(
            f"unknown integration type {kind!r}: use one of "
            f"{', '.join(INTEGRATION_TYPES.values())} or give a vendor"
        )
    return EVENTS_API_V2, None


def _default_name(kind: str, vendor: Vendor | None) -> str:
    if vendor is not None:
        return vendor.name
    return {GENERIC_EMAIL: "Email"}.get(kind, kind)


def _check_settings(
    kind: str,
    vendor: Vendor | None,
    plugins: PluginHost,
    settings: Mapping[str, Any],
    errors: list[str],
) -> None:
    checker = vendor if vendor is not None else plugins.vendor_by_type(kind)
    if checker is None or checker.check_settings is None:
        return
    errors.extend(checker.check_settings(settings))

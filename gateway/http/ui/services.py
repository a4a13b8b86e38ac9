"""Service Directory and service pages: forms over :mod:`gateway.core.services`.

Each handler reads a form, calls one core function and redirects (303) to a
page; the core's :class:`~gateway.errors.Invalid` errors come back as the same
form, filled in, with the messages on top. Any other refusal (an unknown
service, a stale form) becomes an error page through
:func:`gateway.http.ui._web.page_error`. Confirmations (disable, enable, move,
delete) are their own pages, so nothing needs JavaScript. The Integrations tab and
its actions are :mod:`gateway.http.ui.integrations`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from quart import request
from quart.typing import ResponseReturnValue

from gateway.auth import Level
from gateway.core import incident_reads as reads
from gateway.core import integrations as intg
from gateway.core import log_reads, service_reads
from gateway.core import maintenance as mw
from gateway.core import services as svc
from gateway.core.escalation_policies import DEFAULT_POLICY_ID, policy_id_of
from gateway.core.inputs import IntegrationInput, ServiceInput, ServicePatch
from gateway.domain import Incident, Integration, MaintenanceWindow, Service
from gateway.errors import Invalid
from gateway.http.ui._web import (
    agent,
    back,
    blueprint,
    context,
    form,
    page,
    read,
    requires,
    write,
)
from gateway.http.ui.escalation_policies import policy_choices
from gateway.model import Vendor
from gateway.store import Reader, Tx

OPEN = ("triggered", "acknowledged")
NO_INTEGRATION = "none"
# The form's integration choices besides vendor ids, and what each means to the core.
GENERIC_CHOICES = {
    "events_api_v2": "Events API v2",
    "events_api_v1": "Events API v1",
    "email": "Email",
}
URGENCY_LABELS = {
    "high": "High",
    "low": "Low",
    "severity_based": "Dynamic: by severity (critical, error → high; warning, info → low)",
}
ALERT_CREATION_LABELS = {
    "create_alerts_and_incidents": "Create alerts and incidents",
    "create_incidents": "Create incidents",
}
RECENT = 10
#: Services per Service Directory page, and the most one page may ask for (PagerDuty's
#: list default and maximum).
DIRECTORY_LIMIT = 25
DIRECTORY_MAX = 100


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceView:
    """Everything a service page shows."""

    service: Service
    status: str
    integrations: list[Integration]
    open_incidents: list[Incident]
    recent_incidents: list[Incident]
    windows: list[MaintenanceWindow]
    now: str
    suppressed: log_reads.SuppressedEvents
    forward_targets: int = 0
    policy_name: str | None = None


def service_view(reader: Reader, service_id: str) -> ServiceView:
    """A service, its integrations, incidents and maintenance windows, in one snapshot."""
    details = service_reads.service_details(reader, [svc.get_service(reader, service_id)])[0]
    service = details.service
    open_incidents = reads.list_incidents(
        reader,
        statuses=OPEN,
        service_ids=(service.id,),
        date_range="all",
        sort_by="incident_number:desc",
        limit=100,
    ).incidents
    recent = reads.list_incidents(
        reader, service_ids=(service.id,), sort_by="incident_number:desc", limit=RECENT
    ).incidents
    windows = mw.list_windows(reader, filter="open", service_ids=(service.id,))
    return ServiceView(
        service=service,
        status=details.status,
        integrations=details.integrations,
        open_incidents=open_incidents,
        recent_incidents=recent,
        windows=windows,
        now=reader.clock.now().isoformat(),
        suppressed=log_reads.suppressed_events(reader, service.id),
        forward_targets=len(details.forwarding.targets),
        policy_name=details.policy_name,
    )


async def load_view(service_id: str) -> ServiceView:
    """:func:`service_view` (an unknown service is a 404 page)."""
    return await read(lambda r: service_view(r, service_id))


def vendor_choices() -> list[Vendor]:
    """Vendor tools a new integration can be for (generic ones are offered by name)."""
    vendors = [v for v in context().plugins.vendors.values() if not v.generic]
    return sorted(vendors, key=lambda v: v.name.lower())


# -- form parsing (shape only: the core judges the values) -------------------------------------


def _timeout(values: Mapping[str, str], name: str, label: str, unit: int, errors: list[str]) -> int:
    """A whole number of minutes or hours as seconds; empty is 0 (off)."""
    text = values.get(name, "")
    if not text:
        return 0
    try:
        number = int(text)
    except ValueError:
        errors.append(f"{label} must be a whole number")
        return 0
    if number < 0:
        errors.append(f"{label} must not be negative")
        return 0
    return number * unit


def service_fields(values: Mapping[str, str], errors: list[str]) -> dict[str, object]:
    """The service settings a new-service or edit form carries, as core input fields.

    A form without the policy field leaves the policy alone (a new service: Default).
    """
    fields: dict[str, object] = {}
    if values.get("escalation_policy"):
        fields["escalation_policy_id"] = values["escalation_policy"]
    return fields | {
        "name": values.get("name", ""),
        "description": values.get("description") or None,
        "urgency": values.get("urgency", "high"),
        "alert_creation": values.get("alert_creation", "create_alerts_and_incidents"),
        "acknowledgement_timeout": _timeout(
            values, "ack_minutes", "Acknowledgement timeout", 60, errors
        ),
        "auto_resolve_timeout": _timeout(values, "resolve_hours", "Auto-resolve", 3600, errors),
    }


def integration_input(values: Mapping[str, str]) -> IntegrationInput | None:
    """The integration a form asks for, or ``None`` for "no integration"."""
    choice = values.get("integration_type", NO_INTEGRATION)
    name = values.get("integration_name") or None
    if choice == NO_INTEGRATION:
        return None
    if choice in GENERIC_CHOICES:
        return IntegrationInput(
            name=name, type=choice, integration_email=values.get("integration_email") or None
        )
    return IntegrationInput(name=name, vendor_id=choice)


def form_values(service: Service | None = None) -> dict[str, str]:
    """A service form's initial values (defaults for a new service)."""
    if service is None:
        return {
            "ack_minutes": "30",
            "resolve_hours": "4",
            "integration_type": "events_api_v2",
            "escalation_policy": DEFAULT_POLICY_ID,
        }
    return {
        "name": service.name,
        "description": service.description or "",
        "escalation_policy": policy_id_of(service),
        "urgency": service.urgency_rule.urgency,
        "alert_creation": service.alert_creation,
        "ack_minutes": str((service.acknowledgement_timeout or 0) // 60 or ""),
        "resolve_hours": str((service.auto_resolve_timeout or 0) // 3600 or ""),
    }


async def service_form(
    template: str, values: Mapping[str, str], errors: list[str], **extra: object
) -> ResponseReturnValue:
    """A service form, refilled, with its errors (400 when there are any)."""
    return await page(
        template,
        status=400 if errors else 200,
        values=values,
        errors=errors,
        vendors=vendor_choices(),
        generic_choices=GENERIC_CHOICES,
        urgencies=URGENCY_LABELS,
        alert_creations=ALERT_CREATION_LABELS,
        policies=await read(policy_choices),
        **extra,
    )


# -- Service Directory and new service ----------------------------------------------------------


@blueprint.get("/services")
@requires(Level.VIEW)
async def service_directory() -> ResponseReturnValue:
    """The Service Directory: one page of services, their status and open incidents.

    ``query`` searches names on the server; ``offset`` and ``limit`` page as PagerDuty's
    lists do (plain links, so paging needs no JavaScript). Rendering all 1,000 services
    of a large install made a 444 KB page.
    """
    query = request.args.get("query", "").strip()
    limit = _number("limit", DIRECTORY_LIMIT, 1, DIRECTORY_MAX)
    offset = _number("offset", 0, 0, None)
    found = await read(
        lambda r: service_reads.service_directory(r, query or None, limit=limit, offset=offset)
    )
    return await page("services.html", directory=found, rows=found.rows, query=query)


def _number(name: str, default: int, low: int, high: int | None) -> int:
    """A whole-number query argument; anything else is a 400 page saying why."""
    text = request.args.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise Invalid([f"'{name}' must be a whole number"]) from None
    if value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise Invalid([f"'{name}' must be {bounds}"])
    return value


@blueprint.get("/services/new")
@requires(Level.MANAGE)
async def service_new() -> ResponseReturnValue:
    """The new-service form."""
    return await service_form("service_new.html", form_values(), [])


@blueprint.post("/services/new")
@requires(Level.MANAGE)
async def service_create() -> ResponseReturnValue:
    """Create a service and, if asked, its first integration, in one transaction."""
    values = await form()
    errors: list[str] = []
    fields = service_fields(values, errors)
    wanted = integration_input(values)
    if errors:
        return await service_form("service_new.html", values, errors)
    plugins = context().plugins
    domain = context().settings.mail_domain
    by = agent()

    def create(tx: Tx) -> tuple[Service, Integration | None]:
        service = svc.create_service(tx, ServiceInput(**fields), by=by)  # type: ignore[arg-type]
        added = (
            intg.add_integration(tx, service.id, wanted, plugins, by=by, mail_domain=domain)
            if wanted
            else None
        )
        return service, added

    try:
        service, added = await write(create)
    except Invalid as exc:
        return await service_form("service_new.html", values, exc.errors)
    if added is None:
        return back("ui.service_page", f"Service {service.name} created.", service_id=service.id)
    return back(
        "ui.service_integrations",
        f"Service {service.name} created with integration {added.name}.",
        service_id=service.id,
    )


# -- a service ----------------------------------------------------------------------------------


@blueprint.get("/services/<service_id>")
@requires(Level.VIEW)
async def service_page(service_id: str) -> ResponseReturnValue:
    """A service: settings, open and recent incidents, maintenance, the More menu."""
    from gateway.http.ui.webhooks import service_webhooks  # the webhooks pages import this one

    view = await load_view(service_id)
    rows = await read(lambda r: service_webhooks(r, service_id))
    return await page(
        "service.html",
        view=view,
        tab="settings",
        urgencies=URGENCY_LABELS,
        webhook_rows=rows,
        policies=await read(policy_choices),
    )


@blueprint.get("/services/<service_id>/edit")
@requires(Level.MANAGE)
async def service_edit(service_id: str) -> ResponseReturnValue:
    """The edit-settings form."""
    view = await load_view(service_id)
    return await service_form(
        "service_edit.html", form_values(view.service), [], service=view.service
    )


@blueprint.post("/services/<service_id>/edit")
@requires(Level.MANAGE)
async def service_update(service_id: str) -> ResponseReturnValue:
    """Save the edited settings."""
    view = await load_view(service_id)
    values = await form()
    errors: list[str] = []
    fields = service_fields(values, errors)
    if errors:
        return await service_form("service_edit.html", values, errors, service=view.service)
    by = agent()
    try:
        service = await write(
            lambda tx: svc.update_service(
                tx,
                service_id,
                ServicePatch(**fields),  # type: ignore[arg-type]
                by=by,
            )
        )
    except Invalid as exc:
        return await service_form("service_edit.html", values, exc.errors, service=view.service)
    return back("ui.service_page", f"Service {service.name} saved.", service_id=service.id)


@blueprint.get("/services/<service_id>/status")
@requires(Level.MANAGE)
async def service_toggle(service_id: str) -> ResponseReturnValue:
    """The confirmation step before disabling or enabling a service."""
    view = await load_view(service_id)
    target = "active" if view.service.status == "disabled" else "disabled"
    return await page("service_toggle.html", view=view, target=target)


@blueprint.post("/services/<service_id>/status")
@requires(Level.MANAGE)
async def service_toggle_submit(service_id: str) -> ResponseReturnValue:
    """Disable or enable the service (``status`` is ``disabled`` or ``active``)."""
    values = await form()
    status = values.get("status", "")
    by = agent()
    service = await write(
        lambda tx: svc.update_service(tx, service_id, ServicePatch(status=status), by=by)
    )
    word = "disabled" if service.status == "disabled" else "enabled"
    return back("ui.service_page", f"Service {service.name} {word}.", service_id=service.id)

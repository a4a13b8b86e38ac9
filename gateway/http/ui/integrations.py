"""The Integrations tab and its actions: forms over :mod:`gateway.core.integrations` and
:mod:`gateway.core.moves`.

Add (the key is generated), rename, move (with the differing-settings warning,
confirmed on its own page) and delete (confirmed on its own page). The core's
:class:`~gateway.errors.Invalid` errors come back as the form again; any other
refusal is an error page (:func:`gateway.http.ui._web.page_error`).
"""

from __future__ import annotations

from quart import request
from quart.typing import ResponseReturnValue

from gateway.auth import Level
from gateway.core import integrations as intg
from gateway.core import moves
from gateway.core import services as svc
from gateway.core.email_integrations import email_fields, full_email
from gateway.domain import GENERIC_EMAIL, Integration, Service
from gateway.errors import Conflict, Difference, Invalid
from gateway.http.ui._web import agent, back, blueprint, context, form, page, read, requires, write
from gateway.http.ui.services import integration_input, load_view, service_form
from gateway.store import Reader

__all__ = ["load_integration", "vendor_names"]


def vendor_names(integrations: list[Integration]) -> dict[str, str]:
    """Integration id → the name of the vendor that parses for it (``PluginHost.vendor_for``).

    An integration whose vendor is not loaded is left out (the page shows its id).
    """
    plugins = context().plugins
    found = {i.id: plugins.vendor_for(i) for i in integrations}
    return {iid: vendor.name for iid, vendor in found.items() if vendor is not None}


#: PagerDuty's email incident-creation modes, in the words its web UI uses.
EMAIL_MODES = {
    "on_new_email": "a new incident for every mail",
    "on_new_email_subject": "a new incident for each new subject",
    "only_if_no_open_incidents": "a new incident only when none is open",
    "use_rules": "rules open and resolve incidents",
}


@blueprint.get("/services/<service_id>/integrations")
@requires(Level.VIEW)
async def service_integrations(service_id: str) -> ResponseReturnValue:
    """The Integrations tab: each integration with its key or email address and vendor."""
    view = await load_view(service_id)
    names = vendor_names(view.integrations)
    domain = context().settings.mail_domain
    # Whole addresses, as the SMTP listener takes them; without [smtp] the page says so.
    addresses = {
        i.id: full_email(i.integration_email, domain)
        for i in view.integrations
        if i.integration_email
    }
    return await page(
        "service.html",
        view=view,
        tab="integrations",
        vendor_names=names,
        addresses=addresses,
        email_rules=email_rules(view.integrations),
        smtp_configured=domain is not None,
    )


def email_rules(integrations: list[Integration]) -> dict[str, str]:
    """Each email integration's rules in words: the incident-creation mode and any preset."""
    out: dict[str, str] = {}
    for integration in integrations:
        if integration.type != GENERIC_EMAIL:
            continue
        shown = email_fields(integration.settings)
        words = EMAIL_MODES.get(shown["email_incident_creation"], "")
        if shown["email_preset"] == "nagios":
            words = "Nagios/Icinga notification mails (preset): " + words
        out[integration.id] = words
    return out


@blueprint.get("/services/<service_id>/integrations/new")
@requires(Level.MANAGE)
async def integration_new(service_id: str) -> ResponseReturnValue:
    """The add-integration form."""
    view = await load_view(service_id)
    return await service_form(
        "integration_new.html", {"integration_type": "events_api_v2"}, [], service=view.service
    )


@blueprint.post("/services/<service_id>/integrations/new")
@requires(Level.MANAGE)
async def integration_create(service_id: str) -> ResponseReturnValue:
    """Add an integration (its key is generated)."""
    view = await load_view(service_id)
    values = await form()
    wanted = integration_input(values)
    if wanted is None:
        errors = ["Choose an integration type"]
        return await service_form("integration_new.html", values, errors, service=view.service)
    plugins, by, domain = context().plugins, agent(), context().settings.mail_domain
    try:
        added = await write(
            lambda tx: intg.add_integration(
                tx, service_id, wanted, plugins, by=by, mail_domain=domain
            )
        )
    except Invalid as exc:
        return await service_form("integration_new.html", values, exc.errors, service=view.service)
    return back(
        "ui.service_integrations", f"Integration {added.name} added.", service_id=service_id
    )


async def load_integration(service_id: str, integration_id: str) -> tuple[Service, Integration]:
    """A service and one of its integrations (either unknown is a 404 page)."""

    def both(reader: Reader) -> tuple[Service, Integration]:
        service = svc.get_service(reader, service_id)
        return service, intg.get_integration(reader, integration_id, service_id=service.id)

    return await read(both)


@blueprint.post("/services/<service_id>/integrations/<integration_id>/rename")
@requires(Level.MANAGE)
async def integration_rename(service_id: str, integration_id: str) -> ResponseReturnValue:
    """Rename an integration (its key stays)."""
    await load_integration(service_id, integration_id)
    name = (await form()).get("name", "")
    by = agent()
    renamed = await write(lambda tx: intg.rename_integration(tx, integration_id, name, by=by))
    return back(
        "ui.service_integrations", f"Integration renamed to {renamed.name}.", service_id=service_id
    )


@blueprint.get("/services/<service_id>/integrations/<integration_id>/move")
@requires(Level.MANAGE)
async def integration_move(service_id: str, integration_id: str) -> ResponseReturnValue:
    """Move step 1 (choose a service) and, with ``?to=``, step 2: the warning to confirm."""
    service, integration = await load_integration(service_id, integration_id)
    services = [s for s in await read(svc.service_names) if s.id != service.id]
    to = request.args.get("to", "")
    target = next((s for s in services if s.id == to), None)
    differences: list[Difference] = []
    problems: list[str] = []
    if target is not None:
        try:
            differences = await read(
                lambda r: moves.integration_move_differences(r, integration.id, target.id)
            )
        except Invalid as exc:  # Incompatible: never allowed
            problems = exc.errors
    elif to:
        problems = ["Choose one of the services listed."]
    return await page(
        "integration_move.html",
        status=400 if problems else 200,
        service=service,
        integration=integration,
        services=services,
        target=target,
        differences=differences,
        problems=problems,
    )


@blueprint.post("/services/<service_id>/integrations/<integration_id>/move")
@requires(Level.MANAGE)
async def integration_move_submit(service_id: str, integration_id: str) -> ResponseReturnValue:
    """Move the integration; its key stays. Differences not confirmed show the warning again."""
    service, integration = await load_integration(service_id, integration_id)
    values = await form()
    to = values.get("to", "")
    confirm = values.get("confirm") == "yes"
    by = agent()
    try:
        result = await write(
            lambda tx: moves.move_integration(tx, integration.id, to, confirm=confirm, by=by)
        )
    except Conflict as exc:
        services = [s for s in await read(svc.service_names) if s.id != service.id]
        return await page(
            "integration_move.html",
            status=409,
            service=service,
            integration=integration,
            services=services,
            target=next((s for s in services if s.id == to), None),
            differences=exc.differences,
            problems=["The destination's settings differ: confirm to move anyway."],
        )
    return back(
        "ui.service_integrations",
        f"Integration {integration.name} moved here, with {result.incidents_moved} "
        "incident(s). Its key is unchanged.",
        service_id=result.to_service_id,
    )


@blueprint.get("/services/<service_id>/integrations/<integration_id>/delete")
@requires(Level.MANAGE)
async def integration_delete(service_id: str, integration_id: str) -> ResponseReturnValue:
    """The confirmation step before deleting an integration."""
    service, integration = await load_integration(service_id, integration_id)
    return await page("integration_delete.html", service=service, integration=integration)


@blueprint.post("/services/<service_id>/integrations/<integration_id>/delete")
@requires(Level.MANAGE)
async def integration_delete_submit(service_id: str, integration_id: str) -> ResponseReturnValue:
    """Delete the integration for good (its incidents stay)."""
    await load_integration(service_id, integration_id)
    by = agent()
    gone = await write(lambda tx: intg.delete_integration(tx, integration_id, by=by))
    return back(
        "ui.service_integrations", f"Integration {gone.name} deleted.", service_id=service_id
    )

"""REST resource: a service's integrations (``/services/{id}/integrations[/{iid}]``).

``POST`` creates one with a generated key (a client-supplied
``integration_key`` is ignored: it is read-only). ``PUT`` accepts the wrapped
``{"integration": {...}}`` body and the unwrapped one go-pagerduty sends; a
``service`` other than the one in the path moves the integration, keeping its
key: 409 listing each incident-setting difference unless ``?confirm=true``.
``DELETE`` answers 204 and the key stops working at once.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from gateway.auth import Level
from gateway.core import integrations as core
from gateway.core import moves, service_reads
from gateway.core import services as svc
from gateway.core.inputs import UNSET, IntegrationPatch, Unset
from gateway.domain import Integration
from gateway.http.rest._common import bool_arg, context, json_body, list_arg, requires
from gateway.http.rest.fields import Fields, integration_input, integration_settings
from gateway.http.rest.services import (
    agent,
    integration_body,
    load_service,
    service_body,
)
from gateway.store import Reader, Tx

blueprint = Blueprint("rest_integrations", __name__)


async def _render(integration: Integration, *, includes: list[str] | None = None) -> dict[str, Any]:
    """The integration's body; ``include[]`` services/vendors swap references for objects."""
    wanted = includes or []

    def read(reader: Reader) -> tuple[str, service_reads.ServiceDetails | None]:
        if "services" in wanted:
            details = load_service(reader, integration.service_id)
            return details.service.name, details
        return svc.get_service(reader, integration.service_id).name, None

    name, loaded = await context().store.read(read)
    return integration_body(
        integration,
        name,
        service_object=service_body(loaded) if loaded else None,
        full_vendor="vendors" in wanted,
    )


@blueprint.post("/services/<service_id>/integrations")
@requires(Level.MANAGE)
async def create_integration(service_id: str) -> tuple[dict[str, Any], int]:
    """``POST /services/{id}/integrations``: 201 with the integration and its new key."""
    data = integration_input(await json_body("integration"))
    plugins = context().plugins
    domain = context().settings.mail_domain
    by = agent()
    created = await context().store.write(
        lambda tx: core.add_integration(tx, service_id, data, plugins, by=by, mail_domain=domain)
    )
    return {"integration": await _render(created)}, 201


@blueprint.get("/services/<service_id>/integrations/<integration_id>")
@requires(Level.VIEW)
async def get_integration(service_id: str, integration_id: str) -> dict[str, Any]:
    """``GET /services/{id}/integrations/{iid}`` (``include[]`` = services, vendors)."""
    found = await context().store.read(
        lambda reader: core.get_integration(reader, integration_id, service_id=service_id)
    )
    return {"integration": await _render(found, includes=list_arg("include"))}


@blueprint.put("/services/<service_id>/integrations/<integration_id>")
@requires(Level.MANAGE)
async def update_integration(service_id: str, integration_id: str) -> dict[str, Any]:
    """``PUT /services/{id}/integrations/{iid}``: rename, change email/settings, or move."""
    f = Fields(await json_body("integration"))
    name = f.text("name", nullable=False) if "name" in f else UNSET
    email: str | Unset | None = UNSET
    if "integration_email" in f:
        email = f.text("integration_email")
    target = f.ref_id("service") if "service" in f else None
    f.check()
    confirm = bool_arg("confirm")
    plugins = context().plugins
    domain = context().settings.mail_domain
    by = agent()

    def write(tx: Tx) -> Integration:
        current = core.get_integration(tx, integration_id, service_id=service_id)
        if target is not None and target != current.service_id:
            moves.move_integration(tx, current.id, target, confirm=confirm, by=by)
        settings = integration_settings(f, current.settings)
        patch = IntegrationPatch(
            name=name if isinstance(name, str) else UNSET,
            integration_email=email,
            settings=UNSET if settings is None else settings,
        )
        return core.update_integration(
            tx, current.id, patch, plugins=plugins, by=by, mail_domain=domain
        )

    updated = await context().store.write(write)
    return {"integration": await _render(updated)}


@blueprint.delete("/services/<service_id>/integrations/<integration_id>")
@requires(Level.MANAGE)
async def delete_integration(service_id: str, integration_id: str) -> tuple[str, int]:
    """``DELETE /services/{id}/integrations/{iid}``: 204; the key is invalid from now on."""
    by = agent()

    await context().store.write(
        lambda tx: core.delete_integration(tx, integration_id, service_id=service_id, by=by)
    )
    return "", 204

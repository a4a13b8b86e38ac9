"""REST resource: services (``/services``), and the shapes integrations share with them.

Thin HTTP over :mod:`gateway.core.services`: read the JSON, call the layer in
one store transaction, render PagerDuty's object. The layer's refusals become
PagerDuty's answers in one place, :func:`gateway.http.rest._common.rest_error`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quart import Blueprint, g, request

from gateway import shapes
from gateway.auth import Level
from gateway.core import integrations as intg
from gateway.core import service_reads
from gateway.core import services as svc
from gateway.core.email_integrations import email_fields, full_email
from gateway.core.inputs import Agent, IntegrationInput, ServiceInput, ServicePatch
from gateway.domain import GENERIC_EMAIL, Integration
from gateway.http.rest._common import (
    api_url,
    context,
    html_url,
    invalid,
    json_body,
    list_arg,
    page_args,
    reference,
    requires,
)
from gateway.http.rest.bodies import rest_urls
from gateway.http.rest.fields import integration_input, service_fields
from gateway.http.rest.forwarding import apply_forwarding, forwarding_fields, with_forwarding
from gateway.http.rest.vendors import vendor_body
from gateway.store import Reader, Tx

blueprint = Blueprint("rest_services", __name__)


def agent() -> Agent:
    """The log-entry agent for this request: the API token that authenticated it."""
    return Agent("api_token", g.token.id)


# -- rendering --------------------------------------------------------------------------------


def service_ref(service_id: str, name: str | None) -> dict[str, Any]:
    """A ``service_reference``."""
    return reference("service", service_id, name, f"/services/{service_id}")


def integration_path(integration: Integration) -> str:
    """The REST path of an integration (under its service)."""
    return shapes.integration_path(integration)


def integration_body(
    integration: Integration,
    service_name: str | None,
    *,
    service_object: dict[str, Any] | None = None,
    full_vendor: bool = False,
) -> dict[str, Any]:
    """An integration object in PagerDuty's shape (with the read-only ``integration_key``).

    ``integration_email`` is the whole address (a local part gains the ``[smtp]``
    domain) and the email fields show what the settings amount to, never ``null``
    for a mode (:func:`~gateway.core.email_integrations.email_fields`).
    """
    path = integration_path(integration)
    vendor: dict[str, Any] | None = None
    ctx = context()
    if integration.vendor_id:
        known = ctx.plugins.vendors.get(integration.vendor_id)
        if full_vendor and known is not None:
            vendor = vendor_body(known)
        else:
            vendor = reference(
                "vendor",
                integration.vendor_id,
                known.name if known else None,
                f"/vendors/{integration.vendor_id}",
            )
    body: dict[str, Any] = {
        "id": integration.id,
        "type": integration.type,
        "summary": integration.name,
        "self": api_url(path),
        "html_url": html_url(path),
        "name": integration.name,
        "service": service_object or service_ref(integration.service_id, service_name),
        "created_at": integration.created_at,
        "vendor": vendor,
        "integration_key": integration.integration_key,
        "integration_email": full_email(integration.integration_email, ctx.settings.mail_domain),
    }
    if integration.type == GENERIC_EMAIL:
        body.update(email_fields(integration.settings))
    return body


def service_body(
    details: service_reads.ServiceDetails, *, full_integrations: bool = False
) -> dict[str, Any]:
    """A service object in PagerDuty's shape (:func:`gateway.shapes.service_object`)."""
    listed = None
    if full_integrations:
        listed = [integration_body(i, details.service.name) for i in details.integrations]
    return shapes.service_object(rest_urls(), details, listed)


def load_service(reader: Reader, service_id: str) -> service_reads.ServiceDetails:
    """A service with its displayed status and live integrations (one snapshot)."""
    return service_reads.service_details(reader, [svc.get_service(reader, service_id)])[0]


def include_integrations() -> bool:
    """Whether ``include[]=integrations`` asks for full integration objects."""
    return "integrations" in list_arg("include")


# -- routes -----------------------------------------------------------------------------------


@blueprint.get("/services")
@requires(Level.VIEW)
async def list_services() -> dict[str, Any]:
    """``GET /services``: ``query``, ``sort_by``, ``include[]``, ``limit``/``offset``/``total``."""
    page = page_args()
    query = request.args.get("query") or request.args.get("name")
    sort_by = request.args.get("sort_by")
    full = include_integrations()

    def read(reader: Reader) -> dict[str, Any]:
        shown, total = svc.page_services(
            reader, query=query, sort_by=sort_by, limit=page.limit, offset=page.offset
        )
        return {
            "services": service_reads.service_details(reader, shown),
            "limit": page.limit,
            "offset": page.offset,
            "more": page.offset + len(shown) < total,
            "total": total if page.total else None,
        }

    body = await context().store.read(read)
    body["services"] = [
        with_forwarding(service_body(d, full_integrations=full), d) for d in body["services"]
    ]
    return body


def _integrations_to_create(body: Mapping[str, Any]) -> list[IntegrationInput]:
    """``integrations[]`` of a new service, each read as ``POST .../integrations`` reads one.

    PagerDuty's older form named the integration by the service's ``type`` (a v1 service
    such as ``generic_events_api``): refused by name, never silently dropped.
    """
    kind = body.get("type")
    if kind not in (None, "service", "service_reference"):
        raise invalid(
            f"type {kind!r} is the older service form; create the service with type "
            "'service' and its integrations in integrations[] (or POST "
            "/services/{id}/integrations)"
        )
    raw = body.get("integrations")
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(i, dict) for i in raw):
        raise invalid("integrations must be an array of integration objects")
    return [integration_input(item, f"integrations[{n}].") for n, item in enumerate(raw)]


@blueprint.post("/services")
@requires(Level.MANAGE)
async def create_service() -> tuple[dict[str, Any], int]:
    """``POST /services``: 201 with the new service (status must be ``active``)."""
    body = await json_body("service")
    fields = service_fields(body)
    forward = forwarding_fields(body)
    fields.setdefault("name", "")
    data = ServiceInput(**fields)
    integrations = _integrations_to_create(body)
    plugins = context().plugins
    domain = context().settings.mail_domain
    by = agent()

    def write(tx: Tx) -> service_reads.ServiceDetails:
        # One transaction: a refused integration leaves no half-made service behind.
        created = svc.create_service(tx, data, by=by)
        for integration in integrations:
            intg.add_integration(tx, created.id, integration, plugins, by=by, mail_domain=domain)
        apply_forwarding(tx, created.id, forward, by)
        return load_service(tx, created.id)

    details = await context().store.write(write)
    return {"service": with_forwarding(service_body(details), details)}, 201


@blueprint.get("/services/<service_id>")
@requires(Level.VIEW)
async def get_service(service_id: str) -> dict[str, Any]:
    """``GET /services/{id}`` (``include[]=integrations`` for full integration objects)."""
    full = include_integrations()
    details = await context().store.read(lambda reader: load_service(reader, service_id))
    return {"service": with_forwarding(service_body(details, full_integrations=full), details)}


@blueprint.put("/services/<service_id>")
@requires(Level.MANAGE)
async def update_service(service_id: str) -> dict[str, Any]:
    """``PUT /services/{id}``: change settings; ``status`` disabled/active disables or enables."""
    body = await json_body("service")
    patch = ServicePatch(**service_fields(body))
    forward = forwarding_fields(body)
    by = agent()

    def write(tx: Tx) -> service_reads.ServiceDetails:
        svc.update_service(tx, service_id, patch, by=by)
        apply_forwarding(tx, service_id, forward, by)
        return load_service(tx, service_id)

    details = await context().store.write(write)
    return {"service": with_forwarding(service_body(details), details)}


@blueprint.delete("/services/<service_id>")
@requires(Level.MANAGE)
async def delete_service(service_id: str) -> tuple[str, int]:
    """``DELETE /services/{id}``: 204; its integrations' keys stop working, incidents stay."""
    by = agent()
    await context().store.write(lambda tx: svc.delete_service(tx, service_id, by=by))
    return "", 204


__all__ = [
    "agent",
    "blueprint",
    "integration_body",
    "integration_path",
    "load_service",
    "service_body",
    "service_ref",
]

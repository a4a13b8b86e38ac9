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
from gateway.core import service_reads
from gateway.core import services as svc
from gateway.core.inputs import Agent, ServiceInput, ServicePatch
from gateway.domain import GENERIC_EMAIL, Integration
from gateway.http.rest._common import (
    api_url,
    context,
    html_url,
    invalid,
    json_body,
    list_arg,
    page_args,
    paginated,
    reference,
    requires,
)
from gateway.http.rest.bodies import rest_urls
from gateway.http.rest.vendors import vendor_body
from gateway.store import Reader, Tx

blueprint = Blueprint("rest_services", __name__)

#: Email integration fields (compat §4) kept in the integration's settings.
EMAIL_FIELDS = (
    "email_incident_creation",
    "email_filter_mode",
    "email_filters",
    "email_parsers",
    "email_parsing_fallback",
)


def agent() -> Agent:
    """The log-entry agent for this request: the API token that authenticated it."""
    return Agent("api_token", g.token.id)


# -- reading JSON fields ----------------------------------------------------------------------


class Fields:
    """Typed reads of a JSON object's fields, collecting one message per wrong type."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.errors: list[str] = []

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def text(self, key: str, *, nullable: bool = True) -> str | None:
        """A string field (``None`` when null and allowed)."""
        value = self.data.get(key)
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            self.errors.append(f"{key} must be a string")
            return None
        return value

    def integer(self, key: str) -> int | None:
        """An integer field or null."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.errors.append(f"{key} must be an integer or null")
            return None
        return value

    def obj(self, key: str) -> dict[str, Any] | None:
        """An object field or null."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.errors.append(f"{key} must be an object or null")
            return None
        return value

    def ref_id(self, key: str) -> str | None:
        """The ``id`` of a reference field (``{"id": ...}``) or null."""
        ref = self.obj(key)
        if ref is None:
            return None
        ref_id = ref.get("id")
        if not isinstance(ref_id, str) or not ref_id:
            self.errors.append(f"{key}.id must be a string")
            return None
        return ref_id

    def check(self) -> None:
        """Raise 400 listing every problem found so far."""
        if self.errors:
            raise invalid(*self.errors)


def service_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The layer's service fields present in a REST body (for ServiceInput or ServicePatch)."""
    f = Fields(data)
    out: dict[str, Any] = {}
    for key in ("name", "status", "alert_creation"):
        if key in f:
            out[key] = f.text(key, nullable=False)
    if "description" in f:
        out["description"] = f.text("description")
    for key in ("acknowledgement_timeout", "auto_resolve_timeout"):
        if key in f:
            out[key] = f.integer(key)
    if "escalation_policy" in f:
        out["escalation_policy_id"] = f.ref_id("escalation_policy")
    if "incident_urgency_rule" in f:
        rule = f.obj("incident_urgency_rule") or {}
        if rule.get("type", "constant") != "constant":
            f.errors.append(
                f"incident_urgency_rule type {rule.get('type')!r} is not supported; "
                "use 'constant' (urgency high, low or severity_based)"
            )
        elif "urgency" in rule:
            out["urgency"] = rule["urgency"]
    if "alert_grouping" in f:
        out["alert_grouping"] = f.text("alert_grouping")
    if "alert_grouping_timeout" in f:
        out["alert_grouping_timeout"] = f.integer("alert_grouping_timeout")
    if "alert_grouping_parameters" in f:
        params = f.obj("alert_grouping_parameters") or {}
        out["alert_grouping"] = params.get("type")
        config = params.get("config")
        if isinstance(config, dict) and "timeout" in config:
            out["alert_grouping_timeout"] = config["timeout"]
        elif params.get("type") is None:
            out["alert_grouping_timeout"] = None
    f.check()
    return out


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
    """An integration object in PagerDuty's shape (with the read-only ``integration_key``)."""
    path = integration_path(integration)
    vendor: dict[str, Any] | None = None
    if integration.vendor_id:
        known = context().plugins.vendors.get(integration.vendor_id)
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
        "integration_email": integration.integration_email,
    }
    if integration.type == GENERIC_EMAIL:
        for key in EMAIL_FIELDS:
            default: Any = [] if key in ("email_filters", "email_parsers") else None
            body[key] = integration.settings.get(key, default)
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
        body = paginated("services", svc.list_services(reader, query=query, sort_by=sort_by), page)
        body["services"] = service_reads.service_details(reader, body["services"])
        return body

    body = await context().store.read(read)
    body["services"] = [service_body(d, full_integrations=full) for d in body["services"]]
    return body


@blueprint.post("/services")
@requires(Level.MANAGE)
async def create_service() -> tuple[dict[str, Any], int]:
    """``POST /services``: 201 with the new service (status must be ``active``)."""
    fields = service_fields(await json_body("service"))
    fields.setdefault("name", "")
    data = ServiceInput(**fields)
    by = agent()

    def write(tx: Tx) -> service_reads.ServiceDetails:
        return load_service(tx, svc.create_service(tx, data, by=by).id)

    return {"service": service_body(await context().store.write(write))}, 201


@blueprint.get("/services/<service_id>")
@requires(Level.VIEW)
async def get_service(service_id: str) -> dict[str, Any]:
    """``GET /services/{id}`` (``include[]=integrations`` for full integration objects)."""
    full = include_integrations()
    details = await context().store.read(lambda reader: load_service(reader, service_id))
    return {"service": service_body(details, full_integrations=full)}


@blueprint.put("/services/<service_id>")
@requires(Level.MANAGE)
async def update_service(service_id: str) -> dict[str, Any]:
    """``PUT /services/{id}``: change settings; ``status`` disabled/active disables or enables."""
    patch = ServicePatch(**service_fields(await json_body("service")))
    by = agent()

    def write(tx: Tx) -> service_reads.ServiceDetails:
        svc.update_service(tx, service_id, patch, by=by)
        return load_service(tx, service_id)

    return {"service": service_body(await context().store.write(write))}


@blueprint.delete("/services/<service_id>")
@requires(Level.MANAGE)
async def delete_service(service_id: str) -> tuple[str, int]:
    """``DELETE /services/{id}``: 204; its integrations' keys stop working, incidents stay."""
    by = agent()
    await context().store.write(lambda tx: svc.delete_service(tx, service_id, by=by))
    return "", 204


__all__ = [
    "EMAIL_FIELDS",
    "Fields",
    "agent",
    "blueprint",
    "integration_body",
    "integration_path",
    "load_service",
    "service_body",
    "service_fields",
    "service_ref",
]

"""The service layer for integrations: add, change, move and delete them.

Pure functions over a :class:`~gateway.store.Tx` or :class:`~gateway.store.Reader`,
called by the REST API, the CLI, the web UI and configuration provisioning
alike. Two questions have one answer each, here:

- *what kind of integration is this* (a generic type, or the vendor that
  decides the type): :func:`resolve_integration_type`;
- *which vendor parses for it* (and so checks its settings):
  :meth:`~gateway.plugins.PluginHost.vendor_for`.

An email integration's address is checked by
:func:`gateway.core.email_integrations.check_email`, against the ``[smtp]`` domain
the face passes.

Whether an integration may sit on a service is
:func:`gateway.core.services.placement_problem`; moving one to another service is
:mod:`gateway.core.moves`. Every change writes a service-level log entry and a
structlog event (``integration.created``, ``integration.updated`` …); keys appear
in logs only as their last four characters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import structlog

from gateway import cef
from gateway.core.email_integrations import check_email, full_email
from gateway.core.inputs import SYSTEM, UNSET, Agent, IntegrationInput, IntegrationPatch, Unset
from gateway.core.ownership import deleted_key_problem, name_taken_problem, refuse_declared
from gateway.core.services import get_service, placement_problem, record_change
from gateway.domain import EVENTS_API_V2, GENERIC_EMAIL, INTEGRATION_TYPES, Integration
from gateway.errors import (
    Invalid,
    NotFound,
    OperationError,
    PluginFailure,
)
from gateway.ids import new_integration_key
from gateway.logs import redact
from gateway.model import Vendor
from gateway.plugins import PluginHost
from gateway.store import Reader, Tx

__all__ = [
    "add_integration",
    "delete_integration",
    "get_integration",
    "rename_integration",
    "resolve_integration_type",
    "update_integration",
]

log = structlog.get_logger("gateway.integrations")

MAX_NAME: Final = 255
# -- the kind of an integration -------------------------------------------------------------------


def resolve_integration_type(
    plugins: PluginHost, *, type: str | None, vendor_id: str | None
) -> tuple[str, Vendor | None]:
    """The REST integration type and the vendor behind it, from a ``type`` or a vendor.

    With ``vendor_id`` (an id, name or alias) the vendor decides and ``type`` is
    ignored; a generic vendor such as ``events_api_v2`` just names its type.
    Otherwise ``type`` is one of the generic types (by REST or configuration
    name, ``_reference`` allowed) or a vendor-specific type that exactly one
    loaded vendor has. Raises :class:`NotFound` (``Vendor``) for an unknown
    vendor and :class:`Invalid` for a type no vendor can serve.
    """
    if vendor_id:
        vendor = plugins.vendor(vendor_id)
        if vendor is None:
            raise NotFound("Vendor", vendor_id)
        return vendor.integration_type, vendor
    kind = (type or "").strip()
    kind = INTEGRATION_TYPES.get(kind, kind).removesuffix("_reference")
    if kind in INTEGRATION_TYPES.values():
        return kind, plugins.vendor_by_type(kind)
    matching = [v for v in plugins.vendors.values() if not v.generic and v.integration_type == kind]
    if len(matching) == 1:
        return kind, matching[0]
    if not kind:
        raise Invalid(["type is required (or a vendor)"])
    if matching:
        names = ", ".join(f"{v.id} ({v.name})" for v in matching)
        raise Invalid([f"type {kind} is ambiguous: give a vendor id, one of {names}"])
    raise Invalid(
        [
            f"unknown integration type {kind!r}: use one of "
            f"{', '.join(INTEGRATION_TYPES.values())} or give a vendor"
        ]
    )


# -- reads ----------------------------------------------------------------------------------------


def get_integration(
    reader: Reader, integration_id: str, *, service_id: str | None = None
) -> Integration:
    """The live integration ``integration_id`` (on ``service_id`` if given) or :class:`NotFound`."""
    integration = reader.integration(integration_id)
    if integration is None or (service_id is not None and integration.service_id != service_id):
        raise NotFound("Integration", integration_id)
    return integration


# -- writes ---------------------------------------------------------------------------------------


def add_integration(
    tx: Tx,
    service_id: str,
    data: IntegrationInput,
    plugins: PluginHost,
    *,
    by: Agent = SYSTEM,
    mail_domain: str | Unset | None = UNSET,
) -> Integration:
    """Add an integration to a service; its key is generated (32 letters and digits).

    The kind comes from :func:`resolve_integration_type`; the vendor checks the
    settings (``check_settings``); :func:`~gateway.core.services.placement_problem`
    decides whether it may join this service. Only provisioning passes
    ``data.integration_key``, pinning a key written in the configuration file.

    ``mail_domain`` is the ``[smtp]`` domain (``None`` without ``[smtp]``): the REST
    API, the UI and the CLI pass it, so an email integration's address must be a
    local part or at that domain, and none can be made without an SMTP listener.
    Provisioning leaves it unset: the file may name another domain (an MTA routing
    it here) and, without ``[smtp]``, the daemon starts with a warning.
    """
    service = get_service(tx, service_id)
    errors: list[str] = []
    kind, vendor = EVENTS_API_V2, None
    try:
        kind, vendor = resolve_integration_type(plugins, type=data.type, vendor_id=data.vendor_id)
    except OperationError as exc:
        errors.extend(exc.errors)
    given = data.name.strip() if data.name and data.name.strip() else None
    name = given or _free_default_name(tx, service.id, _default_name(kind, vendor))
    if len(name) > MAX_NAME:
        errors.append(f"name must be at most {MAX_NAME} characters")
    if given and (taken := name_taken_problem(tx, service.id, name, None)):
        errors.append(taken)
    if problem := placement_problem(kind, service.alert_creation):
        errors.append(problem)
    email = None
    if kind == GENERIC_EMAIL:
        email = check_email(tx, data.integration_email, None, errors, mail_domain)
    if data.integration_key is not None:
        _check_key(tx, data.integration_key, None, errors)
    settings = dict(data.settings)
    _check_settings(plugins, vendor, settings, errors)
    if errors:
        raise Invalid(errors)
    key = data.integration_key or new_integration_key()
    integration = tx.insert_integration(
        service_id=service.id,
        name=name,
        type=kind,
        vendor_id=_stored_vendor_id(vendor),
        integration_key=key,
        integration_email=email,
        settings=settings,
    )
    record_change(
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
        by=by.type,
    )
    return integration


def update_integration(
    tx: Tx,
    integration_id: str,
    patch: IntegrationPatch,
    *,
    plugins: PluginHost | None = None,
    by: Agent = SYSTEM,
    mail_domain: str | Unset | None = UNSET,
) -> Integration:
    """Rename an integration, change its email address or its vendor settings.

    ``plugins`` is needed to check new ``settings`` and to change the kind.
    ``mail_domain`` checks a new address as :func:`add_integration` does.
    The key never changes through the REST API, the CLI or the UI; provisioning
    may pin one, or change the kind (``type``/``vendor_id`` together, resolved
    as for a new integration), under the same rules as a new integration. An
    integration the configuration file declares changes only through the file
    (:func:`~gateway.core.ownership.refuse_declared`).
    """
    integration = get_integration(tx, integration_id)
    errors: list[str] = []
    columns: dict[str, Any] = {}
    kind = integration.type
    vendor = plugins.vendor_for(integration) if plugins is not None else None
    if not isinstance(patch.type, Unset) or not isinstance(patch.vendor_id, Unset):
        if plugins is None:
            raise ValueError("changing an integration's type needs the plugins")
        try:
            kind, vendor = resolve_integration_type(
                plugins, type=_given(patch.type), vendor_id=_given(patch.vendor_id)
            )
        except OperationError as exc:
            errors.extend(exc.errors)
        columns["type"], columns["vendor_id"] = kind, _stored_vendor_id(vendor)
        service = get_service(tx, integration.service_id)
        if problem := placement_problem(kind, service.alert_creation):
            errors.append(problem)
    if not isinstance(patch.name, Unset):
        name = patch.name.strip() if isinstance(patch.name, str) else ""
        if not name:
            errors.append("name must not be empty")
        elif len(name) > MAX_NAME:
            errors.append(f"name must be at most {MAX_NAME} characters")
        elif taken := name_taken_problem(tx, integration.service_id, name, integration.id):
            errors.append(taken)
        columns["name"] = name
    if kind == GENERIC_EMAIL:
        if not isinstance(patch.integration_email, Unset) and not _same_address(
            patch.integration_email, integration.integration_email, mail_domain
        ):
            columns["integration_email"] = check_email(
                tx, patch.integration_email, integration.id, errors, mail_domain
            )
        elif "type" in columns and integration.integration_email is None:
            errors.append("integration_email is required for an email integration")
    elif integration.integration_email is not None and "type" in columns:
        columns["integration_email"] = None  # no longer an email integration: free the address
    if not isinstance(patch.integration_key, Unset):
        _check_key(tx, patch.integration_key, integration.id, errors)
        columns["integration_key"] = patch.integration_key
    settings: Mapping[str, Any] | None = None
    if not isinstance(patch.settings, Unset):
        settings = columns["settings"] = dict(patch.settings)
    elif "type" in columns:
        settings = integration.settings  # a new vendor must accept the settings kept
    if settings is not None and plugins is not None:
        _check_settings(plugins, vendor, settings, errors)
    changed = {k: v for k, v in columns.items() if getattr(integration, k) != v}
    refuse_declared(tx, "Integration", integration.id, integration.name, changed, by)
    if errors:
        raise Invalid(errors)
    if changed:
        tx.update_integration(integration.id, **changed)
        record_change(
            tx,
            "integration_update",
            by,
            integration.service_id,
            integration.id,
            f"Integration {columns.get('name', integration.name)} updated: "
            + ", ".join(sorted(changed)),
            {"changed": sorted(changed)},
        )
        log.info(
            "integration.updated",
            integration_id=integration.id,
            fields=sorted(changed),
            by=by.type,
        )
    return get_integration(tx, integration.id)


def rename_integration(
    tx: Tx, integration_id: str, name: str, *, by: Agent = SYSTEM
) -> Integration:
    """Give an integration a new name (unique among its service's integrations)."""
    return update_integration(tx, integration_id, IntegrationPatch(name=name), by=by)


def delete_integration(
    tx: Tx, integration_id: str, *, service_id: str | None = None, by: Agent = SYSTEM
) -> Integration:
    """Delete an integration (on ``service_id`` if given) for good; return it as it was.

    Its key is released in the same transaction, so from the commit on the
    Events API answers ``400 Invalid routing key`` for it, and it cannot be
    recovered. Its incidents and alerts, open or resolved, are not touched.
    """
    integration = get_integration(tx, integration_id, service_id=service_id)
    tx.delete_integration(integration.id)
    record_change(
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


# -- checks ---------------------------------------------------------------------------------------


def _given(value: str | Unset | None) -> str | None:
    return None if isinstance(value, Unset) else value


def _stored_vendor_id(vendor: Vendor | None) -> str | None:
    # A generic vendor is implied by the type; only a specific vendor is stored.
    return vendor.id if vendor is not None and not vendor.generic else None


def _default_name(kind: str, vendor: Vendor | None) -> str:
    if vendor is not None:
        return vendor.name
    return {GENERIC_EMAIL: "Email"}.get(kind, kind)


def _free_default_name(reader: Reader, service_id: str, base: str) -> str:
    # A client that names nothing is never refused over a name it did not choose: the
    # second unnamed Events API v2 integration is "Events API v2 (2)".
    taken = {i.name for i in reader.integrations(service_id)}
    return next(n for n in (base, *(f"{base} ({k})" for k in range(2, 10_000))) if n not in taken)


def _same_address(given: str | None, stored: str | None, domain: str | Unset | None) -> bool:
    # A client that PUTs back the address it was shown (the whole one) changes nothing.
    if given is None or stored is None:
        return False
    shown = full_email(stored, domain if isinstance(domain, str) else None) or ""
    return given.strip().lower() in (stored.lower(), shown.lower())


def _check_key(reader: Reader, key: object, own_id: str | None, errors: list[str]) -> None:
    if not isinstance(key, str) or cef.routing_key_errors(key):
        errors.append("integration_key must be 32 letters and digits")
        return
    owner = reader.integration_by_key(key)
    if owner is not None and owner.id != own_id:
        errors.append(f"integration_key already belongs to another integration (id {owner.id})")
    elif problem := deleted_key_problem(reader, key):
        errors.append(problem)


def _check_settings(
    plugins: PluginHost, vendor: Vendor | None, settings: Mapping[str, Any], errors: list[str]
) -> None:
    """Collect the vendor's objections to ``settings``; a vendor that raises is a plugin bug."""
    if vendor is None or vendor.check_settings is None:
        return
    try:
        errors.extend(vendor.check_settings(settings))
    except Exception as exc:  # the plugin's bug, not the caller's input: never a 400
        plugin = plugins.vendor_plugin.get(vendor.id, vendor.id)
        log.error("plugin.hook_failed", plugin=plugin, hook="check_settings", exc_info=exc)
        raise PluginFailure(plugin, exc) from exc

"""Declarative services from the configuration, upserted at start-up.

Services are matched by name and integrations by (service, name), so an ops
team can keep its services in git: editing the file and restarting updates
them in place. Objects created through the REST API or the CLI are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.clock import iso
from gateway.config import IntegrationConfig, Settings
from gateway.domain import EVENTS_API_V2
from gateway.errors import ConfigError
from gateway.ids import new_integration_key
from gateway.plugins import PluginHost
from gateway.store import Tx


@dataclass(frozen=True, slots=True)
class CreatedIntegration:
    """An integration provisioning created with a generated key (shown to the operator once)."""

    service: str
    name: str
    integration_key: str


def resolve_kind(config: IntegrationConfig, plugins: PluginHost) -> tuple[str, str | None]:
    """The REST integration type and vendor id for a configured integration."""
    if config.vendor is not None:
        vendor = plugins.vendor(config.vendor)
        if vendor is None:
            known = ", ".join(
                sorted(f"{v.id} ({v.name})" for v in plugins.vendors.values() if not v.generic)
            )
            raise ConfigError(
                f"unknown vendor {config.vendor!r} (loaded: {known or 'none'})",
                key=f"{config.key}.vendor",
                line=config.line,
            )
        if vendor.generic:
            return vendor.integration_type, None
        return vendor.integration_type, vendor.id
    assert config.type is not None
    return config.type, None


def check_vendor_settings(
    config: IntegrationConfig, kind: str, vendor_id: str | None, plugins: PluginHost
) -> None:
    """Raise :class:`ConfigError` when the vendor refuses the integration's settings."""
    vendor = plugins.vendor(vendor_id) if vendor_id else plugins.vendor_by_type(kind)
    if vendor is None or vendor.check_settings is None:
        return
    problems = vendor.check_settings(config.settings)
    if problems:
        raise ConfigError("; ".join(problems), key=config.key, line=config.line)


def provision(tx: Tx, settings: Settings, plugins: PluginHost) -> list[CreatedIntegration]:
    """Upsert the configured services, integrations and maintenance windows."""
    created: list[CreatedIntegration] = []
    service_ids: dict[str, str] = {}
    for svc in settings.services:
        fields = {
            "description": svc.description,
            "status": svc.status,
            "alert_creation": svc.alert_creation,
            "urgency": svc.urgency,
            "acknowledgement_timeout": svc.acknowledgement_timeout,
            "auto_resolve_timeout": svc.auto_resolve_timeout,
            "alert_grouping": svc.alert_grouping,
            "alert_grouping_timeout": svc.alert_grouping_timeout,
        }
        existing = tx.service_by_name(svc.name)
        if existing is None:
            service_id = tx.insert_service(name=svc.name, **fields).id
        else:
            service_id = existing.id
            tx.update_service(service_id, **fields)
        service_ids[svc.name] = service_id
        current = {i.name: i for i in tx.integrations(service_id)}
        for config in svc.integrations:
            kind, vendor_id = resolve_kind(config, plugins)
            if kind == EVENTS_API_V2 and svc.alert_creation == "create_incidents":
                raise ConfigError(
                    "an Events API v2 integration needs alert_creation = "
                    '"create_alerts_and_incidents"',
                    key=f"{config.key}.type",
                    line=config.line,
                )
            key = config.integration_key
            if key is not None:
                owner = tx.integration_by_key(key)
                mine = current.get(config.name)
                if owner is not None and (mine is None or owner.id != mine.id):
                    raise ConfigError(
                        f"integration_key already belongs to another integration (id {owner.id})",
                        key=f"{config.key}.integration_key",
                        line=config.line,
                    )
            email = config.integration_email
            if email is not None and "@" not in email:
                email = email.lower()
            check_vendor_settings(config, kind, vendor_id, plugins)
            mine = current.get(config.name)
            if mine is None:
                generated = key is None
                key = key or new_integration_key()
                tx.insert_integration(
                    service_id=service_id,
                    name=config.name,
                    type=kind,
                    vendor_id=vendor_id,
                    integration_key=key,
                    integration_email=email,
                    settings=config.settings,
                )
                if generated and key:
                    created.append(CreatedIntegration(svc.name, config.name, key))
            else:
                updates: dict[str, object] = {
                    "type": kind,
                    "vendor_id": vendor_id,
                    "settings": config.settings,
                    "integration_email": email,
                }
                if key is not None:
                    updates["integration_key"] = key
                tx.update_integration(mine.id, **updates)
    tx.replace_config_windows(
        (w.description, iso(w.start), iso(w.end), [service_ids[name] for name in w.services])
        for w in settings.maintenance_windows
    )
    return created

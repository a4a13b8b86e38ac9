"""Declarative services from the configuration, applied through the service layer.

Provisioning is a loop over the same functions the REST API calls
(:func:`~gateway.core.services.create_service`,
:func:`~gateway.core.services.update_service`,
:func:`~gateway.core.integrations.add_integration`,
:func:`~gateway.core.integrations.update_integration`), so every rule exists
once. What a file may do beyond REST is an explicit, documented input of those
functions: pin an integration's key, change an existing integration's type or
vendor (:class:`~gateway.core.inputs.IntegrationPatch`), and store a bare
local part lower-cased (:func:`~gateway.core.integrations.normalize_email`).

Services are matched by name and integrations by (service, name), so an ops
team can keep its services in git: editing the file and restarting updates
them in place, and an unchanged file changes nothing. Objects created through
the REST API, the CLI or the UI are left alone. Changes are logged like any
other, with the agent ``config`` and the file's path as its id. A refusal
becomes a :class:`~gateway.errors.ConfigError` naming the block's key and line.

A runtime deletion is never undone: a block whose fixed key was deleted is
skipped with a :class:`ConfigWarning` (``config.integration_skipped``) and the
daemon starts (:mod:`gateway.core.ownership`). :func:`provision_report` collects
every problem and warning instead of stopping at the first, for ``check-config``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from gateway.clock import iso
from gateway.core.inputs import (
    CONFIG,
    UNSET,
    Agent,
    IntegrationInput,
    IntegrationPatch,
    ServiceInput,
    ServicePatch,
)
from gateway.core.integrations import (
    add_integration,
    normalize_email,
    resolve_integration_type,
    update_integration,
)
from gateway.core.ownership import deleted_key_problem
from gateway.core.services import create_service, update_service
from gateway.domain import Integration
from gateway.errors import ConfigError, NotFound, OperationError, PluginFailure
from gateway.plugins import PluginHost
from gateway.store import Tx

if TYPE_CHECKING:  # the configuration imports the core's rules; only types flow back
    from gateway.config import IntegrationConfig, ServiceConfig, Settings

__all__ = [
    "ConfigWarning",
    "CreatedIntegration",
    "ProvisionReport",
    "provision",
    "provision_report",
]

log = structlog.get_logger("gateway.provision")


@dataclass(frozen=True, slots=True)
class CreatedIntegration:
    """An integration provisioning created with a generated key (shown to the operator once)."""

    service: str
    name: str
    integration_key: str


@dataclass(frozen=True, slots=True)
class ConfigWarning:
    """A block provisioning skipped, and why (the daemon starts all the same)."""

    message: str
    key: str
    line: int | None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.key}: {self.message}"


@dataclass(slots=True)
class ProvisionReport:
    """Everything one provisioning found: created keys, skipped blocks, refusals."""

    created: list[CreatedIntegration] = field(default_factory=list)
    warnings: list[ConfigWarning] = field(default_factory=list)
    problems: list[ConfigError] = field(default_factory=list)


def provision(tx: Tx, settings: Settings, plugins: PluginHost) -> list[CreatedIntegration]:
    """Upsert the configured services, integrations and maintenance windows.

    Raises :class:`ConfigError` (key and line of the block) for anything the
    service layer refuses; the caller's transaction then rolls every change back.
    Skipped blocks are logged as warnings (``config.integration_skipped``).
    """
    report = provision_report(tx, settings, plugins)
    for warning in report.warnings:
        log.warning(
            "config.integration_skipped",
            key=warning.key,
            line=warning.line,
            reason=warning.message,
        )
    if report.problems:
        for problem in report.problems[1:]:  # the first is raised, and reported by the caller
            log.error("config.refused", key=problem.key, line=problem.line, error=problem.message)
        raise report.problems[0]
    log.info(
        "config.provisioned",
        services=len(settings.services),
        created_integrations=len(report.created),
        skipped_integrations=len(report.warnings),
        windows=len(settings.maintenance_windows),
    )
    return report.created


def provision_report(tx: Tx, settings: Settings, plugins: PluginHost) -> ProvisionReport:
    """Provision as :func:`provision` does, but collect every problem instead of raising.

    A refused block changes nothing (the service layer checks before it writes)
    and the next block is tried, so ``check-config`` names every conflict the
    start would hit. With any :attr:`ProvisionReport.problems` the caller must
    roll the transaction back.
    """
    by = Agent(CONFIG.type, str(settings.source)) if settings.source else CONFIG
    report = ProvisionReport()
    service_ids: dict[str, str] = {}
    for config in settings.services:
        try:
            service_ids[config.name] = _service(tx, config, plugins, by, report)
        except ConfigError as exc:
            report.problems.append(exc)
    tx.replace_config_windows(
        (
            w.description,
            iso(w.start),
            iso(w.end),
            [service_ids[name] for name in w.services if name in service_ids],
        )
        for w in settings.maintenance_windows
    )
    return report


@contextmanager
def _located(key: str, line: int | None) -> Iterator[None]:
    """Name the configuration block when the service layer (or a vendor's check) refuses it."""
    try:
        yield
    except OperationError as exc:
        raise ConfigError("; ".join(exc.errors), key=key, line=line) from exc
    except PluginFailure as exc:  # a vendor whose check_settings crashes cannot be started
        raise ConfigError(str(exc), key=key, line=line) from exc


def _service(
    tx: Tx,
    config: ServiceConfig,
    plugins: PluginHost,
    by: Agent,
    report: ProvisionReport,
) -> str:
    """Create or update one ``[[services]]`` block and its integrations; its id."""
    patch = ServicePatch(
        description=config.description,
        status=config.status,
        alert_creation=config.alert_creation,
        urgency=config.urgency,
        acknowledgement_timeout=config.acknowledgement_timeout,
        auto_resolve_timeout=config.auto_resolve_timeout,
        alert_grouping=config.alert_grouping,
        alert_grouping_timeout=config.alert_grouping_timeout,
    )
    existing = tx.service_by_name(config.name)
    with _located(config.key, config.line):
        if existing is None:
            data = ServiceInput(
                name=config.name,
                description=config.description,
                alert_creation=config.alert_creation,
                urgency=config.urgency,
                acknowledgement_timeout=config.acknowledgement_timeout,
                auto_resolve_timeout=config.auto_resolve_timeout,
                alert_grouping=config.alert_grouping,
                alert_grouping_timeout=config.alert_grouping_timeout,
            )
            service_id = create_service(tx, data, by=by).id
            # A new service starts active (the REST rule); a disabled one is then disabled.
            update_service(tx, service_id, ServicePatch(status=config.status), by=by)
        else:
            service_id = existing.id
    # Switching to create_incidents must come after the file's integrations changed kind
    # (an Events API v2 one may become v1); any other change must come before them (a v2
    # integration may only join once the service creates alerts).
    integrations_first = existing is not None and config.alert_creation == "create_incidents"
    if existing is not None and not integrations_first:
        with _located(config.key, config.line):
            update_service(tx, service_id, patch, by=by)
    current = {i.name: i for i in tx.integrations(service_id)}
    for integration in config.integrations:
        if integration.integration_key is not None and (
            gone := deleted_key_problem(tx, integration.integration_key)
        ):
            # The runtime deletion wins: the key stays dead and the daemon still starts.
            skip = f"{gone}: this block is skipped; remove it (or give it a new key)"
            report.warnings.append(ConfigWarning(skip, integration.key, integration.line))
            continue
        try:
            key = _integration(
                tx, service_id, integration, current.get(integration.name), plugins, by
            )
        except ConfigError as exc:
            report.problems.append(exc)
            continue
        if key is not None:
            report.created.append(CreatedIntegration(config.name, integration.name, key))
    if integrations_first:
        with _located(config.key, config.line):
            update_service(tx, service_id, patch, by=by)
    return service_id


def _integration(
    tx: Tx,
    service_id: str,
    config: IntegrationConfig,
    mine: Integration | None,
    plugins: PluginHost,
    by: Agent,
) -> str | None:
    """Add or update one integration; the key when one was generated for it."""
    try:
        resolve_integration_type(plugins, type=config.type, vendor_id=config.vendor)
    except NotFound as exc:
        known = ", ".join(
            sorted(f"{v.id} ({v.name})" for v in plugins.vendors.values() if not v.generic)
        )
        raise ConfigError(
            f"unknown vendor {config.vendor!r} (loaded: {known or 'none'})",
            key=f"{config.key}.vendor",
            line=config.line,
        ) from exc
    except OperationError:
        pass  # the service layer reports it below, with everything else wrong
    email = normalize_email(config.integration_email) if config.integration_email else None
    with _located(config.key, config.line):
        if mine is None:
            data = IntegrationInput(
                name=config.name,
                type=config.type,
                vendor_id=config.vendor,
                integration_email=email,
                settings=config.settings,
                integration_key=config.integration_key,
            )
            made = add_integration(tx, service_id, data, plugins, by=by)
            return made.integration_key if config.integration_key is None else None
        patch = IntegrationPatch(
            type=config.type if config.type is not None else UNSET,
            vendor_id=config.vendor,
            integration_email=email if email is not None else UNSET,
            settings=config.settings,
            integration_key=(
                config.integration_key if config.integration_key is not None else UNSET
            ),
        )
        update_integration(tx, mine.id, patch, plugins=plugins, by=by)
    return None

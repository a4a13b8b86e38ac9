"""Declarative services from the configuration, applied through the service layer.

Provisioning is a loop over the same functions the REST API calls
(:func:`~gateway.core.services.create_service`,
:func:`~gateway.core.services.update_service`,
:func:`~gateway.core.integrations.add_integration`,
:func:`~gateway.core.integrations.update_integration`), so every rule exists
once. What a file may do beyond REST is an explicit, documented input of those
functions: pin an integration's key, change an existing integration's type or
vendor (:class:`~gateway.core.inputs.IntegrationPatch`), and store a bare
local part lower-cased (:func:`~gateway.core.email_integrations.normalize_email`).

The file is the source of truth for what it declares (the rule is
:mod:`gateway.core.ownership`). Services are matched by name; an integration
by its fixed key wherever it is, else by its name on its service, else by its
email address; the match is then made what the block says (moved back, renamed,
re-typed, re-addressed). So an ops team can keep its services in git: editing
the file and restarting updates them in place, and an unchanged file changes
nothing. What the file declares is marked ``source = 'config'`` (REST, the UI and
the CLI then refuse to change it); what it no longer declares is released to
runtime edits; objects made at runtime are left alone. Changes are logged like
any other, with the agent ``config`` and the file's path as its id. A refusal
becomes a :class:`~gateway.errors.ConfigError` naming the block's key and line.

A runtime deletion is never undone: a block whose key, or whose integration,
was deleted at runtime is skipped with a :class:`ConfigWarning`
(``config.integration_skipped``) and the daemon starts. :func:`provision_report`
collects every problem and warning instead of stopping at the first, for
``check-config``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from gateway.clock import iso
from gateway.core import contact_types
from gateway.core.email_integrations import normalize_email
from gateway.core.forwarding import TargetInput, set_forwarding
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
    resolve_integration_type,
    update_integration,
)
from gateway.core.moves import move_integration
from gateway.core.ownership import deleted_key_problem
from gateway.core.provision_escalation import provision_policies, service_policy
from gateway.core.provision_schedules import provision_schedules
from gateway.core.provision_users import provision_users
from gateway.core.provision_webhooks import provision_webhooks
from gateway.core.services import create_service, update_service
from gateway.domain import GENERIC_EMAIL, Integration
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
    #: Blocks provisioned all the same but worth a warning (an email address without [smtp]).
    notices: list[ConfigWarning] = field(default_factory=list)
    problems: list[ConfigError] = field(default_factory=list)
    #: What the file declares (ids), marked ``source = 'config'`` once provisioning is done.
    declared_services: set[str] = field(default_factory=set)
    declared_integrations: set[str] = field(default_factory=set)


def provision(tx: Tx, settings: Settings, plugins: PluginHost) -> list[CreatedIntegration]:
    """Upsert the configured escalation policies (:mod:`gateway.core.provision_escalation`),
    services, integrations, maintenance windows, webhook subscriptions
    (:mod:`gateway.core.provision_webhooks`) and on-call schedules
    (:mod:`gateway.core.provision_schedules`).

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
    for notice in report.notices:
        log.warning(
            "config.email_without_smtp", key=notice.key, line=notice.line, reason=notice.message
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
    # People first: what names them (schedules, escalation policies, services) comes after.
    types = contact_types.available(plugins.contact_types)
    provision_users(tx, settings.users, types, by, report.problems)
    # Schedules, then policies (their targets), then services (which name a policy).
    provision_schedules(tx, settings.schedules, by, report.problems)
    provision_policies(tx, settings.escalation_policies, by, report.problems)
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
    if settings.smtp is None:
        report.notices.extend(_unreachable_addresses(settings, plugins))
    # What the file no longer declares goes back to runtime edits; what it declares is its own.
    tx.set_declared("services", report.declared_services)
    tx.set_declared("integrations", report.declared_integrations)
    provision_webhooks(tx, settings.webhook_subscriptions, by, report.problems)
    return report


def _unreachable_addresses(settings: Settings, plugins: PluginHost) -> Iterator[ConfigWarning]:
    """The email integrations a file declares without ``[smtp]``: no mail can reach them.

    A warning, not a refusal: the daemon must always start (its HTTP channels work),
    and adding ``[smtp]`` later makes the addresses live without another change.
    """
    for service in settings.services:
        for config in service.integrations:
            try:
                kind, _ = resolve_integration_type(
                    plugins, type=config.type, vendor_id=config.vendor
                )
            except OperationError:
                continue  # refused elsewhere, with its reason
            if kind == GENERIC_EMAIL:
                yield ConfigWarning(
                    f"no [smtp] section: the SMTP listener is off, so no mail reaches "
                    f"{config.integration_email!r} until [smtp] is configured",
                    config.key,
                    config.line,
                )


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
    # What the block declares, given alike to a new service and to a patch of one.
    declared: dict[str, Any] = {
        "description": config.description,
        "alert_creation": config.alert_creation,
        "urgency": config.urgency,
        "acknowledgement_timeout": config.acknowledgement_timeout,
        "auto_resolve_timeout": config.auto_resolve_timeout,
        "alert_grouping": config.alert_grouping,
        "alert_grouping_timeout": config.alert_grouping_timeout,
    }
    if config.escalation_policy is not None:
        declared["escalation_policy_id"] = service_policy(
            tx, config.escalation_policy, f"{config.key}.escalation_policy", config.line
        )
    patch = ServicePatch(status=config.status, **declared)
    existing = tx.service_by_name(config.name)
    with _located(config.key, config.line):
        if existing is None:
            data = ServiceInput(name=config.name, **declared)
            service_id = create_service(tx, data, by=by).id
            # A new service starts active (the REST rule); a disabled one is then disabled.
            update_service(tx, service_id, ServicePatch(status=config.status), by=by)
        else:
            service_id = existing.id
    report.declared_services.add(service_id)
    # Switching to create_incidents must come after the file's integrations changed kind
    # (an Events API v2 one may become v1); any other change must come before them (a v2
    # integration may only join once the service creates alerts).
    integrations_first = existing is not None and config.alert_creation == "create_incidents"
    if existing is not None and not integrations_first:
        with _located(config.key, config.line):
            update_service(tx, service_id, patch, by=by)
    for integration in config.integrations:
        try:
            key = _integration(tx, service_id, integration, plugins, by, report)
        except ConfigError as exc:
            report.problems.append(exc)
            continue
        if key is not None:
            report.created.append(CreatedIntegration(config.name, integration.name, key))
    if integrations_first:
        with _located(config.key, config.line):
            update_service(tx, service_id, patch, by=by)
    with _located(f"{config.key}.forward_to", config.line):
        _forwarding(tx, service_id, config, by)
    tx.set_service_policy_declared(service_id, config.escalation_policy is not None)
    return service_id


def _forwarding(tx: Tx, service_id: str, config: ServiceConfig, by: Agent) -> None:
    """The block's ``forward_to``/``forward_suppressed``: declared, or released to runtime."""
    if config.forward_to is None and config.forward_suppressed is None:
        set_forwarding(tx, service_id, by=by, declared=False)
        return
    targets = [TargetInput(t.url, t.routing_key) for t in config.forward_to or ()]
    set_forwarding(
        tx,
        service_id,
        targets=targets,
        forward_suppressed=bool(config.forward_suppressed),
        by=by,
        declared=True,
    )


def _integration(
    tx: Tx,
    service_id: str,
    config: IntegrationConfig,
    plugins: PluginHost,
    by: Agent,
    report: ProvisionReport,
) -> str | None:
    """Add, update or skip one integration block; the key when one was generated for it."""
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
    mine = _match(tx, service_id, config, report.declared_integrations)
    if isinstance(mine, str):  # a runtime deletion wins: warn, skip, and start all the same
        report.warnings.append(ConfigWarning(mine, config.key, config.line))
        return None
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
            report.declared_integrations.add(made.id)
            return made.integration_key if config.integration_key is None else None
        if mine.service_id != service_id:
            # The block is on another service than the integration (the file moved it, or an
            # older build let a runtime move through): the file wins, incidents follow.
            move_integration(tx, mine.id, service_id, confirm=True, by=by)
        patch = IntegrationPatch(
            name=config.name,
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


def _match(
    tx: Tx, service_id: str, config: IntegrationConfig, claimed: set[str]
) -> Integration | str | None:
    """The live integration a block declares, ``None`` for a new one, or why it is skipped.

    In order: the block's fixed key (wherever that integration is now); its name on
    its service (one the file declared first, then the oldest); its email address.
    An integration another block already claimed is not matched twice. A block whose
    key, or whose integration, was deleted at runtime is skipped: the text says why.
    """
    if config.integration_key is not None:
        if gone := deleted_key_problem(tx, config.integration_key):
            return f"{gone}: this block is skipped; remove it from the file or give it a new key"
        owner = tx.integration_by_key(config.integration_key)
        if owner is not None and owner.id not in claimed:
            return _claim(owner, claimed)
    named = [i for i in tx.integrations(service_id) if i.name == config.name]
    named = [i for i in named if i.id not in claimed]
    if named:
        named.sort(key=lambda i: not tx.declared("integrations", i.id))  # stable: then oldest
        return _claim(named[0], claimed)
    if config.integration_key is None and (
        deleted := tx.deleted_declared_integration(service_id, config.name)
    ):
        claimed.add(deleted[0])
        return (
            f"integration {config.name!r} was deleted at runtime at {deleted[1]} and its key "
            "stays deleted: this block is skipped; remove it, or rename it to declare a new "
            "integration"
        )
    if config.integration_email:
        holder = tx.integration_by_email(normalize_email(config.integration_email))
        if holder is not None and holder.id not in claimed:
            return _claim(holder, claimed)
    return None


def _claim(integration: Integration, claimed: set[str]) -> Integration:
    claimed.add(integration.id)
    return integration

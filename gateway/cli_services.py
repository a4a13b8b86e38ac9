"""``alert-gateway services …`` and ``alert-gateway integrations …``.

Both work on the database file through :mod:`gateway.store.offline`, so they
are safe while the daemon runs, and both call :mod:`gateway.core.services` and
:mod:`gateway.core.integrations`, the same rules the REST API and the web UI
follow. Services are named by id or by name. Exit status: 0 done, 1 refused or
not found (:func:`gateway.cli_common.fail`), 2 bad configuration.
"""

from __future__ import annotations

import getpass
import sys
from dataclasses import replace
from pathlib import Path

import click

from gateway.cli_common import CONFIG_OPTION, load_settings_or_exit, read_store, write_store
from gateway.config import Settings
from gateway.core import escalation_policies as policies
from gateway.core import integrations as intg
from gateway.core import moves, service_reads
from gateway.core import services as svc
from gateway.core.email_integrations import full_email
from gateway.core.inputs import Agent, IntegrationInput, ServiceInput, ServicePatch
from gateway.domain import ALERT_CREATIONS, URGENCY_RULES, Integration, Service
from gateway.errors import ConfigError, Difference, Invalid
from gateway.plugins import PluginHost, load_plugins
from gateway.store import Reader, Tx


def _plugins(settings: Settings) -> PluginHost:
    try:
        return load_plugins(block=settings.plugins.block, require=settings.plugins.require)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def _agent() -> Agent:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment (containers)
        user = None
    return Agent("cli", user)


def _integration_line(integration: Integration, mail_domain: str | None) -> str:
    """One integration: id, name, type, key and, for email, its whole address."""
    line = f"    {integration.id}  {integration.name}  {integration.type}  "
    line += integration.integration_key or "-"
    if integration.integration_email:
        line += f"  email {full_email(integration.integration_email, mail_domain)}"
        if mail_domain is None:
            line += " (no [smtp] section: this address receives no mail)"
    return line


# -- services ---------------------------------------------------------------------------------


@click.group("services")
def services() -> None:
    """List, show, create, disable and enable services."""


@services.command("list")
@CONFIG_OPTION
@click.option("--query", "-q", help="Only services whose name contains this.")
def services_list(config_path: Path, query: str | None) -> None:
    """List services with their integrations, integration keys and email addresses."""

    def read(reader: Reader) -> list[service_reads.ServiceDetails]:
        return service_reads.service_details(reader, svc.list_services(reader, query=query))

    settings = load_settings_or_exit(config_path)
    for details in read_store(settings.storage.path, read):
        service = details.service
        click.echo(
            f"{service.id}  {service.name}  [{details.status}]  "
            f"{service.alert_creation}  urgency={service.urgency_rule.urgency}"
        )
        for integration in details.integrations:
            click.echo(_integration_line(integration, settings.mail_domain))


@services.command("show")
@CONFIG_OPTION
@click.argument("service")
def services_show(config_path: Path, service: str) -> None:
    """Show one service (by id or name): its settings, status and integrations."""

    def read(reader: Reader) -> service_reads.ServiceDetails:
        return service_reads.service_details(reader, [svc.find_service(reader, service)])[0]

    settings = load_settings_or_exit(config_path)
    details = read_store(settings.storage.path, read)
    found, status, integrations = details.service, details.status, details.integrations
    rows = [
        ("id", found.id),
        ("name", found.name),
        ("description", found.description or "-"),
        ("status", status),
        ("alert_creation", found.alert_creation),
        ("urgency", found.urgency_rule.urgency),
        ("acknowledgement_timeout", found.acknowledgement_timeout or "off"),
        ("auto_resolve_timeout", found.auto_resolve_timeout or "off"),
        ("alert_grouping", found.alert_grouping or "-"),
        ("escalation_policy", f"{details.policy_name} ({found.escalation_policy_id})"),
        ("created_at", found.created_at),
        ("last_incident", found.last_incident_timestamp or "-"),
    ]
    for label, value in rows:
        click.echo(f"{label + ':':<25} {value}")
    click.echo(f"integrations ({len(integrations)}):")
    for integration in integrations:
        click.echo(_integration_line(integration, settings.mail_domain))


@services.command("create")
@CONFIG_OPTION
@click.argument("name")
@click.option("--description")
@click.option(
    "--alert-creation",
    type=click.Choice(ALERT_CREATIONS),
    default="create_alerts_and_incidents",
    show_default=True,
)
@click.option("--urgency", type=click.Choice(URGENCY_RULES), default="high", show_default=True)
@click.option("--ack-timeout", type=int, default=1800, show_default=True, help="Seconds; 0: off.")
@click.option(
    "--auto-resolve-timeout", type=int, default=14400, show_default=True, help="Seconds; 0: off."
)
@click.option(
    "--escalation-policy", help="Escalation policy id or name (default: the Default policy)."
)
def services_create(
    config_path: Path,
    name: str,
    description: str | None,
    alert_creation: str,
    urgency: str,
    ack_timeout: int,
    auto_resolve_timeout: int,
    escalation_policy: str | None,
) -> None:
    """Create a service (active)."""
    data = ServiceInput(
        name=name,
        description=description,
        alert_creation=alert_creation,
        urgency=urgency,
        acknowledgement_timeout=ack_timeout,
        auto_resolve_timeout=auto_resolve_timeout,
    )
    by = _agent()

    def write(tx: Tx) -> Service:
        chosen = policies.find_policy(tx, escalation_policy).id if escalation_policy else None
        return svc.create_service(tx, replace(data, escalation_policy_id=chosen), by=by)

    created = write_store(load_settings_or_exit(config_path).storage.path, write)
    click.echo(f"created service {created.id} ({created.name!r})")


def _set_status(config_path: Path, service: str, status: str) -> None:
    by = _agent()

    def write(tx: Tx) -> Service:
        found = svc.find_service(tx, service)
        return svc.update_service(tx, found.id, ServicePatch(status=status), by=by)

    changed = write_store(load_settings_or_exit(config_path).storage.path, write)
    click.echo(f"service {changed.id} ({changed.name!r}) is {changed.status}")


@services.command("disable")
@CONFIG_OPTION
@click.argument("service")
def services_disable(config_path: Path, service: str) -> None:
    """Disable a service: it keeps its settings but opens no incidents until enabled."""
    _set_status(config_path, service, "disabled")


@services.command("enable")
@CONFIG_OPTION
@click.argument("service")
def services_enable(config_path: Path, service: str) -> None:
    """Enable a disabled service again."""
    _set_status(config_path, service, "active")


# -- integrations -----------------------------------------------------------------------------


@click.group("integrations")
def integrations() -> None:
    """Add, move and delete integrations."""


@integrations.command("add")
@CONFIG_OPTION
@click.argument("service")
@click.option(
    "--type",
    "kind",
    help="events_api_v2 (default without --vendor), events_api_v1, email or a REST type.",
)
@click.option("--vendor", help="Vendor id, name or alias (e.g. PZQ6AUS, cloudwatch).")
@click.option("--name", help="Integration name (defaults to the vendor's or type's).")
@click.option("--email", help="integration_email, for an email integration.")
def integrations_add(
    config_path: Path,
    service: str,
    kind: str | None,
    vendor: str | None,
    name: str | None,
    email: str | None,
) -> None:
    """Add an integration to SERVICE; its generated key is printed once, as the last word."""
    settings = load_settings_or_exit(config_path)
    plugins = _plugins(settings)
    data = IntegrationInput(
        name=name,
        type=kind or (None if vendor else "events_api_v2"),
        vendor_id=vendor,
        integration_email=email,
    )
    by = _agent()

    def write(tx: Tx) -> Integration:
        found = svc.find_service(tx, service).id
        return intg.add_integration(
            tx, found, data, plugins, by=by, mail_domain=settings.mail_domain
        )

    created = write_store(settings.storage.path, write)
    click.echo(f"created integration {created.id} ({created.name!r}, {created.type})")
    if created.integration_email:
        click.echo(f"email address: {full_email(created.integration_email, settings.mail_domain)}")
    click.echo(f"integration key: {created.integration_key}")


@integrations.command("move")
@CONFIG_OPTION
@click.argument("integration_id")
@click.argument("to_service")
@click.option("--yes", "-y", is_flag=True, help="Move without asking, whatever differs.")
def integrations_move(config_path: Path, integration_id: str, to_service: str, yes: bool) -> None:
    """Move an integration (key unchanged) and its incidents to TO_SERVICE.

    Prints each incident setting that differs on the destination and asks
    before moving; --yes skips the question.
    """
    settings = load_settings_or_exit(config_path)

    def read(reader: Reader) -> tuple[str, list[Difference]]:
        target = svc.find_service(reader, to_service)
        return target.id, moves.integration_move_differences(reader, integration_id, target.id)

    target_id, differences = read_store(settings.storage.path, read)
    if differences:
        click.echo("The destination service's incident settings differ:")
        for difference in differences:
            click.echo(f"  {difference}")
        if not yes and not click.confirm("Move the integration anyway?", default=False):
            click.echo("not moved")
            sys.exit(1)
    by = _agent()

    def write(tx: Tx) -> moves.MoveResult:
        # The settings may have changed since they were shown: agree only to what was shown.
        if moves.integration_move_differences(tx, integration_id, target_id) != differences:
            raise Invalid(["the services' settings changed meanwhile; run the move again"])
        return moves.move_integration(tx, integration_id, target_id, confirm=True, by=by)

    result = write_store(settings.storage.path, write)
    click.echo(
        f"moved integration {result.integration.id} to service {result.to_service_id} "
        f"with {result.incidents_moved} incident(s) and {result.alerts_moved} alert(s); "
        "the integration key is unchanged"
    )


@integrations.command("delete")
@CONFIG_OPTION
@click.argument("integration_id")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking.")
def integrations_delete(config_path: Path, integration_id: str, yes: bool) -> None:
    """Delete an integration: its key stops working at once and cannot be recovered.

    Its incidents and alerts stay as they are.
    """
    settings = load_settings_or_exit(config_path)
    found = read_store(settings.storage.path, lambda r: intg.get_integration(r, integration_id))
    if not yes and not click.confirm(
        f"Delete integration {found.id} ({found.name!r})? Its key stops working for good",
        default=False,
    ):
        click.echo("not deleted")
        sys.exit(1)
    by = _agent()
    write_store(
        settings.storage.path, lambda tx: intg.delete_integration(tx, integration_id, by=by)
    )
    click.echo(f"deleted integration {found.id}; its key no longer routes events")

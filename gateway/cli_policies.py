"""``alert-gateway escalation-policies …`` and ``alert-gateway services set-policy``.

On the database file through :mod:`gateway.store.offline` (safe while the daemon runs),
with the rules of :mod:`gateway.core.escalation_policies` and
:mod:`gateway.core.services`, as the REST API and the web UI. Policies and services are
named by id or by name. Policies are written through the REST API, the web UI or the
configuration file (their rules do not fit a command line); here they are listed, shown
and deleted. Exit status: 0 done, 1 refused or not found, 2 bad configuration.
"""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli_common import CONFIG_OPTION, load_settings_or_exit, read_store, write_store
from gateway.cli_services import _agent, services
from gateway.core import escalation_policies as policies
from gateway.core import services as svc
from gateway.core.inputs import ServicePatch
from gateway.domain import EscalationPolicy, Service
from gateway.store import Reader, Tx


@click.group("escalation-policies")
def escalation_policies() -> None:
    """List, show and delete escalation policies."""


@escalation_policies.command("list")
@CONFIG_OPTION
@click.option("--query", help="Only policies whose name contains this (case-blind).")
def policies_list(config_path: Path, query: str | None) -> None:
    """One line per policy: id, name, levels, services using it."""

    def read(reader: Reader) -> list[tuple[EscalationPolicy, int]]:
        found = policies.list_policies(reader, query=query)
        using = reader.policy_services([p.id for p in found])
        return [(p, len(using[p.id])) for p in found]

    for policy, used in read_store(load_settings_or_exit(config_path).storage.path, read):
        source = "  (configuration file)" if policy.source == "config" else ""
        click.echo(
            f"{policy.id}  {policy.name}  levels: {len(policy.rules)}  "
            f"loops: {policy.num_loops}  services: {used}{source}"
        )


@escalation_policies.command("show")
@CONFIG_OPTION
@click.argument("policy")
def policies_show(config_path: Path, policy: str) -> None:
    """Show one policy (by id or name): each level's delay, strategy and targets."""

    def read(reader: Reader) -> tuple[EscalationPolicy, list[tuple[str, str]]]:
        found = policies.find_policy(reader, policy)
        return found, reader.policy_services([found.id])[found.id]

    found, using = read_store(load_settings_or_exit(config_path).storage.path, read)
    click.echo(f"{'id:':<25} {found.id}")
    click.echo(f"{'name:':<25} {found.name}")
    click.echo(f"{'description:':<25} {found.description or '-'}")
    click.echo(f"{'num_loops:':<25} {found.num_loops}")
    for level, rule in enumerate(found.rules, start=1):
        targets = ", ".join(f"{t.type} {t.id}" for t in rule.targets)
        click.echo(
            f"level {level}: {targets}  ({rule.assignment_strategy}; "
            f"escalates after {rule.escalation_delay_in_minutes} min)"
        )
    click.echo(f"services ({len(using)}): {', '.join(name for _, name in using) or '-'}")


@escalation_policies.command("delete")
@CONFIG_OPTION
@click.argument("policy")
def policies_delete(config_path: Path, policy: str) -> None:
    """Delete a policy no service uses (refused, naming the services, otherwise)."""
    by = _agent()

    def write(tx: Tx) -> EscalationPolicy:
        found = policies.find_policy(tx, policy)
        policies.delete_policy(tx, found.id, by=by)
        return found

    gone = write_store(load_settings_or_exit(config_path).storage.path, write)
    click.echo(f"deleted escalation policy {gone.id} ({gone.name!r})")


@services.command("set-policy")
@CONFIG_OPTION
@click.argument("service")
@click.argument("policy")
def services_set_policy(config_path: Path, service: str, policy: str) -> None:
    """Give SERVICE (id or name) the escalation policy POLICY (id or name)."""
    by = _agent()

    def write(tx: Tx) -> tuple[Service, EscalationPolicy]:
        found = svc.find_service(tx, service)
        chosen = policies.find_policy(tx, policy)
        patch = ServicePatch(escalation_policy_id=chosen.id)
        return svc.update_service(tx, found.id, patch, by=by), chosen

    changed, chosen = write_store(load_settings_or_exit(config_path).storage.path, write)
    click.echo(f"service {changed.id} ({changed.name!r}) uses escalation policy {chosen.name!r}")

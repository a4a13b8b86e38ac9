"""``alert-gateway users …``: list, show and add the people incidents reach.

Works on the database file through :mod:`gateway.store.offline` (safe while the daemon
runs) and calls :mod:`gateway.core.users`, the rules the REST API and the web UI follow:
a new user gets an email contact method and notification rules at 0 minutes. Users are
named by id or email address. Exit status: 0 done, 1 refused or not found, 2 bad
configuration.
"""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from gateway.cli_common import CONFIG_OPTION, load_settings_or_exit, read_store, write_store
from gateway.core import contact_methods as cm
from gateway.core import users
from gateway.core.inputs import Agent
from gateway.domain import ContactMethod, NotificationRule, User
from gateway.store import Reader, Tx


def _agent() -> Agent:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment (containers)
        name = None
    return Agent("cli", name)


def _line(user: User) -> str:
    declared = "  (configuration file)" if user.source == "config" else ""
    return f"{user.id}  {user.name}  <{user.email}>  {user.role}  {user.time_zone}{declared}"


@click.group("users")
def users_group() -> None:
    """List, show and add users (the people incidents notify)."""


@users_group.command("list")
@CONFIG_OPTION
@click.option("--query", "-q", help="Only users whose name or email contains this.")
def users_list(config_path: Path, query: str | None) -> None:
    """List users: id, name, email, role and time zone."""
    settings = load_settings_or_exit(config_path)
    found = read_store(settings.storage.path, lambda r: users.list_users(r, query=query))
    for user in found:
        click.echo(_line(user))


@users_group.command("show")
@CONFIG_OPTION
@click.argument("user")
def users_show(config_path: Path, user: str) -> None:
    """Show one user (by id or email) with their contact methods and notification rules."""

    def read(reader: Reader) -> tuple[User, list[ContactMethod], list[NotificationRule]]:
        found = users.find_user(reader, user)
        return (
            found,
            cm.contact_methods_for(reader, found),
            cm.notification_rules_for(reader, found),
        )

    settings = load_settings_or_exit(config_path)
    found, methods, rules = read_store(settings.storage.path, read)
    for label, value in (
        ("id", found.id),
        ("name", found.name),
        ("email", found.email),
        ("role", found.role),
        ("time_zone", found.time_zone),
        ("job_title", found.job_title or "-"),
        ("description", found.description or "-"),
        ("declared_in_config", "yes" if found.source == "config" else "no"),
    ):
        click.echo(f"{label + ':':<20} {value}")
    labels = {m.id: m.label for m in methods}
    click.echo(f"contact methods ({len(methods)}):")
    for method in methods:
        click.echo(f"    {method.id}  {method.type}  {method.label}  {method.address}")
    click.echo(f"notification rules ({len(rules)}):")
    for rule in rules:
        when = (
            "when an assigned incident changes"
            if rule.type == cm.STATUS_CHANGE_RULE
            else f"after {rule.start_delay_in_minutes} min"
        )
        click.echo(
            f"    {rule.id}  {rule.urgency}  {when}"
            f"  {labels.get(rule.contact_method_id, rule.contact_method_id)}"
        )


@users_group.command("add")
@CONFIG_OPTION
@click.argument("name")
@click.option("--email", required=True, help="Unique whatever its case.")
@click.option("--role", default="user", show_default=True, help="A PagerDuty role or UI name.")
@click.option("--time-zone", default=users.DEFAULT_TIME_ZONE, show_default=True)
@click.option("--job-title")
@click.option("--description")
def users_add(
    config_path: Path,
    name: str,
    email: str,
    role: str,
    time_zone: str,
    job_title: str | None,
    description: str | None,
) -> None:
    """Add a user; they get an email contact method and rules at 0 minutes."""
    data = users.UserInput(
        name=name,
        email=email,
        role=role,
        time_zone=time_zone,
        job_title=job_title,
        description=description,
    )
    by = _agent()

    def add(tx: Tx) -> User:
        return users.create_user(tx, data, by=by)

    settings = load_settings_or_exit(config_path)
    made = write_store(settings.storage.path, add)
    click.echo(f"created user {made.id} ({made.name} <{made.email}>, role {made.role})")

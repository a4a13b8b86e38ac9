"""The ``alert-gateway`` command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import trio

from gateway import __version__
from gateway.cli_common import CONFIG_OPTION, load_settings_or_exit
from gateway.config import Settings, parse_listen
from gateway.errors import ConfigError, StoreUnavailable
from gateway.plugins import load_plugins


@click.group()
@click.version_option(__version__, prog_name="alert-gateway")
def main() -> None:
    """alert-gateway: a self-hosted gateway that speaks PagerDuty's APIs."""
    from gateway import logs

    logs.configure(level="warning")


@main.command()
@CONFIG_OPTION
@click.option("--listen", help="Override [server] listen, as HOST:PORT.")
def serve(config_path: Path, listen: str | None) -> None:
    """Run the daemon in the foreground."""
    from dataclasses import replace

    from gateway import daemon, logs
    from gateway.store.schema import NewerSchema

    settings = load_settings_or_exit(config_path)
    if listen:
        try:
            host, port = parse_listen(listen)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--listen") from exc
        settings = replace(settings, server=replace(settings.server, host=host, port=port))
    logs.configure(level=settings.logging.level, fmt=settings.logging.format)
    _pin_cpus(settings.server.cpu_affinity, config_path)

    async def main_task() -> None:
        async with trio.open_nursery() as nursery:
            running = await nursery.start(daemon.run, settings)
            _freeze_startup_objects()
            for created in running.created:
                # stdout ends up in the journal like the logs: never the whole key there.
                click.echo(
                    f"created integration {created.name!r} on service {created.service!r} "
                    f"with integration key {logs.redact(created.integration_key)} (read the whole "
                    "key with 'alert-gateway services list' or GET /services?include[]="
                    "integrations)"
                )

    try:
        trio.run(main_task)
    except* ConfigError as group:
        for problem in group.exceptions:
            click.echo(f"error: {config_path}: {problem}", err=True)
        sys.exit(2)
    except* StoreUnavailable as gone:
        # The database is not there at start (a PostgreSQL server down or unreachable, a
        # file that cannot be opened): one sentence, exit 1, and systemd tries again.
        for reason in gone.exceptions:
            click.echo(f"error: {reason}", err=True)
        sys.exit(1)
    except* NewerSchema as newer:
        # Never run against a schema this version does not know: it would misread it.
        for refusal in newer.exceptions:
            click.echo(f"error: {_store_name(settings)}: {refusal}", err=True)
        sys.exit(1)


def _store_name(settings: Settings) -> str:
    """The database the settings name, for an error (a URL without its password)."""
    from gateway.store.backend import backend_for

    storage = settings.storage
    return backend_for(storage.path, url=storage.url).describe()


def _freeze_startup_objects() -> None:
    """Hide what start-up built from the cyclic garbage collector.

    Modules, the apps, plugins and settings live as long as the process, yet every
    full collection walked all of them: ~40 ms with the GIL held, a pause for every
    request in flight, several times a minute under load. After ``gc.freeze()`` a full
    collection took ~3 ms (bench/RESULTS-2026-11-30.md). Only the real daemon does
    this: in-process test gateways (gateway.testing) leave their host's collector alone.
    """
    import gc

    import structlog

    gc.collect()
    gc.freeze()
    structlog.get_logger("gateway.daemon").info("daemon.gc_frozen", objects=gc.get_freeze_count())


def _pin_cpus(setting: str | tuple[int, ...], config_path: Path) -> None:
    """Apply ``[server] cpu_affinity`` before any thread starts (gateway/affinity.py)."""
    from gateway.affinity import AffinityError, pin

    try:
        pin(setting)
    except AffinityError as exc:
        click.echo(f"error: {config_path}: server.cpu_affinity: {exc}", err=True)
        sys.exit(2)


@main.command("check-config")
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
def check_config(config_file: Path) -> None:
    """Check a configuration file; exit 2 naming the key and line of every problem.

    Beyond parsing, the file is provisioned through the service layer against the
    database its ``[storage] path`` names, in a transaction that is rolled back (a
    copy when the database predates this version's schema; an empty scratch
    database when there is none yet). So every conflict the next start would hit
    (vendors, their settings, keys, Events API v2 placement, runtime edits) is
    reported here, and so is every block the start would skip with a warning.
    """
    from gateway.cli_check import check_against_database

    settings = load_settings_or_exit(config_file)
    try:
        plugins = load_plugins(block=settings.plugins.block, require=settings.plugins.require)
        report, against = check_against_database(settings, plugins)
    except ConfigError as exc:
        click.echo(f"error: {config_file}: {exc}", err=True)
        sys.exit(2)
    for warning in [*report.warnings, *report.notices]:
        click.echo(f"warning: {config_file}: {warning}", err=True)
    for problem in report.problems:
        click.echo(f"error: {config_file}: {problem}", err=True)
    if report.problems:
        sys.exit(2)
    integrations = sum(len(s.integrations) for s in settings.services)
    skipped = f"; {len(report.warnings)} block(s) skipped" if report.warnings else ""
    people = f", {len(settings.users)} users" if settings.users else ""
    click.echo(
        f"{config_file}: OK ({len(settings.services)} services, {integrations} integrations"
        f"{people}) checked against {against}{skipped}"
    )


@main.command("plugins")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Apply this configuration's [plugins] block and require lists.",
)
def plugins_command(config_path: str | None) -> None:
    """List the plugins that load, their distribution and version, and their vendors."""
    if config_path is None:
        host = load_plugins()
    else:
        settings = load_settings_or_exit(Path(config_path))
        try:
            host = load_plugins(block=settings.plugins.block, require=settings.plugins.require)
        except ConfigError as exc:
            click.echo(f"error: {config_path}: {exc}", err=True)
            sys.exit(2)
    for info in host.plugins:
        dist = f"{info.distribution} {info.version}" if info.distribution else "(in-process)"
        vendors = ", ".join(info.vendors) or "-"
        click.echo(f"{info.name}  {dist}  vendors: {vendors}")
    for problem in host.problems:
        click.echo(f"{problem.name}  FAILED: {problem.error}")


def _register_extra_commands() -> None:
    from gateway.cli_db import db
    from gateway.cli_maintenance import maintenance
    from gateway.cli_outbox import outbox
    from gateway.cli_policies import escalation_policies
    from gateway.cli_services import integrations, services
    from gateway.cli_tokens import token
    from gateway.cli_users import users_group

    main.add_command(db)
    main.add_command(services)
    main.add_command(integrations)
    main.add_command(maintenance)
    main.add_command(token)
    main.add_command(outbox)
    main.add_command(users_group)
    main.add_command(escalation_policies)


_register_extra_commands()

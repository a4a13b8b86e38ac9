"""What every ``alert-gateway`` subcommand shares: --config, the database, and errors.

This is the one place the command line turns the exception tree into words and
exit codes: a configuration problem (:class:`~gateway.errors.ConfigError`)
exits 2 naming the file, key and line; a refusal from the domain layer
(:class:`~gateway.errors.OperationError`) prints ``error: <sentence>`` per
problem and exits 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

import click

from gateway.config import Settings, load_settings
from gateway.core import webhook_events
from gateway.errors import ConfigError, Conflict, OperationError
from gateway.store import Reader, Tx
from gateway.store.backend import backend_for
from gateway.store.offline import exists, read_sync, use_backend, write_sync

__all__ = [
    "CONFIG_OPTION",
    "database_path",
    "fail",
    "load_settings_or_exit",
    "read_store",
    "write_store",
]

T = TypeVar("T")

CONFIG_OPTION = click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="ALERT_GATEWAY_CONFIG",
    default=Path("/etc/alert-gateway/config.toml"),
    show_default=True,
    help="Configuration file (TOML).",
)


def load_settings_or_exit(config_path: Path) -> Settings:
    """The configuration, or exit 2 naming the file, key and line of the problem."""
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        click.echo(f"error: {config_path}: {exc}", err=True)
        sys.exit(2)
    # Changes made here reach webhook subscriptions too: their links must be the daemon's.
    webhook_events.set_public_url(settings.server.public_url, settings.server.listen)
    storage = settings.storage
    if storage.url:
        # The commands name the store by its path; on PostgreSQL that path means the URL.
        use_backend(backend_for(storage.path, url=storage.url, password=storage.password()))
    return settings


def database_path(config_path: Path, *, must_exist: bool = False) -> Path:
    """The configured database file; with ``must_exist``, exit 1 when there is none yet."""
    storage = load_settings_or_exit(config_path).storage
    path = storage.path
    if must_exist and storage.url:
        # backup, check and prune work on the SQLite file; PostgreSQL has its own tools.
        click.echo(
            "error: this command works on a SQLite database; the store is PostgreSQL "
            "(use pg_dump, amcheck; the daemon prunes by itself)",
            err=True,
        )
        sys.exit(1)
    if must_exist and not path.exists():
        click.echo(f"error: no database at {path}", err=True)
        sys.exit(1)
    return path


def fail(exc: OperationError, *, status: int = 1) -> NoReturn:
    """Print a refusal from the domain layer, one ``error:`` line per problem, and exit.

    The status is 1 (refused or not found) unless the command says the input was
    a usage error (2, like a bad option).
    """
    lines = [str(exc)] if isinstance(exc, Conflict) else exc.errors
    for line in lines:
        click.echo(f"error: {line}", err=True)
    sys.exit(status)


def read_store(path: Path, fn: Callable[[Reader], T], *, must_exist: bool = True) -> T:
    """Run a read job on the database at ``path``; exit 1 if refused, or (``must_exist``)
    when there is no database yet."""
    if must_exist and not exists(path):
        click.echo(f"error: no database at {path} (start the daemon once to create it)", err=True)
        sys.exit(1)
    try:
        return read_sync(path, fn)
    except OperationError as exc:
        fail(exc)


def write_store(path: Path, fn: Callable[[Tx], T]) -> T:
    """Run a write job in one transaction on the database at ``path`` (exit 1 if refused)."""
    try:
        return write_sync(path, fn)
    except OperationError as exc:
        fail(exc)

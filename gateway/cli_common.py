"""What every ``alert-gateway`` subcommand shares: the --config option and its errors."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway.config import Settings, load_settings
from gateway.errors import ConfigError

__all__ = ["CONFIG_OPTION", "database_path", "load_settings_or_exit"]

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
        return load_settings(config_path)
    except ConfigError as exc:
        click.echo(f"error: {config_path}: {exc}", err=True)
        sys.exit(2)


def database_path(config_path: Path, *, must_exist: bool = False) -> Path:
    """The configured database file; with ``must_exist``, exit 1 when there is none yet."""
    path = load_settings_or_exit(config_path).storage.path
    if must_exist and not path.exists():
        click.echo(f"error: no database at {path}", err=True)
        sys.exit(1)
    return path

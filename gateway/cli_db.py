"""``alert-gateway db``: online backup and integrity check of the SQLite store."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click

from gateway.cli_common import CONFIG_OPTION, database_path
from gateway.store import admin


@click.group("db")
def db() -> None:
    """Back up and check the database (safe while the daemon runs)."""


@db.command("backup")
@CONFIG_OPTION
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(config_path: Path, destination: Path) -> None:
    """Write a consistent copy of the database to DESTINATION."""
    source = database_path(config_path, must_exist=True)
    try:
        pages = admin.backup(source, destination)
    except FileExistsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"backed up {source} to {destination} ({pages} pages)")


@db.command("check")
@CONFIG_OPTION
def check_command(config_path: Path) -> None:
    """Check integrity, foreign keys and schema version; exit 1 if anything is wrong."""
    try:
        report = admin.check(database_path(config_path, must_exist=True))
    except sqlite3.DatabaseError as exc:
        click.echo(f"database check FAILED: {exc}", err=True)
        sys.exit(1)
    click.echo(f"integrity: {', '.join(report.integrity[:5])}")
    click.echo(f"foreign key violations: {report.foreign_keys}")
    click.echo(f"schema version: {report.schema_version}")
    click.echo("rows: " + ", ".join(f"{k}={v}" for k, v in report.counts.items()))
    if not report.ok:
        click.echo("database check FAILED", err=True)
        sys.exit(1)
    click.echo("database OK")

"""``alert-gateway db``: schema migration and status on either backend; online backup,
integrity check and retention of the SQLite store; a verified copy from SQLite to
PostgreSQL."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click
import psycopg

from gateway.cli_common import CONFIG_OPTION, database_path, load_settings_or_exit
from gateway.clock import SystemClock
from gateway.config import postgres_url_problem
from gateway.store import admin, connect, copy, postgres
from gateway.store.backend import LATEST, Backend, backend_for
from gateway.store.queries import Reader
from gateway.store.retention import Policy, PruneReport, count_expired, prune_file
from gateway.store.schema import NewerSchema


@click.group("db")
def db() -> None:
    """Back up, check and prune the database (safe while the daemon runs)."""


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


@db.command("prune")
@CONFIG_OPTION
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
def prune_command(config_path: Path, dry_run: bool) -> None:
    """Delete what [storage] retention says has expired, as the daemon does every 5 minutes.

    Resolved incidents (with their alerts and log entries) and suppressed-event records
    older than retention_days, change events older than change_event_retention_days,
    delivered outbound messages older than [outbound] retention_days.
    """
    settings = load_settings_or_exit(config_path)
    path = database_path(config_path, must_exist=True)
    storage = settings.storage
    policy = Policy(
        storage.retention_days,
        storage.change_event_retention_days,
        settings.outbound.retention_days,
    )
    click.echo(
        f"kept: resolved incidents and suppressed events {_days(policy.retention_days)}, "
        f"change events {_days(policy.change_event_retention_days)}, "
        f"delivered outbound messages {_days(policy.outbox_retention_days)}"
    )
    try:
        report = _count(path, policy) if dry_run else prune_file(path, policy)
    except sqlite3.Error as exc:
        click.echo(f"error: the database could not be pruned: {exc}", err=True)
        sys.exit(1)
    click.echo("would delete:" if dry_run else "deleted:")
    for table, rows in report.counts.items():
        click.echo(f"  {table}: {rows}")
    if not dry_run:
        click.echo(f"pages freed: {report.pages_freed}")


def _count(path: Path, policy: Policy) -> PruneReport:
    # A read-only connection: a dry run writes nothing, not even a pending migration.
    conn = connect(path, readonly=True)
    try:
        conn.execute("BEGIN")
        try:
            return count_expired(Reader(conn, SystemClock()), policy)
        finally:
            conn.execute("ROLLBACK")
    finally:
        conn.close()


def _days(days: int) -> str:
    return f"{days} days" if days else "forever (0 days)"


def _backend(config_path: Path) -> Backend:
    storage = load_settings_or_exit(config_path).storage
    return backend_for(
        storage.path,
        url=storage.url,
        synchronous=storage.synchronous,
        password=storage.password(),
    )


@db.command("status")
@CONFIG_OPTION
def status_command(config_path: Path) -> None:
    """Show the database's schema version and this gateway's; exit 1 if they differ."""
    backend = _backend(config_path)
    try:
        current = backend.version()
    except backend.error as exc:
        click.echo(f"error: cannot read {backend.describe()}: {exc}", err=True)
        sys.exit(1)
    click.echo(f"database: {backend.name} {backend.describe()}")
    click.echo(f"schema version: {current} (this gateway: {LATEST})")
    if current > LATEST:
        click.echo("the database is newer than this gateway: upgrade the gateway", err=True)
        sys.exit(1)
    if current < LATEST:
        click.echo(f"{LATEST - current} migration(s) pending: run 'alert-gateway db migrate'")
        sys.exit(1)
    click.echo("up to date")


@db.command("migrate")
@CONFIG_OPTION
def migrate_command(config_path: Path) -> None:
    """Bring the database's schema up to this gateway's version (the daemon does it too)."""
    backend = _backend(config_path)
    try:
        before = backend.migrate_now()
    except NewerSchema as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except backend.error as exc:
        click.echo(f"error: cannot migrate {backend.describe()}: {exc}", err=True)
        sys.exit(1)
    if before == LATEST:
        click.echo(f"schema version {LATEST}: already up to date")
    else:
        click.echo(f"migrated {backend.describe()} from schema version {before} to {LATEST}")


@db.command("copy")
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The SQLite database file to copy (stop the daemon first).",
)
@click.option(
    "--to",
    "url",
    required=True,
    help="postgresql://user@host:port/database: an empty database (libpq URL, no password).",
)
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file whose first line is the PostgreSQL password (else PGPASSWORD / ~/.pgpass).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=copy.BATCH,
    show_default=True,
    help="Rows read and written at a time.",
)
@click.option(
    "--replace-nul",
    is_flag=True,
    help="Copy NUL characters in text (which PostgreSQL cannot store) as U+FFFD.",
)
def copy_command(
    source: Path, url: str, password_file: Path | None, batch_size: int, replace_nul: bool
) -> None:
    """Copy a SQLite store into an empty PostgreSQL database, then verify every table.

    The target is migrated to this gateway's schema; every table is copied in one
    transaction, which commits only when each table's row count and checksum match the
    source's. On any refusal, error or mismatch nothing is kept; exit 1.
    """
    problem = postgres_url_problem(url, "--password-file")
    if problem:
        raise click.BadParameter(problem, param_hint="--to")
    password = _read_password(password_file) if password_file else None
    target = postgres.redact(url)
    try:
        report = copy.copy_to_postgres(
            source,
            url,
            password=password,
            batch=batch_size,
            replace_nul=replace_nul,
            progress=lambda table, rows: click.echo(f"copied {table}: {rows} rows"),
        )
    except copy.CopyRefused as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except copy.CopyFailed as exc:
        _print_checks(exc.report)
        click.echo(f"error: {exc}; rolled back, {target} holds no copied rows", err=True)
        sys.exit(1)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        click.echo(f"error: the copy to {target} failed and was rolled back: {first}", err=True)
        sys.exit(1)
    _print_checks(report)
    for table, values in report.replaced.items():
        click.echo(f"replaced NUL characters with U+FFFD in {values} value(s) of {table}")
    click.echo(
        f"copied {len(report.tables)} tables, {report.rows} rows from {source} to {target}: "
        "every row count and checksum matches"
    )


def _read_password(path: Path) -> str:
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {path}: {exc.strerror}", param_hint="--password-file"
        ) from exc
    if not lines or not lines[0]:
        raise click.BadParameter(f"{path} is empty", param_hint="--password-file")
    return lines[0]


def _print_checks(report: copy.CopyReport) -> None:
    width = max([len("table"), *(len(t.table) for t in report.tables)])
    click.echo(
        f"{'table':<{width}}  {'rows (sqlite)':>13}  {'rows (pg)':>10}  "
        f"{'checksum (sqlite)':<17}  {'checksum (pg)':<17}"
    )
    for t in report.tables:
        mark = "ok" if t.ok else "MISMATCH"
        click.echo(
            f"{t.table:<{width}}  {t.source_rows:>13}  {t.target_rows:>10}  "
            f"{t.source_sum[:16]:<17}  {t.target_sum[:16]:<17}  {mark}"
        )

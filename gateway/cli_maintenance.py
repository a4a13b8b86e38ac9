"""``alert-gateway maintenance``: start, list and end maintenance windows.

Works on the database file directly (``gateway.store.offline``), so it runs
while the daemon is serving: the daemon sees a new window at its next event,
because the event rules check windows by time rather than by a timer.
"""

from __future__ import annotations

import getpass
from datetime import timedelta
from pathlib import Path

import click

from gateway.cli_common import CONFIG_OPTION, database_path, read_store, write_store
from gateway.clock import SystemClock, iso, parse_iso
from gateway.core import maintenance as core
from gateway.core.inputs import parse_time
from gateway.core.services import find_service, list_services
from gateway.domain import MaintenanceWindow
from gateway.store import Reader, Tx


def _line(window: MaintenanceWindow, names: dict[str, str], now: str) -> str:
    services = ", ".join(names.get(s, s) for s in window.service_ids)
    description = f"  {window.description}" if window.description else ""
    source = "  (config file)" if window.source == "config" else ""
    return (
        f"{window.id}  {core.window_state(window, now):<8} {window.start_time} → "
        f"{window.end_time}  [{services}]{description}{source}"
    )


@click.group("maintenance")
def maintenance() -> None:
    """Start, list and end maintenance windows (no new incidents on their services)."""


@maintenance.command("start")
@CONFIG_OPTION
@click.option(
    "--service",
    "services",
    multiple=True,
    required=True,
    help="Service name or id (repeat for several services).",
)
@click.option("--minutes", type=click.IntRange(min=1), help="Length from now (default 60).")
@click.option("--until", "until", help="End time, ISO 8601 (e.g. 2026-12-01T06:00:00Z).")
@click.option("--description", help="Why: shown in the API and the web UI.")
def maintenance_start(
    config_path: Path,
    services: tuple[str, ...],
    minutes: int | None,
    until: str | None,
    description: str | None,
) -> None:
    """Start a maintenance window now, for --minutes or --until a time."""
    if minutes is not None and until is not None:
        raise click.UsageError("give --minutes or --until, not both")
    database = database_path(config_path)
    by = f"cli:{getpass.getuser()}"

    def start(tx: Tx) -> MaintenanceWindow:
        ids = [find_service(tx, s).id for s in services]
        now = parse_iso(tx.now)
        end = parse_time(until, "--until") if until else now + timedelta(minutes=minutes or 60)
        return core.create_window(tx, ids, now, end, description, by=by)

    window = write_store(database, start)
    click.echo(
        f"started maintenance window {window.id} until {window.end_time} "
        f"({len(window.service_ids)} service(s)); end it early with "
        f"'alert-gateway maintenance end {window.id}'"
    )


@maintenance.command("list")
@CONFIG_OPTION
@click.option(
    "--filter",
    "window_filter",
    type=click.Choice(core.FILTERS),
    default="open",
    show_default=True,
    help="open = ongoing or future.",
)
def maintenance_list(config_path: Path, window_filter: str) -> None:
    """List maintenance windows: id, state, start → end, services, description."""

    def listing(reader: Reader) -> tuple[list[MaintenanceWindow], dict[str, str]]:
        return core.list_windows(reader, filter=window_filter), {
            s.id: s.name for s in list_services(reader)
        }

    windows, names = read_store(database_path(config_path), listing, must_exist=False)
    now = iso(SystemClock().now())
    for window in windows:
        click.echo(_line(window, names, now))
    if not windows:
        click.echo(f"no {window_filter} maintenance windows")


@maintenance.command("end")
@CONFIG_OPTION
@click.argument("window_id")
def maintenance_end(config_path: Path, window_id: str) -> None:
    """End an ongoing window now, or delete one that has not started."""
    by = f"cli:{getpass.getuser()}"

    def end(tx: Tx) -> str:
        return core.end_or_delete_window(tx, window_id, by=by)

    outcome = write_store(database_path(config_path), end)
    click.echo(f"{outcome} maintenance window {window_id}")

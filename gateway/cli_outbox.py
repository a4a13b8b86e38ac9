"""``alert-gateway outbox``: list, show, retry and drop outbound messages (``pd-queue`` for us).

Works on the database file directly, so it runs while the daemon is serving: a retried
message is due at once and the daemon's deliverers send it at their next look (within a
second). Message bodies are never printed (a forwarded event carries an upstream key).
"""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli_common import CONFIG_OPTION, database_path, read_store, write_store
from gateway.core import outbox_ops
from gateway.domain import OUTBOX_STATES, OutboxEntry
from gateway.store import Reader, Tx

STATE_CHOICE = click.Choice([*OUTBOX_STATES, "all"])


@click.group("outbox")
def outbox() -> None:
    """Inspect the outbound queue (webhooks, forwarding upstream) and retry or drop messages."""


def _line(entry: OutboxEntry) -> str:
    error = f"  {entry.last_error}" if entry.last_error else ""
    return (
        f"{entry.id}  {entry.state}  {entry.kind}  {entry.destination}  {entry.order_key}"
        f"  attempts={entry.attempts}  created={entry.created_at}  due={entry.due_at}{error}"
    )


@outbox.command("list")
@CONFIG_OPTION
@click.option("--kind", help="Only this kind (forward, webhook, a plugin's).")
@click.option("--destination", help="Only this destination (exactly as listed).")
@click.option(
    "--state",
    "states",
    type=STATE_CHOICE,
    multiple=True,
    help="pending, failed, delivered or all (repeatable; default: pending and failed).",
)
@click.option("--limit", type=int, default=100, show_default=True)
def outbox_list(
    config_path: Path,
    kind: str | None,
    destination: str | None,
    states: tuple[str, ...],
    limit: int,
) -> None:
    """List messages oldest first: id, state, kind, destination, order key, attempts, last error."""

    def listing(reader: Reader) -> list[OutboxEntry]:
        return outbox_ops.list_messages(
            reader, kind=kind, destination=destination, states=states, limit=limit
        )

    entries = read_store(database_path(config_path), listing)
    for entry in entries:
        click.echo(_line(entry))
    if not entries:
        click.echo("no messages", err=True)


@outbox.command("show")
@CONFIG_OPTION
@click.argument("message_id")
def outbox_show(config_path: Path, message_id: str) -> None:
    """One message's state and every attempt (time, status or error, duration, node)."""
    details = read_store(
        database_path(config_path), lambda r: outbox_ops.message_details(r, message_id)
    )
    entry = details.entry
    click.echo(_line(entry))
    click.echo(f"size: {entry.size} bytes  finished: {entry.finished_at or '-'}")
    for attempt in details.attempts:
        status = attempt.status_code if attempt.status_code is not None else "-"
        click.echo(
            f"  {attempt.at}  {attempt.outcome}  status={status}  {attempt.duration_ms} ms"
            f"  node={attempt.node or '-'}  {attempt.error or ''}".rstrip()
        )


@outbox.command("retry")
@CONFIG_OPTION
@click.argument("message_id", required=False)
@click.option("--all-failed", is_flag=True, help="Every failed message (of --kind/--destination).")
@click.option("--kind", help="With --all-failed: only this kind.")
@click.option("--destination", help="With --all-failed: only this destination.")
def outbox_retry(
    config_path: Path,
    message_id: str | None,
    all_failed: bool,
    kind: str | None,
    destination: str | None,
) -> None:
    """Send a failed message again now (or --all-failed of a destination); attempts restart."""
    if (message_id is None) == (not all_failed):
        raise click.UsageError("give a MESSAGE_ID or --all-failed (not both)")
    path = database_path(config_path)
    if message_id is not None:
        entry = write_store(path, lambda tx: outbox_ops.retry_message(tx, message_id))
        click.echo(f"retrying {entry.id} ({entry.kind} to {entry.destination})")
        return

    def retry_all(tx: Tx) -> int:
        return outbox_ops.retry_failed(tx, kind=kind, destination=destination)

    click.echo(f"retrying {write_store(path, retry_all)} failed message(s)")


@outbox.command("drop")
@CONFIG_OPTION
@click.argument("message_id")
def outbox_drop(config_path: Path, message_id: str) -> None:
    """Remove a message that was not delivered, with its attempts (it is never sent)."""
    entry = write_store(
        database_path(config_path), lambda tx: outbox_ops.drop_message(tx, message_id)
    )
    click.echo(f"dropped {entry.id} ({entry.state}, {entry.kind} to {entry.destination})")

"""``alert-gateway token``: create, list and revoke REST API tokens.

Works on the database file directly, so it runs while the daemon is serving.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway.auth import ROLE_LEVELS, hash_token, new_token, normalize_role
from gateway.cli_common import CONFIG_OPTION, database_path
from gateway.domain import ApiToken
from gateway.store.offline import read_sync, write_sync
from gateway.store.queries import Reader, Tx


@click.group("token")
def token() -> None:
    """Create, list and revoke REST API tokens (stored hashed)."""


@token.command("create")
@CONFIG_OPTION
@click.option("--role", required=True, help="observer, limited_user, user, admin or owner.")
@click.option("--name", required=True, help="Who or what the token is for.")
def token_create(config_path: Path, role: str, name: str) -> None:
    """Create a token; it is printed once, as the last word of the last line."""
    api_role = normalize_role(role)
    if api_role is None:
        roles = ", ".join(ROLE_LEVELS)
        click.echo(f"error: unknown role {role!r}; use one of: {roles}", err=True)
        sys.exit(2)
    secret = new_token()

    def create(tx: Tx) -> ApiToken:
        return tx.insert_token(
            name=name, role=api_role, token_hash=hash_token(secret), last4=secret[-4:]
        )

    created = write_sync(database_path(config_path), create)
    click.echo(f"created token {created.id} ({name!r}, role {api_role}); it is shown only once:")
    click.echo(f"token: {secret}")


@token.command("list")
@CONFIG_OPTION
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked tokens.")
def token_list(config_path: Path, include_revoked: bool) -> None:
    """List tokens: id, name, role, last 4 characters, when created (and revoked)."""

    def tokens(reader: Reader) -> list[ApiToken]:
        return reader.tokens(include_revoked=include_revoked)

    for item in read_sync(database_path(config_path), tokens):
        revoked = f"  revoked {item.revoked_at}" if item.revoked_at else ""
        click.echo(
            f"{item.id}  {item.name}  {item.role}  ...{item.last4}  {item.created_at}{revoked}"
        )


@token.command("revoke")
@CONFIG_OPTION
@click.argument("token_id")
def token_revoke(config_path: Path, token_id: str) -> None:
    """Revoke the token with this id; requests with it get 401 at once."""

    def revoke(tx: Tx) -> bool:
        return tx.revoke_token(token_id)

    if not write_sync(database_path(config_path), revoke):
        click.echo(f"error: no live token with id {token_id}", err=True)
        sys.exit(1)
    click.echo(f"revoked token {token_id}")

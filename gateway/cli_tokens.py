"""``alert-gateway token``: create, list and revoke REST API tokens.

Works on the database file directly, so it runs while the daemon is serving.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway.cli_common import CONFIG_OPTION, database_path, fail, read_store, write_store
from gateway.core import tokens
from gateway.domain import ApiToken
from gateway.errors import Invalid
from gateway.store import Reader, Tx


@click.group("token")
def token() -> None:
    """Create, list and revoke REST API tokens (stored hashed)."""


@token.command("create")
@CONFIG_OPTION
@click.option(
    "--role",
    default=None,
    help="observer, limited_user, user, admin or owner (default with --user: the user's role).",
)
@click.option("--name", required=True, help="Who or what the token is for.")
@click.option(
    "--user",
    "user_ref",
    default=None,
    help="The user (id or email) the token belongs to: REST From defaults to them.",
)
def token_create(config_path: Path, role: str | None, name: str, user_ref: str | None) -> None:
    """Create a token; it is printed once, as the last word of the last line."""
    try:
        api_role = tokens.check_role(role) if role is not None else None
        if api_role is None and user_ref is None:
            raise Invalid(["--role is required for a token without --user"])
    except Invalid as exc:
        fail(exc, status=2)  # a usage error, like a bad option: nothing is stored

    def create(tx: Tx) -> tuple[ApiToken, str]:
        return tokens.create_token(tx, name=name, role=api_role, user=user_ref)

    created, secret = write_store(database_path(config_path), create)
    owner = f", user {created.user_id}" if created.user_id else ""
    click.echo(
        f"created token {created.id} ({name!r}, role {created.role}{owner}); it is shown only once:"
    )
    click.echo(f"token: {secret}")


@token.command("list")
@CONFIG_OPTION
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked tokens.")
def token_list(config_path: Path, include_revoked: bool) -> None:
    """List tokens: id, name, role, last 4 characters, when created (and revoked)."""

    def listing(reader: Reader) -> list[ApiToken]:
        return tokens.list_tokens(reader, include_revoked=include_revoked)

    for item in read_store(database_path(config_path), listing, must_exist=False):
        revoked = f"  revoked {item.revoked_at}" if item.revoked_at else ""
        owner = f"  user {item.user_id}" if item.user_id else ""
        click.echo(
            f"{item.id}  {item.name}  {item.role}  ...{item.last4}  {item.created_at}"
            f"{owner}{revoked}"
        )


@token.command("revoke")
@CONFIG_OPTION
@click.argument("token_id")
def token_revoke(config_path: Path, token_id: str) -> None:
    """Revoke the token with this id; requests with it get 401 at once."""

    def revoke(tx: Tx) -> bool:
        return tokens.revoke_token(tx, token_id)

    if not write_store(database_path(config_path), revoke):
        click.echo(f"error: no live token with id {token_id}", err=True)
        sys.exit(1)
    click.echo(f"revoked token {token_id}")

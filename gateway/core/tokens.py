"""REST API tokens: who a request or a web UI session is, and managing the tokens.

One lookup for every face: the REST API (``Authorization`` header), the web UI's
sign-in form (its sessions are :mod:`gateway.core.sessions`) and the CLI
(``alert-gateway token``). Tokens are stored as SHA-256
digests (:func:`gateway.auth.hash_token`); the secret itself is shown once.
"""

from __future__ import annotations

import structlog

from gateway.auth import ROLE_LEVELS, hash_token, new_token, normalize_role
from gateway.domain import ApiToken
from gateway.errors import Invalid
from gateway.store import Reader, Tx

__all__ = [
    "authenticate",
    "check_role",
    "create_token",
    "list_tokens",
    "revoke_token",
]

log = structlog.get_logger("gateway.tokens")


def authenticate(reader: Reader, token: str | None) -> ApiToken | None:
    """The live (not revoked) token whose secret is ``token``; ``None`` for any other."""
    if not token:
        return None
    return reader.token_by_hash(hash_token(token))


def check_role(role: str) -> str:
    """The API role for ``role`` (an API role or a UI name such as ``manager``).

    :class:`Invalid` naming the roles there are, for an unknown one.
    """
    api_role = normalize_role(role)
    if api_role is None:
        raise Invalid([f"unknown role {role!r}; use one of: {', '.join(ROLE_LEVELS)}"])
    return api_role


def create_token(tx: Tx, *, name: str, role: str) -> tuple[ApiToken, str]:
    """A new token for ``role`` (see :func:`check_role`) and its secret.

    The secret is returned once and never stored, only its digest and last four.
    """
    api_role = check_role(role)
    secret = new_token()
    created = tx.insert_token(
        name=name, role=api_role, token_hash=hash_token(secret), last4=secret[-4:]
    )
    log.info("token.created", token_id=created.id, role=api_role)
    return created, secret


def list_tokens(reader: Reader, *, include_revoked: bool = False) -> list[ApiToken]:
    """Every live token (and the revoked ones with ``include_revoked``)."""
    return reader.tokens(include_revoked=include_revoked)


def revoke_token(tx: Tx, token_id: str) -> bool:
    """Revoke a live token at once, ending its web UI sessions; ``False`` when no live
    token has this id."""
    revoked = tx.revoke_token(token_id)
    if revoked:
        sessions = tx.end_token_sessions(token_id)
        log.info("token.revoked", token_id=token_id, ui_sessions_ended=sessions)
    return revoked

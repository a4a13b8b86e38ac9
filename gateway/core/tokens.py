"""REST API tokens: who a request or a web UI session is, and managing the tokens.

One lookup for every face: the REST API (``Authorization`` header), the web UI's
sign-in form (its sessions are :mod:`gateway.core.sessions`) and the CLI
(``alert-gateway token``). Tokens are stored as SHA-256
digests (:func:`gateway.auth.hash_token`); the secret itself is shown once.
"""

from __future__ import annotations

import structlog

from gateway.auth import ROLE_LEVELS, hash_token, new_token, normalize_role
from gateway.core import users
from gateway.domain import ApiToken, User
from gateway.errors import Invalid
from gateway.store import Reader, Tx

__all__ = [
    "authenticate",
    "authenticate_user",
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


def authenticate_user(reader: Reader, token: str | None) -> tuple[ApiToken | None, User | None]:
    """:func:`authenticate`, and the live user the token belongs to (``None`` for an account
    token), read in one snapshot."""
    found = authenticate(reader, token)
    if found is None or found.user_id is None:
        return found, None
    return found, reader.user(found.user_id)


def check_role(role: str) -> str:
    """The API role for ``role`` (an API role or a UI name such as ``manager``).

    :class:`Invalid` naming the roles there are, for an unknown one.
    """
    api_role = normalize_role(role)
    if api_role is None:
        raise Invalid([f"unknown role {role!r}; use one of: {', '.join(ROLE_LEVELS)}"])
    return api_role


def create_token(
    tx: Tx, *, name: str, role: str | None, user: str | None = None
) -> tuple[ApiToken, str]:
    """A new token for ``role`` (see :func:`check_role`) and its secret.

    ``user`` (an id or email address) makes it the user's token: REST ``From`` defaults to
    them and ``/users/me`` answers; ``role`` may then be ``None`` to take the user's role.
    The secret is returned once and never stored, only its digest and last four.
    """
    owner = users.find_user(tx, user) if user is not None else None
    if role is not None:
        api_role = check_role(role)
    elif owner is not None:
        api_role = owner.role
    else:
        raise Invalid(["a token needs a role, or a user whose role it takes"])
    secret = new_token()
    created = tx.insert_token(
        name=name,
        role=api_role,
        token_hash=hash_token(secret),
        last4=secret[-4:],
        user_id=owner.id if owner else None,
    )
    log.info("token.created", token_id=created.id, role=api_role, user=created.user_id)
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

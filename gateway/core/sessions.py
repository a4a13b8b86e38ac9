"""Web UI sessions: signing in with a token, recognising the session, signing out.

A session is a server-side record (:mod:`gateway.store.sessions`) named by a random id
that only the browser's signed cookie holds; the database keeps the id's digest. Signing
out ends the record, so a copy of the cookie taken before stops working; revoking the
token ends every session it has (:func:`gateway.core.tokens.revoke_token`). Records
survive a restart, so a restart signs nobody out.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from gateway.auth import hash_token
from gateway.clock import iso
from gateway.domain import ApiToken
from gateway.store import Reader, Tx

__all__ = [
    "SessionUser",
    "end_session",
    "session_user",
    "signing_key",
    "start_session",
    "touch_session",
]

#: A session's ``last_seen_at`` is written at most this often: a click is not a write.
TOUCH_EVERY = timedelta(minutes=5)
#: Ended sessions' records are deleted this long after they ended (at the next sign-in).
KEEP_ENDED = timedelta(days=30)
#: The name of the cookie-signing key among the database's shared secrets.
SIGNING_KEY = "ui_session_signing_key"


@dataclass(frozen=True, slots=True)
class SessionUser:
    """Who a live session is, and whether its ``last_seen_at`` is due a write."""

    token: ApiToken
    stale: bool


def _digest(session_id: object) -> str | None:
    # Anything but a non-empty string (an old cookie, a tampered one) names no session.
    if not isinstance(session_id, str) or not session_id:
        return None
    return hash_token(session_id)


def start_session(tx: Tx, token: ApiToken, *, previous: object = None) -> str:
    """A new session for ``token``; its id, for the cookie alone.

    ``previous`` is the id the browser's cookie held before (if any): it ends here, so a
    sign-in always leaves exactly one session behind, a fresh one.
    """
    old = _digest(previous)
    if old is not None:
        tx.end_ui_session(old)
    session_id = secrets.token_urlsafe(32)
    tx.insert_ui_session(hash_token(session_id), token.id)
    tx.purge_ui_sessions(iso(tx.clock.now() - KEEP_ENDED))
    return session_id


def session_user(reader: Reader, session_id: object) -> SessionUser | None:
    """The live token behind a session id; ``None`` once signed out or revoked."""
    digest = _digest(session_id)
    if digest is None:
        return None
    found = reader.ui_session(digest)
    if found is None:
        return None
    stale = found.last_seen_at < iso(reader.clock.now() - TOUCH_EVERY)
    return SessionUser(found.token, stale)


def touch_session(tx: Tx, session_id: object) -> None:
    """Record that a live session was used now."""
    digest = _digest(session_id)
    if digest is not None:
        tx.touch_ui_session(digest)


def end_session(tx: Tx, session_id: object) -> str | None:
    """End a session (sign-out); the id of its token, or ``None`` if it was not live."""
    digest = _digest(session_id)
    if digest is None:
        return None
    return tx.end_ui_session(digest)


def signing_key(tx: Tx) -> bytes:
    """The cookie-signing key every node of the database shares, made on first use.

    The daemon asks for it on PostgreSQL, where several nodes serve one database: a
    sign-in made on one is then valid on every other. Two nodes starting at once both
    try to insert a new key; the insert that loses the race changes nothing, and both
    return the one stored (on SQLite the key stays in a file beside the database,
    :func:`gateway.http.ui.secret_key`).
    """
    tx.insert_shared_secret(SIGNING_KEY, secrets.token_hex(32))
    value = tx.shared_secret(SIGNING_KEY)
    assert value is not None  # inserted above, or already there
    return value.encode()

"""Web UI sessions: the server's record of each sign-in, found by the digest of its id.

The cookie names a session by a random id; only that id's SHA-256 digest is stored, so a
copy of the database cannot sign anyone in. A session counts while it is not ended and its
token is not revoked (the one query joins the two), so revocation ends every session of
the token even before :meth:`SessionWrites.end_token_sessions` marks them.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.domain import ApiToken
from gateway.store.base import ReadBase, WriteBase
from gateway.store.tokens import TOKEN_COLS

_SESSION_TOKEN_COLS = ", ".join(f"t.{c.strip()}" for c in TOKEN_COLS.split(","))


@dataclass(frozen=True, slots=True)
class UiSession:
    """A live session: whose token it runs on and when it was last used."""

    token: ApiToken
    created_at: str
    last_seen_at: str


class SessionReads(ReadBase):
    """Finding a live session."""

    def ui_session(self, id_hash: str) -> UiSession | None:
        """The session with this digest, unless it ended or its token was revoked."""
        row = self._db.fetch_one(
            f"SELECT {_SESSION_TOKEN_COLS}, s.created_at, s.last_seen_at"
            " FROM ui_sessions s JOIN api_tokens t ON t.id = s.token_id"
            " WHERE s.id_hash = ? AND s.ended_at IS NULL AND t.revoked_at IS NULL",
            (id_hash,),
        )
        if row is None:
            return None
        return UiSession(ApiToken(*row[:-2]), row[-2], row[-1])

    def shared_secret(self, name: str) -> str | None:
        """The value of the shared secret ``name`` (``None``: not made yet)."""
        value = self._db.fetch_value("SELECT value FROM shared_secrets WHERE name = ?", (name,))
        return None if value is None else str(value)


class SessionWrites(SessionReads, WriteBase):
    """Starting, touching and ending sessions; making a shared secret."""

    def insert_shared_secret(self, name: str, value: str) -> bool:
        """Store ``value`` as the secret ``name`` unless one is there (False: it was)."""
        return self._db.try_insert(
            "INSERT INTO shared_secrets (name, value, created_at) VALUES (?, ?, ?)",
            (name, value, self.now),
            unique="shared_secrets.name",
        )

    def insert_ui_session(self, id_hash: str, token_id: str) -> None:
        """Record a new session for ``token_id``."""
        self._db.execute(
            "INSERT INTO ui_sessions (id_hash, token_id, created_at, last_seen_at)"
            " VALUES (?, ?, ?, ?)",
            (id_hash, token_id, self.now, self.now),
        )

    def touch_ui_session(self, id_hash: str) -> None:
        """Note that a live session was used now."""
        self._db.execute(
            "UPDATE ui_sessions SET last_seen_at = ? WHERE id_hash = ? AND ended_at IS NULL",
            (self.now, id_hash),
        )

    def end_ui_session(self, id_hash: str) -> str | None:
        """End a live session; the id of its token, or ``None`` when none was live."""
        token_id = self._db.fetch_value(
            "SELECT token_id FROM ui_sessions WHERE id_hash = ? AND ended_at IS NULL",
            (id_hash,),
        )
        if token_id is None:
            return None
        self._db.execute(
            "UPDATE ui_sessions SET ended_at = ? WHERE id_hash = ?", (self.now, id_hash)
        )
        return str(token_id)

    def end_token_sessions(self, token_id: str) -> int:
        """End every live session of a token; how many there were."""
        return self._db.execute(
            "UPDATE ui_sessions SET ended_at = ? WHERE token_id = ? AND ended_at IS NULL",
            (self.now, token_id),
        )

    def purge_ui_sessions(self, ended_before: str) -> int:
        """Delete the records of sessions ended before ``ended_before``; how many went."""
        return self._db.execute(
            "DELETE FROM ui_sessions WHERE ended_at IS NOT NULL AND ended_at < ?",
            (ended_before,),
        )

"""REST API tokens: reads and writes of their SHA-256 digests (the token itself is never stored)."""

from __future__ import annotations

from gateway.domain import ApiToken
from gateway.ids import new_object_id
from gateway.store.base import ReadBase, WriteBase

TOKEN_COLS = "id, name, role, last4, created_at, last_used_at, revoked_at, user_id"  # noqa: S105


class TokenReads(ReadBase):
    """Finding a live token by digest, and listing tokens."""

    def token_by_hash(self, token_hash: str) -> ApiToken | None:
        """The live (not revoked) token with this SHA-256 digest."""
        row = self._db.fetch_one(
            f"SELECT {TOKEN_COLS} FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
            (token_hash,),
        )
        return ApiToken(*row) if row else None

    def token(self, token_id: str) -> ApiToken | None:
        """A token by id, revoked or not (a timeline still names who acted)."""
        row = self._db.fetch_one(f"SELECT {TOKEN_COLS} FROM api_tokens WHERE id = ?", (token_id,))
        return ApiToken(*row) if row else None

    def tokens(self, *, include_revoked: bool = False) -> list[ApiToken]:
        """All tokens, oldest first."""
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        rows = self._db.fetch_all(
            f"SELECT {TOKEN_COLS} FROM api_tokens{where} ORDER BY created_at, id"
        )
        return [ApiToken(*row) for row in rows]


class TokenWrites(TokenReads, WriteBase):
    """Creating and revoking tokens."""

    def insert_token(
        self, *, name: str, role: str, token_hash: str, last4: str, user_id: str | None = None
    ) -> ApiToken:
        """Store a new token's digest (``user_id``: the user it belongs to, if any)."""
        token_id = new_object_id()
        self._db.execute(
            "INSERT INTO api_tokens (id, name, role, token_hash, last4, created_at, user_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (token_id, name, role, token_hash, last4, self.now, user_id),
        )
        return ApiToken(token_id, name, role, last4, self.now, None, None, user_id)

    def revoke_token(self, token_id: str) -> bool:
        """Revoke a token by id; ``False`` when no live token has that id."""
        revoked = self._db.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (self.now, token_id),
        )
        return revoked == 1

"""REST API tokens and PagerDuty's roles, reduced to four permission levels.

PagerDuty names eight user roles (REST ``User.role``) and UI names for most of
them (Manager is ``user``, Responder is ``limited_user``). What each may do
collapses into an ordered ladder, which is all the gateway needs:

========  ======================================================  ==========================
level     what it allows                                          roles
========  ======================================================  ==========================
VIEW      read everything                                         observer, read_only_user,
                                                                  read_only_limited_user,
                                                                  restricted_access
RESPOND   acknowledge, resolve and create incidents               limited_user (Responder)
MANAGE    create, edit, disable, delete services, integrations    user (Manager)
          and maintenance windows
ADMIN     manage API tokens                                       admin, owner
========  ======================================================  ==========================

Tokens are random, shown once at creation, and stored as SHA-256 digests: a
token has 120 bits of entropy, so a slow password hash would add latency to
every request without adding protection.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import string

__all__ = [
    "ROLE_ALIASES",
    "ROLE_LEVELS",
    "Level",
    "hash_token",
    "level_of",
    "new_token",
    "normalize_role",
    "parse_authorization",
]


class Level(enum.IntEnum):
    """What a role may do; each level includes the ones below it."""

    VIEW = 1
    RESPOND = 2
    MANAGE = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        """The lower-case name used in error messages (``manage``)."""
        return self.name.lower()


ROLE_LEVELS: dict[str, Level] = {
    "observer": Level.VIEW,
    "read_only_user": Level.VIEW,
    "read_only_limited_user": Level.VIEW,
    "restricted_access": Level.VIEW,
    "limited_user": Level.RESPOND,
    "user": Level.MANAGE,
    "admin": Level.ADMIN,
    "owner": Level.ADMIN,
}

# UI names an operator is likely to type; stored as the API role they stand for.
ROLE_ALIASES: dict[str, str] = {
    "read_only": "read_only_user",
    "stakeholder": "read_only_user",
    "limited_stakeholder": "read_only_limited_user",
    "responder": "limited_user",
    "manager": "user",
    "global_admin": "admin",
    "account_owner": "owner",
}

_ALPHABET = string.ascii_letters + string.digits + "_-"
TOKEN_LENGTH = 20  # PagerDuty's REST keys are 20 characters


def normalize_role(role: str) -> str | None:
    """The API role for ``role`` (an API role or a UI name), or ``None`` if unknown."""
    name = role.strip().lower().replace(" ", "_").replace("-", "_")
    name = ROLE_ALIASES.get(name, name)
    return name if name in ROLE_LEVELS else None


def level_of(role: str) -> Level:
    """The permission level of a stored API role (unknown roles may only view)."""
    return ROLE_LEVELS.get(role, Level.VIEW)


def new_token() -> str:
    """A fresh random token (20 characters from a 64-letter alphabet: 120 bits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(TOKEN_LENGTH))


def hash_token(token: str) -> str:
    """The digest stored in place of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_authorization(header: str | None) -> str | None:
    """The token in ``Token token=...`` or ``Bearer ...``; ``None`` for anything else."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    rest = rest.strip()
    if scheme == "Token" and rest.startswith("token="):
        token = rest[len("token=") :].strip()
    elif scheme.lower() == "bearer":
        token = rest
    else:
        return None
    return token or None

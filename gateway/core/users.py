"""Users: the rules for creating, changing, finding and deleting the people incidents reach.

Pure functions over a :class:`~gateway.store.Tx` or :class:`~gateway.store.Reader`, called
alike by the REST API, the web UI, the CLI and configuration provisioning. A user has a
``name``, an ``email`` (unique among users whatever its case: it is how ``From`` names
them), a ``time_zone`` (an IANA name, checked with :mod:`zoneinfo`), a ``role`` (one of
PagerDuty's eight, :mod:`gateway.auth`; UI names such as ``manager`` are accepted), and
optionally a ``description`` and ``job_title``.

A new user gets what PagerDuty gives one: an email contact method to their address
(labelled ``Default``) and notification rules using it at 0 minutes, for high and for
low urgency, so an incident reaches them before anyone configures anything
(:func:`create_user`, ``defaults=False`` for the configuration file when it declares the
user's contact methods itself). Their contact details are :mod:`gateway.core.contact_methods`.

Other aggregates (schedules, escalation policies, notifications) read users through
:func:`get_user`, :func:`missing_users` / :func:`users_exist` and
:func:`~gateway.core.contact_methods.contact_methods_for` /
:func:`~gateway.core.contact_methods.notification_rules_for`.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

import structlog

from gateway.auth import ROLE_LEVELS, normalize_role
from gateway.core.contact_types import EMAIL, email_problems
from gateway.core.inputs import CONFIG, SYSTEM, UNSET, Agent, Unset
from gateway.core.ownership import DECLARED
from gateway.domain import ApiToken, User
from gateway.errors import Invalid, NotFound, Refused
from gateway.store import Reader, Tx

__all__ = [
    "DEFAULT_LABEL",
    "DEFAULT_TIME_ZONE",
    "IN_USE_CHECKS",
    "UserInput",
    "UserPatch",
    "check_time_zone",
    "create_user",
    "delete_user",
    "find_user",
    "get_user",
    "list_users",
    "missing_users",
    "refuse_declared_user",
    "update_user",
    "user_for_token",
    "users_exist",
]

log = structlog.get_logger("gateway.users")

#: A user's time zone when none is given (PagerDuty uses the account's; ours is UTC).
DEFAULT_TIME_ZONE: Final = "Etc/UTC"
#: The role of a user created without one (PagerDuty's default, the Manager).
DEFAULT_ROLE: Final = "user"
#: The label of the email contact method every new user gets.
DEFAULT_LABEL: Final = "Default"
MAX_NAME = 100  # PagerDuty's User.name and job_title bound
MAX_DESCRIPTION = 1000

#: Checks asked before a user is deleted: each returns why the user may not be (``None``:
#: nothing in the way). Aggregates that name users (escalation policies, schedules) add
#: theirs here, so a user still on call cannot vanish from under them.
IN_USE_CHECKS: list[Callable[[Reader, User], str | None]] = []


@dataclass(frozen=True, slots=True)
class UserInput:
    """A new user, as a face read it (values unchecked)."""

    name: object = None
    email: object = None
    time_zone: object = None
    role: object = None
    description: object = None
    job_title: object = None


@dataclass(frozen=True, slots=True)
class UserPatch:
    """Changes to a user; :data:`UNSET` fields are left as they are."""

    name: object | Unset = UNSET
    email: object | Unset = UNSET
    time_zone: object | Unset = UNSET
    role: object | Unset = UNSET
    description: object | Unset = UNSET
    job_title: object | Unset = UNSET


# -- reads ----------------------------------------------------------------------------------------


def get_user(reader: Reader, user_id: str) -> User:
    """The live user ``user_id``, or :class:`NotFound` ``User`` (404)."""
    found = reader.user(user_id) if isinstance(user_id, str) else None
    if found is None:
        raise NotFound("User", user_id)
    return found


def find_user(reader: Reader, ref: str) -> User:
    """A live user by id or by email address (any case), or :class:`NotFound` ``User``."""
    found = reader.user(ref) or (reader.user_by_email(ref) if "@" in ref else None)
    if found is None:
        raise NotFound("User", ref)
    return found


def list_users(reader: Reader, *, query: str | None = None) -> list[User]:
    """Live users by name; ``query`` keeps those whose name or email contains it (any case).

    Filtered here rather than in SQL: people are few, and ``casefold`` matches any
    alphabet where SQLite's ``lower()`` folds ASCII only.
    """
    found = reader.users()
    needle = (query or "").strip().casefold()
    if not needle:
        return found
    return [u for u in found if needle in u.name.casefold() or needle in u.email.casefold()]


def missing_users(reader: Reader, user_ids: Iterable[str]) -> list[str]:
    """Which of ``user_ids`` name no live user, in the order given (empty: all exist)."""
    wanted = [u for u in dict.fromkeys(user_ids) if isinstance(u, str)]
    live = reader.live_user_ids(wanted)
    return [u for u in wanted if u not in live]


def users_exist(reader: Reader, user_ids: Iterable[str]) -> bool:
    """Whether every one of ``user_ids`` is a live user."""
    return not missing_users(reader, user_ids)


def user_for_token(reader: Reader, token: ApiToken) -> User | None:
    """The live user an API token belongs to; ``None`` for an account token (or a deleted user)."""
    return reader.user(token.user_id) if token.user_id else None


# -- writes ---------------------------------------------------------------------------------------


def create_user(tx: Tx, data: UserInput, *, by: Agent = SYSTEM, defaults: bool = True) -> User:
    """Create a user; with ``defaults`` also their email contact method and rules at 0 minutes.

    :class:`Invalid` lists every problem (a taken address among them) and stores nothing.
    The defaults are runtime-owned (editable) even for a user the file declares.
    """
    errors: list[str] = []
    columns = {
        "name": _text("name", data.name, errors, required=True, limit=MAX_NAME),
        "email": _email(tx, data.email, None, errors),
        "time_zone": check_time_zone(data.time_zone, errors),
        "role": _role(data.role, errors),
        "description": _text("description", data.description, errors, limit=MAX_DESCRIPTION),
        "job_title": _text("job_title", data.job_title, errors, limit=MAX_NAME),
    }
    if errors:
        raise Invalid(errors)
    made = tx.insert_user(**columns)
    if defaults:
        method = tx.insert_contact_method(
            user_id=made.id, type=EMAIL, label=DEFAULT_LABEL, address=made.email
        )
        for urgency in ("high", "low"):
            tx.insert_notification_rule(
                user_id=made.id,
                contact_method_id=method.id,
                start_delay_in_minutes=0,
                urgency=urgency,
            )
    log.info("user.created", user=made.id, role=made.role, by=by.type)
    return made


def update_user(tx: Tx, user_id: str, patch: UserPatch, *, by: Agent = SYSTEM) -> User:
    """Change a user. Fields sent back unchanged are not changes (Terraform sends everything).

    The email contact methods are not touched when the address changes: they are the
    user's own to edit.
    """
    current = get_user(tx, user_id)
    errors: list[str] = []
    columns: dict[str, Any] = {}
    if not isinstance(patch.name, Unset):
        columns["name"] = _text("name", patch.name, errors, required=True, limit=MAX_NAME)
    if not isinstance(patch.email, Unset):
        columns["email"] = _email(tx, patch.email, current.id, errors)
    if not isinstance(patch.time_zone, Unset):
        columns["time_zone"] = check_time_zone(patch.time_zone, errors)
    if not isinstance(patch.role, Unset):
        columns["role"] = _role(patch.role, errors)
    if not isinstance(patch.description, Unset):
        columns["description"] = _text(
            "description", patch.description, errors, limit=MAX_DESCRIPTION
        )
    if not isinstance(patch.job_title, Unset):
        columns["job_title"] = _text("job_title", patch.job_title, errors, limit=MAX_NAME)
    if errors:
        raise Invalid(errors)
    changed = {k: v for k, v in columns.items() if getattr(current, k) != v}
    refuse_declared_user(current, changed, by)
    if changed:
        tx.update_user(current.id, **changed)
        log.info("user.updated", user=current.id, fields=sorted(changed), by=by.type)
    return get_user(tx, current.id)


def delete_user(tx: Tx, user_id: str, *, by: Agent = SYSTEM) -> None:
    """Delete a user with their contact methods and notification rules.

    Their API tokens stay valid as account tokens (no ``From`` default, no ``/users/me``).
    Refused for a user the configuration file declares, and when something still names
    them (:data:`IN_USE_CHECKS`).
    """
    current = get_user(tx, user_id)
    refuse_declared_user(current, ["deleted"], by)
    problems = [p for check in IN_USE_CHECKS if (p := check(tx, current)) is not None]
    if problems:
        raise Refused("User In Use", code=2001, errors=problems)
    tx.delete_user(current.id)
    log.info("user.deleted", user=current.id, by=by.type)


def refuse_declared_user(current: User, changes: Iterable[str], by: Agent) -> None:
    """Refuse ``changes`` to a user the configuration file declares, unless the file makes them."""
    wanted = sorted(set(changes))
    if not wanted or by.type == CONFIG.type or current.source != "config":
        return
    raise Refused(
        DECLARED,
        code=2001,
        errors=[
            f"User {current.email!r} is declared in the configuration file; change it there "
            f"(refused: {', '.join(wanted)})"
        ],
    )


# -- checks ---------------------------------------------------------------------------------------


def check_time_zone(value: object, errors: list[str]) -> str:
    """An IANA time zone name (``None``: :data:`DEFAULT_TIME_ZONE`); problems go to ``errors``."""
    if value is None:
        return DEFAULT_TIME_ZONE
    if not isinstance(value, str) or not value.strip():
        errors.append("time_zone must be an IANA time zone name such as Europe/Berlin")
        return DEFAULT_TIME_ZONE
    name = value.strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors.append(f"time_zone {name!r} is not an IANA time zone name (e.g. Europe/Berlin)")
    return name


def _role(value: object, errors: list[str]) -> str:
    if value is None:
        return DEFAULT_ROLE
    role = normalize_role(value) if isinstance(value, str) else None
    if role is None:
        errors.append(f"role must be one of: {', '.join(ROLE_LEVELS)} (got {value!r})")
        return DEFAULT_ROLE
    return role


def _text(
    name: str, value: object, errors: list[str], *, required: bool = False, limit: int
) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.append(f"{name} must be a non-empty string")
        return None
    if not isinstance(value, str):
        errors.append(f"{name} must be a string")
        return None
    text = value.strip()
    if len(text) > limit:
        errors.append(f"{name} must be at most {limit} characters")
    return text


def _email(reader: Reader, value: object, own_id: str | None, errors: list[str]) -> Any:
    if not isinstance(value, str) or not value.strip():
        errors.append("email must be an email address")
        return None
    email = value.strip()
    problems = email_problems(email)
    errors.extend(f"email: {p}" for p in problems)
    if not problems:
        other = reader.user_by_email(email)
        if other is not None and other.id != own_id:
            errors.append(f"email {email!r} is already used by user {other.name!r}")
    return email

"""REST resource: users (``/users``, ``/users/{id}``, ``/users/me``).

Thin HTTP over :mod:`gateway.core.users`; the shapes are :mod:`gateway.people_shapes`.
Who may do what (docs/people.md): everyone reads; adding and deleting users is for admins
and the owner (PagerDuty's rule); a user's own token may also change their profile but
not their role. Contact methods and notification rules are
:mod:`gateway.http.rest.contact_methods`.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import Any

from quart import Blueprint, g, request
from werkzeug.exceptions import HTTPException

from gateway.auth import Level, level_of, normalize_role
from gateway.core import users
from gateway.domain import User
from gateway.http.rest._common import (
    RestError,
    context,
    invalid,
    json_body,
    list_arg,
    page_args,
    paginated,
    requires,
    token_user,
)
from gateway.http.rest.bodies import rest_urls
from gateway.http.rest.services import agent
from gateway.people_shapes import user_object
from gateway.shapes import Urls
from gateway.store import Reader, Tx

blueprint = Blueprint("rest_users", __name__)

ROOT = "user"
_FIELDS = ("name", "email", "time_zone", "role", "description", "job_title")


def user_body(
    urls: Urls, reader: Reader, user: User, include: set[str] | frozenset[str]
) -> dict[str, Any]:
    """A user with references to (or, with ``include``, the whole of) their contact details.

    ``urls`` is :func:`~gateway.http.rest.bodies.rest_urls`, read before the store call: the
    writer thread has no request.
    """
    return user_object(
        urls,
        user,
        reader.contact_methods(user.id),
        reader.notification_rules(user.id),
        include,
    )


def _fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The layer's fields present in a REST body (for UserInput or UserPatch)."""
    if "type" in data and data["type"] not in ("user", "user_reference"):
        raise invalid("type must be user")
    return {k: data[k] for k in _FIELDS if k in data}


async def may_edit(user_id: str) -> None:
    """403 unless this request's token is an admin's, or belongs to user ``user_id`` itself."""
    own = token_user()
    if level_of(g.token.role) >= Level.ADMIN or (own is not None and own.id == user_id):
        return
    # Read the body before answering, or hypercorn drops the keep-alive connection.
    with suppress(HTTPException):
        await request.get_data()
    raise RestError(
        403,
        "Access Denied",
        2010,
        [
            f"The '{g.token.role}' role cannot change another user's details; "
            "this needs admin or owner, or a token of that user"
        ],
    )


# -- routes -----------------------------------------------------------------------------------


@blueprint.get("/users")
@requires(Level.VIEW)
async def list_users() -> dict[str, Any]:
    """``GET /users``: ``query`` (name or email contains it), ``include[]``, paging."""
    page = page_args()
    query = request.args.get("query")
    include = set(list_arg("include"))
    urls = rest_urls()

    def read(reader: Reader) -> dict[str, Any]:
        body = paginated("users", users.list_users(reader, query=query), page)
        body["users"] = [user_body(urls, reader, u, include) for u in body["users"]]
        return body

    return await context().store.read(read)


@blueprint.post("/users")
@requires(Level.ADMIN)
async def create_user() -> tuple[dict[str, Any], int]:
    """``POST /users``: 201; the user gets an email contact method and rules at 0 minutes."""
    data = users.UserInput(**_fields(await json_body(ROOT)))
    by, urls = agent(), rest_urls()
    made = await context().store.write(
        lambda tx: user_body(urls, tx, users.create_user(tx, data, by=by), set())
    )
    return {ROOT: made}, 201


@blueprint.get("/users/me")
@requires(Level.VIEW)
async def get_me() -> dict[str, Any]:
    """``GET /users/me``: the user this token belongs to; 400 for an account token."""
    own = token_user()
    if own is None:
        raise RestError(
            400,
            "Invalid Input Provided",
            2001,
            [
                "/users/me needs an API token that belongs to a user; this is an account "
                "token (create one with: alert-gateway token create --user <id or email>)"
            ],
        )
    include = set(list_arg("include"))
    urls = rest_urls()
    return {
        ROOT: await context().store.read(
            lambda r: user_body(urls, r, users.get_user(r, own.id), include)
        )
    }


@blueprint.get("/users/<user_id>")
@requires(Level.VIEW)
async def get_user(user_id: str) -> dict[str, Any]:
    """``GET /users/{id}`` with ``include[]=contact_methods|notification_rules``."""
    include = set(list_arg("include"))
    urls = rest_urls()
    return {
        ROOT: await context().store.read(
            lambda r: user_body(urls, r, users.get_user(r, user_id), include)
        )
    }


@blueprint.put("/users/<user_id>")
@requires(Level.VIEW)
async def update_user(user_id: str) -> dict[str, Any]:
    """``PUT /users/{id}``: admins, or the user's own token (which may not change the role)."""
    await may_edit(user_id)
    fields = _fields(await json_body(ROOT))
    patch = users.UserPatch(**fields)
    by, urls = agent(), rest_urls()
    role = g.token.role
    admin = level_of(role) >= Level.ADMIN

    def write(tx: Tx) -> dict[str, Any]:
        # A user's own token may edit their profile, not raise their own role.
        if not admin and "role" in fields:
            current = users.get_user(tx, user_id)
            if normalize_role(str(fields["role"])) != current.role:
                raise RestError(
                    403,
                    "Access Denied",
                    2010,
                    [f"The '{role}' role cannot change a role; this needs admin or owner"],
                )
        return user_body(urls, tx, users.update_user(tx, user_id, patch, by=by), set())

    return {ROOT: await context().store.write(write)}


@blueprint.delete("/users/<user_id>")
@requires(Level.ADMIN)
async def delete_user(user_id: str) -> tuple[str, int]:
    """``DELETE /users/{id}``: 204; their contact methods and rules go with them."""
    by = agent()
    await context().store.write(lambda tx: users.delete_user(tx, user_id, by=by))
    return "", 204


__all__ = ["blueprint", "may_edit", "user_body"]

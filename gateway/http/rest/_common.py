"""What every REST resource shares: errors, auth, the From header, pagination, references.

PagerDuty's REST conventions live here once, so each resource module only says
what is particular to it. :func:`rest_error` is the one place the domain
layer's refusals (:class:`gateway.errors.OperationError`) become PagerDuty's
error bodies; :func:`gateway.http.rest.register` installs it app-wide.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from quart import Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from gateway.auth import Level, level_of, parse_authorization
from gateway.context import GatewayContext
from gateway.core import tokens
from gateway.core.text import nul_errors
from gateway.domain import ApiToken, User
from gateway.errors import Conflict, NotFound, OperationError, PastWindow
from gateway.http.rest.query import query_problems
from gateway.http.urls import absolute_url

P = ParamSpec("P")
R = TypeVar("R")

MAX_LIMIT = 100
DEFAULT_LIMIT = 25
MAX_WINDOW = 10_000  # offset + limit beyond this is refused, as PagerDuty does
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_ROLES_AT = {
    Level.VIEW: "any role",
    Level.RESPOND: "limited_user (Responder) or above",
    Level.MANAGE: "user (Manager), admin or owner",
    Level.ADMIN: "admin or owner",
}


class RestError(Exception):
    """An error answered with PagerDuty's body ``{"error":{"message","code","errors"}}``.

    ``extra`` adds fields beside ``errors`` (a refused move's ``differences``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        code: int,
        errors: Sequence[str] = (),
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.errors = list(errors)
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        error = {"message": self.message, "code": self.code, "errors": self.errors}
        return {"error": {**error, **self.extra}}

    def response(self) -> Response:
        """The whole answer: this status and the JSON body."""
        return json_response(self.body(), self.status)


#: What a refused move answers (409): PagerDuty documents no move, so the words are ours.
MOVE_CONFLICT = (
    "The destination service's incident settings differ; "
    "repeat the request with ?confirm=true to move the integration anyway"
)


def rest_error(exc: OperationError) -> RestError:
    """PagerDuty's answer to a refusal from the domain layer: the one mapping.

    NotFound → 404 ``<Kind> Not Found`` (5002 for services, else 5001) with no
    ``errors``; Conflict → 409 with ``differences``; PastWindow → 405 (5003);
    Invalid, Incompatible and Refused → 400 with their code and ``errors``.
    """
    if isinstance(exc, NotFound):
        return RestError(404, exc.message, exc.code)
    if isinstance(exc, Conflict):
        differences = [d.as_dict() for d in exc.differences]
        return RestError(409, MOVE_CONFLICT, exc.code, exc.errors, {"differences": differences})
    if isinstance(exc, PastWindow):
        return RestError(405, exc.message, exc.code, exc.errors)
    return RestError(400, exc.message, exc.code, exc.errors)


def json_response(body: Any, status: int) -> Response:
    """A JSON answer; errors are always JSON (go-pagerduty parses only JSON error bodies)."""
    return Response(json.dumps(body), status=status, content_type="application/json")


def invalid(*errors: str) -> RestError:
    """400 ``Invalid Input Provided`` (2001) listing each problem."""
    return RestError(400, "Invalid Input Provided", 2001, errors)


def context() -> GatewayContext:
    """The running gateway's shared state."""
    gateway: GatewayContext = current_app.config["GATEWAY"]
    return gateway


# -- authentication and roles ---------------------------------------------------------------


async def authenticate() -> ApiToken:
    """The live token in the ``Authorization`` header, or a 401."""
    token = parse_authorization(request.headers.get("Authorization"))
    if token is None:
        raise RestError(401, "Authentication failed", 2006, ["Missing or malformed API token"])
    found, user = await context().store.read(lambda reader: tokens.authenticate_user(reader, token))
    if found is None:
        raise RestError(401, "Authentication failed", 2006, ["Unknown or revoked API token"])
    g.token_user = user
    return found


def requires(level: Level) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Route decorator: a token whose role reaches ``level`` (401 without one, 403 below)."""

    def decorate(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(handler)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                token = await authenticate()
                if level_of(token.role) < level:
                    raise RestError(
                        403,
                        "Access Denied",
                        2010,
                        [
                            f"The '{token.role}' role cannot {level.label} here; "
                            f"this needs {_ROLES_AT[level]}"
                        ],
                    )
            except RestError:
                # Answering before the body is read makes hypercorn drop the keep-alive
                # connection, which the client may already be reusing ("Server
                # disconnected"): read the body first. Too large a body stays a 401/403.
                with suppress(HTTPException):
                    await request.get_data()
                raise
            g.token = token
            rule = request.url_rule.rule if request.url_rule is not None else ""
            if problems := query_problems(request.method, rule, list_arg):
                raise invalid(*problems)
            return await handler(*args, **kwargs)

        return guarded

    return decorate


def requester() -> str:
    """The ``From`` header's email address, required on incident and window writes.

    A token that belongs to a user (``alert-gateway token create --user``) needs no
    ``From``: it defaults to that user's address.
    """
    value = request.headers.get("From", "").strip()
    if not value and (user := token_user()) is not None:
        return user.email
    if not value:
        raise RestError(
            400,
            'You must specify a user\'s email address in the "From" header to perform this action',
            2016,
        )
    if not _EMAIL.match(value):
        raise RestError(400, 'Malformed "From" header', 1028)
    return value


def token_user() -> User | None:
    """The user this request's token belongs to (``None``: an account token)."""
    user: User | None = g.get("token_user")
    return user


# -- bodies and query arguments -------------------------------------------------------------


async def json_value() -> Any:
    """The request body parsed as JSON whatever its Content-Type; ``None`` if it is not JSON.

    Quart's ``get_json(silent=True)`` still raises on bytes that are not UTF-8,
    and a client's bad bytes must be a 400, never a 500. A NUL in any field is a 400
    naming the field (:func:`gateway.core.text.nul_errors`).
    """
    raw = await request.get_data(cache=True, as_text=False)
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    # A NUL in any field is bad input, refused before any rule reads it: PostgreSQL cannot
    # store one (gateway.core.text). JSON can only carry it escaped, as \u0000.
    if "\\u0000" in text:
        errors = nul_errors(data)
        if errors:
            raise invalid(*errors)
    return data


async def json_body(root: str) -> dict[str, Any]:
    """The request's JSON object, unwrapped from ``{root: {...}}`` when wrapped.

    go-pagerduty PUTs some objects unwrapped, so both shapes are accepted.
    """
    data = await json_value()
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON object")
    inner = data.get(root)
    if isinstance(inner, dict):
        return inner
    if root in data:
        raise invalid(f"'{root}' must be an object")
    return data


def list_arg(name: str) -> list[str]:
    """A set filter: ``name[]=a&name[]=b`` (also ``name=a,b``)."""
    values = request.args.getlist(f"{name}[]") or request.args.getlist(name)
    out: list[str] = []
    for value in values:
        out.extend(v for v in value.split(",") if v)
    return out


def bool_arg(name: str, default: bool = False) -> bool:
    """A query boolean: ``true``/``1``/``false``/``0``."""
    value = request.args.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0", ""):
        return False
    raise invalid(f"'{name}' must be true or false")


@dataclass(frozen=True, slots=True)
class Page:
    """The ``limit``/``offset``/``total`` query arguments of a list request."""

    limit: int
    offset: int
    total: bool


def page_args() -> Page:
    """Read and check pagination arguments (limit 1..100, offset+limit ≤ 10000)."""
    try:
        limit = int(request.args.get("limit", DEFAULT_LIMIT))
        offset = int(request.args.get("offset", 0))
    except ValueError as exc:
        raise invalid("'limit' and 'offset' must be integers") from exc
    if limit < 1 or offset < 0:
        raise invalid("'limit' must be at least 1 and 'offset' at least 0")
    limit = min(limit, MAX_LIMIT)
    if offset + limit > MAX_WINDOW:
        raise invalid(f"Offset + limit must not exceed {MAX_WINDOW}")
    return Page(limit=limit, offset=offset, total=bool_arg("total"))


def paginated(root: str, items: Sequence[Any], page: Page) -> dict[str, Any]:
    """A list body from every matching item: this page of it, ``more`` and ``total``."""
    window = list(items[page.offset : page.offset + page.limit])
    return {
        root: window,
        "limit": page.limit,
        "offset": page.offset,
        "more": page.offset + len(window) < len(items),
        "total": len(items) if page.total else None,
    }


# -- references and URLs ----------------------------------------------------------------------


def api_url(path: str) -> str:
    """``self`` for an object: this gateway's base URL (:mod:`gateway.http.urls`) and path."""
    return absolute_url(path)


def html_url(path: str) -> str:
    """``html_url`` for an object: its page in the web UI."""
    return absolute_url("/ui" + path)


def reference(kind: str, object_id: str, summary: str | None, path: str) -> dict[str, Any]:
    """A PagerDuty reference ``{id, type: <kind>_reference, summary, self, html_url}``."""
    return {
        "id": object_id,
        "type": f"{kind}_reference",
        "summary": summary,
        "self": api_url(path),
        "html_url": html_url(path),
    }

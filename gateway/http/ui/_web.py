"""What every UI page shares: the signed-in user, roles, CSRF, rendering and redirects.

The UI has no logic of its own: pages read and act through the core modules the
REST API uses. This module only knows about sessions, forms and HTML, and
:func:`page_error` is the one place the domain layer's refusals
(:class:`gateway.errors.OperationError`) become error pages.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import structlog
from quart import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from quart.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from gateway.auth import Level, level_of
from gateway.context import GatewayContext
from gateway.core import sessions
from gateway.core.inputs import Agent
from gateway.domain import ApiToken
from gateway.errors import Conflict, Invalid, NotFound, OperationError
from gateway.store import Reader, Tx

P = ParamSpec("P")
T = TypeVar("T")

blueprint = Blueprint(
    "ui",
    __name__,
    url_prefix="/ui",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

log = structlog.get_logger("gateway.http.ui")

CSRF_FIELD = "csrf_token"
_ROLE_NEEDED = {
    Level.VIEW: "any role",
    Level.RESPOND: "a Responder (limited_user) or above",
    Level.MANAGE: "a Manager (user), admin or owner",
    Level.ADMIN: "an admin or owner",
}


class PageError(HTTPException):
    """An HTML error page with a status and a sentence saying why."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(description=message)
        self.code = code


def page_error(exc: OperationError) -> PageError:
    """The error page for a refusal from the domain layer: the one mapping.

    NotFound → 404 ("… It may have been deleted."), Invalid and Incompatible →
    400, Conflict → 409 with the differences, Refused and PastWindow → 409 (the
    object's state, not the form, is in the way). Handlers that can show a form
    again catch :class:`~gateway.errors.Invalid` themselves first.
    """
    if isinstance(exc, NotFound):
        return PageError(404, f"{exc}. It may have been deleted.")
    if isinstance(exc, Conflict):
        return PageError(409, str(exc))
    if isinstance(exc, Invalid):
        return PageError(400, "; ".join(exc.errors))
    return PageError(409, "; ".join(exc.errors))


def context() -> GatewayContext:
    """The running gateway's shared state."""
    gateway: GatewayContext = current_app.config["GATEWAY"]
    return gateway


async def read(fn: Callable[[Reader], T]) -> T:
    """Run a read query on a read connection."""
    return await context().store.read(fn)


async def write(fn: Callable[[Tx], T]) -> T:
    """Run ``fn`` in the writer's next transaction (returns after commit)."""
    return await context().store.write(fn)


# -- CSRF -----------------------------------------------------------------------------------


def csrf_token() -> str:
    """This session's CSRF token, created on first use (a form is about to show it)."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


async def check_csrf() -> None:
    """Refuse (400) a POST whose form token is missing or not this session's."""
    form = await request.form
    sent = form.get(CSRF_FIELD, "")
    expected = session.get(CSRF_FIELD)
    if not isinstance(expected, str) or not expected or not hmac.compare_digest(sent, expected):
        log.warning("ui.csrf_refused", path=request.path)
        raise PageError(400, "The form was stale or not sent from this site (CSRF check failed).")


# -- who is signed in -----------------------------------------------------------------------


#: The cookie's key for the session's id (the server's record: :mod:`gateway.core.sessions`).
SESSION_ID = "sid"


async def current_user() -> ApiToken | None:
    """The live token behind this session, or ``None``: a session that signed out, or whose
    token was revoked, is over at once, whatever copy of the cookie comes back."""
    if "ui_user" in g:
        user: ApiToken | None = g.ui_user
        return user
    session_id = session.get(SESSION_ID)
    user = None
    if session_id:
        found = await read(lambda r: sessions.session_user(r, session_id))
        if found is not None:
            user = found.token
            if found.stale:
                await write(lambda tx: sessions.touch_session(tx, session_id))
    g.ui_user = user
    return user


def user_level() -> Level:
    """The signed-in user's permission level (``VIEW`` when nobody is)."""
    user: ApiToken | None = g.get("ui_user")
    return level_of(user.role) if user else Level.VIEW


def can(level: Level) -> bool:
    """Whether the signed-in user may act at ``level`` (templates hide buttons with it)."""
    return g.get("ui_user") is not None and user_level() >= level


def requires(
    level: Level,
) -> Callable[[Callable[P, Awaitable[ResponseReturnValue]]], Callable[P, Awaitable[Any]]]:
    """Route decorator: signed in (else to the login page) and at ``level`` (else 403).

    A POST is checked for its CSRF token before anything else happens.
    """

    def decorate(
        handler: Callable[P, Awaitable[ResponseReturnValue]],
    ) -> Callable[P, Awaitable[Any]]:
        @wraps(handler)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> Any:
            if request.method == "POST":
                await check_csrf()
            user = await current_user()
            if user is None:
                if request.method == "POST":
                    raise PageError(401, "Your session has ended: sign in again.")
                return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))
            if level_of(user.role) < level:
                log.info("ui.forbidden", path=request.path, role=user.role, needs=level.label)
                raise PageError(
                    403,
                    f"The '{user.role}' role cannot {level.label} here: "
                    f"this needs {_ROLE_NEEDED[level]}.",
                )
            return await handler(*args, **kwargs)

        return guarded

    return decorate


# -- forms, pages, redirects ----------------------------------------------------------------


async def form() -> Mapping[str, str]:
    """The POSTed form (already CSRF-checked by :func:`requires`)."""
    data = await request.form
    return {k: v.strip() for k, v in data.items() if k != CSRF_FIELD}


async def page(template: str, *, status: int = 200, **values: Any) -> ResponseReturnValue:
    """Render a page of the UI with the names every template uses."""
    html = await render_template(template, **values)
    return html, status, {"Cache-Control": "no-store"}


def back(endpoint: str, message: str | None = None, **values: Any) -> ResponseReturnValue:
    """POST-redirect-GET: 303 to ``endpoint`` with an optional one-time notice."""
    if message:
        notices = list(session.get("notices", []))
        notices.append(message)
        session["notices"] = notices[-5:]
    return redirect(url_for(endpoint, **values), 303)


def take_notices() -> list[str]:
    """The one-time notices queued by :func:`back` (emptied as they are shown)."""
    notices = session.pop("notices", None)
    return [str(n) for n in notices] if isinstance(notices, list) else []


@blueprint.app_template_global("csrf_field")
def csrf_field_name() -> str:
    """The hidden form field's name."""
    return CSRF_FIELD


@blueprint.context_processor
async def page_globals() -> dict[str, Any]:
    """Values every template sees: the user, role checks, the CSRF token, notices."""
    return {
        "user": g.get("ui_user"),
        "can_respond": can(Level.RESPOND),
        "can_manage": can(Level.MANAGE),
        "csrf_token": csrf_token,
        "notices": take_notices(),
    }


# Defence in depth behind autoescaping: no inline script or style, no framing, forms post here.
# Images may come from any https: host: an alert's https images show inline (ui/contexts.py).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: https:; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


@blueprint.after_request
async def security_headers(response: Response) -> Response:
    """Add :data:`SECURITY_HEADERS` to every UI response."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@blueprint.errorhandler(OperationError)
async def refused_page(error: OperationError) -> ResponseReturnValue:
    """The domain layer's refusals under ``/ui`` are pages too (see :func:`page_error`)."""
    return await html_error(page_error(error))


@blueprint.errorhandler(HTTPException)
async def html_error(error: HTTPException) -> ResponseReturnValue:
    """Errors under ``/ui`` are pages, not PagerDuty's JSON bodies."""
    await current_user()
    code = error.code or 500
    message = error.description or error.name
    return await page("error.html", status=code, code=code, title=error.name, message=message)


def agent() -> Agent:
    """Who the core records for a change made here: the signed-in API token."""
    user: ApiToken = g.ui_user
    return Agent(type="api_token", id=user.id)

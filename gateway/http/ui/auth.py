"""Signing in with a REST API token, and out again."""

from __future__ import annotations

import posixpath
from urllib.parse import urlsplit

from quart import redirect, request, session, url_for
from quart.typing import ResponseReturnValue

from gateway.core import sessions, tokens
from gateway.http.ui._web import (
    SESSION_ID,
    blueprint,
    check_csrf,
    current_user,
    form,
    log,
    page,
    read,
    write,
)
from gateway.logs import redact


def _safe_next(target: str | None) -> str:
    """Only same-site paths under /ui: a login link cannot send anyone elsewhere.

    Browsers read ``\\`` as ``/`` and drop tabs and line breaks, so ``/\\other.host`` or
    ``/\\t/other.host`` would be ``//other.host``, another site: any such character, a
    scheme, a host, or a path that leaves ``/ui/`` once ``..`` is resolved gives the
    Service Directory instead.
    """
    default = url_for("ui.service_directory")
    if not target or "\\" in target or any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return default
    if not posixpath.normpath(parts.path).startswith("/ui/") or not parts.path.startswith("/ui/"):
        return default
    return target


@blueprint.get("/")
async def home() -> ResponseReturnValue:
    """The UI's front page is the Service Directory."""
    return redirect(url_for("ui.service_directory"))


@blueprint.get("/login")
async def login() -> ResponseReturnValue:
    """The sign-in form."""
    if await current_user() is not None:
        return redirect(_safe_next(request.args.get("next")))
    return await page("login.html", next=_safe_next(request.args.get("next")), error=None)


@blueprint.post("/login")
async def login_submit() -> ResponseReturnValue:
    """Check the token and start a session on the server; the cookie holds only its id."""
    await check_csrf()
    data = await form()
    token = data.get("token", "")
    target = _safe_next(data.get("next"))
    found = await read(lambda r: tokens.authenticate(r, token)) if token else None
    if found is None:
        log.info("ui.login_failed", token=redact(token))
        return await page(
            "login.html", status=401, next=target, error="That token is unknown or revoked."
        )
    # A fresh session (new id, new CSRF token) on sign-in: nothing planted before survives,
    # and the session this browser had before, if any, ends on the server.
    previous = session.get(SESSION_ID)
    session_id = await write(lambda tx: sessions.start_session(tx, found, previous=previous))
    session.clear()
    session[SESSION_ID] = session_id
    session.permanent = False
    log.info("ui.login", token_id=found.id, role=found.role)
    return redirect(target, 303)


@blueprint.post("/logout")
async def logout() -> ResponseReturnValue:
    """End the session on the server, so no copy of the cookie works again, and forget it."""
    await check_csrf()
    session_id = session.get(SESSION_ID)
    if session_id:
        token_id = await write(lambda tx: sessions.end_session(tx, session_id))
        if token_id is not None:
            log.info("ui.logout", token_id=token_id)
    session.clear()
    return redirect(url_for("ui.login"), 303)

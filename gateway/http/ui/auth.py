"""Signing in with a REST API token, and out again."""

from __future__ import annotations

from urllib.parse import urlsplit

from quart import redirect, request, session, url_for
from quart.typing import ResponseReturnValue

from gateway.auth import hash_token
from gateway.core import tokens
from gateway.http.ui._web import (
    blueprint,
    check_csrf,
    current_user,
    form,
    log,
    page,
    read,
)
from gateway.logs import redact


def _safe_next(target: str | None) -> str:
    """Only same-site paths under /ui: a login link cannot send anyone elsewhere."""
    default = url_for("ui.service_directory")
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/ui/"):
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
    """Check the token; keep only its digest in the signed session cookie."""
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
    # A fresh session (and so a fresh CSRF token) on sign-in: nothing planted before survives.
    session.clear()
    session["token_hash"] = hash_token(token)
    session.permanent = False
    log.info("ui.login", token_id=found.id, role=found.role)
    return redirect(target, 303)


@blueprint.post("/logout")
async def logout() -> ResponseReturnValue:
    """Forget the session."""
    await check_csrf()
    session.clear()
    return redirect(url_for("ui.login"), 303)

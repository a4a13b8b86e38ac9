"""The web UI under ``/ui``: server-rendered pages over the same core as the REST API.

Every action is a plain HTML form (POST, then a 303 redirect to a page), so
the UI works without JavaScript; a few lines of script only add a copy
button and grey out choices the server refuses anyway. Sign-in uses the REST
API's tokens; the session is a record on the server (:mod:`gateway.core.sessions`)
named by a signed cookie (HttpOnly, SameSite=Lax) whose key is generated once per
database: kept beside a SQLite file (:func:`secret_key`), and in a PostgreSQL database
itself, so every node serving it accepts the same cookies
(:func:`gateway.core.sessions.signing_key`).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import structlog
from quart import redirect, url_for
from quart.typing import ResponseReturnValue
from quart_trio import QuartTrio

from gateway.context import GatewayContext
from gateway.http.ui import (  # noqa: F401  # routes
    auth,
    contexts,
    escalation_policies,
    escalation_policy_forms,
    forwarding,
    incident_actions,
    incidents,
    integrations,
    links,
    people,
    schedule_forms,
    schedule_overrides,
    schedules,
    services,
    vendors,
    webhooks,
    words,
)
from gateway.http.ui._web import blueprint

__all__ = ["blueprint", "register", "secret_key", "secret_key_path"]

log = structlog.get_logger("gateway.http.ui")

SESSION_COOKIE = "alert_gateway_ui"


def secret_key_path(database: Path) -> Path:
    """Where the session-signing key of ``database`` lives: ``<database>.ui-secret``."""
    return database.with_name(database.name + ".ui-secret")


def secret_key(database: Path) -> bytes:
    """The database's session-signing key, generated (mode 0600) on first use.

    One key per database, so every daemon serving the same file accepts the
    same sessions; deleting the file signs everyone out at the next start.
    """
    path = secret_key_path(database)
    try:
        key = path.read_bytes().strip()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key + b"\n")
    try:
        # link, not rename: when two processes race, the first key written wins for both.
        os.link(tmp, path)
    except FileExistsError:
        key = path.read_bytes().strip()
    finally:
        tmp.unlink()
    log.info("ui.secret_created", path=str(path))
    return key


def register(app: QuartTrio) -> None:
    """Mount the UI on ``app`` and redirect ``/`` to it when nothing else serves ``/``."""
    gateway: GatewayContext = app.config["GATEWAY"]
    # PostgreSQL: the key every node shares, from the database (core/sessions.py).
    app.secret_key = gateway.ui_secret or secret_key(Path(gateway.store.path))
    server = gateway.settings.server
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/ui",
        # Secure when the browser reaches us over HTTPS (our TLS or a proxy's public URL).
        SESSION_COOKIE_SECURE=server.certfile is not None
        or (server.public_url or "").startswith("https:"),
    )
    app.register_blueprint(blueprint)
    if not any(rule.rule == "/" for rule in app.url_map.iter_rules()):

        async def root() -> ResponseReturnValue:
            return redirect("/ui/", 302)

        app.add_url_rule("/", "ui_root", root)

    async def favicon() -> ResponseReturnValue:
        # Browsers ask for /favicon.ico on any page without a <link rel="icon"> (the JSON
        # routes, an error page): answer with the UI's icon instead of a 404 every time.
        return redirect(url_for("ui.static", filename="favicon.svg"), 301)

    app.add_url_rule("/favicon.ico", "favicon", favicon)

"""A daemon for the UI tests, tokens for each role, and a signed-in httpx client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.scaffold import Daemon, config, daemon_running, key, v2, v2_service

PAYMENTS_KEY = key("ui-payments")
QUIET_KEY = key("ui-quiet")

CONFIG = config(
    v2_service("Payments", PAYMENTS_KEY, incident_urgency="low"),
    v2_service("Quiet", QUIET_KEY),
    # Email integrations are made only where an SMTP listener can receive their mail.
    smtp={"listen": "127.0.0.1:0", "domain": "example.com"},
)

ROLES = {"manager": "user", "responder": "limited_user", "observer": "observer"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def token_cli(daemon: Daemon, *args: str) -> str:
    """Run ``alert-gateway token ARGS --config …`` as an operator would; return its output."""
    done = daemon.cli("token", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def create_token(daemon: Daemon, role: str, name: str) -> str:
    """A new token for ``role``: the last word of the CLI's last line."""
    output = token_cli(daemon, "create", "--role", role, "--name", name)
    return output.strip().splitlines()[-1].split()[-1]


@dataclass
class UiGateway:
    """A running daemon with one token per role."""

    daemon: Daemon
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.daemon.base_url


@contextmanager
def ui_running(workdir: Path, config_text: str = CONFIG) -> Iterator[UiGateway]:
    """The daemon (:func:`daemon_running`) with a manager, a responder and an observer token."""
    with daemon_running(workdir, config_text) as daemon:
        gateway = UiGateway(daemon)
        for who, role in ROLES.items():
            gateway.tokens[who] = create_token(daemon, role, who)
        yield gateway


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    match = _CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


@contextmanager
def signed_in(gateway: UiGateway, who: str) -> Iterator[httpx.Client]:
    """An httpx client (cookies kept) signed in as ``who`` through the login form."""
    with httpx.Client(base_url=gateway.base_url, timeout=10.0) as client:
        page = client.get("/ui/login")
        assert page.status_code == 200
        response = client.post(
            "/ui/login",
            data={"token": gateway.tokens[who], "csrf_token": csrf_of(page.text)},
        )
        assert response.status_code == 303, response.text
        yield client


async def sign_in(client: httpx.AsyncClient, token: str) -> dict[str, str]:
    """Sign ``client`` in through an in-process gateway's login form; the session cookie,
    as a header.

    With an https ``public_url`` the cookies are ``Secure`` and httpx does not send them
    over plain HTTP to 127.0.0.1: such a test passes the returned header itself (the login
    form's own cookie is passed here the same way).
    """
    login = await client.get("/ui/login")
    signed = await client.post(
        "/ui/login",
        data={"token": token, "csrf_token": csrf_of(login.text)},
        headers=_cookie(login),
    )
    assert signed.status_code == 303, signed.text
    return _cookie(signed)


def _cookie(answer: httpx.Response) -> dict[str, str]:
    return {"cookie": answer.headers["set-cookie"].split(";", 1)[0]}


def post_form(client: httpx.Client, page_path: str, action: str, **data: str) -> httpx.Response:
    """Fetch ``page_path`` for its CSRF token, then POST ``data`` to ``action``."""
    page = client.get(page_path)
    assert page.status_code == 200, page.text
    return client.post(action, data={"csrf_token": csrf_of(page.text), **data})


def v2_event(gateway: UiGateway, routing_key: str, **payload: str) -> httpx.Response:
    """Send an Events API v2 trigger (summary "Disk full" unless ``payload`` says otherwise)."""
    body = v2(routing_key, **{"summary": "Disk full", **payload})
    return httpx.post(f"{gateway.base_url}/v2/enqueue", json=body, timeout=10.0)

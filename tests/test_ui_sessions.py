"""Web UI sessions are records on the server: sign-out, revocation, sign-in and restarts.

Issue 14 item 11: a cookie copied before ``/ui/logout`` kept working, because the cookie
held the token's digest and nothing on the server ended. Also from the issue's list: a
sign-in starts a fresh session, and the post-login redirect never leaves the site.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest

from tests.scaffold import Daemon, config, key, v2_service

pytestmark = pytest.mark.slow  # a real daemon process and the token CLI

COOKIE = "alert_gateway_ui"
CONFIG = config(v2_service("Sessions", key("ui-sessions")))
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class UiGateway:
    """A running daemon and the tokens minted for it, by name."""

    daemon: Daemon
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.daemon.base_url


def create_token(daemon: Daemon, role: str, name: str) -> str:
    """A new token through the CLI, as an operator makes one: its secret."""
    done = daemon.cli("token", "create", "--role", role, "--name", name)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1].split()[-1]


def revoke(daemon: Daemon, name: str) -> str:
    """Revoke the token called ``name`` through the CLI; its id."""
    token_id = str(daemon.scalar("SELECT id FROM api_tokens WHERE name = ?", name))
    done = daemon.cli("token", "revoke", token_id)
    assert done.returncode == 0, done.stdout + done.stderr
    return token_id


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    match = _CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiGateway]:
    daemon = Daemon(tmp_path_factory.mktemp("ui-sessions"), CONFIG)
    try:
        daemon.start()
        gateway = UiGateway(daemon)
        for name, role in (("manager", "user"), ("observer", "observer")):
            gateway.tokens[name] = create_token(daemon, role, name)
        yield gateway
        assert daemon.stop() == 0, daemon.output()
    finally:
        daemon.kill()


@contextmanager
def signed_in(gw: UiGateway, who: str) -> Iterator[httpx.Client]:
    """A browser (httpx keeping cookies) signed in as ``who`` through the form."""
    with httpx.Client(base_url=gw.base_url, timeout=10.0) as client:
        assert sign_in(client, gw.tokens[who]).status_code == 303
        yield client


def copy_of(client: httpx.Client) -> str:
    """The session cookie as someone who copied it would hold it."""
    value = client.cookies.get(COOKIE)
    assert value, "no session cookie"
    return value


def with_cookie(base_url: str, cookie: str) -> httpx.Client:
    """A new client (another browser, an attacker) presenting a copied cookie."""
    return httpx.Client(base_url=base_url, timeout=10.0, cookies={COOKIE: cookie})


def signed_in_as(client: httpx.Client) -> bool:
    """Whether the client's session reaches a page (a signed-out one is sent to log in)."""
    answer = client.get("/ui/services")
    assert answer.status_code in (200, 302), answer.text
    return answer.status_code == 200


def sign_in(client: httpx.Client, token: str, next_: str | None = None) -> httpx.Response:
    """The sign-in form, submitted with the page's CSRF token (a signed-in browser is sent
    on from the form, so it takes the token from a page it sees)."""
    page = client.get("/ui/login")
    if page.status_code == 302:
        page = client.get("/ui/services")
    data = {"token": token, "csrf_token": csrf_of(page.text)}
    if next_ is not None:
        data["next"] = next_
    return client.post("/ui/login", data=data)


def sign_out(client: httpx.Client) -> None:
    """The Sign out button: a POST with the session's CSRF token."""
    page = client.get("/ui/services")
    answer = client.post("/ui/logout", data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/login"


# -- sign-out -----------------------------------------------------------------------------


def test_sign_out_ends_the_session_for_every_copy_of_the_cookie(gw: UiGateway) -> None:
    with signed_in(gw, "manager") as browser:
        stolen = copy_of(browser)
        with with_cookie(gw.base_url, stolen) as thief:
            assert signed_in_as(thief)  # a copy works while the session lives
            csrf = csrf_of(thief.get("/ui/services").text)
            sign_out(browser)
            assert not signed_in_as(browser)
            assert not signed_in_as(thief)
            # A form posted with the copy (and its valid CSRF token) changes nothing.
            refused = thief.post(
                "/ui/services/new",
                data={"csrf_token": csrf, "name": "After sign-out", "urgency": "high"},
            )
            assert refused.status_code == 401, refused.text
    assert gw.daemon.scalar("SELECT count(*) FROM services WHERE name = 'After sign-out'") == 0


def test_signing_out_twice_or_without_a_session_is_harmless(gw: UiGateway) -> None:
    with signed_in(gw, "observer") as browser:
        page = browser.get("/ui/services")
        csrf = csrf_of(page.text)
        assert browser.post("/ui/logout", data={"csrf_token": csrf}).status_code == 303
        # The cleared session has no CSRF token left: a second sign-out is a stale form.
        again = browser.post("/ui/logout", data={"csrf_token": csrf})
        assert again.status_code == 400


# -- revocation ---------------------------------------------------------------------------


def test_revoking_a_token_ends_all_its_sessions(gw: UiGateway) -> None:
    gw.tokens["revoked-many"] = create_token(gw.daemon, "user", "revoked-many")
    with signed_in(gw, "revoked-many") as first, signed_in(gw, "revoked-many") as second:
        assert signed_in_as(first) and signed_in_as(second)
        live = (
            "SELECT count(*) FROM ui_sessions s JOIN api_tokens t ON t.id = s.token_id"
            " WHERE t.name = 'revoked-many' AND s.ended_at IS NULL"
        )
        assert gw.daemon.scalar(live) == 2
        token_id = revoke(gw.daemon, "revoked-many")
        assert not signed_in_as(first) and not signed_in_as(second)
        assert gw.daemon.scalar(live) == 0, token_id
        # Signing in again with the revoked token is refused.
        assert sign_in(first, gw.tokens["revoked-many"]).status_code == 401


# -- sign-in --------------------------------------------------------------------------------


def test_sign_in_starts_a_fresh_session(gw: UiGateway) -> None:
    with httpx.Client(base_url=gw.base_url, timeout=10.0) as browser:
        page = browser.get("/ui/login")
        planted = copy_of(browser)  # what a fixation attacker would have handed the victim
        before = csrf_of(page.text)
        assert sign_in(browser, gw.tokens["observer"]).status_code == 303
        assert copy_of(browser) != planted
        assert csrf_of(browser.get("/ui/services").text) != before
        with with_cookie(gw.base_url, planted) as attacker:
            assert not signed_in_as(attacker)
        # Signing in again (as someone else) from the same browser ends the first session.
        first = copy_of(browser)
        assert sign_in(browser, gw.tokens["manager"]).status_code == 303
        assert signed_in_as(browser)
        with with_cookie(gw.base_url, first) as old:
            assert not signed_in_as(old)


def test_a_cookie_from_before_sessions_were_kept_signs_nobody_in(gw: UiGateway) -> None:
    # An old cookie held only the token's digest; it is no session id.
    with httpx.Client(base_url=gw.base_url, timeout=10.0) as browser:
        assert not signed_in_as(browser)
        browser.cookies.set(COOKIE, "not.a.signed.cookie")
        assert not signed_in_as(browser)


OFF_SITE = [
    "//other.host/ui/",
    "\\\\other.host",
    "/\\other.host/ui/",
    "/ui/\\..\\..\\/other.host",
    "https://other.host/ui/",
    "http:other.host/ui/",
    "javascript:alert(1)//ui/",
    "/\t/other.host/ui/",
    "/ui/\r\nSet-Cookie: planted=1",
    "/ui/../../other",
    "%2F%2Fother.host/ui/",
    "ui/services",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_post_login_redirect_never_leaves_the_site(gw: UiGateway, target: str) -> None:
    with httpx.Client(base_url=gw.base_url, timeout=10.0) as browser:
        answer = sign_in(browser, gw.tokens["observer"], next_=target)
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/ui/services"
        assert "planted" not in answer.headers.get("set-cookie", "")
        # Already signed in, the login page's own redirect applies the same rule.
        again = browser.get("/ui/login", params={"next": target})
        assert again.status_code == 302 and again.headers["location"] == "/ui/services"


def test_post_login_redirect_keeps_a_page_of_the_ui(gw: UiGateway) -> None:
    with httpx.Client(base_url=gw.base_url, timeout=10.0) as browser:
        target = "/ui/incidents?status=triggered"
        answer = sign_in(browser, gw.tokens["observer"], next_=target)
        assert answer.headers["location"] == target


# -- restarts -------------------------------------------------------------------------------


def test_a_restart_keeps_sessions_and_sign_outs(spawn: Callable[..., Daemon]) -> None:
    daemon = spawn(CONFIG)
    gateway = UiGateway(daemon, {"manager": create_token(daemon, "user", "manager")})
    with signed_in(gateway, "manager") as kept, signed_in(gateway, "manager") as ended:
        kept_cookie, ended_cookie = copy_of(kept), copy_of(ended)
        sign_out(ended)
    assert daemon.stop() == 0
    daemon.start()
    with with_cookie(daemon.base_url, kept_cookie) as browser:
        assert signed_in_as(browser)
    with with_cookie(daemon.base_url, ended_cookie) as browser:
        assert not signed_in_as(browser)

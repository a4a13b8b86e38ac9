"""Absolute URLs come from ``[server] public_url``, never from a client's ``Host`` header.

Issue 14 item 10: ``Host: evil.example`` made every ``self`` and ``html_url`` point at
``http://evil.example/...`` even with ``public_url`` set. Every REST object with a link, the
UI's vendor URLs and every redirect are checked with a hostile ``Host``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from gateway.testing import gateway_running
from tests.incident_helpers import FROM, headers, make_tokens
from tests.scaffold import config, key, v2, v2_service

PUBLIC = "https://alerts.example.com"
EVIL = "evil.example"
KEY = key("public-url")
CONFIG = config(v2_service("Linked", KEY), server={"public_url": PUBLIC + "/"}, storage=None)
_URL = re.compile(r"https?://[^\s\"'<>]+")


def urls_in(value: Any) -> list[str]:
    """Every absolute URL anywhere in a JSON value."""
    if isinstance(value, dict):
        return [u for v in value.values() for u in urls_in(v)]
    if isinstance(value, list):
        return [u for v in value for u in urls_in(v)]
    return _URL.findall(value) if isinstance(value, str) else []


def hostile(token: str) -> dict[str, str]:
    """A manager's REST headers with a forged ``Host``."""
    return {**headers(token), "Host": EVIL}


async def walk_rest(http: httpx.AsyncClient, token: str) -> list[Any]:
    """Every REST object kind that carries a link, each read with ``Host: evil.example``."""
    h = hostile(token)
    bodies: list[Any] = []

    async def call(method: str, path: str, **kw: Any) -> Any:
        answer = await http.request(method, path, headers=h, **kw)
        assert answer.status_code < 300, (method, path, answer.text)
        assert EVIL not in answer.headers.get("location", "")
        body = answer.json() if answer.content else None
        bodies.append(body)
        return body

    created = await call("POST", "/services", json={"service": {"name": "Fresh"}})
    sid = created["service"]["id"]
    integration = await call(
        "POST",
        f"/services/{sid}/integrations",
        json={"integration": {"type": "events_api_v2_inbound_integration", "name": "v2"}},
    )
    iid = integration["integration"]["id"]
    await call("GET", f"/services/{sid}/integrations/{iid}", params={"include[]": "services"})
    await call("GET", "/services", params={"include[]": "integrations"})
    await call("GET", f"/services/{sid}", params={"include[]": "integrations"})
    sent = await http.post("/v2/enqueue", json=v2(KEY, dedup_key="linked"), headers={"Host": EVIL})
    assert sent.status_code == 202, sent.text
    incidents = await call("GET", "/incidents")
    inc = incidents["incidents"][0]["id"]
    await call("GET", f"/incidents/{inc}", params={"include[]": "first_trigger_log_entries"})
    await call("GET", f"/incidents/{inc}/alerts")
    entries = await call("GET", f"/incidents/{inc}/log_entries")
    await call("GET", f"/log_entries/{entries['log_entries'][0]['id']}")
    window = {
        "maintenance_window": {
            "type": "maintenance_window",
            "start_time": "2099-01-01T00:00:00Z",
            "end_time": "2099-01-01T01:00:00Z",
            "services": [{"id": sid, "type": "service_reference"}],
        }
    }
    mw = await call("POST", "/maintenance_windows", json=window)
    await call("GET", f"/maintenance_windows/{mw['maintenance_window']['id']}")
    await call("GET", "/maintenance_windows")
    await call("GET", "/vendors")
    return bodies


async def test_every_rest_link_starts_with_public_url_whatever_the_host(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        bodies = await walk_rest(gw.client, tokens["user"])
    links = [u for body in bodies for u in urls_in(body)]
    ours = [u for u in links if "/ui/" in u or u.startswith(PUBLIC)]
    # Services, integrations, incidents, alerts, log entries and windows all link here.
    assert len(ours) > 20, links
    assert not [u for u in links if EVIL in u], links
    assert all(u.startswith(PUBLIC + "/") and "//" not in u[len(PUBLIC) :] for u in ours), ours


async def test_ui_urls_and_redirects_ignore_the_host(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        jar: dict[str, str] = {}

        async def ui(method: str, path: str, **kw: Any) -> httpx.Response:
            # The session cookie is carried by hand: a client's jar files it under the
            # forged host and would not send it back.
            cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
            sent = {"Host": EVIL, **({"Cookie": cookie} if cookie else {})}
            answer = await gw.client.request(method, path, headers=sent, **kw)
            for name, value in answer.cookies.items():
                jar[name] = value
            assert EVIL not in answer.headers.get("location", ""), (path, answer.headers)
            return answer

        assert (await ui("GET", "/")).status_code == 302
        assert (await ui("GET", "/ui/services")).status_code == 302  # to the login page
        login = await ui("GET", "/ui/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        assert csrf
        data = {"token": tokens["observer"], "csrf_token": csrf.group(1)}
        assert (await ui("POST", "/ui/login", data=data)).status_code == 303
        page = await ui("GET", "/ui/vendors")
        assert page.status_code == 200, page.text
        assert EVIL not in page.text
        assert f"{PUBLIC}/integration/{{key}}/enqueue" in page.text
        # The REST API's html_url targets that redirect to the page showing them.
        services = await gw.client.get("/services", headers=hostile(tokens["user"]))
        sid = services.json()["services"][0]["id"]
        iid = services.json()["services"][0]["integrations"][0]["id"]
        moved = await ui("GET", f"/ui/services/{sid}/integrations/{iid}")
        assert moved.status_code in (301, 302, 303), moved.text


async def test_without_public_url_links_follow_the_request_host(tmp_path: Path) -> None:
    # The documented fallback (docs/configuration.md): set public_url where that is a risk.
    async with gateway_running(tmp_path, config(v2_service("Linked", KEY), storage=None)) as gw:
        tokens = await make_tokens(gw)
        answer = await gw.client.post(
            "/services",
            headers={**headers(tokens["user"], FROM), "Host": "gw.internal:8080"},
            json={"service": {"name": "Local"}},
        )
        assert answer.status_code == 201, answer.text
        service = answer.json()["service"]
        assert service["self"] == f"http://gw.internal:8080/services/{service['id']}"
        assert service["html_url"] == f"http://gw.internal:8080/ui/services/{service['id']}"

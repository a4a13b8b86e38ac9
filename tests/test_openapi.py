"""The OpenAPI document: served, kept in the repository, and in step with the routes."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.http.app import create_quart_app
from gateway.http.openapi import document, render
from tests.scaffold import REPO, config, gateway_running

CONFIG = config()
# Not part of the API: the web UI's pages (and / which redirects there), static files, the icon.
UNDOCUMENTED = re.compile(r"^/$|^/favicon\.ico$|^/(ui|static)(/|$)")
METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH"}


def _shape(path: str) -> str:
    """A path with its parameters blanked: /services/<id> and /services/{id} agree."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def test_docs_openapi_json_is_current() -> None:
    committed = (REPO / "docs" / "openapi.json").read_text()
    assert committed == render(), "docs/openapi.json is stale: run `make openapi`"


async def test_openapi_json_is_served(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        answer = await gw.client.get("/openapi.json")
        assert answer.status_code == 200
        assert answer.json() == document()


async def test_every_route_is_documented_and_every_documented_route_exists(
    tmp_path: Path,
) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        quart = create_quart_app(gw.running.context)
        served: set[tuple[str, str]] = set()
        for rule in quart.url_map.iter_rules():
            if UNDOCUMENTED.match(rule.rule):
                continue
            for method in (rule.methods or set()) & METHODS:
                served.add((method.lower(), _shape(rule.rule)))
        # The raw ingest app in front of Quart: each vendor's exact paths, and the key URLs.
        for vendor in gw.running.context.plugins.vendors.values():
            served.update(("post", _shape(path)) for path in vendor.paths)
        served.update(
            ("post", _shape(p))
            for p in ("/integration/{k}/enqueue", "/x-ere/{k}", "/adapter/{a}/v1/{k}")
        )
    documented = {
        (method, _shape(path))
        for path, operations in document()["paths"].items()
        for method in operations
    }
    assert sorted(served - documented) == [], "served but not in gateway/http/openapi.py"
    assert sorted(documented - served) == [], "documented but not served"

"""Helpers for the services/integrations/vendors REST tests: a daemon, tokens per role, calls."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.auth import hash_token, new_token
from gateway.store.offline import write_sync
from tests.scaffold import Daemon, config, daemon_running, v2

# No services: each test creates its own through the API. [smtp] lets it make email ones.
CONFIG = config(smtp={"listen": "127.0.0.1:0", "domain": "gw.test"})

ROLES = ("observer", "limited_user", "user", "admin")
ACCEPT = "application/vnd.pagerduty+json;version=2"


def target_user(user: str = "@Policy target") -> dict[str, str]:
    """A rule's user target: an id, or ``@name`` for the user :meth:`Api.user` makes."""
    return {"type": "user_reference", "id": user}


class Api:
    """A running daemon with one API token per role."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.http = daemon.client()
        self.tokens: dict[str, str] = {}
        self.users: dict[str, str] = {}
        self.schedules: dict[str, str] = {}
        for role in ROLES:
            secret = new_token()
            write_sync(
                daemon.db_path,
                lambda tx, role=role, secret=secret: tx.insert_token(
                    name=role, role=role, token_hash=hash_token(secret), last4=secret[-4:]
                ),
            )
            self.tokens[role] = secret

    def call(
        self, method: str, path: str, *, role: str | None = "user", **kw: Any
    ) -> httpx.Response:
        """A REST call as ``role`` (``None``: no Authorization header)."""
        headers = {"Accept": ACCEPT, **kw.pop("headers", {})}
        if role is not None:
            headers["Authorization"] = f"Token token={self.tokens[role]}"
        return self.http.request(method, path, headers=headers, **kw)

    def create_service(self, name: str, **fields: Any) -> dict[str, Any]:
        """POST /services as a manager; the created service object."""
        r = self.call("POST", "/services", json={"service": {"name": name, **fields}})
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()["service"]
        return body

    def user(self, name: str) -> str:
        """The id of the user called ``name``, made through ``POST /users`` the first time."""
        if name not in self.users:
            email = re.sub(r"\W+", ".", name.lower()).strip(".") + "@example.com"
            body = {"user": {"type": "user", "name": name, "email": email}}
            r = self.call("POST", "/users", role="admin", json=body)
            assert r.status_code == 201, r.text
            self.users[name] = r.json()["user"]["id"]
        return self.users[name]

    def schedule(self, name: str, user: str = "Rota Person") -> str:
        """The id of a schedule ``name`` with ``user`` always on call (one layer of one person,
        made through ``POST /schedules`` the first time)."""
        if name not in self.schedules:
            layer = {
                "start": "2026-01-01T00:00:00Z",
                "rotation_virtual_start": "2026-01-01T00:00:00Z",
                "rotation_turn_length_seconds": 86400,
                "users": [{"user": {"id": self.user(user), "type": "user_reference"}}],
            }
            body = {"name": name, "time_zone": "UTC", "schedule_layers": [layer]}
            r = self.call("POST", "/schedules", json={"schedule": body})
            assert r.status_code == 201, r.text
            self.schedules[name] = r.json()["schedule"]["id"]
        return self.schedules[name]

    def with_users(self, value: Any) -> Any:
        """``value`` with every ``"@name"`` id replaced by that user's (:meth:`user`)."""
        if isinstance(value, dict):
            return {k: self.with_users(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.with_users(v) for v in value]
        if isinstance(value, str) and value.startswith("@"):
            return self.user(value[1:])
        return value

    def create_policy(self, name: str, **fields: Any) -> dict[str, Any]:
        """POST /escalation_policies as a manager: one rule, unless ``fields`` say otherwise."""
        rule = {"escalation_delay_in_minutes": 30, "targets": [target_user()]}
        body = {"type": "escalation_policy", "name": name, "escalation_rules": [rule], **fields}
        body = self.with_users(body)
        r = self.call("POST", "/escalation_policies", json={"escalation_policy": body})
        assert r.status_code == 201, r.text
        made: dict[str, Any] = r.json()["escalation_policy"]
        return made

    def add_integration(self, service_id: str, **fields: Any) -> dict[str, Any]:
        """POST an integration (Events API v2 unless said otherwise)."""
        fields.setdefault("type", "events_api_v2_inbound_integration")
        r = self.call("POST", f"/services/{service_id}/integrations", json={"integration": fields})
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()["integration"]
        return body

    def event(self, routing_key: str, action: str = "trigger", dedup: str = "d") -> httpx.Response:
        """Send an Events API v2 event."""
        return self.http.post("/v2/enqueue", json=v2(routing_key, action, dedup))

    def incidents(self, where: str = "1", *params: Any) -> list[tuple[Any, ...]]:
        """``(id, service_id, status)`` of incidents matching ``where``, by number."""
        return self.daemon.query(
            f"SELECT id, service_id, status FROM incidents WHERE {where} ORDER BY number", *params
        )


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One daemon for a test module (tests use distinct service names)."""
    with daemon_running(tmp_path_factory.mktemp("rest"), CONFIG) as daemon:
        client = Api(daemon)
        with client.http:
            yield client


def assert_error(r: httpx.Response, status: int, code: int) -> dict[str, Any]:
    """PagerDuty's JSON error body with this status and code; returns ``error``."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = r.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["errors"], list)
    return error

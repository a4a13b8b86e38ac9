"""Shared by the incident and maintenance-window REST tests: a config, tokens, headers."""

from __future__ import annotations

from typing import Any

import httpx

from gateway.auth import hash_token
from gateway.store import Tx
from gateway.testing import TestGateway
from tests.support import key, v2

WEB_KEY = key("inc-web")
DB_KEY = key("inc-db")
OFF_KEY = key("inc-off")
CONFIG = f"""
[[services]]
name = "Web"
  [[services.integrations]]
  name = "v2"
  type = "events_api_v2"
  integration_key = "{WEB_KEY}"

[[services]]
name = "Database"
incident_urgency = "severity_based"
  [[services.integrations]]
  name = "v2"
  type = "events_api_v2"
  integration_key = "{DB_KEY}"

[[services]]
name = "Retired"
status = "disabled"
  [[services.integrations]]
  name = "v2"
  type = "events_api_v2"
  integration_key = "{OFF_KEY}"
"""
ROLES = ("observer", "limited_user", "user", "admin")
FROM = "oncall@example.com"


async def make_tokens(gw: TestGateway) -> dict[str, str]:
    """One token per role, inserted straight into the store: ``{role: token}``."""

    def insert(tx: Tx) -> dict[str, str]:
        out = {}
        for role in ROLES:
            secret = f"test-token-{role}"
            tx.insert_token(name=role, role=role, token_hash=hash_token(secret), last4=secret[-4:])
            out[role] = secret
        return out

    return await gw.store.write(insert)


def headers(token: str | None, sender: str | None = FROM) -> dict[str, str]:
    """PagerDuty client headers: the version Accept, the token, and ``From``."""
    out = {"Accept": "application/vnd.pagerduty+json;version=2"}
    if token is not None:
        out["Authorization"] = f"Token token={token}"
    if sender is not None:
        out["From"] = sender
    return out


async def trigger(
    client: httpx.AsyncClient, routing_key: str, dedup_key: str, **payload: Any
) -> None:
    """Send an Events API v2 trigger and check it was accepted."""
    answer = await client.post("/v2/enqueue", json=v2(routing_key, dedup_key=dedup_key, **payload))
    assert answer.status_code == 202, answer.text


async def service_id(gw: TestGateway, name: str) -> str:
    """The id of a configured service."""

    def find(reader: Any) -> str:
        service = reader.service_by_name(name)
        assert service is not None
        return str(service.id)

    return await gw.store.read(find)


def error(answer: httpx.Response) -> tuple[int, int, str]:
    """``(HTTP status, PagerDuty code, message)`` of an error answer (always JSON)."""
    assert answer.headers["content-type"].startswith("application/json"), answer.text
    body = answer.json()["error"]
    return answer.status_code, body["code"], body["message"]

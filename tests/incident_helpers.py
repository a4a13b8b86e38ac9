"""Shared by the incident and maintenance-window REST tests: a config, tokens, headers."""

from __future__ import annotations

from typing import Any

import httpx

from gateway.auth import hash_token
from gateway.store import Tx
from tests.scaffold import TestGateway, config, key, v2, v2_service

WEB_KEY = key("inc-web")
DB_KEY = key("inc-db")
OFF_KEY = key("inc-off")
CONFIG = config(
    v2_service("Web", WEB_KEY),
    v2_service("Database", DB_KEY, incident_urgency="severity_based"),
    v2_service("Retired", OFF_KEY, status="disabled"),
    storage=None,  # gateway_running puts the database under tmp_path
)
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

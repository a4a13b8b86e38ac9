"""A deleted integration's key is answered as PagerDuty answers an invalid routing key, on
every ingest path and whichever face deleted it (issue 14 item 8).

The answer is what a sender sees, so it is what these tests check: a 400 with PagerDuty's
body, the same as for a key nobody ever owned, and no incident, alert or log entry made.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from gateway.auth import hash_token
from gateway.core.integrations import delete_integration
from gateway.store import Tx
from gateway.store.offline import write_sync
from tests.scaffold import TestGateway, config, gateway_running, key, v2, v2_service

KEY = key("deleted-key")
KEPT = key("kept-key")
NEVER = key("never-owned")
CONFIG = config(
    v2_service("Doomed", KEY),
    v2_service("Other", KEPT),
)
TOKEN = "deleted-keys-manager-token"
INVALID_ROUTING_KEY = {
    "status": "invalid event",
    "message": "Event object is invalid",
    "errors": ["Invalid routing key"],
}
V1 = "/generic/2010-04-15/create_event.json"


async def _rest(gw: TestGateway, method: str, path: str, body: Any = None) -> Any:
    headers = {
        "Accept": "application/vnd.pagerduty+json;version=2",
        "Authorization": f"Token token={TOKEN}",
    }
    answer = await gw.client.request(method, path, headers=headers, json=body)
    assert answer.status_code in (200, 201, 204), answer.text
    return answer.json() if answer.content else None


async def _owner(gw: TestGateway, routing_key: str) -> tuple[str, str]:
    """``(service id, integration id)`` of the integration that owns ``routing_key``."""
    integration = await gw.store.read(lambda r: r.integration_by_key(routing_key))
    assert integration is not None
    return integration.service_id, integration.id


async def declared(gw: TestGateway) -> str:
    """The key the configuration file declares."""
    return KEY


async def made_at_runtime(gw: TestGateway) -> str:
    """A key of an integration on a service made through the REST API."""
    sid = (await _rest(gw, "POST", "/services", {"service": {"name": "Runtime"}}))["service"]["id"]
    body = {"integration": {"type": "events_api_v2_inbound_integration"}}
    made = await _rest(gw, "POST", f"/services/{sid}/integrations", body)
    return str(made["integration"]["integration_key"])


async def by_rest_integration(gw: TestGateway, routing_key: str) -> None:
    sid, iid = await _owner(gw, routing_key)
    await _rest(gw, "DELETE", f"/services/{sid}/integrations/{iid}")


async def by_rest_service(gw: TestGateway, routing_key: str) -> None:
    sid, _ = await _owner(gw, routing_key)
    await _rest(gw, "DELETE", f"/services/{sid}")


async def by_another_process(gw: TestGateway, routing_key: str) -> None:
    """As ``alert-gateway integrations delete`` does: the core, through its own connection."""
    _, iid = await _owner(gw, routing_key)
    await trio.to_thread.run_sync(
        partial(write_sync, gw.store.path, lambda tx: delete_integration(tx, iid))
    )


async def _posts(gw: TestGateway, routing_key: str) -> list[tuple[str, int, Any]]:
    """The key on every Events API form: v2 body, key in the URL, v1 body."""
    answers = [
        ("v2", await gw.client.post("/v2/enqueue", json=v2(routing_key, dedup_key="after"))),
        (
            "url",
            await gw.client.post(
                gw.integration_url(routing_key), json=v2(routing_key, dedup_key="after")
            ),
        ),
        (
            "v1",
            await gw.client.post(
                V1,
                json={"service_key": routing_key, "event_type": "trigger", "description": "d"},
            ),
        ),
    ]
    return [(form, answer.status_code, answer.json()) for form, answer in answers]


async def _counts(gw: TestGateway) -> list[int]:
    return [await gw.count(t) for t in ("incidents", "alerts", "log_entries", "change_events")]


@pytest.mark.parametrize(
    ("prepare", "delete"),
    [
        (declared, by_rest_integration),
        (made_at_runtime, by_rest_service),
        (declared, by_another_process),
    ],
    ids=["rest-integration", "rest-service", "another-process"],
)
async def test_a_deleted_key_gets_the_invalid_routing_key_answer(
    tmp_path: Path,
    prepare: Callable[[TestGateway], Awaitable[str]],
    delete: Callable[[TestGateway, str], Awaitable[None]],
) -> None:
    refused = [(form, 400, INVALID_ROUTING_KEY) for form in ("v2", "url", "v1")]
    async with gateway_running(tmp_path, CONFIG) as gw:
        await gw.store.write(
            lambda tx: Tx.insert_token(
                tx, name="m", role="user", token_hash=hash_token(TOKEN), last4=TOKEN[-4:]
            )
        )
        doomed = await prepare(gw)
        # Live on every form (and now cached for the key-in-URL one).
        assert [status for _, status, _ in await _posts(gw, doomed)] == [202, 202, 200]
        await delete(gw, doomed)
        before = await _counts(gw)
        answers = await _posts(gw, doomed)
        assert answers == refused
        assert answers == await _posts(gw, NEVER)  # exactly as for a key nobody owned
        assert await _counts(gw) == before
        assert [status for _, status, _ in await _posts(gw, KEPT)] == [202, 202, 200]

    # After a restart (the file still declaring KEY), the key stays refused.
    async with gateway_running(tmp_path, CONFIG) as gw:
        before = await _counts(gw)
        assert await _posts(gw, doomed) == refused
        assert await _counts(gw) == before

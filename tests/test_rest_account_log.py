"""``GET /log_entries`` for the whole account, and a deleted service's incidents stay readable.

Issue 15 item 9: suppressed events and service or integration changes could be found only
by an id nobody had; and an incident whose service was deleted pointed at a service with
no name (a 404 and a null summary), as PagerDuty never does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from gateway.testing import gateway_running
from tests.incident_helpers import headers, make_tokens, trigger
from tests.scaffold import config

CONFIG = config(storage=None)


async def _service_with_key(
    http: httpx.AsyncClient, h: dict[str, str], name: str
) -> tuple[str, str, str]:
    service = (await http.post("/services", headers=h, json={"service": {"name": name}})).json()
    sid = service["service"]["id"]
    made = await http.post(
        f"/services/{sid}/integrations",
        headers=h,
        json={"integration": {"name": f"{name} v2", "type": "events_api_v2_inbound_integration"}},
    )
    integration = made.json()["integration"]
    return sid, integration["id"], integration["integration_key"]


async def _all(http: httpx.AsyncClient, h: dict[str, str], **params: Any) -> dict[str, Any]:
    answer = await http.get("/log_entries", headers=h, params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_the_account_log_lists_suppressed_events_and_changes_newest_first(
    tmp_path: Path,
) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        h = headers(tokens["user"])
        sid, _, key = await _service_with_key(gw.client, h, "Muted")
        await trigger(gw.client, key, "before")
        disabled = await gw.client.put(
            f"/services/{sid}", headers=h, json={"service": {"status": "disabled"}}
        )
        assert disabled.status_code == 200
        await trigger(gw.client, key, "while-disabled")
        body = await _all(gw.client, h)
        types = [e["type"] for e in body["log_entries"]]
        assert types[0] == "suppress_log_entry"  # newest first
        assert "trigger_log_entry" in types
        assert any(t not in ("trigger_log_entry", "suppress_log_entry") for t in types)
        suppressed = body["log_entries"][0]
        assert suppressed["incident"] is None
        assert suppressed["service"]["id"] == sid
        assert suppressed["summary"] == "Suppressed trigger: service disabled"
        assert body["total"] is None and body["more"] is False
        # is_overview keeps the state changes and suppressions only.
        overview = await _all(gw.client, h, is_overview="true", total="true")
        assert {e["type"] for e in overview["log_entries"]} == {
            "trigger_log_entry",
            "suppress_log_entry",
        }
        assert overview["total"] == 2
        # Paging in SQL: one a page, more says what follows.
        first = await _all(gw.client, h, limit=1)
        assert len(first["log_entries"]) == 1 and first["more"] is True
        # since/until bound the range; until before since is a 400.
        later = await _all(gw.client, h, since=suppressed["created_at"])
        assert [e["id"] for e in later["log_entries"]] == [suppressed["id"]]
        backwards = await gw.client.get(
            "/log_entries",
            headers=h,
            params={"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
        )
        assert backwards.status_code == 400
        # include[]=incidents swaps the reference for the whole incident.
        with_incidents = await _all(gw.client, h, include=["incidents"], is_overview="true")
        triggered = [e for e in with_incidents["log_entries"] if e["incident"]]
        assert triggered[0]["incident"]["type"] == "incident"
        assert "incident_number" in triggered[0]["incident"]


async def test_a_deleted_services_incidents_keep_its_name(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        h = headers(tokens["user"])
        sid, iid, key = await _service_with_key(gw.client, h, "Gone Soon")
        await trigger(gw.client, key, "d1")
        incident = (await gw.client.get("/incidents", headers=h)).json()["incidents"][0]
        assert (await gw.client.delete(f"/services/{sid}", headers=h)).status_code == 204
        again = await gw.client.get(f"/incidents/{incident['id']}", headers=h)
        assert again.status_code == 200
        assert again.json()["incident"]["service"]["summary"] == "Gone Soon"
        entries = (
            await gw.client.get(f"/incidents/{incident['id']}/log_entries", headers=h)
        ).json()["log_entries"]
        agent = entries[0]["agent"]
        assert agent["id"] == iid and agent["summary"] == "Gone Soon v2"
        assert entries[0]["service"]["summary"] == "Gone Soon"

"""The REST extension for forwarding: ``forward_to``/``forward_suppressed`` on the service
object (keys shown redacted, a redacted key sent back kept), refusals that change nothing,
the file's ownership, and the forwarded messages of a service: list, retry, drop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from gateway.core import tokens
from gateway.testing import TestGateway, gateway_running
from tests.forwarding_support import ACCEPTED, Request, forward_to, settled, upstream
from tests.scaffold import config, key, v2, v2_service

KEY = key("rest-relay")
UP = "R0UT1NGKEY0000000000000000000001"
UP2 = "R0UT1NGKEY0000000000000000000002"


async def headers(gw: TestGateway, role: str = "user") -> dict[str, str]:
    """Authorization for a new token of ``role``."""
    _, secret = await gw.store.write(lambda tx: tokens.create_token(tx, name=role, role=role))
    return {"Authorization": f"Token token={secret}"}


async def put(gw: TestGateway, sid: str, auth: dict[str, str], **fields: Any) -> httpx.Response:
    """PUT /services/{sid} with ``fields``."""
    return await gw.client.put(f"/services/{sid}", json={"service": fields}, headers=auth)


async def test_forward_to_is_written_and_shown_redacted(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, config(v2_service("Cart", KEY))) as gw:
        auth = await headers(gw)
        sid = (await gw.client.get("/services", headers=auth)).json()["services"][0]["id"]
        target = {"url": "https://events.pagerduty.com/", "routing_key": UP}
        answer = await put(gw, sid, auth, forward_to=[target], forward_suppressed=True)
        assert answer.status_code == 200, answer.text
        shown = answer.json()["service"]
        assert [(t["url"], t["routing_key"]) for t in shown["forward_to"]] == [
            ("https://events.pagerduty.com", "…0001")
        ]
        assert shown["forward_suppressed"] is True
        assert UP not in answer.text
        # A GET answer sent back unchanged keeps the key (and the target's id).
        again = await put(gw, sid, auth, forward_to=shown["forward_to"])
        assert again.json()["service"]["forward_to"] == shown["forward_to"]
        stored = await gw.store.read(lambda r: r.service_forwarding(sid))
        assert [t.routing_key for t in stored.targets] == [UP]
        # A second target; then none.
        two = [*shown["forward_to"], {"url": "http://relay.example:8080", "routing_key": UP2}]
        assert len((await put(gw, sid, auth, forward_to=two)).json()["service"]["forward_to"]) == 2
        cleared = await put(gw, sid, auth, forward_to=[])
        assert cleared.json()["service"]["forward_to"] == []


async def test_bad_targets_are_refused_and_change_nothing(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, config()) as gw:
        auth = await headers(gw)
        body = {"name": "Runtime", "forward_to": forward_to("https://a.example", UP)}
        created = await gw.client.post("/services", json={"service": body}, headers=auth)
        assert created.status_code == 201, created.text
        sid = created.json()["service"]["id"]
        for bad, words in (
            ([{"url": "ftp://a.example", "routing_key": UP}], "http or https URL"),
            ([{"url": "https://a.example", "routing_key": "short"}], "32 letters and digits"),
            ([{"url": "https://a.example?x=1", "routing_key": UP}], "query or fragment"),
            ([{"url": 5, "routing_key": UP}], "http or https URL"),
            ("https://a.example", "array of {url, routing_key}"),
            ([{"url": "https://a.example", "routing_key": "…0001"}] * 2, "repeats a target"),
        ):
            answer = await put(gw, sid, auth, forward_to=bad, description="changed")
            assert answer.status_code == 400, answer.text
            assert any(words in e for e in answer.json()["error"]["errors"]), answer.text
        wrong_flag = await put(gw, sid, auth, forward_suppressed="yes")
        assert wrong_flag.status_code == 400
        service = (await gw.client.get(f"/services/{sid}", headers=auth)).json()["service"]
    assert [t["url"] for t in service["forward_to"]] == ["https://a.example"]
    assert service["forward_suppressed"] is False
    assert service["description"] is None


async def test_forwarding_the_file_declares_is_refused_at_runtime(tmp_path: Path) -> None:
    text = config(v2_service("Cart", KEY, forward_to=forward_to("https://a.example", UP)))
    async with gateway_running(tmp_path, text) as gw:
        auth = await headers(gw)
        sid = (await gw.client.get("/services", headers=auth)).json()["services"][0]["id"]
        answer = await put(gw, sid, auth, forward_to=[])
        same = await put(
            gw, sid, auth, forward_to=[{"url": "https://a.example", "routing_key": "…0001"}]
        )
    assert answer.status_code == 400
    assert "declared in the configuration file" in answer.json()["error"]["errors"][0]
    assert same.status_code == 200  # unchanged is not a change


async def test_a_services_forwarded_messages_are_listed_retried_and_dropped(
    tmp_path: Path,
) -> None:
    refuse = {"on": True}

    def script(_: Request, __: int) -> tuple[int, object]:
        return (400, {"message": "Event object is invalid"}) if refuse["on"] else (202, ACCEPTED)

    with upstream(script) as up:
        relay = v2_service("Cart", KEY, forward_to=forward_to(up.url, UP))
        text = config(relay, v2_service("Other", key("rest-other")))
        async with gateway_running(tmp_path, text) as gw:
            auth = await headers(gw)
            viewer = await headers(gw, "observer")
            services = (await gw.client.get("/services", headers=auth)).json()["services"]
            sid = next(s["id"] for s in services if s["name"] == "Cart")
            other = next(s["id"] for s in services if s["name"] == "Other")
            for dedup in ("a", "b", "c"):
                await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key=dedup))
            await settled(gw, "failed", 3)
            base = f"/services/{sid}/forwarding"
            listed = (await gw.client.get(f"{base}/messages", headers=viewer)).json()["messages"]
            assert [(m["dedup_key"], m["state"]) for m in listed] == [
                ("a", "failed"),
                ("b", "failed"),
                ("c", "failed"),
            ]
            assert "Event object is invalid" in listed[0]["last_error"]
            ids = {m["dedup_key"]: m["id"] for m in listed}
            forbidden = await gw.client.post(f"{base}/messages/{ids['a']}/retry", headers=viewer)
            assert forbidden.status_code == 403
            elsewhere = f"/services/{other}/forwarding/messages/{ids['a']}/retry"
            assert (await gw.client.post(elsewhere, headers=auth)).status_code == 404
            refuse["on"] = False
            retried = await gw.client.post(f"{base}/messages/{ids['a']}/retry", headers=auth)
            assert retried.status_code == 200, retried.text
            assert retried.json()["message"]["state"] == "pending"
            await settled(gw, "delivered", 1)
            dropped = await gw.client.delete(f"{base}/messages/{ids['b']}", headers=auth)
            assert dropped.status_code == 204
            every = await gw.client.post(f"{base}/retry", headers=auth)
            assert every.json() == {"retried": 1}
            await settled(gw, "delivered", 2)
            gone = await gw.client.delete(f"{base}/messages/{ids['b']}", headers=auth)
            delivered = await gw.client.get(f"{base}/messages?state[]=delivered", headers=auth)
            unknown = await gw.client.get("/services/PNOSUCH/forwarding/messages", headers=auth)
            bad_state = await gw.client.get(f"{base}/messages?state[]=lost", headers=auth)
    assert gone.status_code == 404
    assert sorted(m["dedup_key"] for m in delivered.json()["messages"]) == ["a", "c"]
    assert unknown.status_code == 404
    assert bad_state.status_code == 400
    assert sorted(r.body["dedup_key"] for r in up.got()) == ["a", "a", "b", "c", "c"]

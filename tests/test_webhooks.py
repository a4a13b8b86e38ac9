"""v3 webhook subscriptions end to end: REST, PagerDuty's payloads, signatures and headers,
against a receiver on 127.0.0.1 that verifies as PagerDuty documents."""

from __future__ import annotations

import json
from pathlib import Path

import trio

from gateway.testing import gateway_running
from tests.incident_helpers import headers, make_tokens, service_id, trigger
from tests.scaffold import config, key, v2, v2_service
from tests.webhook_support import (
    Verifier,
    events,
    get_sub,
    pd_receiver,
    subscribe,
    subscription,
    verified,
    wait_states,
)

KEY = key("webhooks")
OTHER = key("webhooks-other")
PUBLIC = "https://gateway.example.com"
CONFIG = config(
    v2_service("Checkout", KEY), v2_service("Search", OTHER), server={"public_url": PUBLIC}
)
ALL_INCIDENT = ["incident.triggered", "incident.acknowledged", "incident.resolved"]


async def test_every_delivery_is_signed_with_pagerdutys_headers_and_envelope(
    tmp_path: Path,
) -> None:
    verifier = Verifier()
    with pd_receiver(verifier) as rx:
        async with gateway_running(tmp_path, CONFIG) as gw:
            tokens = await make_tokens(gw)
            made = await subscribe(
                gw,
                tokens["user"],
                rx.url,
                *ALL_INCIDENT,
                custom_headers=[{"name": "X-Team", "value": "s3cr3t-header"}],
                description="chat bridge",
            )
            verifier.secrets.append(made["delivery_method"]["secret"])
            checkout = await service_id(gw, "Checkout")
            for action in ("trigger", "acknowledge", "resolve"):
                answer = await gw.client.post("/v2/enqueue", json=v2(KEY, action, "disk-full"))
                assert answer.status_code == 202
            got = await rx.wait_for(3)
            listed = await wait_states(gw, tokens["user"], made["id"], ["delivered"] * 3)
            shown = await get_sub(gw.client, tokens["observer"], made["id"])
    assert verifier.refused == []
    assert len(made["delivery_method"]["secret"]) >= 32
    assert shown["delivery_method"]["secret"] is None  # shown in the create answer only
    assert shown["delivery_method"]["custom_headers"] == [{"name": "X-Team", "value": "[REDACTED]"}]
    assert "s3cr3t-header" not in json.dumps(shown)
    ids = [d["id"] for d in listed]
    for request in got:
        assert request.headers["content-type"] == "application/json"
        assert request.headers["x-webhook-subscription"] == made["id"]
        assert request.headers["x-webhook-id"] in ids
        assert request.headers["x-team"] == "s3cr3t-header"  # not redacted on the wire
        assert request.headers["x-pagerduty-signature"].startswith("v1=")
    assert len({r.headers["x-webhook-id"] for r in got}) == 3
    sent = events(rx)
    assert [e["event_type"] for e in sent] == ALL_INCIDENT
    first = sent[0]
    assert set(first) == {
        "id", "event_type", "resource_type", "occurred_at", "agent", "client", "data"
    }  # fmt: skip
    assert first["resource_type"] == "incident"
    assert first["agent"]["type"] == "inbound_integration_reference"
    data = first["data"]
    assert data["type"] == "incident" and data["number"] == 1
    assert data["html_url"] == f"{PUBLIC}/ui/incidents/{data['id']}"
    assert data["self"] == f"{PUBLIC}/incidents/{data['id']}"
    assert data["service"]["id"] == checkout
    assert data["service"]["type"] == "service_reference"
    assert data["incident_key"] == "disk-full"
    assert [e["data"]["status"] for e in sent] == ["triggered", "acknowledged", "resolved"]
    assert [d["attempt_log"][0]["status_code"] for d in listed] == [200, 200, 200]


async def test_filters_and_events_choose_what_a_subscription_receives(tmp_path: Path) -> None:
    verifier = Verifier()
    with pd_receiver(verifier) as rx:
        async with gateway_running(tmp_path, CONFIG) as gw:
            tokens = await make_tokens(gw)
            search = await service_id(gw, "Search")
            only_search = await subscribe(
                gw,
                tokens["user"],
                rx.url,
                "incident.triggered",
                filter={"type": "service_reference", "id": search},
            )
            services = await subscribe(
                gw, tokens["user"], rx.url, "service.updated", "service.created", "service.deleted"
            )
            verifier.secrets += [only_search["delivery_method"]["secret"]]
            verifier.secrets += [services["delivery_method"]["secret"]]
            await trigger(gw.client, KEY, "not-for-it")  # Checkout: filtered out
            await trigger(gw.client, OTHER, "for-it")
            made = await gw.client.post(
                "/services", headers=headers(tokens["user"]), json={"service": {"name": "Runtime"}}
            )
            runtime = made.json()["service"]["id"]
            answer = await gw.client.put(
                f"/services/{runtime}",
                headers=headers(tokens["user"]),
                json={"service": {"description": "now described"}},
            )
            assert answer.status_code == 200, answer.text
            deleted = await gw.client.delete(
                f"/services/{runtime}", headers=headers(tokens["user"])
            )
            assert deleted.status_code == 204, deleted.text
            got = await rx.wait_for(4)
            await trio.sleep(0.3)
    assert verifier.refused == []
    assert len(got) == 4
    incident = [
        json.loads(r.body)["event"]
        for r in got
        if r.headers["x-webhook-subscription"] == only_search["id"]
    ]
    assert [e["data"]["incident_key"] for e in incident] == ["for-it"]
    told = [
        json.loads(r.body)["event"]
        for r in got
        if r.headers["x-webhook-subscription"] == services["id"]
    ]
    assert [e["event_type"] for e in told] == [
        "service.created",
        "service.updated",
        "service.deleted",
    ]
    assert told[2]["data"]["id"] == runtime and told[2]["data"]["status"] == "deleted"
    assert told[2]["data"]["name"] == "Runtime"
    assert {e["resource_type"] for e in told} == {"service"}
    assert told[1]["data"]["id"] == runtime
    assert told[1]["data"]["description"] == "now described"
    assert told[1]["data"]["html_url"] == f"{PUBLIC}/ui/services/{runtime}"


async def test_ping_sends_pagey_ping(tmp_path: Path) -> None:
    verifier = Verifier()
    with pd_receiver(verifier) as rx:
        async with gateway_running(tmp_path, CONFIG) as gw:
            tokens = await make_tokens(gw)
            made = await subscribe(gw, tokens["user"], rx.url)
            verifier.secrets.append(made["delivery_method"]["secret"])
            answer = await gw.client.post(
                f"/webhook_subscriptions/{made['id']}/ping", headers=headers(tokens["user"])
            )
            await rx.wait_for(1)
    assert answer.status_code == 202
    (event,) = events(rx)
    assert event["event_type"] == "pagey.ping"
    assert event["data"] == {"message": "Hello from your friend Pagey!", "type": "ping"}


async def test_a_rotation_signs_with_both_secrets_until_it_ends(tmp_path: Path) -> None:
    old_only, new_only = Verifier(), Verifier()
    with pd_receiver(old_only) as rx_old:
        async with gateway_running(tmp_path, CONFIG) as gw:
            tokens = await make_tokens(gw)
            h = headers(tokens["user"])
            made = await subscribe(gw, tokens["user"], rx_old.url)
            old_secret = made["delivery_method"]["secret"]
            old_only.secrets.append(old_secret)
            rotated = await gw.client.post(
                f"/webhook_subscriptions/{made['id']}/rotate_secret", headers=h
            )
            new_secret = rotated.json()["webhook_subscription"]["delivery_method"]["secret"]
            new_only.secrets.append(new_secret)
            await trigger(gw.client, KEY, "during")
            (during,) = await rx_old.wait_for(1)
            shown = await get_sub(gw.client, tokens["user"], made["id"])
            ended = await gw.client.post(
                f"/webhook_subscriptions/{made['id']}/end_rotation", headers=h
            )
            await trigger(gw.client, KEY, "after")
            got = await rx_old.wait_for(2)
    assert rotated.status_code == 200 and new_secret not in (None, old_secret)
    assert shown["delivery_method"]["secret"] is None
    assert shown["delivery_method"]["secret_rotating"] is True
    assert during.headers["x-pagerduty-signature"].count("v1=") == 2
    assert verified(during, [old_secret]) and verified(during, [new_secret])
    assert ended.json()["webhook_subscription"]["delivery_method"]["secret_rotating"] is False
    after = got[1]
    assert after.headers["x-pagerduty-signature"].count("v1=") == 1
    assert verified(after, [new_secret]) and not verified(after, [old_secret])
    assert old_only.refused == [after]  # the receiver still on the old secret refuses it


async def test_bad_subscriptions_are_refused_clearly_and_change_nothing(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        h = headers(tokens["user"])
        cases = [
            (subscription("ftp://example.com/hook"), "http or https"),
            (subscription("not a url"), "http or https"),
            (subscription("http://127.0.0.1:9/", "incident.exploded"), "unknown event type"),
            (subscription("http://127.0.0.1:9/", filter={"type": "team_reference", "id": "PT1"}),
             "teams do not exist"),
            (subscription("http://127.0.0.1:9/",
                          filter={"type": "service_reference", "id": "PNOSUCH"}),
             "service PNOSUCH not found"),
            (subscription("http://127.0.0.1:9/",
                          custom_headers=[{"name": "X-PagerDuty-Signature", "value": "v1=x"}]),
             "set by the gateway"),
            ({"webhook_subscription": {"events": ["incident.triggered"]}}, "delivery_method"),
        ]  # fmt: skip
        for body, words in cases:
            answer = await gw.client.post("/webhook_subscriptions", headers=h, json=body)
            assert answer.status_code == 400, (body, answer.text)
            assert words in " ".join(answer.json()["error"]["errors"]), (words, answer.text)
        listed = await gw.client.get("/webhook_subscriptions", headers=h)
        observer = await gw.client.post(
            "/webhook_subscriptions",
            headers=headers(tokens["observer"]),
            json=subscription("http://127.0.0.1:9/"),
        )
    assert listed.json()["webhook_subscriptions"] == []
    assert observer.status_code == 403


async def test_put_keeps_redacted_header_values_and_updates_the_rest(tmp_path: Path) -> None:
    verifier = Verifier()
    with pd_receiver(verifier) as rx:
        async with gateway_running(tmp_path, CONFIG) as gw:
            tokens = await make_tokens(gw)
            h = headers(tokens["user"])
            made = await subscribe(
                gw,
                tokens["user"],
                "http://127.0.0.1:9/old",
                custom_headers=[{"name": "Authorization", "value": "Bearer abc"}],
            )
            verifier.secrets.append(made["delivery_method"]["secret"])
            shown = await get_sub(gw.client, tokens["user"], made["id"])
            shown["delivery_method"]["url"] = rx.url
            shown["description"] = "moved"
            answer = await gw.client.put(
                f"/webhook_subscriptions/{made['id']}",
                headers=h,
                json={"webhook_subscription": shown},
            )
            await trigger(gw.client, KEY, "after-put")
            (request,) = await rx.wait_for(1)
            deleted = await gw.client.delete(f"/webhook_subscriptions/{made['id']}", headers=h)
            gone = await gw.client.get(f"/webhook_subscriptions/{made['id']}", headers=h)
    assert answer.status_code == 200, answer.text
    assert answer.json()["webhook_subscription"]["description"] == "moved"
    assert request.headers["authorization"] == "Bearer abc"  # the redacted value was kept
    assert deleted.status_code == 204 and gone.status_code == 404

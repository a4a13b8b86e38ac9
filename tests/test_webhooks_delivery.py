"""How webhooks are delivered, on the fake clock: PagerDuty's retry schedule, 4xx drops,
temporary disable after 3 drops and enable, ordering per incident under retries, and the
operators' deliveries list with retry and drop."""

from __future__ import annotations

import json
from pathlib import Path

import trio

from gateway.clock import FakeClock, parse_iso
from gateway.testing import TestGateway, gateway_running
from tests.incident_helpers import headers, make_tokens, trigger
from tests.outbox_support import Received
from tests.scaffold import config, key, v2, v2_service
from tests.webhook_support import (
    Verifier,
    deliveries,
    get_sub,
    pd_receiver,
    subscribe,
    wait_states,
)

KEY = key("webhook-delivery")
CONFIG = config(v2_service("Checkout", KEY))


def wake(gw: TestGateway) -> None:
    """Let the deliverers look at the queue now (after the fake clock moved)."""
    assert gw.running.outbox is not None
    gw.running.outbox.wake()


async def _due_in(
    gw: TestGateway, token: str, sub_id: str, attempts: int, clock: FakeClock
) -> float:
    """Seconds until the (only) delivery is due again, once it has made ``attempts``."""
    with trio.fail_after(10):
        while True:
            (d,) = await deliveries(gw, token, sub_id)
            if d["attempts"] == attempts and d["state"] == "pending":
                return (parse_iso(d["due_at"]) - clock.now()).total_seconds()
            await trio.sleep(0.02)


async def test_failures_are_retried_five_times_over_about_twenty_minutes(tmp_path: Path) -> None:
    clock = FakeClock()
    verifier = Verifier(status=lambda _: (503, {}))
    with pd_receiver(verifier) as rx:
        async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
            tokens = await make_tokens(gw)
            token = tokens["user"]
            made = await subscribe(gw, token, rx.url)
            verifier.secrets.append(made["delivery_method"]["secret"])
            await trigger(gw.client, KEY, "flaky")
            await rx.wait_for(1)
            waits = []
            for attempt in range(1, 5):
                wait = await _due_in(gw, token, made["id"], attempt, clock)
                waits.append(wait)
                clock.advance(wait)
                wake(gw)
                await rx.wait_for(attempt + 1)
            (final,) = await wait_states(gw, token, made["id"], ["failed"])
    ids = {r.headers["x-webhook-id"] for r in rx.received}
    assert rx.count() == 5 and ids == {final["id"]}  # the same X-Webhook-Id on every retry
    nominal = [80, 160, 320, 640]
    for wait, full in zip(waits, nominal, strict=True):
        assert full * 0.75 - 0.01 <= wait <= full, waits  # backoff with up to 25 % jitter
    assert 0.75 * 1200 <= sum(waits) <= 1200  # about 20 minutes in all
    assert [a["status_code"] for a in final["attempt_log"]] == [503] * 5


async def test_429_retry_after_is_honoured_and_timeouts_are_retried(tmp_path: Path) -> None:
    clock = FakeClock()
    verifier = Verifier(status=lambda _: (429, {"Retry-After": "30"}))
    with pd_receiver(verifier) as rx:
        async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
            token = (await make_tokens(gw))["user"]
            made = await subscribe(gw, token, rx.url)
            verifier.secrets.append(made["delivery_method"]["secret"])
            await trigger(gw.client, KEY, "slow-down")
            await rx.wait_for(1)
            wait = await _due_in(gw, token, made["id"], 1, clock)
    assert wait == 30.0


async def test_4xx_drops_and_three_in_a_row_disable_until_enabled(tmp_path: Path) -> None:
    clock = FakeClock()
    answers = {"status": 410}
    verifier = Verifier(status=lambda _: (answers["status"], {}))
    with pd_receiver(verifier) as rx:
        async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
            token = (await make_tokens(gw))["user"]
            h = headers(token)
            made = await subscribe(gw, token, rx.url)
            verifier.secrets.append(made["delivery_method"]["secret"])
            for n in range(3):
                await trigger(gw.client, KEY, f"gone-{n}")
                await wait_states(gw, token, made["id"], ["failed"] * (n + 1))
            disabled = await get_sub(gw.client, token, made["id"])
            await trigger(gw.client, KEY, "while-disabled")  # not queued
            await trio.sleep(0.2)
            queued_while_disabled = len(await deliveries(gw, token, made["id"]))
            refused_ping = await gw.client.post(
                f"/webhook_subscriptions/{made['id']}/ping", headers=h
            )
            answers["status"] = 200
            enabled = await gw.client.post(f"/webhook_subscriptions/{made['id']}/enable", headers=h)
            await trigger(gw.client, KEY, "after-enable")
            await wait_states(gw, token, made["id"], ["failed"] * 3 + ["delivered"])
    assert rx.count() == 4  # one attempt per dropped webhook: a 4xx is never retried
    assert disabled["delivery_method"]["temporarily_disabled"] is True
    assert queued_while_disabled == 3
    assert refused_ping.status_code == 400
    assert (
        enabled.json()["webhook_subscription"]["delivery_method"]["temporarily_disabled"] is False
    )
    keys = [json.loads(b)["event"]["data"]["incident_key"] for b in rx.bodies()]
    assert keys == ["gone-0", "gone-1", "gone-2", "after-enable"]


async def test_a_retrying_incident_holds_back_only_itself(tmp_path: Path) -> None:
    clock = FakeClock()
    failing = {"slow"}

    def status(request: Received) -> tuple[int, dict[str, str]]:
        key_ = json.loads(request.body)["event"]["data"]["incident_key"]
        return (500 if key_ in failing else 200), {}

    verifier = Verifier(status=status)
    with pd_receiver(verifier) as rx:
        async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
            token = (await make_tokens(gw))["user"]
            made = await subscribe(gw, token, rx.url, "incident.triggered", "incident.resolved")
            verifier.secrets.append(made["delivery_method"]["secret"])
            await trigger(gw.client, KEY, "slow")
            await rx.wait_for(1)
            for action, dedup in (("resolve", "slow"), ("trigger", "fast"), ("resolve", "fast")):
                answer = await gw.client.post("/v2/enqueue", json=v2(KEY, action, dedup))
                assert answer.status_code == 202
            await rx.wait_for(3)  # fast's two events pass the waiting slow incident
            await trio.sleep(0.3)
            before = [json.loads(b)["event"] for b in rx.bodies()]
            failing.clear()
            clock.advance(80)
            wake(gw)
            await rx.wait_for(5)
    sent = [(e["data"]["incident_key"], e["event_type"]) for e in
            (json.loads(b)["event"] for b in rx.bodies())]  # fmt: skip
    assert [(e["data"]["incident_key"], e["event_type"]) for e in before] == [
        ("slow", "incident.triggered"),
        ("fast", "incident.triggered"),
        ("fast", "incident.resolved"),
    ]
    assert sent[3:] == [("slow", "incident.triggered"), ("slow", "incident.resolved")]


async def test_operators_retry_and_drop_failed_deliveries(tmp_path: Path) -> None:
    clock = FakeClock()
    answers = {"status": 404}
    verifier = Verifier(status=lambda _: (answers["status"], {}))
    with pd_receiver(verifier) as rx:
        async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
            tokens = await make_tokens(gw)
            token = tokens["user"]
            h = headers(token)
            made = await subscribe(gw, token, rx.url)
            verifier.secrets.append(made["delivery_method"]["secret"])
            await trigger(gw.client, KEY, "one")
            await trigger(gw.client, KEY, "two")
            first, second = await wait_states(gw, token, made["id"], ["failed", "failed"])
            base = f"/webhook_subscriptions/{made['id']}/deliveries"
            failed = await gw.client.get(base, headers=h, params={"statuses[]": "failed"})
            answers["status"] = 200
            observer = await gw.client.post(
                f"{base}/{first['id']}/retry", headers=headers(tokens["observer"])
            )
            retried = await gw.client.post(f"{base}/{first['id']}/retry", headers=h)
            after = await wait_states(gw, token, made["id"], ["delivered", "failed"])
            dropped = await gw.client.delete(f"{base}/{second['id']}", headers=h)
            again = await gw.client.delete(f"{base}/{first['id']}", headers=h)
            wrong = await gw.client.post(f"{base}/MNOSUCH/retry", headers=h)
            left = await deliveries(gw, token, made["id"])
    assert len(failed.json()["deliveries"]) == 2
    assert failed.json()["deliveries"][0]["last_error"] == "HTTP 404"
    assert observer.status_code == 403
    assert retried.status_code == 200, retried.text
    assert after[0]["id"] == first["id"] and after[0]["attempt_log"][-1]["status_code"] == 200
    assert dropped.status_code == 204
    assert again.status_code == 400  # a delivered one is not dropped
    assert wrong.status_code == 404
    assert [d["id"] for d in left] == [first["id"]]
    assert rx.count() == 3


async def test_no_answer_within_5_seconds_is_retried(tmp_path: Path) -> None:
    clock = FakeClock()
    from tests.outbox_support import receiver

    with receiver(lambda _: (200, {}, 6.0)) as rx:  # answers, but too late
        async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
            token = (await make_tokens(gw))["user"]
            made = await subscribe(gw, token, rx.url)
            await trigger(gw.client, KEY, "too-slow")
            wait = await _due_in(gw, token, made["id"], 1, clock)
            (d,) = await deliveries(gw, token, made["id"])
    assert 60 - 0.01 <= wait <= 80  # the first retry's wait, not a success
    assert d["attempt_log"][0]["error"] == "no answer within 5 s"
    assert d["attempt_log"][0]["outcome"] == "retry"

"""Forwarding upstream (relay mode) against a fake Events API on 127.0.0.1: the TOML form,
order per key through 429s and 5xx, slowing a key down, max age, 400 with the upstream's
text, v1/vendor/change conversion, suppressed events, the deny list, and a chain of two
gateways."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from gateway.clock import FakeClock, parse_iso
from gateway.config import ForwardTargetConfig, parse_settings
from gateway.core import outbox_ops
from gateway.core.provision import provision
from gateway.errors import ConfigError
from gateway.outbound.forward import forward_kind
from gateway.plugins import load_plugins
from gateway.store import Reader
from gateway.store.offline import read_sync, write_sync
from gateway.testing import TestGateway, gateway_running
from tests.forwarding_support import (
    ACCEPTED,
    Request,
    any_in,
    forward_to,
    messages,
    pump,
    settled,
    upstream,
)
from tests.scaffold import REPO, config, events_v1, key, service, v2, v2_service, vendor_integration

KEY = key("relay")
V1 = key("relay-v1")
DD = key("relay-dd")
UP = "R0UT1NGKEY0000000000000000000001"
FAST = "\n[forwarding]\nfirst_delay_seconds = 1\nmax_delay_seconds = 4\n"


def relay(url: str, *, extra: str = FAST, **fields: object) -> str:
    """One v2 service forwarding to ``url`` with the upstream key ``UP``."""
    return config(v2_service("Web", KEY, forward_to=forward_to(url, UP), **fields)) + extra


def test_the_toml_form_of_the_issue_is_read_exactly() -> None:
    text = """
[[services]]
name = "Shopping Cart"
forward_to = [{ url = "https://events.pagerduty.com", routing_key = "R0UT1NGKEY0000000000000000000001" }]
"""  # noqa: E501  (the issue's line, exactly)
    settings = parse_settings(text)
    assert settings.services[0].forward_to == (
        ForwardTargetConfig("https://events.pagerduty.com", "R0UT1NGKEY0000000000000000000001"),
    )
    assert settings.services[0].forward_suppressed is None


async def test_an_accepted_event_is_forwarded_as_v2_with_the_targets_key(tmp_path: Path) -> None:
    with upstream() as up:
        async with gateway_running(tmp_path, relay(up.url)) as gw:
            answer = await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="disk"))
            assert answer.status_code == 202
            got = await up.wait_for(1)
            await settled(gw, "delivered", 1)
    assert got[0].path == "/v2/enqueue"
    body = got[0].body
    assert body["routing_key"] == UP
    assert (body["event_action"], body["dedup_key"]) == ("trigger", "disk")
    assert body["payload"] == {
        "summary": "Disk full on db01",
        "source": "db01",
        "severity": "critical",
    }


async def test_forwarding_keeps_order_per_key_through_429_and_5xx(tmp_path: Path) -> None:
    def script(request: Request, n: int) -> tuple[int, object]:
        if request.body["dedup_key"] == "a" and request.body["event_action"] == "trigger":
            return [(429, {"status": "throttle"}), (503, {}), (202, ACCEPTED)][min(n, 2)]
        return 202, ACCEPTED

    clock = FakeClock()
    with upstream(script) as up:
        async with gateway_running(tmp_path, relay(up.url), clock=clock) as gw:
            for action, dedup in (("trigger", "a"), ("resolve", "a"), ("trigger", "b")):
                answer = await gw.client.post("/v2/enqueue", json=v2(KEY, action, dedup))
                assert answer.status_code == 202
            await up.wait_for(1)
            await pump(gw, clock, lambda: len(up.got()) >= 5)
            await settled(gw, "delivered", 3)
    sent = [(b["event_action"], b["dedup_key"]) for b in up.bodies()]
    assert [s for s in sent if s[1] == "a"] == [
        ("trigger", "a"),  # 429
        ("trigger", "a"),  # 503
        ("trigger", "a"),  # 202
        ("resolve", "a"),  # only now
    ]
    assert sent.count(("trigger", "b")) == 1


async def test_a_429_slows_that_routing_key_down(tmp_path: Path) -> None:
    def script(_: Request, n: int) -> tuple[int, object]:
        return (429, {"status": "throttle"}) if len(up.got()) == 1 else (202, ACCEPTED)

    clock = FakeClock()
    with upstream(script) as up:
        # 60 events a minute once slowed: one a second on the fake clock.
        async with gateway_running(
            tmp_path, relay(up.url, extra=FAST + "rate_per_minute = 60\n"), clock=clock
        ) as gw:
            await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="k0"))
            # Wait for the 429 to be recorded, not just received upstream: the key is slowed
            # when the engine reads the answer, and an event sent before that is not held.
            await settled_attempts(gw, 1)
            for n in range(1, 4):
                # One at a time, each held before the next arrives: the events have different
                # dedup keys (no order between them), so their slots follow their arrival.
                await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key=f"k{n}"))
                await settled_attempts(gw, n + 1)
            assert len(up.got()) == 1  # every other key's event waits its turn
            counts = []
            for _ in range(4):
                clock.advance(1.0)
                assert gw.running.outbox is not None
                gw.running.outbox.wake()
                await up.wait_for(len(up.got()) + 1)
                await settled_attempts(gw, 4)
                counts.append(len(up.got()))
                # Nothing else is due at this clock time: a second event would go now.
                await nothing_due(gw, clock)
            await settled(gw, "delivered", 4)
            held = await gw.store.read(lambda r: r.outbox_attempts(_id_of(r, "k1")))
    assert counts == [2, 3, 4, 5]  # one event per second after the 429, never two at once
    keys = [b["dedup_key"] for b in up.bodies()]
    # Order holds per dedup key; k1-k3, claimed together, take their turns in the order
    # their sends reach the pacer (Trio runs tasks started together in any order).
    assert keys[:2] == ["k0", "k0"] and sorted(keys[2:]) == ["k1", "k2", "k3"]
    assert held[0].status_code is None and "slowed down" in (held[0].error or "")


async def settled_attempts(gw: TestGateway, count: int) -> None:
    """Wait until ``count`` messages are not being sent (no claim held)."""
    with trio.fail_after(10):
        while True:
            entries = await messages(gw)
            if len(entries) >= count and all(
                e.claimed_by is None and (e.attempts or e.state != "pending") for e in entries
            ):
                return
            await trio.sleep(0.02)


async def nothing_due(gw: TestGateway, clock: FakeClock) -> None:
    """Every message still pending is due later than the fake clock's now."""
    now = clock.now()
    for entry in await messages(gw):
        if entry.state == "pending":
            assert parse_iso(entry.due_at) > now, entry


def _id_of(reader: Reader, dedup_key: str) -> str:
    entries = reader.outbox_entries()
    return next(e.id for e in entries if e.order_key.endswith(f":{dedup_key}"))


async def test_5xx_past_the_maximum_age_parks_the_event_as_failed(tmp_path: Path) -> None:
    clock = FakeClock()
    extra = FAST + "max_age_hours = 0.01\n"  # 36 s
    with upstream(lambda _, __: (503, {"message": "down for maintenance"})) as up:
        async with gateway_running(tmp_path, relay(up.url, extra=extra), clock=clock) as gw:
            await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="old"))
            await up.wait_for(1)
            await pump(gw, clock, lambda: any_in(gw, "failed"), step=2.0)
            failed = await settled(gw, "failed", 1)
            attempts = len(up.got())
            # An operator's retry of the aged event: one attempt, then parked again.
            await gw.store.write(lambda tx: outbox_ops.retry_message(tx, failed[0].id))
            assert gw.running.outbox is not None
            gw.running.outbox.wake()
            await up.wait_for(attempts + 1)
            again = await settled(gw, "failed", 1)
            await trio.sleep(0.3)
    assert failed[0].last_error.startswith("gave up after 0.01 h (max age): HTTP 503")
    assert "down for maintenance" in failed[0].last_error
    assert attempts >= 8  # retried with backoff all along before it was parked
    assert (again[0].attempts, len(up.got())) == (1, attempts + 1)


async def test_a_400_parks_the_event_with_the_upstreams_text(tmp_path: Path) -> None:
    refusal = {"status": "invalid event", "message": "Event object is invalid",
               "errors": ["'payload.summary' is missing or blank"]}  # fmt: skip
    with upstream(lambda _, __: (400, refusal)) as up:
        async with gateway_running(tmp_path, relay(up.url)) as gw:
            await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="bad"))
            failed = await settled(gw, "failed", 1)
    assert len(up.got()) == 1  # never retried
    assert failed[0].last_error.startswith("HTTP 400: ")
    assert "'payload.summary' is missing or blank" in failed[0].last_error


async def test_v1_and_vendor_events_are_converted_to_v2(tmp_path: Path) -> None:
    sample = (REPO / "tests" / "samples" / "datadog_webhook_triggered.json").read_bytes()
    text = config(
        service(
            "Mixed",
            events_v1(V1),
            vendor_integration("datadog", "datadog", DD),
            forward_to=forward_to("URL", UP),
        )
    )
    with upstream() as up:
        async with gateway_running(tmp_path, text.replace("URL", up.url)) as gw:
            v1 = {"service_key": V1, "event_type": "trigger", "incident_key": "v1-key",
                  "description": "CPU high", "details": {"load": 9}}  # fmt: skip
            assert (
                await gw.client.post("/generic/2010-04-15/create_event.json", json=v1)
            ).status_code == 200
            answer = await gw.client.post(f"/integration/{DD}/enqueue", content=sample,
                                          headers={"content-type": "application/json"})  # fmt: skip
            assert answer.status_code in (200, 202)
            got = await up.wait_for(2)
    by_key = {r.body["dedup_key"]: r for r in got}
    v1_body = by_key["v1-key"].body
    assert v1_body["routing_key"] == UP and v1_body["event_action"] == "trigger"
    assert v1_body["payload"]["summary"] == "CPU high"
    assert v1_body["payload"]["custom_details"] == {"load": 9}
    assert v1_body["payload"]["severity"] in ("critical", "error", "warning", "info")
    dd_body = next(r.body for r in got if r.body["dedup_key"] != "v1-key")
    assert dd_body["routing_key"] == UP and dd_body["event_action"] == "trigger"
    assert "Checkout API p95 latency is high" in dd_body["payload"]["summary"]
    assert {r.path for r in got} == {"/v2/enqueue"}


async def test_change_events_go_to_the_change_endpoint(tmp_path: Path) -> None:
    payload = {"summary": "Deployed v42", "source": "ci", "custom_details": {"build": 42}}
    change = {"routing_key": KEY, "payload": payload, "links": [{"href": "https://ci.example/42"}]}
    with upstream() as up:
        async with gateway_running(tmp_path, relay(up.url)) as gw:
            assert (await gw.client.post("/v2/change/enqueue", json=change)).status_code == 202
            got = await up.wait_for(1)
    assert got[0].path == "/v2/change/enqueue"
    assert got[0].body == {
        "routing_key": UP,
        "payload": {"summary": "Deployed v42", "source": "ci", "custom_details": {"build": 42}},
        "links": [{"href": "https://ci.example/42"}],
    }


async def test_suppressed_events_are_not_forwarded_by_default(tmp_path: Path) -> None:
    with upstream() as up:
        async with gateway_running(tmp_path, relay(up.url, status="disabled")) as gw:
            assert (await gw.client.post("/v2/enqueue", json=v2(KEY))).status_code == 202
            assert (
                await gw.client.post(
                    "/v2/change/enqueue", json=v2(KEY, "change", summary="Deployed", source="ci")
                )
            ).status_code == 202
            await up.wait_for(1)  # the change event is not suppressed: proves delivery ran
            queued = await messages(gw)
    assert [r.path for r in up.got()] == ["/v2/change/enqueue"]
    assert len(queued) == 1


async def test_suppressed_events_are_forwarded_with_forward_suppressed(tmp_path: Path) -> None:
    text = relay(up_url := "URL", status="disabled", forward_suppressed=True)
    with upstream() as up:
        async with gateway_running(tmp_path, text.replace(up_url, up.url)) as gw:
            assert (
                await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="quiet"))
            ).status_code == 202
            got = await up.wait_for(1)
            assert await gw.count("incidents") == 0  # suppressed here, forwarded all the same
    assert got[0].body["dedup_key"] == "quiet"


async def test_a_deny_listed_destination_is_refused(tmp_path: Path) -> None:
    text = relay("URL", extra=FAST + '\n[outbound]\ndeny = ["127.0.0.0/8"]\n')
    with upstream() as up:
        async with gateway_running(tmp_path, text.replace("URL", up.url)) as gw:
            await gw.client.post("/v2/enqueue", json=v2(KEY))
            failed = await settled(gw, "failed", 1)
    assert up.got() == []
    assert "outbound address policy denies" in failed[0].last_error


async def test_a_chain_gateway_a_forwards_to_gateway_b(tmp_path: Path) -> None:
    b_key = key("gateway-b")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with gateway_running(tmp_path / "b", config(v2_service("Upstream", b_key))) as b:
        text = config(v2_service("Edge", KEY, forward_to=forward_to(b.running.base_url, b_key)))
        async with gateway_running(tmp_path / "a", text) as a:
            for action in ("trigger", "acknowledge"):
                answer = await a.client.post("/v2/enqueue", json=v2(KEY, action, "chain"))
                assert answer.status_code == 202
            await settled(a, "delivered", 2)
            incidents = await b.incidents()
    assert len(incidents) == 1
    assert incidents[0].status == "acknowledged"
    assert incidents[0].incident_key == "chain"


_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


async def test_the_proxy_environment_is_honoured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    with upstream() as proxy, upstream() as direct:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        # The name never resolves here: only a proxy can take it; 127.0.0.1 is NO_PROXY.
        text = config(
            v2_service("Web", KEY, forward_to=forward_to("http://upstream.invalid", UP)),
            v2_service("Local", key("local"), forward_to=forward_to(direct.url, UP)),
        )
        async with gateway_running(tmp_path, text) as gw:
            await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="via-proxy"))
            await gw.client.post("/v2/enqueue", json=v2(key("local"), dedup_key="direct"))
            await settled(gw, "delivered", 2)
    assert [(r.target, r.body["dedup_key"]) for r in proxy.got()] == [
        ("http://upstream.invalid/v2/enqueue", "via-proxy")
    ]
    assert [(r.target, r.body["dedup_key"]) for r in direct.got()] == [("/v2/enqueue", "direct")]


def _provision(db: Path, text: str) -> None:
    settings = parse_settings(text, source=db.with_name("gateway.toml"))
    write_sync(db, lambda tx: provision(tx, settings, load_plugins()))


def test_the_file_declares_forwarding_and_releases_it_when_the_key_goes(tmp_path: Path) -> None:
    db = tmp_path / "gw.db"
    with pytest.raises(ConfigError) as caught:
        _provision(db, config(v2_service("Web", KEY, forward_to=forward_to("ftp://x", UP))))
    assert caught.value.key == "services[0].forward_to"
    assert "forward_to[0].url must be an http or https URL" in caught.value.message
    _provision(db, relay("https://events.pagerduty.com", extra="", forward_suppressed=True))
    (first,) = read_sync(db, lambda r: r.services_forwarding())
    assert [(t.url, t.routing_key) for t in first.targets] == [("https://events.pagerduty.com", UP)]
    assert (first.forward_suppressed, first.declared) == (True, True)
    _provision(db, relay("https://events.pagerduty.com", extra=""))  # unchanged target
    (same,) = read_sync(db, lambda r: r.services_forwarding())
    assert same.targets == first.targets and same.forward_suppressed is False  # same target id
    _provision(db, config(v2_service("Web", KEY)))  # the block no longer sets it: released
    (released,) = read_sync(db, lambda r: r.services_forwarding())
    assert released.declared is False and released.targets == first.targets


def test_forwarding_never_counts_its_queue_at_enqueue(tmp_path: Path) -> None:
    # A limit would cost a count of the waiting messages per accepted event (O(backlog)),
    # just while the upstream is down; and forwarded events are never dropped.
    kind = forward_kind(parse_settings("").forwarding)
    assert (kind.max_pending, kind.drop_on_overflow) == (0, False)
    assert kind.policy.max_attempts is None and kind.policy.max_age_seconds is None
    assert kind.max_age_seconds == 24 * 3600 and kind.pacer.spacing == 0.5

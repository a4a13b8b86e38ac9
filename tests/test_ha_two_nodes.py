"""Two gateway nodes on one PostgreSQL database, one SIGKILLed mid-load (issue 18).

Two real ``alert-gateway serve`` processes share a database (each its own port, local
files and ``node_id``). Concurrent senders post Events API v2 triggers over a shared set
of dedup keys to both; one node is SIGKILLed while they do. The services auto-resolve
after a few seconds, so both nodes' timer schedulers fire while the load runs, and one v3
webhook subscription sends every incident's triggered and resolved events to a real
receiver on 127.0.0.1. Afterwards:

- every trigger answered 2xx by either node is stored, once;
- no dedup key ever had two open incidents (their open intervals never overlap), and
  incident numbers are unique;
- every incident event's webhook arrived at least once, a repeat only with the same
  ``X-Webhook-Id`` and body, and no event got two webhook ids;
- every auto-resolve timer fired exactly once (one resolution per incident, none left).

And two nodes started at the same moment on an empty schema migrate and provision it once,
and a change made through one node's REST API (a new service and key, the service disabled,
the key deleted) holds for events sent to the other at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from itertools import pairwise

import pytest
import trio

from gateway.clock import parse_iso
from tests.conftest import StoreTarget
from tests.ha_support import Sent, node_config, rows, scalar, send_load, stored_seqs, wait_until
from tests.incident_helpers import headers
from tests.scaffold import Daemon, config, key, v2, v2_service
from tests.webhook_support import Verifier, pd_receiver, verified

pytestmark = pytest.mark.slow  # two real daemon processes

KEY = key("ha-two-nodes")
SECRET = "ha-two-nodes-secret-0123456789"
DEDUP_KEYS = [f"ha-{n}" for n in range(40)]
AUTO_RESOLVE = 3  # seconds: timers fall due on both nodes while the load runs
LOAD_SECONDS = 10.0
#: A is killed once it has accepted this many triggers (or after KILL_BY seconds: a busy
#: machine may serve only a few per second).
KILL_AT, KILL_BY = 15, 6.0


def _cluster_config(url: str, receiver: str, node: str) -> str:
    text = config(
        v2_service("Web", KEY, auto_resolve_timeout=AUTO_RESOLVE, acknowledgement_timeout=0),
        # Two nodes on one machine: the kernel places them ("auto" could pin both to
        # the same CPU).
        server={"cpu_affinity": "off"},
        storage=None,
    ) + (
        "\n[[webhook_subscriptions]]\n"
        'name = "ha"\n'
        f'url = "{receiver}"\n'
        'events = ["incident.triggered", "incident.resolved"]\n'
        f'secret = "{SECRET}"\n'
    )
    # The shortest lease allowed. The deliverers lease each claim for max(lease_seconds,
    # 2 x the slowest kind's timeout + 10 s): 80 s today (the forward kind's 35 s), whatever
    # the message's kind, so a killed node's webhooks wait that long for the other node.
    return node_config(text, url, node=node, path=f"{node}.db", lease_seconds=10)


def test_two_nodes_one_killed_mid_load_lose_and_duplicate_nothing(
    postgres: StoreTarget, spawn: Callable[..., Daemon]
) -> None:
    url = postgres.url
    assert url is not None
    verifier = Verifier(secrets=[SECRET])
    with pd_receiver(verifier) as rx:
        # One after the other: the first creates the schema and provisions the service.
        # (60 s: an interpreter's start takes ~20 s on a busy 2-core machine.)
        a = spawn(_cluster_config(url, rx.url, "a"), name="a", start=False).start(timeout=60)
        b = spawn(_cluster_config(url, rx.url, "b"), name="b", start=False).start(timeout=60)
        live = {"a": a.base_url, "b": b.base_url}
        killed_at: list[float] = []
        for daemon in (a, b):  # each node answers before the load (its first request is slow)
            with daemon.client() as http:
                answer = http.post("/v2/enqueue", json=v2(KEY, dedup_key="warm-up"))
                assert answer.status_code == 202, answer.text
        sent = Sent()

        async def load() -> None:
            async def kill_a() -> None:
                with trio.move_on_after(KILL_BY):
                    while sum(s == 202 for s in sent.by_node.get("a", [])) < KILL_AT:
                        await trio.sleep(0.01)
                a.kill()
                live.pop("a")
                killed_at.append(time.monotonic())

            async with trio.open_nursery() as nursery:
                nursery.start_soon(kill_a)
                nursery.start_soon(
                    partial(
                        send_load,
                        lambda: list(live.items()),
                        KEY,
                        DEDUP_KEYS,
                        sent,
                        senders=6,
                        seconds=LOAD_SECONDS,
                    )
                )

        trio.run(load)
        acked = sent.acked()
        ok_a = sum(200 <= s < 300 for s in sent.by_node["a"])
        ok_b = sum(200 <= s < 300 for s in sent.by_node["b"])
        after_kill = [s for t, _, s in sent.timeline if t > killed_at[0] + 0.5]
        # Both nodes took load, and B went on alone after A died.
        assert ok_a >= 5 and ok_b >= 5 and after_kill.count(202) >= 5, (ok_a, ok_b, after_kill)
        statuses = Counter(sent.answers.values())
        assert set(statuses) <= {0, 202}, statuses  # no 5xx from the node that lived

        # Right after the load: never two open incidents (or open alerts) under one key.
        doubled = rows(
            url,
            "SELECT incident_key, count(*) FROM incidents WHERE status <> 'resolved'"
            " GROUP BY incident_key HAVING count(*) > 1",
        )
        assert doubled == []

        # Every timer falls due within AUTO_RESOLVE s of the last trigger; B fires them all
        # (the killed node's, too: it held no claim outside its own transaction).
        assert wait_until(lambda: scalar(url, "SELECT count(*) FROM timers") == 0, 20), rows(
            url, "SELECT kind, due_at, claimed_by, lease_until FROM timers"
        )
        # Every webhook is delivered: B takes what the killed node had claimed once the
        # claim's lease lapses (the test waits as long as the lease the store holds), and
        # sends the rest as they come.
        lapse = scalar(url, "SELECT max(lease_until) FROM outbox_messages WHERE state = 'pending'")
        wait = 15.0 + (parse_iso(lapse).timestamp() - time.time() if lapse else 0.0)
        pending = "SELECT count(*) FROM outbox_messages WHERE state <> 'delivered'"
        assert wait_until(lambda: scalar(url, pending) == 0, wait), rows(
            url, "SELECT state, claimed_by, lease_until FROM outbox_messages WHERE state <> "
            "'delivered'"
        )  # fmt: skip
        messages = {message_id for (message_id,) in rows(url, "SELECT id FROM outbox_messages")}
        assert rx.wait_sync(
            lambda got: {r.headers["x-webhook-id"] for r in got} >= messages, timeout=10
        )
        assert b.stop() == 0

    # 1. Every trigger answered 2xx is stored, exactly once (an unanswered one may be).
    stored = Counter(stored_seqs(url))
    assert acked - set(stored) == set(), f"{len(acked - set(stored))} acknowledged, not stored"
    assert [seq for seq, n in stored.items() if n > 1] == []
    assert set(stored) <= set(sent.answers)

    # 2. One open incident per key at any time; numbers unique.
    incidents = rows(
        url, "SELECT id, number, incident_key, status, created_at, resolved_at FROM incidents"
    )
    numbers = [row[1] for row in incidents]
    assert len(numbers) == len(set(numbers))
    spans: dict[str, list[tuple[float, float]]] = {}
    for _, _, incident_key, status, created, resolved in incidents:
        assert status == "resolved"
        spans.setdefault(incident_key, []).append(
            (parse_iso(created).timestamp(), parse_iso(resolved).timestamp())
        )
    for incident_key, intervals in spans.items():
        intervals.sort()
        for (_, end), (start, _) in pairwise(intervals):
            assert end <= start, f"{incident_key}: two incidents open at once"
    assert set(spans) <= {*DEDUP_KEYS, "warm-up"}

    # 3. Every auto-resolve timer fired once: one resolution per incident.
    resolutions = dict(
        rows(
            url,
            "SELECT i.id, (SELECT count(*) FROM log_entries e WHERE e.incident_id = i.id"
            " AND e.type = 'resolve_log_entry') FROM incidents i",
        )
    )
    assert set(resolutions.values()) == {1}, resolutions

    # 4. Every incident event's webhook arrived; repeats carry the same id and body.
    assert verifier.refused == []
    assert all(verified(r, [SECRET]) for r in rx.received)
    by_id: dict[str, bytes] = {}
    for request in rx.received:
        webhook_id = request.headers["x-webhook-id"]
        assert by_id.setdefault(webhook_id, request.body) == request.body
    assert set(by_id) == messages
    per_event = Counter(
        (event["data"]["id"], event["event_type"])
        for event in (json.loads(body)["event"] for body in by_id.values())
    )
    expected = {
        (incident_id, kind)
        for incident_id in resolutions
        for kind in ("incident.triggered", "incident.resolved")
    }
    assert set(per_event) == expected
    assert set(per_event.values()) == {1}  # one webhook id per incident event


def test_two_nodes_started_at_once_migrate_and_provision_once(
    postgres: StoreTarget, spawn: Callable[..., Daemon]
) -> None:
    """Both start on an empty schema at the same moment: one migrates, both provision the
    same file, and the database holds one schema version, one service, one integration."""
    url = postgres.url
    assert url is not None
    text = config(v2_service("Web", KEY), server={"cpu_affinity": "off"}, storage=None)
    nodes = [
        spawn(node_config(text, url, node=name, path=f"{name}.db"), name=name, start=False)
        for name in ("a", "b")
    ]
    # Generous: two interpreters importing at once on a busy 2-core machine take ~20 s.
    threads = [threading.Thread(target=node.start, kwargs={"timeout": 90}) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for node in nodes:
        assert node.base_url, node.output()
        with node.client() as http:
            answer = http.post("/v2/enqueue", json=v2(KEY, dedup_key="at-once"))
            assert answer.status_code == 202, answer.text
    from gateway.store.schema import SCHEMA_VERSION

    assert rows(url, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
    assert rows(url, "SELECT name FROM services") == [("Web",)]
    assert scalar(url, "SELECT count(*) FROM integrations") == 1
    assert rows(url, "SELECT incident_key, status FROM incidents") == [("at-once", "triggered")]
    assert [node.stop() for node in nodes] == [0, 0]


def test_a_change_made_on_one_node_holds_on_the_other_at_once(
    postgres: StoreTarget, spawn: Callable[..., Daemon]
) -> None:
    """A service and key made on A take events on B at once; disabled on A, B suppresses
    its events at once; the key deleted on A, B refuses it at once (no node caches them
    past a commit: the rules read the database in the event's own transaction)."""
    url = postgres.url
    assert url is not None
    text = config(v2_service("Web", KEY), server={"cpu_affinity": "off"}, storage=None)
    a = spawn(node_config(text, url, node="a", path="a.db"), name="a", start=False)
    a.start(timeout=60)
    b = spawn(node_config(text, url, node="b", path="b.db"), name="b", start=False)
    b.start(timeout=60)
    made = a.cli("token", "create", "--role", "Manager", "--name", "ha")
    assert made.returncode == 0, made.stderr
    auth = headers(made.stdout.strip().splitlines()[-1].split()[-1])
    with a.client() as on_a, b.client() as on_b:
        r = on_a.post("/services", headers=auth, json={"service": {"name": "Runtime"}})
        assert r.status_code == 201, r.text
        service_id = r.json()["service"]["id"]
        body = {"integration": {"type": "events_api_v2_inbound_integration"}}
        r = on_a.post(f"/services/{service_id}/integrations", headers=auth, json=body)
        assert r.status_code == 201, r.text
        integration = r.json()["integration"]
        new_key = integration["integration_key"]
        assert on_b.post("/v2/enqueue", json=v2(new_key, dedup_key="made")).status_code == 202

        r = on_a.put(
            f"/services/{service_id}", headers=auth, json={"service": {"status": "disabled"}}
        )
        assert r.status_code == 200, r.text
        assert on_b.post("/v2/enqueue", json=v2(new_key, dedup_key="off")).status_code == 202

        r = on_a.delete(f"/services/{service_id}/integrations/{integration['id']}", headers=auth)
        assert r.status_code == 204, r.text
        gone = on_b.post("/v2/enqueue", json=v2(new_key, dedup_key="gone"))
        assert gone.status_code == 400, gone.text
    assert rows(url, "SELECT incident_key FROM incidents WHERE service_id = %s", service_id) == [
        ("made",)
    ]
    assert rows(
        url,
        "SELECT summary FROM log_entries WHERE type = 'suppress_log_entry' AND service_id = %s",
        service_id,
    ) == [("Suppressed trigger: service disabled",)]
    assert [a.stop(), b.stop()] == [0, 0]

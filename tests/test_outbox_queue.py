"""The queue's rules without the deliverers: overflow, producers in the change's own
transaction, operators' requeue/discard, retention of delivered messages, metrics, readyz."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.clock import FakeClock, parse_iso
from gateway.core import outbox
from gateway.core.inputs import ServiceInput, ServicePatch
from gateway.core.outbox_policy import Delivered, Drop
from gateway.core.services import create_service, delete_service, update_service
from gateway.model import IncidentChange
from gateway.store import Store, Tx
from gateway.store.retention import Policy, prune_pass
from gateway.testing import gateway_running
from tests.outbox_support import PostKind, put
from tests.scaffold import config, key, v2, v2_service

KEY = key("outbox")


@pytest.fixture
def bounded() -> Iterator[tuple[PostKind, PostKind]]:
    """Two kinds limited to 2 pending per destination: one drops the overflow, one keeps it."""
    dropping = PostKind(name="dropping", max_pending=2, drop_on_overflow=True)
    keeping = PostKind(name="keeping", max_pending=2, drop_on_overflow=False)
    outbox.register_kind(dropping)
    outbox.register_kind(keeping)
    yield dropping, keeping
    outbox.unregister_kind(dropping)
    outbox.unregister_kind(keeping)


async def test_overflow_drops_or_keeps_by_kind(
    tmp_path: Path, bounded: tuple[PostKind, PostKind]
) -> None:
    store = await Store.open(tmp_path / "gw.db", clock=FakeClock())
    before = outbox.overflow_counts()
    try:
        ids = [await store.write(put("dropping", "http://d/", "k", b"x")) for _ in range(3)]
        kept = [await store.write(put("keeping", "http://d/", "k", b"x")) for _ in range(3)]
        other = await store.write(put("dropping", "http://other/", "k", b"x"))
        entries = await store.read(lambda r: r.outbox_entries())
    finally:
        await store.close()
    after = outbox.overflow_counts()
    assert ids[2] is None and None not in ids[:2]
    assert None not in kept and other is not None
    assert len(entries) == 6
    assert (
        after.get(("dropping", "http://d/", "dropped"), 0)
        - before.get(("dropping", "http://d/", "dropped"), 0)
        == 1
    )
    assert (
        after.get(("keeping", "http://d/", "kept"), 0)
        - before.get(("keeping", "http://d/", "kept"), 0)
        == 1
    )


def _producer(tx: Tx, changes: list[IncidentChange]) -> None:
    for change in changes:
        outbox.enqueue(
            tx,
            kind="test",
            destination="http://127.0.0.1:9/",
            order_key=change.incident_id,
            body=f"{change.action}:{change.incident_id}".encode(),
        )


def _failing_producer(tx: Tx, changes: list[IncidentChange]) -> None:
    _producer(tx, changes)
    raise RuntimeError("the producer failed")


async def test_a_producer_writes_in_the_changes_own_transaction(tmp_path: Path) -> None:
    outbox.register_producer(_producer)
    try:
        async with gateway_running(tmp_path, config(v2_service("Web", KEY))) as gw:
            answer = await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="disk"))
            assert answer.status_code == 202
            incidents = await gw.incidents()
            entries = await gw.store.read(lambda r: r.outbox_entries())
            body = await gw.store.read(lambda r: r.outbox_body(entries[0].id))
    finally:
        outbox.unregister_producer(_producer)
    assert len(incidents) == 1 and len(entries) == 1
    assert entries[0].order_key == incidents[0].id
    assert body is not None and body.body == f"trigger:{incidents[0].id}".encode()


async def test_a_failing_producer_writes_neither_change_nor_message(tmp_path: Path) -> None:
    outbox.register_producer(_failing_producer)
    try:
        async with gateway_running(tmp_path, config(v2_service("Web", KEY))) as gw:
            answer = await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="disk"))
            incidents = await gw.incidents()
            entries = await gw.store.read(lambda r: r.outbox_entries())
    finally:
        outbox.unregister_producer(_failing_producer)
    assert answer.status_code >= 500
    assert incidents == [] and entries == []


async def test_service_changed_calls_the_service_producers(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []

    def produce(tx: Tx, service_id: str, action: str) -> None:
        seen.append((service_id, action))
        outbox.enqueue(tx, kind="test", destination="d", order_key=service_id, body=b"s")

    outbox.register_service_producer(produce)
    store = await Store.open(tmp_path / "gw.db", clock=FakeClock())
    try:
        await store.write(lambda tx: outbox.service_changed(tx, "PSVC001", "updated"))
        entries = await store.read(lambda r: r.outbox_entries())
    finally:
        outbox.unregister_service_producer(produce)
        await store.close()
    assert seen == [("PSVC001", "updated")]
    assert [e.order_key for e in entries] == ["PSVC001"]


async def test_service_create_update_delete_reach_the_service_producers(tmp_path: Path) -> None:
    seen: list[str] = []

    def produce(tx: Tx, service_id: str, action: str) -> None:
        seen.append(action)

    outbox.register_service_producer(produce)
    store = await Store.open(tmp_path / "gw.db", clock=FakeClock())
    try:
        service = await store.write(lambda tx: create_service(tx, ServiceInput(name="Shop")))
        await store.write(lambda tx: update_service(tx, service.id, ServicePatch(name="Cart")))
        await store.write(lambda tx: update_service(tx, service.id, ServicePatch(name="Cart")))
        await store.write(lambda tx: delete_service(tx, service.id))
    finally:
        outbox.unregister_service_producer(produce)
        await store.close()
    assert seen == ["created", "updated", "deleted"]  # an update that changes nothing: none


async def test_operators_requeue_and_discard_failed_messages(tmp_path: Path) -> None:
    clock = FakeClock()
    store = await Store.open(tmp_path / "gw.db", clock=clock)
    try:
        first = await store.write(put("test", "d", "k", b"1"))
        second = await store.write(put("test", "d", "k2", b"2"))
        assert first and second
        for message_id in (first, second):
            message = await store.read(lambda r, m=message_id: r.outbox_body(m))
            assert message is not None
            await store.write(
                lambda tx, m=message: outbox.record(
                    tx, m, Drop("HTTP 400"), node="n", status_code=400, duration_ms=1
                )
            )
        # record() settles only a claim the node holds (a node whose lease was taken over
        # must not settle the new holder's message): unclaimed, nothing is settled.
        failed = await store.read(lambda r: r.outbox_entries(states=["failed"]))
        assert failed == []
        claimed = await store.write(
            lambda tx: outbox.claim(
                tx, node="n", lease_seconds=60, room=lambda k, d: 5, limit=5, kinds_wanted=["test"]
            )
        )
        for item in claimed:
            await store.write(
                lambda tx, m=item.message: outbox.record(
                    tx, m, Drop("HTTP 400"), node="n", status_code=400, duration_ms=1
                )
            )
        failed = await store.read(lambda r: r.outbox_entries(states=["failed"]))
        assert {e.id for e in failed} == {first, second}
        assert await store.write(lambda tx: outbox.requeue(tx, first))
        assert await store.write(lambda tx: outbox.discard(tx, second))
        assert not await store.write(lambda tx: outbox.discard(tx, "Mnosuchmessage"))
        entries = await store.read(lambda r: r.outbox_entries())
    finally:
        await store.close()
    assert [(e.id, e.state, e.attempts) for e in entries] == [(first, "pending", 0)]


async def test_retention_prunes_old_delivered_messages_and_keeps_failed(tmp_path: Path) -> None:
    clock = FakeClock()
    store = await Store.open(tmp_path / "gw.db", clock=clock)
    try:
        ids = [await store.write(put("test", "d", f"k{n}", b"x")) for n in range(3)]
        claimed = await store.write(
            lambda tx: outbox.claim(
                tx, node="n", lease_seconds=60, room=lambda k, d: 5, limit=5, kinds_wanted=["test"]
            )
        )
        outcomes = [Delivered(), Delivered(), Drop("HTTP 410")]
        ordered = sorted(claimed, key=lambda c: c.message.id)
        for item, outcome in zip(ordered, outcomes, strict=True):
            await store.write(
                lambda tx, m=item.message, o=outcome: outbox.record(
                    tx, m, o, node="n", status_code=200, duration_ms=1
                )
            )
        policy = Policy(0, 0, outbox_retention_days=7)
        clock.advance(6 * 86400)
        early = await prune_pass(store, policy)
        clock.advance(2 * 86400)
        late = await prune_pass(store, policy)
        entries = await store.read(lambda r: r.outbox_entries())
        attempts = await store.read(lambda r: r.outbox_attempts(ids[0] or ""))
    finally:
        await store.close()
    assert early.counts["outbox_messages"] == 0
    assert late.counts["outbox_messages"] == 2
    assert [(e.id, e.state) for e in entries] == [(ids[2], "failed")]
    assert attempts == []


async def test_metrics_show_the_queue_and_readyz_ignores_a_dead_destination(
    tmp_path: Path,
) -> None:
    kind = PostKind()
    async with gateway_running(tmp_path, config(v2_service("Web", KEY))) as gw:
        outbox.register_kind(kind)
        try:
            # Port 9 (discard) on loopback refuses: a dead destination.
            await gw.store.write(put("test", "http://127.0.0.1:9/", "k", b"x"))
            ready = await gw.client.get("/readyz")
            text = (await gw.client.get("/metrics")).text
        finally:
            outbox.unregister_kind(kind)
    assert ready.status_code == 200
    assert 'alert_gateway_outbox_pending{destination="http://127.0.0.1:9/",kind="test"} 1.0' in text
    assert 'alert_gateway_outbox_oldest_pending_seconds{kind="test"}' in text


async def test_a_dead_nodes_claims_lapse_per_kind(tmp_path: Path) -> None:
    """Each kind's claim lasts its own lease: a dead node's quick kind comes back first."""
    quick, slow = PostKind(name="quick"), PostKind(name="slow")
    outbox.register_kind(quick)
    outbox.register_kind(slow)
    clock = FakeClock()
    store = await Store.open(tmp_path / "gw.db", clock=clock)
    leases = {"quick": 60.0, "slow": 80.0}

    def claim(node: str) -> Callable[[Tx], list[outbox.Claimed]]:
        return lambda tx: outbox.claim(
            tx, node=node, lease_seconds=leases, room=lambda k, d: 5, limit=5,
            kinds_wanted=["quick", "slow"],
        )  # fmt: skip

    try:
        await store.write(put("quick", "d", "k1", b"x"))
        await store.write(put("slow", "d", "k2", b"x"))
        first = await store.write(claim("dead"))
        clock.advance(61)
        second = await store.write(claim("alive"))
        clock.advance(20)
        third = await store.write(claim("alive"))
    finally:
        await store.close()
        outbox.unregister_kind(quick)
        outbox.unregister_kind(slow)
    assert sorted(c.message.kind for c in first) == ["quick", "slow"]
    ends = {c.message.kind: parse_iso(c.lease_until) for c in first}
    assert (ends["slow"] - ends["quick"]).total_seconds() == 20
    assert [c.message.kind for c in second] == ["quick"]
    assert [c.message.kind for c in third] == ["slow"]

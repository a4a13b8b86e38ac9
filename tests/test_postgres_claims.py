"""Outbox claims on PostgreSQL: short transactions of their own beside the writers.

A claim changes only a message's lease, under row locks (``FOR UPDATE SKIP LOCKED``), so
it neither waits for the cluster-wide write lock another node's ingest holds nor for a
claim another node has not committed yet (docs/architecture.md, "Several nodes").
"""

from __future__ import annotations

import time

import psycopg
import trio

from gateway.clock import FakeClock
from gateway.core import outbox
from gateway.outbound.addresses import AddressPolicy
from gateway.outbound.engine import EngineConfig, serve_outbox
from gateway.store import Store
from gateway.store.postgres import WRITE_LOCK
from tests.conftest import StoreTarget
from tests.outbox_support import PostKind, put, receiver

LOOPBACK_OK = AddressPolicy.parse(["169.254.0.0/16"])


def _claim(node: str, limit: int):  # type: ignore[no-untyped-def]
    def job(tx):  # type: ignore[no-untyped-def]
        return [
            c.message.id
            for c in outbox.claim(
                tx, node=node, lease_seconds=60, room=lambda k, d: 8, limit=limit,
                kinds_wanted=["test"],
            )
        ]  # fmt: skip

    return job


async def test_deliveries_go_on_while_another_node_holds_the_write_lock(
    postgres: StoreTarget,
) -> None:
    clock = FakeClock()
    with receiver() as rx:
        store = await Store.open(postgres.path, clock=clock, url=postgres.url)
        other = psycopg.connect(postgres.url, autocommit=True)
        try:
            for n in range(3):
                await store.write(put("test", rx.url, f"k{n}", f"m{n}".encode()))
            clock.advance(-60)  # not due yet while the deliverers start
            async with trio.open_nursery() as nursery:
                await nursery.start(
                    lambda task_status: serve_outbox(
                        store, {"test": PostKind()},
                        config=EngineConfig(node_id="n1", poll_interval=0.05),
                        policy=LOOPBACK_OK, clock=clock, task_status=task_status,
                    )
                )  # fmt: skip
                # Another node's long write transaction: it holds the lock every writer
                # takes. The messages fall due meanwhile.
                other.execute("BEGIN")
                other.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                clock.advance(60)
                try:
                    # Claimed and sent meanwhile (recording them waits for the lock).
                    got = await rx.wait_for(3, timeout=10)
                finally:
                    other.execute("COMMIT")
                with trio.fail_after(10):
                    while await store.read(lambda r: r.outbox_depths()):
                        await trio.sleep(0.05)
                nursery.cancel_scope.cancel()
        finally:
            other.close()
            await store.close()
    assert sorted(r.body for r in got) == [b"m0", b"m1", b"m2"]


async def test_two_claims_at_once_take_different_messages(postgres: StoreTarget) -> None:
    clock = FakeClock()
    store = await Store.open(postgres.path, clock=clock, url=postgres.url)
    other = psycopg.connect(postgres.url, autocommit=True)
    try:
        for n in range(4):
            await store.write(put("test", "http://127.0.0.1:9/", f"k{n}", b"x"))
        # Node B's claim, not committed yet: its two rows are locked.
        other.execute("BEGIN")
        from gateway.store.queries import Tx

        held = _claim("B", 2)(Tx(other, clock))
        # Node A's claim passes them over at once, rather than waiting for B's commit
        # (which comes 3 s later here) and only then finding them taken.
        async with trio.open_nursery() as nursery:

            async def commit_later() -> None:
                await trio.sleep(3)
                other.execute("COMMIT")

            nursery.start_soon(commit_later)
            started = time.monotonic()
            mine = await store.claim(_claim("A", 4))
            waited = time.monotonic() - started
        owners = {e.id: e.claimed_by for e in await store.read(lambda r: r.outbox_entries())}
    finally:
        other.close()
        await store.close()
    assert waited < 2.0, f"the claim waited {waited:.1f} s for another claim's commit"
    assert len(held) == 2 and len(mine) == 2 and not set(held) & set(mine)
    assert sorted(owners.values()) == ["A", "A", "B", "B"]


async def test_a_timer_claim_passes_over_timers_another_claim_holds(
    postgres: StoreTarget,
) -> None:
    """Timers are claimed as messages are: rows another transaction is claiming are
    passed over at once (``SKIP LOCKED``), never waited for."""
    from gateway.core import timers
    from gateway.store.queries import Tx

    clock = FakeClock()
    store = await Store.open(postgres.path, clock=clock, url=postgres.url)
    other = psycopg.connect(postgres.url, autocommit=True)
    timers.register("seam_test", lambda tx, timer: None)
    try:
        ids = [
            await store.write(lambda tx: timers.schedule_in(tx, "seam_test", None, 0))
            for _ in range(4)
        ]
        other.execute("BEGIN")  # another node's claim of two, not committed yet
        held = Tx(other, clock).claim_timers(ids[:2], node="B", lease_until="9999-01-01T00:00:00Z")
        async with trio.open_nursery() as nursery:

            async def commit_later() -> None:
                await trio.sleep(3)
                other.execute("COMMIT")

            nursery.start_soon(commit_later)
            started = time.monotonic()
            fired = await store.write(
                lambda tx: timers.fire_due(
                    tx, node="A", lease_seconds=60, limit=4, kinds_wanted=["seam_test"]
                )
            )
            waited = time.monotonic() - started
    finally:
        timers.unregister("seam_test")
        other.close()
        await store.close()
    assert waited < 2.0, f"the timer claim waited {waited:.1f} s for another claim's commit"
    assert [t.id for t in held] == ids[:2]
    assert sorted(f.timer.id for f in fired.fired) == sorted(ids[2:])

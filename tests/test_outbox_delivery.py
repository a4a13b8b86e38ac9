"""The deliverers against a real HTTP receiver: at-least-once, retries under the fake clock,
ordering per order key, drop vs retry, lease take-over by another node on the same file."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from gateway.clock import FakeClock, parse_iso
from gateway.core import outbox
from gateway.core.outbox_policy import Drop, Retry, RetryPolicy
from gateway.outbound.addresses import AddressPolicy
from gateway.outbound.engine import Engine, EngineConfig, serve_outbox
from gateway.store import Store
from tests.outbox_support import PostKind, Received, put, receiver

LOOPBACK_OK = AddressPolicy.parse(["169.254.0.0/16"])


@asynccontextmanager
async def delivering(
    path: Path,
    kinds: Sequence[PostKind],
    clock: FakeClock,
    *,
    node: str = "n1",
    policy: AddressPolicy = LOOPBACK_OK,
    per_destination: int = 4,
    poll_interval: float = 0.05,
) -> AsyncIterator[tuple[Store, Engine]]:
    """A store on ``path`` and its deliverers, for the block."""
    store = await Store.open(path, clock=clock)
    try:
        async with trio.open_nursery() as nursery:
            engine: Engine = await nursery.start(
                lambda task_status: serve_outbox(
                    store,
                    {k.name: k for k in kinds},
                    config=EngineConfig(
                        node_id=node, poll_interval=poll_interval, per_destination=per_destination
                    ),
                    policy=policy,
                    clock=clock,
                    task_status=task_status,
                )
            )
            yield store, engine
            nursery.cancel_scope.cancel()
    finally:
        await store.close()


async def states(store: Store) -> list[tuple[str, str, int]]:
    """``(order_key, state, attempts)`` of every message, oldest first."""
    entries = await store.read(lambda r: r.outbox_entries())
    return [(e.order_key, e.state, e.attempts) for e in entries]


async def settle(store: Store, want: int, state: str = "delivered") -> None:
    """Wait until ``want`` messages are in ``state``."""
    with trio.fail_after(10):
        while sum(1 for _, s, _ in await states(store) if s == state) < want:
            await trio.sleep(0.01)


async def test_every_committed_message_is_delivered_and_recorded(tmp_path: Path) -> None:
    clock = FakeClock()
    kind = PostKind()
    with receiver() as rx:
        async with delivering(tmp_path / "gw.db", [kind], clock) as (store, _):
            for n in range(5):
                await store.write(put("test", rx.url, f"k{n % 2}", f"m{n}".encode()))
            await settle(store, 5)
            got = await rx.wait_for(5)
            ids = [e.id for e in await store.read(lambda r: r.outbox_entries())]
            attempts = await store.read(lambda r: r.outbox_attempts(ids[0]))
    assert sorted(r.body for r in got) == [f"m{n}".encode() for n in range(5)]
    assert {r.headers["x-message-id"] for r in got} == set(ids)
    assert [(a.outcome, a.status_code, a.node) for a in attempts] == [("delivered", 200, "n1")]
    assert sorted(call[0] for call in kind.settled_calls) == sorted(ids)


async def test_retries_follow_the_backoff_schedule_on_the_fake_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    kind = PostKind()  # first_delay 10 s doubling, max 80 s, 5 attempts, no jitter
    with receiver(lambda _: (503, {}, 0.0)) as rx:
        async with delivering(tmp_path / "gw.db", [kind], clock) as (store, engine):
            start = clock.now()
            await store.write(put("test", rx.url, "k", b"x"))
            await rx.wait_for(1)
            gaps = []
            for attempt in range(2, 6):
                entry = await _wait_rescheduled(store, attempt - 1)
                gap = (parse_iso(entry) - clock.now()).total_seconds()
                gaps.append(gap)
                clock.advance(gap - 0.5)  # not yet due: nothing is sent
                engine.wake()
                await trio.sleep(0.2)
                assert rx.count() == attempt - 1
                clock.advance(0.5)
                engine.wake()
                await rx.wait_for(attempt)
            await settle(store, 1, "failed")
    assert gaps == [10.0, 20.0, 40.0, 80.0]
    assert (clock.now() - start).total_seconds() == 150.0
    assert len(kind.settled_calls) == 1 and isinstance(kind.settled_calls[0][1], Retry)


async def _wait_rescheduled(store: Store, attempts: int) -> str:
    with trio.fail_after(10):
        while True:
            entries = await store.read(lambda r: r.outbox_entries())
            if entries[0].attempts == attempts and entries[0].claimed_by is None:
                return entries[0].due_at
            await trio.sleep(0.01)


async def test_retry_after_sets_the_next_attempt(tmp_path: Path) -> None:
    clock = FakeClock()
    with receiver(lambda _: (429, {"Retry-After": "120"}, 0.0)) as rx:
        async with delivering(tmp_path / "gw.db", [PostKind()], clock) as (store, _):
            await store.write(put("test", rx.url, "k", b"x"))
            await rx.wait_for(1)
            due = await _wait_rescheduled(store, 1)
    assert (parse_iso(due) - clock.now()).total_seconds() == 120.0


async def test_a_4xx_is_dropped_at_once_and_a_5xx_retried(tmp_path: Path) -> None:
    clock = FakeClock()
    kind = PostKind()

    def script(request: Received) -> tuple[int, dict[str, str], float]:
        return (400 if request.body == b"bad" else 500), {}, 0.0

    with receiver(script) as rx:
        async with delivering(tmp_path / "gw.db", [kind], clock) as (store, _):
            await store.write(put("test", rx.url, "a", b"bad"))
            await store.write(put("test", rx.url, "b", b"flaky"))
            await settle(store, 1, "failed")
            await _wait_rescheduled_key(store, "b")
            entries = await store.read(lambda r: r.outbox_entries())
    by_key = {e.order_key: e for e in entries}
    assert (by_key["a"].state, by_key["a"].attempts, by_key["a"].last_error) == (
        "failed",
        1,
        "HTTP 400",
    )
    assert (by_key["b"].state, by_key["b"].attempts) == ("pending", 1)
    assert [type(outcome) for _, outcome in kind.settled_calls] == [Drop]


async def _wait_rescheduled_key(store: Store, key: str) -> None:
    with trio.fail_after(10):
        while True:
            entries = await store.read(lambda r: r.outbox_entries())
            if any(e.order_key == key and e.attempts and e.claimed_by is None for e in entries):
                return
            await trio.sleep(0.01)


async def test_a_retrying_message_holds_back_its_own_key_only(tmp_path: Path) -> None:
    clock = FakeClock()
    failing = {b"a1"}

    def script(request: Received) -> tuple[int, dict[str, str], float]:
        return (500 if request.body in failing else 200), {}, 0.0

    with receiver(script) as rx:
        async with delivering(tmp_path / "gw.db", [PostKind()], clock) as (store, engine):
            for key, body in (("a", b"a1"), ("b", b"b1"), ("a", b"a2"), ("b", b"b2")):
                await store.write(put("test", rx.url, key, body))
            await settle(store, 2)  # b1, b2 go through while a1 waits
            await trio.sleep(0.2)
            assert sorted(rx.bodies()) == [b"a1", b"b1", b"b2"]  # a2 never left
            assert rx.bodies().index(b"b1") < rx.bodies().index(b"b2")
            failing.clear()
            clock.advance(10)
            engine.wake()
            await settle(store, 4)
    bodies = rx.bodies()
    assert bodies.count(b"a1") == 2
    assert bodies.index(b"a2") > len(bodies) - 2  # a2 only after a1 succeeded


async def test_another_node_takes_over_a_lapsed_lease(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "gw.db"
    with receiver() as rx:
        # Node n1 claims the message and dies before sending it.
        dead = await Store.open(path, clock=clock)
        await dead.write(put("test", rx.url, "k", b"x"))
        claimed = await dead.write(
            lambda tx: outbox.claim(
                tx, node="n1", lease_seconds=60, room=lambda k, d: 1, limit=1, kinds_wanted=["test"]
            )
        )
        assert len(claimed) == 1
        async with delivering(path, [PostKind()], clock, node="n2") as (store, engine):
            await trio.sleep(0.3)
            assert rx.count() == 0  # n1's lease is live: n2 keeps off
            clock.advance(61)
            engine.wake()
            await settle(store, 1)
            entry = (await store.read(lambda r: r.outbox_entries()))[0]
            attempts = await store.read(lambda r: r.outbox_attempts(entry.id))
        await dead.close()
    assert rx.count() == 1
    assert [a.node for a in attempts] == ["n2"]


async def test_a_restarted_node_resends_what_it_had_claimed_at_once(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "gw.db"
    with receiver() as rx:
        store = await Store.open(path, clock=clock)
        await store.write(put("test", rx.url, "k", b"x"))
        await store.write(
            lambda tx: outbox.claim(
                tx, node="n1", lease_seconds=60, room=lambda k, d: 1, limit=1, kinds_wanted=["test"]
            )
        )
        await store.close()  # as after SIGKILL: the claim stays in the file
        async with delivering(path, [PostKind()], clock, node="n1") as (store, _):
            await settle(store, 1)  # no clock move: n1 released its own old claims
    assert rx.count() == 1


async def test_an_enqueueing_commit_wakes_the_deliverers_at_once(tmp_path: Path) -> None:
    clock = FakeClock()
    with receiver() as rx:
        async with delivering(tmp_path / "gw.db", [PostKind()], clock, poll_interval=600) as (
            store,
            _,
        ):
            await trio.sleep(0.1)  # the loop is asleep for its 600 s poll now
            await store.write(put("test", rx.url, "k", b"x"))
            await rx.wait_for(1, timeout=5)


async def test_per_destination_bounds_the_attempts_in_flight(tmp_path: Path) -> None:
    clock = FakeClock()
    live = {"now": 0, "most": 0}

    def script(_: Received) -> tuple[int, dict[str, str], float]:
        live["now"] += 1
        live["most"] = max(live["most"], live["now"])
        time.sleep(0.1)
        live["now"] -= 1
        return 200, {}, 0.0

    with receiver(script) as rx:
        async with delivering(tmp_path / "gw.db", [PostKind()], clock, per_destination=2) as (
            store,
            _,
        ):
            for n in range(8):
                await store.write(put("test", rx.url, f"k{n}", b"x"))
            await settle(store, 8)
    assert live["most"] == 2


async def test_an_attempt_past_the_timeout_is_retried(tmp_path: Path) -> None:
    clock = FakeClock()
    policy = RetryPolicy(
        max_attempts=3, max_age_seconds=None, first_delay=5, max_delay=5, timeout=0.3, jitter=0
    )
    with receiver(lambda _: (200, {}, 2.0)) as rx:
        async with delivering(tmp_path / "gw.db", [PostKind(policy=policy)], clock) as (store, _):
            await store.write(put("test", rx.url, "k", b"x"))
            await _wait_rescheduled(store, 1)
            entry = (await store.read(lambda r: r.outbox_entries()))[0]
    assert entry.state == "pending" and entry.last_error == "no answer within 0.3 s"


async def test_a_retry_past_the_maximum_age_fails_the_message(tmp_path: Path) -> None:
    clock = FakeClock()
    policy = RetryPolicy(
        max_attempts=None, max_age_seconds=60, first_delay=40, max_delay=40, timeout=5, jitter=0
    )
    with receiver(lambda _: (503, {}, 0.0)) as rx:
        async with delivering(tmp_path / "gw.db", [PostKind(policy=policy)], clock) as (
            store,
            engine,
        ):
            await store.write(put("test", rx.url, "k", b"x"))
            await _wait_rescheduled(store, 1)  # due at 40 s: within 60 s of its creation
            clock.advance(40)
            engine.wake()
            await settle(store, 1, "failed")  # the next would be at 80 s: past its age
    assert rx.count() == 2


async def test_a_clean_stop_hands_its_claims_back(tmp_path: Path) -> None:
    clock = FakeClock()
    with receiver(lambda _: (200, {}, 3.0)) as rx:
        async with delivering(tmp_path / "gw.db", [PostKind()], clock) as (store, _):
            await store.write(put("test", rx.url, "k", b"x"))
            await rx.wait_for(1)
        store = await Store.open(tmp_path / "gw.db", clock=clock)
        entry = (await store.read(lambda r: r.outbox_entries()))[0]
        await store.close()
    assert (entry.state, entry.claimed_by, entry.lease_until) == ("pending", None, None)


async def test_a_refused_connection_is_retried_and_a_tls_error_dropped(tmp_path: Path) -> None:
    clock = FakeClock()
    with receiver() as rx:
        tls_to_plain = rx.url.replace("http://", "https://")  # the handshake fails
        async with delivering(tmp_path / "gw.db", [PostKind()], clock) as (store, _):
            await store.write(put("test", "http://127.0.0.1:9/", "refused", b"x"))
            await store.write(put("test", tls_to_plain, "tls", b"x"))
            await settle(store, 1, "failed")
            await _wait_rescheduled_key(store, "refused")
            entries = {e.order_key: e for e in await store.read(lambda r: r.outbox_entries())}
    assert entries["refused"].state == "pending"
    assert (entries["refused"].last_error or "").startswith("ConnectError")
    assert entries["tls"].state == "failed"
    assert (entries["tls"].last_error or "").startswith("TLS error")

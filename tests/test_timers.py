"""Durable timers without incidents: scheduling, firing once, leases, clock steps, re-arming.

A test kind records what fired; a fake clock moves time and the scheduler is woken, so
nothing here sleeps for a timer's delay.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from gateway.clock import FakeClock, iso
from gateway.core import timers
from gateway.core.timer_scheduler import Scheduler, SchedulerConfig, serve_timers
from gateway.domain import Timer
from gateway.metrics import Metrics
from gateway.store import Store, Tx

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KIND = "test_probe"


class Probe:
    """A timer kind that records each firing (and fails while ``failing``)."""

    def __init__(self) -> None:
        self.fired: list[tuple[str, str]] = []
        self.failing = False

    def __call__(self, tx: Tx, timer: Timer) -> None:
        if self.failing:
            raise RuntimeError("probe failure")
        self.fired.append((timer.payload["name"], tx.now))


@pytest.fixture
def probe() -> Iterator[Probe]:
    found = Probe()
    timers.register(KIND, found)
    yield found
    timers.unregister(KIND, found)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@asynccontextmanager
async def scheduling(
    tmp_path: Path, clock: FakeClock, metrics: Metrics | None = None, node: str = "n1"
) -> AsyncIterator[tuple[Store, Scheduler]]:
    store = await Store.open(tmp_path / "gw.db", clock=clock)
    try:
        async with trio.open_nursery() as nursery:
            # A long poll: every firing in these tests must come from a wake-up.
            config = SchedulerConfig(node_id=node, lease_seconds=60, poll_interval=3600)
            scheduler: Scheduler = await nursery.start(
                lambda task_status: serve_timers(
                    store, config=config, clock=clock, metrics=metrics, task_status=task_status
                )
            )
            yield store, scheduler
            nursery.cancel_scope.cancel()
    finally:
        await store.close()


async def schedule(store: Store, name: str, due: datetime) -> str:
    return await store.write(lambda tx: timers.schedule(tx, KIND, None, due, {"name": name}))


async def settle(store: Store, scheduler: Scheduler) -> None:
    """Wake the scheduler and wait until nothing claimable is due any more."""
    scheduler.wake()
    with trio.fail_after(5):
        while True:
            await trio.sleep(0.01)
            due = await store.read(lambda r: r.timers_due([KIND], now=iso(r.clock.now()), limit=1))
            if not due:
                await trio.sleep(0.02)  # the firing job's observers ran before its rows went
                return


async def pending(store: Store) -> list[str]:
    return await store.read(lambda r: [t for (t,) in r._db.fetch_all("SELECT id FROM timers")])


async def test_a_timer_fires_once_when_its_time_comes(tmp_path: Path, probe: Probe) -> None:
    clock = FakeClock(T0)
    metrics = Metrics()
    async with scheduling(tmp_path, clock, metrics) as (store, scheduler):
        await schedule(store, "a", at(30))
        await settle(store, scheduler)
        assert probe.fired == [] and len(await pending(store)) == 1
        clock.advance(29.999)
        await settle(store, scheduler)
        assert probe.fired == []
        clock.advance(0.001)
        await settle(store, scheduler)
        assert probe.fired == [("a", iso(at(30)))]
        assert await pending(store) == []
        for _ in range(3):  # woken again: nothing fires twice
            clock.advance(60)
            await settle(store, scheduler)
        assert len(probe.fired) == 1
    text = metrics.render().decode()
    assert f'alert_gateway_timers_fired_total{{kind="{KIND}",outcome="fired"}} 1.0' in text
    assert f'alert_gateway_timer_lateness_seconds_count{{kind="{KIND}"}} 1.0' in text


async def test_a_clock_stepped_backwards_delays_and_never_fires_everything(
    tmp_path: Path, probe: Probe
) -> None:
    clock = FakeClock(T0)
    async with scheduling(tmp_path, clock) as (store, scheduler):
        for name, seconds in (("a", 10), ("b", 20), ("c", 30)):
            await schedule(store, name, at(seconds))
        clock.set(at(-3600))  # the wall clock is stepped back an hour
        await settle(store, scheduler)
        assert probe.fired == []
        clock.set(at(15))
        await settle(store, scheduler)
        assert [name for name, _ in probe.fired] == ["a"]
        # A big step forwards fires what is due, each once, in due order.
        clock.set(at(86_400))
        await settle(store, scheduler)
        assert [name for name, _ in probe.fired] == ["a", "b", "c"]
        assert await pending(store) == []


async def test_many_due_timers_fire_in_batches_each_once(tmp_path: Path, probe: Probe) -> None:
    clock = FakeClock(T0)
    async with scheduling(tmp_path, clock) as (store, scheduler):

        def many(tx: Tx) -> None:
            for n in range(600):  # more than two batches of 256
                timers.schedule(tx, KIND, None, at(n % 7), {"name": f"t{n}"})

        await store.write(many)
        clock.advance(10)
        await settle(store, scheduler)
    names = [name for name, _ in probe.fired]
    assert len(names) == 600 and len(set(names)) == 600


async def test_an_earlier_timer_rearms_the_sleeping_scheduler(tmp_path: Path, probe: Probe) -> None:
    clock = FakeClock(T0)
    async with scheduling(tmp_path, clock) as (store, scheduler):
        await schedule(store, "late", at(3600))
        await settle(store, scheduler)
        assert scheduler._target == iso(at(3600))
        woken: list[str] = []
        original = store.on_timers
        assert original is not None
        store.on_timers = lambda due: (woken.append(due), original(due))  # type: ignore[func-returns-value]
        await schedule(store, "soon", at(5))
        await schedule(store, "later", at(7200))
        assert woken == [iso(at(5)), iso(at(7200))]
        store.on_timers = original
        clock.advance(5)
        await settle(store, scheduler)
        assert [name for name, _ in probe.fired] == ["soon"]


async def test_a_failing_action_is_undone_alone_and_retried_after_its_lease(
    tmp_path: Path, probe: Probe
) -> None:
    clock = FakeClock(T0)
    async with scheduling(tmp_path, clock) as (store, scheduler):
        await schedule(store, "flaky", at(1))
        await schedule(store, "fine", at(2))
        probe.failing = True
        clock.advance(5)
        scheduler.wake()
        with trio.fail_after(5):
            while len(await pending(store)) != 2 or not await store.read(
                lambda r: r._db.fetch_value("SELECT count(*) FROM timers WHERE attempts = 1") == 2
            ):
                await trio.sleep(0.01)
        probe.failing = False
        # Both keep their claim until the lease lapses: no hot loop of failures.
        await settle(store, scheduler)
        assert probe.fired == []
        clock.advance(61)
        await settle(store, scheduler)
        assert sorted(name for name, _ in probe.fired) == ["fine", "flaky"]
        assert await pending(store) == []


async def test_a_timer_that_keeps_failing_is_given_up(tmp_path: Path, probe: Probe) -> None:
    clock = FakeClock(T0)
    store = await Store.open(tmp_path / "gw.db", clock=clock)
    probe.failing = True
    try:
        await schedule(store, "doomed", at(0))
        for _ in range(timers.MAX_ATTEMPTS):
            clock.advance(120)
            result = await store.write(
                lambda tx: timers.fire_due(tx, node="n1", lease_seconds=60, limit=10)
            )
            assert [f.ok for f in result.fired] == [False]
        assert await pending(store) == []
    finally:
        await store.close()


async def test_a_live_claim_of_another_node_is_left_alone_until_it_lapses(
    tmp_path: Path, probe: Probe
) -> None:
    clock = FakeClock(T0)
    store = await Store.open(tmp_path / "gw.db", clock=clock)
    try:
        timer_id = await schedule(store, "shared", at(0))
        lease = iso(at(30))
        taken = await store.write(
            lambda tx: tx.claim_timers([timer_id], node="other", lease_until=lease)
        )
        assert [t.id for t in taken] == [timer_id]

        def fire(tx: Tx) -> list[str]:
            return [
                f.timer.id for f in timers.fire_due(tx, node="n1", lease_seconds=60, limit=10).fired
            ]

        assert await store.write(fire) == []
        assert await store.read(lambda r: timers.next_due(r, [KIND])) is None
        clock.set(at(31))  # the other node died: its lease lapses, this node takes over
        assert await store.write(fire) == [timer_id]
        assert probe.fired == [("shared", iso(at(31)))]
    finally:
        await store.close()


async def test_a_restarted_node_releases_its_own_claims_at_start(
    tmp_path: Path, probe: Probe
) -> None:
    clock = FakeClock(T0)
    store = await Store.open(tmp_path / "gw.db", clock=clock)
    timer_id = await schedule(store, "left", at(0))
    await store.write(lambda tx: tx.claim_timers([timer_id], node="n1", lease_until=iso(at(600))))
    await store.close()
    async with scheduling(tmp_path, clock, node="n1") as (store, scheduler):
        await settle(store, scheduler)
        assert probe.fired == [("left", iso(T0))]


async def test_a_rolled_back_change_leaves_no_timer(tmp_path: Path, probe: Probe) -> None:
    store = await Store.open(tmp_path / "gw.db", clock=FakeClock(T0))
    try:

        def schedule_then_fail(tx: Tx) -> None:
            timers.schedule(tx, KIND, None, at(1), {"name": "ghost"})
            raise ValueError("the change fails")

        with pytest.raises(ValueError):
            await store.write(schedule_then_fail)
        assert await pending(store) == []
    finally:
        await store.close()


async def test_unregistered_kinds_wait_for_a_node_that_knows_them(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    store = await Store.open(tmp_path / "gw.db", clock=clock)
    try:
        await store.write(lambda tx: timers.schedule(tx, "from_the_future", None, at(0)))
        clock.advance(10)
        result = await store.write(
            lambda tx: timers.fire_due(tx, node="n1", lease_seconds=60, limit=10)
        )
        assert result.fired == [] and len(await pending(store)) == 1
    finally:
        await store.close()

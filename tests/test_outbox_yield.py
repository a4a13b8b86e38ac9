"""Deliveries yield to ingest: while callers queue for the writer, a message waits up to
``max_defer_seconds`` past its due time (on disk, written with its change); it goes out
when the burst ends or when it has waited the bound."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from gateway.clock import FakeClock
from gateway.config import load_settings
from gateway.core import outbox
from gateway.core.pressure import IngestPressure
from gateway.errors import ConfigError
from gateway.metrics import Metrics
from gateway.outbound.addresses import AddressPolicy
from gateway.outbound.engine import Engine, EngineConfig
from gateway.store import Store, Tx
from gateway.testing import gateway_running
from tests.outbox_support import PostKind, put, receiver
from tests.scaffold import config, key, v2_service

LOOPBACK_OK = AddressPolicy.parse(["169.254.0.0/16"])


@pytest.fixture
def kind() -> Iterator[PostKind]:
    """A registered test kind."""
    k = PostKind(name="yield")
    outbox.register_kind(k)
    yield k
    outbox.unregister_kind(k)


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _nothing(tx: Tx) -> None:
    tx.now  # noqa: B018 - a job that touches the transaction and writes nothing


async def test_the_writer_is_busy_while_callers_queue_for_it(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "gw.db", clock=FakeClock())
    ticks = Ticks()
    try:
        pressure = IngestPressure(store.stats, ticks)
        # One caller at a time (batches of one), however many jobs: not busy.
        for _ in range(40):
            await store.write(_nothing)
        ticks.now += 1
        assert not pressure.busy()

        async def burst(background: bool) -> None:
            async with trio.open_nursery() as nursery:
                for _ in range(64):
                    nursery.start_soon(lambda: store.write(_nothing, background=background))

        # The deliverers' own jobs, however many at once, are not pressure.
        await burst(background=True)
        ticks.now += 1
        assert not pressure.busy()
        # 64 callers at once share a few batches: busy, and the verdict stands for a window.
        await burst(background=False)
        ticks.now += 1
        assert pressure.busy()
        await store.write(_nothing)
        assert pressure.busy()
        ticks.now += 1
        assert not pressure.busy()  # the last window held one job
    finally:
        await store.close()


async def test_a_slow_burst_is_judged_on_a_stretched_window(tmp_path: Path) -> None:
    """Callers queueing at fewer than MIN_JOBS jobs a quarter second (a crowded machine)
    still make the writer busy: the window stretches until it has enough jobs to judge."""
    store = await Store.open(tmp_path / "gw.db", clock=FakeClock())
    ticks = Ticks()
    try:
        pressure = IngestPressure(store.stats, ticks)

        async def burst() -> None:
            async with trio.open_nursery() as nursery:
                for _ in range(12):  # fewer than MIN_JOBS (16) at once
                    nursery.start_soon(store.write, _nothing)

        await burst()
        ticks.now += 0.25
        assert not pressure.busy()  # 12 jobs: too few to judge; the verdict stands
        await burst()
        ticks.now += 0.25
        assert pressure.busy()  # 24 jobs over half a second, several a batch
        # A window that never gathers MIN_JOBS is judged at MAX_WINDOW: not busy.
        await store.write(_nothing)
        ticks.now += 0.5
        assert pressure.busy()
        ticks.now += 0.5
        assert not pressure.busy()
    finally:
        await store.close()


async def _run(
    store: Store,
    kind: PostKind,
    busy: list[bool],
    clock: FakeClock,
    *,
    metrics: Metrics | None = None,
    max_defer: float = 30.0,
) -> Engine:
    engine = Engine(
        store,
        {kind.name: kind},
        config=EngineConfig(node_id="n1", poll_interval=0.05, max_defer_seconds=max_defer),
        policy=LOOPBACK_OK,
        clock=clock,
        metrics=metrics,
        busy=lambda: busy[0],
    )
    return engine


async def _delivered(store: Store) -> int:
    entries = await store.read(lambda r: r.outbox_entries(states=("delivered",)))
    return sum(e.state == "delivered" for e in entries)


async def test_a_message_waits_while_ingest_is_busy_then_goes_at_the_bound(
    tmp_path: Path, kind: PostKind
) -> None:
    clock = FakeClock()
    busy = [True]
    metrics = Metrics()
    with receiver() as rx:
        store = await Store.open(tmp_path / "gw.db", clock=clock)
        try:
            engine = await _run(store, kind, busy, clock, metrics=metrics)
            async with trio.open_nursery() as nursery:
                await nursery.start(engine.run)
                await store.write(put("yield", rx.url, "k1", b"x"))
                await trio.sleep(0.6)  # several looks at the queue while busy
                assert rx.count() == 0
                assert engine.deferring
                assert metrics.outbox_deferring._value.get() == 1
                clock.advance(29)
                await trio.sleep(0.6)
                assert rx.count() == 0
                clock.advance(1.5)  # it has now waited past the bound: sent, still busy
                with trio.fail_after(5):
                    while await _delivered(store) < 1:
                        await trio.sleep(0.02)
                assert engine.deferring
                # A newer message still waits; the end of the burst sends it at once.
                await store.write(put("yield", rx.url, "k2", b"y"))
                await trio.sleep(0.6)
                assert rx.count() == 1
                busy[0] = False
                with trio.fail_after(5):
                    while await _delivered(store) < 2:
                        await trio.sleep(0.02)
                assert not engine.deferring
                nursery.cancel_scope.cancel()
        finally:
            await store.close()
    assert rx.count() == 2
    assert metrics.outbox_deferring._value.get() == 0
    assert metrics.outbox_deferring_seconds._value.get() > 0
    assert metrics.outbox_defer_bound._value.get() == 30


async def test_max_defer_zero_never_yields(tmp_path: Path, kind: PostKind) -> None:
    clock = FakeClock()
    with receiver() as rx:
        store = await Store.open(tmp_path / "gw.db", clock=clock)
        try:
            engine = await _run(store, kind, [True], clock, max_defer=0)
            async with trio.open_nursery() as nursery:
                await nursery.start(engine.run)
                await store.write(put("yield", rx.url, "k1", b"x"))
                with trio.fail_after(5):
                    while await _delivered(store) < 1:
                        await trio.sleep(0.02)
                assert not engine.deferring
                nursery.cancel_scope.cancel()
        finally:
            await store.close()


async def test_a_commit_does_not_wake_deliverers_that_yield(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "gw.db", clock=FakeClock())
    try:
        engine = await _run(store, PostKind(name="yield"), [True], FakeClock())
        assert engine._due_by() is not None
        engine.wake({("yield", "http://idle/")})
        assert not engine._wakeup.is_set()
        engine.wake()  # an attempt finished: always look (record it)
        assert engine._wakeup.is_set()
    finally:
        await store.close()


def test_max_defer_seconds_is_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    base = f'[storage]\npath = "{tmp_path / "gw.db"}"\n'
    path.write_text(base)
    assert load_settings(path).outbound.max_defer_seconds == 30
    path.write_text(base + "[outbound]\nmax_defer_seconds = 0\n")
    assert load_settings(path).outbound.max_defer_seconds == 0
    path.write_text(base + "[outbound]\nmax_defer_seconds = -1\n")
    with pytest.raises(ConfigError, match="max_defer_seconds"):
        load_settings(path)


async def test_the_daemon_applies_and_exports_the_bound(tmp_path: Path) -> None:
    text = config(v2_service("Web", key("yield"))) + "\n[outbound]\nmax_defer_seconds = 12\n"
    async with gateway_running(tmp_path, text) as gw:
        assert gw.running.outbox is not None
        assert gw.running.outbox.config.max_defer_seconds == 12
        answer = await gw.client.get("/metrics")
    assert "alert_gateway_outbox_max_defer_seconds 12.0" in answer.text
    assert "alert_gateway_outbox_deferring 0.0" in answer.text

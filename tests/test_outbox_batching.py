"""What keeps the queue cheap under load: attempts recorded and successors claimed in one
write job, an overflow check that does not count the backlog at every enqueue, and
deliverers that ignore a commit's wake-up while its destinations are busy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from gateway.clock import FakeClock
from gateway.core import outbox, outbox_overflow
from gateway.core.outbox_policy import Delivered, Outcome
from gateway.outbound.addresses import AddressPolicy
from gateway.outbound.engine import Engine, EngineConfig, serve_outbox
from gateway.store import Store, Tx
from gateway.store.offline import write_sync
from tests.outbox_support import PostKind, put, receiver

LOOPBACK_OK = AddressPolicy.parse(["169.254.0.0/16"])


class Crash(Exception):
    """Stands for the process dying after the records and before the COMMIT."""


@pytest.fixture
def kind() -> Iterator[PostKind]:
    """A registered test kind."""
    k = PostKind(name="batch")
    outbox.register_kind(k)
    yield k
    outbox.unregister_kind(k)


def _claim_all(tx: Tx) -> list[outbox.Claimed]:
    return outbox.claim(tx, node="n1", lease_seconds=60, room=lambda k, d: 100, limit=100)


def _delivered(claimed: list[outbox.Claimed]) -> list[outbox.Attempt]:
    return [outbox.Attempt(c.message, Delivered(), 200, 3) for c in claimed]


async def test_a_batch_of_outcomes_commits_together_or_not_at_all(
    tmp_path: Path, kind: PostKind
) -> None:
    store = await Store.open(tmp_path / "gw.db", clock=FakeClock())
    try:
        for n in range(3):
            await store.write(put("batch", "http://d/", f"k{n}", b"x"))
        claimed = await store.write(_claim_all)
        attempts = _delivered(claimed)

        def crashing(tx: Tx) -> None:
            outbox.record_many(tx, attempts, node="n1")
            raise Crash

        with pytest.raises(Crash):
            await store.write(crashing)
        # Nothing of the batch is on disk: every message is still pending under its claim,
        # without an attempt; released (the node restarted), each is due again.
        entries = await store.read(lambda r: r.outbox_entries())
        assert [(e.state, e.attempts, e.claimed_by) for e in entries] == [("pending", 0, "n1")] * 3
        assert await store.write(lambda tx: outbox.release_claims(tx, "n1")) == 3
        claimed = await store.write(_claim_all)
        assert len(claimed) == 3
        jobs = store.stats.jobs
        results = await store.write(
            lambda tx: outbox.record_many(tx, _delivered(claimed), node="n1")
        )
        assert store.stats.jobs == jobs + 1  # one job for the three
        entries = await store.read(lambda r: r.outbox_entries())
        attempts_rows = [await store.read(lambda r, i=e.id: r.outbox_attempts(i)) for e in entries]
    finally:
        await store.close()
    assert [r.state for r in results if isinstance(r, outbox.Settled)] == ["delivered"] * 3
    assert [(e.state, e.attempts) for e in entries] == [("delivered", 1)] * 3
    assert [len(rows) for rows in attempts_rows] == [1, 1, 1]


class SettleFails(PostKind):
    """A kind whose ``settled`` raises for one destination (a plugin's bug)."""

    def settled(self, tx: Tx, message: outbox.Message, outcome: Outcome) -> None:
        if message.destination == "http://bad/":
            tx.reset_webhook_drops("nothing")  # a write, undone with the rest of its record
            raise RuntimeError("settled failed")
        super().settled(tx, message, outcome)


async def test_one_failing_record_is_undone_alone(tmp_path: Path) -> None:
    failing = SettleFails(name="batch")
    outbox.register_kind(failing)
    store = await Store.open(tmp_path / "gw.db", clock=FakeClock())
    try:
        for destination in ("http://a/", "http://bad/", "http://c/"):
            await store.write(put("batch", destination, "k", b"x"))
        claimed = await store.write(_claim_all)
        results = await store.write(
            lambda tx: outbox.record_many(tx, _delivered(claimed), node="n1")
        )
        entries = {e.destination: e for e in await store.read(lambda r: r.outbox_entries())}
        bad = entries["http://bad/"]
        bad_attempts = await store.read(lambda r: r.outbox_attempts(bad.id))
    finally:
        await store.close()
        outbox.unregister_kind(failing)
    assert [type(r).__name__ for r in results] == ["Settled", "RuntimeError", "Settled"]
    assert entries["http://a/"].state == entries["http://c/"].state == "delivered"
    # The failed one kept nothing of its record: still pending under the claim, which
    # lapses, so it is sent again (at-least-once).
    assert (bad.state, bad.attempts, bad.claimed_by, bad_attempts) == ("pending", 0, "n1", [])


async def test_the_deliverers_record_and_claim_many_messages_per_write_job(
    tmp_path: Path, kind: PostKind
) -> None:
    count = 48
    # Slow answers: attempts finish while the previous exchange is on its way to the writer.
    with receiver(lambda _: (200, {}, 0.05)) as rx:
        store = await Store.open(tmp_path / "gw.db", clock=FakeClock())
        try:
            for n in range(count):
                await store.write(put("batch", rx.url, f"k{n}", b"x"))
            jobs = store.stats.jobs
            async with trio.open_nursery() as nursery:
                await nursery.start(
                    lambda task_status: serve_outbox(
                        store,
                        {kind.name: kind},
                        config=EngineConfig(node_id="n1", per_destination=4, poll_interval=0.05),
                        policy=LOOPBACK_OK,
                        task_status=task_status,
                    )
                )
                with trio.fail_after(20):
                    while len(kind.settled_calls) < count:
                        await trio.sleep(0.02)
                nursery.cancel_scope.cancel()
            used = store.stats.jobs - jobs
        finally:
            await store.close()
    assert rx.count() == count
    # A claim job and a record job per message would be 2 * count (96); recorded and
    # claimed together it is at most one per message (plus the release at start and stop),
    # fewer when attempts finish together.
    assert used <= count + 4, used


def _pending_counts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = Tx.outbox_pending_count

    def counting(self: Tx, kind: str, destination: str, *, up_to: int) -> int:
        calls.append(up_to)
        return original(self, kind, destination, up_to=up_to)

    monkeypatch.setattr(Tx, "outbox_pending_count", counting)
    return calls


async def test_the_overflow_check_does_not_count_the_backlog_at_every_enqueue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bounded = PostKind(name="bounded", max_pending=2_000, drop_on_overflow=True)
    outbox.register_kind(bounded)
    calls = _pending_counts(monkeypatch)
    store = await Store.open(tmp_path / "gw.db", clock=FakeClock())
    try:

        def many(tx: Tx) -> None:
            for n in range(1_000):
                outbox.enqueue(tx, kind="bounded", destination="http://d/", order_key=f"{n}",
                               body=b"x")  # fmt: skip

        await store.write(many)
    finally:
        await store.close()
        outbox.unregister_kind(bounded)
    # Counted again every min(256, 2000 // 16) = 125 enqueues, not 1,000 times.
    assert len(calls) <= 1_000 // 125 + 1, len(calls)


async def test_one_writer_keeps_the_bound_exactly_with_its_own_deliveries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bounded = PostKind(name="bounded", max_pending=100, drop_on_overflow=True)
    outbox.register_kind(bounded)
    monkeypatch.setattr(outbox_overflow, "RECOUNT_SECONDS", 3600.0)  # only the writer's own tally
    store = await Store.open(tmp_path / "gw.db", clock=FakeClock())
    try:
        first = [await store.write(put("bounded", "http://d/", f"{n}", b"x")) for n in range(120)]
        claimed = await store.write(
            lambda tx: outbox.claim(tx, node="n1", lease_seconds=60, room=lambda k, d: 30, limit=30)
        )
        await store.write(lambda tx: outbox.record_many(tx, _delivered(claimed), node="n1"))
        second = [await store.write(put("bounded", "http://d/", f"b{n}", b"x")) for n in range(40)]
        pending = await store.read(lambda r: r.outbox_pending_count("bounded", "http://d/",
                                                                     up_to=1_000))  # fmt: skip
    finally:
        await store.close()
        outbox.unregister_kind(bounded)
    assert sum(i is not None for i in first) == 100
    assert sum(i is not None for i in second) == 30  # the 30 delivered made room for 30
    assert pending == 100


async def test_the_overflow_bound_holds_across_two_writers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon's writer and the command line (another process's writer) on one file:
    past the bound each lets through at most ``max_pending // 16`` before it sees the other's
    messages (docs/architecture.md)."""
    bounded = PostKind(name="bounded", max_pending=64, drop_on_overflow=True)
    outbox.register_kind(bounded)
    monkeypatch.setattr(outbox_overflow, "RECOUNT_SECONDS", 3600.0)  # the worst case: enqueues only
    path = tmp_path / "gw.db"
    store = await Store.open(path, clock=FakeClock())
    try:
        # The daemon counts (0) and enqueues 2: its tally says 2.
        daemon = [await store.write(put("bounded", "http://d/", f"d{n}", b"x")) for n in range(2)]
        # Another writer fills the destination to the bound behind its back.
        other = [
            write_sync(path, put("bounded", "http://d/", f"o{n}", b"x"), clock=FakeClock())
            for n in range(80)
        ]
        daemon += [await store.write(put("bounded", "http://d/", f"e{n}", b"x")) for n in range(20)]
        pending = await store.read(lambda r: r.outbox_pending_count("bounded", "http://d/",
                                                                     up_to=1_000))  # fmt: skip
    finally:
        await store.close()
        outbox.unregister_kind(bounded)
    assert sum(i is not None for i in other) == 62  # it counted the daemon's 2
    slack = 64 // 16
    assert 64 <= pending <= 64 + slack, pending
    assert sum(i is not None for i in daemon) <= 2 + slack


async def test_a_commit_does_not_wake_deliverers_whose_destinations_are_busy(
    tmp_path: Path,
) -> None:
    store = await Store.open(tmp_path / "gw.db", clock=FakeClock())
    try:
        engine = Engine(
            store, {"batch": PostKind(name="batch")},
            config=EngineConfig(node_id="n1", per_destination=2), policy=LOOPBACK_OK,
        )  # fmt: skip
        engine._in_flight[("batch", "http://busy/")] = 2
        engine.wake({("batch", "http://busy/")})
        assert not engine._wakeup.is_set()
        engine.wake({("batch", "http://busy/"), ("batch", "http://idle/")})
        assert engine._wakeup.is_set()
        engine._wakeup = trio.Event()
        engine.wake()  # an attempt finished: always look
        assert engine._wakeup.is_set()
    finally:
        await store.close()


async def test_a_claim_skips_busy_destinations_and_finds_the_others(
    tmp_path: Path, kind: PostKind
) -> None:
    store = await Store.open(tmp_path / "gw.db", clock=FakeClock())
    try:
        # The busy destination's backlog is the most overdue: a bounded scan that read it
        # first would find nothing for the idle one.
        for n in range(20):
            await store.write(put("batch", "http://busy/", f"b{n}", b"x"))
        await store.write(put("batch", "http://idle/", "i", b"x"))
        claimed = await store.write(
            lambda tx: outbox.claim(
                tx,
                node="n1",
                lease_seconds=60,
                limit=4,
                scan=4,
                room=lambda k, d: 0 if d == "http://busy/" else 4,
                busy=[("batch", "http://busy/")],
            )
        )
    finally:
        await store.close()
    assert [c.message.destination for c in claimed] == ["http://idle/"]

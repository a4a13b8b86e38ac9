"""Driving a running gateway's timers from a test: move the fake clock, wake, wait."""

from __future__ import annotations

import trio

from gateway.clock import FakeClock, iso
from gateway.core import timers
from gateway.testing import TestGateway


async def tick(gw: TestGateway, clock: FakeClock, seconds: float) -> None:
    """Advance ``clock`` by ``seconds``, wake the scheduler, wait until nothing is due."""
    clock.advance(seconds)
    scheduler = gw.running.timers
    assert scheduler is not None
    scheduler.wake()
    with trio.fail_after(10):
        while True:
            await trio.sleep(0.01)
            due = await gw.store.read(
                lambda r: r.timers_due(timers.kinds(), now=iso(r.clock.now()), limit=1)
            )
            if not due:
                await trio.sleep(0.02)  # the firing job's observers run after its commit
                return


async def pending(gw: TestGateway, incident_id: str) -> list[tuple[str, str]]:
    """An incident's pending timers as ``(kind, due_at)``, soonest first."""
    found = await gw.store.read(lambda r: r.incident_timers(incident_id))
    return [(t.kind, t.due_at) for t in found]

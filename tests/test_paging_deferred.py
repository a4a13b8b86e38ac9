"""Paging that yields to ingest: while ingest keeps the writer busy, a new incident's
level 1 is a ``page`` timer the scheduler fires when the burst ends or once it has waited
``max_defer_seconds``; nothing is lost or paged twice, and what happened meanwhile
(acknowledge, resolve, a reassignment by hand) is respected."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
import trio

from gateway.clock import FakeClock
from gateway.testing import TestGateway, gateway_running
from tests.escalation_support import (
    KEY,
    START,
    escalating,
    person,
    policy,
    recipients,
    smtp,
    timeline,
    trigger,
)
from tests.incident_helpers import headers, make_tokens
from tests.scaffold import config, key, v2, v2_service
from tests.smtp_support import smtp_receiver
from tests.timer_support import pending
from tests.ui.harness import sign_in

ANN, BOB = "ann@example.com", "bob@example.com"
PEOPLE = person("Ann Primary", ANN) + person("Bob Second", BOB)
TWO_LEVELS = policy("On call", (10, [ANN]), (15, [BOB]))


def clock() -> FakeClock:
    return FakeClock(datetime.fromisoformat(START.replace("Z", "+00:00")))


def hold(gw: TestGateway, *, busy: bool) -> None:
    """Make ingest (and the scheduler) see a busy writer, or not."""
    gw.running.context.ingest.page_later = lambda: busy
    scheduler = gw.running.timers
    assert scheduler is not None
    scheduler.busy = lambda: busy


async def look(gw: TestGateway) -> None:
    """Wake the scheduler and give its firing job time to commit."""
    scheduler = gw.running.timers
    assert scheduler is not None
    scheduler.wake()
    await trio.sleep(0.2)


async def assignees(gw: TestGateway, incident_id: str) -> list[str]:
    found = await gw.store.read(lambda r: r.incident_assignees([incident_id]))
    return [str(name) for _, _, name in found.get(incident_id, [])]


async def timers_of(gw: TestGateway, incident_id: str) -> list[str]:
    """The incident's pending paging timers' kinds (its service's timeouts aside)."""
    return [k for k, _ in await pending(gw, incident_id) if k in ("page", "escalate", "notify")]


async def timer_count(gw: TestGateway, kind: str) -> int:
    rows = await gw.store.read(lambda r: r.timer_counts())
    return dict(rows).get(kind, 0)


async def ui_page(gw: TestGateway, token: str, incident_id: str) -> str:
    """The incident's web UI page, signed in with ``token`` (the session cookie passed by
    hand: with an https ``public_url`` it is ``Secure``, and the test talks plain HTTP)."""
    cookie = await sign_in(gw.client, token)
    page = await gw.client.get(f"/ui/incidents/{incident_id}", headers=cookie)
    assert page.status_code == 200, page.text
    return page.text


async def test_a_busy_ingest_pages_from_a_timer_when_the_burst_ends(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, c) as gw:
            token = (await make_tokens(gw))["observer"]
            hold(gw, busy=True)
            incident = await trigger(gw, "disk-1", summary="Disk full")
            assert ("page", incident.created_at) in await pending(gw, incident.id)
            assert await assignees(gw, incident.id) == []
            held_page = await ui_page(gw, token, incident.id)
            rest = await gw.client.get(f"/incidents/{incident.id}", headers=headers(token))
            assert rest.json()["incident"]["assignments"] == []
            assert "page" not in {a["type"] for a in rest.json()["incident"]["pending_actions"]}
            await look(gw)  # still busy: held
            assert await timers_of(gw, incident.id) == ["page"]
            assert recipients(rx) == []
            hold(gw, busy=False)
            await look(gw)
            await rx.wait_for(1)
            assert recipients(rx) == [ANN]
            assert await assignees(gw, incident.id) == ["Ann Primary"]
            assert await timers_of(gw, incident.id) == ["escalate"]
            paged_page = await ui_page(gw, token, incident.id)
            entries = await timeline(gw, incident.id)
    assert 'id="paging-held"' in held_page and "paging waits for an alert burst" in held_page
    assert 'id="paging-held"' not in paged_page and "Ann Primary" in paged_page
    kinds = [e.type for e in entries]
    assert kinds == ["trigger_log_entry", "assign_log_entry", "notify_log_entry"]


async def test_a_held_page_waits_no_longer_than_max_defer_seconds(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, c) as gw:
            hold(gw, busy=True)
            incident = await trigger(gw, "disk-1")
            c.advance(29)
            await look(gw)
            assert await timers_of(gw, incident.id) == ["page"]
            c.advance(1)  # 30 s: the [outbound] max_defer_seconds default
            await look(gw)
            await rx.wait_for(1)
            assert await assignees(gw, incident.id) == ["Ann Primary"]
            # The level's delay counts from the page: escalation at 30 s + 10 min.
            escalate = [t for t in await pending(gw, incident.id) if t[0] == "escalate"]
            assert escalate == [("escalate", "2026-03-02T09:10:30.000Z")]


async def test_acknowledged_meanwhile_is_assigned_without_a_page(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, c) as gw:
            hold(gw, busy=True)
            incident = await trigger(gw, "disk-1")
            ack = await gw.client.post("/v2/enqueue", json=v2(KEY, "acknowledge", "disk-1"))
            assert ack.status_code == 202
            hold(gw, busy=False)
            await look(gw)
            assert await assignees(gw, incident.id) == ["Ann Primary"]
            assert await timers_of(gw, incident.id) == []
            await trio.sleep(0.3)
            assert recipients(rx) == []


async def test_resolved_meanwhile_is_never_paged(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, c) as gw:
            hold(gw, busy=True)
            incident = await trigger(gw, "disk-1")
            done = await gw.client.post("/v2/enqueue", json=v2(KEY, "resolve", "disk-1"))
            assert done.status_code == 202
            assert await pending(gw, incident.id) == []  # the resolve took the page with it
            hold(gw, busy=False)
            await look(gw)
            assert await assignees(gw, incident.id) == []
            entries = await timeline(gw, incident.id)
    assert "assign_log_entry" not in [e.type for e in entries] and recipients(rx) == []


async def test_reassigned_by_hand_meanwhile_keeps_its_assignees(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, c) as gw:
            user = headers((await make_tokens(gw))["user"])
            hold(gw, busy=True)
            incident = await trigger(gw, "disk-1")
            level_2 = {"incident": {"type": "incident", "escalation_level": 2}}
            moved = await gw.client.put(f"/incidents/{incident.id}", headers=user, json=level_2)
            assert moved.status_code == 200, moved.text
            await rx.wait_for(1)  # Bob, by the reassignment
            hold(gw, busy=False)
            await look(gw)
            assert await assignees(gw, incident.id) == ["Bob Second"]
            await trio.sleep(0.3)
            assert recipients(rx) == [BOB]
            entries = await timeline(gw, incident.id)
    assert [e.type for e in entries].count("assign_log_entry") == 1


async def test_a_held_page_survives_a_restart_and_fires_once(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, c) as gw:
            hold(gw, busy=True)
            incident = await trigger(gw, "disk-1")
            assert await timers_of(gw, incident.id) == ["page"]
        assert recipients(rx) == []  # held, not paged, when the first process stopped
        # The second process's scheduler may fire the page before any read here: that the
        # one email below arrives at all proves the timer outlived the first process.
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, c) as gw:
            await look(gw)
            await rx.wait_for(1)
            await look(gw)
            await trio.sleep(0.3)
            entries = await timeline(gw, incident.id)
    assert recipients(rx) == [ANN]
    assert [e.type for e in entries].count("assign_log_entry") == 1


async def test_a_service_without_levels_gets_no_page_timer(tmp_path: Path) -> None:
    plain = key("plain")
    text = config(v2_service("Plain", plain))
    async with gateway_running(tmp_path, text, clock=clock()) as gw:
        hold(gw, busy=True)
        answer = await gw.client.post("/v2/enqueue", json=v2(plain, "trigger", "d-1"))
        assert answer.status_code == 202
        assert await timer_count(gw, "page") == 0


async def test_a_real_burst_pages_every_incident_once(tmp_path: Path) -> None:
    """On the real clock and the real pressure signal (no test hooks): a burst of
    concurrent triggers is paged exactly once per incident, whether or not the writer
    turned busy and held some of them."""
    count = 120
    with smtp_receiver() as rx:
        text = config(v2_service("Checkout", KEY, escalation_policy="On call"))
        blocks = PEOPLE + TWO_LEVELS + smtp(rx.port)
        async with gateway_running(tmp_path, text + blocks) as gw:
            limits = httpx.Limits(max_connections=20)
            async with httpx.AsyncClient(base_url=gw.base_url, limits=limits) as client:

                async def send(n: int) -> None:
                    answer = await client.post("/v2/enqueue", json=v2(KEY, "trigger", f"b-{n}"))
                    assert answer.status_code == 202

                async with trio.open_nursery() as nursery:
                    for n in range(count):
                        nursery.start_soon(send, n)
            with trio.fail_after(40):  # held pages wait max_defer_seconds (30) at most
                while await timer_count(gw, "escalate") != count:
                    await trio.sleep(0.1)
            await rx.wait_for(count, timeout=40)
            assigned = await gw.store.read(
                lambda r: r.conn.execute(
                    "SELECT incident_id, count(*) FROM log_entries"
                    " WHERE type = 'assign_log_entry' GROUP BY incident_id"
                ).fetchall()
            )
    assert len(assigned) == count and {n for _, n in assigned} == {1}
    assert sorted(recipients(rx)) == [ANN] * count

"""Reopening a resolved incident: REST (one and bulk), its window and refusals, its timers,
dedup afterwards, and ``incident.reopened`` delivered to a receiver on 127.0.0.1.

A real gateway on 127.0.0.1 with a fake clock where time matters (tests/timer_support.py
moves it and wakes the scheduler), the real clock for the webhook delivery.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import trio

from gateway.clock import FakeClock, iso
from gateway.core.inputs import CONFIG as CONFIG_AGENT
from gateway.core.inputs import ServicePatch
from gateway.core.services import update_service
from gateway.hookspecs import hookimpl
from gateway.model import IncidentChange
from gateway.testing import TestGateway, gateway_running
from tests.incident_helpers import FROM, error, headers, make_tokens, trigger
from tests.scaffold import config, events_v1, key, service, v2_service
from tests.timer_support import pending, tick
from tests.webhook_support import Verifier, events, pd_receiver, subscribe

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
KEY = key("reopen")
BARE = key("reopen-bare")
PUBLIC = "https://gateway.example.com"
CONFIG = config(
    v2_service("Web", KEY, acknowledgement_timeout=600, auto_resolve_timeout=3600),
    service("Bare", events_v1(BARE), alert_creation="create_incidents", auto_resolve_timeout=0),
    server={"public_url": PUBLIC},
    storage=None,
)
DAY = 86_400
V1 = "/generic/2010-04-15/create_event.json"


async def _v1(gw: TestGateway, event_type: str, incident_key: str) -> None:
    """An Events API v1 event on the service without alerts."""
    body = {"service_key": BARE, "event_type": event_type, "incident_key": incident_key}
    answer = await gw.client.post(V1, json={**body, "description": "cron job failed"})
    assert answer.status_code == 200, answer.text


def _status(status: str) -> dict[str, Any]:
    return {"incident": {"type": "incident_reference", "status": status}}


class Observer:
    """Records ``incident_changed`` calls."""

    def __init__(self) -> None:
        self.changes: list[IncidentChange] = []

    @hookimpl
    def incident_changed(self, change: IncidentChange) -> None:
        self.changes.append(change)


async def _put(gw: TestGateway, token: str, number: int, status: str) -> httpx.Response:
    return await gw.client.put(f"/incidents/{number}", headers=headers(token), json=_status(status))


async def _resolved(
    gw: TestGateway, token: str, routing_key: str = KEY, dedup: str = "disk"
) -> str:
    """Trigger an incident and resolve it over REST; its id."""
    if routing_key == BARE:
        await _v1(gw, "trigger", dedup)
    else:
        await trigger(gw.client, routing_key, dedup)
    (incident, *_) = await gw.incidents()
    answer = await _put(gw, token, incident.number, "resolved")
    assert answer.status_code == 200, answer.text
    return incident.id


async def _set_status(gw: TestGateway, service_id: str, status: str) -> None:
    """Disable or enable a service as the configuration file does (it declares the service)."""
    patch = ServicePatch(status=status)
    await gw.store.write(lambda tx: update_service(tx, service_id, patch, by=CONFIG_AGENT))


async def _snapshot(gw: TestGateway) -> tuple[Any, ...]:
    """What a refused reopen must leave alone: incidents, timeline, timers, outbox."""
    incidents = [(i.id, i.status, i.resolved_at) for i in await gw.incidents()]

    def counts(reader: Any) -> tuple[int, ...]:
        tables = ("log_entries", "timers", "outbox_messages")
        return tuple(reader.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables)

    return (incidents, await gw.store.read(counts))


async def test_reopen_as_triggered_over_rest_restarts_auto_resolution(tmp_path: Path) -> None:
    clock, observer = FakeClock(T0), Observer()
    async with gateway_running(tmp_path, CONFIG, clock=clock, plugins=[("o", observer)]) as gw:
        tokens = await make_tokens(gw)
        incident_id = await _resolved(gw, tokens["user"])
        assert await pending(gw, incident_id) == []
        await tick(gw, clock, 120)
        answer = await _put(gw, tokens["limited_user"], 1, "triggered")
        assert answer.status_code == 200, answer.text
        body = answer.json()["incident"]
        assert body["status"] == "triggered" and body["resolved_at"] is None
        assert body["last_status_change_by"]["id"] == FROM
        due = iso(T0 + timedelta(seconds=120 + 3600))
        assert body["pending_actions"] == [{"type": "resolve", "at": due}]
        assert await pending(gw, incident_id) == [("auto_resolve", due)]
        change = observer.changes[-1]
        assert (change.action, change.status, change.previous_status) == (
            "reopen",
            "triggered",
            "resolved",
        )
        entries = await gw.log_entries(incident_id)
        last = entries[-1]
        assert last.type == "reopen_log_entry"
        assert (last.agent_type, last.agent_id) == ("user", FROM)
        assert last.details["status"] == "triggered"
        assert last.details["resolved_at"] == iso(T0)
        # The alert stays resolved: the monitor said its condition cleared.
        assert [a.status for a in await gw.alerts(incident_id)] == ["resolved"]
        timeline = await gw.client.get(
            f"/incidents/{incident_id}/log_entries", headers=headers(tokens["observer"])
        )
        shown = timeline.json()["log_entries"][-1]
        assert shown["type"] == "reopen_log_entry" and shown["agent"]["id"] == FROM
        # The auto-resolution fires a full timeout after the reopen, once.
        await tick(gw, clock, 3599)
        assert (await gw.incidents())[0].status == "triggered"
        await tick(gw, clock, 1)
        assert (await gw.incidents())[0].status == "resolved"
        assert (await gw.log_entries(incident_id))[-1].agent_type == "service"


async def test_reopen_as_acknowledged_starts_both_timeouts(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        tokens = await make_tokens(gw)
        incident_id = await _resolved(gw, tokens["user"])
        answer = await _put(gw, tokens["user"], 1, "acknowledged")
        assert answer.status_code == 200, answer.text
        body = answer.json()["incident"]
        assert body["status"] == "acknowledged"
        assert [a["acknowledger"]["id"] for a in body["acknowledgements"]] == [FROM]
        assert sorted(await pending(gw, incident_id)) == [
            ("ack_timeout", iso(T0 + timedelta(seconds=600))),
            ("auto_resolve", iso(T0 + timedelta(seconds=3600))),
        ]
        types = [e.type for e in await gw.log_entries(incident_id)]
        assert types[-2:] == ["reopen_log_entry", "acknowledge_log_entry"]
        await tick(gw, clock, 600)
        assert (await gw.incidents())[0].status == "triggered"  # the acknowledgement timed out


async def test_bulk_put_reopens_several_all_or_nothing(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        tokens = await make_tokens(gw)
        user = headers(tokens["user"])
        await _resolved(gw, tokens["user"], dedup="one")
        await _resolved(gw, tokens["user"], dedup="two")
        await trigger(gw.client, KEY, "three")  # still open
        before = await _snapshot(gw)
        mixed = {
            "incidents": [
                {"id": "1", "type": "incident_reference", "status": "triggered"},
                {"id": "3", "type": "incident_reference", "status": "triggered"},
            ]
        }
        refused = await gw.client.put("/incidents", headers=user, json=mixed)
        assert error(refused)[:2] == (400, 2001), refused.text
        assert "only reopens a resolved incident" in refused.text
        assert await _snapshot(gw) == before
        both = {
            "incidents": [
                {"id": "1", "type": "incident_reference", "status": "triggered"},
                {"id": "2", "type": "incident_reference", "status": "acknowledged"},
            ]
        }
        answer = await gw.client.put("/incidents", headers=user, json=both)
        assert answer.status_code == 200, answer.text
        got = {i["incident_number"]: i["status"] for i in answer.json()["incidents"]}
        assert got == {1: "triggered", 2: "acknowledged"}


async def test_refusals_say_why_and_change_nothing(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        tokens = await make_tokens(gw)
        await _resolved(gw, tokens["user"])
        await trigger(gw.client, KEY, "open-one")  # incident 2, open
        before = await _snapshot(gw)
        # An open incident is not reopened; triggered is not a way to unacknowledge.
        answer = await _put(gw, tokens["user"], 2, "triggered")
        assert error(answer)[:2] == (400, 2001)
        # Observers cannot; a write needs From, as every incident action.
        assert (await _put(gw, tokens["observer"], 1, "triggered")).status_code == 403
        no_from = await gw.client.put(
            "/incidents/1", headers=headers(tokens["user"], sender=None), json=_status("triggered")
        )
        assert error(no_from)[:2] == (400, 2016)
        bad = await _put(gw, tokens["user"], 1, "reopened")
        assert error(bad) == (400, 1003, "Invalid Status Provided")
        assert (await _put(gw, tokens["user"], 99, "triggered")).status_code == 404
        assert await _snapshot(gw) == before
        # The window: 30 days after the resolution, to the second.
        clock.advance(30 * DAY + 1)
        late = await _put(gw, tokens["user"], 1, "triggered")
        assert error(late) == (400, 2001, "Reopen Window Passed"), late.text
        assert "within 30 days of its resolution" in late.text
        assert await _snapshot(gw) == before
        clock.advance(-1)
        # A disabled service's incident is not reopened (none is opened by hand there).
        web = (await gw.incidents())[-1].service_id
        await _set_status(gw, web, "disabled")
        before = await _snapshot(gw)
        disabled = await _put(gw, tokens["user"], 1, "triggered")
        assert error(disabled) == (400, 2001, "Service is disabled"), disabled.text
        assert await _snapshot(gw) == before
        await _set_status(gw, web, "active")
        assert (await _put(gw, tokens["user"], 1, "triggered")).status_code == 200


async def test_dedup_after_a_reopen(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        tokens = await make_tokens(gw)
        # Alert-based service: the reopened incident's alert stays resolved, so the same
        # dedup key opens a new incident, as after any resolution.
        first = await _resolved(gw, tokens["user"], KEY, "disk")
        assert (await _put(gw, tokens["user"], 1, "triggered")).status_code == 200
        await trigger(gw.client, KEY, "disk")
        newest = (await gw.incidents())[0]
        assert newest.id != first and newest.number == 2
        # Two open incidents with one key on a service are refused: resolve 2, then 1 and
        # 2 are both resolved; reopening 1 while a newer 3 holds the key is refused.
        assert (await _put(gw, tokens["user"], 2, "resolved")).status_code == 200
        assert (await _put(gw, tokens["user"], 1, "resolved")).status_code == 200
        await trigger(gw.client, KEY, "disk")  # incident 3
        before = await _snapshot(gw)
        clash = await _put(gw, tokens["user"], 1, "triggered")
        assert error(clash)[:2] == (400, 2001) and "same dedup key" in clash.text
        assert await _snapshot(gw) == before
        # A service without alerts: the incident's key is the dedup key, so a trigger
        # appends to the reopened incident and a resolve event resolves it.
        bare = await _resolved(gw, tokens["user"], BARE, "job")
        number = next(i.number for i in await gw.incidents() if i.id == bare)
        assert (await _put(gw, tokens["user"], number, "triggered")).status_code == 200
        await _v1(gw, "trigger", "job")
        assert len([i for i in await gw.incidents() if i.incident_key == "job"]) == 1
        await _v1(gw, "resolve", "job")
        assert next(i for i in await gw.incidents() if i.id == bare).status == "resolved"


async def test_incident_reopened_is_delivered_with_pagerdutys_envelope(tmp_path: Path) -> None:
    verifier = Verifier()
    with pd_receiver(verifier) as rx:
        async with gateway_running(tmp_path, CONFIG) as gw:
            tokens = await make_tokens(gw)
            made = await subscribe(
                gw, tokens["user"], rx.url, "incident.resolved", "incident.reopened"
            )
            # One that does not ask for incident.reopened does not get it.
            other = await subscribe(gw, tokens["user"], rx.url, "incident.resolved")
            verifier.secrets += [made["delivery_method"]["secret"]]
            verifier.secrets += [other["delivery_method"]["secret"]]
            incident_id = await _resolved(gw, tokens["user"])
            answer = await _put(gw, tokens["user"], 1, "acknowledged")
            assert answer.status_code == 200, answer.text
            got = await rx.wait_for(3)
            await trio.sleep(0.3)
    assert verifier.refused == []
    sent = events(rx)
    assert len(sent) == 3
    reopened = [e for e in sent if e["event_type"] == "incident.reopened"]
    assert len(reopened) == 1
    (event,) = reopened
    assert set(event) == {
        "id", "event_type", "resource_type", "occurred_at", "agent", "client", "data"
    }  # fmt: skip
    assert event["resource_type"] == "incident"
    assert event["agent"]["type"] == "user_reference" and event["agent"]["id"] == FROM
    data = event["data"]
    assert data["id"] == incident_id and data["type"] == "incident"
    assert data["status"] == "acknowledged"
    assert data["reopened_at"] == event["occurred_at"]
    assert data["html_url"] == f"{PUBLIC}/ui/incidents/{incident_id}"
    # Ordered per subscription and incident: the resolution before the reopen.
    told = [
        json.loads(r.body)["event"]["event_type"]
        for r in got
        if r.headers["x-webhook-subscription"] == made["id"]
    ]
    assert told == ["incident.resolved", "incident.reopened"]
    others = [r for r in got if r.headers["x-webhook-subscription"] == other["id"]]
    assert [json.loads(r.body)["event"]["event_type"] for r in others] == ["incident.resolved"]

"""The incident actions nobody takes: acknowledgement timeout, auto-resolution, snooze's end.

A real gateway with a fake clock: each test moves the clock to the exact second and wakes
the scheduler (tests/timer_support.py), so nothing sleeps for a timeout.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.clock import FakeClock, iso
from gateway.hookspecs import hookimpl
from gateway.model import IncidentChange
from gateway.testing import gateway_running
from tests.incident_helpers import error, headers, make_tokens, trigger
from tests.scaffold import TestGateway, config, key, v2, v2_service
from tests.timer_support import pending, tick

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
KEY = key("timers")
OFF_KEY = key("timers-off")
CONFIG = config(
    v2_service("Web", KEY, acknowledgement_timeout=600, auto_resolve_timeout=3600),
    v2_service("Quiet", OFF_KEY, acknowledgement_timeout=0, auto_resolve_timeout=0),
    storage=None,
)
ACK = {"incident": {"type": "incident_reference", "status": "acknowledged"}}
RESOLVE = {"incident": {"type": "incident_reference", "status": "resolved"}}


class Observer:
    """Records ``incident_changed`` calls."""

    def __init__(self) -> None:
        self.changes: list[IncidentChange] = []

    @hookimpl
    def incident_changed(self, change: IncidentChange) -> None:
        self.changes.append(change)


async def _one(gw: TestGateway) -> Any:
    (incident,) = await gw.incidents()
    return incident


async def _types(gw: TestGateway, incident_id: str) -> list[str]:
    return [e.type for e in await gw.log_entries(incident_id)]


async def test_the_acknowledgement_timeout_returns_the_incident_to_triggered(
    tmp_path: Path,
) -> None:
    clock, observer = FakeClock(T0), Observer()
    async with gateway_running(tmp_path, CONFIG, clock=clock, plugins=[("o", observer)]) as gw:
        tokens = await make_tokens(gw)
        await trigger(gw.client, KEY, "disk")
        answer = await gw.client.put("/incidents/1", headers=headers(tokens["user"]), json=ACK)
        assert answer.status_code == 200, answer.text
        incident = await _one(gw)
        due = iso(T0 + timedelta(seconds=600))
        assert ("ack_timeout", due) in await pending(gw, incident.id)
        assert answer.json()["incident"]["pending_actions"] == [
            {"type": "unacknowledge", "at": due},
            {"type": "resolve", "at": iso(T0 + timedelta(seconds=3600))},
        ]
        await tick(gw, clock, 599)
        assert (await _one(gw)).status == "acknowledged"
        await tick(gw, clock, 1)
        assert (await _one(gw)).status == "triggered"
        entries = await gw.log_entries(incident.id)
        assert [e.type for e in entries][-1] == "unacknowledge_log_entry"
        assert (entries[-1].agent_type, entries[-1].agent_id) == ("service", incident.service_id)
        assert entries[-1].created_at == iso(T0 + timedelta(seconds=600))
        assert observer.changes[-1].action == "unacknowledge"
        assert observer.changes[-1].previous_status == "acknowledged"
        # REST shows the service as the agent, and the timeout as the channel.
        timeline = await gw.client.get(
            f"/incidents/{incident.id}/log_entries", headers=headers(tokens["observer"])
        )
        last = timeline.json()["log_entries"][-1]
        assert last["agent"]["type"] == "service_reference"
        assert last["agent"]["id"] == incident.service_id and last["channel"]["type"] == "timeout"
        shown = await gw.client.get("/incidents/1", headers=headers(tokens["observer"]))
        body = shown.json()["incident"]
        assert body["last_status_change_by"]["type"] == "service_reference"
        assert body["pending_actions"] == [
            {"type": "resolve", "at": iso(T0 + timedelta(seconds=3600))}
        ]
        # Only the auto-resolution is left; nothing fires twice.
        assert [kind for kind, _ in await pending(gw, incident.id)] == ["auto_resolve"]
        await tick(gw, clock, 60)
        assert (await _types(gw, incident.id)).count("unacknowledge_log_entry") == 1


async def test_a_second_acknowledgement_restarts_the_timeout(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        tokens = await make_tokens(gw)
        user = headers(tokens["user"])
        await trigger(gw.client, KEY, "disk")
        await gw.client.put("/incidents/1", headers=user, json=ACK)
        await tick(gw, clock, 500)
        assert (await gw.client.put("/incidents/1", headers=user, json=ACK)).status_code == 200
        await tick(gw, clock, 100)  # the first timeout's moment: it was replaced
        assert (await _one(gw)).status == "acknowledged"
        await tick(gw, clock, 500)
        assert (await _one(gw)).status == "triggered"


async def test_an_events_api_acknowledge_starts_the_timeout_too(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        await trigger(gw.client, KEY, "disk")
        answer = await gw.client.post("/v2/enqueue", json=v2(KEY, "acknowledge", dedup_key="disk"))
        assert answer.status_code == 202
        await tick(gw, clock, 600)
        assert (await _one(gw)).status == "triggered"


async def test_auto_resolution_resolves_the_incident_and_its_alerts(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        await trigger(gw.client, KEY, "disk")
        incident = await _one(gw)
        scrape = (await gw.client.get("/metrics")).text
        assert 'alert_gateway_timers_pending{kind="auto_resolve"} 1.0' in scrape
        assert await pending(gw, incident.id) == [
            ("auto_resolve", iso(T0 + timedelta(seconds=3600)))
        ]
        await tick(gw, clock, 3599)
        assert (await _one(gw)).status == "triggered"
        await tick(gw, clock, 1)
        resolved = await _one(gw)
        assert resolved.status == "resolved"
        assert [a.status for a in await gw.alerts(incident.id)] == ["resolved"]
        scrape = (await gw.client.get("/metrics")).text
        assert 'alert_gateway_timers_fired_total{kind="auto_resolve",outcome="fired"} 1.0' in scrape
        assert "alert_gateway_timers_pending" in scrape
        entry = (await gw.log_entries(incident.id))[-1]
        assert entry.type == "resolve_log_entry"
        assert (entry.agent_type, entry.agent_id) == ("service", incident.service_id)
        assert await pending(gw, incident.id) == []


async def test_resolve_cancels_every_pending_timer(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        tokens = await make_tokens(gw)
        await trigger(gw.client, KEY, "disk")
        await gw.client.put("/incidents/1", headers=headers(tokens["user"]), json=ACK)
        incident = await _one(gw)
        assert len(await pending(gw, incident.id)) == 2
        await gw.client.put("/incidents/1", headers=headers(tokens["user"]), json=RESOLVE)
        assert await pending(gw, incident.id) == []
        await tick(gw, clock, 7200)
        assert await _types(gw, incident.id) == [
            "trigger_log_entry",
            "acknowledge_log_entry",
            "resolve_log_entry",
        ]


async def test_zero_timeouts_schedule_nothing(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        tokens = await make_tokens(gw)
        await trigger(gw.client, OFF_KEY, "quiet")
        await gw.client.put("/incidents/1", headers=headers(tokens["user"]), json=ACK)
        incident = await _one(gw)
        assert await pending(gw, incident.id) == []
        await tick(gw, clock, 30 * 86400)
        assert (await _one(gw)).status == "acknowledged"


async def test_snooze_suspends_the_timeouts_then_triggers_again(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        tokens = await make_tokens(gw)
        user = headers(tokens["user"])
        await trigger(gw.client, KEY, "disk")
        # Only an acknowledged incident can be snoozed.
        refused = await gw.client.post("/incidents/1/snooze", headers=user, json={"duration": 60})
        assert error(refused)[:2] == (400, 2001)
        await gw.client.put("/incidents/1", headers=user, json=ACK)
        await tick(gw, clock, 3000)  # the acknowledgement timed out at 600
        await gw.client.put("/incidents/1", headers=user, json=ACK)
        for bad in ({"duration": 0}, {"duration": 604_801}, {"duration": "60"}, {}):
            answer = await gw.client.post("/incidents/1/snooze", headers=user, json=bad)
            assert error(answer)[:2] == (400, 2001), bad
        answer = await gw.client.post("/incidents/1/snooze", headers=user, json={"duration": 1200})
        assert answer.status_code == 201, answer.text
        assert answer.json()["incident"]["status"] == "acknowledged"
        incident = await _one(gw)
        # No acknowledgement timeout while snoozed; the auto-resolution (due at 3600) waits.
        await tick(gw, clock, 1199)
        assert (await _one(gw)).status == "acknowledged"
        await tick(gw, clock, 1)
        assert (await _one(gw)).status == "resolved"
        types = await _types(gw, incident.id)
        assert types[-4:] == [
            "acknowledge_log_entry",
            "snooze_log_entry",
            "unacknowledge_log_entry",
            "resolve_log_entry",
        ]
        missing = await gw.client.post("/incidents/99/snooze", headers=user, json={"duration": 5})
        assert error(missing)[0] == 404


async def test_a_snooze_ends_in_triggered(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        tokens = await make_tokens(gw)
        user = headers(tokens["user"])
        await trigger(gw.client, KEY, "disk")
        await gw.client.put("/incidents/1", headers=user, json=ACK)
        await gw.client.post("/incidents/1/snooze", headers=user, json={"duration": 900})
        await tick(gw, clock, 899)
        assert (await _one(gw)).status == "acknowledged"
        await tick(gw, clock, 1)
        incident = await _one(gw)
        assert incident.status == "triggered"
        entry = (await gw.log_entries(incident.id))[-1]
        assert entry.type == "unacknowledge_log_entry" and entry.details["reason"] == "snooze_end"


async def test_timers_run_through_webhooks_as_pagerduty_events(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    text = CONFIG + (
        "\n[[webhook_subscriptions]]\n"
        'name = "watch"\n'
        'url = "https://hooks.example.com/pd"\n'
        'events = ["incident.unacknowledged", "incident.resolved", "incident.annotated"]\n'
        'secret = "timer-secret-0123456789"\n'
    )
    async with gateway_running(tmp_path, text, clock=clock) as gw:
        tokens = await make_tokens(gw)
        user = headers(tokens["user"])
        await trigger(gw.client, KEY, "disk")
        await gw.client.put("/incidents/1", headers=user, json=ACK)
        await tick(gw, clock, 600)
        note = {"note": {"content": "looking at it"}}
        assert (await gw.client.post("/incidents/1/notes", headers=user, json=note)).is_success
        await tick(gw, clock, 3000)
        rows = await gw.store.read(
            lambda r: r._db.fetch_all("SELECT body FROM outbox_messages ORDER BY id")
        )
    events = [json.loads(bytes(body))["event"] for (body,) in rows]
    assert [e["event_type"] for e in events] == [
        "incident.unacknowledged",
        "incident.annotated",
        "incident.resolved",
    ]
    unack, annotated, resolved = events
    assert unack["agent"]["type"] == "service_reference" and unack["data"]["status"] == "triggered"
    assert annotated["data"]["content"] == "looking at it"
    assert annotated["data"]["type"] == "incident_note"
    assert annotated["agent"]["id"] == "oncall@example.com"
    assert resolved["agent"]["type"] == "service_reference"
    assert resolved["occurred_at"] == iso(T0 + timedelta(seconds=3600))


async def test_open_incidents_from_before_timers_get_them_at_start(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        tokens = await make_tokens(gw)
        await trigger(gw.client, KEY, "open")
        await trigger(gw.client, KEY, "acked")
        clock.advance(60)
        await gw.client.put("/incidents/2", headers=headers(tokens["user"]), json=ACK)
        await trigger(gw.client, KEY, "done")
        await gw.client.put("/incidents/3", headers=headers(tokens["user"]), json=RESOLVE)
        # As a database written before timers existed: no timer rows at all.
        await gw.store.write(lambda tx: tx._db.execute("DELETE FROM timers"))
    clock.advance(60)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        rows = await gw.store.read(
            lambda r: r._db.fetch_all(
                "SELECT i.number, t.kind, t.due_at FROM timers t JOIN incidents i"
                " ON i.id = t.incident_id ORDER BY i.number, t.kind"
            )
        )
    assert rows == [
        (1, "auto_resolve", iso(T0 + timedelta(seconds=3600))),
        (2, "ack_timeout", iso(T0 + timedelta(seconds=660))),
        (2, "auto_resolve", iso(T0 + timedelta(seconds=3600))),
    ]
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:  # once only
        assert await gw.store.read(lambda r: sum(n for _, n in r.timer_counts())) == 3

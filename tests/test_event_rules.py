"""What an event does to incidents, in process on a fake clock: time-based alert grouping
(its window, resolved incidents) and a repeated acknowledge (issue 14, items 2 and 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.clock import FakeClock
from tests.scaffold import (
    TestGateway,
    config,
    events_v1,
    gateway_running,
    key,
    service,
    v2,
    v2_service,
)

GROUPED = key("rules-grouped")
UNTIL_RESOLVED = key("rules-until-resolved")
ALERTS = key("rules-alerts")
INCIDENTS_ONLY = key("rules-incidents-only")

GROUPING = config(
    v2_service("Grouped", GROUPED, alert_grouping="time", alert_grouping_timeout=10),
    # A timeout of 0: the open incident takes every alert until it is resolved.
    v2_service("Until resolved", UNTIL_RESOLVED, alert_grouping="time", alert_grouping_timeout=0),
)
FOLLOWUPS = config(
    v2_service("With alerts", ALERTS),
    # No alerts kept: an Events API v1 integration (v2 ones need a service that keeps alerts).
    service("Incidents only", events_v1(INCIDENTS_ONLY), alert_creation="create_incidents"),
)

# PagerDuty's answer to every accepted alert event, a no-op follow-up included.
PROCESSED = {"status": "success", "message": "Event processed"}


async def send(gw: TestGateway, routing_key: str, action: str, dedup_key: str) -> None:
    answer = await gw.client.post("/v2/enqueue", json=v2(routing_key, action, dedup_key))
    assert answer.status_code == 202, answer.text
    assert answer.json() == {**PROCESSED, "dedup_key": dedup_key}


async def incident_of(gw: TestGateway, alert_key: str) -> tuple[int, str]:
    """``(number, status)`` of the newest incident holding an alert with ``alert_key``."""
    found = [
        (incident.number, incident.status)
        for incident in await gw.incidents()
        for alert in await gw.alerts(incident.id)
        if alert.alert_key == alert_key
    ]
    assert found, alert_key
    return max(found)


# -- item 2: time-based grouping honours its window and never joins a resolved incident --------


async def test_an_alert_inside_the_window_joins_and_one_after_it_opens_a_new_incident(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with gateway_running(tmp_path, GROUPING, clock=clock) as gw:
        await send(gw, GROUPED, "trigger", "first")
        clock.advance(9 * 60 + 59)  # 10-minute window: one second before it closes
        await send(gw, GROUPED, "trigger", "inside")
        assert await incident_of(gw, "inside") == await incident_of(gw, "first") == (1, "triggered")
        # The window is counted from the incident's creation, not from its latest alert.
        clock.advance(2)
        await send(gw, GROUPED, "trigger", "after")
        assert await incident_of(gw, "after") == (2, "triggered")
        assert len(await gw.alerts((await gw.incidents())[-1].id)) == 2  # #1 kept its two
        # The new incident opens a window of its own.
        clock.advance(60)
        await send(gw, GROUPED, "trigger", "joins-second")
        assert await incident_of(gw, "joins-second") == (2, "triggered")


async def test_an_alert_never_joins_a_resolved_incident(tmp_path: Path) -> None:
    clock = FakeClock()
    async with gateway_running(tmp_path, GROUPING, clock=clock) as gw:
        for routing_key in (GROUPED, UNTIL_RESOLVED):
            await send(gw, routing_key, "trigger", f"{routing_key}-a")
            await send(gw, routing_key, "trigger", f"{routing_key}-b")
            number, _ = await incident_of(gw, f"{routing_key}-a")
            assert await incident_of(gw, f"{routing_key}-b") == (number, "triggered")
            await send(gw, routing_key, "resolve", f"{routing_key}-a")
            await send(gw, routing_key, "resolve", f"{routing_key}-b")
            assert await incident_of(gw, f"{routing_key}-b") == (number, "resolved")
            clock.advance(1)  # well inside a 10-minute window
            await send(gw, routing_key, "trigger", f"{routing_key}-c")
            assert await incident_of(gw, f"{routing_key}-c") == (number + 1, "triggered")
            assert await incident_of(gw, f"{routing_key}-b") == (number, "resolved")


async def test_a_timeout_of_zero_groups_until_the_incident_is_resolved(tmp_path: Path) -> None:
    clock = FakeClock()
    async with gateway_running(tmp_path, GROUPING, clock=clock) as gw:
        await send(gw, UNTIL_RESOLVED, "trigger", "monday")
        clock.advance(3 * 24 * 3600)
        await send(gw, UNTIL_RESOLVED, "trigger", "thursday")
        assert await incident_of(gw, "thursday") == await incident_of(gw, "monday")


# -- item 3: a repeated acknowledge is answered as PagerDuty does and changes nothing -----------


@pytest.mark.parametrize("routing_key", [ALERTS, INCIDENTS_ONLY], ids=["alerts", "incidents"])
async def test_a_repeated_acknowledge_is_accepted_and_changes_nothing(
    tmp_path: Path, routing_key: str
) -> None:
    clock = FakeClock()
    async with gateway_running(tmp_path, FOLLOWUPS, clock=clock) as gw:
        await send(gw, routing_key, "trigger", "disk")
        clock.advance(60)
        await send(gw, routing_key, "acknowledge", "disk")
        (acknowledged,) = await gw.incidents()
        assert acknowledged.status == "acknowledged"
        entries = await gw.log_entries(acknowledged.id)
        assert [e.type for e in entries] == ["trigger_log_entry", "acknowledge_log_entry"]
        alerts = await gw.alerts(acknowledged.id)
        rows = {table: await gw.count(table) for table in ("incidents", "alerts", "log_entries")}

        clock.advance(60)  # a change now would carry a new timestamp
        await send(gw, routing_key, "acknowledge", "disk")

        assert await gw.incidents() == [acknowledged]  # status and every timestamp unchanged
        assert await gw.log_entries(acknowledged.id) == entries
        assert await gw.alerts(acknowledged.id) == alerts
        assert {table: await gw.count(table) for table in rows} == rows

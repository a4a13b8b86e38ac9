"""The escalation engine end to end: a real SMTP receiver on 127.0.0.1 gets each level's
email at its minute on the injected clock; acknowledge stops it, the acknowledgement
timeout starts it again, low urgency never escalates, loops end in exhaustion, and an
incident opened by hand escalates like any other."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import trio

from gateway.clock import FakeClock, parse_iso
from gateway.core import incidents
from gateway.testing import TestGateway
from tests.escalation_support import (
    KEY,
    START,
    escalating,
    later,
    person,
    policy,
    recipients,
    timeline,
    trigger,
)
from tests.incident_helpers import headers, make_tokens, service_id
from tests.scaffold import v2
from tests.smtp_support import smtp_receiver
from tests.timer_support import pending
from tests.webhook_support import subscribe

ANN, BOB, CAT = "ann@example.com", "bob@example.com", "cat@example.com"
PEOPLE = (
    person("Ann Primary", ANN, (0, "high"), (5, "high"), (0, "low"))
    + person("Bob Second", BOB)
    + person("Cat Third", CAT)
)
TWO_LEVELS = policy("On call", (10, [ANN]), (15, [BOB, CAT]))


def clock() -> FakeClock:
    return FakeClock(datetime.fromisoformat(START.replace("Z", "+00:00")))


async def quiet(rx: Any, count: int) -> None:
    """Nothing more than ``count`` mails arrives (the delivery queue had its chance)."""
    await trio.sleep(0.3)
    assert len(recipients(rx)) == count, recipients(rx)


def minutes_after_start(entry_at: str) -> float:
    return (parse_iso(entry_at) - parse_iso(START)).total_seconds() / 60


async def rest_incident(gw: TestGateway, token: str, incident_id: str) -> dict[str, Any]:
    answer = await gw.client.get(f"/incidents/{incident_id}", headers=headers(token))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()["incident"]
    return body


async def test_each_level_is_emailed_at_its_minute(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, c) as gw:
            token = (await make_tokens(gw))["observer"]
            incident = await trigger(gw, "disk-1", summary="Disk full")
            await rx.wait_for(1)
            assert recipients(rx) == [ANN]  # level 1, Ann's rule at 0 min
            first = await rest_incident(gw, token, incident.id)
            await later(gw, c, 4 * 60)
            await quiet(rx, 1)
            await later(gw, c, 60)  # Ann's second rule, at 5 min
            await rx.wait_for(2)
            assert recipients(rx) == [ANN, ANN]
            await later(gw, c, 5 * 60)  # 10 min: level 2
            await rx.wait_for(4)
            assert sorted(recipients(rx)[2:]) == [BOB, CAT]
            second = await rest_incident(gw, token, incident.id)
            answer = await gw.client.get(
                f"/incidents/{incident.id}/log_entries", headers=headers(token)
            )
            entries = await timeline(gw, incident.id)
    assert [a["assignee"]["summary"] for a in first["assignments"]] == ["Ann Primary"]
    assert first["assignments"][0]["at"] == incident.created_at
    assert first["escalation_policy"]["type"] == "escalation_policy_reference"
    assert first["escalation_policy"]["summary"] == "On call"
    assert {"type": "escalate", "at": "2026-03-02T09:10:00.000Z"} in first["pending_actions"]
    assert sorted(a["assignee"]["summary"] for a in second["assignments"]) == [
        "Bob Second",
        "Cat Third",
    ]
    kinds = [e.type for e in entries]
    assert kinds.count("assign_log_entry") == 2 and kinds.count("escalate_log_entry") == 1
    escalated = next(e for e in entries if e.type == "escalate_log_entry")
    assert minutes_after_start(escalated.created_at) == 10
    shaped = {e["type"]: e for e in answer.json()["log_entries"]}
    assert [a["summary"] for a in shaped["assign_log_entry"]["assignees"]] in (
        ["Ann Primary"],
        ["Bob Second", "Cat Third"],
    )
    assert shaped["escalate_log_entry"]["escalation_level"] == 2
    assert shaped["escalate_log_entry"]["channel"]["type"] == "timeout"
    notified = [e["channel"]["notification"]["address"] for e in answer.json()["log_entries"]
                if e["type"] == "notify_log_entry"]  # fmt: skip
    assert sorted(notified) == sorted([ANN, ANN, BOB, CAT])


async def test_acknowledge_stops_it_and_the_timeout_starts_it_again(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(
            tmp_path, rx, PEOPLE + TWO_LEVELS, c, acknowledgement_timeout=600
        ) as gw:
            incident = await trigger(gw, "disk-1")
            await rx.wait_for(1)
            await later(gw, c, 120)
            ack = await gw.client.post("/v2/enqueue", json=v2(KEY, "acknowledge", "disk-1"))
            assert ack.status_code == 202
            await trio.sleep(0.1)
            kinds = {k for k, _ in await pending(gw, incident.id)}
            assert "ack_timeout" in kinds and not kinds & {"escalate", "notify"}
            await later(gw, c, 9 * 60)  # 11 min: no 5-min rule, no level 2
            await quiet(rx, 1)
            await later(gw, c, 60)  # 12 min: the acknowledgement timed out (2 + 10)
            await rx.wait_for(2)
            assert recipients(rx) == [ANN, ANN]  # Ann again, at once
            await later(gw, c, 5 * 60)  # and her 5-min rule
            await rx.wait_for(3)
            await later(gw, c, 5 * 60)  # 22 min: level 2, ten minutes after the return
            await rx.wait_for(5)
            assert sorted(recipients(rx)[3:]) == [BOB, CAT]
            entries = await timeline(gw, incident.id)
    kinds = [e.type for e in entries]
    assert kinds.count("unacknowledge_log_entry") == 1
    escalated = next(e for e in entries if e.type == "escalate_log_entry")
    assert minutes_after_start(escalated.created_at) == 22


async def test_low_urgency_is_notified_by_low_rules_and_never_escalates(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, c, incident_urgency="low") as gw:
            incident = await trigger(gw, "minor")
            await rx.wait_for(1)
            assert not {k for k, _ in await pending(gw, incident.id)} & {"escalate", "notify"}
            await later(gw, c, 3 * 3600)
            await quiet(rx, 1)
            entries = await timeline(gw, incident.id)
            assignees = await gw.store.read(lambda r: r.incident_assignees([incident.id]))
    assert recipients(rx) == [ANN]  # her low-urgency rule only (not the 5-min high one)
    assert [e.type for e in entries].count("escalate_log_entry") == 0
    assert [name for _, _, name in assignees[incident.id]] == ["Ann Primary"]


async def test_loops_then_the_path_is_exhausted(tmp_path: Path) -> None:
    c = clock()
    looping = policy("On call", (1, [ANN]), (2, [BOB]), loops=1)
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + looping, c) as gw:
            incident = await trigger(gw, "loop")
            for _ in range(24):
                await later(gw, c, 30)
            await rx.wait_for(4)
            await quiet(rx, 4)  # Ann's 5-min rule never fires: her level lasts 1 min
            entries = await timeline(gw, incident.id)
            left = await pending(gw, incident.id)
    flow = [
        (e.type, e.details.get("escalation_level"), e.details.get("escalation_loop"))
        for e in entries
        if e.type.endswith(("escalate_log_entry", "escalation_path_log_entry", "assign_log_entry"))
    ]
    assert flow == [
        ("assign_log_entry", 1, 0),
        ("escalate_log_entry", 2, 0),
        ("assign_log_entry", 2, 0),
        ("repeat_escalation_path_log_entry", 1, 1),
        ("assign_log_entry", 1, 1),
        ("escalate_log_entry", 2, 1),
        ("assign_log_entry", 2, 1),
        ("exhaust_escalation_path_log_entry", 2, 1),
    ]
    at = {t: minutes_after_start(e.created_at) for e in entries for t in [e.type]}
    assert at["exhaust_escalation_path_log_entry"] == 6  # 1 + 2 + 1 + 2
    assert [k for k, _ in left if k in ("escalate", "notify")] == []
    assert recipients(rx) == [ANN, BOB, ANN, BOB]


async def test_an_incident_opened_by_hand_escalates_like_any_other(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, c) as gw:
            token = (await make_tokens(gw))["user"]
            checkout = await service_id(gw, "Checkout")
            ref = {"id": checkout, "type": "service_reference"}
            body = {"incident": {"type": "incident", "title": "Payments down", "service": ref}}
            made = await gw.client.post("/incidents", headers=headers(token), json=body)
            assert made.status_code == 201, made.text
            await rx.wait_for(1)
            created = made.json()["incident"]
            await later(gw, c, 10 * 60)
            await rx.wait_for(4)
    assert [a["assignee"]["summary"] for a in created["assignments"]] == ["Ann Primary"]
    assert recipients(rx)[0] == ANN and sorted(recipients(rx)) == [ANN, ANN, BOB, CAT]


async def test_a_failed_notification_does_not_stop_escalation(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        rx.replies = ["550 5.1.1 No such user here"]  # Ann's address is refused for good
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, c) as gw:
            await trigger(gw, "disk-1")
            await rx.wait_rcpts(1)
            await later(gw, c, 10 * 60)
            await rx.wait_for(3)  # Ann's 5-min rule, then Bob and Cat
    assert sorted(recipients(rx)) == [ANN, BOB, CAT]


async def test_escalating_tells_the_webhooks(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, c) as gw:
            token = (await make_tokens(gw))["admin"]
            await subscribe(gw, token, "http://127.0.0.1:9/hook", "incident.triggered",
                            "incident.escalated")  # fmt: skip
            await trigger(gw, "disk-1")
            await later(gw, c, 10 * 60)
            bodies = await gw.store.read(
                lambda r: r.conn.execute(
                    "SELECT body FROM outbox_messages WHERE kind = 'webhook' ORDER BY id"
                ).fetchall()
            )
    events = [json.loads(b[0])["event"] for b in bodies]
    assert [e["event_type"] for e in events] == ["incident.triggered", "incident.escalated"]
    triggered, escalated = (e["data"] for e in events)
    assert [a["summary"] for a in triggered["assignees"]] == ["Ann Primary"]
    assert sorted(a["summary"] for a in escalated["assignees"]) == ["Bob Second", "Cat Third"]
    assert escalated["escalation_policy"]["summary"] == "On call"


async def test_a_reopened_incident_follows_its_policy_again(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, c) as gw:
            incident = await trigger(gw, "disk-1")
            await rx.wait_for(1)
            resolved = await gw.client.post("/v2/enqueue", json=v2(KEY, "resolve", "disk-1"))
            assert resolved.status_code == 202
            await later(gw, c, 60)
            assert await gw.store.read(lambda r: r.incident_assignees([incident.id])) == {}
            await gw.store.write(
                lambda tx: incidents.reopen(tx, incident.id, "triggered", by="ops@example.com")
            )
            await rx.wait_for(2)  # Ann, level 1, again
            await later(gw, c, 10 * 60)
            await rx.wait_for(5)  # her 5-minute rule, then level 2
            entries = await timeline(gw, incident.id)
    assert recipients(rx)[:2] == [ANN, ANN]
    assert sorted(recipients(rx)[2:]) == [ANN, BOB, CAT]
    flow = [(e.type, e.details.get("escalation_level")) for e in entries
            if e.type in ("assign_log_entry", "escalate_log_entry")]  # fmt: skip
    assert flow == [("assign_log_entry", 1), ("assign_log_entry", 1),
                    ("escalate_log_entry", 2), ("assign_log_entry", 2)]  # fmt: skip

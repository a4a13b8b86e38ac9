"""Status-change notification rules ("when a high-urgency incident assigned to me changes")
end to end: declared in the configuration file, an assignee is emailed through a real SMTP
receiver when their incident is escalated away from them, acknowledged or resolved, by the
same path as every notification (notify_log_entry, GET /notifications, the outbox); the
person who made the change is not told; low urgency never is."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trio

from gateway.clock import FakeClock
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
from tests.incident_helpers import headers, make_tokens
from tests.scaffold import v2
from tests.smtp_support import SmtpReceiver, smtp_receiver

ANN, BOB = "ann@example.com", "bob@example.com"
CHANGES = (
    "  [[users.notification_rules]]\n"
    '  contact_method = "Work"\n'
    '  type = "status_change_notification_rule"\n'
)
PEOPLE = person("Ann Primary", ANN) + CHANGES + person("Bob Second", BOB) + CHANGES
TWO_LEVELS = policy("On call", (10, [ANN]), (15, [BOB]))


def clock() -> FakeClock:
    return FakeClock(datetime.fromisoformat(START.replace("Z", "+00:00")))


async def quiet(rx: SmtpReceiver, count: int) -> None:
    """Nothing more than ``count`` mails arrives (the delivery queue had its chance)."""
    await trio.sleep(0.4)
    assert len(recipients(rx)) == count, recipients(rx)


def mail(rx: SmtpReceiver, index: int) -> EmailMessage:
    return rx.emails()[index]


async def put_status(gw: Any, token: str, incident_id: str, status: str, sender: str) -> None:
    body = {"incident": {"type": "incident_reference", "status": status}}
    answer = await gw.client.put(
        f"/incidents/{incident_id}", headers=headers(token, sender), json=body
    )
    assert answer.status_code == 200, answer.text


async def test_escalated_away_and_the_actor_is_not_told(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, c) as gw:
            token = (await make_tokens(gw))["user"]
            incident = await trigger(gw, "disk-1", summary="Disk full")
            await rx.wait_for(1)
            await later(gw, c, 10 * 60)  # level 2: Bob is paged, Ann told it left her
            await rx.wait_for(3)
            escalated = [m for m in rx.emails() if "escalated" in str(m["Subject"])]
            # Bob resolves it himself: he is not told; Ann no longer holds it.
            await put_status(gw, token, incident.id, "resolved", BOB)
            await quiet(rx, 3)
            entries = await timeline(gw, incident.id)
            listed = await gw.client.get(
                "/notifications",
                params={"since": "2026-03-01T00:00:00Z", "until": "2026-03-03T00:00:00Z"},
                headers=headers(token),
            )
    assert recipients(rx)[0] == ANN and sorted(recipients(rx)[1:]) == [ANN, BOB]
    assert [m["To"] for m in escalated] == [ANN]
    text = escalated[0].get_content()
    assert "Incident #1, assigned to you, was escalated: Disk full" in text
    assert "Escalated to level 2" in text
    changes = [e for e in entries if e.type == "notify_log_entry" and "change" in e.details]
    assert [(e.details["change"]["type"], e.details["user"]["email"]) for e in changes] == [
        ("escalated", ANN)
    ]
    assert changes[0].details["channel"] == "auto"
    assert changes[0].details["notification"] == {"type": "email_notification", "address": ANN}
    assert changes[0].summary == "Notified Ann Primary by email that the incident was escalated"
    assert listed.status_code == 200, listed.text
    assert sorted(n["address"] for n in listed.json()["notifications"]) == [ANN, ANN, BOB]


async def test_acknowledged_then_resolved_by_others(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, c) as gw:
            token = (await make_tokens(gw))["user"]
            incident = await trigger(gw, "disk-2", summary="Disk full")
            await rx.wait_for(1)
            await put_status(gw, token, incident.id, "acknowledged", BOB)  # not Ann
            await rx.wait_for(2)
            resolved = await gw.client.post("/v2/enqueue", json=v2(KEY, "resolve", "disk-2"))
            assert resolved.status_code == 202
            await rx.wait_for(3)
            await quiet(rx, 3)
            entries = await timeline(gw, incident.id)
    assert recipients(rx) == [ANN, ANN, ANN]
    ack, done = mail(rx, 1), mail(rx, 2)
    assert str(ack["Subject"]).startswith("[alert-gateway] #1 acknowledged: Disk full")
    assert f"Acknowledged by {BOB}" in ack.get_content()
    assert str(done["Subject"]).startswith("[alert-gateway] #1 resolved: Disk full")
    kinds = [e.details["change"]["type"] for e in entries if "change" in e.details]
    assert kinds == ["acknowledged", "resolved"]


async def test_low_urgency_and_own_acknowledgement_tell_nobody(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, c, incident_urgency="low") as gw:
            token = (await make_tokens(gw))["user"]
            low = await trigger(gw, "minor")
            await rx.wait_for(1)  # Ann's low-urgency assignment rule
            await put_status(gw, token, low.id, "acknowledged", BOB)
            await quiet(rx, 1)
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path / "high", rx, PEOPLE + TWO_LEVELS, c) as gw:
            token = (await make_tokens(gw))["user"]
            high = await trigger(gw, "disk-3")
            await rx.wait_for(1)
            await put_status(gw, token, high.id, "acknowledged", ANN.upper())  # she did it
            await quiet(rx, 1)

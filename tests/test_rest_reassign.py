"""Reassigning incidents over real HTTP (``PUT /incidents/{id}`` with ``assignments`` or
``escalation_level``), and the ``user_ids[]`` / ``include[]=assignees`` list filters.

A real SMTP receiver on 127.0.0.1 shows who is notified; the outbox shows the webhooks.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.clock import FakeClock
from gateway.testing import TestGateway
from tests.escalation_support import START, escalating, person, policy, recipients, trigger
from tests.incident_helpers import error, headers, make_tokens
from tests.smtp_support import smtp_receiver

PEOPLE = (
    person("Ann Primary", "ann@example.com")
    + person("Bob Second", "bob@example.com")
    + person("Cat Third", "cat@example.com")
)
TWO_LEVELS = policy(
    "On call", (10, ["ann@example.com"]), (15, ["bob@example.com", "cat@example.com"])
)
HOOK = (
    "\n[[webhook_subscriptions]]\n"
    'name = "watch"\n'
    'url = "https://hooks.example.com/pd"\n'
    'events = ["incident.reassigned", "incident.escalated"]\n'
    'secret = "reassign-secret-0123456789"\n'
)


def clock() -> FakeClock:
    return FakeClock(datetime.fromisoformat(START.replace("Z", "+00:00")))


async def user_id(gw: TestGateway, email: str) -> str:
    user = await gw.store.read(lambda r: r.user_by_email(email))
    assert user is not None
    return str(user.id)


def to_users(*ids: str) -> dict[str, Any]:
    assignments = [{"assignee": {"id": i, "type": "user_reference"}} for i in ids]
    return {"incident": {"type": "incident_reference", "assignments": assignments}}


def to_level(level: object) -> dict[str, Any]:
    return {"incident": {"type": "incident_reference", "escalation_level": level}}


async def webhook_events(gw: TestGateway) -> list[dict[str, Any]]:
    rows = await gw.store.read(
        lambda r: r._db.fetch_all(
            "SELECT body FROM outbox_messages WHERE kind = 'webhook' ORDER BY id"
        )
    )
    return [json.loads(bytes(body))["event"] for (body,) in rows]


def assignee_ids(body: dict[str, Any]) -> list[str]:
    return [a["assignee"]["id"] for a in body["incident"]["assignments"]]


async def test_reassigning_to_a_user_notifies_them_and_says_so(tmp_path: Path) -> None:
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS + HOOK, clock()) as gw:
            user = headers((await make_tokens(gw))["limited_user"])
            incident = await trigger(gw, "disk-1", summary="Disk full")
            await rx.wait_for(1)
            ann, bob = await user_id(gw, "ann@example.com"), await user_id(gw, "bob@example.com")
            before = (await gw.client.get("/incidents/1", headers=user)).json()
            assert assignee_ids(before) == [ann]
            assert before["incident"]["escalation_policy"]["summary"] == "On call"
            answer = await gw.client.put("/incidents/1", headers=user, json=to_users(bob))
            assert answer.status_code == 200, answer.text
            assert assignee_ids(answer.json()) == [bob]
            assert answer.json()["incident"]["assignments"][0]["assignee"]["summary"] == (
                "Bob Second"
            )
            await rx.wait_for(2)
            assert recipients(rx) == ["ann@example.com", "bob@example.com"]
            entries = await gw.log_entries(incident.id)
            events = await webhook_events(gw)
    assign = [e for e in entries if e.type == "assign_log_entry"][-1]
    assert assign.agent_id == "oncall@example.com" and "Bob Second" in (assign.summary or "")
    assert [e["event_type"] for e in events] == ["incident.reassigned"]
    assert [a["id"] for a in events[0]["data"]["assignees"]] == [bob]
    assert events[0]["agent"]["id"] == "oncall@example.com"


async def test_reassigning_to_a_level_assigns_its_targets(tmp_path: Path) -> None:
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS + HOOK, clock()) as gw:
            user = headers((await make_tokens(gw))["user"])
            incident = await trigger(gw, "disk-2", summary="Disk full")
            await rx.wait_for(1)
            answer = await gw.client.put("/incidents/1", headers=user, json=to_level(2))
            assert answer.status_code == 200, answer.text
            await rx.wait_for(3)
            entries = await gw.log_entries(incident.id)
            bob, cat = await user_id(gw, "bob@example.com"), await user_id(gw, "cat@example.com")
            events = await webhook_events(gw)
    assert sorted(assignee_ids(answer.json())) == sorted([bob, cat])
    assert sorted(recipients(rx)[1:]) == ["bob@example.com", "cat@example.com"]
    assert "escalate_log_entry" in [e.type for e in entries]
    assert "incident.escalated" in [e["event_type"] for e in events]


async def test_bad_reassignments_are_refused_and_change_nothing(tmp_path: Path) -> None:
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS + HOOK, clock()) as gw:
            tokens = await make_tokens(gw)
            user = headers(tokens["limited_user"])
            await trigger(gw, "a", summary="A")
            await trigger(gw, "b", summary="B")
            ann, bob = await user_id(gw, "ann@example.com"), await user_id(gw, "bob@example.com")
            put = gw.client.put
            refused = [
                await put("/incidents/1", headers=user, json=to_users("PNOBODY")),
                await put("/incidents/1", headers=user, json=to_level(3)),
                await put("/incidents/1", headers=user, json=to_level(0)),
                await put("/incidents/1", headers=user, json=to_level("2")),
                await put("/incidents/1", headers=user, json=to_level(True)),
                await put(
                    "/incidents/1",
                    headers=user,
                    json={"incident": {**to_users(bob)["incident"], "escalation_level": 2}},
                ),
                await put(
                    "/incidents/1",
                    headers=user,
                    json={"incident": {"escalation_policy": {"id": "PX", "type": "x"}}},
                ),
                await put("/incidents/1", headers=user, json={"incident": {"assignments": []}}),
                await put("/incidents/1", headers=user, json={"incident": {"title": "x"}}),
                await put(
                    "/incidents",
                    headers=user,
                    json={
                        "incidents": [
                            {"id": "2", **to_users(bob)["incident"]},
                            {"id": "1", **to_users("PNOBODY")["incident"]},
                        ]
                    },
                ),
            ]
            # An observer cannot reassign.
            denied = await put(
                "/incidents/1", headers=headers(tokens["observer"]), json=to_level(2)
            )
            assert error(denied)[:2] == (403, 2010)
            await put("/incidents/2", headers=user, json={"incident": {"status": "resolved"}})
            resolved = await put("/incidents/2", headers=user, json=to_users(bob))
            first = (await gw.client.get("/incidents/1", headers=user)).json()
            events = await webhook_events(gw)
    for answer in refused:
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["errors"], answer.text
    assert "PNOBODY" in refused[0].json()["error"]["errors"][0]
    assert "between 1 and 2" in refused[1].json()["error"]["errors"][0]
    assert "escalation_policy" in refused[6].json()["error"]["errors"][0]
    assert error(resolved) == (400, 1001, "Incident Already Resolved")
    assert assignee_ids(first) == [ann]  # nothing changed, the bulk one neither
    assert events == []


async def test_user_ids_and_include_assignees_filter_the_list(tmp_path: Path) -> None:
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, clock()) as gw:
            user = headers((await make_tokens(gw))["user"])
            for dedup in ("one", "two", "three"):
                await trigger(gw, dedup, summary=dedup)
            ann, bob = await user_id(gw, "ann@example.com"), await user_id(gw, "bob@example.com")
            await gw.client.put("/incidents/2", headers=user, json=to_users(bob))
            await gw.client.put(
                "/incidents/3", headers=user, json={"incident": {"status": "resolved"}}
            )

            async def numbers(query: str) -> list[int]:
                answer = await gw.client.get(f"/incidents?date_range=all&{query}", headers=user)
                assert answer.status_code == 200, answer.text
                return [i["incident_number"] for i in answer.json()["incidents"]]

            assert await numbers(f"user_ids[]={ann}") == [1]  # #3 was Ann's, but resolved
            assert await numbers(f"user_ids[]={bob}") == [2]
            assert await numbers(f"user_ids[]={ann}&user_ids[]={bob}") == [1, 2]
            assert await numbers(f"user_ids[]={bob}&statuses[]=resolved") == []
            assert await numbers("user_ids[]=PNOBODY") == []
            plain = await gw.client.get("/incidents/2", headers=user)
            full = await gw.client.get(
                "/incidents?date_range=all&include[]=assignees&user_ids[]=" + bob, headers=user
            )
            teams = await gw.client.get("/incidents?team_ids[]=PT", headers=user)
    assert plain.json()["incident"]["assignments"][0]["assignee"]["type"] == "user_reference"
    assignee = full.json()["incidents"][0]["assignments"][0]["assignee"]
    assert assignee["type"] == "user" and assignee["email"] == "bob@example.com"
    assert assignee["contact_methods"][0]["type"] == "email_contact_method_reference"
    assert teams.status_code == 400  # still refused, never ignored
    del rx


async def test_a_status_and_a_reassignment_in_one_update_both_happen(tmp_path: Path) -> None:
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, clock()) as gw:
            user = headers((await make_tokens(gw))["user"])
            await trigger(gw, "both", summary="Both")
            bob = await user_id(gw, "bob@example.com")
            moved = to_users(bob)["incident"]
            acked = await gw.client.put(
                "/incidents/1", headers=user, json={"incident": {**moved, "status": "acknowledged"}}
            )
            await gw.client.put(
                "/incidents/1", headers=user, json={"incident": {"status": "resolved"}}
            )
            reopened = await gw.client.put(
                "/incidents/1", headers=user, json={"incident": {**moved, "status": "triggered"}}
            )
    assert acked.status_code == 200, acked.text
    assert acked.json()["incident"]["status"] == "acknowledged" and assignee_ids(acked.json()) == [
        bob
    ]
    # A resolved incident is refused, reopened or not: reopen it, then reassign it.
    assert error(reopened) == (400, 1001, "Incident Already Resolved")

"""``GET /notifications`` and the ``notify_log_entry`` in REST: PagerDuty's shapes, required
``since``/``until``, ``filter``, ``include[]=users``, paging; bad input is a 400."""

from __future__ import annotations

from pathlib import Path

import trio

from gateway.clock import FakeClock
from gateway.core.notifications import (
    ContactPoint,
    NotifiedUser,
    notify,
    register_contact_delivery,
    unregister_contact_delivery,
)
from gateway.testing import gateway_running
from tests.incident_helpers import CONFIG, WEB_KEY, headers, make_tokens, trigger

ALICE = NotifiedUser("PALICE1", "Alice Doe", "alice@example.com")
BOB = NotifiedUser("PBOB001", "Bob Roe", "bob@example.com")
RANGE = "since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z"


async def test_notifications_are_listed_and_shown_in_the_timeline(tmp_path: Path) -> None:
    clock = FakeClock()  # 2026-01-01T00:00:00Z
    register_contact_delivery("sms_contact_method", "test_sms")
    try:
        async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
            tokens = await make_tokens(gw)
            token, admin = tokens["observer"], headers(tokens["admin"])
            made = await gw.client.post("/users", headers=admin, json={
                "user": {"name": "Alice Doe", "email": "alice@example.com"}})  # fmt: skip
            assert made.status_code == 201, made.text
            alice_id = made.json()["user"]["id"]
            alice = NotifiedUser(alice_id, "Alice Doe", "alice@example.com")
            await trigger(gw.client, WEB_KEY, "disk")
            (incident,) = await gw.incidents()
            email = ContactPoint("PCM0001", "email_contact_method", "alice@example.com")
            sms = ContactPoint("PCM0002", "sms_contact_method", "+15550100")
            await gw.store.write(lambda tx: notify(tx, incident, alice, email))
            clock.advance(60)
            await gw.store.write(lambda tx: notify(tx, incident, BOB, sms))
            with trio.fail_after(10):  # no relay here: the email fails at its first attempt
                while not await gw.store.read(
                    lambda r: r.outbox_entries(kind="email_notification", states=["failed"])
                ):
                    await trio.sleep(0.02)
            h = headers(token)
            listed = (await gw.client.get(f"/notifications?{RANGE}&total=true", headers=h)).json()
            only = await gw.client.get(f"/notifications?{RANGE}&filter=sms_notification", headers=h)
            users = await gw.client.get(f"/notifications?{RANGE}&include[]=users", headers=h)
            paged = (await gw.client.get(f"/notifications?{RANGE}&limit=1", headers=h)).json()
            timeline = await gw.client.get(f"/incidents/{incident.id}/log_entries", headers=h)
    finally:
        unregister_contact_delivery("sms_contact_method")
    assert (listed["total"], listed["more"]) == (2, False)
    newest, oldest = listed["notifications"]
    assert {k: newest[k] for k in ("type", "started_at", "address")} == {
        "type": "sms_notification",
        "started_at": "2026-01-01T00:01:00.000Z",
        "address": "+15550100",
    }
    assert oldest["type"] == "email_notification" and oldest["address"] == "alice@example.com"
    assert oldest["user"]["type"] == "user_reference"
    assert (oldest["user"]["id"], oldest["user"]["summary"]) == (alice_id, "Alice Doe")
    assert (oldest["status"], newest["status"]) == ("failed", "pending")  # nothing sends SMS
    assert [n["type"] for n in only.json()["notifications"]] == ["sms_notification"]
    # Bob is no stored user: named as he was; Alice is one: the whole user object.
    by_id = {n["user"]["id"]: n["user"] for n in users.json()["notifications"]}
    assert by_id["PBOB001"]["type"] == "user" and by_id["PBOB001"]["name"] == "Bob Roe"
    assert by_id[alice_id]["email"] == "alice@example.com" and "contact_methods" in by_id[alice_id]
    assert (len(paged["notifications"]), paged["more"]) == (1, True)
    notified = [e for e in timeline.json()["log_entries"] if e["type"] == "notify_log_entry"]
    assert [e["summary"] for e in notified] == ["Notified Alice Doe by email",
                                                "Notified Bob Roe by sms"]  # fmt: skip
    first = notified[0]
    assert first["user"]["id"] == alice_id
    assert first["channel"]["type"] == "auto"
    assert first["channel"]["notification"]["type"] == "email_notification"
    assert first["channel"]["notification"]["address"] == "alice@example.com"
    assert first["channel"]["notification"]["status"] == oldest["status"]  # read when shown
    assert first["channel"]["user"]["summary"] == "Alice Doe"


async def test_a_type_nothing_delivers_writes_nothing(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        await trigger(gw.client, WEB_KEY, "disk")
        (incident,) = await gw.incidents()
        pigeon = ContactPoint("PCM0003", "pigeon_contact_method", "loft 7")
        done = await gw.store.write(lambda tx: notify(tx, incident, ALICE, pigeon))
        entries = await gw.log_entries(incident.id)
    assert done is None
    assert [e.type for e in entries] == ["trigger_log_entry"]


async def test_bad_queries_are_400(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        h = headers((await make_tokens(gw))["observer"])
        cases = {
            "": "'since' is required",
            "since=2026-01-01T00:00:00Z": "'until' is required",
            "since=yesterday&until=2026-01-02T00:00:00Z": "'since' must be an ISO 8601",
            "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z": "after 'since'",
            f"{RANGE}&filter=x%0d%0a": "'filter' must be a notification type",
            f"{RANGE}&include[]=teams": "include[]",
            f"{RANGE}&time_zone=Europe/Paris": "time_zone",
        }
        for query, words in cases.items():
            answer = await gw.client.get(f"/notifications?{query}", headers=h)
            assert answer.status_code == 400, (query, answer.text)
            assert words in str(answer.json()["error"]["errors"]), (query, answer.text)

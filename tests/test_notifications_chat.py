"""A plugin's contact method type end to end: the example plugin's chat incoming-webhook kind
delivers a notification to a real HTTP receiver on 127.0.0.1, retrying a 503."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import trio
from structlog.testing import capture_logs

from gateway.clock import FakeClock
from gateway.core.notifications import ContactPoint, NotifiedUser, contact_delivery, notify
from gateway.hookspecs import hookimpl
from gateway.pluginkit import ContactMethodType
from gateway.testing import gateway_running
from tests.incident_helpers import headers, make_tokens
from tests.outbox_support import Received, receiver
from tests.scaffold import config, key, v2, v2_service

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_SRC = REPO / "examples" / "alert-gateway-example-plugin" / "src"
KEY = key("notify-chat")
if str(EXAMPLE_SRC) not in sys.path:
    sys.path.insert(0, str(EXAMPLE_SRC))

import alert_gateway_example  # noqa: E402  (the example plugin, from its source folder)


async def test_a_chat_webhook_contact_gets_the_notification(tmp_path: Path) -> None:
    answers = iter([503, 200])

    def script(_: Received) -> tuple[int, dict[str, str], float]:
        return next(answers, 200), {"retry-after": "1"}, 0.0

    clock = FakeClock()
    text = config(v2_service("Checkout", KEY), server={"public_url": "https://gw.example.com"})
    with receiver(script) as rx:
        plugins = [("example", alert_gateway_example)]
        async with gateway_running(tmp_path, text, clock=clock, plugins=plugins) as gw:
            assert contact_delivery("chat_webhook_contact_method") == "chat_webhook_notification"
            answer = await gw.client.post("/v2/enqueue", json=v2(KEY, summary="Disk full"))
            assert answer.status_code == 202
            (incident,) = await gw.incidents()
            room = ContactPoint("PCM0009", "chat_webhook_contact_method", rx.url, "Ops room")
            user = NotifiedUser("PALICE1", "Alice Doe", "alice@example.com")
            done = await gw.store.write(lambda tx: notify(tx, incident, user, room))
            await rx.wait_for(1)
            with trio.fail_after(10):  # the 503 recorded: rescheduled, its claim released
                while not [e for e in await gw.store.read(lambda r: r.outbox_entries(
                        kind="chat_webhook_notification")) if e.attempts == 1
                        and e.claimed_by is None]:  # fmt: skip
                    await trio.sleep(0.02)
            clock.advance(1)  # the Retry-After of the 503
            assert gw.running.outbox is not None
            gw.running.outbox.wake()
            got = await rx.wait_for(2)
            listed = await gw.store.read(lambda r: r.incident_notifications(incident.id))
    assert done is not None and done.kind == "chat_webhook_notification"
    assert json.loads(got[0].body) == json.loads(got[1].body)  # the retry sends the same
    text_sent = json.loads(got[1].body)["text"]
    assert text_sent == (
        "Alice Doe: incident #1 Disk full (high urgency, Checkout) needs you. "
        f"Open and acknowledge it: https://gw.example.com/ui/incidents/{incident.id}"
    )
    assert got[0].headers["x-alert-gateway-message-id"] == done.message_id
    assert [(n.type, n.address) for n in listed] == [("chat_webhook_notification", rx.url)]


async def test_people_may_store_the_plugins_type_and_get_notified_through_it(
    tmp_path: Path,
) -> None:
    text = config(v2_service("Checkout", KEY))
    with receiver() as rx:
        plugins = [("example", alert_gateway_example)]
        async with gateway_running(tmp_path, text, plugins=plugins) as gw:
            h = headers((await make_tokens(gw))["admin"])
            made = await gw.client.post(
                "/users", headers=h, json={"user": {"name": "Bob Roe", "email": "bob@example.com"}}
            )
            assert made.status_code == 201, made.text
            user = made.json()["user"]
            base = f"/users/{user['id']}/contact_methods"
            room = {"type": "chat_webhook_contact_method", "label": "Ops", "address": rx.url}
            added = await gw.client.post(base, headers=h, json={"contact_method": room})
            assert added.status_code == 201, added.text
            bad = {**room, "address": "not a url"}
            refused = await gw.client.post(base, headers=h, json={"contact_method": bad})
            assert refused.status_code == 400
            assert "incoming webhook URL" in refused.text
            method = added.json()["contact_method"]
            await gw.client.post("/v2/enqueue", json=v2(KEY, summary="Queue stuck"))
            (incident,) = await gw.incidents()
            stored = await gw.store.read(lambda r: (r.user(user["id"]),
                                                    r.contact_method(method["id"])))  # fmt: skip
            person, contact = stored
            assert person is not None and contact is not None
            who, point = NotifiedUser.of(person), ContactPoint.of(contact)
            await gw.store.write(lambda tx: notify(tx, incident, who, point))
            (got,) = await rx.wait_for(1)
    assert json.loads(got.body)["text"].startswith("Bob Roe: incident #1 Queue stuck")


class _TypeOnly:
    """A plugin that lets people store a type but delivers it with nothing."""

    @hookimpl
    def register_contact_method_types(self) -> list[ContactMethodType]:
        return [ContactMethodType("pigeon_contact_method", "Pigeon", lambda _: [])]


async def test_a_type_no_kind_delivers_is_warned_about_at_start(tmp_path: Path) -> None:
    with capture_logs() as logs:
        async with gateway_running(tmp_path, config(), plugins=[("pigeon", _TypeOnly())]):
            pass
    warned = [e for e in logs if e["event"] == "notification.type_without_kind"]
    assert [e["contact_method_type"] for e in warned] == ["pigeon_contact_method"]

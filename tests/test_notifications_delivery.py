"""How notifications travel cheaply: stored compact and rendered at delivery, a level's
notifications written together, SMTP sessions kept open for the next message.

Real gateways on real SQLite files (or PostgreSQL), a real SMTP receiver on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path

from gateway.clock import FakeClock, parse_iso
from gateway.core import outbox
from gateway.core.notifications import (
    COMPACT_PREFIX,
    NotifiedUser,
    notification_body,
    notify,
    render_bodies,
)
from gateway.domain import OutboxMessage
from gateway.testing import TestGateway
from tests.escalation_support import START, escalating, person, policy, trigger
from tests.scaffold import v2
from tests.smtp_support import free_port, smtp_receiver
from tests.test_notifications_email import (
    ALICE,
    EMAIL,
    KEY,
    gateway,
    page,
    smtp_toml,
    wait_state,
)
from tests.timer_support import pending

LEVEL = (
    person("Alice Doe", "alice@example.com")
    + person("Bob Roe", "bob@example.com")
    + policy("On call", (30, ["alice@example.com", "bob@example.com"]))
)


async def bodies(gw: TestGateway) -> list[bytes]:
    entries = await gw.store.read(lambda r: r.outbox_entries(kind="email_notification"))
    found = [await gw.store.read(lambda r, i=e.id: r.outbox_body(i)) for e in entries]
    return [m.body for m in found if m is not None]


async def test_the_queue_keeps_a_notification_compact_and_the_email_is_whole(
    tmp_path: Path,
) -> None:
    clock = FakeClock(parse_iso(START))
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, LEVEL, clock) as gw:
            incident = await trigger(gw, "disk", summary="Disk full on db01")
            mails = await rx.wait_for(2)
            stored = await bodies(gw)
            entries = await gw.log_entries(incident.id)
    # What the incident's transaction wrote: the incident, its title then, the person.
    assert len(stored) == 2
    for body in stored:
        assert body.startswith(COMPACT_PREFIX)
        assert len(body) < 250
        data = json.loads(body)
        assert data["incident"] == incident.id
        assert data["title"] == "Disk full on db01"
        assert "acknowledge" not in data and "service" not in data
    # What people get: rendered in full at delivery.
    assert sorted(m["To"] for m in mails) == ["alice@example.com", "bob@example.com"]
    for mail in mails:
        assert mail["Subject"] == "[alert-gateway] #1 Disk full on db01 (high urgency, Checkout)"
        text = mail.get_content()
        for words in ("Service:  Checkout", "Status:   triggered",
                      f"Open it: https://gw.example.com/ui/incidents/{incident.id}",
                      f"curl -X PUT 'https://gw.example.com/incidents/{incident.id}'",
                      '"status": "acknowledged"'):  # fmt: skip
            assert words in text, words
    notified = sorted(e.summary or "" for e in entries if e.type == "notify_log_entry")
    assert notified == ["Notified Alice Doe by email", "Notified Bob Roe by email"]


async def test_a_full_body_queued_before_the_upgrade_is_sent_as_it_is(tmp_path: Path) -> None:
    with smtp_receiver() as rx:
        async with gateway(tmp_path, smtp_toml(rx.port)) as gw:
            answer = await gw.client.post("/v2/enqueue", json=_trigger("Queue stuck"))
            assert answer.status_code == 202
            (incident,) = await gw.incidents()
            alice = NotifiedUser("PALICE1", "Alice Doe", "alice@example.com")

            def queue_old_form(tx: object) -> None:
                body = notification_body(tx, incident, alice)  # type: ignore[arg-type]
                outbox.enqueue(
                    tx,  # type: ignore[arg-type]
                    kind="email_notification",
                    destination="alice@example.com",
                    order_key=incident.id,
                    body=json.dumps(body).encode(),
                )

            await gw.store.write(queue_old_form)
            (mail,) = await rx.wait_for(1)
            await wait_state(gw, [("delivered", 1)])
    assert mail["Subject"] == "[alert-gateway] #1 Queue stuck (high urgency, Checkout)"
    assert "Hello Alice Doe," in mail.get_content()


async def test_an_incident_that_is_gone_is_rendered_from_what_the_message_holds(
    tmp_path: Path,
) -> None:
    compact = (
        b'{"notify":1,"incident":"QGONE00000000","title":"Old page",'
        b'"user":{"id":"PALICE1","name":"Alice Doe","email":"alice@example.com"}}'
    )
    message = OutboxMessage(
        "M1", "email_notification", "alice@example.com", "QGONE00000000", compact, {}, START, 0
    )
    other = OutboxMessage("M2", "webhook", "https://x.example.com", "k", compact, {}, START, 0)
    async with gateway(tmp_path, "") as gw:
        rendered, untouched = await gw.store.read(lambda r: render_bodies(r, [message, other]))
    data = json.loads(rendered.body)
    assert data["incident"]["title"] == "Old page"
    assert data["incident"]["number"] is None
    assert data["user"]["name"] == "Alice Doe"
    assert data["acknowledge"]["method"] == "PUT"
    assert rendered.headers == {"content-type": "application/json"}
    assert untouched is other  # another kind's body is never touched


async def test_one_smtp_session_sends_the_next_emails(tmp_path: Path) -> None:
    with smtp_receiver() as rx:
        async with gateway(tmp_path, smtp_toml(rx.port)) as gw:
            await page(gw)
            for n in range(1, 4):
                if n > 1:
                    await _again(gw)
                await rx.wait_for(n)
                await wait_state(gw, [("delivered", 1)] * n)
    assert len(rx.messages) == 3
    assert len(set(rx.peers)) == 1, rx.peers  # one session, three messages


async def test_a_session_the_relay_closed_is_replaced_without_a_retry(tmp_path: Path) -> None:
    port = free_port()
    async with gateway(tmp_path, smtp_toml(port)) as gw:
        with smtp_receiver(port=port) as first:
            await page(gw)
            await first.wait_for(1)
            await wait_state(gw, [("delivered", 1)])
        # The relay restarted: the open session is dead, and the gateway does not know yet.
        with smtp_receiver(port=port) as second:
            await _again(gw)
            await second.wait_for(1)
            # Delivered at its first attempt, on a new session.
            await wait_state(gw, [("delivered", 1), ("delivered", 1)])
    assert second.peers[0] != first.peers[0]


def _trigger(title: str) -> dict[str, object]:
    return v2(KEY, "trigger", summary=title)


async def _again(gw: TestGateway) -> None:
    """Notify Alice of the gateway's only incident once more (a new message)."""
    (incident,) = await gw.incidents()
    await gw.store.write(lambda tx: notify(tx, incident, ALICE, EMAIL))


REFUSE_BOB = {
    "sqlite": [
        "CREATE TRIGGER refuse_bob BEFORE INSERT ON outbox_messages"
        " WHEN NEW.destination = 'bob@example.com'"
        " BEGIN SELECT RAISE(ABORT, 'refused for the test'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_bob() RETURNS trigger AS $$ BEGIN"
        " IF NEW.destination = 'bob@example.com' THEN RAISE EXCEPTION 'refused for the test';"
        " END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_bob BEFORE INSERT ON outbox_messages"
        " FOR EACH ROW EXECUTE FUNCTION refuse_bob()",
    ],
}


async def test_a_failing_notification_of_a_level_is_undone_alone(tmp_path: Path) -> None:
    """A level's notifications share one savepoint; when one fails they are written again
    one by one, so the others (and the escalation) stand."""
    clock = FakeClock(parse_iso(START))
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, LEVEL, clock) as gw:
            statements = REFUSE_BOB[gw.store.backend.name]

            def refuse_bob(tx: object) -> None:
                for sql in statements:
                    tx._db.execute(sql)  # type: ignore[attr-defined]

            await gw.store.write(refuse_bob)
            incident = await trigger(gw, "disk")
            (mail,) = await rx.wait_for(1)
            entries = await gw.log_entries(incident.id)
            listed = await gw.store.read(lambda r: r.incident_notifications(incident.id))
            timers = [kind for kind, _ in await pending(gw, incident.id)]
    assert mail["To"] == "alice@example.com"
    assert [n.address for n in listed] == ["alice@example.com"]
    kinds = [e.type for e in entries]
    assert kinds.count("notify_log_entry") == 1
    assert "assign_log_entry" in kinds  # both still assigned; the escalation goes on
    assert "escalate" in timers

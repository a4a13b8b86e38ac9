"""Email notifications end to end: ``notify`` in a transaction, the ``email_notification`` kind
sending through a real SMTP receiver on 127.0.0.1 (aiosmtpd), with STARTTLS, TLS and AUTH;
4xx retried on the fake clock, 5xx dropped, header injection, the password never logged."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from structlog.testing import capture_logs

from gateway.clock import FakeClock, parse_iso
from gateway.core import outbox
from gateway.core.notifications import ContactPoint, Notified, NotifiedUser, notify
from gateway.testing import TestGateway, gateway_running
from tests.scaffold import config, key, v2, v2_service
from tests.smtp_support import smtp_receiver
from tests.tls import make_ca_and_server

KEY = key("notify-email")
ALICE = NotifiedUser("PALICE1", "Alice Doe", "alice@example.com")
EMAIL = ContactPoint("PCM0001", "email_contact_method", "alice@example.com", "Work")
PASSWORD = "s3cret-relay-Passw0rd"


def smtp_toml(port: int, **extra: Any) -> str:
    lines = ["[notifications.smtp]", 'host = "127.0.0.1"', f"port = {port}",
             'from = "pager@gw.example.com"', "timeout = 5"]  # fmt: skip
    for name, value in extra.items():
        lines.append(f"{name} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


@asynccontextmanager
async def gateway(
    tmp_path: Path, smtp: str, clock: FakeClock | None = None
) -> AsyncIterator[TestGateway]:
    text = config(v2_service("Checkout", KEY), server={"public_url": "https://gw.example.com"})
    async with gateway_running(tmp_path, text + smtp, clock=clock) as gw:
        yield gw


async def page(gw: TestGateway, title: str = "Disk full on db01") -> Notified:
    """Trigger an incident and notify Alice of it by email."""
    answer = await gw.client.post("/v2/enqueue", json=v2(KEY, "trigger", summary=title))
    assert answer.status_code == 202, answer.text
    (incident,) = await gw.incidents()
    done = await gw.store.write(lambda tx: notify(tx, incident, ALICE, EMAIL))
    assert done is not None
    return done


async def states(gw: TestGateway) -> list[tuple[str, int]]:
    entries = await gw.store.read(lambda r: r.outbox_entries(kind="email_notification"))
    return [(e.state, e.attempts) for e in entries]


async def wait_state(gw: TestGateway, want: list[tuple[str, int]]) -> None:
    with trio.fail_after(10):
        while await states(gw) != want:
            await trio.sleep(0.02)


async def test_an_email_names_the_incident_and_how_to_acknowledge(tmp_path: Path) -> None:
    with smtp_receiver() as rx:
        async with gateway(tmp_path, smtp_toml(rx.port)) as gw:
            done = await page(gw)
            (mail,) = await rx.wait_for(1)
            await wait_state(gw, [("delivered", 1)])
            (incident,) = await gw.incidents()
            entries = await gw.log_entries(incident.id)
    assert rx.messages[0][:2] == ("pager@gw.example.com", ["alice@example.com"])
    assert mail["To"] == "alice@example.com"
    assert mail["Subject"] == "[alert-gateway] #1 Disk full on db01 (high urgency, Checkout)"
    assert mail["Message-ID"] == f"<notification.{done.message_id}@gw.example.com>"
    assert mail["Auto-Submitted"] == "auto-generated"
    text = mail.get_content()
    link = f"https://gw.example.com/ui/incidents/{incident.id}"
    for words in ("Hello Alice Doe,", "Incident #1 needs you: Disk full on db01",
                  "Service:  Checkout", "Urgency:  high", f"Open it: {link}",
                  f"curl -X PUT 'https://gw.example.com/incidents/{incident.id}'",
                  "From: alice@example.com", '"status": "acknowledged"'):  # fmt: skip
        assert words in text, words
    notified = [e for e in entries if e.type == "notify_log_entry"]
    assert [(e.summary, e.details["notification"]) for e in notified] == [
        (
            "Notified Alice Doe by email",
            {"type": "email_notification", "address": "alice@example.com"},
        )
    ]


async def test_a_4xx_reply_is_retried_with_backoff_then_delivered(tmp_path: Path) -> None:
    clock = FakeClock()
    with smtp_receiver() as rx:
        rx.replies = ["451 4.3.0 Mailbox busy, try later"]
        async with gateway(tmp_path, smtp_toml(rx.port), clock) as gw:
            await page(gw)
            await wait_state(gw, [("pending", 1)])
            (entry,) = await gw.store.read(lambda r: r.outbox_entries(kind="email_notification"))
            wait = (parse_iso(entry.due_at) - clock.now()).total_seconds()
            assert 30 * 0.75 <= wait <= 30  # the first delay, less its jitter
            assert "451" in (entry.last_error or "")
            clock.advance(wait)
            assert gw.running.outbox is not None
            gw.running.outbox.wake()
            await rx.wait_for(1)
            await wait_state(gw, [("delivered", 2)])


async def test_a_5xx_reply_drops_the_notification_for_good(tmp_path: Path) -> None:
    with smtp_receiver() as rx:
        rx.replies = ["550 5.1.1 No such user here"]
        async with gateway(tmp_path, smtp_toml(rx.port)) as gw:
            with capture_logs() as logs:
                await page(gw)
                await wait_state(gw, [("failed", 1)])
            (entry,) = await gw.store.read(lambda r: r.outbox_entries(kind="email_notification"))
    assert entry.last_error == "SMTP 550 5.1.1 No such user here"
    assert rx.messages == []
    failed = [e for e in logs if e["event"] == "notification.failed"]
    assert [e["address"] for e in failed] == ["alice@example.com"]


async def test_a_relay_that_is_down_is_retried(tmp_path: Path) -> None:
    with smtp_receiver() as rx:
        port = rx.port
    async with gateway(tmp_path, smtp_toml(port)) as gw:  # nothing listens there now
        await page(gw)
        await wait_state(gw, [("pending", 1)])
        (entry,) = await gw.store.read(lambda r: r.outbox_entries(kind="email_notification"))
    assert "ConnectionRefusedError" in (entry.last_error or "")


async def test_a_title_with_cr_lf_cannot_add_headers(tmp_path: Path) -> None:
    hostile = "Disk full\r\nBcc: everyone@example.com\r\nX-Evil: 1"
    with smtp_receiver() as rx:
        async with gateway(tmp_path, smtp_toml(rx.port)) as gw:
            await page(gw, title=hostile)
            (mail,) = await rx.wait_for(1)
    raw = rx.messages[0][2]
    assert mail["Bcc"] is None and mail["X-Evil"] is None
    assert b"\r\nBcc:" not in raw and b"\nX-Evil:" not in raw
    assert mail["Subject"].startswith("[alert-gateway] #1 Disk full Bcc: everyone@example.com")
    assert rx.messages[0][1] == ["alice@example.com"]


def _contexts(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    ca, cert, keyfile = make_ca_and_server(tmp_path)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, keyfile)
    return ca, server


# aiosmtpd warns about AUTH "without TLS" when the TLS is its listener's own (port 465 style).
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_tls_and_login_and_the_password_is_never_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    ca, server = _contexts(tmp_path)
    # The system trust store is what the relay's certificate is checked against;
    # SSL_CERT_FILE points it at a private CA (docs/notifications.md).
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    (tmp_path / "relay.password").write_text(PASSWORD + "\n")
    tls_args = {"starttls": server} if mode == "starttls" else {"tls": server}
    with smtp_receiver(password=PASSWORD, **tls_args) as rx:  # type: ignore[arg-type]
        smtp = smtp_toml(rx.port, username="gateway", password_file="relay.password",
                         **{mode: True})  # fmt: skip
        with capture_logs() as logs:
            async with gateway(tmp_path, smtp) as gw:
                await page(gw)
                (mail,) = await rx.wait_for(1)
    assert rx.logins == [("gateway", PASSWORD)]
    assert mail["To"] == "alice@example.com"
    assert PASSWORD not in repr(logs)


async def test_an_untrusted_certificate_drops_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, server = _contexts(tmp_path)  # the CA is not trusted: nothing points at it
    with smtp_receiver(starttls=server) as rx:
        async with gateway(tmp_path, smtp_toml(rx.port, starttls=True)) as gw:
            await page(gw)
            await wait_state(gw, [("failed", 1)])
            (entry,) = await gw.store.read(lambda r: r.outbox_entries(kind="email_notification"))
    assert (entry.last_error or "").startswith("TLS error")
    assert rx.messages == []


async def test_a_refused_login_is_retried_not_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, server = _contexts(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    (tmp_path / "pw").write_text("wrong-password")
    with smtp_receiver(password=PASSWORD, starttls=server) as rx:
        smtp = smtp_toml(rx.port, username="gateway", password_file="pw", starttls=True)
        with capture_logs() as logs:
            async with gateway(tmp_path, smtp) as gw:
                await page(gw)
                await wait_state(gw, [("pending", 1)])
                (entry,) = await gw.store.read(
                    lambda r: r.outbox_entries(kind="email_notification")
                )
    assert "refused the login" in (entry.last_error or "")
    assert "wrong-password" not in repr(logs)


async def test_without_a_relay_notifications_fail_saying_why(tmp_path: Path) -> None:
    async with gateway(tmp_path, "") as gw:
        await page(gw)
        await wait_state(gw, [("failed", 1)])
        (entry,) = await gw.store.read(lambda r: r.outbox_entries(kind="email_notification"))
    assert entry.last_error == "no [notifications.smtp] relay is configured"


async def test_a_body_that_is_no_notification_is_dropped_not_retried(tmp_path: Path) -> None:
    with smtp_receiver() as rx:
        async with gateway(tmp_path, smtp_toml(rx.port)) as gw:
            await gw.store.write(
                lambda tx: outbox.enqueue(
                    tx,
                    kind="email_notification",
                    destination="alice@example.com",
                    order_key="k",
                    body=b"not json",
                )
            )
            await wait_state(gw, [("failed", 1)])
            (entry,) = await gw.store.read(lambda r: r.outbox_entries(kind="email_notification"))
    assert (entry.last_error or "").startswith("cannot build the email")
    assert rx.messages == []

"""``email_preset = "nagios"``: Nagios and Icinga notification mails over real SMTP.

The mails are built from the documented default formats (Nagios 4's sample
``notify-*-by-email`` commands, Icinga 2's ``mail-*-notification.sh``) and sent
with smtplib to an in-process gateway's SMTP listener.
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trio

from gateway.testing import TestGateway, gateway_running
from tests.scaffold import config, email_integration, service
from tests.support import SAMPLES

ADDRESS = "nagios@alerts.example.com"
SMTP = {"listen": "127.0.0.1:0", "domain": "alerts.example.com"}
CONFIG = config(
    service("Monitoring", email_integration("nagios mail", "nagios", email_preset="nagios")),
    storage=None,
    smtp=SMTP,
)

# The shipped sample is a real Nagios 4 notify-service-by-email mail.
SAMPLE = (SAMPLES / "email_trigger.eml").read_bytes()


def nagios_service(kind: str, host: str, svc: str, state: str) -> tuple[str, str]:
    """Subject and body as Nagios 4's default ``notify-service-by-email`` writes them."""
    subject = f"** {kind} Service Alert: {host}/{svc} is {state} **"
    body = (
        f"***** Nagios *****\n\nNotification Type: {kind}\n\nService: {svc}\nHost: {host}\n"
        f"Address: 10.0.0.7\nState: {state}\n\nDate/Time: Tue Nov 3 09:46:02 UTC 2026\n\n"
        f"Additional Info:\n\nHTTP {state} - some plugin output\n"
    )
    return subject, body


def nagios_host(kind: str, host: str, state: str) -> tuple[str, str]:
    """Subject and body as Nagios 4's default ``notify-host-by-email`` writes them."""
    subject = f"** {kind} Host Alert: {host} is {state} **"
    body = (
        f"***** Nagios *****\n\nNotification Type: {kind}\nHost: {host}\nState: {state}\n"
        f"Address: 10.0.0.9\nInfo: PING {state}\n\nDate/Time: Tue Nov 3 09:50:00 UTC 2026\n"
    )
    return subject, body


def icinga_service(kind: str, host: str, svc: str, state: str) -> tuple[str, str]:
    """Icinga 2's ``mail-service-notification.sh``: display names above, object names below."""
    subject = f"[{kind}] {svc.upper()} on {host.upper()} is {state}!"
    body = (
        f"***** Service Monitoring on icinga-master *****\n\n"
        f"{svc.upper()} on {host.upper()} is {state}!\n\n"
        f"Info:    HTTP {state}\n\nWhen:    2026-11-03 09:46:02 +0000\n"
        f"Service: {svc}\nHost:    {host}\nIPv4:    10.0.0.7\n"
    )
    return subject, body


def mail(subject: str, body: str, number: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "nagios <nagios@mon-01.example>"
    msg["To"] = ADDRESS
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{number}.{abs(hash(subject))}@mon-01.example>"
    msg.set_content(body)
    return msg.as_bytes(policy=policy.SMTP)


def send(gw: TestGateway, raw: bytes) -> tuple[int, str]:
    """One SMTP transaction to the preset integration; the reply after DATA."""
    port = int(gw.running.smtp_binds[0].rsplit(":", 1)[1])
    with smtplib.SMTP("127.0.0.1", port, timeout=15) as client:
        code, reply = client.ehlo()
        assert code == 250
        assert client.mail("nagios@mon-01.example")[0] == 250
        assert client.rcpt(ADDRESS)[0] == 250
        code, reply = client.data(raw)
        return code, reply.decode()


async def send_all(gw: TestGateway, mails: Sequence[tuple[str, str]]) -> list[tuple[int, str]]:
    return [
        await trio.to_thread.run_sync(send, gw, mail(subject, body, i))
        for i, (subject, body) in enumerate(mails)
    ]


async def incidents(gw: TestGateway) -> list[tuple[str, str | None, int]]:
    """``(status, incident_key, alert count)`` of every incident, oldest first."""
    found = []
    for incident in reversed(await gw.incidents()):
        alerts = await gw.alerts(incident.id)
        found.append((incident.status, incident.incident_key, len(alerts)))
    return found


async def only_alert(gw: TestGateway) -> Any:
    (incident,) = await gw.incidents()
    (alert,) = await gw.alerts(incident.id)
    return alert


async def test_nagios_service_problem_then_recovery_resolves_one_incident(
    tmp_path: Path,
) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        code, _ = await trio.to_thread.run_sync(send, gw, SAMPLE)
        assert code == 250
        again = nagios_service("PROBLEM", "Web Server 03 (prod)", "HTTPS", "CRITICAL")
        recovery = nagios_service("RECOVERY", "Web Server 03 (prod)", "HTTPS", "OK")
        replies = await send_all(gw, [again, recovery])
        assert [code for code, _ in replies] == [250, 250]
        # One incident, keyed host/service: the repeat appended, the recovery resolved it.
        assert await incidents(gw) == [("resolved", "Web Server 03 (prod)/HTTPS", 1)]
        alert = await only_alert(gw)
        body = alert.body
        assert body["source"] == "Web Server 03 (prod)"  # the host, not the mail's sender
        assert body.get("component") == "HTTPS"
        assert body["severity"] == "critical"
        assert body["custom_details"]["extracted"] == {
            "notification_type": "PROBLEM",
            "host": "Web Server 03 (prod)",
            "service": "HTTPS",
            "state": "CRITICAL",
        }


async def test_host_notifications_dedup_by_host_and_acknowledge(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        await send_all(gw, [nagios_host("PROBLEM", "db-07", "DOWN")])
        assert await incidents(gw) == [("triggered", "db-07", 1)]
        await send_all(gw, [nagios_host("ACKNOWLEDGEMENT", "db-07", "DOWN")])
        assert await incidents(gw) == [("acknowledged", "db-07", 1)]
        # A service on the same host is another incident; the host's recovery leaves it open.
        await send_all(
            gw,
            [
                nagios_service("PROBLEM", "db-07", "Disk /var", "WARNING"),
                nagios_host("RECOVERY", "db-07", "UP"),
            ],
        )
        assert await incidents(gw) == [
            ("resolved", "db-07", 1),
            ("triggered", "db-07/Disk /var", 1),
        ]


async def test_icinga2_mails_trigger_and_resolve_by_object_names(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        await send_all(gw, [icinga_service("PROBLEM", "web-03", "https", "CRITICAL")])
        assert await incidents(gw) == [("triggered", "web-03/https", 1)]
        alert = await only_alert(gw)
        assert alert.body["source"] == "web-03"
        assert alert.body["severity"] == "critical"
        host_down = (
            "[PROBLEM] Host WEB-04 is DOWN!",
            "***** Host Monitoring on icinga-master *****\n\nWEB-04 is DOWN!\n\n"
            "Info:    PING CRITICAL\n\nWhen:    2026-11-03\nHost:    web-04\n",
        )
        await send_all(gw, [icinga_service("RECOVERY", "web-03", "https", "OK"), host_down])
        assert await incidents(gw) == [("resolved", "web-03/https", 1), ("triggered", "web-04", 1)]


async def test_unreadable_mail_still_opens_an_incident_and_flapping_opens_none(
    tmp_path: Path,
) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        flapping = nagios_service("FLAPPINGSTART", "web-03", "HTTPS", "CRITICAL")
        (reply,) = await send_all(gw, [flapping])
        assert reply[0] == 250 and "discarded" in reply[1]  # accepted, and nothing opened
        assert await incidents(gw) == []
        garbled = ("Monitoring alert!!", "Something on some box is wrong, no fields at all.\n")
        (reply,) = await send_all(gw, [garbled])
        assert reply[0] == 250  # never refused, never lost
        ((status, key, alerts),) = await incidents(gw)
        assert (status, alerts) == ("triggered", 1)
        assert key is not None and key.startswith("message-id:")  # as on_new_email
        alert = await only_alert(gw)
        assert alert.body["source"] == "nagios@mon-01.example"
        assert alert.body["custom_details"]["body"].startswith("Something on some box")

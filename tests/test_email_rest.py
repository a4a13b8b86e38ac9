"""An email integration made through the REST API receives mail over real SMTP."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

import pytest

from gateway.auth import hash_token, new_token
from gateway.store.offline import write_sync
from tests.support import Daemon

pytestmark = pytest.mark.slow  # a real daemon process with SMTP

CONFIG = """
[storage]
path = "gw.db"

[smtp]
listen = "127.0.0.1:0"
domain = "alerts.example.com"
"""


def test_rest_created_email_integration_opens_incidents_from_mail(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, CONFIG).start()
    try:
        token = new_token()
        write_sync(
            daemon.db_path,
            lambda tx: tx.insert_token(
                name="t", role="user", token_hash=hash_token(token), last4=token[-4:]
            ),
        )
        headers = {"Authorization": f"Token token={token}"}
        with daemon.client() as http:
            service = http.post(
                "/services", json={"service": {"name": "Mailroom"}}, headers=headers
            ).json()["service"]
            made = http.post(
                f"/services/{service['id']}/integrations",
                json={
                    "integration": {
                        "type": "generic_email_inbound_integration",
                        "name": "printer alerts",
                        "integration_email": "printers@alerts.example.com",
                        "email_incident_creation": "on_new_email_subject",
                    }
                },
                headers=headers,
            )
            assert made.status_code == 201, made.text

        host, port = daemon.smtp[0].split(":")
        mail = EmailMessage()
        mail["From"] = "printer@example.com"
        mail["To"] = "printers+floor2@alerts.example.com"  # plus-addressing reaches it too
        mail["Subject"] = "Toner low on PRN-7"
        mail.set_content("Toner at 3%.")
        with smtplib.SMTP(host, int(port), timeout=10) as smtp:
            refused = smtp.send_message(mail)
            assert refused == {}
            mail.replace_header("Subject", "Toner low on PRN-7")
            del mail["Message-ID"]
            smtp.send_message(mail)  # same subject: appends, no second incident
        rows = daemon.query(
            "SELECT i.title, i.status, s.name FROM incidents i JOIN services s"
            " ON s.id = i.service_id"
        )
        assert rows == [("Toner low on PRN-7", "triggered", "Mailroom")]
    finally:
        assert daemon.stop() == 0

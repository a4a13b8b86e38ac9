"""Email integrations end to end: real SMTP (smtplib, swaks) against a running daemon."""

from __future__ import annotations

import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from alert_gateway_plugins.email import OPEN_INCIDENT_KEY, message_key
from prometheus_client.parser import text_string_to_metric_families

from gateway.testing import gateway_running
from tests.plugins.test_email import deep_mail, wide_mail
from tests.support import SAMPLES, Daemon, key, v2
from tests.tls import make_ca_and_server

# On the wire, as an MTA sends it: CRLF line ends (smtplib sends bytes as given).
pytestmark = pytest.mark.slow  # real SMTP against a real daemon process

SAMPLE = (
    (SAMPLES / "email_trigger.eml").read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
)
SAMPLE_KEY = "Web Server 03 (prod)/HTTPS"
V2_KEY = key("mailv2")
NAGIOS_KEY = r"(?:Service|Host) Alert: (.+?) is [A-Z]+ \*\*$"

CONFIG = f"""
[storage]
path = "gw.db"

[smtp]
listen = "127.0.0.1:0"
domain = "alerts.example.com"
max_message_size = 300000

[[services]]
name = "Mail"
  [[services.integrations]]
  name = "plain"
  type = "email"
  integration_email = "ops"

  [[services.integrations]]
  name = "by subject"
  type = "email"
  integration_email = "by-subject@alerts.example.com"
  email_incident_creation = "on_new_email_subject"

  [[services.integrations]]
  name = "single"
  type = "email"
  integration_email = "single"
  email_incident_creation = "only_if_no_open_incidents"

  [[services.integrations]]
  name = "nagios"
  type = "email"
  integration_email = "nagios-prod@acme.pagerduty.com"
  email_incident_creation = "use_rules"
  email_filter_mode = "or-rules-email"
  email_parsing_fallback = "discard"

    [[services.integrations.email_filters]]
    from_email_mode = "match"
    from_email_regex = '^nagios@'

    [[services.integrations.email_parsers]]
    action = "trigger"
    match_predicate = {{ type = "regex", part = "subject", matcher = '^\\*\\* PROBLEM ' }}
    value_extractors = [
      {{ type = "regex", part = "subject", value_name = "incident_key", regex = '{NAGIOS_KEY}' }},
    ]

    [[services.integrations.email_parsers]]
    action = "resolve"
    [services.integrations.email_parsers.match_predicate]
    type = "any"
    children = [
      {{ type = "regex", part = "subject", matcher = '^\\*\\* RECOVERY ' }},
      {{ type = "contains", part = "body", matcher = "Notification Type: RECOVERY" }},
    ]
    [[services.integrations.email_parsers.value_extractors]]
    type = "regex"
    part = "subject"
    value_name = "incident_key"
    regex = '{NAGIOS_KEY}'

  [[services.integrations]]
  name = "v2"
  type = "events_api_v2"
  integration_key = "{V2_KEY}"
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = Daemon(tmp_path_factory.mktemp("email"), CONFIG).start()
    assert d.smtp, d.output()
    yield d
    d.kill()


def port_of(d: Daemon) -> int:
    return int(d.smtp[0].rsplit(":", 1)[1])


def message(
    subject: str,
    body: str = "something broke",
    *,
    sender: str = "monitor@tools.example",
    message_id: str | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "ops@alerts.example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or f"<{time.monotonic_ns()}@tools.example>"
    msg.set_content(body)
    return msg.as_bytes(policy=policy.SMTP)


def send(
    port: int,
    rcpts: list[str],
    raw: bytes,
    *,
    sender: str = "monitor@tools.example",
    timeout: float = 15,
) -> tuple[int, str, list[tuple[int, str]]]:
    """One SMTP transaction; the DATA reply and each RCPT reply."""
    with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as client:
        client.ehlo()
        code, _ = client.mail(sender)
        assert code == 250
        replies = [(c, m.decode()) for c, m in (client.rcpt(r) for r in rcpts)]
        if not any(c == 250 for c, _ in replies):
            client.rset()
            return 0, "", replies
        code, reply = client.data(raw)
        return code, reply.decode(), replies


def integration_id(d: Daemon, name: str) -> str:
    return str(d.scalar("SELECT id FROM integrations WHERE name = ?", name))


def incidents(d: Daemon, name: str, **where: str) -> list[tuple[Any, ...]]:
    sql = "SELECT title, status, incident_key FROM incidents WHERE integration_id = ?"
    params: list[Any] = [integration_id(d, name)]
    for column, value in where.items():
        sql += f" AND {column} = ?"
        params.append(value)
    return d.query(sql + " ORDER BY number", *params)


def test_250_only_after_the_incident_is_committed(daemon: Daemon) -> None:
    code, reply, _ = send(port_of(daemon), ["ops@alerts.example.com"], message("db01 disk full"))
    # Read the database file the moment 250 arrives: the commit happened before the reply.
    assert incidents(daemon, "plain", title="db01 disk full") == [
        ("db01 disk full", "triggered", incidents(daemon, "plain")[-1][2])
    ]
    assert (code, reply.split()[0]) == (250, "2.0.0")


def test_unknown_recipient_is_refused_at_rcpt(daemon: Daemon) -> None:
    code, _, replies = send(port_of(daemon), ["nobody@alerts.example.com"], message("x"))
    assert code == 0
    assert replies[0][0] == 550
    assert replies[0][1].startswith("5.1.1")
    _, _, replies = send(port_of(daemon), ["ops@elsewhere.example"], message("x"))
    assert replies[0][0] == 550  # a local part alone belongs to [smtp].domain only


def test_oversize_mail_gets_552(daemon: Daemon) -> None:
    before = daemon.scalar("SELECT count(*) FROM incidents")
    raw = message("huge", ("x" * 70 + "\n") * 6000)
    with smtplib.SMTP("127.0.0.1", port_of(daemon), timeout=15) as client:
        client.ehlo()
        assert client.mail("a@b.example")[0] == 250  # no SIZE declared: refused after DATA
        assert client.rcpt("ops@alerts.example.com")[0] == 250
        code, reply = client.data(raw)
        assert (code, reply.decode().split()[0]) == (552, "5.3.4")
        code, reply = client.mail("a@b.example", ["SIZE=400000"])  # declared: refused at once
        assert (code, reply.decode().split()[0]) == (552, "5.3.4")
    assert daemon.scalar("SELECT count(*) FROM incidents") == before


def test_plus_addressing_routes_to_the_integration(daemon: Daemon) -> None:
    code, _, _ = send(port_of(daemon), ["OPS+db07@Alerts.Example.com"], message("plus tag"))
    assert code == 250
    assert len(incidents(daemon, "plain", title="plus tag")) == 1


def test_mail_to_several_integrations_reaches_each_once(daemon: Daemon) -> None:
    rcpts = [
        "ops+a@alerts.example.com",
        "ops+b@alerts.example.com",
        "by-subject@alerts.example.com",
        "nobody@alerts.example.com",
    ]
    code, _, replies = send(port_of(daemon), rcpts, message("fan out"))
    assert [c for c, _ in replies] == [250, 250, 250, 550]
    assert code == 250
    assert len(incidents(daemon, "plain", title="fan out")) == 1
    assert len(incidents(daemon, "by subject", title="fan out")) == 1


def test_on_new_email_opens_one_incident_per_mail_and_ignores_redelivery(daemon: Daemon) -> None:
    port = port_of(daemon)
    for _ in range(2):
        assert send(port, ["ops@alerts.example.com"], message("every mail"))[0] == 250
    redelivered = message("redelivered", message_id="<same-mail@tools.example>")
    for _ in range(2):  # an MTA resending a mail whose 250 it never saw
        assert send(port, ["ops@alerts.example.com"], redelivered)[0] == 250
    assert len(incidents(daemon, "plain", title="every mail")) == 2
    assert len(incidents(daemon, "plain", title="redelivered")) == 1


def test_on_new_email_subject_appends_same_subject(daemon: Daemon) -> None:
    port = port_of(daemon)
    for subject in ("api latency", "api  latency ", "api errors"):
        assert send(port, ["by-subject@alerts.example.com"], message(subject))[0] == 250
    titles = [row[0] for row in incidents(daemon, "by subject")]
    assert titles.count("api latency") == 1
    assert titles.count("api errors") == 1
    triggers = daemon.scalar(
        "SELECT count(*) FROM log_entries WHERE type = 'trigger_log_entry' AND incident_id = "
        "(SELECT id FROM incidents WHERE title = 'api latency')"
    )
    assert triggers == 2


def test_only_if_no_open_incidents(daemon: Daemon) -> None:
    port = port_of(daemon)
    for i in range(3):
        assert send(port, ["single@alerts.example.com"], message(f"single {i}"))[0] == 250
    assert incidents(daemon, "single") == [("single 0", "triggered", OPEN_INCIDENT_KEY)]
    # Once it is resolved, the next mail opens a new incident.
    routing_key = daemon.scalar("SELECT integration_key FROM integrations WHERE name = 'single'")
    with daemon.client() as client:
        body = v2(routing_key, "resolve", dedup_key=OPEN_INCIDENT_KEY)
        assert client.post("/v2/enqueue", json=body).status_code == 202
    assert send(port, ["single@alerts.example.com"], message("single again"))[0] == 250
    assert [row[:2] for row in incidents(daemon, "single")] == [
        ("single 0", "resolved"),
        ("single again", "triggered"),
    ]


def test_sample_nagios_mail_triggers_and_recovery_resolves(daemon: Daemon) -> None:
    port = port_of(daemon)
    rcpt = ["nagios-prod@acme.pagerduty.com"]
    sender = "nagios@mon-01.prod.acme.example"
    assert send(port, rcpt, SAMPLE, sender=sender)[0] == 250
    assert incidents(daemon, "nagios", incident_key=SAMPLE_KEY) == [
        (
            "** PROBLEM Service Alert: Web Server 03 (prod)/HTTPS is CRITICAL **",
            "triggered",
            SAMPLE_KEY,
        )
    ]
    recovery = (
        SAMPLE.replace(b"** PROBLEM", b"** RECOVERY")
        .replace(b"is CRITICAL", b"is OK")
        .replace(b"20261103094602.8C1D2A1F3B", b"20261103095602.8C1D2A1F3C")
    )
    assert send(port, rcpt, recovery, sender=sender)[0] == 250
    assert incidents(daemon, "nagios", incident_key=SAMPLE_KEY)[0][1] == "resolved"


def test_filtered_and_unparsed_mail_is_accepted_and_discarded(daemon: Daemon) -> None:
    port = port_of(daemon)
    before = len(incidents(daemon, "nagios"))
    # From a sender the filter rejects (filters read the From header, not the envelope).
    forged = SAMPLE.replace(b"From: nagios <nagios@", b"From: eve <eve@")
    code, reply, _ = send(port, ["nagios-prod@acme.pagerduty.com"], forged)
    assert code == 250
    assert "discarded" in reply
    # From nagios, but no parser matches: email_parsing_fallback = "discard".
    raw = message("weekly report", sender="nagios@mon-01.prod.acme.example")
    assert send(port, ["nagios-prod@acme.pagerduty.com"], raw)[0] == 250
    assert len(incidents(daemon, "nagios")) == before
    filtered = daemon.wait_for_log("email.filtered")
    assert filtered[-1]["recipient"] == "nagios-prod@acme.pagerduty.com"
    assert daemon.wait_for_log("email.discarded")[-1]["subject"] == "weekly report"


def _multipart_html_only() -> bytes:
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "a@b.example", "html only"
    msg.set_content("<html><body><p>Host <b>web-3</b> down</p></body></html>", subtype="html")
    return msg.as_bytes(policy=policy.SMTP)


def _multipart_with_attachment() -> bytes:
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "a@b.example", "with attachment"
    msg.set_content("plain part")
    msg.add_alternative("<p>html part</p>", subtype="html")
    msg.add_attachment(b"\x00\x01binary", maintype="application", subtype="zip", filename="x.zip")
    return msg.as_bytes(policy=policy.SMTP)


@pytest.mark.parametrize(
    ("raw", "title", "body_part"),
    [
        (
            b"From: a@b.example\r\nSubject: latin \xe9\xff\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\nbad \xc3\x28 bytes\r\n",
            "latin \ufffd\ufffd",
            "bad \ufffd( bytes",
        ),
        (_multipart_html_only(), "html only", "<b>web-3</b>"),
        (_multipart_with_attachment(), "with attachment", "plain part"),
        (b"no headers at all, just text\r\n", "(no subject)", ""),
    ],
)
def test_odd_bodies_are_stored_without_tracebacks(
    daemon: Daemon, raw: bytes, title: str, body_part: str
) -> None:
    assert send(port_of(daemon), ["ops@alerts.example.com"], raw)[0] == 250
    rows = daemon.query(
        "SELECT a.body FROM alerts a JOIN incidents i ON a.incident_id = i.id WHERE i.title = ?",
        title,
    )
    assert rows, daemon.output()
    assert body_part in rows[-1][0]
    assert "Traceback" not in daemon.output()


def smtp_messages(d: Daemon) -> dict[str, float]:
    """alert_gateway_smtp_messages_total by outcome, read from /metrics."""
    with d.client() as client:
        text = client.get("/metrics").text
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "alert_gateway_smtp_messages_total":
                counts[sample.labels["outcome"]] = sample.value
    return counts


def test_metrics_count_smtp_messages(daemon: Daemon) -> None:
    # The test makes its own accepted and rejected mail: it must pass alone, and the
    # module's other tests (the 552s) may run after it.
    before = smtp_messages(daemon)
    assert send(port_of(daemon), ["ops@alerts.example.com"], message("counted"))[0] == 250
    with smtplib.SMTP("127.0.0.1", port_of(daemon), timeout=15) as client:
        client.ehlo()
        code, _ = client.mail("a@b.example", ["SIZE=400000"])  # over max_message_size
        assert code == 552
    after = smtp_messages(daemon)
    assert after.get("accepted", 0) == before.get("accepted", 0) + 1
    assert after.get("rejected", 0) == before.get("rejected", 0) + 1


@pytest.mark.skipif(
    shutil.which("swaks") is None, reason="swaks is not installed (make system-deps)"
)
def test_swaks_trigger_and_resolve(daemon: Daemon) -> None:
    def swaks(kind: str, state: str) -> str:
        result = subprocess.run(
            [
                "swaks",
                "--server",
                "127.0.0.1",
                "--port",
                str(port_of(daemon)),
                "--from",
                "nagios@mon-02.example",
                "--to",
                "nagios-prod@acme.pagerduty.com",
                "--header",
                f"Subject: ** {kind} Host Alert: swaks-host is {state} **",
                "--body",
                f"Notification Type: {kind}\nHost: swaks-host\nState: {state}\n",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    assert "<-  250 2.0.0" in swaks("PROBLEM", "DOWN")
    assert incidents(daemon, "nagios", incident_key="swaks-host")[0][1] == "triggered"
    assert "<-  250 2.0.0" in swaks("RECOVERY", "UP")
    assert incidents(daemon, "nagios", incident_key="swaks-host")[0][1] == "resolved"


def test_check_config_refuses_an_invalid_regex(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        CONFIG.replace("from_email_regex = '^nagios@'", "from_email_regex = '^(nagios@'")
    )
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "email_filters[0].from_email_regex" in result.stderr
    assert "not a valid RE2 regex" in result.stderr
    assert "services[0].integrations[3]" in result.stderr
    good = tmp_path / "good.toml"
    good.write_text(CONFIG)
    ok = subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", str(good)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr


def test_starttls(tmp_path: Path) -> None:
    ca, cert, keyfile = make_ca_and_server(tmp_path)
    config = CONFIG.replace(
        "max_message_size = 300000", f'certfile = "{cert}"\nkeyfile = "{keyfile}"'
    )
    d = Daemon(tmp_path, config).start()
    try:
        context = ssl.create_default_context(cafile=str(ca))
        with smtplib.SMTP("127.0.0.1", port_of(d), timeout=15) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            client.starttls(context=context)
            client.ehlo()
            assert client.sock is not None and client.sock.version() is not None
            client.sendmail("a@b.example", ["ops@alerts.example.com"], message("over tls"))
        assert len(incidents(d, "plain", title="over tls")) == 1
    finally:
        d.kill()


def test_graceful_shutdown_finishes_open_transactions(tmp_path: Path) -> None:
    d = Daemon(tmp_path, CONFIG).start()
    port = port_of(d)
    try:
        busy = smtplib.SMTP("127.0.0.1", port, timeout=15)
        busy.ehlo()
        assert busy.mail("a@b.example")[0] == 250
        assert busy.rcpt("ops@alerts.example.com")[0] == 250
        idle = smtplib.SMTP("127.0.0.1", port, timeout=15)
        idle.ehlo()
        d.signal(15)  # SIGTERM
        d.wait_for_log("daemon.draining")
        code, _ = busy.data(message("sent while stopping"))
        assert code == 250
        busy.quit()
        with pytest.raises(smtplib.SMTPServerDisconnected):  # told 421 and closed
            idle.mail("a@b.example")
            idle.rcpt("ops@alerts.example.com")
        with pytest.raises(OSError):
            smtplib.SMTP("127.0.0.1", port, timeout=5)  # no new connections
        assert d.proc is not None and d.proc.wait(timeout=15) == 0
        assert len(incidents(d, "plain", title="sent while stopping")) == 1
        drained = d.wait_for_log("smtp.drained")[0]
        assert drained["cut_off"] == 0
    finally:
        d.kill()


def test_sigkill_during_sessions_loses_no_acknowledged_mail(tmp_path: Path) -> None:
    d = Daemon(tmp_path, CONFIG)
    acked: list[str] = []

    def sender(worker: int, port: int, stop: threading.Event) -> None:
        i = 0
        while not stop.is_set():
            message_id = f"<w{worker}-{i}-{time.monotonic_ns()}@kill.example>"
            i += 1
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                    client.sendmail(
                        "a@b.example",
                        ["ops@alerts.example.com"],
                        message("kill test", message_id=message_id),
                    )
            except (OSError, smtplib.SMTPException):
                return  # the daemon died: this mail was never acknowledged
            acked.append(message_id)

    for _ in range(2):
        d.start()
        stop = threading.Event()
        threads = [threading.Thread(target=sender, args=(w, port_of(d), stop)) for w in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.6)
        d.kill()
        stop.set()
        for t in threads:
            t.join()
    assert acked
    d.start()
    try:
        stored = {row[0] for row in d.query("SELECT alert_key FROM alerts")}
        assert [m for m in acked if message_key(m) not in stored] == []
        assert d.query("PRAGMA integrity_check") == [("ok",)]
    finally:
        d.kill()


STORE_CONFIG = """
[smtp]
listen = "127.0.0.1:0"
domain = "alerts.example.com"

[[services]]
name = "Mail"
  [[services.integrations]]
  name = "plain"
  type = "email"
  integration_email = "ops"
"""


@pytest.mark.sqlite_only("SQLite's max_page_count stands in for a full disk")
async def test_store_that_cannot_commit_answers_451_and_recovers(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, STORE_CONFIG) as gw:
        port = int(gw.running.smtp_binds[0].rsplit(":", 1)[1])
        await gw.store.write(
            lambda tx: tx.conn.execute(
                "PRAGMA max_page_count = " + str(tx.conn.execute("PRAGMA page_count").fetchone()[0])
            ).fetchone()
        )

        def deliver(i: int) -> tuple[int, str, list[tuple[int, str]]]:
            raw = message(f"full {i}", "pad " * 1000, message_id=f"<full-{i}@x>")
            return send(port, ["ops@alerts.example.com"], raw)

        refused = None
        accepted = 0
        for i in range(300):
            code, reply, _ = await trio.to_thread.run_sync(deliver, i)
            if code != 250:
                refused = (i, code, reply)
                break
            accepted += 1
        assert refused is not None
        i, code, reply = refused
        assert (code, reply.split()[0]) == (451, "4.3.0")
        assert await gw.count("alerts") == accepted  # the refused mail left nothing behind
        await gw.store.write(
            lambda tx: tx.conn.execute("PRAGMA max_page_count = 1000000").fetchone()
        )
        code, _, _ = await trio.to_thread.run_sync(deliver, i)  # the MTA's retry
        assert code == 250
        assert await gw.count("alerts") == accepted + 1


async def test_rate_limited_mail_is_deferred(tmp_path: Path) -> None:
    config = "[rate_limit]\nevents_per_minute = 1\n" + STORE_CONFIG
    async with gateway_running(tmp_path, config) as gw:
        port = int(gw.running.smtp_binds[0].rsplit(":", 1)[1])
        rcpt = ["ops@alerts.example.com"]
        first = await trio.to_thread.run_sync(send, port, rcpt, message("one"))
        second = await trio.to_thread.run_sync(send, port, rcpt, message("two"))
        assert first[0] == 250
        assert (second[0], second[1].split()[0]) == (451, "4.7.0")


def test_http_post_to_an_email_integration_is_refused(daemon: Daemon) -> None:
    routing_key = daemon.scalar("SELECT integration_key FROM integrations WHERE name = 'plain'")
    with httpx.Client(base_url=daemon.base_url, timeout=10) as client:
        r = client.post(f"/integration/{routing_key}/enqueue", content=SAMPLE)
    assert r.status_code == 400
    assert "email only" in r.json()["errors"][0]


# -- hostile mail: refused for good, and never stalls the other channels --------------------


@pytest.fixture(scope="module")
def roomy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A daemon with the default 10 MB message limit (the issue's message is 2.2 MB)."""
    config = CONFIG.replace("max_message_size = 300000\n", "")
    d = Daemon(tmp_path_factory.mktemp("email-roomy"), config).start()
    assert d.smtp, d.output()
    yield d
    d.kill()


def test_mail_with_50000_mime_parts_is_refused_for_good(roomy: Daemon) -> None:
    before = roomy.scalar("SELECT count(*) FROM alerts")
    raw = wide_mail(50_000)
    assert 2_000_000 < len(raw) < 2_500_000
    # Today's code parsed it on the event loop for 13 s or more (past this timeout).
    code, reply, _ = send(port_of(roomy), ["ops@alerts.example.com"], raw, timeout=60)
    assert (code, reply.split()[0]) == (554, "5.6.0"), reply
    assert "more than 1000 MIME parts" in reply
    assert roomy.scalar("SELECT count(*) FROM alerts") == before
    rejected = roomy.wait_for_log("smtp.message_rejected")[-1]
    assert rejected["error"] == "UnrecognizedEvent"


def test_mime_nested_2000_deep_is_refused_with_554_not_451(daemon: Daemon) -> None:
    before = daemon.scalar("SELECT count(*) FROM alerts")
    code, reply, _ = send(port_of(daemon), ["ops@alerts.example.com"], deep_mail(2_000))
    # 451 (RecursionError, a "plugin failure") made the sender's MTA retry it for days.
    assert (code, reply.split()[0]) == (554, "5.6.0"), reply
    assert "nested more than 20 deep" in reply
    assert daemon.scalar("SELECT count(*) FROM alerts") == before


def _open_data(port: int) -> socket.socket:
    """An SMTP session up to the 354 after DATA (raw, to time the last byte sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    reader = sock.makefile("rb")
    for command in (
        None,
        b"EHLO t",
        b"MAIL FROM:<a@b.example>",
        b"RCPT TO:<ops@alerts.example.com>",
    ):
        if command is not None:
            sock.sendall(command + b"\r\n")
        while (line := reader.readline())[3:4] == b"-":
            pass
        assert line[:1] in (b"2",), line
    sock.sendall(b"DATA\r\n")
    assert reader.readline().startswith(b"354")
    return sock


def test_v2_answers_while_a_slow_mail_is_read(roomy: Daemon) -> None:
    """A mail whose reading takes seconds of CPU: /v2/enqueue answers meanwhile.

    The mail is within every bound (20 levels, 800,000 short lines, 2.4 MB: ~3 s to read
    on the test VM, well under the 5 s CPU budget that 2,000,000 lines crossed) and is
    accepted. The margin is generous on purpose: each v2 request answered while the mail
    is read must take less than a third of the read; when the read blocked the event
    loop, the first one waited for all of it. The p99 comparison is bench/hostile-mail's.
    """
    routing_key = V2_KEY
    sock = _open_data(port_of(roomy))
    raw = deep_mail(20, body_lines=800_000)
    reply: list[tuple[float, bytes]] = []

    def await_reply() -> None:
        line = sock.makefile("rb").readline()
        reply.append((time.perf_counter(), line))

    sock.sendall(raw + b".\r\n")
    sent = time.perf_counter()
    waiter = threading.Thread(target=await_reply)
    waiter.start()
    during: list[float] = []
    with httpx.Client(base_url=roomy.base_url, timeout=60) as client:
        while not reply:
            started = time.perf_counter()
            answer = client.post("/v2/enqueue", json=v2(routing_key, dedup_key="probe"))
            finished = time.perf_counter()
            assert answer.status_code == 202
            if not reply or reply[0][0] > finished:
                during.append(finished - started)
            time.sleep(0.01)
    waiter.join()
    sock.close()
    replied, line = reply[0]
    took = replied - sent
    assert line.startswith(b"250 2.0.0"), line
    assert took > 1.0, f"the mail was read in {took:.2f} s: the test needs a slower mail"
    assert len(during) >= 3, during
    assert max(during) < took / 3, (max(during), took)

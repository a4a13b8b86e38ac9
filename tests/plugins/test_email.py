"""Email vendor: MIME, PagerDuty's email rules (modes, filters, parsers) and RE2 checks."""

from __future__ import annotations

import base64
import dataclasses
import threading
from email.message import EmailMessage
from typing import Any

import msgspec
import pytest
import trio
from alert_gateway_plugins import email as email_vendor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import cef
from gateway.errors import InvalidEvent, PayloadTooLarge, RetryLater, UnrecognizedEvent
from gateway.model import MAX_EVENT_BYTES, Event, InboundRequest
from gateway.testing import mail_request
from tests.support import SAMPLES

KEY = "e0a1e0a1e0a1e0a1e0a1e0a1e0a1e0a1"
SAMPLE = (SAMPLES / "email_trigger.eml").read_bytes()


def mail(
    subject: str = "Disk full on db01",
    body: str = "State: CRITICAL\nHost: db01\n",
    *,
    sender: str = "nagios <nagios@mon.example>",
    message_id: str | None = "<1@mon.example>",
    **headers: str,
) -> bytes:
    """A simple text/plain message."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "ops@alerts.example.com"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 03 Nov 2026 09:46:02 +0000"
    if message_id:
        msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def request(raw: bytes, method: str = "SMTP", **rules: Any) -> InboundRequest:
    """What the SMTP listener hands the vendor for one recipient."""
    mail = mail_request(
        raw,
        integration_key=KEY,
        settings=rules,
        mail_from="nagios@mon.example",
        rcpt_to="ops@alerts.example.com",
    )
    return mail if method == mail.method else dataclasses.replace(mail, method=method)


def parse(raw: bytes, **rules: Any) -> list[Event]:
    """Run the vendor's parse and check every event it returns."""
    events = trio.run(email_vendor.parse, request(raw, **rules))
    for event in events:
        assert cef.validate(event) == []
        assert event.routing_key == KEY
    return events


def one(raw: bytes, **rules: Any) -> Event:
    events = parse(raw, **rules)
    assert len(events) == 1
    return events[0]


def regex_predicate(part: str, matcher: str) -> dict[str, Any]:
    return {"type": "regex", "part": part, "matcher": matcher}


def key_by_regex(regex: str, part: str = "subject") -> dict[str, Any]:
    return {"type": "regex", "part": part, "value_name": "incident_key", "regex": regex}


NAGIOS_RULES: dict[str, Any] = {
    "email_incident_creation": "use_rules",
    "email_parsers": [
        {
            "action": "trigger",
            "match_predicate": regex_predicate("subject", r"^\*\* PROBLEM "),
            "value_extractors": [
                key_by_regex(r"(?:Service|Host) Alert: (.+?) is [A-Z]+ \*\*$"),
                {
                    "type": "between",
                    "part": "body",
                    "value_name": "state",
                    "starts_after": "State: ",
                },
            ],
        },
        {
            "action": "resolve",
            "match_predicate": regex_predicate("subject", r"^\*\* RECOVERY "),
            "value_extractors": [key_by_regex(r"(?:Service|Host) Alert: (.+?) is [A-Z]+ \*\*$")],
        },
    ],
    "email_parsing_fallback": "discard",
}


# -- the message ----------------------------------------------------------------------------


def test_sample_nagios_mail_on_new_email() -> None:
    event = one(SAMPLE)
    assert event.event_action == "trigger"
    assert event.summary == "** PROBLEM Service Alert: Web Server 03 (prod)/HTTPS is CRITICAL **"
    assert event.source == "nagios@mon-01.prod.acme.example"
    assert event.severity == "critical"
    assert event.timestamp == "2026-11-03T09:46:02.000Z"
    assert event.client == "Email"
    details = event.custom_details
    assert "HTTP CRITICAL - Invalid HTTP response" in details["body"]
    assert details["from"] == "nagios <nagios@mon-01.prod.acme.example>"
    assert details["recipient"] == "ops@alerts.example.com"
    # Keyed by Message-ID: an MTA redelivering after a lost 250 appends, never duplicates.
    assert event.dedup_key == email_vendor.message_key(
        "<20261103094602.8C1D2A1F3B@mon-01.prod.acme.example>"
    )


def test_sample_nagios_mail_by_rules() -> None:
    event = one(SAMPLE, **NAGIOS_RULES)
    assert event.event_action == "trigger"
    assert event.dedup_key == "Web Server 03 (prod)/HTTPS"
    assert event.custom_details["extracted"] == {"state": "CRITICAL"}
    recovery = SAMPLE.replace(b"** PROBLEM", b"** RECOVERY").replace(b"is CRITICAL", b"is OK")
    resolve = one(recovery, **NAGIOS_RULES)
    assert resolve.event_action == "resolve"
    assert resolve.dedup_key == "Web Server 03 (prod)/HTTPS"


def test_mail_without_message_id_gets_a_fresh_key() -> None:
    assert one(mail(message_id=None)).dedup_key is None  # the core generates one


def test_quoted_printable_and_latin1_are_decoded() -> None:
    raw = (
        b"From: a@b.example\r\nSubject: =?iso-8859-1?q?Temp=E9rature_haute?=\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Temp=E9rature: 45=B0C on rack=3D7\r\n"
    )
    event = one(raw)
    assert event.summary == "Température haute"
    assert "Température: 45°C on rack=7" in event.custom_details["body"]


def test_subject_spaces_are_kept_and_only_folding_is_undone() -> None:
    raw = (
        b"From: a@b.example\r\nSubject:  Disk  full on db01 \r\n"
        b" =?utf-8?q?caf=C3=A9?= \r\nMessage-ID: <s@x>\r\n\r\nbody\r\n"
    )
    event = one(raw)
    # The space after the colon separates; the folded line's CRLF goes; the rest stays.
    assert event.summary == "Disk  full on db01  café "
    assert event.custom_details["subject"] == "Disk  full on db01  café "


def test_a_blank_subject_is_no_subject() -> None:
    assert one(mail("   ")).summary == "(no subject)"


def test_base64_body_and_unknown_charset_never_fail() -> None:
    payload = base64.b64encode("héllo wörld".encode()).decode()
    raw = (
        "From: a@b.example\r\nSubject: b64\r\n"
        "Content-Type: text/plain; charset=x-no-such-charset\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{payload}\r\n"
    ).encode()
    assert "h" in one(raw).custom_details["body"]  # decoded as UTF-8 with replacement


def test_non_utf8_bytes_everywhere() -> None:
    raw = (
        b"From: \xff\xfe <x@y.example>\r\nSubject: caf\xe9 \x00\x81\r\n\r\n"
        b"body \xc3\x28 \xed\xa0\x80\r\n"
    )
    event = one(raw)
    assert event.summary.startswith("caf")
    msgspec.json.encode(event)  # storable: no lone surrogates


def test_multipart_alternative_prefers_plain_text() -> None:
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "a@b.example", "alt"
    msg.set_content("plain version")
    msg.add_alternative("<p>html version</p>", subtype="html")
    assert one(msg.as_bytes()).custom_details["body"].strip() == "plain version"


def test_html_only_mail_is_matched_as_raw_html() -> None:
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "a@b.example", "html"
    msg.set_content("<p>Host: <b>web-7</b></p>", subtype="html")
    rules = {
        "email_incident_creation": "use_rules",
        "email_parsers": [
            {
                "action": "trigger",
                "match_predicate": {"type": "contains", "part": "body", "matcher": "<b>"},
                "value_extractors": [
                    {
                        "type": "between",
                        "part": "body",
                        "value_name": "incident_key",
                        "starts_after": "<b>",
                        "ends_with": "</b>",
                    }
                ],
            }
        ],
    }
    assert one(msg.as_bytes(), **rules).dedup_key == "web-7"


def test_attachments_are_dropped_and_named() -> None:
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "a@b.example", "with attachment"
    msg.set_content("see attached")
    msg.add_attachment(b"\x89PNG...", maintype="image", subtype="png", filename="graph.png")
    msg.add_attachment("a,b\n1,2\n", subtype="csv", filename="data.csv")
    details = one(msg.as_bytes()).custom_details
    assert details["body"].strip() == "see attached"
    assert details["attachments"] == ["graph.png", "data.csv"]


def test_mail_over_96k_has_parts_cut_to_32k() -> None:
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "a@b.example", "big"
    msg.set_content("x" * 60_000)
    msg.add_attachment(b"\0" * 60_000, maintype="application", subtype="octet-stream")
    event = one(msg.as_bytes())
    assert len(event.custom_details["body"]) == email_vendor.TEXT_PART_BYTES
    assert event.custom_details["truncated_parts"] == 1


def test_mail_at_96k_is_untouched() -> None:
    raw = mail(body="y" * 90_000)
    assert len(raw) <= email_vendor.UNTOUCHED_BYTES
    assert one(raw).custom_details["body"].count("y") == 90_000


def test_mail_still_over_192k_after_cutting_is_refused() -> None:
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "a@b.example", "many parts"
    msg.set_content("intro")
    for i in range(8):
        msg.add_attachment("z" * 40_000, subtype="plain", disposition="inline", filename=f"{i}.txt")
    with pytest.raises(PayloadTooLarge):
        parse(msg.as_bytes())


def test_http_requests_are_refused() -> None:
    with pytest.raises(InvalidEvent, match="email only"):
        trio.run(email_vendor.parse, request(SAMPLE, method="POST"))


def test_rules_that_became_invalid_defer_the_mail() -> None:
    with pytest.raises(RetryLater):
        trio.run(email_vendor.parse, request(SAMPLE, email_incident_creation="on_every_full_moon"))


# -- hostile MIME: bounded, off the event loop, refused for good ----------------------------


def wide_mail(parts: int) -> bytes:
    """A multipart/mixed message of ``parts`` one-line text parts (the message not counted)."""
    head = (
        b"From: a@b.example\r\nTo: ops@alerts.example.com\r\nSubject: wide\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n'
    )
    return head + b"--B\r\nContent-Type: text/plain\r\n\r\nxxxxxxxx\r\n" * parts + b"--B--\r\n"


def deep_mail(levels: int, body_lines: int = 1) -> bytes:
    """A message whose text part is ``levels`` multiparts deep (the message is the first)."""
    out = [b"From: a@b.example\r\nTo: ops@alerts.example.com\r\nSubject: deep\r\n"]
    out.append(b"MIME-Version: 1.0\r\n")
    for level in range(levels):
        out.append(
            b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level)
        )
    out.append(b"Content-Type: text/plain\r\n\r\n" + b"x\r\n" * body_lines)
    out.extend(b"--b%d--\r\n" % level for level in reversed(range(levels)))
    return b"".join(out)


def test_mail_with_more_mime_parts_than_the_limit_is_refused() -> None:
    # The message counts as one part: MAX_PARTS - 1 parts inside it are the most read.
    assert len(one(wide_mail(email_vendor.MAX_PARTS - 1)).custom_details["body"]) > 0
    with pytest.raises(UnrecognizedEvent, match="more than 1000 MIME parts"):
        parse(wide_mail(email_vendor.MAX_PARTS))
    with pytest.raises(UnrecognizedEvent, match="more than 1000 MIME parts"):
        parse(wide_mail(50_000))  # the 2.2 MB message; refused after 1,000 parts


def test_too_many_top_level_parts_are_refused_before_the_parse() -> None:
    # Counting the delimiter lines refuses at the first part: no CPU budget is spent.
    # (Parsing, the first 1 KB slice would already exceed a budget of 0 s.)
    no_cpu = email_vendor.Limits(cpu_seconds=0.0)
    with pytest.raises(UnrecognizedEvent, match="more than 1000 MIME parts"):
        email_vendor.read_mail(wide_mail(50_000), no_cpu)


def test_only_real_delimiter_lines_are_counted() -> None:
    parts = email_vendor.MAX_PARTS - 1
    # After the closing delimiter: the epilogue, whatever it holds.
    epilogue = wide_mail(parts) + b"--B\r\n" * 5_000
    assert len(one(epilogue).custom_details["body"]) > 0
    # Lines that only start like a delimiter, and delimiters with trailing blanks.
    lookalikes = wide_mail(parts).replace(
        b"xxxxxxxx\r\n--B--", b"xxxxxxxx\r\n" + b"--Bx\r\n-B\r\n --B\r\n" * 2_000 + b"--B--"
    )
    assert len(one(lookalikes).custom_details["body"]) > 0
    blanks = wide_mail(parts).replace(b"--B\r\n", b"--B \t\r\n")
    assert len(one(blanks).custom_details["body"]) > 0
    with pytest.raises(UnrecognizedEvent, match="more than 999 MIME parts"):
        email_vendor.read_mail(blanks, email_vendor.Limits(parts=parts, cpu_seconds=0.0))


def test_mime_nested_past_the_limit_is_refused_not_a_recursion_error() -> None:
    # deep_mail(n): the text part sits at depth n (the message itself is depth 0).
    assert one(deep_mail(email_vendor.MAX_DEPTH)).custom_details["body"].strip() == "x"
    with pytest.raises(UnrecognizedEvent, match="nested more than 20 deep"):
        parse(deep_mail(email_vendor.MAX_DEPTH + 1))
    with pytest.raises(UnrecognizedEvent, match="nested more than 20 deep"):
        parse(deep_mail(2_000))  # RecursionError in the stdlib parser, once


def test_forwarded_mail_with_attachments_is_read_whole() -> None:
    # Real mail is shallow: a forward of a forward, each with an attachment, is 6 deep.
    inner = EmailMessage()
    inner["From"], inner["Subject"] = "db@mon.example", "original alert"
    inner.set_content("State: CRITICAL")
    inner.add_alternative("<p>State: CRITICAL</p>", subtype="html")
    inner.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="graph.png")
    for hop in range(2):
        outer = EmailMessage()
        outer["From"], outer["Subject"] = "ops@x.example", f"Fwd {hop}"
        outer.set_content(f"forward {hop}")
        outer.add_attachment(inner)
        outer.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename=f"{hop}.pdf")
        inner = outer
    event = one(inner.as_bytes())
    assert event.summary == "Fwd 1"
    assert "State: CRITICAL" in event.custom_details["body"]
    assert event.custom_details["attachments"] == ["graph.png", "0.pdf", "1.pdf"]


def test_mail_over_its_cpu_budget_is_refused_for_good() -> None:
    raw = deep_mail(3, body_lines=200_000)
    # The budget is the reading thread's CPU time (load on the machine does not count);
    # 1 ms is far less than 200,000 lines take, whatever the machine.
    with pytest.raises(UnrecognizedEvent, match="CPU"):
        email_vendor.read_mail(raw, email_vendor.Limits(cpu_seconds=0.001))
    assert email_vendor.read_mail(raw).truncated_parts == 1  # read, and cut to 32 KB


async def test_mail_is_read_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """While a mail is read, the loop keeps running (today's mail stalled it).

    Event-based, not timed: the reading waits until a task on the loop has run. Read on
    the loop, that wait could never end (nothing else runs until the read returns), so it
    gives up after 5 s and the test fails; read in a worker thread, it ends at once.
    """
    reading = threading.Event()
    loop_ran = threading.Event()
    real_read_mail = email_vendor.read_mail

    def read_mail_once_the_loop_ran(*args: Any) -> Any:
        reading.set()
        assert loop_ran.wait(5), "the event loop did not run while the mail was read"
        return real_read_mail(*args)

    monkeypatch.setattr(email_vendor, "read_mail", read_mail_once_the_loop_ran)

    async def on_the_loop() -> None:
        while not reading.is_set():
            await trio.sleep(0.001)
        loop_ran.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(on_the_loop)
        events = await email_vendor.parse(request(deep_mail(email_vendor.MAX_DEPTH)))
    assert loop_ran.is_set()
    assert len(events) == 1


# -- incident creation modes ----------------------------------------------------------------


def test_on_new_email_subject_keys_by_normalised_subject() -> None:
    mode = {"email_incident_creation": "on_new_email_subject"}
    a = one(mail("Disk  full on db01", message_id="<a@x>"), **mode)
    b = one(mail("Disk full on db01 ", message_id="<b@x>"), **mode)
    c = one(mail("Disk full on db02", message_id="<c@x>"), **mode)
    assert a.dedup_key == b.dedup_key == "subject:Disk full on db01"
    assert c.dedup_key != a.dedup_key
    long_key = one(mail("s" * 400), **mode).dedup_key
    assert long_key is not None and len(long_key) <= 255


def test_only_if_no_open_incidents_uses_one_key() -> None:
    mode = {"email_incident_creation": "only_if_no_open_incidents"}
    keys = {one(mail(f"subject {i}", message_id=f"<{i}@x>"), **mode).dedup_key for i in range(3)}
    assert keys == {email_vendor.OPEN_INCIDENT_KEY}


# -- filters --------------------------------------------------------------------------------

PROD_ONLY = {"subject_mode": "match", "subject_regex": "(?i)prod"}
NOT_TEST = {"body_mode": "no-match", "body_regex": "^TEST"}
FROM_MON = {"from_email_mode": "match", "from_email_regex": r"@mon\.example$"}


@pytest.mark.parametrize(
    ("mode", "filters", "subject", "body", "kept"),
    [
        ("all-email", [], "anything", "TEST", True),
        ("or-rules-email", [PROD_ONLY, NOT_TEST], "PROD down", "TEST", True),
        ("or-rules-email", [PROD_ONLY, NOT_TEST], "staging down", "real", True),
        ("or-rules-email", [PROD_ONLY, NOT_TEST], "staging down", "TEST", False),
        ("and-rules-email", [PROD_ONLY, NOT_TEST], "prod down", "real", True),
        ("and-rules-email", [PROD_ONLY, NOT_TEST], "prod down", "TEST", False),
        ("and-rules-email", [PROD_ONLY, FROM_MON], "prod down", "real", True),
        ("and-rules-email", [{**PROD_ONLY, **FROM_MON, "body_mode": "always"}], "prod", "x", True),
    ],
)
def test_filters(mode: str, filters: list[Any], subject: str, body: str, kept: bool) -> None:
    events = parse(mail(subject, body), email_filter_mode=mode, email_filters=filters)
    assert len(events) == (1 if kept else 0)


def test_from_filter_rejects_other_senders() -> None:
    rules = {"email_filter_mode": "or-rules-email", "email_filters": [FROM_MON]}
    assert parse(mail(sender="x@evil.example"), **rules) == []
    assert len(parse(mail(sender="Nagios <n@mon.example>"), **rules)) == 1


# -- parsers --------------------------------------------------------------------------------


def rules_with(predicate: dict[str, Any], *extractors: dict[str, Any], **more: Any) -> Any:
    return {
        "email_incident_creation": "use_rules",
        "email_parsers": [
            {
                "action": "trigger",
                "match_predicate": predicate,
                "value_extractors": list(extractors) or [{**key_by_regex("(.*)")}],
            }
        ],
        **more,
    }


@pytest.mark.parametrize(
    ("predicate", "matches"),
    [
        ({"type": "contains", "part": "subject", "matcher": "full"}, True),
        ({"type": "contains", "part": "subject", "matcher": "FULL"}, False),  # case-sensitive
        ({"type": "exactly", "part": "subject", "matcher": "Disk full on db01"}, True),
        ({"type": "exactly", "part": "subject", "matcher": "Disk full"}, False),
        ({"type": "regex", "part": "body", "matcher": "(?m)^State: CRIT"}, True),
        ({"type": "contains", "part": "from_addresses", "matcher": "@mon.example"}, True),
        ({"type": "exactly", "part": "from_addresses", "matcher": "nagios@mon.example"}, True),
        (
            {
                "type": "all",
                "children": [
                    {"type": "contains", "part": "subject", "matcher": "Disk"},
                    {"type": "not", "children": [regex_predicate("body", "OK")]},
                ],
            },
            True,
        ),
        (
            {
                "type": "any",
                "children": [
                    {"type": "contains", "part": "subject", "matcher": "nope"},
                    {"type": "not", "children": [regex_predicate("body", "CRITICAL")]},
                ],
            },
            False,
        ),
    ],
)
def test_match_predicates(predicate: dict[str, Any], matches: bool) -> None:
    events = parse(mail(), **rules_with(predicate, email_parsing_fallback="discard"))
    assert len(events) == (1 if matches else 0)


def test_several_capture_groups_join_with_dash() -> None:
    rules = rules_with(
        regex_predicate("subject", "."),
        key_by_regex(r"Disk (\w+) on (\w+)"),
        {"type": "entire", "part": "from_addresses", "value_name": "sender"},
    )
    event = one(mail(), **rules)
    assert event.dedup_key == "full-db01"
    assert event.custom_details["extracted"] == {"sender": "nagios@mon.example"}


def test_between_extractor_with_ends_before_and_to_end_of_line() -> None:
    body = "Host: db01\nTicket: [INC-42] open\n"
    rules = rules_with(
        regex_predicate("body", "Ticket"),
        {
            "type": "between",
            "part": "body",
            "value_name": "incident_key",
            "starts_after": "[",
            "ends_before": "]",
        },
        {"type": "between", "part": "body", "value_name": "host", "starts_after": "Host:"},
    )
    event = one(mail(body=body), **rules)
    assert event.dedup_key == "INC-42"
    assert event.custom_details["extracted"] == {"host": "db01"}


def test_parser_without_key_falls_through_to_fallback() -> None:
    rules = rules_with(regex_predicate("subject", "."), key_by_regex(r"ticket (\d+)"))
    event = one(mail(message_id="<fb@x>"), **rules)  # open_new_incident is the default
    assert event.dedup_key == email_vendor.message_key("<fb@x>")
    assert parse(mail(), **{**rules, "email_parsing_fallback": "discard"}) == []


def test_incident_key_is_cut_to_255() -> None:
    rules = rules_with(regex_predicate("subject", "."), key_by_regex("(.*)"))
    assert one(mail("k" * 600), **rules).dedup_key == "k" * 255


def test_first_matching_parser_wins_and_resolves() -> None:
    event = one(mail("** RECOVERY Host Alert: db01 is UP **"), **NAGIOS_RULES)
    assert (event.event_action, event.dedup_key) == ("resolve", "db01")


# -- configuration checks -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ({"email_incident_creation": "sometimes"}, "'email_incident_creation' is invalid"),
        ({"email_filter_mode": "or-rules-email"}, "needs at least one filter"),
        (
            {"email_filter_mode": "or-rules-email", "email_filters": [{"subject_mode": "match"}]},
            "'email_filters[0].subject_regex' is required",
        ),
        (
            {
                "email_filter_mode": "and-rules-email",
                "email_filters": [{"body_mode": "match", "body_regex": "(unclosed"}],
            },
            "'email_filters[0].body_regex' is invalid (not a valid RE2 regex: missing )",
        ),
        (
            {
                "email_filter_mode": "and-rules-email",
                "email_filters": [{"body_mode": "match", "body_regex": "(a)\\1"}],
            },
            "email_filters[0].body_regex",  # backreferences are not RE2
        ),
        ({"email_incident_creation": "use_rules"}, "needs at least one parser"),
        (
            rules_with(regex_predicate("subject", "(?<=x)y")),
            "'email_parsers[0].match_predicate.matcher' is invalid",
        ),
        (
            rules_with(regex_predicate("subject", "."), key_by_regex("((a)b)")),
            "'email_parsers[0].value_extractors[0].regex' is invalid (nested capture groups",
        ),
        (
            rules_with(
                regex_predicate("subject", "."),
                {"type": "entire", "part": "subject", "value_name": "other"},
            ),
            "exactly one extractor must have value_name = 'incident_key', found 0",
        ),
        (
            rules_with({"type": "all", "children": []}),
            "'email_parsers[0].match_predicate.children' is invalid",
        ),
        (
            rules_with({"type": "contains", "matcher": "x"}),
            "'email_parsers[0].match_predicate.part' is required",
        ),
        ({"email_parsers": NAGIOS_RULES["email_parsers"]}, "used only with"),
        ({"email_parsing_fallbak": "discard"}, "'email_parsing_fallbak' is unknown"),
    ],
)
def test_check_settings_names_the_setting(rules: dict[str, Any], expected: str) -> None:
    problems = email_vendor.check_settings(rules)
    assert any(expected in p for p in problems), problems


def test_valid_rules_pass_the_check() -> None:
    assert email_vendor.check_settings(NAGIOS_RULES) == []
    assert email_vendor.check_settings({}) == []


@pytest.mark.parametrize(
    ("pattern", "nested"),
    [
        ("(a)(b)", False),
        ("((a))", True),
        ("(a(?:b))", False),
        ("(?:(a)b)", False),
        ("(a(?P<n>b))", True),
        (r"(a\(b)", False),
        ("([(])", False),
        ("([]()])", False),
        (r"(\Q((\E)", False),
        ("([[:alpha:](])", False),
    ],
)
def test_nested_group_detection(pattern: str, nested: bool) -> None:
    assert email_vendor.has_nested_groups(pattern) is nested


# -- anything at all ------------------------------------------------------------------------

HEADERS = st.sampled_from(
    [
        b"Subject: ",
        b"From: ",
        b"Date: ",
        b"Message-ID: ",
        b"Content-Type: multipart/mixed; boundary=b\r\n",
        b"Content-Type: text/html; charset=",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"--b\r\n",
        b"\r\n",
        b"=?utf-8?b?",
        b"=?x?q?=FF",
    ]
)
raw_mail = st.lists(HEADERS | st.binary(max_size=40), max_size=30).map(b"".join)


@pytest.mark.slow  # hypothesis
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=raw_mail, mode=st.sampled_from(email_vendor.INCIDENT_CREATION[:3]))
def test_any_bytes_make_one_valid_event(raw: bytes, mode: str) -> None:
    events = trio.run(email_vendor.parse, request(raw, email_incident_creation=mode))
    assert len(events) == 1
    assert cef.validate(events[0]) == []
    assert len(msgspec.json.encode(events[0])) <= MAX_EVENT_BYTES

"""Amazon CloudWatch vendor: SNS envelopes (verified), confirmations and EventBridge events.

The only fake is the SNS transport (certificate fetches and SubscribeURL
GETs): the edge of the world. New signed envelopes are signed here with a
throw-away key, because the key behind ``sns_test_signing_cert.pem`` was
thrown away.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio.testing
from alert_gateway_plugins import _sns, cloudwatch
from alert_gateway_plugins._vendor import SeenIds
from alert_gateway_plugins.cloudwatch import in_flight
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from trio.testing import MockClock

from gateway import cef
from gateway.errors import InvalidEvent, RetryLater, UnrecognizedEvent
from gateway.model import Event, InboundRequest
from gateway.plugins import load_plugins
from gateway.testing import gateway_running, inbound_request
from tests.scaffold import SAMPLES

KEY = "c1oudwatch0000000000000000000001"
OTHER_KEY = "c1oudwatch0000000000000000000002"
TOPIC = "arn:aws:sns:us-east-1:482917365014:pagerduty-gateway-prod"
OTHER_TOPIC = "arn:aws:sns:us-east-1:482917365014:someone-elses-topic"
ALARM_ARN = "arn:aws:cloudwatch:us-east-1:482917365014:alarm:prod-orders-db-high-cpu"
SAMPLE_CERT_URL = (
    "https://sns.us-east-1.amazonaws.com/"
    "SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"
)
OWN_CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-throwaway.pem"
TOKEN = "2336412f37fb687f5d51e6e2425a8a58"
SUBSCRIBE_URL = (
    f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}"
    f"&Token={TOKEN}"
)
SUMMARY_ALARM = 'ALARM: "prod-orders-db-high-cpu" in US East (N. Virginia)'
ALLOW = {"sns_topic_allowlist": [TOPIC]}

# The fields AWS signs per message type, in the order AWS documents (written out here
# independently of the plugin, so a mistake in the plugin's list fails these tests).
SIGNED_FIELDS = {
    "Notification": ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
    "SubscriptionConfirmation": [
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ],
}
SIGNED_FIELDS["UnsubscribeConfirmation"] = SIGNED_FIELDS["SubscriptionConfirmation"]


# -- Throw-away signing key and the fake transport ------------------------------------------------


@cache
def signing_key() -> tuple[rsa.RSAPrivateKey, bytes]:
    """A throw-away RSA key and its self-signed certificate (PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TEST ONLY - not Amazon"),
            x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com (throw-away)"),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


def sign(
    envelope: dict[str, Any], *, version: str = "2", url: str = OWN_CERT_URL
) -> dict[str, Any]:
    """Sign an SNS envelope as SNS would, with the throw-away key."""
    signed = dict(envelope)
    text = "".join(
        f"{name}\n{signed[name]}\n"
        for name in SIGNED_FIELDS[signed["Type"]]
        if signed.get(name) is not None
    )
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = signing_key()[0].sign(text.encode(), padding.PKCS1v15(), algorithm)
    signed["SignatureVersion"] = version
    signed["SigningCertURL"] = url
    signed["Signature"] = base64.b64encode(signature).decode()
    return signed


class FakeSnsTransport:
    """Serves known certificates and records every request it is asked to make."""

    def __init__(self, certificates: dict[str, bytes]) -> None:
        self.certificates = certificates
        self.certificate_requests: list[str] = []
        self.confirm_requests: list[str] = []
        self.fetch_error: _sns.SnsTransportError | None = None
        self.confirm_error: _sns.SnsTransportError | None = None

    async def fetch_certificate(self, url: str) -> bytes:
        """Return the certificate registered for ``url``, or fail like a 404."""
        self.certificate_requests.append(url)
        if self.fetch_error is not None:
            raise self.fetch_error
        if url not in self.certificates:
            raise _sns.SnsTransportError("HTTP 404", transient=False)
        return self.certificates[url]

    async def confirm(self, url: str) -> str:
        """Record the confirmation GET."""
        self.confirm_requests.append(url)
        if self.confirm_error is not None:
            raise self.confirm_error
        return TOPIC + ":5c0f9a1e-7d3b-4e62-9a8f-2b61d4c7e0f3"


def new_transport() -> FakeSnsTransport:
    """A fake transport serving the sample certificate and the throw-away one."""
    return FakeSnsTransport(
        {
            SAMPLE_CERT_URL: (SAMPLES / "sns_test_signing_cert.pem").read_bytes(),
            OWN_CERT_URL: signing_key()[1],
        }
    )


@contextmanager
def fake_transport() -> Iterator[FakeSnsTransport]:
    """Install a fake transport and empty the caches, restoring everything afterwards."""
    previous = _sns.transport
    fake = new_transport()
    _sns.transport = fake
    _sns.clear_certificate_cache()
    cloudwatch.deliveries.clear()
    try:
        yield fake
    finally:
        _sns.transport = previous
        _sns.clear_certificate_cache()
        cloudwatch.deliveries.clear()


@pytest.fixture(autouse=True)
def sns() -> Iterator[FakeSnsTransport]:
    """Every test here runs with the fake transport: none may reach the network."""
    with fake_transport() as fake:
        yield fake


# -- Builders -------------------------------------------------------------------------------------


def sample(name: str) -> dict[str, Any]:
    """A sample envelope, decoded."""
    decoded: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return decoded


def sample_alarm() -> dict[str, Any]:
    """The alarm JSON inside the ALARM sample's Message."""
    decoded: dict[str, Any] = json.loads(sample("cloudwatch_sns_alarm_alarm.json")["Message"])
    return decoded


def alarm(**changes: Any) -> dict[str, Any]:
    """The sample alarm with fields changed; a value of ``None`` removes the field."""
    body = copy.deepcopy(sample_alarm())
    for name, value in changes.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def notification(
    message: dict[str, Any] | str,
    *,
    message_id: str = "0b6f2c1e-1111-4d4d-9e9e-000000000001",
    subject: str | None = "ALARM: whatever",
    topic: str = TOPIC,
    timestamp: str = "2026-11-03T09:45:51.889Z",
) -> dict[str, Any]:
    """An unsigned SNS Notification envelope."""
    envelope: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic,
        "Message": message if isinstance(message, str) else json.dumps(message),
        "Timestamp": timestamp,
    }
    if subject is not None:
        envelope["Subject"] = subject
    return envelope


def confirmation(
    kind: str = "SubscriptionConfirmation",
    *,
    topic: str = TOPIC,
    url: str = SUBSCRIBE_URL,
    message_id: str = "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
) -> dict[str, Any]:
    """An unsigned (un)subscribe confirmation envelope."""
    return {
        "Type": kind,
        "MessageId": message_id,
        "Token": TOKEN,
        "TopicArn": topic,
        "Message": f"You have chosen to subscribe to the topic {topic}.",
        "SubscribeURL": url,
        "Timestamp": "2026-11-03T09:00:00.000Z",
    }


def eventbridge(state: str = "ALARM", **changes: Any) -> dict[str, Any]:
    """An EventBridge CloudWatch Alarm State Change event for the sample alarm."""
    event: dict[str, Any] = {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "482917365014",
        "time": "2026-11-03T09:45:52Z",
        "region": "us-east-1",
        "resources": [ALARM_ARN],
        "detail": {
            "alarmName": "prod-orders-db-high-cpu",
            "state": {
                "value": state,
                "reason": "Threshold Crossed",
                "reasonData": "{}",
                "timestamp": "2026-11-03T09:45:51.827+0000",
            },
            "previousState": {"value": "OK", "timestamp": "2026-11-03T08:00:00.000+0000"},
            "configuration": {
                "description": "Orders DB CPU",
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": "AWS/RDS",
                                "name": "CPUUtilization",
                                "dimensions": {"DBInstanceIdentifier": "orders-db-prod-1"},
                            },
                            "period": 300,
                            "stat": "Average",
                        },
                        "returnData": True,
                    }
                ],
            },
        },
    }
    event.update(changes)
    return event


def request(
    body: dict[str, Any] | bytes,
    *,
    settings: dict[str, Any] | None = None,
    key: str | None = KEY,
    headers: dict[str, str] | None = None,
) -> InboundRequest:
    """An inbound request as the HTTP layer builds it for ``/integration/{key}/enqueue``."""
    return inbound_request(
        body,
        integration_key=key,
        content_type="text/plain; charset=UTF-8",  # as SNS posts its JSON
        headers=headers,
        settings=settings,
    )


async def parse(body: dict[str, Any] | bytes, **kwargs: Any) -> list[Event]:
    """Parse through the vendor and check every event against PD-CEF.

    Then ``after_request(committed=True)``, as the core calls it once the events
    are stored: only a committed delivery counts as seen.
    """
    inbound = request(body, **kwargs)
    events = await cloudwatch.VENDOR.parse(inbound)
    for event in events:
        assert cef.validate(event) == []
    cloudwatch.after_request(inbound, True)
    return events


async def one(body: dict[str, Any] | bytes, **kwargs: Any) -> Event:
    """Parse a body that must give exactly one event."""
    events = await parse(body, **kwargs)
    assert len(events) == 1
    return events[0]


async def rejected(body: dict[str, Any] | bytes, **kwargs: Any) -> list[str]:
    """Parse a body that must be rejected as invalid; its error strings."""
    inbound = request(body, **kwargs)
    with pytest.raises(InvalidEvent) as info:
        await cloudwatch.VENDOR.parse(inbound)
    cloudwatch.after_request(inbound, False)
    return info.value.errors


# -- The samples ----------------------------------------------------------------------------------


async def test_sample_alarm_signature_v1_triggers_critical(sns: FakeSnsTransport) -> None:
    event = await one(sample("cloudwatch_sns_alarm_alarm.json"))
    assert event.routing_key == KEY
    assert event.event_action == "trigger"
    assert event.dedup_key == ALARM_ARN
    assert event.severity == "critical"
    assert event.summary == SUMMARY_ALARM
    assert event.source == "orders-db-prod-1"
    assert event.timestamp == "2026-11-03T09:45:51.827Z"
    assert event.component == "AWS/RDS"
    assert event.class_ == "CPUUtilization"
    assert event.group == "482917365014"
    assert event.client == "Amazon CloudWatch"
    assert event.client_url is not None
    assert event.client_url.startswith("https://us-east-1.console.aws.amazon.com/cloudwatch/")
    assert event.custom_details["sns_message_id"] == "8f1c6d2e-3b7a-5e49-a0c4-7d92e61f3b58"
    assert event.custom_details["topic_arn"] == TOPIC
    assert event.custom_details["NewStateReason"].startswith("Threshold Crossed")
    assert sns.certificate_requests == [SAMPLE_CERT_URL]


async def test_sample_ok_signature_v2_resolves() -> None:
    event = await one(sample("cloudwatch_sns_alarm_ok.json"))
    assert event.event_action == "resolve"
    assert event.dedup_key == ALARM_ARN
    assert event.severity == "info"
    assert event.summary == 'OK: "prod-orders-db-high-cpu" in US East (N. Virginia)'
    assert event.source == "orders-db-prod-1"
    assert event.timestamp == "2026-11-03T10:21:52.114Z"


async def test_certificate_is_fetched_once_and_cached(sns: FakeSnsTransport) -> None:
    await one(sample("cloudwatch_sns_alarm_alarm.json"))
    await one(sample("cloudwatch_sns_alarm_ok.json"))
    assert sns.certificate_requests == [SAMPLE_CERT_URL]


async def test_sample_is_accepted_with_an_allowlist_naming_its_topic() -> None:
    event = await one(sample("cloudwatch_sns_alarm_alarm.json"), settings=ALLOW)
    assert event.dedup_key == ALARM_ARN


async def test_sample_from_a_topic_off_the_allowlist_is_refused() -> None:
    errors = await rejected(
        sample("cloudwatch_sns_alarm_alarm.json"),
        settings={"sns_topic_allowlist": [OTHER_TOPIC]},
    )
    assert errors == [f"TopicArn {TOPIC} is not in this integration's allow-list"]


# -- Signature verification -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Message", '{"AlarmName":"forged","NewStateValue":"ALARM"}'),
        ("Subject", "ALARM: forged"),
        ("MessageId", "00000000-0000-0000-0000-000000000000"),
        ("Timestamp", "2026-11-03T09:45:52.000Z"),
        ("TopicArn", "arn:aws:sns:us-east-1:482917365014:other"),
    ],
)
async def test_tampered_sample_fails_verification(field: str, value: str) -> None:
    body = sample("cloudwatch_sns_alarm_alarm.json")
    body[field] = value
    assert await rejected(body) == ["SNS message signature is invalid"]


async def test_removing_the_subject_breaks_the_signature() -> None:
    body = sample("cloudwatch_sns_alarm_alarm.json")
    del body["Subject"]
    assert await rejected(body) == ["SNS message signature is invalid"]


@pytest.mark.parametrize("version", ["1", "2"])
async def test_own_signed_notification_verifies(version: str, sns: FakeSnsTransport) -> None:
    event = await one(sign(notification(alarm()), version=version))
    assert event.event_action == "trigger"
    assert sns.certificate_requests == [OWN_CERT_URL]


async def test_notification_without_subject_is_signed_without_it() -> None:
    event = await one(sign(notification(alarm(), subject=None)))
    assert event.summary == SUMMARY_ALARM


async def test_signature_made_with_sha1_but_labelled_version_2_fails() -> None:
    body = sign(notification(alarm()), version="1")
    body["SignatureVersion"] = "2"
    assert await rejected(body) == ["SNS message signature is invalid"]


async def test_signature_by_another_key_fails() -> None:
    # Signed by the throw-away key, but pointing at the sample certificate.
    body = sign(notification(alarm()), url=SAMPLE_CERT_URL)
    assert await rejected(body) == ["SNS message signature is invalid"]


@pytest.mark.parametrize("version", ["3", "0", "", "v2"])
async def test_unknown_signature_version_is_refused(version: str, sns: FakeSnsTransport) -> None:
    body = sign(notification(alarm()))
    body["SignatureVersion"] = version
    errors = await rejected(body)
    assert errors[0].startswith("'SignatureVersion'")
    assert sns.certificate_requests == []


async def test_signature_version_1_can_be_refused_by_setting() -> None:
    body = sign(notification(alarm()), version="1")
    errors = await rejected(body, settings={"allow_signature_version_1": False})
    assert errors == ["'SignatureVersion' 1 is refused by this integration (use 2)"]
    event = await one(
        sign(notification(alarm()), version="2"), settings={"allow_signature_version_1": False}
    )
    assert event.event_action == "trigger"


async def test_signature_that_is_not_base64_is_refused(sns: FakeSnsTransport) -> None:
    body = sign(notification(alarm()))
    body["Signature"] = "not base64!!"
    assert await rejected(body) == ["'Signature' is invalid (must be base64)"]
    assert sns.certificate_requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com.cert-mirror.example/SimpleNotificationService-x.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
        "https://s3.amazonaws.com/bucket/SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.txt",
        "https://sns.us-east-1.amazonaws.com/.pem",
        "https://user@sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com@evil.example/SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com/x.pem?x=.pem",
        "https://sns.us-east-1.amazonaws.com/x.pem#.pem",
        "https://sns.us-east-1.amazonaws.com\\@evil.example/x.pem",
        "https://sns.us-east-1.amazonaws.com\t.evil.example/x.pem",
        "https://sns.us.amazonaws.com/SimpleNotificationService-x.pem",
        "https://sns.evil.example.amazonaws.com/SimpleNotificationService-x.pem",
        "https://SNS.us-east-1.amazonaws.com.evil.example/x.pem",
        "HTTPS://sns.us-east-1.amazonaws.com/x.pem/../../x.pem ",
        "",
    ],
)
async def test_spoofed_certificate_url_is_refused_without_a_request(
    url: str, sns: FakeSnsTransport
) -> None:
    body = sign(notification(alarm()), url=url)
    errors = await rejected(body)
    assert len(errors) == 1
    assert "SigningCertURL" in errors[0]
    assert sns.certificate_requests == []


@pytest.mark.parametrize(
    ("topic", "url"),
    [
        (
            "arn:aws-cn:sns:cn-north-1:482917365014:alarms",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem",
        ),
        (
            "arn:aws-us-gov:sns:us-gov-west-1:482917365014:alarms",
            "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-x.pem",
        ),
        (
            "arn:aws:sns:eu-central-2:482917365014:alarms",
            "https://sns.eu-central-2.amazonaws.com/certs/SimpleNotificationService-x.pem",
        ),
    ],
)
async def test_certificate_urls_of_every_partition_are_fetched(
    topic: str, url: str, sns: FakeSnsTransport
) -> None:
    sns.certificates[url] = signing_key()[1]
    event = await one(sign(notification(alarm(), topic=topic), url=url))
    assert event.event_action == "trigger"
    assert sns.certificate_requests == [url]


async def test_certificate_that_cannot_be_fetched_is_remembered_briefly(
    sns: FakeSnsTransport, mock_clock: MockClock
) -> None:
    url = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-missing.pem"
    body = sign(notification(alarm()), url=url)
    refusal = ["SNS signing certificate could not be fetched (HTTP 404)"]
    assert await rejected(body) == refusal
    sns.certificates[url] = signing_key()[1]
    assert await rejected(body) == refusal  # from memory: no second request yet
    assert sns.certificate_requests == [url]
    mock_clock.jump(_sns.FAILED_FETCH_SECONDS)
    event = await one(body)
    assert event.event_action == "trigger"
    assert sns.certificate_requests == [url, url]


async def test_transient_certificate_failure_asks_for_a_redelivery(
    sns: FakeSnsTransport, mock_clock: MockClock
) -> None:
    sns.fetch_error = _sns.SnsTransportError("ConnectTimeout", transient=True)
    with pytest.raises(_sns.SnsUnavailable) as info:
        await cloudwatch.VENDOR.parse(request(sign(notification(alarm()))))
    assert str(info.value) == (
        "the SNS signing certificate could not be fetched (ConnectTimeout); retry later"
    )
    # The MessageId was not remembered: SNS's redelivery (20 s later by default) goes through.
    sns.fetch_error = None
    mock_clock.jump(20)
    event = await one(sign(notification(alarm())))
    assert event.event_action == "trigger"


@pytest.mark.parametrize("pem", [b"", b"not a certificate", b"-----BEGIN CERTIFICATE-----\nAA=="])
async def test_garbage_certificate_is_refused(pem: bytes, sns: FakeSnsTransport) -> None:
    sns.certificates[OWN_CERT_URL] = pem
    assert await rejected(sign(notification(alarm()))) == [
        "SNS signing certificate is not a valid PEM certificate"
    ]


async def test_envelope_missing_signature_fields_is_refused(sns: FakeSnsTransport) -> None:
    errors = await rejected(notification(alarm()))
    assert errors == [
        "'SignatureVersion' is missing or blank",
        "'Signature' is missing or blank",
        "'SigningCertURL' is missing or blank",
    ]
    assert sns.certificate_requests == []


async def test_verification_can_be_turned_off(sns: FakeSnsTransport) -> None:
    event = await one(notification(alarm()), settings={"verify_signature": False})
    assert event.dedup_key == ALARM_ARN
    assert sns.certificate_requests == []


async def test_old_messages_are_refused_when_a_maximum_age_is_set() -> None:
    fresh = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    settings = {"max_message_age_seconds": 3600}
    event = await one(sign(notification(alarm(), timestamp=fresh)), settings=settings)
    assert event.event_action == "trigger"
    errors = await rejected(sample("cloudwatch_sns_alarm_alarm.json"), settings=settings)
    assert errors == ["SNS message is too old (Timestamp outside max_message_age_seconds)"]


@pytest.mark.parametrize("timestamp", ["0001-01-01T00:00:00+01:00", "yesterday", "9999-12-31"])
async def test_unreadable_or_extreme_timestamps_count_as_too_old(timestamp: str) -> None:
    settings = {"verify_signature": False, "max_message_age_seconds": 60}
    errors = await rejected(notification(alarm(), timestamp=timestamp), settings=settings)
    assert errors == ["SNS message is too old (Timestamp outside max_message_age_seconds)"]


# -- Subscription confirmation --------------------------------------------------------------------


async def test_allowlisted_subscription_is_confirmed_by_exactly_one_get(
    sns: FakeSnsTransport,
) -> None:
    body = sign(confirmation())
    assert await parse(body, settings=ALLOW) == []
    assert sns.confirm_requests == [SUBSCRIBE_URL]
    # SNS redelivers the same message: no second GET.
    assert await parse(body, settings=ALLOW) == []
    assert sns.confirm_requests == [SUBSCRIBE_URL]


async def test_subscription_without_allowlist_is_left_for_an_operator(
    sns: FakeSnsTransport,
) -> None:
    assert await parse(sign(confirmation())) == []
    assert sns.confirm_requests == []


async def test_subscription_to_a_topic_off_the_allowlist_is_refused(
    sns: FakeSnsTransport,
) -> None:
    body = sign(confirmation(topic=OTHER_TOPIC, url=SUBSCRIBE_URL.replace(TOPIC, OTHER_TOPIC)))
    errors = await rejected(body, settings=ALLOW)
    assert errors == [f"TopicArn {OTHER_TOPIC} is not in this integration's allow-list"]
    assert sns.confirm_requests == []


@pytest.mark.parametrize(
    "url",
    [
        SUBSCRIBE_URL.replace("https://", "http://"),
        SUBSCRIBE_URL.replace("amazonaws.com", "amazonaws.com.evil.example"),
        SUBSCRIBE_URL.replace("sns.us-east-1", "sqs.us-east-1"),
        SUBSCRIBE_URL.replace("sns.us-east-1.amazonaws.com", "sns.us-east-1.amazonaws.com:444"),
        SUBSCRIBE_URL.replace("https://", "https://user@"),
        SUBSCRIBE_URL.replace("sns.us-east-1", "sns.eu-west-1"),
        SUBSCRIBE_URL.replace("ConfirmSubscription", "Subscribe"),
        SUBSCRIBE_URL.replace(TOPIC, OTHER_TOPIC),
        SUBSCRIBE_URL.replace(TOKEN, "f" * 32),
        SUBSCRIBE_URL.replace("/?", "/redirect?"),
        SUBSCRIBE_URL + "#x",
        "https://evil.example/?Action=ConfirmSubscription",
    ],
)
async def test_spoofed_subscribe_url_is_refused_without_a_request(
    url: str, sns: FakeSnsTransport
) -> None:
    errors = await rejected(sign(confirmation(url=url)), settings=ALLOW)
    assert len(errors) == 1
    assert errors[0].startswith("'SubscribeURL' is invalid")
    assert sns.confirm_requests == []


async def test_failed_confirmation_is_answered_and_can_be_retried(sns: FakeSnsTransport) -> None:
    sns.confirm_error = _sns.SnsTransportError("HTTP 403", transient=False)
    body = sign(confirmation())
    assert await parse(body, settings=ALLOW) == []
    sns.confirm_error = None
    assert await parse(body, settings=ALLOW) == []
    assert sns.confirm_requests == [SUBSCRIBE_URL, SUBSCRIBE_URL]


async def test_unsigned_subscription_is_refused_before_any_request(sns: FakeSnsTransport) -> None:
    errors = await rejected(confirmation(), settings=ALLOW)
    assert "'Signature' is missing or blank" in errors
    assert sns.confirm_requests == []
    assert sns.certificate_requests == []


async def test_forged_subscription_signature_is_refused(sns: FakeSnsTransport) -> None:
    body = sign(confirmation())
    body["Token"] = "0" * 32
    body["SubscribeURL"] = SUBSCRIBE_URL.replace(TOKEN, "0" * 32)
    assert await rejected(body, settings=ALLOW) == ["SNS message signature is invalid"]
    assert sns.confirm_requests == []


async def test_unsubscribe_confirmation_is_ignored(sns: FakeSnsTransport) -> None:
    body = sign(confirmation("UnsubscribeConfirmation"))
    assert await parse(body, settings=ALLOW) == []
    assert sns.confirm_requests == []
    assert sns.certificate_requests == [OWN_CERT_URL]


async def test_unsubscribe_confirmation_is_verified_too() -> None:
    body = sign(confirmation("UnsubscribeConfirmation"))
    body["Message"] = "tampered"
    assert await rejected(body) == ["SNS message signature is invalid"]


# -- Idempotency ----------------------------------------------------------------------------------


async def test_redelivered_message_id_is_ignored() -> None:
    body = sample("cloudwatch_sns_alarm_alarm.json")
    assert len(await parse(body)) == 1
    assert await parse(body) == []


async def test_same_message_id_for_another_integration_is_not_a_duplicate() -> None:
    body = sample("cloudwatch_sns_alarm_alarm.json")
    first = await one(body, key=KEY)
    second = await one(body, key=OTHER_KEY)
    assert (first.routing_key, second.routing_key) == (KEY, OTHER_KEY)


async def test_same_message_id_on_another_topic_is_not_a_duplicate() -> None:
    settings = {"verify_signature": False}
    await one(notification(alarm(), message_id="m-1"), settings=settings)
    event = await one(notification(alarm(), message_id="m-1", topic=OTHER_TOPIC), settings=settings)
    assert event.custom_details["topic_arn"] == OTHER_TOPIC


async def test_rejected_message_is_not_remembered() -> None:
    settings = {"verify_signature": False}
    body = notification(alarm(NewStateValue="BROKEN"), message_id="m-2")
    await rejected(body, settings=settings)
    assert (KEY, TOPIC, "m-2") not in cloudwatch.seen_messages


def test_seen_ids_are_bounded_least_recently_used_first() -> None:
    seen = SeenIds(3)
    assert [seen.check_and_add(i) for i in (1, 2, 3)] == [False, False, False]
    assert seen.check_and_add(1) is True  # 1 is now the most recent
    assert seen.check_and_add(4) is False  # evicts 2
    assert len(seen) == 3
    assert 2 not in seen
    assert 1 in seen
    assert seen.check_and_add(2) is False


# -- Alarm mapping --------------------------------------------------------------------------------


UNSIGNED = {"verify_signature": False}


async def test_insufficient_data_triggers_a_warning() -> None:
    event = await one(notification(alarm(NewStateValue="INSUFFICIENT_DATA")), settings=UNSIGNED)
    assert event.event_action == "trigger"
    assert event.severity == "warning"
    assert event.dedup_key == ALARM_ARN
    assert event.summary == 'INSUFFICIENT_DATA: "prod-orders-db-high-cpu" in US East (N. Virginia)'
    assert event.source == "orders-db-prod-1"


async def test_insufficient_data_can_be_ignored() -> None:
    settings = {**UNSIGNED, "insufficient_data": "ignore"}
    assert (
        await parse(notification(alarm(NewStateValue="INSUFFICIENT_DATA")), settings=settings) == []
    )
    # ALARM still pages with that setting.
    event = await one(notification(alarm(), message_id="m-3"), settings=settings)
    assert event.event_action == "trigger"


async def test_missing_alarm_arn_is_rebuilt_from_topic_and_account() -> None:
    event = await one(notification(alarm(AlarmArn=None)), settings=UNSIGNED)
    assert event.dedup_key == ALARM_ARN


async def test_missing_alarm_arn_uses_the_topic_partition_and_region() -> None:
    topic = "arn:aws-cn:sns:cn-north-1:482917365014:alerts"
    body = notification(alarm(AlarmArn=None, AWSAccountId=None), topic=topic)
    event = await one(body, settings=UNSIGNED)
    assert event.dedup_key == (
        "arn:aws-cn:cloudwatch:cn-north-1:482917365014:alarm:prod-orders-db-high-cpu"
    )
    assert event.client_url is not None
    assert event.client_url.startswith("https://console.amazonaws.cn/cloudwatch/")


async def test_composite_alarm_without_trigger_is_mapped() -> None:
    composite = alarm(
        Trigger=None,
        AlarmName="checkout-degraded",
        AlarmArn="arn:aws:cloudwatch:us-east-1:482917365014:alarm:checkout-degraded",
        AlarmRule='ALARM("prod-orders-db-high-cpu") OR ALARM("checkout-5xx")',
    )
    event = await one(notification(composite), settings=UNSIGNED)
    assert event.event_action == "trigger"
    assert event.dedup_key == "arn:aws:cloudwatch:us-east-1:482917365014:alarm:checkout-degraded"
    assert event.summary == 'ALARM: "checkout-degraded" in US East (N. Virginia)'
    assert event.source == "checkout-degraded"
    assert event.severity == "critical"
    assert event.component is None
    assert event.custom_details["AlarmRule"].startswith("ALARM(")


async def test_metric_math_alarm_takes_source_from_its_first_metric() -> None:
    trigger = {
        "Period": 300,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 5.0,
        "Metrics": [
            {"Id": "e1", "Expression": "m1/m2*100", "Label": "ratio", "ReturnData": True},
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {
                        "Dimensions": [{"value": "checkout-lb", "name": "LoadBalancer"}],
                        "MetricName": "HTTPCode_Target_5XX_Count",
                        "Namespace": "AWS/ApplicationELB",
                    },
                    "Period": 300,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
        ],
    }
    event = await one(notification(alarm(Trigger=trigger)), settings=UNSIGNED)
    assert event.source == "checkout-lb"
    assert event.component == "AWS/ApplicationELB"
    assert event.class_ == "HTTPCode_Target_5XX_Count"


async def test_alarm_without_dimensions_uses_its_name_as_source() -> None:
    trigger = dict(sample_alarm()["Trigger"], Dimensions=[])
    event = await one(notification(alarm(Trigger=trigger)), settings=UNSIGNED)
    assert event.source == "prod-orders-db-high-cpu"


async def test_alarm_without_region_name_uses_the_region_code() -> None:
    event = await one(notification(alarm(Region=None)), settings=UNSIGNED)
    assert event.summary == 'ALARM: "prod-orders-db-high-cpu" in us-east-1'


async def test_subject_is_never_trusted_for_the_alarm_name() -> None:
    body = notification(alarm(), subject='ALARM: "something-else" in US East (N. Virginia)')
    event = await one(body, settings=UNSIGNED)
    assert event.summary == SUMMARY_ALARM


async def test_bad_state_change_time_falls_back_to_the_sns_timestamp() -> None:
    event = await one(notification(alarm(StateChangeTime="yesterday")), settings=UNSIGNED)
    assert event.timestamp == "2026-11-03T09:45:51.889Z"


async def test_long_alarm_name_is_truncated_and_hashed() -> None:
    name = "n" * 2000
    event = await one(notification(alarm(AlarmName=name, AlarmArn=None)), settings=UNSIGNED)
    assert event.summary is not None
    assert len(event.summary) == 1024
    assert event.summary.endswith("…")
    arn = f"arn:aws:cloudwatch:us-east-1:482917365014:alarm:{name}"
    assert event.dedup_key == hashlib.sha256(arn.encode()).hexdigest()


async def test_huge_alarm_drops_custom_details() -> None:
    body = notification(alarm(AlarmDescription="x" * 600_000))
    event = await one(body, settings=UNSIGNED)
    assert event.custom_details == cef.SIZE_ERROR_DETAILS
    assert event.dedup_key == ALARM_ARN


async def test_hostile_unicode_is_kept_exactly() -> None:
    name = "db\u202ecpu\u200b\u0000😀e\u0301"  # RTL override, zero-width, NUL, emoji, combining
    arn = f"arn:aws:cloudwatch:us-east-1:482917365014:alarm:{name}"
    event = await one(notification(alarm(AlarmName=name, AlarmArn=arn)), settings=UNSIGNED)
    assert event.dedup_key == arn
    assert event.summary == f'ALARM: "{name}" in US East (N. Virginia)'


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"AlarmName": None}, "'AlarmName' is missing or blank"),
        ({"AlarmName": "  "}, "'AlarmName' is missing or blank"),
        ({"AlarmName": 42}, "'AlarmName' is invalid (must be a string)"),
        ({"NewStateValue": None}, "'NewStateValue' is missing or blank"),
        (
            {"NewStateValue": "BROKEN"},
            "'NewStateValue' is invalid (must be one of: ALARM, OK, INSUFFICIENT_DATA)",
        ),
        ({"NewStateValue": ["ALARM"]}, "'NewStateValue' is invalid (must be a string)"),
        ({"AlarmArn": {"arn": 1}}, "'AlarmArn' is invalid (must be a string)"),
    ],
)
async def test_invalid_alarm_fields_are_refused(changes: dict[str, Any], error: str) -> None:
    assert error in await rejected(notification(alarm(**changes)), settings=UNSIGNED)


# -- Notifications that are not alarms (issue 15, item 4) ----------------------------------------

PLAIN = "Backup job 8c3f failed for arn:aws:rds:us-east-1:482917365014:db:orders\nReason: timeout"


async def test_signed_plain_text_notification_triggers(sns: FakeSnsTransport) -> None:
    body = sign(notification(PLAIN, subject="AWS Backup Notification", message_id="plain-1"))
    event = await one(body, settings=ALLOW)
    assert sns.certificate_requests == [OWN_CERT_URL]  # verified as any other notification
    assert event.event_action == "trigger"
    assert event.dedup_key == "plain-1"
    assert event.summary == "AWS Backup Notification"
    assert event.source == TOPIC
    assert event.severity == "critical"
    assert event.timestamp == "2026-11-03T09:45:51.889Z"
    assert event.component == "pagerduty-gateway-prod"
    assert event.group == "482917365014"
    assert event.client == "Amazon SNS"
    assert event.custom_details == {
        "message": PLAIN,
        "subject": "AWS Backup Notification",
        "sns_message_id": "plain-1",
        "topic_arn": TOPIC,
    }


async def test_tampered_plain_text_notification_is_still_refused() -> None:
    body = sign(notification(PLAIN))
    body["Message"] = PLAIN + " (forged)"
    assert await rejected(body) == ["SNS message signature is invalid"]


@pytest.mark.parametrize(
    ("message", "summary"),
    [
        (PLAIN, "Backup job 8c3f failed for arn:aws:rds:us-east-1:482917365014:db:orders"),
        # Blank lines are skipped; a CRLF line ending is not part of the line.
        ("\r\n   \nDisk almost full on db-1\r\nused: 97%", "Disk almost full on db-1"),
        ("x" * 3000, "x" * 1023 + "…"),
        ("ALARM: the database is on fire", "ALARM: the database is on fire"),
        ("   \n\t", "SNS notification on pagerduty-gateway-prod"),
    ],
)
async def test_notification_without_subject_is_summarised_by_its_first_line(
    message: str, summary: str
) -> None:
    event = await one(sign(notification(message, subject=None)))
    assert event.summary == summary
    assert event.custom_details["message"] == message
    assert "subject" not in event.custom_details


async def test_blank_subject_falls_back_to_the_first_line() -> None:
    event = await one(notification(PLAIN, subject=""), settings=UNSIGNED)
    assert event.summary == PLAIN.split("\n")[0]
    assert event.custom_details["subject"] == ""


async def test_plain_text_redelivery_stays_one_alert() -> None:
    body = sign(notification(PLAIN, message_id="plain-2"))
    first = await one(body)
    assert await parse(body) == []  # remembered: SNS's retry is acknowledged as a duplicate
    cloudwatch.deliveries.clear()  # forgotten (a restart): the same key, the same alert
    assert (await one(body)).dedup_key == first.dedup_key == "plain-2"
    other = await one(sign(notification(PLAIN, message_id="plain-3")))
    assert other.dedup_key == "plain-3"


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        ('{"hello": "world"}', {"hello": "world"}),
        ("[1, 2]", [1, 2]),
        # Not an object or an array: kept as the text that was sent.
        ('"a string"', '"a string"'),
        ("null", "null"),
        ("42", "42"),
        ("{truncated", "{truncated"),
    ],
)
async def test_json_message_that_is_not_an_alarm_triggers_with_it_in_details(
    message: str, kept: Any
) -> None:
    event = await one(sign(notification(message, subject=None)))
    assert event.event_action == "trigger"
    assert event.severity == "critical"
    assert event.summary == message
    assert event.custom_details["message"] == kept


async def test_other_eventbridge_event_through_sns_triggers() -> None:
    ec2 = {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "482917365014",
        "time": "2026-11-03T09:45:52Z",
        "region": "us-east-1",
        "resources": ["arn:aws:ec2:us-east-1:482917365014:instance/i-0abcd1234efgh5678"],
        "detail": {"instance-id": "i-0abcd1234efgh5678", "state": "terminated"},
    }
    event = await one(sign(notification(ec2, subject=None, message_id="ec2-1")))
    assert event.dedup_key == "ec2-1"
    assert event.source == TOPIC
    assert event.custom_details["message"] == ec2
    assert event.summary == json.dumps(ec2)


async def test_empty_message_is_refused() -> None:
    errors = await rejected(notification(""), settings=UNSIGNED)
    assert errors == ["'Message' is missing or blank"]


async def test_plain_text_notification_opens_an_incident(tmp_path: Path) -> None:
    config = f"""
[[services]]
name = "Orders"
  [[services.integrations]]
  name = "cw"
  vendor = "cloudwatch"
  integration_key = "{KEY}"
  sns_topic_allowlist = ["{TOPIC}"]
"""
    body = json.dumps(sign(notification(PLAIN, subject="AWS Backup Notification")))
    async with gateway_running(tmp_path, config) as gw:
        for _ in range(2):  # SNS's retry of the same message
            answer = await gw.client.post(
                gw.integration_url(KEY),
                content=body,
                headers={"content-type": "text/plain; charset=UTF-8"},
            )
            assert answer.status_code == 202, answer.text
        [incident] = await gw.incidents()
        assert incident.title == "AWS Backup Notification"
        assert incident.incident_key == "0b6f2c1e-1111-4d4d-9e9e-000000000001"
        assert await gw.count("alerts") == 1


# -- EventBridge ----------------------------------------------------------------------------------


async def test_eventbridge_alarm_triggers_with_the_same_dedup_key_as_sns(
    sns: FakeSnsTransport,
) -> None:
    via_sns = await one(sample("cloudwatch_sns_alarm_alarm.json"))
    event = await one(eventbridge(), headers={"content-type": "application/json"})
    assert event.event_action == "trigger"
    assert event.dedup_key == via_sns.dedup_key == ALARM_ARN
    assert event.severity == "critical"
    assert event.summary == 'ALARM: "prod-orders-db-high-cpu" in us-east-1'
    assert event.source == "orders-db-prod-1"
    assert event.timestamp == "2026-11-03T09:45:51.827Z"
    assert event.component == "AWS/RDS"
    assert event.class_ == "CPUUtilization"
    assert event.group == "482917365014"
    assert event.custom_details["detail"]["alarmName"] == "prod-orders-db-high-cpu"


@pytest.mark.parametrize(
    ("state", "action", "severity"),
    [("OK", "resolve", "info"), ("INSUFFICIENT_DATA", "trigger", "warning")],
)
async def test_eventbridge_states(state: str, action: str, severity: str) -> None:
    event = await one(eventbridge(state))
    assert event.event_action == action
    assert event.severity == severity
    assert event.dedup_key == ALARM_ARN
    assert event.summary == f'{state}: "prod-orders-db-high-cpu" in us-east-1'


async def test_eventbridge_insufficient_data_can_be_ignored() -> None:
    assert (
        await parse(eventbridge("INSUFFICIENT_DATA"), settings={"insufficient_data": "ignore"})
        == []
    )


async def test_eventbridge_configuration_change_is_ignored() -> None:
    assert (
        await parse(eventbridge(**{"detail-type": "CloudWatch Alarm Configuration Change"})) == []
    )


async def test_eventbridge_other_detail_type_is_refused() -> None:
    errors = await rejected(
        eventbridge(**{"detail-type": "EC2 Instance State-change Notification"})
    )
    assert errors == [
        "'detail-type' 'EC2 Instance State-change Notification' is not supported "
        "(must be 'CloudWatch Alarm State Change')"
    ]


async def test_eventbridge_without_resources_rebuilds_the_arn() -> None:
    event = await one(eventbridge(resources=[]))
    assert event.dedup_key == ALARM_ARN


async def test_eventbridge_composite_alarm_uses_its_name_as_source() -> None:
    body = eventbridge()
    body["detail"]["configuration"] = {"alarmRule": 'ALARM("a") OR ALARM("b")'}
    event = await one(body)
    assert event.source == "prod-orders-db-high-cpu"
    assert event.component is None


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"detail": None}, "'detail' is missing or blank"),
        ({"detail": {"state": {"value": "ALARM"}}}, "'detail.alarmName' is missing or blank"),
        ({"detail": {"alarmName": "x"}}, "'detail.state' is missing or blank"),
        (
            {"detail": {"alarmName": "x", "state": {"value": "ON_FIRE"}}},
            "'detail.state.value' is invalid (must be one of: ALARM, OK, INSUFFICIENT_DATA)",
        ),
        ({"detail-type": 7}, "'detail-type' is invalid (must be a string)"),
    ],
)
async def test_eventbridge_invalid_events_are_refused(changes: dict[str, Any], error: str) -> None:
    assert error in await rejected(eventbridge(**changes))


async def test_eventbridge_event_delivered_through_sns() -> None:
    body = sign(notification(eventbridge(), subject=None))
    event = await one(body)
    assert event.dedup_key == ALARM_ARN
    assert event.summary == 'ALARM: "prod-orders-db-high-cpu" in us-east-1'
    assert event.custom_details["topic_arn"] == TOPIC


# -- Raw delivery, malformed bodies, settings -----------------------------------------------------


async def test_raw_message_delivery_is_refused_while_verifying() -> None:
    headers = {"x-amz-sns-rawdelivery": "true", "x-amz-sns-topic-arn": TOPIC}
    errors = await rejected(sample_alarm(), headers=headers)
    assert errors[0].startswith("unsigned CloudWatch message refused")


async def test_bare_alarm_is_refused_while_verifying() -> None:
    errors = await rejected(sample_alarm())
    assert errors[0].startswith("unsigned CloudWatch message refused")


async def test_raw_message_delivery_is_accepted_without_verification() -> None:
    headers = {
        "x-amz-sns-rawdelivery": "true",
        "x-amz-sns-topic-arn": TOPIC,
        "x-amz-sns-message-id": "raw-1",
    }
    event = await one(alarm(AlarmArn=None), headers=headers, settings=UNSIGNED)
    assert event.dedup_key == ALARM_ARN
    assert event.custom_details["sns_message_id"] == "raw-1"
    errors = await rejected(
        sample_alarm(),
        headers={**headers, "x-amz-sns-topic-arn": OTHER_TOPIC},
        settings={**UNSIGNED, **ALLOW},
    )
    assert errors == ["x-amz-sns-topic-arn is not in this integration's allow-list"]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b'{"Type": "Notification"',
        b"[]",
        b'"Notification"',
        b"\xff\xfe{}",
        b'{"a": "\\ud800"}',
        b"[" * 5000 + b"]" * 5000,
        b"Type=Notification",
    ],
)
async def test_malformed_body_is_unrecognized(body: bytes) -> None:
    with pytest.raises(UnrecognizedEvent):
        await cloudwatch.VENDOR.parse(request(body))


async def test_unknown_json_object_is_invalid() -> None:
    errors = await rejected({"hello": "world"}, settings=UNSIGNED)
    assert errors == [
        "Message is not a CloudWatch alarm (no AlarmName/NewStateValue and no detail-type)"
    ]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        (
            {"Type": "Announcement"},
            "'Type' is invalid (must be one of: Notification, SubscriptionConfirmation, "
            "UnsubscribeConfirmation)",
        ),
        ({"MessageId": 12345}, "'MessageId' is invalid (must be a string)"),
        ({"TopicArn": None}, "'TopicArn' is missing or blank"),
        (
            {"TopicArn": "arn:aws:sqs:us-east-1:1:x"},
            "'TopicArn' is invalid (must be an SNS topic ARN)",
        ),
        ({"Message": {"AlarmName": "x"}}, "'Message' is invalid (must be a string)"),
        ({"Subject": ["x"]}, "'Subject' is invalid (must be a string)"),
        ({"Timestamp": None}, "'Timestamp' is missing or blank"),
    ],
)
async def test_invalid_envelopes_are_refused(changes: dict[str, Any], error: str) -> None:
    body = notification(alarm())
    for name, value in changes.items():
        if value is None:
            del body[name]
        else:
            body[name] = value
    assert error in await rejected(body, settings=UNSIGNED)


async def test_request_without_integration_key_is_refused() -> None:
    errors = await rejected(sample("cloudwatch_sns_alarm_alarm.json"), key=None)
    assert errors == ["CloudWatch events must be sent to /integration/{integration_key}/enqueue"]


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        (
            {"sns_topic_allowlist": [1]},
            "integration setting 'sns_topic_allowlist' is invalid (must be a list of topic ARNs)",
        ),
        (
            {"insufficient_data": "resolve"},
            "integration setting 'insufficient_data' is invalid (must be one of 'trigger', "
            "'ignore')",
        ),
        (
            {"verify_signature": "no"},
            "integration setting 'verify_signature' is invalid (must be true or false)",
        ),
        (
            {"max_message_age_seconds": -1},
            "integration setting 'max_message_age_seconds' is invalid (must be a number >= 0)",
        ),
    ],
)
async def test_invalid_settings_are_reported(settings: dict[str, Any], error: str) -> None:
    assert await rejected(sample("cloudwatch_sns_alarm_alarm.json"), settings=settings) == [error]
    assert cloudwatch.check_settings(settings) == [error]


def test_check_settings_reports_unknown_keys_and_accepts_a_single_arn() -> None:
    assert cloudwatch.check_settings({"sns_topic_allowlist": TOPIC, "verify_signature": True}) == []
    assert cloudwatch.check_settings({"sns_topics": [TOPIC]})[0].startswith(
        "integration setting 'sns_topics' is unknown"
    )


def test_vendor_registration() -> None:
    [vendor] = cloudwatch.register_vendors()
    assert vendor.id == "PZQ6AUS"
    assert vendor.integration_type == "aws_cloudwatch_inbound_integration"
    assert "cloudwatch" in vendor.aliases
    assert vendor.paths == ()
    assert vendor.check_settings is cloudwatch.check_settings
    assert load_plugins().vendor("PZQ6AUS") is cloudwatch.VENDOR


# -- The real transport, against httpx's mock network ---------------------------------------------


def http_transport(handler: Any) -> _sns.HttpxSnsTransport:
    """The real transport with httpx's network replaced by ``handler``."""
    return _sns.HttpxSnsTransport(http_transport=httpx.MockTransport(handler))


async def test_real_transport_fetches_a_certificate() -> None:
    seen: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(str(req.url))
        return httpx.Response(200, content=b"PEM")

    assert await http_transport(handler).fetch_certificate(OWN_CERT_URL) == b"PEM"
    assert seen == [OWN_CERT_URL]


@pytest.mark.parametrize(
    ("status", "transient"), [(404, False), (403, False), (301, False), (429, True), (503, True)]
)
async def test_real_transport_classifies_failures(status: int, transient: bool) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"location": "https://evil.example/x.pem"})

    with pytest.raises(_sns.SnsTransportError) as info:
        await http_transport(handler).fetch_certificate(OWN_CERT_URL)
    assert info.value.transient is transient


async def test_real_transport_network_error_is_transient() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=req)

    with pytest.raises(_sns.SnsTransportError) as info:
        await http_transport(handler).fetch_certificate(OWN_CERT_URL)
    assert info.value.transient is True


async def test_real_transport_refuses_oversized_answers() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 100_000)

    with pytest.raises(_sns.SnsTransportError) as info:
        await http_transport(handler).fetch_certificate(OWN_CERT_URL)
    assert str(info.value) == "response too large"


async def test_real_transport_confirms_and_reads_the_subscription_arn() -> None:
    answer = (
        "<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>"
        f"{TOPIC}:abc</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>"
    )
    seen: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.method)
        return httpx.Response(200, text=answer)

    assert await http_transport(handler).confirm(SUBSCRIBE_URL) == f"{TOPIC}:abc"
    assert seen == ["GET"]

    def no_arn(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>hello</html>")

    with pytest.raises(_sns.SnsTransportError):
        await http_transport(no_arn).confirm(SUBSCRIBE_URL)


# -- No fetch before the allow-list and the region check (issue 14, item 8) -----------------------

INVENTED_REGION_URL = "https://sns.us-east-4x.amazonaws.com/x.pem"


async def test_forged_message_off_the_allowlist_is_refused_before_any_fetch(
    sns: FakeSnsTransport,
) -> None:
    body = sign(notification(alarm(), topic=OTHER_TOPIC), url=INVENTED_REGION_URL)
    errors = await rejected(body, settings=ALLOW)
    assert errors == [f"TopicArn {OTHER_TOPIC} is not in this integration's allow-list"]
    assert sns.certificate_requests == []


@pytest.mark.parametrize(
    ("topic", "url", "error"),
    [
        (TOPIC, INVENTED_REGION_URL, "must be on sns.us-east-1.amazonaws.com"),
        (
            TOPIC,
            "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem",
            "must be on sns.us-east-1.amazonaws.com",
        ),
        (
            TOPIC,
            "https://sns.us-east-1.amazonaws.com.cn/SimpleNotificationService-x.pem",
            "must be on sns.us-east-1.amazonaws.com,",
        ),
        (
            "arn:aws-cn:sns:cn-north-1:482917365014:alarms",
            "https://sns.cn-north-1.amazonaws.com/SimpleNotificationService-x.pem",
            "must be on sns.cn-north-1.amazonaws.com.cn",
        ),
        (
            "arn:aws:sns:us-east-4x:482917365014:alarms",
            INVENTED_REGION_URL,
            "'TopicArn' is invalid (its region is not an AWS region",
        ),
        (
            "arn:aws:sns:cn-north-1:482917365014:alarms",  # a China region in the aws partition
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem",
            "'TopicArn' is invalid (its region is not an AWS region",
        ),
        (
            "arn:aws-iso:sns:us-iso-east-1:482917365014:alarms",
            "https://sns.us-iso-east-1.amazonaws.com/SimpleNotificationService-x.pem",
            "'TopicArn' is invalid (its region is not an AWS region",
        ),
    ],
)
async def test_certificate_url_outside_the_topics_region_is_refused_before_any_fetch(
    topic: str, url: str, error: str, sns: FakeSnsTransport
) -> None:
    sns.certificates[url] = signing_key()[1]  # served if asked: only the check may refuse
    errors = await rejected(sign(notification(alarm(), topic=topic), url=url))
    assert len(errors) == 1
    assert error in errors[0]
    assert sns.certificate_requests == []


class SlowSnsTransport(FakeSnsTransport):
    """A fake whose certificate fetches take a second, as a dead host's would."""

    async def fetch_certificate(self, url: str) -> bytes:
        """Wait a second, then answer (and record the fetch) as the fake does."""
        await trio.sleep(1)
        return await super().fetch_certificate(url)


async def test_a_flood_naming_one_unreachable_certificate_makes_one_fetch(
    autojump_clock: MockClock,
) -> None:
    slow = SlowSnsTransport(new_transport().certificates)
    slow.fetch_error = _sns.SnsTransportError("ConnectError", transient=True)
    _sns.transport = slow  # the fixture puts the usual fake back afterwards
    url = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-unreachable.pem"
    answers: list[str] = []

    async def forged(i: int) -> None:
        body = sign(notification(alarm(), message_id=f"flood-{i}"), url=url)
        with pytest.raises(_sns.SnsUnavailable) as info:
            await cloudwatch.VENDOR.parse(request(body))
        answers.append(str(info.value))

    async with trio.open_nursery() as nursery:
        for i in range(50):
            nursery.start_soon(forged, i)
    assert slow.certificate_requests == [url]
    assert (
        answers
        == ["the SNS signing certificate could not be fetched (ConnectError); retry later"] * 50
    )
    # Later messages within FAILED_FETCH_SECONDS are answered from memory too.
    await forged(50)
    assert slow.certificate_requests == [url]
    await trio.sleep(_sns.FAILED_FETCH_SECONDS)
    await forged(51)
    assert slow.certificate_requests == [url, url]


async def test_unfetchable_certificate_answers_503_saying_so(
    tmp_path: Path, sns: FakeSnsTransport
) -> None:
    sns.fetch_error = _sns.SnsTransportError("ConnectTimeout", transient=True)
    config = f"""
[[services]]
name = "Orders"
  [[services.integrations]]
  name = "cw"
  vendor = "cloudwatch"
  integration_key = "{KEY}"
"""
    async with gateway_running(tmp_path, config) as gw:
        answer = await gw.client.post(
            gw.integration_url(KEY),
            content=json.dumps(sign(notification(alarm()))),
            headers={"content-type": "text/plain; charset=UTF-8"},
        )
        assert answer.status_code == 503, answer.text
        assert answer.json()["status"] == "unavailable"
        assert answer.json()["errors"] == [
            "the SNS signing certificate could not be fetched (ConnectTimeout); retry later"
        ]
        assert await gw.count("alerts") == 0


# -- A redelivery while the first copy is being stored (issue 14, item 9) -------------------------


async def test_redelivery_waits_for_the_first_copy_and_is_a_duplicate_once_it_is_stored() -> None:
    body = sign(notification(alarm(), message_id="m-inflight-1"))
    first, second = request(body), request(body)
    assert len(await cloudwatch.VENDOR.parse(first)) == 1  # parsed; its commit is under way
    answers: list[list[Event]] = []

    async def redelivery() -> None:
        answers.append(await cloudwatch.VENDOR.parse(second))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(redelivery)
        await trio.testing.wait_all_tasks_blocked()
        assert answers == []  # no answer while the first copy may still fail
        cloudwatch.after_request(first, True)
    assert answers == [[]]  # acknowledged as a duplicate: the first copy is on disk
    cloudwatch.after_request(second, True)
    assert (KEY, TOPIC, "m-inflight-1") in cloudwatch.seen_messages


async def test_redelivery_is_processed_itself_when_the_first_copy_was_not_stored() -> None:
    body = sign(notification(alarm(), message_id="m-inflight-2"))
    first, second = request(body), request(body)
    assert len(await cloudwatch.VENDOR.parse(first)) == 1
    answers: list[list[Event]] = []

    async def redelivery() -> None:
        answers.append(await cloudwatch.VENDOR.parse(second))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(redelivery)
        await trio.testing.wait_all_tasks_blocked()
        assert answers == []
        cloudwatch.after_request(first, False)  # the first copy's commit failed
    assert [len(events) for events in answers] == [1]  # so this copy carries the event
    assert (KEY, TOPIC, "m-inflight-2") not in cloudwatch.seen_messages  # not stored yet
    cloudwatch.after_request(second, True)
    assert await parse(body) == []


async def test_redelivery_waits_at_most_a_while_then_asks_for_a_retry(
    autojump_clock: MockClock,
) -> None:
    body = sign(notification(alarm(), message_id="m-inflight-3"))
    first = request(body)
    await cloudwatch.VENDOR.parse(first)
    started = trio.current_time()
    second = request(body)
    with pytest.raises(RetryLater) as info:
        await cloudwatch.VENDOR.parse(second)
    assert trio.current_time() - started == pytest.approx(in_flight.WAIT_SECONDS)
    assert str(info.value) == (
        "an earlier copy of this SNS message is still being stored; retry later"
    )
    cloudwatch.after_request(second, False)  # settles nothing: the claim is the first's
    cloudwatch.after_request(first, True)
    assert await parse(body) == []


async def test_a_claim_whose_request_never_ended_is_taken_over(mock_clock: MockClock) -> None:
    body = sign(notification(alarm(), message_id="m-inflight-4"))
    await cloudwatch.VENDOR.parse(request(body))  # and no after_request: a lost request
    mock_clock.jump(in_flight.ABANDONED_SECONDS + 1)
    assert len(await parse(body)) == 1


async def test_a_cancelled_copy_leaves_no_claim_behind(sns: FakeSnsTransport) -> None:
    class HangingConfirm(FakeSnsTransport):
        async def confirm(self, url: str) -> str:
            """Never answer (until cancelled)."""
            await trio.sleep_forever()
            raise AssertionError("unreachable")

    _sns.transport = HangingConfirm(sns.certificates)
    body = sign(confirmation())
    with trio.move_on_after(0.05):
        await cloudwatch.VENDOR.parse(request(body, settings=ALLOW))
    assert len(cloudwatch.deliveries) == 0
    _sns.transport = sns
    # SNS's redelivery is processed at once (no wait, no "duplicate"): it confirms.
    with trio.fail_after(1):
        assert await parse(body, settings=ALLOW) == []
    assert sns.confirm_requests == [SUBSCRIBE_URL]


def cloudwatch_config(**settings: Any) -> str:
    """A gateway configuration with one CloudWatch integration (key ``KEY``)."""
    lines = "".join(f"  {name} = {json.dumps(value)}\n" for name, value in settings.items())
    return f"""
[[services]]
name = "Orders"
  [[services.integrations]]
  name = "cw"
  vendor = "cloudwatch"
  integration_key = "{KEY}"
{lines}"""


@asynccontextmanager
async def writer_held(gw: Any, nursery: trio.Nursery, *, then_fail: bool) -> AsyncIterator[None]:
    """Hold the store's writer thread in a job until the block ends.

    With ``then_fail``, the held job turns the connection read-only first, so
    every commit queued behind it fails as on a disk that refuses writes (the
    way tests/test_faults.py does).
    """
    entered, gate = threading.Event(), threading.Event()

    def hold(tx: Any) -> None:
        if then_fail:
            tx.conn.execute("PRAGMA query_only = ON").fetchone()
        entered.set()
        gate.wait(30)

    nursery.start_soon(gw.store.write, hold)
    await trio.to_thread.run_sync(entered.wait, 30)
    try:
        yield
    finally:
        gate.set()


async def post_in_background(
    gw: Any, nursery: trio.Nursery, body: dict[str, Any]
) -> list[httpx.Response]:
    """POST ``body`` to the integration from a task; the answer lands in the list returned."""
    answers: list[httpx.Response] = []

    async def post() -> None:
        answers.append(
            await gw.client.post(
                gw.integration_url(KEY),
                content=json.dumps(body),
                headers={"content-type": "text/plain; charset=UTF-8"},
            )
        )

    nursery.start_soon(post)
    return answers


async def wait_until(condition: Any, seconds: float) -> None:
    """Poll ``condition`` every 10 ms until it holds or ``seconds`` have passed."""
    with trio.move_on_after(seconds):
        while not condition():
            await trio.sleep(0.01)


@pytest.mark.sqlite_only("SQLite's PRAGMA query_only stands in for a read-only disk")
async def test_redelivery_while_the_first_write_fails_is_not_acknowledged_without_a_stored_event(
    tmp_path: Path, sns: FakeSnsTransport
) -> None:
    body = sign(notification(alarm(), message_id="m-http-1"))
    async with gateway_running(tmp_path, cloudwatch_config()) as gw, trio.open_nursery() as n:
        async with writer_held(gw, n, then_fail=True):
            first = await post_in_background(gw, n, body)
            await wait_until(lambda: sns.certificate_requests, 10)  # parsed, now committing
            second = await post_in_background(gw, n, body)  # SNS's retry: same MessageId
            await wait_until(lambda: second, 1)
        await wait_until(lambda: first and second, 15)
        assert first[0].status_code == 503, first[0].text
        stored = await gw.count("alerts")
        # The promise: an acknowledged copy is on disk. Here the store refuses writes,
        # so the second copy must be refused as retryable too.
        assert (second[0].status_code, stored) == (503, 0), second[0].text
        assert second[0].json()["status"] == "unavailable"
        gw.store._writer._conn.execute("PRAGMA query_only = OFF")  # the disk is back
        third = await post_in_background(gw, n, body)  # SNS retries again
        await wait_until(lambda: third, 10)
        assert third[0].status_code == 202, third[0].text
        assert await gw.count("alerts") == 1


async def test_redelivery_while_the_first_write_succeeds_is_answered_after_it(
    tmp_path: Path, sns: FakeSnsTransport
) -> None:
    body = sign(notification(alarm(), message_id="m-http-2"))
    async with gateway_running(tmp_path, cloudwatch_config()) as gw, trio.open_nursery() as n:
        async with writer_held(gw, n, then_fail=False):
            first = await post_in_background(gw, n, body)
            await wait_until(lambda: sns.certificate_requests, 10)
            second = await post_in_background(gw, n, body)
            await wait_until(lambda: second, 1)
            assert second == [], "answered before the first copy was stored"
        await wait_until(lambda: first and second, 15)
        assert [first[0].status_code, second[0].status_code] == [202, 202]
        assert await gw.count("alerts") == 1  # the duplicate was not stored again


def test_a_claim_made_under_another_event_loop_is_taken_over() -> None:
    # A gateway run that ended (in tests: an earlier trio.run) never settles its claims.
    body = notification(alarm(), message_id="m-inflight-5")
    unsigned = {"verify_signature": False}

    async def parse_within_a_second() -> list[Event]:
        with trio.fail_after(1):  # not WAIT_SECONDS for a copy that can never settle
            return await cloudwatch.VENDOR.parse(request(body, settings=unsigned))

    assert len(trio.run(parse_within_a_second)) == 1
    assert len(trio.run(parse_within_a_second)) == 1


async def test_a_flood_naming_many_certificate_urls_on_one_host_is_held_to_a_budget(
    autojump_clock: MockClock, sns: FakeSnsTransport
) -> None:
    # Each forged message names its own path on the right region's host: remembering
    # failed URLs cannot help, so the host's budget of new URLs must.
    genuine = sign(notification(alarm(), message_id="genuine"), url=OWN_CERT_URL)
    assert (await one(genuine)).event_action == "trigger"  # its certificate is now in memory
    answers: list[str] = []
    for i in range(20):
        url = f"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-forged{i}.pem"
        body = sign(notification(alarm(), message_id=f"paths-{i}"), url=url)
        try:
            await cloudwatch.VENDOR.parse(request(body))
        except (_sns.SnsUnavailable, InvalidEvent) as exc:
            answers.append(type(exc).__name__)
    assert len(sns.certificate_requests) == _sns.NEW_URLS_PER_HOST
    assert answers.count("SnsUnavailable") == 20 - (_sns.NEW_URLS_PER_HOST - 1)
    # A certificate already in memory needs no budget: genuine messages still pass.
    again = sign(notification(alarm(), message_id="genuine-2"), url=OWN_CERT_URL)
    assert (await one(again)).event_action == "trigger"
    # The window passes: new URLs may be fetched again.
    await trio.sleep(_sns.NEW_URL_WINDOW_SECONDS)
    url = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-later.pem"
    with pytest.raises(InvalidEvent):
        await cloudwatch.VENDOR.parse(request(sign(notification(alarm()), url=url)))
    assert sns.certificate_requests[-1] == url

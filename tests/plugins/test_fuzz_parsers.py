"""Property tests: every vendor parser, fed anything, returns valid events or one of two errors.

The contract: for any body, ``parse`` returns a list of events that pass
:func:`gateway.cef.validate` and fit in 512 KB, or raises
:class:`~gateway.errors.UnrecognizedEvent` or
:class:`~gateway.errors.InvalidEvent`. Any other exception fails the test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import msgspec
import pytest
import trio
from alert_gateway_plugins import alertmanager, cloudwatch, datadog, nagios
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import cef
from gateway.errors import InvalidEvent, UnrecognizedEvent
from gateway.model import MAX_EVENT_BYTES, Event, InboundRequest, Vendor
from tests.plugins.test_cloudwatch import (
    OWN_CERT_URL,
    SUBSCRIBE_URL,
    TOPIC,
    eventbridge,
    fake_transport,
    sample_alarm,
    sign,
)
from tests.support import SAMPLES

pytestmark = pytest.mark.slow  # hypothesis fuzzing: make test-fast skips it

KEY = "f022f022f022f022f022f022f022f022"
# What a signing-certificate URL must look like (AWS's host pattern), stated independently.
GENUINE_CERT_URL = re.compile(
    r"https://sns\.[a-zA-Z0-9-]{3,}\.amazonaws\.com(\.cn)?/[A-Za-z0-9._/-]+\.pem", re.ASCII
)
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))

# Characters that break naive code: bidi overrides, zero-width, NUL, BOM, non-characters,
# combining marks, astral plane, line separators, and JSON/form metacharacters.
HOSTILE = [
    "\u202e", "\u200b", "\u200d", "\x00", "\ufeff", "\uffff", "\u0301", "😀", "\u2028",
    "\U0010ffff", "\\", '"', "%", "&", "=", "+", "\n", "\r", "…", "İ", "ß",
]  # fmt: skip
texts = st.text(alphabet=st.sampled_from(HOSTILE) | st.characters(codec="utf-8"), max_size=24)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=10,
)


def outcome(vendor: Vendor, request: InboundRequest) -> list[Event] | None:
    """Run ``parse``; the events, or ``None`` for one of the two allowed errors."""
    try:
        events = trio.run(vendor.parse, request)
    except (InvalidEvent, UnrecognizedEvent) as exc:
        assert exc.errors, "an error must say what is wrong"
        assert all(isinstance(e, str) and e for e in exc.errors)
        return None
    assert isinstance(events, list)
    for event in events:
        assert isinstance(event, Event)
        assert cef.validate(event) == []
        assert len(msgspec.json.encode(event)) <= MAX_EVENT_BYTES
    return events


def make_request(
    body: bytes, *, key: str | None = KEY, settings: dict[str, Any] | None = None, **headers: str
) -> InboundRequest:
    """A request with ``body`` for the key URL (or Nagios's path when ``key`` is None)."""
    return InboundRequest(
        method="POST",
        path=f"/integration/{key}/enqueue" if key else nagios.PATH,
        headers={k.replace("_", "-"): v for k, v in headers.items()},
        body=body,
        integration_key=key,
        settings=settings or {},
    )


def mutate(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with some fields replaced by random JSON, some removed, some added."""
    names = sorted(base)
    return st.tuples(
        st.dictionaries(st.sampled_from(names), json_values, max_size=len(names)),
        st.lists(st.sampled_from(names), max_size=3),
        st.dictionaries(texts, json_values, max_size=2),
    ).map(
        lambda parts: {
            **{k: v for k, v in base.items() if k not in parts[1]},
            **parts[0],
            **parts[2],
        }
    )


def encoded(values: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """JSON-encode generated values."""
    return values.map(lambda v: json.dumps(v).encode())


def nagios_request(body: bytes) -> InboundRequest:
    """A POST to PagerDuty's Nagios path (the key travels in the form)."""
    return make_request(body, key=None)


def all_vendors() -> list[tuple[Vendor, Callable[[bytes], InboundRequest]]]:
    """Every vendor with a request builder for a raw body."""
    return [
        (cloudwatch.VENDOR, make_request),
        (datadog.VENDOR, make_request),
        (nagios.VENDOR, nagios_request),
        (alertmanager.VENDOR, make_request),
    ]


# -- Any vendor, any bytes ------------------------------------------------------------------------


@FUZZ
@given(body=st.binary(max_size=4096) | encoded(json_values) | texts.map(str.encode))
def test_any_parser_survives_random_bodies(body: bytes) -> None:
    with fake_transport():
        for vendor, build in all_vendors():
            outcome(vendor, build(body))


@FEW
@given(size=st.integers(min_value=520_000, max_value=900_000), char=st.sampled_from(HOSTILE))
def test_any_parser_survives_huge_bodies(size: int, char: str) -> None:
    filler = char * (size // len(char.encode()))
    datadog_body = dict(json.loads((SAMPLES / "datadog_webhook_triggered.json").read_text()))
    datadog_body["body"] = filler
    assert outcome(datadog.VENDOR, make_request(json.dumps(datadog_body).encode()))
    form = (
        (SAMPLES / "nagios_service_problem.form").read_bytes()
        + b"&"
        + urlencode({"LONGSERVICEOUTPUT": filler}).encode()
    )
    assert outcome(nagios.VENDOR, make_request(form, key=None))
    unsigned = {"verify_signature": False}
    envelope = {
        "Type": "Notification",
        "MessageId": "m",
        "TopicArn": TOPIC,
        "Timestamp": "2026-11-03T09:45:51.889Z",
        "Message": json.dumps(dict(sample_alarm(), AlarmDescription=filler)),
    }
    with fake_transport():
        assert outcome(
            cloudwatch.VENDOR, make_request(json.dumps(envelope).encode(), settings=unsigned)
        )
    with fake_transport():
        # Huge garbage is refused, not crashed on.
        for vendor, build in all_vendors():
            outcome(vendor, build(filler.encode()))


# -- CloudWatch -----------------------------------------------------------------------------------


def envelope_with(message: Any) -> dict[str, Any]:
    """A Notification envelope around ``message`` (JSON-encoded unless it is text)."""
    return {
        "Type": "Notification",
        "MessageId": "fuzz-message",
        "TopicArn": TOPIC,
        "Subject": "ALARM",
        "Timestamp": "2026-11-03T09:45:51.889Z",
        "Message": message if isinstance(message, str) else json.dumps(message),
    }


alarm_messages = mutate(sample_alarm()) | mutate(eventbridge()) | json_values
cloudwatch_settings = st.fixed_dictionaries(
    {},
    optional={
        "verify_signature": st.booleans() | json_values,
        "insufficient_data": st.sampled_from(["trigger", "ignore"]) | texts,
        "sns_topic_allowlist": st.just([TOPIC]) | json_values,
        "allow_signature_version_1": st.booleans(),
        "max_message_age_seconds": scalars,
    },
)


@FUZZ
@given(message=alarm_messages, settings_=cloudwatch_settings)
def test_cloudwatch_survives_unsigned_alarm_messages(
    message: Any, settings_: dict[str, Any]
) -> None:
    with fake_transport() as fake:
        body = json.dumps(envelope_with(message)).encode()
        outcome(
            cloudwatch.VENDOR, make_request(body, settings={**settings_, "verify_signature": False})
        )
        outcome(cloudwatch.VENDOR, make_request(body, settings=settings_))
        assert fake.confirm_requests == []


@FUZZ
@given(message=alarm_messages, version=st.sampled_from(["1", "2"]))
def test_cloudwatch_survives_signed_alarm_messages(message: Any, version: str) -> None:
    with fake_transport() as fake:
        body = json.dumps(sign(envelope_with(message), version=version)).encode()
        outcome(cloudwatch.VENDOR, make_request(body))
        assert set(fake.certificate_requests) <= {OWN_CERT_URL}


@FUZZ
@given(
    body=mutate(json.loads((SAMPLES / "cloudwatch_sns_alarm_alarm.json").read_text()))
    | mutate(sign(envelope_with(sample_alarm())))
    | mutate(
        sign(
            {
                "Type": "SubscriptionConfirmation",
                "MessageId": "sub",
                "Token": "2336412f37fb687f5d51e6e2425a8a58",
                "TopicArn": TOPIC,
                "Message": "subscribe",
                "SubscribeURL": SUBSCRIBE_URL,
                "Timestamp": "2026-11-03T09:00:00.000Z",
            }
        )
    )
    | mutate(eventbridge()),
    settings_=cloudwatch_settings,
    raw=st.booleans(),
)
def test_cloudwatch_survives_mutated_envelopes(
    body: dict[str, Any], settings_: dict[str, Any], raw: bool
) -> None:
    headers = {"x_amz_sns_rawdelivery": "true"} if raw else {}
    with fake_transport() as fake:
        outcome(
            cloudwatch.VENDOR,
            make_request(json.dumps(body).encode(), settings=settings_, **headers),
        )
        # Whatever arrived, the gateway only ever fetched genuine SNS URLs.
        assert all(GENUINE_CERT_URL.fullmatch(url) for url in fake.certificate_requests)
        assert set(fake.confirm_requests) <= {SUBSCRIBE_URL}


# -- Datadog --------------------------------------------------------------------------------------


datadog_sample = json.loads((SAMPLES / "datadog_webhook_triggered.json").read_text())


@FUZZ
@given(
    body=mutate(datadog_sample)
    | st.dictionaries(st.sampled_from(sorted(datadog_sample)), json_values),
    no_data=st.sampled_from(["warning", "critical", "info"]) | json_values,
)
def test_datadog_survives_mutated_payloads(body: dict[str, Any], no_data: Any) -> None:
    request = make_request(json.dumps(body).encode(), settings={"no_data_severity": no_data})
    events = outcome(datadog.VENDOR, request)
    if events:
        assert events[0].dedup_key is not None
        assert events[0].dedup_key.startswith("datadog:") or len(events[0].dedup_key) == 64


# -- Nagios ---------------------------------------------------------------------------------------


NAGIOS_FIELDS = [
    "NOTIFICATIONTYPE",
    "HOSTNAME",
    "HOSTSTATE",
    "SERVICEDESC",
    "SERVICESTATE",
    "CONTACTPAGER",
    "pd_nagios_object",
    "TIMET",
    "HOSTGROUPNAME",
    "SERVICENOTESURL",
]
nagios_values = {
    "NOTIFICATIONTYPE": st.sampled_from(
        ["PROBLEM", "RECOVERY", "ACKNOWLEDGEMENT", "DOWNTIMESTART", "CUSTOM"]
    ),
    "CONTACTPAGER": st.sampled_from([KEY, "short", ""]),
    "pd_nagios_object": st.sampled_from(["host", "service", "", "router"]),
}
nagios_forms = st.fixed_dictionaries(
    {},
    optional={name: nagios_values.get(name, st.nothing()) | texts for name in NAGIOS_FIELDS},
).flatmap(
    lambda form: st.dictionaries(texts, texts, max_size=5).map(lambda extra: {**extra, **form})
)


@FUZZ
@given(form=nagios_forms, url_key=st.booleans())
def test_nagios_survives_random_forms(form: dict[str, str], url_key: bool) -> None:
    body = urlencode(form).encode()
    events = outcome(nagios.VENDOR, make_request(body, key=KEY if url_key else None))
    for event in events or []:
        # The integration key is a secret: never in custom_details.
        assert "CONTACTPAGER" not in event.custom_details
        assert event.routing_key not in event.custom_details.values()


@FUZZ
@given(raw=st.binary(max_size=2048), prefix=st.sampled_from([b"", b"NOTIFICATIONTYPE=PROBLEM&"]))
def test_nagios_survives_random_bytes_in_forms(raw: bytes, prefix: bytes) -> None:
    sample = (SAMPLES / "nagios_service_problem.form").read_bytes()
    outcome(nagios.VENDOR, make_request(prefix + raw + b"&" + sample, key=None))
    outcome(nagios.VENDOR, make_request(prefix + raw, key=None))


# -- Alertmanager ---------------------------------------------------------------------------------


label_sets = st.dictionaries(
    st.sampled_from(["alertname", "severity", "instance", "cluster", "job"]) | texts,
    texts,
    max_size=5,
)
alerts = st.fixed_dictionaries(
    {"status": st.sampled_from(["firing", "resolved"]), "labels": label_sets},
    optional={
        "startsAt": st.sampled_from(
            ["2026-11-03T09:44:12.113Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00"]
        )
        | texts,
        "generatorURL": texts | st.just("https://prometheus.example/graph"),
        "annotations": st.dictionaries(texts, texts, max_size=3),
    },
)
webhooks = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved"]),
        "groupKey": texts.filter(bool),
        "alerts": st.lists(alerts, max_size=5),
    },
    optional={
        "version": st.just("4"),
        "receiver": texts,
        "groupLabels": label_sets,
        "commonLabels": label_sets,
        "externalURL": texts | st.just("https://am.example"),
        "truncatedAlerts": st.integers(min_value=0, max_value=10**6),
    },
)


@FUZZ
@given(body=webhooks | webhooks.flatmap(mutate))
def test_alertmanager_survives_random_notifications(body: dict[str, Any]) -> None:
    events = outcome(alertmanager.VENDOR, make_request(json.dumps(body).encode()))
    if events and isinstance(body.get("groupKey"), str):
        assert events[0].dedup_key == alertmanager.group_key_hash(body["groupKey"])

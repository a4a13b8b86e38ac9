"""End to end over HTTP: every vendor's samples, malformed bodies and random bodies.

Each case goes through a real gateway (in-process for the lifecycles and the
malformed bodies, the daemon in a subprocess for the property test) and is
checked against what the store holds afterwards: the stored event's
``event_action``, ``dedup_key``, ``severity``, ``summary`` and ``source``
exactly, the incident's status, and — for every refused body — that not one
row was written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from alert_gateway_plugins import cloudwatch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.domain import Alert, Incident, LogEntry
from gateway.model import MAX_EVENT_BYTES
from tests.plugins.test_alertmanager import GROUP_KEY, firing_alert, native, webhook
from tests.scaffold import (
    SAMPLES,
    TestGateway,
    config,
    daemon_running,
    events_v1,
    events_v2,
    gateway_running,
    key,
    service,
    v2,
    vendor_integration,
)

CW_KEYS = {
    "/integration/{key}/enqueue": key("cw-integration"),
    "/x-ere/{key}": key("cw-x-ere"),
    "/adapter/cloudwatch_sns/v1/{key}": key("cw-adapter"),
}
CW_BAD = key("cw-bad")
DATADOG = key("datadog")
NAGIOS = key("nagios")
ALERTMANAGER = key("alertmanager")
EVENTS_V2 = key("events-v2")
EVENTS_V1 = key("events-v1")
UNKNOWN = key("nobody-has-this")
NAGIOS_PATH = "/nagios/2010-04-15/create_event"
NAGIOS_SAMPLE_KEY = "3f8c1a9e52d04b7fa6e2c71d0b94e5aa"  # CONTACTPAGER in the samples
ALARM = "cloudwatch_sns_alarm_alarm.json"
ALARM_ARN = "arn:aws:cloudwatch:us-east-1:482917365014:alarm:prod-orders-db-high-cpu"
DATADOG_KEY = "datadog:7845201937645203385"
NAGIOS_KEY = "event_source=service;host_name=web-03;service_desc=HTTPS"
ALERTMANAGER_KEY = hashlib.sha256(GROUP_KEY.encode()).hexdigest()
TABLES = ("incidents", "alerts", "log_entries", "change_events")
JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
SNS = {"content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"}


CONFIG = config(
    service(
        "Checkout",
        *(
            vendor_integration(f"cw {i}", "cloudwatch", k, verify_signature=False)
            for i, k in enumerate([*CW_KEYS.values(), CW_BAD])
        ),
        vendor_integration("datadog", "datadog", DATADOG),
        vendor_integration("nagios", "nagios", NAGIOS),
        vendor_integration("alertmanager", "alertmanager", ALERTMANAGER),
        events_v2(EVENTS_V2),
        events_v1(EVENTS_V1),
    )
)


# -- helpers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    """One HTTP request to an ingest path."""

    path: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=lambda: dict(JSON))


@dataclass(frozen=True)
class Expected:
    """The PD-CEF fields the store must hold for one event, exactly."""

    event_action: str
    dedup_key: str
    severity: str
    summary: str
    source: str

    def of(self, stored: Mapping[str, Any]) -> Expected:
        """The same fields read from a stored event body (for a readable diff)."""
        return Expected(
            stored.get("event_action", ""),
            stored.get("dedup_key", ""),
            stored.get("severity", ""),
            stored.get("summary", ""),
            stored.get("source", ""),
        )


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def nagios_form(name: str, integration_key: str = NAGIOS) -> bytes:
    """A ``pagerduty_nagios.pl`` sample with our integration key in ``CONTACTPAGER``."""
    text = sample(name).decode()
    assert NAGIOS_SAMPLE_KEY in text
    return text.replace(NAGIOS_SAMPLE_KEY, integration_key).encode()


def sns(name: str, **changes: object) -> bytes:
    """A CloudWatch SNS sample with some envelope fields replaced."""
    envelope = json.loads(sample(name))
    envelope.update(changes)
    return json.dumps(envelope).encode()


def alarm_message() -> str:
    """The CloudWatch alarm JSON inside the ALARM sample's SNS ``Message``."""
    message: str = json.loads(sample(ALARM))["Message"]
    return message


def alertmanager_resolved() -> bytes:
    alert = firing_alert(status="resolved", endsAt="2026-11-03T10:14:12.113Z")
    return json.dumps(webhook(status="resolved", alerts=[alert])).encode()


async def counts(gw: TestGateway) -> dict[str, int]:
    return {table: await gw.count(table) for table in TABLES}


async def send(gw: TestGateway, post: Post) -> httpx.Response:
    return await gw.client.post(post.path, content=post.body, headers=dict(post.headers))


async def incident_with_key(gw: TestGateway, incident_key: str) -> Incident:
    found = [i for i in await gw.incidents() if i.incident_key == incident_key]
    assert len(found) == 1, f"incidents for {incident_key!r}: {found}"
    return found[0]


@pytest.fixture(autouse=True)
def forget_sns_deliveries() -> Iterator[None]:
    """CloudWatch remembers SNS MessageIds for the whole process: start each test afresh."""
    cloudwatch.seen_messages.clear()
    yield
    cloudwatch.seen_messages.clear()


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[TestGateway]:
    async with gateway_running(tmp_path, CONFIG) as running:
        yield running


# -- samples: trigger, then resolve ---------------------------------------------------------------


@dataclass(frozen=True)
class Lifecycle:
    trigger: Post
    resolve: Post
    status: int  # the vendor's success code
    opened: Expected
    closed: Expected


def cloudwatch_lifecycle(path: str) -> Lifecycle:
    url = path.format(key=CW_KEYS[path])
    summary = '{}: "prod-orders-db-high-cpu" in US East (N. Virginia)'
    return Lifecycle(
        trigger=Post(url, sample("cloudwatch_sns_alarm_alarm.json"), SNS),
        resolve=Post(url, sample("cloudwatch_sns_alarm_ok.json"), SNS),
        status=202,
        opened=Expected(
            "trigger", ALARM_ARN, "critical", summary.format("ALARM"), "orders-db-prod-1"
        ),
        closed=Expected("resolve", ALARM_ARN, "info", summary.format("OK"), "orders-db-prod-1"),
    )


LIFECYCLES: dict[str, Callable[[], Lifecycle]] = {
    **{f"cloudwatch {path.split('/')[1]}": partial(cloudwatch_lifecycle, path) for path in CW_KEYS},
    "datadog": lambda: Lifecycle(
        trigger=Post(f"/integration/{DATADOG}/enqueue", sample("datadog_webhook_triggered.json")),
        resolve=Post(f"/integration/{DATADOG}/enqueue", sample("datadog_webhook_recovered.json")),
        status=202,
        opened=Expected(
            "trigger",
            DATADOG_KEY,
            "error",  # alert_priority P2
            "[P2] [Triggered on {env:prod,service:checkout-api}] Checkout API p95 latency is high",
            "env:prod,service:checkout-api",  # hostname is blank: alert_scope
        ),
        closed=Expected(
            "resolve",
            DATADOG_KEY,
            "info",
            "[P2] [Recovered on {env:prod,service:checkout-api}] Checkout API p95 latency is high",
            "env:prod,service:checkout-api",
        ),
    ),
    "nagios": lambda: Lifecycle(
        trigger=Post(NAGIOS_PATH, nagios_form("nagios_service_problem.form"), FORM),
        resolve=Post(NAGIOS_PATH, nagios_form("nagios_service_recovery.form"), FORM),
        status=200,
        opened=Expected(
            "trigger",
            NAGIOS_KEY,
            "critical",
            "SERVICEDESC=HTTPS; SERVICESTATE=CRITICAL; HOSTNAME=web-03",
            "web-03",
        ),
        closed=Expected(
            "resolve",
            NAGIOS_KEY,
            "info",
            "SERVICEDESC=HTTPS; SERVICESTATE=OK; HOSTNAME=web-03",
            "web-03",
        ),
    ),
    "alertmanager": lambda: Lifecycle(
        trigger=Post(f"/integration/{ALERTMANAGER}/enqueue", json.dumps(webhook()).encode()),
        resolve=Post(f"/integration/{ALERTMANAGER}/enqueue", alertmanager_resolved()),
        status=202,
        opened=Expected(
            "trigger",
            ALERTMANAGER_KEY,
            "critical",
            "[FIRING:1] APIHighErrorRate checkout-api (prod-eu-1 checkout critical payments)",
            "prod-eu-1",  # commonLabels.cluster: the group has no instance label
        ),
        closed=Expected(
            "resolve",
            ALERTMANAGER_KEY,
            "info",
            "[RESOLVED] APIHighErrorRate checkout-api (prod-eu-1 checkout critical payments)",
            "prod-eu-1",
        ),
    ),
}


@pytest.mark.parametrize("vendor", list(LIFECYCLES))
async def test_sample_trigger_then_resolve_closes_the_incident(
    gw: TestGateway, vendor: str
) -> None:
    case = LIFECYCLES[vendor]()
    answer = await send(gw, case.trigger)
    assert answer.status_code == case.status, answer.text
    echoed = answer.json().get("dedup_key") or answer.json().get("incident_key")
    assert echoed == case.opened.dedup_key

    incident = await incident_with_key(gw, case.opened.dedup_key)
    assert (incident.status, incident.title) == ("triggered", case.opened.summary)
    alerts: list[Alert] = await gw.alerts(incident.id)
    assert len(alerts) == 1
    assert alerts[0].status == "triggered"
    assert (alerts[0].alert_key, alerts[0].severity, alerts[0].summary) == (
        case.opened.dedup_key,
        case.opened.severity,
        case.opened.summary,
    )
    assert case.opened.of(alerts[0].body) == case.opened

    answer = await send(gw, case.resolve)
    assert answer.status_code == case.status, answer.text

    incident = await incident_with_key(gw, case.opened.dedup_key)
    assert incident.status == "resolved"
    assert incident.resolved_at is not None
    assert [a.status for a in await gw.alerts(incident.id)] == ["resolved"]
    timeline: list[LogEntry] = await gw.log_entries(incident.id)
    by_type = {entry.type: entry for entry in timeline}
    assert set(by_type) == {"trigger_log_entry", "resolve_log_entry"}, timeline
    assert case.opened.of(by_type["trigger_log_entry"].details) == case.opened
    assert case.closed.of(by_type["resolve_log_entry"].details) == case.closed
    assert await gw.count("incidents") == 1


def test_alertmanager_webhook_keeps_the_native_receivers_incident_key() -> None:
    # A migration from pagerduty_configs to webhook_configs keeps open incidents.
    assert native()["dedup_key"] == ALERTMANAGER_KEY


async def test_nagios_never_stores_the_contact_pager_key(gw: TestGateway) -> None:
    answer = await send(gw, Post(NAGIOS_PATH, nagios_form("nagios_service_problem.form"), FORM))
    assert answer.status_code == 200, answer.text
    incident = await incident_with_key(gw, NAGIOS_KEY)
    (alert,) = await gw.alerts(incident.id)
    assert alert.body["custom_details"]["SERVICESTATE"] == "CRITICAL"
    assert "CONTACTPAGER" not in alert.body["custom_details"]
    assert NAGIOS not in json.dumps(alert.body)


async def test_key_in_the_url_wins_for_a_nagios_form(gw: TestGateway) -> None:
    # The same form posted to the generic URL: CONTACTPAGER names nobody, the URL's key routes.
    form = nagios_form("nagios_service_problem.form", integration_key=UNKNOWN)
    answer = await send(gw, Post(f"/integration/{NAGIOS}/enqueue", form, FORM))
    assert answer.status_code == 200, answer.text
    assert (await incident_with_key(gw, NAGIOS_KEY)).status == "triggered"


async def test_cloudwatch_redelivery_is_stored_once(gw: TestGateway) -> None:
    url = f"/x-ere/{CW_KEYS['/x-ere/{key}']}"
    first = await send(gw, Post(url, sample(ALARM), SNS))
    assert first.status_code == 202, first.text
    assert await gw.count("alerts") == 1
    before = await counts(gw)
    again = await send(gw, Post(url, sample(ALARM), SNS))  # SNS retries with the same MessageId
    assert again.status_code == 202, again.text
    assert await counts(gw) == before


# -- refused: right answer, nothing stored --------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    post: Post
    status: int
    answer: str  # the body's "status"
    error: str | None = None  # a substring of one of the body's errors[]


def huge_json(field_name: str) -> bytes:
    return json.dumps({field_name: "x" * (MAX_EVENT_BYTES + 1)}).encode()


def cw(body: bytes, headers: Mapping[str, str] = SNS) -> Post:
    return Post(f"/integration/{CW_BAD}/enqueue", body, headers)


def dd(body: bytes) -> Post:
    return Post(f"/integration/{DATADOG}/enqueue", body)


def am(body: bytes) -> Post:
    return Post(f"/integration/{ALERTMANAGER}/enqueue", body)


def ng(body: bytes) -> Post:
    return Post(NAGIOS_PATH, body, FORM)


def problem_form(**changes: str | None) -> bytes:
    """The Nagios problem sample with fields replaced (``None`` removes one)."""
    fields = dict(
        pair.split("=", 1)
        for pair in nagios_form("nagios_service_problem.form").decode().split("&")
    )
    for name, value in changes.items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    return "&".join(f"{k}={v}" for k, v in fields.items()).encode()


UNRECOGNIZED = "Unrecognized object"
INVALID = "invalid event"
TOO_LARGE = "Request Entity Too Large"
DD_TRIGGER = sample("datadog_webhook_triggered.json")
REFUSED: dict[str, Refused] = {
    # CloudWatch (SNS)
    "cloudwatch truncated JSON": Refused(cw(sample(ALARM)[:300]), 400, UNRECOGNIZED),
    "cloudwatch Message of the wrong type": Refused(
        cw(sns(ALARM, Message=42, MessageId="wrong-type")), 400, INVALID, "'Message'"
    ),
    "cloudwatch invalid UTF-8": Refused(cw(b'{"Type": "Notification\xff\xfe"}'), 400, UNRECOGNIZED),
    "cloudwatch lone surrogate": Refused(
        cw(b'{"Type": "Notification", "Message": "\\ud800"}'), 400, UNRECOGNIZED
    ),
    "cloudwatch bidi override in the state": Refused(
        cw(
            sns(
                ALARM,
                MessageId="bidi",
                Message=alarm_message().replace(
                    '"NewStateValue":"ALARM"', '"NewStateValue":"ALARM\\u202e"'
                ),
            )
        ),
        400,
        INVALID,
    ),
    "cloudwatch over 512 KB": Refused(cw(huge_json("Message")), 413, TOO_LARGE),
    # Datadog
    "datadog truncated JSON": Refused(dd(DD_TRIGGER[:200]), 400, UNRECOGNIZED),
    "datadog array body": Refused(dd(b"[1, 2]"), 400, UNRECOGNIZED),
    "datadog objects where strings belong": Refused(
        dd(json.dumps({"title": {"a": 1}, "alert_cycle_key": [1]}).encode()),
        400,
        INVALID,
        "'title' is invalid",
    ),
    "datadog no key field": Refused(dd(b"{}"), 400, INVALID, "alert_cycle_key"),
    "datadog invalid UTF-8": Refused(
        dd(DD_TRIGGER.replace(b"Checkout", b"\xc3\x28")), 400, UNRECOGNIZED
    ),
    "datadog NUL, BOM and bidi only": Refused(
        dd(json.dumps({"title": "\u202e\x00\ufeff", "alert_cycle_key": " "}).encode()), 400, INVALID
    ),
    "datadog over 512 KB": Refused(dd(huge_json("title")), 413, TOO_LARGE),
    # Nagios
    "nagios JSON instead of a form": Refused(ng(b'{"HOSTNAME": "web-03"}'), 400, UNRECOGNIZED),
    "nagios no CONTACTPAGER": Refused(
        ng(problem_form(CONTACTPAGER=None)), 400, INVALID, "CONTACTPAGER"
    ),
    "nagios malformed CONTACTPAGER": Refused(
        ng(problem_form(CONTACTPAGER="abc%E2%80%AE")), 400, INVALID, "CONTACTPAGER"
    ),
    "nagios unknown CONTACTPAGER": Refused(
        ng(nagios_form("nagios_service_problem.form", integration_key=UNKNOWN)),
        400,
        INVALID,
        "Invalid routing key",
    ),
    "nagios missing SERVICESTATE": Refused(
        ng(problem_form(SERVICESTATE=None)), 400, INVALID, "SERVICESTATE"
    ),
    "nagios bad object kind": Refused(
        ng(problem_form(pd_nagios_object="%E2%80%AEservice")), 400, INVALID, "pd_nagios_object"
    ),
    "nagios over 512 KB": Refused(ng(b"HOSTNAME=" + b"x" * MAX_EVENT_BYTES), 413, TOO_LARGE),
    # Alertmanager
    "alertmanager truncated JSON": Refused(
        am(json.dumps(webhook()).encode()[:100]), 400, UNRECOGNIZED
    ),
    "alertmanager alerts of the wrong type": Refused(
        am(json.dumps(webhook(alerts="x")).encode()), 400, INVALID, "'alerts'"
    ),
    "alertmanager Events API body": Refused(
        am(sample("prometheus_alertmanager_pagerduty_v2.json")), 400, INVALID, "/v2/enqueue"
    ),
    "alertmanager invalid UTF-8": Refused(
        am(json.dumps(webhook()).encode().replace(b"checkout-api", b"\xed\xa0\x80", 1)),
        400,
        UNRECOGNIZED,
    ),
    "alertmanager over 512 KB": Refused(am(huge_json("receiver")), 413, TOO_LARGE),
    # Events API v2 and v1
    "events v2 truncated JSON": Refused(
        Post("/v2/enqueue", b'{"routing_key": "'), 400, UNRECOGNIZED
    ),
    "events v2 payload of the wrong type": Refused(
        Post(
            "/v2/enqueue",
            json.dumps(
                {"routing_key": EVENTS_V2, "event_action": "trigger", "payload": "x"}
            ).encode(),
        ),
        400,
        INVALID,
    ),
    "events v2 over 512 KB": Refused(Post("/v2/enqueue", huge_json("routing_key")), 413, TOO_LARGE),
    "events v1 truncated JSON": Refused(
        Post("/generic/2010-04-15/create_event.json", b'{"service_key": "'),
        400,
        "unrecognized object",
    ),
    # Keys in the URL that no integration has
    "unknown key, integration URL": Refused(
        Post(f"/integration/{UNKNOWN}/enqueue", DD_TRIGGER), 400, INVALID, "Invalid routing key"
    ),
    "unknown key, x-ere URL": Refused(
        Post(f"/x-ere/{UNKNOWN}", DD_TRIGGER), 400, INVALID, "Invalid routing key"
    ),
    "unknown key, adapter URL": Refused(
        Post(f"/adapter/cloudwatch_sns/v1/{UNKNOWN}", sample(ALARM), SNS),
        400,
        INVALID,
        "Invalid routing key",
    ),
    "malformed key in the URL": Refused(
        Post("/integration/not-a-key/enqueue", DD_TRIGGER), 400, INVALID, "Invalid routing key"
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_refused_body_gets_a_4xx_and_changes_nothing(gw: TestGateway, case: str) -> None:
    refused = REFUSED[case]
    # Something in the store first, so "unchanged" is not "still empty".
    seed = await send(gw, Post(f"/integration/{DATADOG}/enqueue", DD_TRIGGER))
    assert seed.status_code == 202, seed.text
    before = await counts(gw)
    answer = await send(gw, refused.post)
    assert answer.status_code == refused.status, answer.text
    body = answer.json()
    assert body["status"] == refused.answer, body
    if refused.error is not None:
        assert any(refused.error in e for e in body["errors"]), body
    if "Invalid routing key" in (refused.error or ""):
        assert body["errors"] == ["Invalid routing key"]
    elif answer.status_code == 400 and not case.startswith("events"):
        # The operator's first question: which plugin refused it. (The generic Events API
        # bodies stay exactly PagerDuty's.)
        assert body["plugin"] == case.split()[0], body
    else:
        assert "plugin" not in body
    assert await counts(gw) == before


async def test_huge_chunked_body_is_refused_without_a_content_length(gw: TestGateway) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(9):
            yield b"x" * (64 * 1024)

    before = await counts(gw)
    answer = await gw.client.post(f"/integration/{DATADOG}/enqueue", content=chunks(), headers=JSON)
    assert answer.status_code == 413, answer.text
    assert await counts(gw) == before


async def test_daemon_keeps_serving_after_refusals(gw: TestGateway) -> None:
    for case in REFUSED.values():
        # A fresh connection each: see test_a_413_tells_the_client_to_close_the_connection.
        headers = {**case.post.headers, "connection": "close"}
        answer = await gw.client.post(case.post.path, content=case.post.body, headers=headers)
        assert answer.status_code == case.status, answer.text
    answer = await send(gw, Post(f"/integration/{DATADOG}/enqueue", DD_TRIGGER))
    assert answer.status_code == 202, answer.text
    assert await gw.count("incidents") == 1


async def test_a_413_tells_the_client_to_close_the_connection(gw: TestGateway) -> None:
    answer = await send(gw, REFUSED["datadog over 512 KB"].post)
    assert answer.status_code == 413
    assert answer.headers.get("connection", "").lower() == "close"


# -- random bodies: never a 5xx -------------------------------------------------------------------

FUZZ_CW = key("fuzz-cw")
FUZZ_DD = key("fuzz-dd")
FUZZ_NAGIOS = key("fuzz-nagios")
FUZZ_AM = key("fuzz-am")
FUZZ_V2 = key("fuzz-v2")
FUZZ_V1 = key("fuzz-v1")
FUZZ_CONFIG = config(
    service(
        "Fuzz",
        vendor_integration("cw", "cloudwatch", FUZZ_CW, verify_signature=False),
        vendor_integration("dd", "datadog", FUZZ_DD),
        vendor_integration("nagios", "nagios", FUZZ_NAGIOS),
        vendor_integration("am", "alertmanager", FUZZ_AM),
        events_v2(FUZZ_V2),
        events_v1(FUZZ_V1),
    ),
    storage="fuzz.db",
)
HOSTILE = [
    "\u202e", "\u200b", "\x00", "\ufeff", "\uffff", "\u0301", "😀", "\u2028",
    "\U0010ffff", "\\", '"', "%", "&", "=", "+", "\n", "İ", "ß",
]  # fmt: skip
texts = st.text(alphabet=st.sampled_from(HOSTILE) | st.characters(codec="utf-8"), max_size=20)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


def mutations(template: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The template with some of its fields replaced by anything, or dropped."""
    names = sorted(template)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        body = dict(template)
        for name in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
            if draw(st.booleans()):
                body[name] = draw(json_values)
            else:
                body.pop(name)
        return body

    return build()


def _sns_alarm_fields() -> dict[str, Any]:
    envelope = json.loads(sample(ALARM))
    alarm = json.loads(envelope["Message"])
    return {"envelope": envelope, "alarm": alarm}


@st.composite
def sns_bodies(draw: st.DrawFn) -> dict[str, Any]:
    base = _sns_alarm_fields()
    envelope = draw(mutations(base["envelope"]))
    if draw(st.booleans()):
        envelope["Message"] = json.dumps(draw(mutations(base["alarm"])))
    envelope["MessageId"] = draw(texts)
    return envelope


def _form(fields: Mapping[str, Any]) -> bytes:
    return urlencode({k: "" if v is None else str(v) for k, v in fields.items()}).encode()


NAGIOS_FIELDS = dict(
    pair.split("=", 1)
    for pair in nagios_form("nagios_service_problem.form", FUZZ_NAGIOS).decode().split("&")
)
shaped: dict[str, st.SearchStrategy[bytes]] = {
    "cloudwatch": sns_bodies().map(lambda b: json.dumps(b).encode()),
    "datadog": mutations(json.loads(DD_TRIGGER)).map(lambda b: json.dumps(b).encode()),
    "nagios": mutations(NAGIOS_FIELDS).map(_form),
    "alertmanager": mutations(webhook()).map(lambda b: json.dumps(b).encode()),
    "events_v2": mutations(v2(FUZZ_V2, dedup_key="fuzz")).map(lambda b: json.dumps(b).encode()),
    "events_v1": mutations(
        {"service_key": FUZZ_V1, "event_type": "trigger", "description": "d"}
    ).map(lambda b: json.dumps(b).encode()),
}
FUZZ_PATHS = {
    "cloudwatch": f"/integration/{FUZZ_CW}/enqueue",
    "datadog": f"/x-ere/{FUZZ_DD}",
    "nagios": NAGIOS_PATH,
    "alertmanager": f"/adapter/prometheus/v1/{FUZZ_AM}",
    "events_v2": "/v2/enqueue",
    "events_v1": "/generic/2010-04-15/create_event.json",
}


@pytest.fixture(scope="module")
def fuzz_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with (
        daemon_running(tmp_path_factory.mktemp("fuzz"), FUZZ_CONFIG) as daemon,
        daemon.client() as client,
    ):
        yield client
        assert client.get("/healthz").status_code == 200


@pytest.mark.slow  # hypothesis against a running gateway
@pytest.mark.parametrize("vendor", list(FUZZ_PATHS))
def test_random_bodies_never_get_a_5xx(fuzz_daemon: httpx.Client, vendor: str) -> None:
    path = FUZZ_PATHS[vendor]
    bodies = (
        st.binary(max_size=512) | json_values.map(lambda v: json.dumps(v).encode()) | shaped[vendor]
    )
    content_types = st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]
    )

    @settings(
        max_examples=100,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(body=bodies, content_type=content_types)
    def post(body: bytes, content_type: str) -> None:
        answer = fuzz_daemon.post(path, content=body, headers={"content-type": content_type})
        assert answer.status_code < 500, (answer.status_code, answer.text, body[:300])
        assert answer.headers["content-type"].startswith("application/json")

    post()

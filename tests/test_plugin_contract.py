"""The plugin contract: every hook documented and tested, each proven through a real gateway.

The first test is the guard (datasette's idea): a hook added to
``gateway/hookspecs.py`` without a docstring, without a section in
``docs/plugins.md`` or without a test here whose name contains the hook's
name fails the suite. The other tests run each hook through a gateway
started with in-process plugins (``gateway_running(plugins=[...])``), and
check the isolation rules: a plugin's bug fails one request, never the daemon.
"""

from __future__ import annotations

import inspect
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from gateway import hookspecs
from gateway.errors import ConfigError, InvalidEvent, RetryLater, UnrecognizedEvent
from gateway.hookspecs import hookimpl
from gateway.model import Event, InboundRequest, IncidentChange, Vendor
from gateway.plugins import load_plugins
from gateway.testing import TestGateway, gateway_running
from tests.support import REPO, key, v2

DOCS = REPO / "docs" / "plugins.md"
HOOKS = sorted(
    name
    for name, spec in vars(hookspecs).items()
    if callable(spec) and hasattr(spec, f"{hookspecs.PROJECT}_spec")
)
V2_KEY = key("contract-v2")
VENDOR_KEY = key("contract-vendor")
VENDOR_ID = "PCONTRC"
TABLES = ("incidents", "alerts", "log_entries", "change_events")
CONFIG = f"""
[[services]]
name = "Contract"
  [[services.integrations]]
  name = "v2"
  type = "events_api_v2"
  integration_key = "{V2_KEY}"
"""
VENDOR_CONFIG = (
    CONFIG
    + f"""
  [[services.integrations]]
  name = "contract vendor"
  vendor = "contract"
  integration_key = "{VENDOR_KEY}"
"""
)


# -- the guard -------------------------------------------------------------------------------------


def test_the_contract_is_found() -> None:
    # If the introspection below broke, the guard would check nothing.
    assert HOOKS == ["enrich_event", "filter_event", "incident_changed", "register_vendors"]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_docstring_documentation_and_a_test(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc) >= 40, f"hookspec {hook} needs a docstring that says what it is for"
    assert f"### `{hook}`" in DOCS.read_text(), f"docs/plugins.md needs a '### `{hook}`' section"
    tests = [
        name
        for name, value in globals().items()
        if name.startswith("test_") and hook in name and inspect.isfunction(value)
    ]
    assert tests, f"tests/test_plugin_contract.py needs a test_* function naming {hook}"


# -- helpers ---------------------------------------------------------------------------------------


async def counts(gw: TestGateway) -> dict[str, int]:
    return {table: await gw.count(table) for table in TABLES}


async def post_v2(gw: TestGateway, body: Mapping[str, Any]) -> Any:
    return await gw.client.post("/v2/enqueue", json=body)


@dataclass
class ContractVendor:
    """A plugin registering one vendor whose ``parse`` does what the body's ``mode`` says."""

    paths: tuple[str, ...] = ("/contract/v1/events",)

    @hookimpl
    def register_vendors(self) -> list[Vendor]:
        return [
            Vendor(
                id=VENDOR_ID,
                name="Contract Vendor",
                integration_type="contract_inbound_integration",
                parse=self.parse,
                paths=self.paths,
                aliases=("contract",),
            )
        ]

    async def parse(self, request: InboundRequest) -> Any:
        body = json.loads(request.body)
        mode = body.get("mode", "ok")
        routing_key = request.integration_key or body.get("key", "")
        if mode == "raise":
            raise RuntimeError("a bug in the plugin")
        if mode == "garbage":
            return {"not": "a list of events"}
        if mode == "invalid":
            raise InvalidEvent(["'thing' is missing or blank"])
        if mode == "unrecognized":
            raise UnrecognizedEvent("JSON parse error")
        if mode == "retry":
            raise RetryLater("the vendor's API is down")
        if mode == "invalid_event":  # an Event that breaks PD-CEF: no summary, no source
            return [Event(routing_key=routing_key, event_action="trigger", dedup_key="x")]
        return [
            Event(
                routing_key=routing_key,
                event_action="trigger",
                dedup_key=f"contract:{body['id']}",
                summary=body["title"],
                source=body.get("source", "contract-host"),
                severity="warning",
            )
        ]


# -- register_vendors ------------------------------------------------------------------------------


async def test_register_vendors_serves_an_in_process_vendor(tmp_path: Path) -> None:
    plugin = ContractVendor()
    async with gateway_running(tmp_path, VENDOR_CONFIG, plugins=[("contract", plugin)]) as gw:
        answer = await gw.client.post(
            gw.integration_url(VENDOR_KEY), json={"id": "a", "title": "By key in the URL"}
        )
        assert answer.status_code == 202, answer.text
        answer = await gw.client.post(
            "/contract/v1/events", json={"id": "b", "title": "By path", "key": VENDOR_KEY}
        )
        assert answer.status_code == 202, answer.text
        incidents = sorted(await gw.incidents(), key=lambda i: i.number)
        assert [(i.incident_key, i.title) for i in incidents] == [
            ("contract:a", "By key in the URL"),
            ("contract:b", "By path"),
        ]
        (alert,) = await gw.alerts(incidents[0].id)
        assert (alert.severity, alert.body["source"]) == ("warning", "contract-host")

        listing = (await gw.client.get("/-/plugins")).json()
        (entry,) = [p for p in listing["plugins"] if p["name"] == "contract"]
        assert entry["vendors"] == [VENDOR_ID]
        assert (entry["distribution"], entry["version"]) == (None, None)


@pytest.mark.parametrize(
    ("mode", "status", "answer"),
    [
        ("invalid", 400, {"status": "invalid event", "errors": ["'thing' is missing or blank"]}),
        ("unrecognized", 400, {"status": "Unrecognized object", "errors": ["JSON parse error"]}),
        ("retry", 503, {"status": "unavailable"}),
    ],
)
async def test_register_vendors_parse_errors_reach_the_sender(
    tmp_path: Path, mode: str, status: int, answer: dict[str, Any]
) -> None:
    async with gateway_running(
        tmp_path, VENDOR_CONFIG, plugins=[("contract", ContractVendor())]
    ) as gw:
        before = await counts(gw)
        response = await gw.client.post(gw.integration_url(VENDOR_KEY), json={"mode": mode})
        assert response.status_code == status, response.text
        body = response.json()
        assert {k: body[k] for k in answer} == answer
        assert await counts(gw) == before


async def test_register_vendors_parse_that_raises_fails_one_request_only(tmp_path: Path) -> None:
    async with gateway_running(
        tmp_path, VENDOR_CONFIG, plugins=[("contract", ContractVendor())]
    ) as gw:
        with capture_logs() as logs:
            response = await gw.client.post(gw.integration_url(VENDOR_KEY), json={"mode": "raise"})
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {
            "status": "error",
            "message": "Plugin contract failed to process the event",
            "errors": ["RuntimeError"],
        }
        (failed,) = [e for e in logs if e["event"] == "plugin.parse_failed"]
        assert (failed["plugin"], failed["vendor"], failed["exc_info"]) == (
            "contract",
            VENDOR_ID,
            True,
        )
        assert await gw.count("alerts") == 0
        # The daemon goes on: the same vendor and another one both still serve.
        ok = await gw.client.post(gw.integration_url(VENDOR_KEY), json={"id": "a", "title": "t"})
        assert ok.status_code == 202, ok.text
        assert (await post_v2(gw, v2(V2_KEY, dedup_key="after"))).status_code == 202
        assert await gw.count("alerts") == 2


async def test_register_vendors_parse_returning_garbage_is_a_500(tmp_path: Path) -> None:
    async with gateway_running(
        tmp_path, VENDOR_CONFIG, plugins=[("contract", ContractVendor())]
    ) as gw:
        with capture_logs() as logs:
            response = await gw.client.post(
                gw.integration_url(VENDOR_KEY), json={"mode": "garbage"}
            )
        assert response.status_code == 500
        assert response.json()["message"] == "Plugin contract failed to process the event"
        assert response.json()["errors"] == ["TypeError"]
        assert [e["plugin"] for e in logs if e["event"] == "plugin.bad_result"] == ["contract"]
        assert await gw.count("alerts") == 0


async def test_register_vendors_parse_returning_an_invalid_event_is_refused(
    tmp_path: Path,
) -> None:
    async with gateway_running(
        tmp_path, VENDOR_CONFIG, plugins=[("contract", ContractVendor())]
    ) as gw:
        before = await counts(gw)
        response = await gw.client.post(
            gw.integration_url(VENDOR_KEY), json={"mode": "invalid_event"}
        )
        assert response.status_code in (400, 500), response.text
        assert await counts(gw) == before


class GarbageVendors:
    @hookimpl
    def register_vendors(self) -> Any:
        return ["not a vendor"]


async def test_register_vendors_returning_garbage_is_a_start_up_config_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match="'junk': register_vendors must return a list of Vendor"):
        load_plugins(extra=[("junk", GarbageVendors())])
    with pytest.RaisesGroup(
        pytest.RaisesExc(ConfigError, match="register_vendors must return"), flatten_subgroups=True
    ):
        async with gateway_running(tmp_path, CONFIG, plugins=[("junk", GarbageVendors())]):
            pytest.fail("the gateway started")


def test_register_vendors_twice_the_same_id_names_both_plugins() -> None:
    with pytest.raises(ConfigError, match=r"PCONTRC .* both 'first' and 'second'"):
        load_plugins(extra=[("first", ContractVendor()), ("second", ContractVendor(paths=()))])


# -- enrich_event ----------------------------------------------------------------------------------


@dataclass
class Enricher:
    seen: list[str] = field(default_factory=list)

    @hookimpl
    def enrich_event(self, event: Event, vendor_id: str) -> None:
        self.seen.append(vendor_id)
        details = event.custom_details if isinstance(event.custom_details, dict) else {}
        event.custom_details = {**details, "team": "payments", "enriched_for": vendor_id}
        if event.summary and event.summary.startswith("LONG"):
            event.summary = "x" * 1025  # breaks PD-CEF: summaries stop at 1024 characters
        if event.summary == "RAISE":
            raise ValueError("a bug in the enricher")


async def test_enrich_event_adds_custom_details_to_the_stored_alert(tmp_path: Path) -> None:
    enricher = Enricher()
    async with gateway_running(tmp_path, CONFIG, plugins=[("enricher", enricher)]) as gw:
        body = v2(V2_KEY, dedup_key="enriched", custom_details={"disk": "95%"})
        response = await post_v2(gw, body)
        assert response.status_code == 202, response.text
        (incident,) = await gw.incidents()
        (alert,) = await gw.alerts(incident.id)
        assert alert.body["custom_details"] == {
            "disk": "95%",
            "team": "payments",
            "enriched_for": "events_api_v2",
        }
    assert enricher.seen == ["events_api_v2"]


async def test_enrich_event_that_breaks_validation_is_a_400(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG, plugins=[("enricher", Enricher())]) as gw:
        before = await counts(gw)
        response = await post_v2(gw, v2(V2_KEY, dedup_key="long", summary="LONG summary"))
        assert response.status_code == 400, response.text
        assert response.json()["errors"] == ["'summary' is too long (maiximum is 1024 characters)"]
        assert await counts(gw) == before


async def test_enrich_event_that_raises_is_a_500_naming_the_plugin(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG, plugins=[("enricher", Enricher())]) as gw:
        response = await post_v2(gw, v2(V2_KEY, dedup_key="raise", summary="RAISE"))
        assert response.status_code == 500
        assert "enricher" in response.json()["message"]


# -- filter_event ----------------------------------------------------------------------------------


class NoiseFilter:
    @hookimpl
    def filter_event(self, event: Event, vendor_id: str) -> bool | None:
        if event.source == "noisy-host":
            return False
        return None if event.source == "quiet-host" else True


async def test_filter_event_false_drops_the_event_but_answers_accepted(tmp_path: Path) -> None:
    plugins = [("contract", ContractVendor()), ("noise", NoiseFilter())]
    async with gateway_running(tmp_path, VENDOR_CONFIG, plugins=plugins) as gw:
        url = gw.integration_url(VENDOR_KEY)
        before = await counts(gw)
        dropped = await gw.client.post(url, json={"id": "n", "title": "t", "source": "noisy-host"})
        assert dropped.status_code == 202, dropped.text
        assert dropped.json()["status"] == "success"
        assert await counts(gw) == before

        for source in ("quiet-host", "web-01"):  # None and True both keep the event
            kept = await gw.client.post(url, json={"id": source, "title": "t", "source": source})
            assert kept.status_code == 202, kept.text
        assert sorted(i.incident_key or "" for i in await gw.incidents()) == [
            "contract:quiet-host",
            "contract:web-01",
        ]


async def test_filter_event_dropping_an_events_api_v2_event_answers_202(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG, plugins=[("noise", NoiseFilter())]) as gw:
        dropped = await post_v2(gw, v2(V2_KEY, dedup_key="noisy", source="noisy-host"))
        assert dropped.status_code == 202, dropped.text
        assert await gw.count("alerts") == 0


# -- incident_changed ------------------------------------------------------------------------------


@dataclass
class Observer:
    """Records each change and what the database file held at that moment."""

    database: Path
    changes: list[tuple[str | None, str, str]] = field(default_factory=list)
    on_disk: list[str | None] = field(default_factory=list)
    fail: bool = False

    @hookimpl
    def incident_changed(self, change: IncidentChange) -> None:
        self.changes.append((change.previous_status, change.status, change.action))
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)
        try:
            row = conn.execute(
                "SELECT status FROM incidents WHERE id = ?", (change.incident_id,)
            ).fetchone()
        finally:
            conn.close()
        self.on_disk.append(row[0] if row else None)
        if self.fail:
            raise RuntimeError("a bug in the observer")


async def test_incident_changed_sees_each_transition_after_commit(tmp_path: Path) -> None:
    observer = Observer(tmp_path / "gateway.db")
    async with gateway_running(tmp_path, CONFIG, plugins=[("observer", observer)]) as gw:
        for action in ("trigger", "trigger", "acknowledge", "resolve"):
            response = await post_v2(gw, v2(V2_KEY, action, dedup_key="disk"))
            assert response.status_code == 202, response.text
        again = await post_v2(gw, v2(V2_KEY, "resolve", dedup_key="disk"))
        assert again.status_code == 202
    # The repeated trigger and the resolve of a resolved alert changed no incident.
    assert observer.changes == [
        (None, "triggered", "trigger"),
        ("triggered", "acknowledged", "acknowledge"),
        ("acknowledged", "resolved", "resolve"),
    ]
    # Each call saw its own change already committed to the database file.
    assert observer.on_disk == ["triggered", "acknowledged", "resolved"]


async def test_incident_changed_that_raises_is_logged_and_undoes_nothing(tmp_path: Path) -> None:
    failing = Observer(tmp_path / "gateway.db", fail=True)
    healthy = Observer(tmp_path / "gateway.db")
    plugins = [("failing", failing), ("healthy", healthy)]
    async with gateway_running(tmp_path, CONFIG, plugins=plugins) as gw:
        with capture_logs() as logs:
            response = await post_v2(gw, v2(V2_KEY, dedup_key="disk"))
        assert response.status_code == 202, response.text
        (incident,) = await gw.incidents()
        assert incident.status == "triggered"
        assert await gw.count("alerts") == 1
        second = await post_v2(gw, v2(V2_KEY, "resolve", dedup_key="disk"))
        assert second.status_code == 202, second.text
        assert (await gw.incidents())[0].status == "resolved"
    failures = [e for e in logs if e["event"] == "plugin.hook_failed"]
    assert [(e["plugin"], e["hook"], e["log_level"]) for e in failures] == [
        ("failing", "incident_changed", "error")
    ]
    # The other observer still saw every change.
    assert healthy.changes == [(None, "triggered", "trigger"), ("triggered", "resolved", "resolve")]
    assert len(failing.changes) == 2


def test_structlog_capture_sees_gateway_loggers() -> None:
    # The isolation tests read log events through capture_logs; make sure it sees ours.
    with capture_logs() as logs:
        structlog.get_logger("gateway.plugins").error("plugin.hook_failed", plugin="p")
    assert logs == [{"event": "plugin.hook_failed", "plugin": "p", "log_level": "error"}]

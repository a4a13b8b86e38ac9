"""The plugin contract: every hook documented and tested, each proven through a real gateway.

The first tests are the guard (datasette's idea): a hook added to
``gateway/hookspecs.py`` without a docstring, without a section in
``docs/plugins.md`` or without a test here whose name contains the hook's
name fails the suite; so does a hook or a callable field of ``Vendor``
without a test here of what happens when it raises (a test named
``..._<name>_that_raises_...``). The other tests run each hook through a
gateway started with in-process plugins (``gateway_running(plugins=[...])``),
and check the isolation rules: a plugin's bug fails one request, never the
daemon. Failures are checked by what a sender or an operator sees (status,
body, log line), so they hold whatever the pipeline's inside looks like.
"""

from __future__ import annotations

import inspect
import json
import sqlite3
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from gateway import hookspecs
from gateway.core import tokens
from gateway.errors import ConfigError
from gateway.pluginkit import (
    ContactMethodType,
    Event,
    InboundRequest,
    IncidentChange,
    InvalidEvent,
    Outcome,
    Response,
    RetryLater,
    UnrecognizedEvent,
    Vendor,
    hookimpl,
)
from gateway.plugins import load_plugins
from gateway.testing import TestGateway, gateway_running
from tests.support import REPO, key, v2

DOCS = REPO / "docs" / "plugins.md"
HOOKS = sorted(
    name
    for name, spec in vars(hookspecs).items()
    if callable(spec) and hasattr(spec, f"{hookspecs.PROJECT}_spec")
)


def _is_callable(hint: Any) -> bool:
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    return any(typing.get_origin(option) is Callable for option in options)


VENDOR_CALLABLES = sorted(
    name for name, hint in typing.get_type_hints(Vendor).items() if _is_callable(hint)
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
    assert HOOKS == [
        "enrich_event",
        "filter_event",
        "incident_changed",
        "register_contact_method_types",
        "register_delivery_kinds",
        "register_vendors",
    ]
    assert VENDOR_CALLABLES == [
        "after_request",
        "check_settings",
        "checks_sender",
        "parse",
        "render_error",
        "render_success",
    ]


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


@pytest.mark.parametrize("name", HOOKS + VENDOR_CALLABLES)
def test_every_hook_and_vendor_callable_has_a_test_of_its_failure(name: str) -> None:
    tests = [
        test
        for test, value in globals().items()
        if test.startswith("test_") and f"{name}_that_raises" in test and inspect.isfunction(value)
    ]
    assert tests, f"tests/test_plugin_contract.py needs a test_*{name}_that_raises* function"


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


@pytest.mark.sqlite_only("its observer opens the SQLite file to see what was committed")
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


@pytest.mark.sqlite_only("its observer opens the SQLite file to see what was committed")
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


# -- register_vendors and filter_event that raise --------------------------------------------------


class RaisingRegister:
    @hookimpl
    def register_vendors(self) -> list[Vendor]:
        raise RuntimeError("a bug in register_vendors")


async def test_register_vendors_that_raises_is_a_start_up_config_error(tmp_path: Path) -> None:
    with (
        capture_logs() as logs,
        pytest.raises(ConfigError, match="'faulty': register_vendors raised RuntimeError"),
    ):
        load_plugins(extra=[("faulty", RaisingRegister())])
    assert [(e["plugin"], e["hook"]) for e in logs if e["event"] == "plugin.hook_failed"] == [
        ("faulty", "register_vendors")
    ]
    with pytest.RaisesGroup(
        pytest.RaisesExc(ConfigError, match="'faulty': register_vendors raised"),
        flatten_subgroups=True,
    ):
        async with gateway_running(tmp_path, CONFIG, plugins=[("faulty", RaisingRegister())]):
            pytest.fail("the gateway started")


class RaisingKinds:
    @hookimpl
    def register_delivery_kinds(self) -> list[object]:
        raise RuntimeError("a bug in the kinds")


def test_register_delivery_kinds_that_raises_is_a_start_up_config_error() -> None:
    with (
        capture_logs() as logs,
        pytest.raises(ConfigError, match="'faulty': register_delivery_kinds raised RuntimeError"),
    ):
        load_plugins(extra=[("faulty", RaisingKinds())])
    assert [(e["plugin"], e["hook"]) for e in logs if e["event"] == "plugin.hook_failed"] == [
        ("faulty", "register_delivery_kinds")
    ]


class RaisingContactTypes:
    @hookimpl
    def register_contact_method_types(self) -> list[object]:
        raise RuntimeError("a bug in the types")


def test_register_contact_method_types_that_raises_is_a_start_up_config_error() -> None:
    with (
        capture_logs() as logs,
        pytest.raises(
            ConfigError, match="'faulty': register_contact_method_types raised RuntimeError"
        ),
    ):
        load_plugins(extra=[("faulty", RaisingContactTypes())])
    assert [(e["plugin"], e["hook"]) for e in logs if e["event"] == "plugin.hook_failed"] == [
        ("faulty", "register_contact_method_types")
    ]


def _digits(address: str) -> list[str]:
    return [] if address.isdigit() else ["digits only"]


class SmsTypes:
    @hookimpl
    def register_contact_method_types(self) -> list[ContactMethodType]:
        return [ContactMethodType("sms_contact_method", "SMS", _digits)]


class EmailAgain:
    @hookimpl
    def register_contact_method_types(self) -> list[object]:
        return [ContactMethodType("email_contact_method", "Mail", _digits)]


class NotTypes:
    @hookimpl
    def register_contact_method_types(self) -> list[object]:
        return ["sms_contact_method"]


def test_register_contact_method_types_refuses_clashes_and_other_objects() -> None:
    with pytest.raises(
        ConfigError, match="'mail': contact method type 'email_contact_method' is built in"
    ):
        load_plugins(extra=[("mail", EmailAgain())])
    with pytest.raises(ConfigError, match="registered by both 'one' and 'two'"):
        load_plugins(extra=[("one", SmsTypes()), ("two", SmsTypes())])
    with pytest.raises(ConfigError, match="must return a list of ContactMethodType"):
        load_plugins(extra=[("odd", NotTypes())])


async def test_register_contact_method_types_lets_users_have_that_type(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG, plugins=[("sms", SmsTypes())]) as gw:
        assert gw.running.context.plugins.contact_type_plugin == {"sms_contact_method": "sms"}
        admin = await _admin_token(gw)
        headers = {"Authorization": f"Token token={admin}"}
        made = await gw.client.post(
            "/users", headers=headers, json={"user": {"name": "Texted", "email": "t@example.com"}}
        )
        base = f"/users/{made.json()['user']['id']}/contact_methods"
        sms = {"type": "sms_contact_method", "label": "Mobile"}
        bad = await gw.client.post(
            base, headers=headers, json={"contact_method": {**sms, "address": "call me"}}
        )
        assert bad.status_code == 400 and "digits only" in bad.text
        good = await gw.client.post(
            base, headers=headers, json={"contact_method": {**sms, "address": "5551234"}}
        )
        assert good.status_code == 201 and good.json()["contact_method"]["type"] == sms["type"]


async def _admin_token(gw: TestGateway) -> str:
    _, secret = await gw.store.write(
        lambda tx: tokens.create_token(tx, name="contract admin", role="admin")
    )
    return secret


class RaisingFilter:
    @hookimpl
    def filter_event(self, event: Event) -> bool | None:
        raise ValueError("a bug in the filter")


async def test_filter_event_that_raises_is_a_500_naming_the_plugin(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG, plugins=[("sieve", RaisingFilter())]) as gw:
        with capture_logs() as logs:
            response = await post_v2(gw, v2(V2_KEY, dedup_key="raise"))
        assert response.status_code == 500
        assert response.json()["message"] == "Plugin sieve failed to process the event"
        assert [(e["plugin"], e["hook"]) for e in logs if e["event"] == "plugin.hook_failed"] == [
            ("sieve", "filter_event")
        ]
        assert await gw.count("alerts") == 0
        assert (await post_v2(gw, v2(V2_KEY, dedup_key="again"))).status_code == 500


async def test_filter_event_drop_is_logged_as_event_filtered(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG, plugins=[("noise", NoiseFilter())]) as gw:
        with capture_logs() as logs:
            dropped = await post_v2(gw, v2(V2_KEY, dedup_key="noisy", source="noisy-host"))
        assert dropped.status_code == 202, dropped.text
    (filtered,) = [e for e in logs if e["event"] == "event.filtered"]
    assert filtered == {
        "event": "event.filtered",
        "log_level": "info",
        "plugin": "noise",
        "vendor": "events_api_v2",
        "event_action": "trigger",
        "routing_key": "…" + V2_KEY[-4:],  # redacted: never the whole key in a log
        "dedup_key": "noisy",
    }


# -- pluggy's order --------------------------------------------------------------------------------


def ordered(name: str, calls: list[tuple[str, str]], **opts: bool) -> object:
    """A plugin whose three per-event hooks record ``(hook, name)`` when called."""

    @hookimpl(**opts)
    def enrich_event(event: Event) -> None:  # only the argument it uses: passed by name
        calls.append(("enrich_event", name))

    @hookimpl(**opts)
    def filter_event(vendor_id: str, event: Event) -> bool | None:
        calls.append(("filter_event", name))
        return None

    @hookimpl(**opts)
    def incident_changed(change: IncidentChange) -> None:
        calls.append(("incident_changed", name))

    return types.SimpleNamespace(
        enrich_event=enrich_event, filter_event=filter_event, incident_changed=incident_changed
    )


Factory = Callable[[str, list[tuple[str, str]]], object]


def run_every_hook(plugins: list[tuple[str, Factory]]) -> Iterator[tuple[str, list[str]]]:
    """Register ``plugins`` in order, run each per-event hook once, say who was called when."""
    calls: list[tuple[str, str]] = []
    host = load_plugins(extra=[(name, factory(name, calls)) for name, factory in plugins])
    event = Event(routing_key=V2_KEY, event_action="trigger", summary="s", source="h")
    assert host.run_enrichment(event, "events_api_v2") is True
    change = IncidentChange("PINC001", 1, "PSVC001", "triggered", None, "t", "high", "trigger", "")
    host.notify_incident_changes([change])
    for hook in ("enrich_event", "filter_event", "incident_changed"):
        yield hook, [name for called, name in calls if called == hook]


def plain(name: str, calls: list[tuple[str, str]]) -> object:
    return ordered(name, calls)


def first(name: str, calls: list[tuple[str, str]]) -> object:
    return ordered(name, calls, tryfirst=True)


def last(name: str, calls: list[tuple[str, str]]) -> object:
    return ordered(name, calls, trylast=True)


def test_enrich_event_filter_event_incident_changed_run_last_registered_first() -> None:
    # pluggy's documented order (LIFO): the plugin registered last is called first.
    for hook, order in run_every_hook([("a", plain), ("b", plain), ("c", plain)]):
        assert order == ["c", "b", "a"], hook


def test_enrich_event_filter_event_incident_changed_honour_tryfirst_and_trylast() -> None:
    for hook, order in run_every_hook([("a", first), ("b", plain), ("c", last)]):
        assert order == ["a", "b", "c"], hook
    for hook, order in run_every_hook([("a", last), ("b", first), ("c", plain)]):
        assert order == ["b", "c", "a"], hook


# -- wrappers and async hooks are refused at load --------------------------------------------------


class NewStyleWrapper:
    @hookimpl(wrapper=True)
    def enrich_event(self, event: Event, vendor_id: str) -> Iterator[None]:
        yield


class OldStyleWrapper:
    @hookimpl(hookwrapper=True)
    def incident_changed(self, change: IncidentChange) -> Iterator[None]:
        yield


class AsyncFilter:
    @hookimpl
    async def filter_event(self, event: Event, vendor_id: str) -> bool | None:
        return False


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (NewStyleWrapper(), "'wrapping': hook enrich_event is marked wrapper=True"),
        (OldStyleWrapper(), "'wrapping': hook incident_changed is marked hookwrapper=True"),
        (AsyncFilter(), "'wrapping': hook filter_event is an async def"),
    ],
)
async def test_enrich_event_incident_changed_filter_event_wrappers_are_refused_at_load(
    tmp_path: Path, plugin: object, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_plugins(extra=[("wrapping", plugin)])
    with pytest.RaisesGroup(pytest.RaisesExc(ConfigError, match=message), flatten_subgroups=True):
        async with gateway_running(tmp_path, CONFIG, plugins=[("wrapping", plugin)]):
            pytest.fail("the gateway started")


# -- every Vendor callable that raises -------------------------------------------------------------


@dataclass
class FaultyVendor(ContractVendor):
    """The contract vendor with every optional callable; ``fail`` names the one that raises."""

    fail: str = ""
    answered: list[bool] = field(default_factory=list)

    def _maybe_fail(self, name: str) -> None:
        if self.fail == name:
            raise RuntimeError(f"a bug in {name}")

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
                render_success=self.render_success,
                render_error=self.render_error,
                check_settings=self.check_settings,
                after_request=self.after_request,
                checks_sender=self.checks_sender,
            )
        ]

    def render_success(self, outcomes: list[Outcome]) -> Response:
        self._maybe_fail("render_success")
        return Response(200, {"contract": "ok", "events": len(outcomes)})

    def render_error(self, error: Exception) -> Response | None:
        self._maybe_fail("render_error")
        return Response(422, {"contract": "refused"})

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        self._maybe_fail("check_settings")
        return []

    def after_request(self, request: InboundRequest, committed: bool) -> None:
        self.answered.append(committed)
        self._maybe_fail("after_request")

    def checks_sender(self, settings: Mapping[str, Any]) -> bool:
        self._maybe_fail("checks_sender")
        return True


def hook_failures(logs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["plugin"], e["hook"]) for e in logs if e["event"] == "plugin.hook_failed"]


async def test_vendor_without_faults_uses_every_callable(tmp_path: Path) -> None:
    # The baseline the failure tests below depart from.
    vendor = FaultyVendor()
    async with gateway_running(tmp_path, VENDOR_CONFIG, plugins=[("contract", vendor)]) as gw:
        url = gw.integration_url(VENDOR_KEY)
        ok = await gw.client.post(url, json={"id": "a", "title": "t"})
        assert (ok.status_code, ok.json()) == (200, {"contract": "ok", "events": 1})
        refused = await gw.client.post(url, json={"mode": "invalid"})
        assert refused.status_code == 422, refused.text
        # checks_sender says True: the integration takes no event on the generic paths.
        generic = await post_v2(gw, v2(VENDOR_KEY, dedup_key="forged"))
        assert generic.json()["errors"] == ["Invalid routing key"]
        assert await gw.count("alerts") == 1
    assert vendor.answered[:2] == [True, False]


async def test_vendor_render_success_that_raises_still_acknowledges(tmp_path: Path) -> None:
    vendor = FaultyVendor(fail="render_success")
    async with gateway_running(tmp_path, VENDOR_CONFIG, plugins=[("contract", vendor)]) as gw:
        with capture_logs() as logs:
            answer = await gw.client.post(
                gw.integration_url(VENDOR_KEY), json={"id": "a", "title": "t"}
            )
        # The events are committed: the default success answer, not a 5xx inviting a retry.
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] == "success"
        assert await gw.count("alerts") == 1
    assert hook_failures(logs) == [("contract", "render_success")]


async def test_vendor_render_error_that_raises_falls_back_to_the_default_answer(
    tmp_path: Path,
) -> None:
    vendor = FaultyVendor(fail="render_error")
    async with gateway_running(tmp_path, VENDOR_CONFIG, plugins=[("contract", vendor)]) as gw:
        with capture_logs() as logs:
            answer = await gw.client.post(gw.integration_url(VENDOR_KEY), json={"mode": "invalid"})
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["status"] == "invalid event"
        assert answer.json()["errors"] == ["'thing' is missing or blank"]
        # The daemon goes on serving the vendor.
        ok = await gw.client.post(gw.integration_url(VENDOR_KEY), json={"id": "a", "title": "t"})
        assert ok.status_code == 200, ok.text
    assert hook_failures(logs) == [("contract", "render_error")]


async def test_vendor_after_request_that_raises_changes_no_answer(tmp_path: Path) -> None:
    vendor = FaultyVendor(fail="after_request")
    async with gateway_running(tmp_path, VENDOR_CONFIG, plugins=[("contract", vendor)]) as gw:
        with capture_logs() as logs:
            ok = await gw.client.post(
                gw.integration_url(VENDOR_KEY), json={"id": "a", "title": "t"}
            )
            refused = await gw.client.post(gw.integration_url(VENDOR_KEY), json={"mode": "invalid"})
        assert ok.status_code == 200, ok.text
        assert refused.status_code == 422, refused.text
        assert await gw.count("alerts") == 1
    assert vendor.answered == [True, False]
    assert hook_failures(logs) == [("contract", "after_request")] * 2


async def test_vendor_checks_sender_that_raises_is_a_500_naming_the_plugin(tmp_path: Path) -> None:
    vendor = FaultyVendor(fail="checks_sender")
    async with gateway_running(tmp_path, VENDOR_CONFIG, plugins=[("contract", vendor)]) as gw:
        with capture_logs() as logs:
            # Only an event for the integration through another vendor's path asks checks_sender.
            answer = await post_v2(gw, v2(VENDOR_KEY, dedup_key="forged"))
        assert answer.status_code == 500, answer.text
        assert answer.json()["message"] == "Plugin contract failed to process the event"
        assert await gw.count("alerts") == 0
        ok = await gw.client.post(gw.integration_url(VENDOR_KEY), json={"id": "a", "title": "t"})
        assert ok.status_code == 200, ok.text
        assert (await post_v2(gw, v2(V2_KEY, dedup_key="other"))).status_code == 202
    assert ("contract", "checks_sender") in hook_failures(logs)


async def test_vendor_check_settings_that_raises_is_a_start_up_config_error(
    tmp_path: Path,
) -> None:
    vendor = FaultyVendor(fail="check_settings")
    with pytest.RaisesGroup(
        pytest.RaisesExc(ConfigError, match="contract"), flatten_subgroups=True
    ):
        async with gateway_running(tmp_path, VENDOR_CONFIG, plugins=[("contract", vendor)]):
            pytest.fail("the gateway started")

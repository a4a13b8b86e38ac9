"""PagerDuty query parameters the gateway cannot honour are refused by name, never ignored.

Issue 15 item 8: ``team_ids[]``, ``user_ids[]`` and ``include[]=escalation_policies``
answered 200 with everything, unfiltered, so a script acting on the answer acted on the
wrong objects.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.core import tokens as core_tokens
from gateway.http.openapi import OPERATIONS
from gateway.http.rest.query import ROUTES
from gateway.testing import gateway_running
from tests.incident_helpers import headers, make_tokens, trigger
from tests.people_support import override_body, policy_body, schedule_body, user_body
from tests.scaffold import TestGateway, config, key, v2_service

KEY = key("query-params")
CONFIG = config(v2_service("Queried", KEY), storage=None)


async def _made(http: httpx.AsyncClient, path: str, h: dict[str, str], body: Any) -> Any:
    """POST ``body`` to ``path``; the 201 answer's JSON."""
    answer = await http.post(path, headers=h, json=body)
    assert answer.status_code == 201, (path, answer.text)
    return answer.json()


async def _people(http: httpx.AsyncClient, admin: str) -> dict[str, str]:
    """A user (with its default contact method and rule), a schedule with an override, and
    an escalation policy: ``{"user": id, "method": id, "rule": id, "schedule": id, ...}``."""
    h = headers(admin)
    user = (await _made(http, "/users", h, user_body("Queried", "queried@example.com")))["user"]
    schedule = (await _made(http, "/schedules", h, schedule_body(user["id"])))["schedule"]
    await _made(http, f"/schedules/{schedule['id']}/overrides", h, override_body(user["id"]))
    policy = await _made(http, "/escalation_policies", h, policy_body(user["id"], schedule["id"]))
    return {
        "user": user["id"],
        "method": user["contact_methods"][0]["id"],
        "rule": user["notification_rules"][0]["id"],
        "schedule": schedule["id"],
        "policy": policy["escalation_policy"]["id"],
    }


async def _paths(http: httpx.AsyncClient, token: str, admin: str) -> dict[str, str]:
    """A real path for every REST read route (ids filled in from live objects)."""
    await trigger(http, KEY, "q1")
    h = headers(token)
    people = await _people(http, admin)
    user = f"/users/{people['user']}"
    schedule = f"/schedules/{people['schedule']}"
    service = (await http.get("/services", headers=h)).json()["services"][0]
    incident = (await http.get("/incidents", headers=h)).json()["incidents"][0]
    entry = (await http.get(f"/incidents/{incident['id']}/log_entries", headers=h)).json()
    window = await http.post(
        "/maintenance_windows",
        headers=h,
        json={
            "maintenance_window": {
                "start_time": "2030-01-01T00:00:00Z",
                "end_time": "2030-01-02T00:00:00Z",
                "services": [{"id": service["id"], "type": "service_reference"}],
            }
        },
    )
    assert window.status_code == 201, window.text
    integration = service["integrations"][0]["id"]
    hook = await http.post(
        "/webhook_subscriptions",
        headers=h,
        json={
            "webhook_subscription": {
                "delivery_method": {"type": "http_delivery_method", "url": "http://127.0.0.1:9/"},
                "events": ["incident.triggered"],
                "filter": {"type": "account_reference"},
            }
        },
    )
    assert hook.status_code == 201, hook.text
    hook_id = hook.json()["webhook_subscription"]["id"]
    return {
        "/services": "/services",
        "/services/<service_id>": f"/services/{service['id']}",
        "/services/<service_id>/integrations/<integration_id>": (
            f"/services/{service['id']}/integrations/{integration}"
        ),
        "/incidents": "/incidents",
        "/incidents/<ident>": f"/incidents/{incident['id']}",
        "/incidents/<ident>/alerts": f"/incidents/{incident['id']}/alerts",
        "/incidents/<ident>/log_entries": f"/incidents/{incident['id']}/log_entries",
        "/log_entries": "/log_entries",
        "/log_entries/<entry_id>": f"/log_entries/{entry['log_entries'][0]['id']}",
        "/maintenance_windows": "/maintenance_windows",
        "/maintenance_windows/<window_id>": (
            f"/maintenance_windows/{window.json()['maintenance_window']['id']}"
        ),
        "/vendors": "/vendors",
        "/vendors/<vendor_id>": "/vendors/PGWAMGR",
        "/webhook_subscriptions": "/webhook_subscriptions",
        "/webhook_subscriptions/<subscription_id>": f"/webhook_subscriptions/{hook_id}",
        "/webhook_subscriptions/<subscription_id>/deliveries": (
            f"/webhook_subscriptions/{hook_id}/deliveries"
        ),
        # since and until are required there, as PagerDuty has them.
        "/notifications": "/notifications?since=2026-01-01T00:00:00Z&until=2099-01-01T00:00:00Z",
        "/users": "/users",
        "/users/me": "/users/me",  # answered for a token that belongs to a user
        "/users/<user_id>": user,
        "/users/<user_id>/contact_methods": f"{user}/contact_methods",
        "/users/<user_id>/contact_methods/<method_id>": (
            f"{user}/contact_methods/{people['method']}"
        ),
        "/users/<user_id>/notification_rules": f"{user}/notification_rules",
        "/users/<user_id>/notification_rules/<rule_id>": (
            f"{user}/notification_rules/{people['rule']}"
        ),
        "/schedules": "/schedules",
        "/schedules/<schedule_id>": schedule,
        "/schedules/<schedule_id>/overrides": (
            f"{schedule}/overrides?since=2030-01-01T00:00:00Z&until=2030-01-03T00:00:00Z"
        ),
        "/schedules/<schedule_id>/users": f"{schedule}/users",
        "/escalation_policies": "/escalation_policies",
        "/escalation_policies/<policy_id>": f"/escalation_policies/{people['policy']}",
        "/oncalls": "/oncalls",
        "/incidents/<ident>/notes": f"/incidents/{incident['id']}/notes",
        "/services/<service_id>/forwarding/messages": (
            f"/services/{service['id']}/forwarding/messages"
        ),
    }


async def _user_token(gw: TestGateway, email: str) -> str:
    """A new token that belongs to the user ``email`` (``tokens create --user``)."""
    _, secret = await gw.store.write(
        lambda tx: core_tokens.create_token(tx, name="mine", role=None, user=email)
    )
    return secret


def _shape(path: str) -> str:
    """A route with its parameters blanked: OpenAPI's ``{id}`` and Quart's ``<ident>`` alike."""
    return re.sub(r"[{<][^}>]+[}>]", "*", path)


def test_every_authenticated_read_operation_has_its_query_rules() -> None:
    # A GET route missing from ROUTES would ignore include[] and PagerDuty's filters.
    reads = {_shape(op.path) for op in OPERATIONS if op.auth and op.method == "get"}
    assert reads == {_shape(rule) for _, rule in ROUTES}


def _merged(path: str, params: dict[str, str]) -> httpx.URL:
    """``path`` with ``params`` added to the query it already has (httpx would replace it)."""
    return httpx.URL(path).copy_merge_params(params)


async def test_each_refusal_names_the_parameter_and_changes_nothing(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        paths = await _paths(gw.client, tokens["user"], tokens["admin"])
        assert set(paths) == {rule for _, rule in ROUTES}, "a read route without a path here"
        own = headers(await _user_token(gw, "queried@example.com"))
        for (_, rule), route in ROUTES.items():
            path = paths[rule]
            h = own if rule == "/users/me" else headers(tokens["user"])
            plain = await gw.client.get(path, headers=h)
            assert plain.status_code == 200, (path, plain.text)
            for name in route.unsupported:
                answer = await gw.client.get(_merged(path, {f"{name}[]": "PX1"}), headers=h)
                assert answer.status_code == 400, (path, name, answer.text)
                assert any(e.startswith(f"{name}:") for e in answer.json()["error"]["errors"])
            bogus = await gw.client.get(_merged(path, {"include[]": "teams"}), headers=h)
            assert bogus.status_code == 400, (path, bogus.text)
            assert "include[]=teams" in bogus.text
            for value in route.includes:
                fine = await gw.client.get(_merged(path, {"include[]": value}), headers=h)
                assert fine.status_code == 200, (path, value, fine.text)


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/incidents", {"team_ids[]": "PT1"}, "team_ids"),
        ("/incidents", {"user_ids[]": "PU1"}, "user_ids"),
        ("/services", {"include[]": "escalation_policies"}, "include[]=escalation_policies"),
        ("/services", {"time_zone": "Europe/Paris"}, "time_zone"),
        ("/maintenance_windows", {"team_ids[]": "PT1"}, "team_ids"),
    ],
)
async def test_the_issues_examples(
    tmp_path: Path, path: str, params: dict[str, str], named: str
) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        answer = await gw.client.get(path, headers=headers(tokens["observer"]), params=params)
        assert answer.status_code == 400
        assert named in answer.text


async def test_utc_time_zone_and_empty_filters_pass(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        h = headers(tokens["observer"])
        for params in ({"time_zone": "UTC"}, {"team_ids[]": ""}, {"unknown_to_pagerduty": "x"}):
            answer = await gw.client.get("/incidents", headers=h, params=params)
            assert answer.status_code == 200, (params, answer.text)


async def test_a_missing_token_is_still_a_401_first(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        answer = await gw.client.get("/incidents", params={"team_ids[]": "PT1"})
        assert answer.status_code == 401


async def test_a_new_service_creates_the_integrations_it_lists(tmp_path: Path) -> None:
    # Issue 15 item 8: integrations[] on POST /services answered 201 and made nothing.
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        h = headers(tokens["user"])
        body = {
            "service": {
                "type": "service",
                "name": "With Integrations",
                "integrations": [
                    {"type": "events_api_v2_inbound_integration", "name": "v2"},
                    {"type": "generic_events_api_inbound_integration", "name": "v1"},
                ],
            }
        }
        made = await gw.client.post("/services", headers=h, json=body)
        assert made.status_code == 201, made.text
        listed = made.json()["service"]["integrations"]
        assert sorted(i["summary"] for i in listed) == ["v1", "v2"]
        # A bad one refuses the whole request, naming it, and makes nothing.
        body["service"]["name"] = "Half Made"
        body["service"]["integrations"] = [
            {"type": "events_api_v2_inbound_integration", "name": "fine"},
            {"type": "no_such_type", "name": "bad"},
        ]
        refused = await gw.client.post("/services", headers=h, json=body)
        assert refused.status_code == 400
        assert "no_such_type" in refused.text
        names = [
            s["name"] for s in (await gw.client.get("/services", headers=h)).json()["services"]
        ]
        assert "Half Made" not in names


@pytest.mark.parametrize(
    ("service", "named"),
    [
        ({"name": "Old", "type": "generic_events_api"}, "older service form"),
        ({"name": "Odd", "integrations": {"name": "x"}}, "integrations must be an array"),
        ({"name": "Odd", "integrations": [{"name": 5}]}, "integrations[0].name"),
    ],
)
async def test_service_bodies_it_cannot_honour_are_refused_by_name(
    tmp_path: Path, service: dict[str, object], named: str
) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        answer = await gw.client.post(
            "/services", headers=headers(tokens["user"]), json={"service": service}
        )
        assert answer.status_code == 400
        assert named in answer.text

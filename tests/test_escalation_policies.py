"""Escalation policies over real HTTP: PagerDuty's shapes, rules, refusals, and services'
references to them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.rest_support import Api, api, assert_error, target_user

__all__ = ["api"]  # the fixture, used by parameter name

ROOT = "escalation_policy"


def _rule(delay: int = 30, *targets: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "escalation_delay_in_minutes": delay,
        "targets": list(targets) or [target_user()],
        **extra,
    }


def _post(api: Api, body: dict[str, Any]) -> Any:
    body = api.with_users(body)
    return api.call("POST", "/escalation_policies", json={ROOT: {"type": ROOT, **body}})


def _count(api: Api) -> int:
    return int(api.daemon.scalar("SELECT count(*) FROM escalation_policies"))


def test_create_get_and_list_in_pagerduty_shape(api: Api) -> None:
    primary = api.schedule("Checkout primary")
    schedule = {"type": "schedule_reference", "id": primary}
    r = _post(
        api,
        {
            "name": "Checkout on-call",
            "description": "primary, then the lead",
            "num_loops": 2,
            "on_call_handoff_notifications": "always",
            "escalation_rules": [
                _rule(10, schedule, escalation_rule_assignment_strategy="round_robin"),
                _rule(20, target_user("@Lead One"), target_user("@Lead Two")),
            ],
        },
    )
    assert r.status_code == 201, r.text
    made = r.json()[ROOT]
    assert made["type"] == ROOT and made["summary"] == "Checkout on-call"
    assert made["self"].endswith(f"/escalation_policies/{made['id']}")
    assert (made["num_loops"], made["on_call_handoff_notifications"]) == (2, "always")
    first, second = made["escalation_rules"]
    assert first["escalation_rule_assignment_strategy"] == "round_robin"
    assert first["targets"][0]["type"] == "schedule_reference"
    assert first["targets"][0]["id"] == primary
    assert first["targets"][0]["summary"] == "Checkout primary"
    assert second["escalation_rule_assignment_strategy"] == "assign_to_everyone"
    assert [t["id"] for t in second["targets"]] == [api.user("Lead One"), api.user("Lead Two")]
    assert [t["summary"] for t in second["targets"]] == ["Lead One", "Lead Two"]
    assert made["services"] == [] and made["teams"] == []

    got = api.call("GET", f"/escalation_policies/{made['id']}", role="observer")
    assert got.status_code == 200 and got.json()[ROOT] == made
    listed = api.call("GET", "/escalation_policies", params={"query": "checkout ON"}).json()
    assert [p["id"] for p in listed["escalation_policies"]] == [made["id"]]
    by_user = api.call(
        "GET", "/escalation_policies", params={"user_ids[]": api.user("Lead Two")}
    ).json()
    assert [p["id"] for p in by_user["escalation_policies"]] == [made["id"]]
    # The self link of a service's policy answers (it used to be a 404).
    service = api.create_service("ep-shape", escalation_policy={"id": made["id"], "type": "x"})
    assert service["escalation_policy"]["summary"] == "Checkout on-call"
    assert api.http.get(service["escalation_policy"]["self"]).status_code != 404
    again = api.call("GET", f"/escalation_policies/{made['id']}").json()[ROOT]
    assert [s["id"] for s in again["services"]] == [service["id"]]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"escalation_rules": [_rule()]}, "name is required"),
        ({"name": "no rules", "escalation_rules": []}, "at least one rule"),
        ({"name": "no rules key"}, "at least one rule"),
        ({"name": "loops", "num_loops": -1, "escalation_rules": [_rule()]}, "num_loops"),
        ({"name": "loops", "num_loops": "2", "escalation_rules": [_rule()]}, "num_loops"),
        (
            {
                "name": "handoff",
                "on_call_handoff_notifications": "never",
                "escalation_rules": [_rule()],
            },
            "on_call_handoff_notifications",
        ),
        ({"name": "delay", "escalation_rules": [_rule(-1)]}, "from 0 to 525600"),
        # Past the typo guards: these overflowed the database's integers (a 500 before).
        ({"name": "year+", "escalation_rules": [_rule(525_601)]}, "from 0 to 525600"),
        ({"name": "huge", "escalation_rules": [_rule(10**20)]}, "from 0 to 525600"),
        ({"name": "loops+", "num_loops": 101, "escalation_rules": [_rule()]}, "0 to 100"),
        ({"name": "loops huge", "num_loops": 10**20, "escalation_rules": [_rule()]}, "0 to 100"),
        (
            {"name": "two rules", "escalation_rules": [_rule(0), _rule(5)]},
            "escalation_rules[1].escalation_delay_in_minutes must be at least 1",
        ),
        (
            {"name": "loops zero", "num_loops": 1, "escalation_rules": [_rule(0)]},
            "must be at least 1 when",
        ),
        (
            {
                "name": "eleven",
                "escalation_rules": [_rule(5, *[target_user(f"@Many {n}") for n in range(11)])],
            },
            "1 to 10",
        ),
        (
            {
                "name": "team",
                "escalation_rules": [_rule(5, {"type": "team_reference", "id": "PT"})],
            },
            "user_reference or schedule_reference",
        ),
        (
            {"name": "twice", "escalation_rules": [_rule(5, target_user(), target_user())]},
            "listed twice",
        ),
        (
            {
                "name": "strategy",
                "escalation_rules": [_rule(5, escalation_rule_assignment_strategy="random")],
            },
            "assign_to_everyone, round_robin",
        ),
        ({"name": "Default", "escalation_rules": [_rule()]}, "already named 'Default'"),
    ],
)
def test_bad_policies_are_400_and_change_nothing(
    api: Api, body: dict[str, Any], needle: str
) -> None:
    before = _count(api)
    error = assert_error(_post(api, body), 400, 2001)
    assert any(needle in e for e in error["errors"]), error
    assert _count(api) == before


def test_targets_must_exist_and_a_target_user_cannot_be_deleted(api: Api) -> None:
    error = assert_error(
        _post(api, {"name": "ghost", "escalation_rules": [_rule(5, target_user("PGHOST1"))]}),
        400,
        2001,
    )
    assert error["errors"] == ["escalation_rules[1].targets[1]: user PGHOST1 does not exist"]
    made = _post(api, {"name": "keeps Dana", "escalation_rules": [_rule(5, target_user("@Dana"))]})
    assert made.status_code == 201, made.text
    refused = api.call("DELETE", f"/users/{api.user('Dana')}", role="admin")
    error = assert_error(refused, 400, 2001)
    assert "keeps Dana" in error["errors"][0]
    assert api.call("DELETE", f"/escalation_policies/{made.json()[ROOT]['id']}").status_code == 204
    assert api.call("DELETE", f"/users/{api.user('Dana')}", role="admin").status_code == 204


def test_a_single_rule_without_loops_may_have_a_zero_delay(api: Api) -> None:
    assert _post(api, {"name": "zero ok", "escalation_rules": [_rule(0)]}).status_code == 201


def test_update_replaces_rules_and_keeps_named_rule_ids(api: Api) -> None:
    made = api.create_policy("updating")
    kept = made["escalation_rules"][0]
    path = f"/escalation_policies/{made['id']}"
    body = api.with_users(
        {"escalation_rules": [{**kept, "escalation_delay_in_minutes": 15}, _rule(5)]}
    )
    r = api.call("PUT", path, json={ROOT: body})
    assert r.status_code == 200, r.text
    rules = r.json()[ROOT]["escalation_rules"]
    assert [x["escalation_delay_in_minutes"] for x in rules] == [15, 5]
    assert rules[0]["id"] == kept["id"] and rules[1]["id"] != kept["id"]
    # Other fields alone; loops checked against the rules it has.
    r = api.call("PUT", path, json={ROOT: {"description": "d", "name": "updated"}})
    assert r.json()[ROOT]["description"] == "d" and r.json()[ROOT]["name"] == "updated"
    assert len(r.json()[ROOT]["escalation_rules"]) == 2
    assert_error(api.call("PUT", path, json={ROOT: {"escalation_rules": []}}), 400, 2001)
    assert_error(api.call("PUT", "/escalation_policies/PNOSUCH", json={ROOT: {}}), 404, 5001)
    assert_error(api.call("GET", "/escalation_policies/PNOSUCH"), 404, 5001)


def test_delete_is_refused_while_a_service_uses_the_policy(api: Api) -> None:
    made = api.create_policy("in use")
    service = api.create_service("ep-user", escalation_policy={"id": made["id"]})
    path = f"/escalation_policies/{made['id']}"
    error = assert_error(api.call("DELETE", path), 400, 2001)
    assert "ep-user" in error["errors"][0] and "another escalation policy" in error["errors"][0]
    assert api.call("GET", path).status_code == 200
    moved = api.call(
        "PUT",
        f"/services/{service['id']}",
        json={"service": {"escalation_policy": {"id": "PDEFALT"}}},
    )
    assert moved.status_code == 200, moved.text
    assert api.call("DELETE", path).status_code == 204
    assert_error(api.call("GET", path), 404, 5001)


def test_a_service_must_reference_a_policy_that_exists(api: Api) -> None:
    error = assert_error(
        api.call(
            "POST",
            "/services",
            json={"service": {"name": "ep-bad", "escalation_policy": {"id": "PNOPE"}}},
        ),
        400,
        2001,
    )
    assert error["errors"] == ["escalation_policy PNOPE does not exist"]
    assert api.daemon.scalar("SELECT count(*) FROM services WHERE name = 'ep-bad'") == 0
    # Without one it gets the Default policy; it may not be set to none or an unknown one.
    service = api.create_service("ep-default")
    assert service["escalation_policy"]["id"] == "PDEFALT"
    assert service["escalation_policy"]["summary"] == "Default"
    path = f"/services/{service['id']}"
    for ref in (None, {"id": "PNOPE"}):
        body = {"service": {"escalation_policy": ref}}
        assert_error(api.call("PUT", path, json=body), 400, 2001)
    assert api.call("GET", path).json()["service"]["escalation_policy"]["id"] == "PDEFALT"


def test_unsupported_query_parameters_are_refused(api: Api) -> None:
    for params in ({"include[]": "teams"}, {"team_ids[]": "PT"}, {"include[]": "targets"}):
        assert_error(api.call("GET", "/escalation_policies", params=params), 400, 2001)
    ok = {"include[]": "escalation_rule_assignment_strategies"}
    assert api.call("GET", "/escalation_policies", params=ok).status_code == 200
    assert_error(api.call("GET", "/escalation_policies", params={"sort_by": "id"}), 400, 2001)


def test_oncalls_list_users_and_schedule_shifts_per_policy_level(api: Api) -> None:
    rota = api.schedule("Oncall rota", user="Rota Person")
    made = _post(
        api,
        {
            "name": "Oncall check",
            "escalation_rules": [
                _rule(5, target_user("@Oncall One")),
                _rule(10, target_user("@Oncall Two"), {"type": "schedule_reference", "id": rota}),
            ],
        },
    ).json()[ROOT]
    params = {"escalation_policy_ids[]": made["id"]}
    r = api.call("GET", "/oncalls", params=params, role="observer")
    assert r.status_code == 200, r.text
    got = r.json()["oncalls"]
    # Level 2: the user target (always: no start or end) and whoever the rota has now.
    assert [(o["escalation_level"], o["user"]["summary"]) for o in got] == [
        (1, "Oncall One"),
        (2, "Oncall Two"),
        (2, "Rota Person"),
    ]
    first, _, shift = got
    assert first["escalation_policy"]["id"] == made["id"]
    assert first["escalation_policy"]["summary"] == "Oncall check"
    assert first["user"]["type"] == "user_reference"
    assert first["user"]["id"] == api.user("Oncall One")
    assert (first["schedule"], first["start"], first["end"]) == (None, None, None)  # permanent
    assert shift["schedule"]["id"] == rota and shift["schedule"]["summary"] == "Oncall rota"
    assert shift["start"] and shift["end"] and shift["start"] < shift["end"]
    by_user = api.call("GET", "/oncalls", params={"user_ids[]": api.user("Oncall Two")}).json()
    assert [(o["escalation_policy"]["id"], o["escalation_level"]) for o in by_user["oncalls"]] == [
        (made["id"], 2)
    ]
    # Asking for schedules leaves out users' permanent on-calls.
    only = api.call("GET", "/oncalls", params={"schedule_ids[]": rota}).json()["oncalls"]
    assert [(o["user"]["summary"], o["schedule"]["id"]) for o in only] == [("Rota Person", rota)]
    # A week of a daily rota of one person: one on-call per day's turn, or one merged stretch;
    # earliest keeps the first per policy, level and user.
    week = {**params, "since": "2026-03-02T00:00:00Z", "until": "2026-03-09T00:00:00Z"}
    shifts = [
        o for o in api.call("GET", "/oncalls", params=week).json()["oncalls"] if o["schedule"]
    ]
    assert shifts and shifts[0]["start"] <= "2026-03-02T00:00:00.000Z"
    earliest = api.call("GET", "/oncalls", params={**week, "earliest": "true"}).json()["oncalls"]
    assert len(earliest) == 3


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        {"since": "2026-01-01T00:00:00Z", "until": "2026-06-01T00:00:00Z"},
        {"earliest": "maybe"},
        {"time_zone": "Europe/Paris"},
        {"include[]": "users"},
    ],
)
def test_oncalls_refuse_what_they_cannot_answer(api: Api, params: dict[str, str]) -> None:
    assert_error(api.call("GET", "/oncalls", params=params), 400, 2001)


def test_a_schedule_a_policy_targets_cannot_be_deleted(api: Api) -> None:
    held = api.schedule("Held rota")
    target = {"type": "schedule_reference", "id": held}
    made = _post(api, {"name": "holds a rota", "escalation_rules": [_rule(5, target)]}).json()
    refused = assert_error(api.call("DELETE", f"/schedules/{held}"), 400, 2001)
    assert "escalation policy" in refused["errors"][0]
    assert api.call("DELETE", f"/escalation_policies/{made[ROOT]['id']}").status_code == 204
    assert api.call("DELETE", f"/schedules/{held}").status_code == 204
    ghost = {"type": "schedule_reference", "id": held}
    error = assert_error(
        _post(api, {"name": "ghost rota", "escalation_rules": [_rule(5, ghost)]}), 400, 2001
    )
    assert error["errors"] == [f"escalation_rules[1].targets[1]: schedule {held} does not exist"]

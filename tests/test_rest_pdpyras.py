"""pdpyras's APISession, unchanged but for its base URL, against a running daemon.

pdpyras is what most existing PagerDuty scripts use; it checks paths against
PagerDuty's canonical list, pages by ``more``, unwraps bodies by their root key
and sends ``From`` with ``default_from``. If any of that disagrees with the
gateway, these calls raise.
"""

from __future__ import annotations

import warnings

import pytest

from tests.rest_support import Api, api

pytestmark = pytest.mark.slow  # one real daemon process for the module (tests/rest_support.py)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pdpyras announces its deprecation on import
    import pdpyras

__all__ = ["api"]  # the module-scoped daemon fixture


def session(api: Api, role: str = "user") -> pdpyras.APISession:
    s = pdpyras.APISession(api.tokens[role], default_from="oncall@example.com")
    s.url = api.daemon.base_url
    return s


def test_pdpyras_drives_services_integrations_vendors_and_incidents(api: Api) -> None:
    s = session(api)
    before = {svc["name"] for svc in s.list_all("services")}
    for i in range(30):  # more than one page of 25
        s.rpost("services", json={"service": {"name": f"pdpyras-{i:02d}", "type": "service"}})
    names = {svc["name"] for svc in s.list_all("services")}
    assert names - before == {f"pdpyras-{i:02d}" for i in range(30)}

    service = s.find("services", "pdpyras-00")
    assert service is not None and service["type"] == "service"
    integration = s.rpost(
        f"services/{service['id']}/integrations",
        json={
            "integration": {
                "type": "events_api_v2_inbound_integration",
                "name": "from pdpyras",
                "service": {"id": service["id"], "type": "service_reference"},
            }
        },
    )
    routing_key = integration["integration_key"]
    assert len(routing_key) == 32
    fetched = s.rget(f"services/{service['id']}", params={"include[]": ["integrations"]})
    assert [i["name"] for i in fetched["integrations"]] == ["from pdpyras"]

    vendors = s.list_all("vendors")
    assert {"PZQ6AUS", "PGWDDOG"} <= {v["id"] for v in vendors}

    # An event through the key pdpyras was given opens an incident it can list and act on.
    events = pdpyras.EventsAPISession(routing_key)
    events.url = api.daemon.base_url
    dedup = events.trigger("disk full on web-01", "web-01", severity="critical")
    incidents = [
        i
        for i in s.list_all("incidents", params={"service_ids[]": [service["id"]]})
        if i["status"] == "triggered"
    ]
    assert [i["title"] for i in incidents] == ["disk full on web-01"]
    incident = incidents[0]
    acked = s.rput(
        f"incidents/{incident['id']}",
        json={"incident": {"type": "incident_reference", "status": "acknowledged"}},
    )
    assert acked["status"] == "acknowledged"
    resolved = s.rput(
        "incidents",
        json=[{"id": incident["id"], "type": "incident_reference", "status": "resolved"}],
    )
    assert [i["status"] for i in resolved] == ["resolved"]
    entries = s.rget(f"incidents/{incident['id']}/log_entries")
    assert {"trigger_log_entry", "acknowledge_log_entry", "resolve_log_entry"} <= {
        e["type"] for e in entries
    }
    assert api.daemon.scalar("SELECT status FROM alerts WHERE alert_key = ?", dedup) == "resolved"


def test_pdpyras_sees_pagerduty_errors_as_pagerduty_errors(api: Api) -> None:
    observer = session(api, "observer")
    try:
        observer.rpost("services", json={"service": {"name": "not allowed"}})
    except pdpyras.PDClientError as exc:
        assert exc.response is not None and exc.response.status_code == 403
        assert exc.response.json()["error"]["code"] == 2010
    else:
        raise AssertionError("an observer created a service")
    try:
        session(api).rget("services/PNOSUCH")
    except pdpyras.PDClientError as exc:
        assert exc.response is not None and exc.response.status_code == 404
    else:
        raise AssertionError("a missing service was found")


def test_pdpyras_creates_lists_pings_and_deletes_a_webhook_subscription(api: Api) -> None:
    from tests.outbox_support import receiver

    s = session(api)
    with receiver() as rx:
        made = s.rpost(
            "webhook_subscriptions",
            json={
                "webhook_subscription": {
                    "type": "webhook_subscription",
                    "delivery_method": {"type": "http_delivery_method", "url": rx.url},
                    "description": "from pdpyras",
                    "events": ["incident.triggered", "incident.resolved"],
                    "filter": {"type": "account_reference"},
                }
            },
        )
        assert made["delivery_method"]["secret"]
        listed = s.list_all("webhook_subscriptions")
        assert made["id"] in {w["id"] for w in listed}
        assert s.rget(f"webhook_subscriptions/{made['id']}")["description"] == "from pdpyras"
        answer = s.post(f"webhook_subscriptions/{made['id']}/ping")
        assert answer.status_code == 202
        assert rx.wait_sync(lambda got: len(got) >= 1, timeout=10)
        assert b"pagey.ping" in rx.received[0].body
        s.rdelete(f"webhook_subscriptions/{made['id']}")
    assert made["id"] not in {w["id"] for w in s.list_all("webhook_subscriptions")}


def test_pdpyras_drives_users_contact_methods_and_notification_rules(api: Api) -> None:
    s = session(api, "admin")
    for i in range(27):  # more than one page of 25
        s.rpost("users", json={"name": f"pdpyras person {i:02d}", "email": f"pp{i:02d}@py.example"})
    people = [u for u in s.list_all("users", params={"query": "py.example"})]
    assert len(people) == 27 and people[0]["type"] == "user"
    found = s.find("users", "pp05@py.example", attribute="email")
    assert found is not None and found["name"] == "pdpyras person 05"
    user = s.rget(f"users/{found['id']}", params={"include[]": ["contact_methods"]})
    assert user["contact_methods"][0]["address"] == "pp05@py.example"

    base = f"users/{user['id']}"
    method = s.rpost(
        f"{base}/contact_methods",
        json={"type": "email_contact_method", "label": "Work", "address": "work05@py.example"},
    )
    assert method["type"] == "email_contact_method"
    assert [m["label"] for m in s.rget(f"{base}/contact_methods")] == ["Default", "Work"]
    rule = s.rpost(
        f"{base}/notification_rules",
        json={
            "type": "assignment_notification_rule",
            "start_delay_in_minutes": 5,
            "urgency": "high",
            "contact_method": {"id": method["id"], "type": "email_contact_method_reference"},
        },
    )
    assert rule["contact_method"]["id"] == method["id"]
    rules = s.rget(f"{base}/notification_rules", params={"urgency": "high"})
    assert [r["start_delay_in_minutes"] for r in rules] == [0, 5]
    changed = s.rput(f"{base}/notification_rules/{rule['id']}", json={"start_delay_in_minutes": 9})
    assert changed["start_delay_in_minutes"] == 9
    s.rdelete(f"{base}/notification_rules/{rule['id']}")
    s.rdelete(f"{base}/contact_methods/{method['id']}")
    renamed = s.rput(base, json={"name": "pdpyras person five"})
    assert renamed["name"] == "pdpyras person five"
    s.rdelete(base)
    assert s.find("users", "pp05@py.example", attribute="email") is None


def test_pdpyras_drives_schedules_overrides_and_on_call_users(api: Api) -> None:
    admin = session(api, "admin")
    ids = {
        name: admin.rpost("users", json={"name": name, "email": f"{name}@sched.example"})["id"]
        for name in ("alice", "bob", "carol")
    }
    s = session(api)
    layer = {
        "start": "2026-03-27T09:00:00+01:00",
        "rotation_virtual_start": "2026-03-27T09:00:00+01:00",
        "rotation_turn_length_seconds": 86400,
        "users": [{"user": {"id": ids["alice"], "type": "user_reference"}},
                  {"user": {"id": ids["bob"], "type": "user_reference"}}],
    }  # fmt: skip
    made = s.rpost(
        "schedules",
        json={
            "schedule": {
                "type": "schedule",
                "name": "pdpyras on call",
                "time_zone": "Europe/Berlin",
                "schedule_layers": [layer],
            }
        },
    )
    assert s.find("schedules", "pdpyras on call")["id"] == made["id"]
    span = {"since": "2026-03-29T07:00:00Z", "until": "2026-03-30T07:00:00Z"}
    got = s.rget(f"schedules/{made['id']}", params=span)
    entries = got["final_schedule"]["rendered_schedule_entries"]
    assert [(e["user"]["summary"], e["start"]) for e in entries] == [
        ("alice", "2026-03-29T09:00:00+02:00")
    ]
    override = {"start": "2026-03-29T12:00:00Z", "end": "2026-03-29T13:00:00Z",
                "user": {"id": ids["carol"], "type": "user_reference"}}  # fmt: skip
    answer = s.post(f"schedules/{made['id']}/overrides", json={"overrides": [override]})
    assert answer.status_code == 201, answer.text
    listed = s.rget(f"schedules/{made['id']}/overrides", params=span)
    assert [o["user"]["summary"] for o in listed] == ["carol"]
    users = s.rget(f"schedules/{made['id']}/users", params=span)
    assert [u["summary"] for u in users] == ["alice", "carol"]
    s.rput(f"schedules/{made['id']}", json={"schedule": {**made, "name": "pdpyras renamed"}})
    assert s.rget(f"schedules/{made['id']}")["name"] == "pdpyras renamed"
    s.rdelete(f"schedules/{made['id']}")
    assert made["id"] not in {x["id"] for x in s.list_all("schedules")}


def test_pdpyras_drives_escalation_policies_and_oncalls(api: Api) -> None:
    s = session(api)
    user = api.user("Pat Pdpyras")
    rule = {
        "escalation_delay_in_minutes": 10,
        "targets": [{"type": "user_reference", "id": user}],
    }
    made = s.rpost(
        "escalation_policies",
        json={
            "escalation_policy": {
                "type": "escalation_policy",
                "name": "pdpyras policy",
                "escalation_rules": [rule],
            }
        },
    )
    assert made["escalation_rules"][0]["targets"][0]["summary"] == "Pat Pdpyras"
    assert s.find("escalation_policies", "pdpyras policy")["id"] == made["id"]
    changed = s.rput(
        f"escalation_policies/{made['id']}",
        json={"escalation_policy": {"type": "escalation_policy", "num_loops": 2}},
    )
    assert changed["num_loops"] == 2
    service = s.rpost(
        "services",
        json={
            "service": {
                "name": "pdpyras-ep",
                "type": "service",
                "escalation_policy": {"id": made["id"], "type": "escalation_policy_reference"},
            }
        },
    )
    assert service["escalation_policy"]["id"] == made["id"]
    oncalls = s.list_all("oncalls", params={"escalation_policy_ids[]": [made["id"]]})
    assert [(o["escalation_level"], o["user"]["id"]) for o in oncalls] == [(1, user)]
    with pytest.raises(pdpyras.PDClientError):  # still used by pdpyras-ep
        s.rdelete(f"escalation_policies/{made['id']}")
    s.rdelete(f"services/{service['id']}")
    s.rdelete(f"escalation_policies/{made['id']}")
    assert s.find("escalation_policies", "pdpyras policy") is None


def test_pdpyras_reassigns_and_filters_incidents_by_assignee(api: Api) -> None:
    s, admin = session(api), session(api, "admin")
    people = [
        admin.rpost("users", json={"name": f"pdpyras holder {n}", "email": f"ph{n}@hold.example"})
        for n in (1, 2)
    ]
    policy = s.rpost(
        "escalation_policies",
        json={
            "escalation_policy": {
                "type": "escalation_policy",
                "name": "pdpyras reassign",
                "escalation_rules": [
                    {
                        "escalation_delay_in_minutes": 30,
                        "targets": [{"id": p["id"], "type": "user_reference"}],
                    }
                    for p in people
                ],
            }
        },
    )
    service = s.rpost(
        "services",
        json={
            "service": {
                "name": "pdpyras-reassign",
                "type": "service",
                "escalation_policy": {"id": policy["id"], "type": "escalation_policy_reference"},
            }
        },
    )
    made = s.rpost(
        "incidents",
        json={
            "incident": {
                "type": "incident",
                "title": "reassign me",
                "service": {"id": service["id"], "type": "service_reference"},
            }
        },
    )
    first, second = (p["id"] for p in people)
    assert [a["assignee"]["id"] for a in made["assignments"]] == [first]
    moved = s.rput(
        f"incidents/{made['id']}",
        json={"incident": {"type": "incident_reference", "escalation_level": 2}},
    )
    assert [a["assignee"]["id"] for a in moved["assignments"]] == [second]
    held = list(
        s.list_all("incidents", params={"user_ids[]": [second], "include[]": ["assignees"]})
    )
    assert [i["id"] for i in held] == [made["id"]]
    assert held[0]["assignments"][0]["assignee"]["email"] == "ph2@hold.example"
    back = s.rput(
        "incidents",
        json=[
            {
                "id": made["id"],
                "type": "incident_reference",
                "assignments": [{"assignee": {"id": first, "type": "user_reference"}}],
            }
        ],
    )
    assert [a["assignee"]["id"] for a in back[0]["assignments"]] == [first]
    assert list(s.list_all("incidents", params={"user_ids[]": [second]})) == []

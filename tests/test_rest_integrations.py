"""End-to-end over HTTP: /services/{id}/integrations — create, read, update, move, delete."""

from __future__ import annotations

import pytest

from tests.rest_support import Api, api, assert_error

pytestmark = pytest.mark.slow  # one real daemon process for the module (tests/rest_support.py)

__all__ = ["api"]  # the fixture, used by parameter name


def test_create_generates_a_read_only_key(api: Api) -> None:
    sid = api.create_service("I-create")["id"]
    r = api.call(
        "POST",
        f"/services/{sid}/integrations",
        json={
            "integration": {
                "type": "events_api_v2_inbound_integration",
                "name": "Events V2",
                "service": {"id": sid, "type": "service_reference"},
                "integration_key": "a" * 32,  # read-only: ignored
            }
        },
    )
    assert r.status_code == 201, r.text
    made = r.json()["integration"]
    assert made["integration_key"] != "a" * 32 and len(made["integration_key"]) == 32
    assert made["type"] == "events_api_v2_inbound_integration" and made["vendor"] is None
    assert made["service"]["id"] == sid and made["service"]["type"] == "service_reference"
    assert made["self"].endswith(f"/services/{sid}/integrations/{made['id']}")
    stored = api.daemon.scalar("SELECT integration_key FROM integrations WHERE id = ?", made["id"])
    assert stored == made["integration_key"]
    assert api.event(made["integration_key"]).status_code == 202


def test_vendor_decides_the_type_whatever_the_client_sends(api: Api) -> None:
    sid = api.create_service("I-vendor")["id"]
    made = api.add_integration(sid, type="service_integration", vendor={"id": "PZQ6AUS"})
    assert made["type"] == "aws_cloudwatch_inbound_integration"
    assert made["vendor"]["id"] == "PZQ6AUS" and made["vendor"]["summary"] == "Amazon CloudWatch"
    assert made["name"] == "Amazon CloudWatch"
    v1 = api.add_integration(sid, type="generic_events_api_inbound_integration", name="v1")
    assert v1["type"] == "generic_events_api_inbound_integration"


def test_email_integration(api: Api) -> None:
    sid = api.create_service("I-email")["id"]
    made = api.add_integration(
        sid, type="generic_email_inbound_integration", integration_email="shop@gw.test"
    )
    assert made["integration_email"] == "shop@gw.test"
    assert made["email_filters"] == [] and made["email_parsers"] == []


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"type": "generic_email_inbound_integration"}, "integration_email is required"),
        ({"type": "nonsense_integration"}, "unknown integration type"),
        ({"vendor": {"id": "PNOSUCH"}}, "Vendor PNOSUCH not found"),
        ({"vendor": "PZQ6AUS"}, "vendor must be an object"),
        ({}, "type is required"),
        ({"vendor": {"id": "PGWAMGR"}, "settings": {"bogus": 1}}, "bogus"),
    ],
)
def test_create_refuses_invalid_input(api: Api, body: dict[str, object], needle: str) -> None:
    sid = api.create_service(f"I-bad-{len(needle)}-{needle[:6]}")["id"]
    r = api.call("POST", f"/services/{sid}/integrations", json={"integration": body})
    error = assert_error(r, 400, 2001)
    assert any(needle in e for e in error["errors"]), error
    assert api.daemon.scalar("SELECT count(*) FROM integrations WHERE service_id = ?", sid) == 0


def test_v2_cannot_join_a_create_incidents_service(api: Api) -> None:
    sid = api.create_service("I-incidents-only", alert_creation="create_incidents")["id"]
    r = api.call(
        "POST",
        f"/services/{sid}/integrations",
        json={"integration": {"type": "events_api_v2_inbound_integration"}},
    )
    assert "create_incidents" in assert_error(r, 400, 2001)["errors"][0]


def test_create_on_missing_service_is_404_and_responder_is_403(api: Api) -> None:
    body = {"integration": {"type": "events_api_v2_inbound_integration"}}
    assert_error(api.call("POST", "/services/PNOPE00/integrations", json=body), 404, 5002)
    sid = api.create_service("I-perm")["id"]
    for role in ("observer", "limited_user"):
        r = api.call("POST", f"/services/{sid}/integrations", json=body, role=role)
        assert_error(r, 403, 2010)
    assert_error(api.call("POST", f"/services/{sid}/integrations", json=body, role=None), 401, 2006)


def test_get_with_includes_and_404s(api: Api) -> None:
    sid = api.create_service("I-get")["id"]
    made = api.add_integration(sid, vendor={"id": "PZQ6AUS"})
    path = f"/services/{sid}/integrations/{made['id']}"
    r = api.call("GET", path, role="observer")
    assert r.status_code == 200 and r.json()["integration"] == made
    full = api.call("GET", path, params=[("include[]", "services"), ("include[]", "vendors")])
    body = full.json()["integration"]
    assert body["service"]["type"] == "service" and body["service"]["name"] == "I-get"
    assert body["vendor"]["type"] == "vendor" and body["vendor"]["generic_service_type"]
    other = api.create_service("I-get-other")["id"]
    assert_error(api.call("GET", f"/services/{other}/integrations/{made['id']}"), 404, 5001)
    assert_error(api.call("GET", f"/services/{sid}/integrations/PNOPE00"), 404, 5001)
    assert_error(api.call("GET", path, role=None), 401, 2006)


def test_put_renames_with_the_unwrapped_body_and_keeps_the_key(api: Api) -> None:
    sid = api.create_service("I-rename")["id"]
    made = api.add_integration(sid)
    path = f"/services/{sid}/integrations/{made['id']}"
    r = api.call("PUT", path, json={"name": "renamed", "integration_key": "b" * 32})
    assert r.status_code == 200, r.text
    assert r.json()["integration"]["name"] == "renamed"
    assert r.json()["integration"]["integration_key"] == made["integration_key"]
    r = api.call("PUT", path, json={"integration": {"name": "wrapped"}})
    assert r.json()["integration"]["name"] == "wrapped"
    assert_error(api.call("PUT", path, json={"name": ""}), 400, 2001)
    assert_error(api.call("PUT", path, json={"name": "x"}, role="observer"), 403, 2010)


def _move_setup(api: Api, tag: str, **dest: object) -> tuple[str, str, dict[str, object]]:
    src = api.create_service(f"M-src-{tag}")["id"]
    dst = api.create_service(f"M-dst-{tag}", **dest)["id"]
    made = api.add_integration(src, type="generic_events_api_inbound_integration")
    if dest.get("alert_creation") != "create_incidents":
        made = api.add_integration(src)  # Events API v2, alerts + incidents
    return src, dst, made


def test_move_with_differences_is_409_until_confirmed(api: Api) -> None:
    policy = api.create_policy("Move target")["id"]
    src, dst, made = _move_setup(
        api,
        "diff",
        incident_urgency_rule={"type": "constant", "urgency": "low"},
        escalation_policy={"id": policy},
    )
    key = str(made["integration_key"])
    api.event(key, dedup="open-one")
    api.event(key, dedup="done-one")
    api.event(key, "resolve", dedup="done-one")
    path = f"/services/{src}/integrations/{made['id']}"
    r = api.call("PUT", path, json={"integration": {"service": {"id": dst}}})
    error = assert_error(r, 409, 2001)
    assert "confirm=true" in error["message"]
    assert error["differences"] == [
        {"field": "incident_urgency_rule", "from": "high", "to": "low"},
        {"field": "escalation_policy", "from": "PDEFALT", "to": policy},
    ]
    assert {row[1] for row in api.incidents("integration_id = ?", made["id"])} == {src}
    assert api.daemon.scalar("SELECT service_id FROM integrations WHERE id = ?", made["id"]) == src

    r = api.call("PUT", path, params={"confirm": "true"}, json={"service": {"id": dst}})
    assert r.status_code == 200, r.text
    moved = r.json()["integration"]
    assert moved["service"]["id"] == dst and moved["integration_key"] == key
    assert moved["self"].endswith(f"/services/{dst}/integrations/{made['id']}")
    incidents = api.incidents("integration_id = ?", made["id"])
    assert sorted(row[2] for row in incidents) == ["resolved", "triggered"]
    assert {row[1] for row in incidents} == {dst}
    alerts = api.daemon.query("SELECT service_id FROM alerts WHERE integration_id = ?", made["id"])
    assert alerts and {a[0] for a in alerts} == {dst}
    # the key still works and dedups into the moved alert
    assert api.event(key, "resolve", dedup="open-one").status_code == 202
    assert [row[2] for row in api.incidents("integration_id = ?", made["id"])] == [
        "resolved",
        "resolved",
    ]
    assert_error(api.call("GET", path), 404, 5001)  # no longer under the old service
    assert api.call("GET", f"/services/{dst}/integrations/{made['id']}").status_code == 200


def test_move_without_differences_needs_no_confirmation(api: Api) -> None:
    src, dst, made = _move_setup(api, "same")
    path = f"/services/{src}/integrations/{made['id']}"
    r = api.call("PUT", path, json={"service": {"id": dst}, "name": "moved and renamed"})
    assert r.status_code == 200, r.text
    assert r.json()["integration"]["service"]["id"] == dst
    assert r.json()["integration"]["name"] == "moved and renamed"


def test_move_onto_a_disabled_service_lists_status(api: Api) -> None:
    src, dst, made = _move_setup(api, "status")
    api.call("PUT", f"/services/{dst}", json={"service": {"status": "disabled"}})
    path = f"/services/{src}/integrations/{made['id']}"
    error = assert_error(api.call("PUT", path, json={"service": {"id": dst}}), 409, 2001)
    assert error["differences"] == [{"field": "status", "from": "active", "to": "disabled"}]


def test_v2_never_moves_onto_create_incidents_even_confirmed(api: Api) -> None:
    src = api.create_service("M-src-v2")["id"]
    dst = api.create_service("M-dst-v2", alert_creation="create_incidents")["id"]
    made = api.add_integration(src)
    path = f"/services/{src}/integrations/{made['id']}"
    r = api.call("PUT", path, params={"confirm": "true"}, json={"service": {"id": dst}})
    error = assert_error(r, 400, 2001)
    assert "Events API v2" in error["errors"][0] and "create_incidents" in error["errors"][0]
    assert api.daemon.scalar("SELECT service_id FROM integrations WHERE id = ?", made["id"]) == src


def test_move_to_a_missing_service_is_404(api: Api) -> None:
    src, _, made = _move_setup(api, "missing")
    path = f"/services/{src}/integrations/{made['id']}"
    assert_error(api.call("PUT", path, json={"service": {"id": "PNOPE00"}}), 404, 5002)


def test_delete_invalidates_the_key_and_keeps_incidents(api: Api) -> None:
    sid = api.create_service("I-delete")["id"]
    made = api.add_integration(sid)
    key = made["integration_key"]
    api.event(key, dedup="stays-open")
    api.event(key, dedup="was-resolved")
    api.event(key, "resolve", dedup="was-resolved")
    before = api.incidents("integration_id = ?", made["id"])
    path = f"/services/{sid}/integrations/{made['id']}"
    assert_error(api.call("DELETE", path, role="limited_user"), 403, 2010)
    r = api.call("DELETE", path)
    assert r.status_code == 204 and r.content == b""
    refused = api.event(key, dedup="stays-open")
    assert refused.status_code == 400
    assert refused.json()["errors"] == ["Invalid routing key"]
    assert api.incidents("integration_id = ?", made["id"]) == before
    assert sorted(row[2] for row in before) == ["resolved", "triggered"]
    assert api.daemon.scalar(
        "SELECT integration_key IS NULL AND deleted_at IS NOT NULL FROM integrations WHERE id = ?",
        made["id"],
    )
    assert_error(api.call("GET", path), 404, 5001)
    assert_error(api.call("DELETE", path), 404, 5001)
    listed = api.call("GET", f"/services/{sid}").json()["service"]["integrations"]
    assert listed == []

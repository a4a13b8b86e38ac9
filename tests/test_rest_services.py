"""End-to-end over HTTP: /services against a running daemon and its real database."""

from __future__ import annotations

import pytest

from tests.rest_support import Api, api, assert_error

pytestmark = pytest.mark.slow  # one real daemon process for the module (tests/rest_support.py)

__all__ = ["api"]  # the fixture, used by parameter name


def test_no_token_is_401_and_unknown_token_is_401(api: Api) -> None:
    assert_error(api.call("GET", "/services", role=None), 401, 2006)
    r = api.http.get("/services", headers={"Authorization": "Token token=nope"})
    assert_error(r, 401, 2006)
    r = api.http.get("/services", headers={"Authorization": f"Bearer {api.tokens['observer']}"})
    assert r.status_code == 200


@pytest.mark.parametrize(("role", "status"), [("observer", 403), ("limited_user", 403)])
def test_roles_below_manager_cannot_write(api: Api, role: str, status: int) -> None:
    created = api.create_service(f"perm-{role}")
    sid = created["id"]
    for method, path, body in (
        ("POST", "/services", {"service": {"name": f"nope-{role}"}}),
        ("PUT", f"/services/{sid}", {"service": {"description": "x"}}),
        ("DELETE", f"/services/{sid}", None),
    ):
        error = assert_error(api.call(method, path, role=role, json=body), status, 2010)
        assert role in error["errors"][0] and "user (Manager)" in error["errors"][0]
    assert api.call("GET", f"/services/{sid}", role=role).status_code == 200
    assert api.daemon.scalar("SELECT count(*) FROM services WHERE name = ?", f"nope-{role}") == 0
    assert api.daemon.scalar("SELECT description FROM services WHERE id = ?", sid) is None


def test_admin_can_create(api: Api) -> None:
    r = api.call("POST", "/services", role="admin", json={"service": {"name": "by-admin"}})
    assert r.status_code == 201


def test_create_returns_pagerduty_shape(api: Api) -> None:
    r = api.call(
        "POST",
        "/services",
        json={
            "service": {
                "type": "service",
                "name": "Checkout",
                "description": "the shop",
                "escalation_policy": {"id": "PDEFALT", "type": "escalation_policy_reference"},
                "incident_urgency_rule": {"type": "constant", "urgency": "severity_based"},
                "acknowledgement_timeout": None,
                "alert_grouping_parameters": {"type": "time", "config": {"timeout": 5}},
            }
        },
    )
    assert r.status_code == 201, r.text
    service = r.json()["service"]
    assert service["type"] == "service" and service["summary"] == "Checkout"
    assert service["status"] == "active"
    assert service["self"].endswith(f"/services/{service['id']}")
    assert service["escalation_policy"]["id"] == "PDEFALT"
    assert service["incident_urgency_rule"] == {"type": "constant", "urgency": "severity_based"}
    assert service["acknowledgement_timeout"] is None
    assert service["auto_resolve_timeout"] == 14400
    assert service["alert_grouping_parameters"] == {"type": "time", "config": {"timeout": 5}}
    for array in ("integrations", "teams", "addons", "scheduled_actions"):
        assert service[array] == []
    row = api.daemon.query(
        "SELECT urgency, escalation_policy_id, alert_grouping, alert_grouping_timeout "
        "FROM services WHERE id = ?",
        service["id"],
    )
    assert row == [("severity_based", "PDEFALT", "time", 5)]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"service": {"name": "Taken"}}, "Name has already been taken"),
        ({"service": {"name": "x1", "status": "disabled"}}, "status must be 'active'"),
        ({"service": {"name": "x2", "alert_creation": "sometimes"}}, "alert_creation"),
        ({"service": {"description": "no name"}}, "name must not be empty"),
        ({"service": {"name": 5}}, "name must be a string"),
        ({"service": {"name": "x3", "auto_resolve_timeout": "soon"}}, "auto_resolve_timeout"),
        (
            {"service": {"name": "x4", "incident_urgency_rule": {"type": "use_support_hours"}}},
            "use_support_hours",
        ),
        ({"service": []}, "'service' must be an object"),
        ([1, 2], "JSON object"),
    ],
)
def test_create_refuses_invalid_input_and_writes_nothing(
    api: Api, body: object, needle: str
) -> None:
    # The duplicate-name case's own service: "Checkout" belongs to the shape test, which
    # may run before or after these cases.
    if not api.daemon.scalar("SELECT 1 FROM services WHERE name = 'Taken'"):
        api.create_service("Taken")
    before = api.daemon.scalar("SELECT count(*) FROM services")
    error = assert_error(api.call("POST", "/services", json=body), 400, 2001)
    assert error["message"] == "Invalid Input Provided"
    assert any(needle in e for e in error["errors"]), error
    assert api.daemon.scalar("SELECT count(*) FROM services") == before


def test_not_json_is_400(api: Api) -> None:
    r = api.call("POST", "/services", content=b"{nope", headers={"Content-Type": "text/plain"})
    assert_error(r, 400, 2001)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_missing_service_is_404_5002(api: Api, method: str) -> None:
    body = {"service": {"description": "x"}} if method == "PUT" else None
    error = assert_error(api.call(method, "/services/PNOPE00", json=body), 404, 5002)
    assert error["message"] == "Service Not Found"


def test_update_changes_settings_and_unwrapped_body_works(api: Api) -> None:
    sid = api.create_service("Updatable")["id"]
    r = api.call(
        "PUT",
        f"/services/{sid}",
        json={"service": {"description": "new", "incident_urgency_rule": {"urgency": "low"}}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["service"]["description"] == "new"
    assert r.json()["service"]["incident_urgency_rule"]["urgency"] == "low"
    r = api.call("PUT", f"/services/{sid}", json={"name": "Updated"})
    assert r.json()["service"]["name"] == "Updated"
    assert api.daemon.scalar("SELECT name FROM services WHERE id = ?", sid) == "Updated"
    assert_error(
        api.call("PUT", f"/services/{sid}", json={"service": {"status": "critical"}}), 400, 2001
    )


def test_disable_then_enable(api: Api) -> None:
    sid = api.create_service("Toggle")["id"]
    key = api.add_integration(sid)["integration_key"]
    r = api.call("PUT", f"/services/{sid}", json={"service": {"status": "disabled"}})
    assert r.status_code == 200 and r.json()["service"]["status"] == "disabled"
    assert api.event(key, dedup="while-off").status_code == 202
    assert api.incidents("service_id = ?", sid) == []
    # the settings are kept while disabled
    settings = api.daemon.query("SELECT alert_creation, urgency FROM services WHERE id = ?", sid)
    assert settings == [("create_alerts_and_incidents", "high")]
    r = api.call("PUT", f"/services/{sid}", json={"service": {"status": "active"}})
    assert r.json()["service"]["status"] == "active"
    assert api.event(key, dedup="back-on").status_code == 202
    assert [row[2] for row in api.incidents("service_id = ?", sid)] == ["triggered"]
    assert api.call("GET", f"/services/{sid}").json()["service"]["status"] == "critical"


def test_status_warning_when_acknowledged(api: Api) -> None:
    sid = api.create_service("Acked")["id"]
    key = api.add_integration(sid)["integration_key"]
    api.event(key, dedup="a")
    api.event(key, "acknowledge", dedup="a")
    assert api.call("GET", f"/services/{sid}").json()["service"]["status"] == "warning"


def test_list_query_sort_include_and_pagination(api: Api) -> None:
    for name in ("zeta-list", "alpha-list", "Mid-list"):
        api.create_service(name)
    sid = api.call("GET", "/services", params={"query": "alpha-list"}).json()["services"][0]["id"]
    api.add_integration(sid, name="the v2")
    r = api.call("GET", "/services", params={"query": "-LIST", "total": "true"})
    body = r.json()
    assert [s["name"] for s in body["services"]] == ["alpha-list", "Mid-list", "zeta-list"]
    assert body["total"] == 3 and body["more"] is False and body["limit"] == 25
    desc = api.call("GET", "/services", params={"query": "-list", "sort_by": "name:desc"}).json()
    assert [s["name"] for s in desc["services"]] == ["zeta-list", "Mid-list", "alpha-list"]
    page = api.call("GET", "/services", params={"query": "-list", "limit": 2}).json()
    assert len(page["services"]) == 2 and page["more"] is True and page["total"] is None
    last = api.call("GET", "/services", params={"query": "-list", "limit": 2, "offset": 2}).json()
    assert [s["name"] for s in last["services"]] == ["zeta-list"] and last["more"] is False
    refs = api.call("GET", "/services", params={"query": "alpha-list"}).json()["services"][0]
    assert refs["integrations"][0]["type"] == "events_api_v2_inbound_integration_reference"
    assert "integration_key" not in refs["integrations"][0]
    full = api.call(
        "GET", "/services", params={"query": "alpha-list", "include[]": "integrations"}
    ).json()["services"][0]["integrations"][0]
    assert full["name"] == "the v2" and len(full["integration_key"]) == 32
    one = api.call("GET", f"/services/{sid}", params={"include[]": "integrations"}).json()
    assert one["service"]["integrations"][0]["integration_key"] == full["integration_key"]


@pytest.mark.parametrize(
    "params",
    [
        {"offset": 9990, "limit": 11},
        {"limit": 0},
        {"offset": -1},
        {"limit": "many"},
        {"sort_by": "created_at"},
    ],
)
def test_list_refuses_bad_arguments(api: Api, params: dict[str, object]) -> None:
    assert_error(api.call("GET", "/services", params=params), 400, 2001)


def test_list_window_edge_is_allowed(api: Api) -> None:
    r = api.call("GET", "/services", params={"offset": 9900, "limit": 100})
    assert r.status_code == 200 and r.json()["services"] == [] and r.json()["more"] is False


def test_delete_service_kills_its_keys_and_keeps_incidents(api: Api) -> None:
    sid = api.create_service("Doomed")["id"]
    key = api.add_integration(sid)["integration_key"]
    api.event(key, dedup="before")
    r = api.call("DELETE", f"/services/{sid}")
    assert r.status_code == 204 and r.content == b""
    assert_error(api.call("GET", f"/services/{sid}"), 404, 5002)
    refused = api.event(key, dedup="after")
    assert refused.status_code == 400 and "Invalid routing key" in refused.text
    assert [row[2] for row in api.incidents("service_id = ?", sid)] == ["triggered"]
    assert api.create_service("Doomed")["id"] != sid  # the name is free again


def test_permission_matrix_for_services_integrations_and_vendors(api: Api) -> None:
    """Every role against every endpoint here: reads for all, writes for manager and above."""
    may_write = {"observer": False, "limited_user": False, "user": True, "admin": True}
    for role, allowed in may_write.items():
        sid = api.create_service(f"matrix-{role}")["id"]
        iid = api.add_integration(sid)["id"]
        other = api.create_service(f"matrix-{role}-to")["id"]
        reads = [
            ("GET", "/services", None),
            ("GET", f"/services/{sid}", None),
            ("GET", f"/services/{sid}/integrations/{iid}", None),
            ("GET", "/vendors", None),
            ("GET", "/vendors/PZQ6AUS", None),
        ]
        for method, path, body in reads:
            assert api.call(method, path, role=role, json=body).status_code == 200, (role, path)
        writes = [
            ("POST", "/services", {"service": {"name": f"matrix-{role}-new"}}, 201),
            ("PUT", f"/services/{sid}", {"service": {"description": "d"}}, 200),
            (
                "POST",
                f"/services/{sid}/integrations",
                {"integration": {"type": "events_api_v2_inbound_integration"}},
                201,
            ),
            ("PUT", f"/services/{sid}/integrations/{iid}", {"name": "n"}, 200),
            ("PUT", f"/services/{sid}/integrations/{iid}", {"service": {"id": other}}, 200),
            ("DELETE", f"/services/{other}/integrations/{iid}", None, 204),
            ("DELETE", f"/services/{sid}", None, 204),
        ]
        for method, path, body, status in writes:
            r = api.call(method, path, role=role, json=body)
            if allowed:
                assert r.status_code == status, (role, method, path, r.text)
            else:
                assert_error(r, 403, 2010)
    # owner: a token stored with the owner role may write too
    from gateway.auth import hash_token, new_token
    from gateway.store.offline import write_sync

    secret = new_token()
    write_sync(
        api.daemon.db_path,
        lambda tx: tx.insert_token(
            name="owner", role="owner", token_hash=hash_token(secret), last4=secret[-4:]
        ),
    )
    r = api.http.post(
        "/services",
        json={"service": {"name": "matrix-owner"}},
        headers={"Authorization": f"Token token={secret}"},
    )
    assert r.status_code == 201


def test_refused_writes_keep_the_connection_usable(api: Api) -> None:
    """A 401/403 sent before the body was read must not drop the keep-alive connection.

    Without draining the body hypercorn closed the connection under the client about one
    time in a hundred ("Server disconnected without sending a response").
    """
    body = {"service": {"name": "never", "description": "x" * 2000}}
    for _ in range(150):
        assert api.call("POST", "/services", role="observer", json=body).status_code == 403
        assert api.call("POST", "/services", role=None, json=body).status_code == 401
        assert api.call("GET", "/vendors", role="observer").status_code == 200

"""REST users, contact methods and notification rules over real HTTP, against PagerDuty's shapes."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.core import tokens
from gateway.store.offline import write_sync
from tests.rest_support import Api, api

pytestmark = pytest.mark.slow  # one real daemon process for the module (tests/rest_support.py)

__all__ = ["api"]  # the fixture, used by parameter name


def _user(api: Api, name: str, email: str, **fields: Any) -> dict[str, Any]:
    r = api.call(
        "POST", "/users", role="admin", json={"user": {"name": name, "email": email, **fields}}
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()["user"]
    return body


def _user_token(api: Api, ref: str, role: str | None = None) -> str:
    """A new API token belonging to the user ``ref`` (id or email)."""
    _, secret = write_sync(
        api.daemon.db_path,
        lambda tx: tokens.create_token(tx, name=f"token of {ref}", role=role, user=ref),
    )
    return secret


def _as(secret: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Token token={secret}", **headers}


def test_create_user_has_pagerdutys_shape_and_defaults(api: Api) -> None:
    made = _user(api, "Ada Lovelace", "ada@example.com", time_zone="Europe/London")
    assert made["type"] == "user" and made["summary"] == "Ada Lovelace"
    assert (made["email"], made["time_zone"], made["role"]) == (
        "ada@example.com", "Europe/London", "user",
    )  # fmt: skip
    assert made["self"].endswith(f"/users/{made['id']}")
    # PagerDuty's defaults: an email contact method to the address, rules at 0 minutes.
    [method] = made["contact_methods"]
    assert method["type"] == "email_contact_method_reference" and method["summary"] == "Default"
    assert len(made["notification_rules"]) == 2
    full = api.call(
        "GET",
        f"/users/{made['id']}?include[]=contact_methods&include[]=notification_rules",
        role="observer",
    ).json()["user"]
    assert full["contact_methods"][0]["address"] == "ada@example.com"
    assert sorted(
        (r["urgency"], r["start_delay_in_minutes"], r["contact_method"]["id"])
        for r in full["notification_rules"]
    ) == [("high", 0, method["id"]), ("low", 0, method["id"])]


def test_email_is_unique_whatever_its_case_and_checked(api: Api) -> None:
    _user(api, "Grace Hopper", "grace@example.com")
    for email, why in (
        ("GRACE@Example.com", "already used"),
        ("not-an-address", "not an email address"),
    ):
        r = api.call("POST", "/users", role="admin", json={"user": {"name": "G", "email": email}})
        assert r.status_code == 400 and why in str(r.json()["error"]["errors"]), r.text


def test_bad_fields_are_400_listing_each_and_store_nothing(api: Api) -> None:
    before = api.call("GET", "/users?total=true", role="observer").json()["total"]
    r = api.call(
        "POST",
        "/users",
        role="admin",
        json={"user": {"name": "", "email": "x@example.com", "time_zone": "Mars/Base",
                       "role": "emperor"}},
    )  # fmt: skip
    assert r.status_code == 400
    errors = " ".join(r.json()["error"]["errors"])
    assert "name" in errors and "Mars/Base" in errors and "emperor" in errors
    assert api.call("GET", "/users?total=true", role="observer").json()["total"] == before


def test_only_admins_add_and_delete_users(api: Api) -> None:
    r = api.call("POST", "/users", role="user", json={"user": {"name": "M", "email": "m@ex.com"}})
    assert r.status_code == 403 and "'user' role" in r.json()["error"]["errors"][0]
    made = _user(api, "Temp", "temp@example.com")
    assert api.call("DELETE", f"/users/{made['id']}", role="user").status_code == 403
    assert api.call("DELETE", f"/users/{made['id']}", role="admin").status_code == 204
    gone = api.call("GET", f"/users/{made['id']}", role="observer")
    assert gone.status_code == 404 and gone.json()["error"]["message"] == "User Not Found"
    # The address is free again once its user is deleted.
    _user(api, "Temp again", "TEMP@example.com")


def test_list_filters_by_query_and_pages(api: Api) -> None:
    for i in range(3):
        _user(api, f"Pager Person {i}", f"pager{i}@list.example")
    r = api.call("GET", "/users?query=list.example&limit=2&total=true", role="observer")
    body = r.json()
    assert [u["name"] for u in body["users"]] == ["Pager Person 0", "Pager Person 1"]
    assert (body["more"], body["total"], body["limit"]) == (True, 3, 2)
    second = api.call("GET", "/users?query=PERSON&offset=2&limit=2", role="observer").json()
    assert [u["name"] for u in second["users"]] == ["Pager Person 2"] and not second["more"]


def test_unsupported_include_and_team_filters_are_refused(api: Api) -> None:
    for query in ("include[]=teams", "team_ids[]=PTEAM"):
        r = api.call("GET", f"/users?{query}", role="observer")
        assert r.status_code == 400, r.text


def test_update_user_and_the_users_own_token(api: Api) -> None:
    made = _user(api, "Linus", "linus@example.com")
    r = api.call(
        "PUT", f"/users/{made['id']}", role="admin",
        json={"user": {"job_title": "Kernel", "time_zone": "America/New_York"}},
    )  # fmt: skip
    assert r.status_code == 200 and r.json()["user"]["job_title"] == "Kernel"
    own = _user_token(api, "LINUS@example.com")
    mine = api.http.put(
        f"/users/{made['id']}", headers=_as(own), json={"user": {"description": "hi"}}
    )
    assert mine.status_code == 200 and mine.json()["user"]["description"] == "hi"
    raise_role = api.http.put(
        f"/users/{made['id']}", headers=_as(own), json={"user": {"role": "owner"}}
    )
    assert raise_role.status_code == 403
    other = _user(api, "Other", "other@example.com")
    assert (
        api.http.put(f"/users/{other['id']}", headers=_as(own), json={"user": {}}).status_code
        == 403
    )


def test_users_me_answers_for_a_users_token_only(api: Api) -> None:
    made = _user(api, "Me Myself", "me@example.com", role="limited_user")
    own = _user_token(api, made["id"])
    me = api.http.get("/users/me", headers=_as(own))
    assert me.status_code == 200 and me.json()["user"]["id"] == made["id"]
    account = api.call("GET", "/users/me", role="observer")
    assert account.status_code == 400 and "belongs to a user" in account.text


def test_a_users_token_needs_no_from_header(api: Api) -> None:
    made = _user(api, "Window Opener", "opener@example.com", role="user")
    own = _user_token(api, made["id"])
    service = api.create_service("people-from-default")
    window = {
        "maintenance_window": {
            "type": "maintenance_window",
            "start_time": "2030-01-01T00:00:00Z",
            "end_time": "2030-01-01T01:00:00Z",
            "services": [{"id": service["id"], "type": "service_reference"}],
        }
    }
    r = api.http.post("/maintenance_windows", headers=_as(own), json=window)
    assert r.status_code == 201, r.text
    assert r.json()["maintenance_window"]["created_by"]["summary"] == "opener@example.com"
    # An account token still needs From, as PagerDuty's do.
    assert api.call("POST", "/maintenance_windows", json=window).status_code == 400


def test_contact_methods_types_addresses_and_uniqueness(api: Api) -> None:
    made = _user(api, "Contact", "contact@example.com")
    base = f"/users/{made['id']}/contact_methods"
    sms = api.call(
        "POST", base, role="admin",
        json={"contact_method": {"type": "sms_contact_method", "label": "Mobile",
                                 "address": "5551234"}},
    )  # fmt: skip
    assert sms.status_code == 400 and "no loaded plugin" in str(sms.json()["error"]["errors"])
    bad = api.call(
        "POST", base, role="admin",
        json={"contact_method": {"type": "email_contact_method", "label": "W",
                                 "address": "nope"}},
    )  # fmt: skip
    assert bad.status_code == 400
    dup = api.call(
        "POST", base, role="admin",
        json={"contact_method": {"type": "email_contact_method", "label": "Again",
                                 "address": "CONTACT@example.com"}},
    )  # fmt: skip
    assert dup.status_code == 400 and "unique" in dup.text
    work = api.call(
        "POST", base, role="admin",
        json={"contact_method": {"type": "email_contact_method", "label": "Work",
                                 "address": "work@example.com"}},
    )  # fmt: skip
    assert work.status_code == 201, work.text
    method = work.json()["contact_method"]
    assert (method["type"], method["label"], method["address"], method["summary"]) == (
        "email_contact_method", "Work", "work@example.com", "Work",
    )  # fmt: skip
    listed = api.call("GET", base, role="observer").json()["contact_methods"]
    assert [m["label"] for m in listed] == ["Default", "Work"]
    r = api.call(
        "PUT", f"{base}/{method['id']}", role="admin", json={"contact_method": {"label": "Office"}}
    )
    assert r.status_code == 200 and r.json()["contact_method"]["label"] == "Office"
    assert api.call("DELETE", f"{base}/{method['id']}", role="admin").status_code == 204
    assert api.call("GET", f"{base}/{method['id']}", role="observer").status_code == 404


def test_notification_rules_and_a_contact_method_in_use(api: Api) -> None:
    made = _user(api, "Ruled", "ruled@example.com")
    other = _user(api, "Someone Else", "else@example.com")
    default = made["contact_methods"][0]["id"]
    base = f"/users/{made['id']}/notification_rules"

    def rule(**fields: Any) -> Any:
        return api.call("POST", base, role="admin", json={"notification_rule": fields})

    ref = {"id": default, "type": "email_contact_method_reference"}
    r = rule(type="assignment_notification_rule", start_delay_in_minutes=5, urgency="high",
             contact_method=ref)  # fmt: skip
    assert r.status_code == 201, r.text
    five = r.json()["notification_rule"]
    assert (five["start_delay_in_minutes"], five["urgency"], five["contact_method"]["id"]) == (
        5, "high", default,
    )  # fmt: skip
    foreign = {"id": other["contact_methods"][0]["id"], "type": "email_contact_method_reference"}
    for fields in (
        {"start_delay_in_minutes": -1, "urgency": "high", "contact_method": ref},
        {"start_delay_in_minutes": 1.5, "urgency": "high", "contact_method": ref},
        {"start_delay_in_minutes": 0, "urgency": "urgent", "contact_method": ref},
        {"start_delay_in_minutes": 0, "urgency": "high", "contact_method": foreign},
    ):
        assert rule(**fields).status_code == 400, fields
    high = api.call("GET", f"{base}?urgency=high", role="observer").json()["notification_rules"]
    assert [r["start_delay_in_minutes"] for r in high] == [0, 5]
    full = api.call("GET", f"{base}/{five['id']}?include[]=contact_methods", role="observer")
    assert full.json()["notification_rule"]["contact_method"]["address"] == "ruled@example.com"
    # The default email is used by three rules: deleting it is refused, naming them.
    in_use = api.call("DELETE", f"/users/{made['id']}/contact_methods/{default}", role="admin")
    assert in_use.status_code == 400 and five["id"] in in_use.text
    changed = api.call(
        "PUT", f"{base}/{five['id']}", role="admin",
        json={"notification_rule": {"start_delay_in_minutes": 10, "urgency": "low"}},
    )  # fmt: skip
    assert changed.json()["notification_rule"]["urgency"] == "low"
    for r in api.call("GET", base, role="observer").json()["notification_rules"]:
        assert api.call("DELETE", f"{base}/{r['id']}", role="admin").status_code == 204
    gone = api.call("DELETE", f"/users/{made['id']}/contact_methods/{default}", role="admin")
    assert gone.status_code == 204


def test_a_user_edits_their_own_contact_methods_only(api: Api) -> None:
    made = _user(api, "Self Service", "self@example.com", role="limited_user")
    other = _user(api, "Not Me", "notme@example.com")
    own = _user_token(api, made["id"])
    body = {"contact_method": {"type": "email_contact_method", "label": "Home",
                               "address": "home@example.com"}}  # fmt: skip
    mine = api.http.post(f"/users/{made['id']}/contact_methods", headers=_as(own), json=body)
    assert mine.status_code == 201, mine.text
    theirs = api.http.post(f"/users/{other['id']}/contact_methods", headers=_as(own), json=body)
    assert theirs.status_code == 403 and "limited_user" in theirs.text
    as_manager = api.call("POST", f"/users/{other['id']}/contact_methods", json=body)
    assert as_manager.status_code == 403


def test_unknown_user_is_404_everywhere(api: Api) -> None:
    for path in (
        "/users/PNOSUCH",
        "/users/PNOSUCH/contact_methods",
        "/users/PNOSUCH/notification_rules",
        "/users/PNOSUCH/contact_methods/PX",
    ):
        r = api.call("GET", path, role="observer")
        assert r.status_code == 404, (path, r.text)


def test_a_deleted_users_token_keeps_working_as_an_account_token(api: Api) -> None:
    made = _user(api, "Leaving", "leaving@example.com", role="user")
    own = _user_token(api, made["id"])
    assert api.http.get("/users/me", headers=_as(own)).status_code == 200
    assert api.call("DELETE", f"/users/{made['id']}", role="admin").status_code == 204
    assert api.http.get("/services", headers=_as(own)).status_code == 200
    me = api.http.get("/users/me", headers=_as(own))
    assert me.status_code == 400 and "account token" in me.text


def test_status_change_rules_are_a_notification_rule_type(api: Api) -> None:
    made = _user(api, "Watcher", "watcher@example.com")
    ref = {"id": made["contact_methods"][0]["id"], "type": "email_contact_method_reference"}
    base = f"/users/{made['id']}/notification_rules"

    def rule(**fields: Any) -> Any:
        return api.call("POST", base, role="admin", json={"notification_rule": fields})

    r = rule(type="status_change_notification_rule", contact_method=ref)
    assert r.status_code == 201, r.text
    change = r.json()["notification_rule"]
    assert (change["type"], change["urgency"], change["start_delay_in_minutes"]) == (
        "status_change_notification_rule", "high", 0,
    )  # fmt: skip
    for fields, why in (
        ({"urgency": "low"}, "for high-urgency incidents only"),
        ({"start_delay_in_minutes": 5}, "notifies at once"),
        ({"type": "status_update_notification_rule"}, "type must be one of"),
    ):
        body = {"type": "status_change_notification_rule", "contact_method": ref, **fields}
        refused = rule(**body)
        assert refused.status_code == 400 and why in refused.text, (fields, refused.text)
    listed = api.call("GET", base, role="observer").json()["notification_rules"]
    assert sorted(r["type"] for r in listed) == [
        "assignment_notification_rule", "assignment_notification_rule",
        "status_change_notification_rule",
    ]  # fmt: skip
    user = api.call("GET", f"/users/{made['id']}", role="observer").json()["user"]
    assert "status_change_notification_rule_reference" in {
        r["type"] for r in user["notification_rules"]
    }
    # An assignment rule with a delay cannot become a status-change rule; at 0 it can.
    low = next(r for r in listed if r["urgency"] == "low")
    high = next(r for r in listed if r["type"] == "assignment_notification_rule" and r is not low)
    assert api.call(
        "PUT", f"{base}/{low['id']}", role="admin",
        json={"notification_rule": {"type": "status_change_notification_rule"}},
    ).status_code == 400  # fmt: skip
    moved = api.call(
        "PUT", f"{base}/{high['id']}", role="admin",
        json={"notification_rule": {"type": "status_change_notification_rule"}},
    )  # fmt: skip
    assert moved.json()["notification_rule"]["type"] == "status_change_notification_rule"

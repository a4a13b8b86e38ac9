"""REST incidents over real HTTP: list, get, ack/resolve, bulk, create, alerts, log entries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.clock import FakeClock
from gateway.hookspecs import hookimpl
from gateway.model import IncidentChange
from gateway.testing import gateway_running
from tests.incident_helpers import (
    CONFIG,
    DB_KEY,
    FROM,
    OFF_KEY,
    WEB_KEY,
    error,
    headers,
    make_tokens,
    service_id,
    trigger,
)

ACK = {"incident": {"type": "incident_reference", "status": "acknowledged"}}
RESOLVE = {"incident": {"type": "incident_reference", "status": "resolved"}}


class Observer:
    """An in-process plugin that records ``incident_changed`` calls."""

    def __init__(self) -> None:
        self.changes: list[IncidentChange] = []

    @hookimpl
    def incident_changed(self, change: IncidentChange) -> None:
        self.changes.append(change)


async def test_tokens_roles_and_the_from_header_are_enforced(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        await trigger(gw.client, WEB_KEY, "auth")
        http = gw.client
        assert error(await http.get("/incidents")) == (401, 2006, "Authentication failed")
        bad = {"Authorization": "Token token=nope"}
        assert error(await http.get("/incidents", headers=bad))[:2] == (401, 2006)
        # An observer reads but cannot acknowledge, resolve or create.
        observer = headers(tokens["observer"])
        assert (await http.get("/incidents", headers=observer)).status_code == 200
        denied = await http.put("/incidents/1", headers=observer, json=ACK)
        assert error(denied)[:2] == (403, 2010)
        assert "observer" in denied.json()["error"]["errors"][0]
        assert error(await http.put("/incidents", headers=observer, json={"incidents": []}))[
            :2
        ] == (403, 2010)
        assert error(await http.post("/incidents", headers=observer, json={}))[:2] == (403, 2010)
        # Writes need From: missing is 2016, malformed 1028, and nothing changes.
        responder = tokens["limited_user"]
        missing = await http.put("/incidents/1", headers=headers(responder, None), json=ACK)
        assert error(missing)[:2] == (400, 2016)
        assert '"From" header' in error(missing)[2]
        malformed = await http.put("/incidents/1", headers=headers(responder, "bob"), json=ACK)
        assert error(malformed) == (400, 1028, 'Malformed "From" header')
        for path, body in (("/incidents", {"incidents": [ACK["incident"]]}), ("/incidents", {})):
            method = http.put if body.get("incidents") else http.post
            assert error(await method(path, headers=headers(responder, None), json=body))[:2] == (
                400,
                2016,
            )
        (incident,) = await gw.incidents()
        assert incident.status == "triggered"


async def test_not_found_by_id_and_by_number(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        await trigger(gw.client, WEB_KEY, "nf")
        (incident,) = await gw.incidents()
        view, act = headers(tokens["observer"]), headers(tokens["limited_user"])
        by_number = (await gw.client.get("/incidents/1", headers=view)).json()["incident"]
        by_id = (await gw.client.get(f"/incidents/{incident.id}", headers=view)).json()
        assert by_number == by_id["incident"] and by_number["id"] == incident.id
        for ident in ("QNOSUCHINCIDENT", "99"):
            for path in ("", "/alerts", "/log_entries"):
                answer = await gw.client.get(f"/incidents/{ident}{path}", headers=view)
                assert error(answer) == (404, 5001, "Incident Not Found")
            assert error(await gw.client.put(f"/incidents/{ident}", headers=act, json=ACK)) == (
                404,
                5001,
                "Incident Not Found",
            )


async def test_acknowledge_then_resolve_with_alerts_and_timeline(tmp_path: Path) -> None:
    observer = Observer()
    async with gateway_running(tmp_path, CONFIG, plugins=[("observer", observer)]) as gw:
        tokens = await make_tokens(gw)
        http = gw.client
        await trigger(http, WEB_KEY, "life", summary="CPU hot", custom_details={"cpu": 99})
        act = headers(tokens["limited_user"])
        answer = await http.put("/incidents/1", headers=act, json=ACK)
        assert answer.status_code == 200, answer.text
        incident = answer.json()["incident"]
        assert incident["status"] == "acknowledged"
        assert incident["summary"] == "[#1] CPU hot"
        assert incident["last_status_change_by"]["id"] == FROM
        assert [a["acknowledger"]["summary"] for a in incident["acknowledgements"]] == [FROM]
        # Acknowledging again is allowed (it restarts the acknowledgement) and logged.
        again = await http.put("/incidents/1", headers=headers(tokens["user"], "b@x.io"), json=ACK)
        assert again.status_code == 200
        # The plain unwrapped body (go-pagerduty style) works too.
        answer = await http.put("/incidents/1", headers=act, json={"status": "resolved"})
        assert answer.status_code == 200, answer.text
        incident = answer.json()["incident"]
        assert incident["status"] == "resolved" and incident["resolved_at"]
        assert incident["alert_counts"] == {"all": 1, "triggered": 0, "resolved": 1}
        assert incident["acknowledgements"] == []
        # Resolving resolved the alert too.
        alerts = (await http.get("/incidents/1/alerts", headers=act)).json()["alerts"]
        assert [(a["status"], a["alert_key"]) for a in alerts] == [("resolved", "life")]
        assert alerts[0]["body"]["details"] == {"cpu": 99}
        assert alerts[0]["incident"]["id"] == incident["id"]
        assert alerts[0]["self"].endswith(f"/incidents/{incident['id']}/alerts/{alerts[0]['id']}")
        # Already resolved: resolving again is refused with 1001 (acknowledging would
        # reopen it: tests/test_incident_reopen.py).
        assert error(await http.put("/incidents/1", headers=act, json=RESOLVE)) == (
            400,
            1001,
            "Incident Already Resolved",
        )
        assert error(await http.put("/incidents/1", headers=act, json={"status": "snoozed"}))[
            :2
        ] == (400, 1003)
        entries = (await http.get("/incidents/1/log_entries", headers=act)).json()["log_entries"]
        assert [(e["type"], e["agent"]["type"], e["agent"]["summary"]) for e in entries] == [
            ("trigger_log_entry", "inbound_integration_reference", "v2"),
            ("acknowledge_log_entry", "user_reference", FROM),
            ("acknowledge_log_entry", "user_reference", "b@x.io"),
            ("resolve_log_entry", "user_reference", FROM),
        ]
        # Later events are appended to the same timeline (a new trigger opens a new incident).
        await trigger(http, WEB_KEY, "life")
        assert len(await gw.incidents()) == 2
        # Observers saw each committed status change, in order.
        assert [(c.incident_number, c.action, c.status) for c in observer.changes] == [
            (1, "trigger", "triggered"),
            (1, "acknowledge", "acknowledged"),
            (1, "resolve", "resolved"),
            (2, "trigger", "triggered"),
        ]


async def test_event_resolve_and_ack_appear_in_the_timeline(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        await trigger(gw.client, WEB_KEY, "ev")
        for action in ("acknowledge", "resolve"):
            body = {"routing_key": WEB_KEY, "event_action": action, "dedup_key": "ev"}
            assert (await gw.client.post("/v2/enqueue", json=body)).status_code == 202
        answer = await gw.client.get("/incidents/1/log_entries", headers=headers(tokens["admin"]))
        entries = answer.json()["log_entries"]
        assert [e["type"] for e in entries] == [
            "trigger_log_entry",
            "acknowledge_log_entry",
            "resolve_log_entry",
        ]
        assert {e["agent"]["type"] for e in entries} == {"inbound_integration_reference"}
        incident = (await gw.client.get("/incidents/1", headers=headers(tokens["admin"]))).json()
        assert incident["incident"]["last_status_change_by"]["summary"] == "v2"


async def test_bulk_update_limits_and_all_or_nothing(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        for n in range(3):
            await trigger(gw.client, WEB_KEY, f"bulk{n}")
        act = headers(tokens["limited_user"])
        ids = [i.id for i in sorted(await gw.incidents(), key=lambda i: i.number)]
        too_many = [{"id": ids[0], "type": "incident_reference", "status": "resolved"}] * 251
        answer = await gw.client.put("/incidents", headers=act, json={"incidents": too_many})
        assert error(answer)[:2] == (413, 2001)
        assert "250" in answer.json()["error"]["errors"][0]
        # One unknown id: 404 and the earlier ones in the list are not changed either.
        mixed = [
            {"id": ids[0], "type": "incident_reference", "status": "resolved"},
            {"id": "QMISSING", "type": "incident_reference", "status": "resolved"},
        ]
        answer = await gw.client.put("/incidents", headers=act, json={"incidents": mixed})
        assert error(answer)[:2] == (404, 5001)
        assert {i.status for i in await gw.incidents()} == {"triggered"}
        for body in ({"incidents": []}, {"incidents": "x"}, [1], {"incidents": [{"status": "x"}]}):
            assert error(await gw.client.put("/incidents", headers=act, json=body))[0] == 400
        good = [
            {"id": ids[0], "type": "incident_reference", "status": "resolved"},
            {"id": ids[1], "type": "incident_reference", "status": "acknowledged"},
        ]
        answer = await gw.client.put("/incidents", headers=act, json={"incidents": good})
        assert answer.status_code == 200, answer.text
        assert [i["status"] for i in answer.json()["incidents"]] == ["resolved", "acknowledged"]
        statuses = {i.id: i.status for i in await gw.incidents()}
        assert [statuses[i] for i in ids] == ["resolved", "acknowledged", "triggered"]


async def test_filters_sorting_and_pagination(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 5, 1, tzinfo=UTC))
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        tokens = await make_tokens(gw)
        http, view = gw.client, headers(tokens["observer"])
        await trigger(http, WEB_KEY, "old")  # #1, 40 days before the rest
        clock.advance(40 * 86400)
        await trigger(http, WEB_KEY, "w1")  # #2 high
        await trigger(http, DB_KEY, "d1", severity="warning")  # #3 low
        await trigger(http, DB_KEY, "d2", severity="critical")  # #4 high
        await trigger(http, WEB_KEY, "w2")  # #5 high
        await http.put("/incidents/2", headers=headers(tokens["user"]), json=ACK)
        await http.put("/incidents/5", headers=headers(tokens["user"]), json=RESOLVE)
        db = await service_id(gw, "Database")

        async def numbers(query: str) -> list[int]:
            answer = await http.get(f"/incidents?{query}", headers=view)
            assert answer.status_code == 200, answer.text
            return [i["incident_number"] for i in answer.json()["incidents"]]

        assert await numbers("") == [2, 3, 4, 5]  # the last 30 days by default
        assert await numbers("date_range=all") == [1, 2, 3, 4, 5]
        assert await numbers("since=2026-04-01T00:00:00Z&until=2026-05-02T00:00:00Z") == [1]
        assert await numbers("statuses[]=triggered&statuses[]=acknowledged") == [2, 3, 4]
        assert await numbers("statuses[]=resolved") == [5]
        assert await numbers(f"service_ids[]={db}") == [3, 4]
        assert await numbers("urgencies[]=low") == [3]
        assert await numbers("incident_key=d2") == [4]
        assert await numbers("sort_by=incident_number:desc") == [5, 4, 3, 2]
        assert await numbers("sort_by=urgency:asc,incident_number:desc") == [3, 5, 4, 2]
        assert await numbers("sort_by=urgency:desc&sort_by=created_at:asc") == [2, 4, 5, 3]
        assert await numbers("sort_by=resolved_at:desc&statuses[]=resolved") == [5]
        page = (await http.get("/incidents?limit=2&offset=1&total=true", headers=view)).json()
        assert [i["incident_number"] for i in page["incidents"]] == [3, 4]
        assert (page["limit"], page["offset"], page["more"], page["total"]) == (2, 1, True, 4)
        last = (await http.get("/incidents?limit=2&offset=2", headers=view)).json()
        assert (last["more"], last["total"]) == (False, None)
        for query in (
            "sort_by=title",
            "sort_by=urgency:up",
            "sort_by=urgency,created_at,incident_number",
            "statuses[]=open",
            "urgencies[]=medium",
            "since=yesterday",
            "since=2026-06-10T00:00:00Z&until=2026-06-01T00:00:00Z",
            "date_range=week",
            "limit=100&offset=9950",
            "limit=x",
        ):
            assert error(await http.get(f"/incidents?{query}", headers=view))[:2] == (400, 2001)


async def test_incident_key_filter_matches_alert_keys(tmp_path: Path) -> None:
    config = CONFIG.replace('name = "Web"', 'name = "Web"\nalert_grouping = "time"', 1)
    async with gateway_running(tmp_path, config) as gw:
        tokens = await make_tokens(gw)
        await trigger(gw.client, WEB_KEY, "first")
        await trigger(gw.client, WEB_KEY, "second")  # grouped into incident #1
        answer = await gw.client.get(
            "/incidents?incident_key=second", headers=headers(tokens["observer"])
        )
        found = answer.json()["incidents"]
        assert [(i["incident_number"], i["incident_key"]) for i in found] == [(1, "first")]
        alerts = await gw.client.get(
            "/incidents/1/alerts?alert_key=second", headers=headers(tokens["observer"])
        )
        assert [a["alert_key"] for a in alerts.json()["alerts"]] == ["second"]
        bad = await gw.client.get(
            "/incidents/1/alerts?statuses[]=acknowledged", headers=headers(tokens["observer"])
        )
        assert error(bad)[:2] == (400, 2001)


async def test_create_incident_by_hand(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        http, act = gw.client, headers(tokens["limited_user"])
        web, off = await service_id(gw, "Web"), await service_id(gw, "Retired")

        def body(**fields: Any) -> dict[str, Any]:
            incident = {
                "type": "incident",
                "title": "Payments down",
                "service": {"id": web, "type": "service_reference"},
                **fields,
            }
            return {"incident": incident}

        details = {"type": "incident_body", "details": "Card payments fail since 10:02"}
        answer = await http.post(
            "/incidents", headers=act, json=body(incident_key="pay-1", body=details, urgency="low")
        )
        assert answer.status_code == 201, answer.text
        created = answer.json()["incident"]
        assert (created["title"], created["status"], created["urgency"]) == (
            "Payments down",
            "triggered",
            "low",
        )
        assert created["incident_key"] == "pay-1" and created["service"]["id"] == web
        assert created["body"] == details
        assert created["alert_counts"] == {"all": 0, "triggered": 0, "resolved": 0}
        assert created["first_trigger_log_entry"]["type"] == "trigger_log_entry_reference"
        entries = (await http.get("/incidents/1/log_entries", headers=act)).json()["log_entries"]
        assert [(e["type"], e["agent"]["id"]) for e in entries] == [("trigger_log_entry", FROM)]
        got = await http.get("/incidents/1?include[]=body", headers=act)
        assert got.json()["incident"]["body"] == details
        # A duplicate open key on the same service is refused; nothing is written.
        duplicate = await http.post("/incidents", headers=act, json=body(incident_key="pay-1"))
        assert error(duplicate)[:2] == (400, 2001)
        assert "already exists" in duplicate.json()["error"]["errors"][0]
        assert len(await gw.incidents()) == 1
        # Once resolved, the key may be used again; no key at all gets a generated one.
        await http.put("/incidents/1", headers=act, json=RESOLVE)
        again = await http.post("/incidents", headers=act, json=body(incident_key="pay-1"))
        assert again.status_code == 201, again.text
        generated = (await http.post("/incidents", headers=act, json=body())).json()["incident"]
        assert len(generated["incident_key"]) == 32 and generated["urgency"] == "high"
        # A disabled service refuses, clearly.
        refused = await http.post(
            "/incidents", headers=act, json=body(service={"id": off, "type": "service_reference"})
        )
        assert error(refused) == (400, 2001, "Service is disabled")
        assert "Retired" in refused.json()["error"]["errors"][0]
        missing = await http.post(
            "/incidents", headers=act, json=body(service={"id": "PNOPE00", "type": "x"})
        )
        assert error(missing) == (404, 5002, "Service Not Found")
        for bad in (
            body(title=""),
            body(title=42),
            body(urgency="urgent"),
            body(service="Web"),
            {"incident": "x"},
        ):
            assert error(await http.post("/incidents", headers=act, json=bad))[:2] == (400, 2001)
        assert error(await http.post("/incidents", headers=act, content=b"not json"))[0] == 400
        assert len(await gw.incidents()) == 3


async def test_each_log_entry_is_reachable_at_its_self_url(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        admin = headers(tokens["admin"])
        await trigger(gw.client, WEB_KEY, "selfurl")
        listed = (await gw.client.get("/incidents/1/log_entries", headers=admin)).json()
        (entry,) = listed["log_entries"]
        assert entry["self"].endswith(f"/log_entries/{entry['id']}")
        one = await gw.client.get(f"/log_entries/{entry['id']}", headers=admin)
        assert one.status_code == 200, one.text
        assert one.json() == {"log_entry": entry}

        # An event for a disabled service is logged against the service, with no incident.
        await trigger(gw.client, OFF_KEY, "suppressed")
        suppressed = await gw.store.read(
            lambda r: r.conn.execute(
                "SELECT id FROM log_entries "
                "WHERE incident_id IS NULL AND type = 'suppress_log_entry'"
            ).fetchone()[0]
        )
        alone = (await gw.client.get(f"/log_entries/{suppressed}", headers=admin)).json()
        assert alone["log_entry"]["incident"] is None
        assert alone["log_entry"]["service"]["summary"] == "Retired"

        missing = await gw.client.get("/log_entries/PNOSUCH", headers=admin)
        assert error(missing) == (404, 5001, "Log Entry Not Found")
        assert (await gw.client.get(f"/log_entries/{entry['id']}")).status_code == 401

"""REST maintenance windows over real HTTP: create, list, get, update, end/delete, expiry."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.clock import FakeClock
from gateway.testing import TestGateway, gateway_running
from tests.incident_helpers import (
    CONFIG,
    DB_KEY,
    FROM,
    WEB_KEY,
    error,
    headers,
    make_tokens,
    service_id,
    trigger,
)

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CONFIG_WINDOW = """
[[maintenance_windows]]
services = ["Database"]
start = 2026-06-01T00:00:00Z
end = 2026-06-02T00:00:00Z
description = "from the file"
"""


def window(services: list[str], start: str, end: str, **extra: Any) -> dict[str, Any]:
    """A ``POST /maintenance_windows`` body."""
    refs = [{"id": s, "type": "service_reference"} for s in services]
    return {
        "maintenance_window": {
            "type": "maintenance_window",
            "start_time": start,
            "end_time": end,
            "services": refs,
            **extra,
        }
    }


async def incident_count(gw: TestGateway) -> int:
    return len(await gw.incidents())


async def test_a_window_stops_incidents_until_it_is_ended(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        tokens = await make_tokens(gw)
        http, manage = gw.client, headers(tokens["user"])
        web = await service_id(gw, "Web")
        body = window([web], "2026-06-01T11:00:00Z", "2026-06-01T14:00:00Z", description="deploy")
        answer = await http.post("/maintenance_windows", headers=manage, json=body)
        assert answer.status_code == 201, answer.text
        created = answer.json()["maintenance_window"]
        # A start in the past is set to now.
        assert (created["start_time"], created["end_time"]) == (
            "2026-06-01T12:00:00.000Z",
            "2026-06-01T14:00:00.000Z",
        )
        assert created["type"] == "maintenance_window" and created["summary"] == "deploy"
        assert created["created_by"]["summary"] == FROM
        assert [s["id"] for s in created["services"]] == [web]
        assert created["sequence_number"] == 1 and created["source"] == "api"
        # During the window, events open nothing on Web; Database is unaffected.
        await trigger(http, WEB_KEY, "during")
        assert await incident_count(gw) == 0
        await trigger(http, DB_KEY, "db")
        assert await incident_count(gw) == 1
        # DELETE ends the ongoing window now: events open incidents again.
        clock.advance(60)
        deleted = await http.delete(f"/maintenance_windows/{created['id']}", headers=manage)
        assert (deleted.status_code, deleted.content) == (204, b"")
        ended = (await http.get(f"/maintenance_windows/{created['id']}", headers=manage)).json()[
            "maintenance_window"
        ]
        assert ended["end_time"] == "2026-06-01T12:01:00.000Z"
        await trigger(http, WEB_KEY, "after")
        assert await incident_count(gw) == 2
        # It is in the past now: it cannot be cancelled or changed again.
        again = await http.delete(f"/maintenance_windows/{created['id']}", headers=manage)
        assert error(again) == (405, 5003, "Cannot cancel a maintenance window from the past")
        changed = await http.put(
            f"/maintenance_windows/{created['id']}",
            headers=manage,
            json={"maintenance_window": {"description": "x"}},
        )
        assert error(changed)[:2] == (405, 5003)


async def test_a_window_ends_by_itself(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        tokens = await make_tokens(gw)
        web = await service_id(gw, "Web")
        body = window([web], "2026-06-01T12:00:00Z", "2026-06-01T12:10:00Z")
        answer = await gw.client.post(
            "/maintenance_windows", headers=headers(tokens["user"]), json=body
        )
        assert answer.status_code == 201, answer.text
        clock.advance(599)
        await trigger(gw.client, WEB_KEY, "almost")
        assert await incident_count(gw) == 0
        clock.advance(1)  # end_time reached: nobody acts, the service takes events again
        await trigger(gw.client, WEB_KEY, "over")
        assert [i.incident_key for i in await gw.incidents()] == ["over"]
        listed = await gw.client.get(
            "/maintenance_windows?filter=past", headers=headers(tokens["observer"])
        )
        assert [w["id"] for w in listed.json()["maintenance_windows"]] == [
            answer.json()["maintenance_window"]["id"]
        ]


async def test_a_future_window_is_deleted_and_starts_on_time(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        tokens = await make_tokens(gw)
        http, manage = gw.client, headers(tokens["user"])
        web = await service_id(gw, "Web")
        future = window([web], "2026-06-01T13:00:00Z", "2026-06-01T14:00:00Z")
        first = (await http.post("/maintenance_windows", headers=manage, json=future)).json()
        second = (await http.post("/maintenance_windows", headers=manage, json=future)).json()
        first_id = first["maintenance_window"]["id"]
        assert (
            await http.delete(f"/maintenance_windows/{first_id}", headers=manage)
        ).status_code == 204
        assert error(await http.get(f"/maintenance_windows/{first_id}", headers=manage)) == (
            404,
            5001,
            "Maintenance Window Not Found",
        )
        assert (
            error(await http.delete(f"/maintenance_windows/{first_id}", headers=manage))[0] == 404
        )
        await trigger(http, WEB_KEY, "before-start")
        clock.advance(3600)  # 13:00, the second window starts
        await trigger(http, WEB_KEY, "in-window")
        assert [i.incident_key for i in await gw.incidents()] == ["before-start"]
        assert second["maintenance_window"]["sequence_number"] == 2


async def test_permissions_from_header_and_validation(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        tokens = await make_tokens(gw)
        http = gw.client
        web = await service_id(gw, "Web")
        good = window([web], "2026-06-01T12:00:00Z", "2026-06-01T13:00:00Z")
        assert error(await http.post("/maintenance_windows", json=good))[:2] == (401, 2006)
        for role in ("observer", "limited_user"):
            answer = await http.post(
                "/maintenance_windows", headers=headers(tokens[role]), json=good
            )
            assert error(answer)[:2] == (403, 2010)
        manage = headers(tokens["user"])
        no_from = await http.post(
            "/maintenance_windows", headers=headers(tokens["user"], None), json=good
        )
        assert error(no_from)[:2] == (400, 2016)
        bad_from = await http.post(
            "/maintenance_windows", headers=headers(tokens["admin"], "x"), json=good
        )
        assert error(bad_from)[:2] == (400, 1028)
        for body in (
            window([web], "2026-06-01T10:00:00Z", "2026-06-01T11:00:00Z"),  # ends in the past
            window([web], "2026-06-01T15:00:00Z", "2026-06-01T14:00:00Z"),  # end before start
            window([], "2026-06-01T12:00:00Z", "2026-06-01T13:00:00Z"),  # no services
            window(["PNOPE00"], "2026-06-01T12:00:00Z", "2026-06-01T13:00:00Z"),
            window([web], "tomorrow", "2026-06-01T13:00:00Z"),
            window([web], 5, "2026-06-01T13:00:00Z"),
            window([web], "2026-06-01T12:00:00Z", "2026-06-01T13:00:00Z", description=7),
            {"maintenance_window": {"services": [web], "end_time": "2026-06-01T13:00:00Z"}},
            {"maintenance_window": {"start_time": "2026-06-01T12:00:00Z"}},
            {"maintenance_window": []},
        ):
            answer = await http.post("/maintenance_windows", headers=manage, json=body)
            assert error(answer)[:2] == (400, 2001), body
        answer = await http.post("/maintenance_windows", headers=manage, content=b"{")
        assert error(answer)[0] == 400
        assert await gw.count("maintenance_windows") == 0
        # Reads need only a token; writes need Manager.
        created = (await http.post("/maintenance_windows", headers=manage, json=good)).json()
        wid = created["maintenance_window"]["id"]
        responder = headers(tokens["limited_user"])
        assert (await http.get(f"/maintenance_windows/{wid}", headers=responder)).status_code == 200
        assert error(await http.delete(f"/maintenance_windows/{wid}", headers=responder))[0] == 403
        assert (
            error(await http.put(f"/maintenance_windows/{wid}", headers=responder, json={}))[0]
            == 403
        )
        assert error(await http.get("/maintenance_windows/PNOPE00", headers=responder))[0] == 404


async def test_update_a_window(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with gateway_running(tmp_path, CONFIG, clock=clock) as gw:
        tokens = await make_tokens(gw)
        http, manage = gw.client, headers(tokens["user"])
        web, db = await service_id(gw, "Web"), await service_id(gw, "Database")
        body = window([web], "2026-06-01T11:00:00Z", "2026-06-01T13:00:00Z")
        created = (await http.post("/maintenance_windows", headers=manage, json=body)).json()
        wid = created["maintenance_window"]["id"]
        clock.advance(600)
        # Clients PUT the whole object back: the (past) start is kept, not moved to now.
        whole = dict(created["maintenance_window"])
        whole.update(
            end_time="2026-06-01T15:00:00Z",
            description="longer",
            services=[{"id": db, "type": "service_reference"}],
        )
        answer = await http.put(
            f"/maintenance_windows/{wid}", headers=manage, json={"maintenance_window": whole}
        )
        assert answer.status_code == 200, answer.text
        updated = answer.json()["maintenance_window"]
        assert (updated["start_time"], updated["end_time"], updated["description"]) == (
            "2026-06-01T12:00:00.000Z",
            "2026-06-01T15:00:00.000Z",
            "longer",
        )
        assert [s["id"] for s in updated["services"]] == [db]
        await trigger(http, WEB_KEY, "web-free-again")
        await trigger(http, DB_KEY, "db-now-quiet")
        assert [i.incident_key for i in await gw.incidents()] == ["web-free-again"]
        for patch in ({"end_time": "2026-06-01T11:00:00Z"}, {"services": []}, {"services": "x"}):
            answer = await http.put(
                f"/maintenance_windows/{wid}", headers=manage, json={"maintenance_window": patch}
            )
            assert error(answer)[:2] == (400, 2001), patch
        assert (
            error(await http.put("/maintenance_windows/PNOPE00", headers=manage, json={}))[0] == 404
        )


async def test_list_filters_and_config_windows(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with gateway_running(tmp_path, CONFIG + CONFIG_WINDOW, clock=clock) as gw:
        tokens = await make_tokens(gw)
        http, manage, view = gw.client, headers(tokens["user"]), headers(tokens["observer"])
        web = await service_id(gw, "Web")
        ids = {}
        for name, start, end in (
            ("past", "2026-06-01T12:00:00Z", "2026-06-01T12:05:00Z"),
            ("ongoing", "2026-06-01T12:00:00Z", "2026-06-01T18:00:00Z"),
            ("future", "2026-06-02T12:00:00Z", "2026-06-02T18:00:00Z"),
        ):
            answer = await http.post(
                "/maintenance_windows",
                headers=manage,
                json=window([web], start, end, description=f"Web {name}"),
            )
            ids[name] = answer.json()["maintenance_window"]["id"]
        clock.advance(600)

        async def listed(query: str) -> list[str]:
            answer = await http.get(f"/maintenance_windows?{query}", headers=view)
            assert answer.status_code == 200, answer.text
            return [w["description"] for w in answer.json()["maintenance_windows"]]

        assert await listed("") == ["from the file", "Web past", "Web ongoing", "Web future"]
        assert await listed("filter=past") == ["Web past"]
        assert await listed("filter=ongoing") == ["from the file", "Web ongoing"]
        assert await listed("filter=future") == ["Web future"]
        assert await listed("filter=open") == ["from the file", "Web ongoing", "Web future"]
        assert await listed(f"service_ids[]={web}&filter=all") == [
            "Web past",
            "Web ongoing",
            "Web future",
        ]
        assert await listed("query=FILE") == ["from the file"]
        page = (
            await http.get("/maintenance_windows?limit=1&offset=1&total=true", headers=view)
        ).json()
        assert (len(page["maintenance_windows"]), page["more"], page["total"]) == (1, True, 4)
        assert error(await http.get("/maintenance_windows?filter=soon", headers=view))[:2] == (
            400,
            2001,
        )
        # A window from the configuration file is shown but not changed through the API:
        # the next reload would silently bring it back.
        (config_window,) = [
            w
            for w in (await http.get("/maintenance_windows", headers=view)).json()[
                "maintenance_windows"
            ]
            if w["source"] == "config"
        ]
        assert config_window["created_by"] is None
        refused = await http.delete(f"/maintenance_windows/{config_window['id']}", headers=manage)
        assert error(refused) == (400, 2015, "Invalid operation")
        assert "configuration file" in refused.json()["error"]["errors"][0]
        refused = await http.put(
            f"/maintenance_windows/{config_window['id']}",
            headers=manage,
            json={"description": "mine now"},
        )
        assert error(refused)[:2] == (400, 2015)
        assert await gw.count("maintenance_windows") == 4

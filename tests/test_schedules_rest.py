"""On-call schedules over real HTTP: create, render since/until, overrides, users, refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from gateway.auth import hash_token
from gateway.clock import FakeClock
from gateway.core import users
from gateway.store import Tx
from tests.scaffold import TestGateway, config, gateway_running

ACCEPT = "application/vnd.pagerduty+json;version=2"
NOW = datetime(2026, 3, 25, 12, tzinfo=UTC)
PEOPLE = ("alice", "bob", "carol", "dave")


class Client:
    """REST calls to a running gateway as a manager (or another role); ``ids`` are the users'
    ids by name."""

    def __init__(self, gw: TestGateway, tokens: dict[str, str], ids: dict[str, str]) -> None:
        self.gw = gw
        self.tokens = tokens
        self.ids = ids

    async def call(
        self, method: str, path: str, *, role: str = "user", **kw: Any
    ) -> httpx.Response:
        headers = {"Accept": ACCEPT, "Authorization": f"Token token={self.tokens[role]}"}
        return await self.gw.client.request(method, path, headers=headers, **kw)

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = await self.call("POST", "/schedules", json={"schedule": body})
        assert answer.status_code == 201, answer.text
        made: dict[str, Any] = answer.json()["schedule"]
        return made


@asynccontextmanager
async def running(tmp_path: Path, clock: FakeClock | None = None) -> AsyncIterator[Client]:
    """A gateway with a manager (``user``) and an ``observer`` token, and the users
    :data:`PEOPLE` (a user's name is its summary in every reference)."""
    async with gateway_running(tmp_path, config(), clock=clock or FakeClock(NOW)) as gw:

        def insert(tx: Tx) -> tuple[dict[str, str], dict[str, str]]:
            tokens = {}
            for role in ("user", "observer", "admin"):
                secret = f"schedule-token-{role}"
                tx.insert_token(
                    name=role, role=role, token_hash=hash_token(secret), last4=secret[-4:]
                )
                tokens[role] = secret
            ids = {
                name: users.create_user(
                    tx, users.UserInput(name=name, email=f"{name}@example.com"), defaults=False
                ).id
                for name in PEOPLE
            }
            return tokens, ids

        tokens, ids = await gw.store.write(insert)
        yield Client(gw, tokens, ids)


def berlin_rotation(api: Client, **extra: Any) -> dict[str, Any]:
    """A daily rotation of alice and bob handing off at 09:00 Berlin time."""
    return {
        "name": "Primary",
        "time_zone": "Europe/Berlin",
        "description": "first line",
        "schedule_layers": [
            {
                "name": "Daily",
                "start": "2026-03-27T09:00:00+01:00",
                "rotation_virtual_start": "2026-03-27T09:00:00+01:00",
                "rotation_turn_length_seconds": 86400,
                "users": [
                    {"user": {"id": api.ids["alice"], "type": "user_reference"}},
                    {"user": {"id": api.ids["bob"], "type": "user_reference"}},
                ],
            }
        ],
        **extra,
    }


def final(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(user name, start, end)`` of a schedule's final_schedule entries."""
    return [
        (e["user"]["summary"], e["start"], e["end"])
        for e in body["final_schedule"]["rendered_schedule_entries"]
    ]


async def test_create_get_and_render_across_the_dst_change(tmp_path: Path) -> None:
    async with running(tmp_path) as api:
        made = await api.create(berlin_rotation(api))
        assert made["type"] == "schedule" and made["name"] == "Primary"
        assert made["time_zone"] == "Europe/Berlin"
        layer = made["schedule_layers"][0]
        assert layer["rotation_turn_length_seconds"] == 86400 and layer["id"]
        assert [u["user"]["summary"] for u in layer["users"]] == ["alice", "bob"]
        assert made["self"].endswith(f"/schedules/{made['id']}")
        assert made["final_schedule"]["rendered_coverage_percentage"] is None

        # 28 March 09:00 CET to 30 March 09:00 CEST: the clocks jump on the 29th at 02:00.
        answer = await api.call(
            "GET",
            f"/schedules/{made['id']}",
            params={"since": "2026-03-28T08:00:00Z", "until": "2026-03-30T07:00:00Z"},
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()["schedule"]
        assert final(body) == [
            ("bob", "2026-03-28T09:00:00+01:00", "2026-03-29T09:00:00+02:00"),
            ("alice", "2026-03-29T09:00:00+02:00", "2026-03-30T09:00:00+02:00"),
        ]
        assert body["final_schedule"]["rendered_coverage_percentage"] == 100.0
        entries = body["schedule_layers"][0]["rendered_schedule_entries"]
        assert [e["user"]["summary"] for e in entries] == ["bob", "alice"]

        # time_zone writes the same instants in another zone.
        answer = await api.call(
            "GET",
            f"/schedules/{made['id']}",
            params={
                "since": "2026-03-28T08:00:00Z",
                "until": "2026-03-29T08:00:00Z",
                "time_zone": "UTC",
            },
        )
        assert final(answer.json()["schedule"])[0][1:] == (
            "2026-03-28T08:00:00+00:00",
            "2026-03-29T07:00:00+00:00",
        )


async def test_since_alone_renders_two_weeks_from_it_and_bad_ranges_are_400(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as api:
        made = await api.create(berlin_rotation(api))
        path = f"/schedules/{made['id']}"
        answer = await api.call("GET", path, params={"since": "2026-04-01T00:00:00Z"})
        entries = final(answer.json()["schedule"])
        assert entries[0][1] == "2026-04-01T02:00:00+02:00"
        assert entries[-1][2] == "2026-04-15T02:00:00+02:00"
        for params in (
            {"since": "2026-04-02T00:00:00Z", "until": "2026-04-01T00:00:00Z"},
            {"since": "2026-01-01T00:00:00Z", "until": "2028-01-01T00:00:00Z"},
            {"since": "yesterday"},
            {"time_zone": "Mars/Olympus"},
            {"overflow": "true"},
            {"since": "1900-01-01T00:00:00Z"},
        ):
            answer = await api.call("GET", path, params=params)
            assert answer.status_code == 400, (params, answer.text)
            assert answer.json()["error"]["errors"]


async def test_overrides_win_and_users_lists_who_is_on_call(tmp_path: Path) -> None:
    async with running(tmp_path) as api:
        made = await api.create(berlin_rotation(api))
        path = f"/schedules/{made['id']}"
        answer = await api.call(
            "POST",
            f"{path}/overrides",
            json={
                "overrides": [
                    {
                        "start": "2026-03-29T18:00:00+02:00",
                        "end": "2026-03-30T06:00:00+02:00",
                        "user": {"id": api.ids["carol"], "type": "user_reference"},
                    }
                ]
            },
        )
        assert answer.status_code == 201, answer.text
        (created,) = answer.json()
        assert created["status"] == 201 and created["override"]["user"]["summary"] == "carol"
        override_id = created["override"]["id"]

        span = {"since": "2026-03-29T07:00:00Z", "until": "2026-03-30T07:00:00Z"}
        body = (await api.call("GET", path, params=span)).json()["schedule"]
        assert final(body) == [
            ("alice", "2026-03-29T09:00:00+02:00", "2026-03-29T18:00:00+02:00"),
            ("carol", "2026-03-29T18:00:00+02:00", "2026-03-30T06:00:00+02:00"),
            ("alice", "2026-03-30T06:00:00+02:00", "2026-03-30T09:00:00+02:00"),
        ]
        assert body["overrides_subschedule"]["rendered_coverage_percentage"] == 50.0

        listed = (await api.call("GET", f"{path}/overrides", params=span)).json()
        assert [o["id"] for o in listed["overrides"]] == [override_id]
        users = (await api.call("GET", f"{path}/users", params=span)).json()["users"]
        assert [u["summary"] for u in users] == ["alice", "carol"]
        assert users[0]["type"] == "user_reference"

        # The legacy single form, then delete.
        answer = await api.call(
            "POST",
            f"{path}/overrides",
            json={
                "override": {
                    "start": "2026-04-01T00:00:00Z",
                    "end": "2026-04-02T00:00:00Z",
                    "user": {"id": api.ids["dave"]},
                }
            },
        )
        assert answer.status_code == 201 and answer.json()["override"]["user"]["summary"] == "dave"
        assert (await api.call("DELETE", f"{path}/overrides/{override_id}")).status_code == 204
        again = await api.call("DELETE", f"{path}/overrides/{override_id}")
        assert again.status_code == 404
        listed = (await api.call("GET", f"{path}/overrides", params=span)).json()
        assert listed["overrides"] == []


async def test_bad_overrides_are_refused_whole(tmp_path: Path) -> None:
    async with running(tmp_path) as api:
        made = await api.create(berlin_rotation(api))
        path = f"/schedules/{made['id']}/overrides"
        good = {
            "start": "2026-04-01T00:00:00Z",
            "end": "2026-04-02T00:00:00Z",
            "user": {"id": api.ids["alice"]},
        }
        bad = {"start": "2026-04-02T00:00:00Z", "end": "2026-04-01T00:00:00Z", "user": {}}
        answer = await api.call("POST", path, json={"overrides": [good, bad]})
        assert answer.status_code == 400
        errors = answer.json()["error"]["errors"]
        assert "overrides[1].end must be after its start" in errors
        assert any("overrides[1].user" in e for e in errors)
        span = {"since": "2026-03-01T00:00:00Z", "until": "2026-05-01T00:00:00Z"}
        assert (await api.call("GET", path, params=span)).json()["overrides"] == []
        assert (await api.call("POST", path, json=[1])).status_code == 400
        missing = await api.call("POST", "/schedules/PNOPE00/overrides", json={"overrides": [good]})
        assert missing.status_code == 404


async def test_invalid_schedules_get_every_problem_and_change_nothing(tmp_path: Path) -> None:
    async with running(tmp_path) as api:
        layer = {
            "start": "2026-03-26T09:00:00Z",
            "end": "2026-03-25T09:00:00Z",
            "rotation_virtual_start": "2026-03-26T09:00:00Z",
            "rotation_turn_length_seconds": 0,
            "users": [],
            "restrictions": [
                {"type": "weekly_restriction", "start_time_of_day": "25:00:00",
                 "duration_seconds": 3600},
                {"type": "hourly", "start_time_of_day": "09:00:00", "duration_seconds": 60},
                {"type": "daily_restriction", "start_time_of_day": "09:00:00",
                 "duration_seconds": 90000},
            ],
        }  # fmt: skip
        body = {"name": "", "time_zone": "Berlin", "schedule_layers": [layer]}
        answer = await api.call("POST", "/schedules", json={"schedule": body})
        assert answer.status_code == 400
        errors = answer.json()["error"]["errors"]
        for expected in (
            "name is required",
            "time_zone 'Berlin' is not a known IANA time zone",
            "schedule_layers[0].end must be after its start",
            "schedule_layers[0].rotation_turn_length_seconds must be a positive integer",
            "schedule_layers[0].users must list at least one user",
            "schedule_layers[0].restrictions[0].start_time_of_day must be",
            "schedule_layers[0].restrictions[0].start_day_of_week must be 1 (Monday) to 7",
            "schedule_layers[0].restrictions[1].type must be",
            "schedule_layers[0].restrictions[2].duration_seconds must be an integer from 1 to",
        ):
            assert any(e.startswith(expected) for e in errors), (expected, errors)
        short = {**berlin_rotation(api)["schedule_layers"][0], "rotation_turn_length_seconds": 30}
        old = {**berlin_rotation(api)["schedule_layers"][0], "start": "1900-01-01T00:00:00Z"}
        answer = await api.call(
            "POST",
            "/schedules",
            json={"schedule": berlin_rotation(api, schedule_layers=[short, old])},
        )
        errors = answer.json()["error"]["errors"]
        assert any("rotation_turn_length_seconds must be from 60" in e for e in errors), errors
        assert any("schedule_layers[1].start' must be between the years" in e for e in errors)
        for bad in ({"schedule": []}, {"name": "x", "time_zone": "UTC"}, "[]"):
            answer = await api.call("POST", "/schedules", json=bad)
            assert answer.status_code == 400, answer.text
        listed = (await api.call("GET", "/schedules")).json()
        assert listed["schedules"] == []


async def test_update_replaces_layers_and_keeps_known_layer_ids(tmp_path: Path) -> None:
    async with running(tmp_path) as api:
        made = await api.create(berlin_rotation(api))
        layer_id = made["schedule_layers"][0]["id"]
        changed = berlin_rotation(api, name="Primary (renamed)", time_zone="America/New_York")
        changed["schedule_layers"][0]["id"] = layer_id
        office = {
            "start": "2026-03-26T00:00:00Z",
            "rotation_virtual_start": "2026-03-26T00:00:00Z",
            "rotation_turn_length_seconds": 604800,
            "users": [{"user": {"id": api.ids["carol"]}}],
            "restrictions": [
                {"type": "weekly_restriction", "start_time_of_day": "09:00:00",
                 "duration_seconds": 4 * 86400 + 8 * 3600, "start_day_of_week": 1},
            ],
            "id": "PSTRANGE",
        }  # fmt: skip
        changed["schedule_layers"].append(office)
        answer = await api.call("PUT", f"/schedules/{made['id']}", json={"schedule": changed})
        assert answer.status_code == 200, answer.text
        body = answer.json()["schedule"]
        assert body["name"] == "Primary (renamed)" and body["time_zone"] == "America/New_York"
        ids = [layer["id"] for layer in body["schedule_layers"]]
        assert ids[0] == layer_id and ids[1] not in (layer_id, "PSTRANGE")
        # Monday 30 March 09:00 New York (EDT): the office layer covers the rotation.
        span = {"since": "2026-03-30T13:00:00Z", "until": "2026-03-30T14:00:00Z"}
        got = (await api.call("GET", f"/schedules/{made['id']}", params=span)).json()
        assert final(got["schedule"]) == [
            ("carol", "2026-03-30T09:00:00-04:00", "2026-03-30T10:00:00-04:00")
        ]
        assert [u["summary"] for u in got["schedule"]["users"]] == ["alice", "bob", "carol"]
        missing = await api.call("PUT", "/schedules/PNOPE00", json={"schedule": changed})
        assert missing.status_code == 404


async def test_list_query_delete_and_roles(tmp_path: Path) -> None:
    async with running(tmp_path) as api:
        first = await api.create(berlin_rotation(api))
        await api.create(berlin_rotation(api, name="Secondary"))
        listed = (await api.call("GET", "/schedules", role="observer")).json()
        assert [s["name"] for s in listed["schedules"]] == ["Primary", "Secondary"]
        found = (await api.call("GET", "/schedules", params={"query": "SECOND"})).json()
        assert [s["name"] for s in found["schedules"]] == ["Secondary"]
        refused = await api.call("DELETE", f"/schedules/{first['id']}", role="observer")
        assert refused.status_code == 403
        assert (await api.call("DELETE", f"/schedules/{first['id']}")).status_code == 204
        assert (await api.call("GET", f"/schedules/{first['id']}")).status_code == 404
        assert (await api.call("DELETE", f"/schedules/{first['id']}")).status_code == 404
        teams = await api.call("GET", "/schedules", params={"team_ids[]": "PT"})
        assert teams.status_code == 400


async def test_users_defaults_to_the_next_day_from_the_clock(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 3, 29, 6, 30, tzinfo=UTC))  # 08:30 CEST: bob, then alice
    async with running(tmp_path, clock) as api:
        made = await api.create(berlin_rotation(api))
        users = (await api.call("GET", f"/schedules/{made['id']}/users")).json()["users"]
        assert [u["summary"] for u in users] == ["bob", "alice"]
        clock.set(datetime(2026, 3, 29, 8, tzinfo=UTC))  # 10:00 CEST: alice until tomorrow 09:00
        users = (await api.call("GET", f"/schedules/{made['id']}/users")).json()["users"]
        assert [u["summary"] for u in users] == ["alice", "bob"]


async def test_a_range_of_too_many_short_turns_is_refused(tmp_path: Path) -> None:
    async with running(tmp_path) as api:
        layer = {**berlin_rotation(api)["schedule_layers"][0], "rotation_turn_length_seconds": 60}
        made = await api.create(berlin_rotation(api, schedule_layers=[layer]))
        path = f"/schedules/{made['id']}"
        year = {"since": "2026-04-01T00:00:00Z", "until": "2027-03-01T00:00:00Z"}
        answer = await api.call("GET", path, params=year)
        assert answer.status_code == 400 and "shorter range" in answer.text
        day = {"since": "2026-04-01T00:00:00Z", "until": "2026-04-02T00:00:00Z"}
        entries = (await api.call("GET", path, params=day)).json()["schedule"]["final_schedule"]
        assert len(entries["rendered_schedule_entries"]) == 1440


async def test_users_must_exist_and_a_user_on_a_schedule_cannot_be_deleted(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as api:
        body = berlin_rotation(api)
        body["schedule_layers"][0]["users"].append({"user": {"id": "PGHOST1"}})
        answer = await api.call("POST", "/schedules", json={"schedule": body})
        assert answer.status_code == 400
        assert (
            "schedule_layers[0].users: user 'PGHOST1' does not exist"
            in answer.json()["error"]["errors"]
        )
        made = await api.create(berlin_rotation(api))
        override = {
            "start": "2026-04-01T00:00:00Z",
            "end": "2026-04-02T00:00:00Z",
            "user": {"id": api.ids["dave"]},
        }
        await api.call("POST", f"/schedules/{made['id']}/overrides", json={"override": override})
        for name in ("alice", "dave"):  # on a layer; with an override not yet over
            refused = await api.call("DELETE", f"/users/{api.ids[name]}", role="admin")
            assert refused.status_code == 400, refused.text
            assert "on the schedule(s) 'Primary'" in refused.text
        carol = await api.call("DELETE", f"/users/{api.ids['carol']}", role="admin")
        assert carol.status_code == 204
        assert (await api.call("DELETE", f"/schedules/{made['id']}")).status_code == 204
        gone = await api.call("DELETE", f"/users/{api.ids['alice']}", role="admin")
        assert gone.status_code == 204, gone.text

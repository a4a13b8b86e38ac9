"""``[[schedules]]`` in the configuration file: provisioned at start and reload, matched by
name, owned by the file (overrides stay open), and refused with key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import parse_settings
from gateway.daemon import reload
from gateway.errors import ConfigError
from gateway.testing import gateway_running
from tests.incident_helpers import headers, make_tokens
from tests.scaffold import config

PEOPLE = "".join(
    f'\n[[users]]\nname = "{name}"\nemail = "{name}@example.com"\n'
    for name in ("alice", "bob", "carol")
)


def _text(*, zone: str = "Europe/Berlin", turn: int = 86400, extra: str = "") -> str:
    return (
        config()
        + PEOPLE
        + (
            "\n[[schedules]]\n"
            'name = "Primary"\n'
            f'time_zone = "{zone}"\n'
            'description = "first line"\n'
            "\n[[schedules.layers]]\n"
            'name = "Days"\n'
            "start = 2026-03-27T09:00:00+01:00\n"
            f"rotation_turn_length_seconds = {turn}\n"
            'users = ["alice@example.com", "BOB@example.com"]\n'
            f"{extra}"
            "\n[[schedules.layers.restrictions]]\n"
            'type = "weekly_restriction"\n'
            'start_time_of_day = "09:00:00"\n'
            "duration_seconds = 378000\n"
            "start_day_of_week = 1\n"
        )
    )


async def test_a_declared_schedule_is_provisioned_owned_and_released(tmp_path: Path) -> None:
    text = _text()
    (tmp_path / "config.toml").write_text(text)
    async with gateway_running(tmp_path, text) as gw:
        h = headers((await make_tokens(gw))["user"])
        (made,) = (await gw.client.get("/schedules", headers=h)).json()["schedules"]
        path = f"/schedules/{made['id']}"
        found = await gw.client.get("/users", headers=h, params={"query": "carol"})
        (carol,) = [u["id"] for u in found.json()["users"]]
        # Monday 30 March, 09:00 CEST to Friday 3 April 17:00: the weekly window.
        span = {"since": "2026-03-30T00:00:00Z", "until": "2026-03-31T00:00:00Z"}
        rendered = (await gw.client.get(path, headers=h, params=span)).json()["schedule"]
        put = await gw.client.put(path, headers=h, json={"schedule": {**made, "name": "mine now"}})
        delete = await gw.client.delete(path, headers=h)
        override = await gw.client.post(
            f"{path}/overrides",
            headers=h,
            json={
                "override": {
                    "start": "2026-04-01T00:00:00Z",
                    "end": "2026-04-02T00:00:00Z",
                    "user": {"id": carol},
                }
            },
        )
        # The file changes the turn: the same schedule (and layer) follows on reload.
        (tmp_path / "config.toml").write_text(_text(turn=7 * 86400))
        assert await reload(gw.running)
        moved = (await gw.client.get(path, headers=h)).json()["schedule"]
        # The block leaves the file: the schedule is released to runtime edits.
        (tmp_path / "config.toml").write_text(config())
        assert await reload(gw.running)
        released = await gw.client.delete(path, headers=h)
    assert made["declared_in_config"] is True and made["time_zone"] == "Europe/Berlin"
    layer = made["schedule_layers"][0]
    assert layer["restrictions"][0]["start_day_of_week"] == 1
    assert layer["rotation_virtual_start"] == "2026-03-27T09:00:00+01:00"
    entries = rendered["final_schedule"]["rendered_schedule_entries"]
    assert [(e["user"]["summary"], e["start"], e["end"]) for e in entries] == [
        ("bob", "2026-03-30T09:00:00+02:00", "2026-03-31T02:00:00+02:00")
    ]
    for answer in (put, delete):
        assert answer.status_code == 400, answer.text
        assert "declared in the configuration file" in answer.text
    assert override.status_code == 201, override.text
    assert moved["schedule_layers"][0]["id"] == layer["id"]
    assert moved["schedule_layers"][0]["rotation_turn_length_seconds"] == 7 * 86400
    assert released.status_code == 204


def test_shapes_are_refused_at_parse_time_with_their_line() -> None:
    with pytest.raises(ConfigError, match="unknown key") as caught:
        parse_settings(_text(extra='colour = "red"\n'))
    assert caught.value.key == "schedules[0].layers[0].colour"
    with pytest.raises(ConfigError, match="at least one"):
        parse_settings('[[schedules]]\nname = "x"\ntime_zone = "UTC"\n')
    with pytest.raises(ConfigError, match="same name"):
        parse_settings(_text() + _text().replace(config() + PEOPLE, ""))


async def test_rules_are_refused_at_start_naming_the_block(tmp_path: Path) -> None:
    text = _text(zone="Mars/Olympus", turn=0)
    with pytest.raises(BaseException) as caught:
        async with gateway_running(tmp_path, text):
            pass
    errors = [caught.value]
    while isinstance(errors[0], BaseExceptionGroup):
        errors = list(errors[0].exceptions)
    (error,) = errors
    assert isinstance(error, ConfigError)
    assert error.key == "schedules[0]" and error.line is not None
    assert "Mars/Olympus" in str(error) and "rotation_turn_length_seconds" in str(error)


async def test_an_unknown_user_in_a_layer_stops_the_start(tmp_path: Path) -> None:
    text = _text().replace("BOB@example.com", "nobody@example.com")
    with pytest.raises(BaseException) as caught:
        async with gateway_running(tmp_path, text):
            pass
    errors = [caught.value]
    while isinstance(errors[0], BaseExceptionGroup):
        errors = list(errors[0].exceptions)
    (error,) = errors
    assert isinstance(error, ConfigError) and error.key == "schedules[0]"
    assert "user 'nobody@example.com' does not exist" in str(error)

"""A NUL (U+0000) in an event, on SQLite and PostgreSQL alike: accepted, stored as U+FFFD.

PostgreSQL's ``text`` cannot hold a NUL (SQLite can): before the rule, the same event was
stored on one backend and answered with a 500 on the other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway.testing import TestGateway, gateway_running
from tests.conftest import StoreTarget
from tests.forwarding_support import forward_to, settled, upstream
from tests.scaffold import config, events_v1, events_v2, key, service, v2, v2_service

KEY = key("nul-v2")
V1_KEY = key("nul-v1")
FFFD = "\ufffd"
UP = "R0UT1NGKEY0000000000000000000001"


def _config(target: StoreTarget) -> str:
    text = config(service("Nul", events_v2(KEY), events_v1(V1_KEY, "v1")), storage=None)
    if target.url is not None:
        text += f'\n[storage]\nurl = "{target.url}"\n'
    return text


def _nul_trigger() -> dict[str, Any]:
    """A v2 trigger with a NUL in every string it can hold."""
    return {
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": "disk\x00full",
        "client": "Mon\x00itor",
        "client_url": "https://mon.example.com/\x00",
        "links": [{"href": "https://runbook.example.com/\x00", "text": "run\x00book"}],
        "images": [{"src": "https://img.example.com/a.png", "alt": "gr\x00aph", "href": "h\x00"}],
        "payload": {
            "summary": "Disk\x00full on db01",
            "source": "db\x0001",
            "severity": "critical",
            "component": "po\x00stgres",
            "group": "pro\x00d",
            "class": "di\x00sk",
            "custom_details": {"free\x00": ["0\x00%", {"in\x00ner": "va\x00lue"}], "n": 1},
        },
    }


async def _texts(gw: TestGateway, sql: str) -> str:
    """Every value the query returns, as one JSON text (bytes decoded)."""
    rows = await gw.store.read(lambda r: r._db.fetch_all(sql))
    values = [
        bytes(v).decode() if isinstance(v, bytes | memoryview) else v for r in rows for v in r
    ]
    return json.dumps(values, ensure_ascii=False)


async def test_nul_in_every_field_of_an_event_is_stored_as_fffd(
    backend: StoreTarget, tmp_path: Path
) -> None:
    async with gateway_running(tmp_path, _config(backend)) as gw:
        answer = await gw.client.post("/v2/enqueue", json=_nul_trigger())
        assert answer.status_code == 202, answer.text
        assert answer.json()["dedup_key"] == f"disk{FFFD}full"
        # The same alert again: the stored key is what the replacement made of it.
        again = await gw.client.post("/v2/enqueue", json=_nul_trigger())
        assert again.status_code == 202, again.text
        change = {
            "routing_key": KEY,
            "payload": {
                "summary": "De\x00ploy",
                "source": "c\x00i",
                "custom_details": {"k": "\x00"},
            },
        }
        answer = await gw.client.post("/v2/change/enqueue", json=change)
        assert answer.status_code == 202, answer.text
        v1 = {
            "service_key": V1_KEY,
            "event_type": "trigger",
            "incident_key": "v1\x00key",
            "description": "V1\x00down",
            "details": {"why\x00": "no\x00idea"},
        }
        answer = await gw.client.post("/generic/2010-04-15/create_event.json", json=v1)
        assert answer.status_code == 200, answer.text
        assert answer.json()["incident_key"] == f"v1{FFFD}key"

        incidents = await gw.incidents()
        assert sorted(i.title for i in incidents) == [f"Disk{FFFD}full on db01", f"V1{FFFD}down"]
        assert len(incidents) == 2  # the repeated trigger was deduplicated on its new key
        disk = next(i for i in incidents if i.title.startswith("Disk"))
        (alert,) = await gw.alerts(disk.id)
        assert alert.alert_key == f"disk{FFFD}full"
        body = json.dumps(alert.body, ensure_ascii=False)
        for joined in (
            f"Mon{FFFD}itor",
            f"run{FFFD}book",
            f"gr{FFFD}aph",
            f"po{FFFD}stgres",
            f"pro{FFFD}d",
            f"di{FFFD}sk",
            f"free{FFFD}",
            f"0{FFFD}%",
            f"in{FFFD}ner",
            f"va{FFFD}lue",
            f"db{FFFD}01",
            f"https://runbook.example.com/{FFFD}",
        ):
            assert joined in body, joined
        stored = "".join(
            [
                await _texts(gw, "SELECT * FROM alerts"),
                await _texts(gw, "SELECT * FROM incidents"),
                await _texts(gw, "SELECT * FROM log_entries"),
                await _texts(gw, "SELECT * FROM change_events"),
            ]
        )
        assert "\x00" not in stored and "\\u0000" not in stored
        assert f"De{FFFD}ploy" in stored and f"c{FFFD}i" in stored
        assert f"why{FFFD}" in stored and f"no{FFFD}idea" in stored


async def test_nul_in_the_key_of_an_integration_url_is_an_invalid_routing_key(
    backend: StoreTarget, tmp_path: Path
) -> None:
    async with gateway_running(tmp_path, _config(backend)) as gw:
        body = {"event_action": "trigger", "payload": {"summary": "s", "source": "s"}}
        answer = await gw.client.post(f"/integration/{KEY[:-1]}%00/enqueue", json=body)
        assert answer.status_code == 400, answer.text
        assert "Invalid routing key" in answer.text
        # The refusal is not cached as a store failure: the real key still works.
        answer = await gw.client.post(gw.integration_url(KEY), json=_nul_trigger())
        assert answer.status_code == 202, answer.text
        assert await gw.count("incidents") == 1


async def test_nul_in_an_upstreams_refusal_is_recorded_as_fffd(
    backend: StoreTarget, tmp_path: Path
) -> None:
    # The outbox records a remote answer's text as the attempt's error (forwarding, SMTP).
    with upstream(lambda _, __: (400, b"bad\x00key")) as up:
        text = config(v2_service("Relay", KEY, forward_to=forward_to(up.url, UP)), storage=None)
        if backend.url is not None:
            text += f'\n[storage]\nurl = "{backend.url}"\n'
        async with gateway_running(tmp_path, text) as gw:
            answer = await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="n"))
            assert answer.status_code == 202, answer.text
            failed = await settled(gw, "failed", 1)
    assert failed[0].last_error == f"HTTP 400: bad{FFFD}key"

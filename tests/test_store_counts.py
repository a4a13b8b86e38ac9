"""Reader.open_incident_counts_by_service: the directory's counts in one query."""

from __future__ import annotations

from pathlib import Path

from tests.scaffold import config, gateway_running, key, service, v2, v2_service

WEB = key("counts-web")
DB = key("counts-db")
CONFIG = config(v2_service("Web", WEB), v2_service("Db", DB), service("Quiet"))


async def test_open_counts_by_service_and_status(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        for routing_key, dedup, action in [
            (WEB, "a", "trigger"),
            (WEB, "b", "trigger"),
            (WEB, "c", "trigger"),
            (WEB, "b", "acknowledge"),
            (WEB, "c", "resolve"),
            (DB, "x", "trigger"),
            (DB, "x", "resolve"),
        ]:
            answer = await gw.client.post("/v2/enqueue", json=v2(routing_key, action, dedup))
            assert answer.status_code == 202
        counts = await gw.store.read(lambda r: r.open_incident_counts_by_service())
        names = await gw.store.read(lambda r: {s.id: s.name for s in r.services()})
    by_name = {names[sid]: statuses for sid, statuses in counts.items()}
    assert by_name == {"Web": {"triggered": 1, "acknowledged": 1}}

"""Reader.open_incident_counts_by_service: the directory's counts in one query."""

from __future__ import annotations

from pathlib import Path

from gateway.testing import gateway_running
from tests.support import key, v2

WEB = key("counts-web")
DB = key("counts-db")
CONFIG = f"""
[server]
listen = "127.0.0.1:0"
[storage]
path = "gw.db"

[[services]]
name = "Web"
  [[services.integrations]]
  name = "v2"
  type = "events_api_v2"
  integration_key = "{WEB}"

[[services]]
name = "Db"
  [[services.integrations]]
  name = "v2"
  type = "events_api_v2"
  integration_key = "{DB}"

[[services]]
name = "Quiet"
"""


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

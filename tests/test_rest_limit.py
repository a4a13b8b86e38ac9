"""REST lists cap ``limit`` at 100, as PagerDuty does (issue 14 item 4).

PagerDuty's ``limit`` is at most 100: ``limit=1000`` is not an error, it gives a page of at
most 100 whose ``limit`` says 100. Every list route is asked, each with more than 100 items
behind it (the vendors excepted: there are fewer than 100 of them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from gateway.auth import hash_token
from gateway.store import Tx
from tests.scaffold import config, gateway_running, key, service, v2, v2_service

MANY = 101
SINGLE = key("limit-single")
GROUPED = key("limit-grouped")
TOKEN = "limit-test-observer-token"
CONFIG = config(
    v2_service("Single", SINGLE),  # an incident per alert
    v2_service("Grouped", GROUPED, alert_grouping="time", alert_grouping_timeout=0),
    *[service(f"Quiet {n:03d}") for n in range(MANY)],
    maintenance_windows=[
        {
            "services": [f"Quiet {n:03d}"],
            "start": datetime(2099, 1, 1, tzinfo=UTC),
            "end": datetime(2099, 1, 2, tzinfo=UTC),
        }
        for n in range(MANY)
    ],
)


async def test_limit_1000_gives_at_most_100_and_says_100(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        await gw.store.write(
            lambda tx: Tx.insert_token(
                tx, name="o", role="observer", token_hash=hash_token(TOKEN), last4=TOKEN[-4:]
            )
        )
        for n in range(MANY):
            for routing_key in (SINGLE, GROUPED):
                answer = await gw.client.post("/v2/enqueue", json=v2(routing_key, dedup_key=f"{n}"))
                assert answer.status_code == 202, answer.text
        service = await gw.store.read(lambda r: r.service_by_name("Grouped"))
        assert service is not None
        (grouped,) = [i for i in await gw.incidents() if i.service_id == service.id]
        assert len(await gw.alerts(grouped.id)) == MANY

        headers = {
            "Accept": "application/vnd.pagerduty+json;version=2",
            "Authorization": f"Token token={TOKEN}",
        }
        lists = {
            "/services": "services",
            "/incidents": "incidents",
            f"/incidents/{grouped.id}/alerts": "alerts",
            f"/incidents/{grouped.id}/log_entries": "log_entries",
            "/maintenance_windows": "maintenance_windows",
            "/vendors": "vendors",
        }
        for path, root in lists.items():
            answer = await gw.client.get(f"{path}?limit=1000&total=true", headers=headers)
            assert answer.status_code == 200, (path, answer.text)
            body = answer.json()
            assert body["limit"] == 100, (path, body["limit"])
            if root == "vendors":
                assert len(body[root]) == body["total"] < 100
            else:
                assert body["total"] > 100, (path, body["total"])
                assert len(body[root]) == 100 and body["more"] is True, (path, len(body[root]))

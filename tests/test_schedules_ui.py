"""Schedules in the web UI: the list says who is on call now and next (times relative, exact
on hover), a schedule's page shows its week day by day in the schedule's zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from gateway.clock import FakeClock
from tests.test_schedules_rest import Client, berlin_rotation, running


async def _sign_in(api: Client) -> None:
    page = (await api.gw.client.get("/ui/login")).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    answer = await api.gw.client.post(
        "/ui/login",
        data={"csrf_token": found.group(1), "token": api.tokens["observer"], "next": "/ui/"},
    )
    assert answer.status_code == 303, answer.text


async def test_the_list_shows_who_is_on_call_now_and_next(tmp_path: Path) -> None:
    # Sunday 29 March 08:30 CEST (the clocks jumped at 02:00): bob until 09:00, then alice.
    clock = FakeClock(datetime(2026, 3, 29, 6, 30, tzinfo=UTC))
    async with running(tmp_path, clock) as api:
        made = await api.create(berlin_rotation(api, description="first line"))
        await api.create(berlin_rotation(api, name="Empty later", schedule_layers=[
            {**berlin_rotation(api)["schedule_layers"][0], "start": "2027-01-01T00:00:00Z"}
        ]))  # fmt: skip
        await _sign_in(api)
        page = await api.gw.client.get("/ui/schedules")
        assert page.status_code == 200, page.text
        html = page.text
        row = html[html.index(f'id="schedule-{made["id"]}"') :]
        row = row[: row.index("</tr>")]
        assert "Primary" in row and "first line" in row and "Europe/Berlin" in row
        now_cell = row[row.index('class="oncall-now"') : row.index('class="oncall-next"')]
        assert "bob" in now_cell
        assert f'href="/ui/users/{api.ids["bob"]}"' in now_cell  # names link to the user
        assert 'datetime="2026-03-29T07:00:00.000Z"' in now_cell  # 09:00 CEST
        assert 'title="2026-03-29 07:00:00 UTC"' in now_cell
        next_cell = row[row.index('class="oncall-next"') :]
        assert "alice" in next_cell and 'datetime="2026-03-29T07:00:00.000Z"' in next_cell
        assert "Nobody" in html  # the schedule whose layer starts next year
        assert "Schedules</a>" in html  # the main navigation names the page


async def test_the_schedule_page_shows_the_week_across_the_dst_change(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 3, 25, 12, tzinfo=UTC))  # Wednesday of that week
    async with running(tmp_path, clock) as api:
        made = await api.create(berlin_rotation(api))
        await api.call(
            "POST",
            f"/schedules/{made['id']}/overrides",
            json={
                "override": {
                    "start": "2026-03-28T18:00:00Z",
                    "end": "2026-03-28T20:00:00Z",
                    "user": {"id": api.ids["carol"]},
                }
            },
        )
        await _sign_in(api)
        page = await api.gw.client.get(f"/ui/schedules/{made['id']}")
        assert page.status_code == 200, page.text
        html = page.text
        assert "Week of 23 March 2026" in html
        sunday = html[html.index("Sunday 29 March") :]
        sunday = sunday[: sunday.index("</tr>")]
        # Alice (Saturday 09:00 CET) hands to bob at 09:00 CEST, an hour earlier in UTC.
        assert "alice" in sunday and "bob" in sunday
        assert 'datetime="2026-03-29T07:00:00.000Z" title="2026-03-29 07:00:00 UTC">Sun 09:00' in (
            sunday
        )
        monday = html[html.index("Monday 23 March") :]
        assert "Nobody" in monday[: monday.index("</tr>")]  # the layer starts on Friday
        assert "carol" in html  # the override
        assert "each for 1 day" in html
        later = await api.gw.client.get(f"/ui/schedules/{made['id']}?week=2026-04-01")
        assert "Week of 30 March 2026" in later.text
        missing = await api.gw.client.get("/ui/schedules/PNOPE00")
        assert missing.status_code == 404

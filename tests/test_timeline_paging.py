"""Long timelines: read a page at a time in SQL, and capped at the trigger limit.

A flapping alert used to append a log entry per trigger, and every read of its incident
loaded the whole timeline. These tests build incidents with thousands of entries and
count the rows each read takes out of SQLite (a recording seam), so code that loaded a
whole timeline and sliced it in Python fails them whatever the machine's speed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from gateway.core import incident_reads as reads
from gateway.core import incidents as actions
from gateway.core import trigger_limit
from gateway.core.trigger_limit import REACH_TRIGGER_LIMIT, TRIGGER, TRIGGER_LOG_LIMIT
from gateway.domain import Incident
from gateway.http.ui.incidents import TIMELINE_PAGE, incident_view
from gateway.store import Reader, Tx, timeline
from gateway.store.seam import Params, Row
from gateway.testing import TestGateway, gateway_running
from tests.incident_helpers import CONFIG, WEB_KEY, error, headers, make_tokens, trigger
from tests.scaffold import config, events_v1, events_v2, key, service, v2

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Counting:
    """The store's seam, recording each statement and how many rows it gave back."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reads: list[tuple[str, int]] = []

    def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        rows: list[Row] = self.inner.fetch_all(sql, params)
        self.reads.append((sql, len(rows)))
        return rows

    def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self.inner.fetch_one(sql, params)
        self.reads.append((sql, 0 if row is None else 1))
        return row

    def fetch_value(self, sql: str, params: Params = ()) -> Any:
        self.reads.append((sql, 1))
        return self.inner.fetch_value(sql, params)

    @property
    def rows(self) -> int:
        """Rows materialised in all."""
        return sum(n for _, n in self.reads)


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many log entry rows the store decodes (one counter, bumped per row)."""
    count = [0]
    real = timeline.log_entry_row

    def counting(row: Any) -> Any:
        count[0] += 1
        return real(row)

    monkeypatch.setattr(timeline, "log_entry_row", counting)
    return count


async def counted(gw: TestGateway, job: Any) -> tuple[Any, Counting]:
    """Run ``job(reader)`` with the reader's seam recorded."""

    def run(reader: Reader) -> tuple[Any, Counting]:
        inner = reader._db
        recorder = Counting(inner)
        reader._db = recorder  # type: ignore[assignment]
        try:
            return job(reader), recorder
        finally:
            reader._db = inner

    result: tuple[Any, Counting] = await gw.store.read(run)
    return result


async def flapping_incident(gw: TestGateway, dedup_key: str, extra_entries: int) -> Incident:
    """An incident opened by a real trigger, then ``extra_entries`` more trigger entries
    written straight to its timeline (a database from before the limit, or a long one)."""
    await trigger(gw.client, WEB_KEY, dedup_key)
    (incident,) = [i for i in await gw.incidents() if i.incident_key == dedup_key]

    def pile(tx: Tx) -> None:
        for n in range(extra_entries):
            tx.insert_log_entry(
                TRIGGER,
                service_id=incident.service_id,
                integration_id=incident.integration_id,
                incident_id=incident.id,
                agent_type="integration",
                agent_id=incident.integration_id,
                summary=f"repeat {n}",
            )

    await gw.store.write(pile)
    return incident


# -- paging in SQL --------------------------------------------------------------------------------


async def test_a_page_of_a_long_timeline_reads_only_that_page(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        incident = await flapping_incident(gw, "long", 3000)  # 3,001 entries

        def page(reader: Reader) -> reads.LogPage:
            return reads.incident_log_entries(
                reader, incident.number, limit=25, offset=2000, total=True
            )

        found, seam = await counted(gw, page)
        assert [e.summary for e in found.entries] == [f"repeat {n}" for n in range(1999, 2024)]
        assert found.more is True and found.total == 3001
        # The page plus one (to know there is more), an incident row and a count: not 3,001.
        assert seam.rows <= 30, seam.reads
        assert any(re.search(r"\bLIMIT\b", sql) for sql, n in seam.reads if n == 26)

        newest, seam = await counted(
            gw,
            lambda r: reads.incident_log_entries(r, incident.id, limit=3, newest_first=True),
        )
        assert [e.summary for e in newest.entries] == ["repeat 2999", "repeat 2998", "repeat 2997"]
        assert newest.total is None and seam.rows <= 5


async def test_incident_details_read_a_few_entries_of_each_timeline(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        triggered = await flapping_incident(gw, "t", 2000)
        acked = await flapping_incident(gw, "a", 10)

        def acknowledge_then_flap(tx: Tx) -> None:
            actions.acknowledge(tx, acked.id, by="first@example.com")
            actions.acknowledge(tx, acked.id, by="second@example.com")

        await gw.store.write(acknowledge_then_flap)
        for _ in range(3):
            await trigger(gw.client, WEB_KEY, "a")  # entries after the acknowledgements
        resolved = await flapping_incident(gw, "r", 2000)
        await gw.store.write(lambda tx: actions.resolve(tx, resolved.id, by="fixer@example.com"))

        def details(reader: Reader) -> list[reads.IncidentDetails]:
            found = [reads.find_incident(reader, i.id) for i in (triggered, acked, resolved)]
            return reads.incident_details(reader, found)

        (t, a, r), seam = await counted(gw, details)
        assert seam.rows <= 20, seam.reads  # the three timelines hold over 4,000 entries
        assert t.first_trigger_log_entry is not None and t.first_trigger_log_entry.summary
        assert t.last_status_change_by == ("integration", triggered.integration_id)
        assert [agent for _, agent in a.acknowledgements] == [
            ("user", "first@example.com"),
            ("user", "second@example.com"),
        ]
        assert a.last_status_change_by == ("user", "second@example.com")
        assert r.last_status_change_by == ("user", "fixer@example.com")
        assert r.acknowledgements == []


async def test_the_incident_list_reads_no_whole_timeline(
    tmp_path: Path, decoded: list[int]
) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        for n in range(3):
            await flapping_incident(gw, f"list-{n}", 1500)

        def listed(reader: Reader) -> list[reads.IncidentDetails]:
            found, *_ = reads.list_incidents(reader, date_range="all", limit=25)
            return reads.incident_details(reader, found)

        details, seam = await counted(gw, listed)
        assert len(details) == 3 and seam.rows <= 20, seam.reads
        decoded[0] = 0
        answer = await gw.client.get(
            "/incidents?include[]=first_trigger_log_entries", headers=headers(tokens["observer"])
        )
        assert answer.status_code == 200
        assert decoded[0] <= 6  # over HTTP too: 4,503 entries stored, a first trigger each read
        firsts = [i["first_trigger_log_entry"]["type"] for i in answer.json()["incidents"]]
        assert firsts == [TRIGGER] * 3


# -- the REST route: PagerDuty's limit, offset, more and total ----------------------------------


async def test_log_entries_route_pages_like_pagerduty(tmp_path: Path, decoded: list[int]) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        http, observer = gw.client, headers(tokens["observer"])
        incident = await flapping_incident(gw, "pages", 229)  # 230 entries
        path = f"/incidents/{incident.id}/log_entries"

        decoded[0] = 0
        first = (await http.get(path, headers=observer)).json()
        assert decoded[0] == 26  # the page and one more, of 230
        assert (first["limit"], first["offset"], first["more"], first["total"]) == (
            25,
            0,
            True,
            None,
        )
        assert len(first["log_entries"]) == 25
        seen: list[str] = []
        for offset in (0, 100, 200):
            body = (
                await http.get(f"{path}?limit=100&offset={offset}&total=true", headers=observer)
            ).json()
            assert (body["limit"], body["offset"], body["total"]) == (100, offset, 230)
            assert body["more"] is (offset < 200)
            seen += [e["id"] for e in body["log_entries"]]
        assert len(seen) == len(set(seen)) == 230  # pages neither overlap nor skip
        assert seen[:25] == [e["id"] for e in first["log_entries"]]
        by_number = (
            await http.get(f"/incidents/{incident.number}/log_entries?limit=1", headers=observer)
        ).json()
        assert by_number["log_entries"][0]["id"] == seen[0]
        assert by_number["log_entries"][0]["type"] == TRIGGER

        past = (await http.get(f"{path}?offset=500&total=true", headers=observer)).json()
        assert (past["log_entries"], past["more"], past["total"]) == ([], False, 230)
        assert error(await http.get(f"{path}?limit=0", headers=observer))[:2] == (400, 2001)
        assert error(await http.get(f"{path}?offset=9990&limit=20", headers=observer))[0] == 400
        missing = await http.get("/incidents/PNOPE99/log_entries", headers=observer)
        assert error(missing)[:2] == (404, 5001)


# -- the trigger limit ----------------------------------------------------------------------------


async def test_triggers_past_the_limit_are_counted_not_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trigger_limit, "TRIGGER_LOG_LIMIT", 5)
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        for n in range(5 + 4):  # the limit, then 4 more
            await trigger(gw.client, WEB_KEY, "flap", summary=f"flap {n}", severity="warning")
        (incident,) = await gw.incidents()
        timeline = await gw.log_entries(incident.id)
        assert [e.type for e in timeline] == [TRIGGER] * 5 + [REACH_TRIGGER_LIMIT]
        assert [e.summary for e in timeline[:5]] == [f"flap {n}" for n in range(5)]
        reached = timeline[-1]
        assert reached.details["limit"] == 5
        assert reached.details["unlogged_triggers"] == 4
        assert reached.details["last_trigger_at"] >= reached.created_at
        assert "5 trigger log entries" in (reached.summary or "")

        # The alert behaves as before: one alert, deduplicated, showing the newest event.
        (alert,) = await gw.alerts(incident.id)
        assert (alert.status, alert.summary) == ("triggered", "flap 8")
        (after,) = await gw.incidents()
        assert after.updated_at >= reached.details["last_trigger_at"]

        # Acknowledging and resolving are still logged; the REST entry shows the count.
        responder = headers(tokens["limited_user"])
        ack = {"incident": {"type": "incident_reference", "status": "acknowledged"}}
        assert (
            await gw.client.put(f"/incidents/{incident.id}", headers=responder, json=ack)
        ).status_code == 200
        await trigger(gw.client, WEB_KEY, "flap", summary="after the ack")
        body = (
            await gw.client.get(
                f"/incidents/{incident.id}/log_entries?total=true", headers=responder
            )
        ).json()
        assert body["total"] == 7
        limit_entry = body["log_entries"][5]
        assert limit_entry["type"] == REACH_TRIGGER_LIMIT
        assert limit_entry["channel"]["details"]["unlogged_triggers"] == 5
        assert limit_entry["agent"]["id"] == incident.integration_id
        assert body["log_entries"][6]["type"] == "acknowledge_log_entry"

        # A resolved incident is done: the same key opens a new one with its own timeline.
        await gw.client.post("/v2/enqueue", json=v2(WEB_KEY, "resolve", "flap"))
        await trigger(gw.client, WEB_KEY, "flap", summary="fresh")
        newest = (await gw.incidents())[0]
        assert newest.id != incident.id
        assert [e.type for e in await gw.log_entries(newest.id)] == [TRIGGER]


async def test_the_real_limit_holds_on_a_long_timeline(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        # A real trigger and TRIGGER_LOG_LIMIT - 2 more entries: one trigger short of it.
        incident = await flapping_incident(gw, "real", TRIGGER_LOG_LIMIT - 2)
        for _ in range(4):
            await trigger(gw.client, WEB_KEY, "real")
        triggers = await gw.store.read(
            lambda r: r.count_incident_log_entries(incident.id, type=TRIGGER)
        )
        assert triggers == TRIGGER_LOG_LIMIT == 1000
        reached = await gw.store.read(
            lambda r: r.last_log_entries(incident.id, REACH_TRIGGER_LIMIT, 5)
        )
        assert len(reached) == 1 and reached[0].details["unlogged_triggers"] == 3


async def test_the_limit_holds_for_incidents_without_alerts_and_for_grouped_alerts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trigger_limit, "TRIGGER_LOG_LIMIT", 3)
    only, grouped = key("only-incidents"), key("grouped")
    text = config(
        service("Only", events_v1(only), alert_creation="create_incidents"),
        service("Grouped", events_v2(grouped), alert_grouping="time"),
        storage=None,
    )
    v1 = {"service_key": only, "event_type": "trigger", "incident_key": "same", "description": "d"}
    async with gateway_running(tmp_path, text) as gw:
        for _ in range(6):
            answer = await gw.client.post("/generic/2010-04-15/create_event.json", json=v1)
            assert answer.status_code == 200, answer.text
        for n in range(6):
            await trigger(gw.client, grouped, f"alert-{n}")  # six alerts, one incident
        assert len(await gw.incidents()) == 2
        for incident in await gw.incidents():
            kinds = [e.type for e in await gw.log_entries(incident.id)]
            assert kinds == [TRIGGER] * 3 + [REACH_TRIGGER_LIMIT], incident.incident_key
            (reached,) = [e for e in await gw.log_entries(incident.id) if e.type != TRIGGER]
            assert reached.details["unlogged_triggers"] == 3
        grouped_incident = next(i for i in await gw.incidents() if i.incident_key == "alert-0")
        assert len(await gw.alerts(grouped_incident.id)) == 6  # every alert is still kept


# -- the web UI's incident page -------------------------------------------------------------------


async def _sign_in(gw: TestGateway) -> None:
    tokens = await make_tokens(gw)
    login = await gw.client.get("/ui/login")
    match = _CSRF.search(login.text)
    assert match
    answer = await gw.client.post(
        "/ui/login", data={"token": tokens["observer"], "csrf_token": match.group(1)}
    )
    assert answer.status_code == 303, answer.text


async def test_the_incident_page_shows_the_newest_entries_and_pages_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trigger_limit, "TRIGGER_LOG_LIMIT", 118)
    async with gateway_running(tmp_path, CONFIG) as gw:
        await _sign_in(gw)
        incident = await flapping_incident(gw, "ui", 116)  # 117 entries
        for _ in range(3):
            await trigger(gw.client, WEB_KEY, "ui")  # the 118th, then the limit entry
        page_path = f"/ui/incidents/{incident.id}"

        view, seam = await counted(gw, lambda r: incident_view(r, incident.id, 0))
        assert len(view.timeline) == TIMELINE_PAGE == 50 and view.timeline_total == 119
        # A page of entries, plus a few single rows: the incident, its service, alerts and
        # one per distinct agent named on the page; never the whole timeline.
        assert seam.rows <= TIMELINE_PAGE + 20, seam.reads

        newest = await gw.client.get(page_path)
        assert newest.status_code == 200
        html = newest.text
        # Entry 1 is the opening trigger, entries 2-117 "repeat 0" to "repeat 115".
        assert shown(html) == set(range(68, 116))
        assert "119 entries; showing 70\u2013119" in html
        assert "2 triggers not logged" in html
        assert f'href="/ui/incidents/{incident.id}?timeline=50"' in html
        assert "timeline-newer" not in html

        middle = (await gw.client.get(f"{page_path}?timeline=50")).text
        assert shown(middle) == set(range(18, 68)) and "showing 20\u201369" in middle
        assert f'href="/ui/incidents/{incident.id}"' in middle  # back to the newest

        oldest = (await gw.client.get(f"{page_path}?timeline=100")).text
        assert shown(oldest) == set(range(18)) and "showing 1\u201319" in oldest
        assert "timeline-older" not in oldest and "timeline=50" in oldest
        for odd in ("abc", "-5", "99999999999999999999999"):
            answer = await gw.client.get(f"{page_path}?timeline={odd}")
            assert answer.status_code == 200, odd


def shown(html: str) -> set[int]:
    """The numbers of the "repeat N" entries a page's timeline shows."""
    return {int(n) for n in re.findall(r"— repeat (\d+)\s", html)}

"""The paged faces over HTTP: REST counts only for ``total=true``, the Service Directory pages.

In process (``gateway_running``): the Service Directory shows 25 services a page with
Previous/Next links and searches names on the server, all as plain links and a GET form.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.core import incidents, tokens
from gateway.http.ui.incidents import SERVICE_CHOICES_MAX
from gateway.store.incident_lists import IncidentListReads
from gateway.testing import TestGateway, gateway_running
from tests.incident_helpers import CONFIG, WEB_KEY, headers, make_tokens, trigger
from tests.scaffold import config, service

ROWS = re.compile(r'<tr data-service="([^"]+)">')
NAMES = [f"Svc {n:02d}" for n in range(30)] + ["Payments", "Payroll"]
DIRECTORY = config(*(service(name) for name in NAMES))


async def test_incidents_are_counted_only_when_total_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[bool] = []
    search = IncidentListReads.search_incidents

    def spy(self: IncidentListReads, **kwargs: Any) -> Any:
        asked.append(kwargs["count"])
        return search(self, **kwargs)

    monkeypatch.setattr(IncidentListReads, "search_incidents", spy)
    async with gateway_running(tmp_path, CONFIG) as gw:
        view = headers((await make_tokens(gw))["observer"])
        for dedup in ("a", "b", "c"):
            await trigger(gw.client, WEB_KEY, dedup)
        plain = (await gw.client.get("/incidents?limit=2", headers=view)).json()
        counted = (await gw.client.get("/incidents?limit=2&total=true", headers=view)).json()
        last = (await gw.client.get("/incidents?limit=2&offset=2", headers=view)).json()
    assert (plain["more"], plain["total"], len(plain["incidents"])) == (True, None, 2)
    assert (counted["more"], counted["total"]) == (True, 3)
    assert (last["more"], last["total"], len(last["incidents"])) == (False, None, 1)
    assert asked == [False, True, False]


async def signed_in(gw: TestGateway) -> httpx.AsyncClient:
    """The gateway's client, signed in to the web UI with an observer token."""
    _, secret = await gw.store.write(
        lambda tx: tokens.create_token(tx, name="viewer", role="observer")
    )
    login = await gw.client.get("/ui/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert csrf is not None
    answer = await gw.client.post(
        "/ui/login", data={"csrf_token": csrf.group(1), "token": secret, "next": "/ui/services"}
    )
    assert answer.status_code == 303
    return gw.client


def names_on(page: httpx.Response) -> list[str]:
    return re.findall(r'<a href="/ui/services/[^"/]+">([^<]+)</a>', page.text)


async def test_the_service_directory_is_paged_with_links(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, DIRECTORY) as gw:
        ui = await signed_in(gw)
        first = await ui.get("/ui/services")
        second = await ui.get("/ui/services?offset=25")
        small = await ui.get("/ui/services?limit=10&offset=10")
    assert first.status_code == second.status_code == small.status_code == 200
    assert len(ROWS.findall(first.text)) == 25
    assert names_on(first)[:2] == ["Payments", "Payroll"]  # sorted by name, case-blind
    assert "32 services, showing 1\N{EN DASH}25." in first.text
    assert 'rel="next" href="/ui/services?limit=25&amp;offset=25"' in first.text
    assert 'rel="prev"' not in first.text
    assert names_on(second) == NAMES[23:30]
    assert 'rel="prev" href="/ui/services?limit=25&amp;offset=0"' in second.text
    assert 'rel="next"' not in second.text
    assert names_on(small) == NAMES[8:18]
    assert "showing 11\N{EN DASH}20" in small.text


async def test_the_service_directory_searches_names_on_the_server(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, DIRECTORY) as gw:
        ui = await signed_in(gw)
        found = await ui.get("/ui/services?query=payr")
        none = await ui.get("/ui/services?query=nothing+like+it")
    assert names_on(found) == ["Payroll"]
    assert "1 service matches “payr”, showing 1\N{EN DASH}1." in found.text
    assert 'name="query" type="text" value="payr"' in found.text
    assert names_on(none) == [] and "No services match “nothing like it”" in none.text


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "offset=-1", "offset=1.5"])
async def test_bad_directory_paging_is_a_400_page(tmp_path: Path, query: str) -> None:
    async with gateway_running(tmp_path, DIRECTORY) as gw:
        ui = await signed_in(gw)
        answer = await ui.get(f"/ui/services?{query}")
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    name = query.split("=")[0]
    assert f"&#39;{name}&#39; must be" in answer.text


async def test_the_incident_list_pages_without_counting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[bool] = []
    search = IncidentListReads.search_incidents

    def spy(self: IncidentListReads, **kwargs: Any) -> Any:
        asked.append(kwargs["count"])
        return search(self, **kwargs)

    monkeypatch.setattr(IncidentListReads, "search_incidents", spy)
    async with gateway_running(tmp_path, CONFIG) as gw:
        web = (await gw.store.read(lambda r: r.service_by_name("Web"))).id  # type: ignore[union-attr]

        def open_many(tx: Any) -> None:
            for n in range(55):
                incidents.create_incident(tx, web, f"disk {n}", by="ops@example.com")

        await gw.store.write(open_many)
        ui = await signed_in(gw)
        first = await ui.get("/ui/incidents")
        second = await ui.get("/ui/incidents?offset=50")
    assert asked == [False, False]
    assert "Showing 1\N{EN DASH}50." in first.text
    assert 'rel="next" href="/ui/incidents?offset=50"' in first.text
    assert 'rel="prev"' not in first.text
    assert "Showing 51\N{EN DASH}55." in second.text
    assert 'rel="prev" href="/ui/incidents?offset=0"' in second.text
    assert 'rel="next"' not in second.text


MANY = config(*(service(f"Svc {n:03d}") for n in range(SERVICE_CHOICES_MAX + 1)))


async def test_the_incident_filter_searches_service_names_above_the_choice_limit(
    tmp_path: Path,
) -> None:
    """Past SERVICE_CHOICES_MAX services the filter is a name search, not 1,000 options."""
    async with gateway_running(tmp_path, MANY) as gw:
        ids = {
            name: (await gw.store.read(lambda r, n=name: r.service_by_name(n))).id  # type: ignore[union-attr, misc]
            for name in ("Svc 007", "Svc 042")
        }

        def open_two(tx: Any) -> None:
            incidents.create_incident(tx, ids["Svc 007"], "seven down", by="ops@example.com")
            incidents.create_incident(tx, ids["Svc 042"], "forty-two down", by="ops@example.com")

        await gw.store.write(open_two)
        ui = await signed_in(gw)
        every = await ui.get("/ui/incidents")
        found = await ui.get("/ui/incidents?service_query=svc+04")
        chosen = await ui.get(f"/ui/incidents?service={ids['Svc 007']}")
        none = await ui.get("/ui/incidents?service_query=nothing")
        many = await ui.get("/ui/incidents?service_query=svc")
    assert '<select id="service"' not in every.text and "<option" not in every.text
    assert 'name="service_query"' in every.text
    assert "seven down" in every.text and "forty-two down" in every.text
    assert "forty-two down" in found.text and "seven down" not in found.text
    assert 'value="svc 04"' in found.text
    assert "seven down" in chosen.text and "forty-two down" not in chosen.text
    assert 'value="Svc 007"' in chosen.text
    assert "No services match “nothing”" in none.text and "down" not in none.text
    assert f"{SERVICE_CHOICES_MAX + 1} services match “svc”" in many.text
    assert "seven down" in many.text  # Svc 007 is among the first 100 by name


async def test_the_incident_filter_lists_a_few_services_as_choices(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, DIRECTORY) as gw:
        ui = await signed_in(gw)
        page = await ui.get("/ui/incidents")
    assert '<select id="service" name="service">' in page.text
    assert page.text.count("<option") == len(NAMES) + 1

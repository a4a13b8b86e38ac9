"""The incident page's assignees, escalation level and reassign forms; the list's assignees.

Real HTTP to an in-process gateway with a real SMTP receiver: the page is read and the
forms posted as a browser would (cookie session, CSRF token).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from gateway.testing import TestGateway, gateway_running
from tests.escalation_support import KEY, smtp, trigger
from tests.incident_helpers import make_tokens
from tests.scaffold import config, v2_service
from tests.smtp_support import SmtpReceiver, smtp_receiver
from tests.test_rest_reassign import PEOPLE, TWO_LEVELS, clock
from tests.ui.harness import csrf_of, sign_in


@asynccontextmanager
async def escalating(tmp_path: Path, rx: SmtpReceiver) -> AsyncIterator[TestGateway]:
    """Checkout on the two-level policy, without a https ``public_url`` (the UI's session
    cookie is then Secure, and this test speaks plain HTTP)."""
    text = config(v2_service("Checkout", KEY, escalation_policy="On call"))
    async with gateway_running(
        tmp_path, text + PEOPLE + TWO_LEVELS + smtp(rx.port), clock=clock()
    ) as gw:
        yield gw


async def post(gw: TestGateway, page: str, action: str, **data: str) -> httpx.Response:
    csrf = csrf_of((await gw.client.get(page)).text)
    return await gw.client.post(action, data={"csrf_token": csrf, **data})


def field(html: str, ident: str) -> str:
    """The text of ``<dd id=ident>``, tags dropped."""
    found = html.split(f'id="{ident}">', 1)[1].split("</dd>", 1)[0]
    return re.sub(r"<[^>]+>", "", found)


async def test_a_responder_reassigns_from_the_incident_page(tmp_path: Path) -> None:
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx) as gw:
            await sign_in(gw.client, (await make_tokens(gw))["limited_user"])
            incident = await trigger(gw, "disk", summary="Disk full")
            page_path = f"/ui/incidents/{incident.id}"
            page = (await gw.client.get(page_path)).text
            assert "Ann Primary" in field(page, "incident-assignees")
            assert field(page, "incident-policy") == "On call, level 1 of 2"
            assert "Reassign</button>" in page and "Level 2</option>" in page
            bob = await gw.store.read(lambda r: r.user_by_email("bob@example.com"))
            assert bob is not None
            moved = await post(gw, page_path, f"{page_path}/reassign", user_id=bob.id)
            assert moved.status_code == 303
            page = (await gw.client.get(page_path)).text
            assert "Incident reassigned." in page
            assert field(page, "incident-assignees").startswith("Bob Second")
            assert "Reassigned to Bob Second" in page
            up = await post(gw, page_path, f"{page_path}/reassign", escalation_level="2")
            assert up.status_code == 303
            page = (await gw.client.get(page_path)).text
            assert "Incident escalated to level 2." in page
            assert field(page, "incident-policy") == "On call, level 2 of 2"
            assert "Cat Third" in field(page, "incident-assignees")
            bad = await post(gw, page_path, f"{page_path}/reassign", escalation_level="7")
            page = (await gw.client.get(bad.headers["location"])).text
            assert "Not reassigned: escalation_level must be between 1 and 2" in page
            nobody = await post(gw, page_path, f"{page_path}/reassign", user_id="PNOBODY")
            page = (await gw.client.get(nobody.headers["location"])).text
            assert "Not reassigned: user PNOBODY does not exist" in page
            listed = (await gw.client.get("/ui/incidents")).text
            entries = await gw.log_entries(incident.id)
            no_csrf = await gw.client.post(f"{page_path}/reassign", data={"user_id": bob.id})
            await rx.wait_for(4)  # Ann, Bob, then Bob and Cat at level 2
    assert "Assigned to</th>" in listed and "Cat Third" in listed
    assert no_csrf.status_code in (400, 403)
    # PagerDuty's log entries say where a person acted: the website is web_ui, not api.
    by_hand = [
        e
        for e in entries
        if e.agent_type == "user" and e.type.endswith(("assign_log_entry", "escalate_log_entry"))
    ]
    # Reassigned to Bob; escalated to level 2, which assigns Bob and Cat.
    assert [e.type for e in by_hand] == [
        "assign_log_entry",
        "escalate_log_entry",
        "assign_log_entry",
    ]
    assert {e.details["channel"] for e in by_hand} == {"web_ui"}, [e.details for e in by_hand]


async def test_an_observer_sees_assignees_but_cannot_reassign(tmp_path: Path) -> None:
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx) as gw:
            await sign_in(gw.client, (await make_tokens(gw))["observer"])
            incident = await trigger(gw, "disk", summary="Disk full")
            page_path = f"/ui/incidents/{incident.id}"
            page = (await gw.client.get(page_path)).text
            refused = await post(gw, page_path, f"{page_path}/reassign", escalation_level="2")
            after = (await gw.client.get(page_path)).text
    assert "Ann Primary" in field(page, "incident-assignees")
    assert "Reassign</button>" not in page
    assert refused.status_code == 403
    assert "Ann Primary" in field(after, "incident-assignees")
    del rx

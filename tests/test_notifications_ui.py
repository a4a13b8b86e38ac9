"""The incident page of the web UI shows each notification in the timeline, by name."""

from __future__ import annotations

from pathlib import Path

from gateway.core.notifications import ContactPoint, NotifiedUser, notify
from gateway.testing import gateway_running
from tests.incident_helpers import CONFIG, WEB_KEY, make_tokens, trigger
from tests.ui.harness import csrf_of


async def test_the_incident_page_lists_the_notification(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        token = (await make_tokens(gw))["observer"]
        await trigger(gw.client, WEB_KEY, "disk")
        (incident,) = await gw.incidents()
        alice = NotifiedUser("PALICE1", "Alice Doe", "alice@example.com")
        email = ContactPoint("PCM0001", "email_contact_method", "alice@example.com")
        await gw.store.write(lambda tx: notify(tx, incident, alice, email))
        login = await gw.client.get("/ui/login")
        signed = await gw.client.post(
            "/ui/login", data={"token": token, "csrf_token": csrf_of(login.text)}
        )
        assert signed.status_code == 303, signed.text
        page = await gw.client.get(f"/ui/incidents/{incident.id}")
    assert page.status_code == 200, page.text
    assert "Notified Alice Doe by email" in page.text

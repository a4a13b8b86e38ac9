"""Escalation policies in the web UI: the list and a policy's levels (targets and delays),
the service page naming its policy with a link, the service form's choice list, and deleting
a policy (refused while a service uses it)."""

from __future__ import annotations

from collections.abc import Iterator
from html import escape

import httpx
import pytest

from gateway.core import escalation_policies as ep
from gateway.core import users
from gateway.store import Tx
from gateway.store.offline import write_sync
from tests.ui.harness import UiGateway, post_form, signed_in, ui_running

pytestmark = pytest.mark.slow  # a real daemon process and the token CLI


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiGateway]:
    with ui_running(tmp_path_factory.mktemp("policies-ui")) as gateway:
        yield gateway


def _lead(tx: Tx) -> str:
    found = tx.user_by_email("lead@example.com")
    if found is not None:
        return found.id
    return users.create_user(tx, users.UserInput(name="Lena Lead", email="lead@example.com")).id


def _schedule(gw: UiGateway, lead: str) -> str:
    """The "Primary" schedule (Lena Lead always on call), through the REST API."""
    found = gw.daemon.scalar("SELECT id FROM schedules WHERE name = 'Primary'")
    if found:
        return str(found)
    layer = {
        "start": "2026-01-01T00:00:00Z",
        "rotation_virtual_start": "2026-01-01T00:00:00Z",
        "rotation_turn_length_seconds": 86400,
        "users": [{"user": {"id": lead, "type": "user_reference"}}],
    }
    body = {"schedule": {"name": "Primary", "time_zone": "UTC", "schedule_layers": [layer]}}
    headers = {
        "Accept": "application/vnd.pagerduty+json;version=2",
        "Authorization": f"Token token={gw.tokens['manager']}",
    }
    made = httpx.post(f"{gw.base_url}/schedules", json=body, headers=headers, timeout=10)
    assert made.status_code == 201, made.text
    return str(made.json()["schedule"]["id"])


def _policy(gw: UiGateway, name: str) -> str:
    lead = write_sync(gw.daemon.db_path, _lead)
    primary = _schedule(gw, lead)
    rules = [
        ep.rule_input(
            {
                "escalation_delay_in_minutes": 15,
                "targets": [{"type": "schedule_reference", "id": primary}],
            }
        ),
        ep.rule_input(
            {
                "escalation_delay_in_minutes": 30,
                "escalation_rule_assignment_strategy": "round_robin",
                "targets": [{"type": "user_reference", "id": lead}],
            }
        ),
    ]
    data = ep.PolicyInput(name=name, rules=rules, num_loops=2)
    return write_sync(gw.daemon.db_path, lambda tx: ep.create_policy(tx, data).id)


def test_list_and_policy_page_show_levels_delays_and_services(gw: UiGateway) -> None:
    pid = _policy(gw, "Payments & on-call")
    with signed_in(gw, "observer") as ui:
        listing = ui.get("/ui/escalation_policies")
        assert listing.status_code == 200
        assert escape("Payments & on-call") in listing.text and "Default" in listing.text
        page = ui.get(f"/ui/escalation_policies/{pid}")
        assert page.status_code == 200
        text = page.text
        assert "Escalates after 15 min." in text and "Escalates after 30 min." in text
        primary = gw.daemon.scalar("SELECT id FROM schedules WHERE name = 'Primary'")
        assert f'<a href="/ui/schedules/{primary}">Primary</a>' in text
        assert "on-call on schedule" in text and "one at a time" in text
        lead = gw.daemon.scalar("SELECT id FROM users WHERE email = 'lead@example.com'")
        assert f'<a href="/ui/users/{lead}">Lena Lead</a>' in text  # users by name, linked
        assert "repeats 2 times" in text
        assert "Delete this policy" not in text  # an observer
        assert ui.get("/ui/escalation_policies/PNOSUCH").status_code == 404


def test_service_form_picks_a_policy_and_the_page_links_it(gw: UiGateway) -> None:
    pid = _policy(gw, "Checkout policy")
    with signed_in(gw, "manager") as ui:
        form = ui.get("/ui/services/new").text
        assert f'<option value="{pid}">Checkout policy</option>' in form
        assert '<option value="PDEFALT" selected>Default</option>' in form
        made = post_form(
            ui,
            "/ui/services/new",
            "/ui/services/new",
            name="Policy shop",
            escalation_policy=pid,
            urgency="high",
            alert_creation="create_alerts_and_incidents",
            ack_minutes="30",
            resolve_hours="4",
            integration_type="none",
        )
        assert made.status_code == 303, made.text
        page = ui.get(made.headers["location"]).text
        assert f'href="/ui/escalation_policies/{pid}">Checkout policy</a>' in page
        # An unknown policy is refused on the form, nothing created.
        bad = post_form(
            ui,
            "/ui/services/new",
            "/ui/services/new",
            name="Bad policy shop",
            escalation_policy="PNOPE",
            integration_type="none",
        )
        assert bad.status_code == 400 and "escalation_policy PNOPE does not exist" in bad.text
        assert gw.daemon.scalar("SELECT count(*) FROM services WHERE name = 'Bad policy shop'") == 0
        # Deleting a policy in use is refused, naming the service; an unused one goes.
        page_path = f"/ui/escalation_policies/{pid}"
        refused = post_form(ui, "/ui/escalation_policies", f"{page_path}/delete")
        assert refused.status_code == 400 and "Policy shop" in refused.text
        unused = _policy(gw, "Unused")
        gone = post_form(
            ui, f"/ui/escalation_policies/{unused}", f"/ui/escalation_policies/{unused}/delete"
        )
        assert gone.status_code == 303
        assert (
            gw.daemon.scalar("SELECT count(*) FROM escalation_policies WHERE id = ?", unused) == 0
        )


def test_a_policy_page_lists_its_first_100_services_and_counts_the_rest(gw: UiGateway) -> None:
    pid = _policy(gw, "Crowded")

    def many(tx: Tx) -> None:
        for n in range(103):
            tx.insert_service(name=f"crowd {n:03d}", escalation_policy_id=pid)

    write_sync(gw.daemon.db_path, many)
    with signed_in(gw, "observer") as ui:
        page = ui.get(f"/ui/escalation_policies/{pid}").text
    assert "crowd 099" in page and "crowd 100" not in page
    assert "and 3 more (103 in all)." in page

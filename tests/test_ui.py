"""The web UI without a browser: plain HTTP forms against a running daemon.

Every action is a form POST answered with a 303 (POST-redirect-GET), so httpx
walks the same flows a browser without JavaScript would, and checks what the
browser tests cannot see cheaply: status codes, CSRF refusals, role refusals,
escaping, and the database behind the pages.
"""

from __future__ import annotations

import fnmatch
import re
import stat
from collections.abc import Iterator

import httpx
import pytest

from tests.scaffold import REPO
from tests.ui.harness import (
    PAYMENTS_KEY,
    QUIET_KEY,
    UiGateway,
    create_token,
    csrf_of,
    post_form,
    signed_in,
    token_cli,
    ui_running,
    v2_event,
)

pytestmark = pytest.mark.slow  # a real daemon process and the token CLI

KEY_ON_PAGE = re.compile(r'class="integration-key">(\w{32})<')
NEW_SERVICE = {
    "name": "Checkout",
    "description": "Checkout & cart",
    "escalation_policy": "PDEFALT",
    "urgency": "high",
    "alert_creation": "create_alerts_and_incidents",
    "ack_minutes": "30",
    "resolve_hours": "4",
    "integration_type": "events_api_v2",
    "integration_name": "Checkout v2",
}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiGateway]:
    with ui_running(tmp_path_factory.mktemp("ui")) as gateway:
        yield gateway


@pytest.fixture
def manager(gw: UiGateway) -> Iterator[httpx.Client]:
    with signed_in(gw, "manager") as client:
        yield client


def service_id(gw: UiGateway, name: str) -> str:
    found = gw.daemon.scalar("SELECT id FROM services WHERE name = ? AND deleted_at IS NULL", name)
    assert found, f"no service {name}"
    return str(found)


def create_service(client: httpx.Client, **fields: str) -> httpx.Response:
    return post_form(client, "/ui/services/new", "/ui/services/new", **{**NEW_SERVICE, **fields})


def first_incident(gw: UiGateway, service: str) -> str:
    return str(
        gw.daemon.scalar(
            "SELECT id FROM incidents WHERE service_id = ? ORDER BY number DESC", service
        )
    )


# -- sign-in and sessions -----------------------------------------------------------------------


def test_root_redirects_to_the_ui_and_the_ui_to_login(gw: UiGateway) -> None:
    with httpx.Client(base_url=gw.base_url) as client:
        root = client.get("/")
        assert root.status_code == 302
        assert root.headers["location"] == "/ui/"
        services = client.get("/ui/services")
        assert services.status_code == 302
        assert services.headers["location"].startswith("/ui/login?next=")


def test_login_with_a_token_sets_a_hardened_session_cookie(gw: UiGateway) -> None:
    with httpx.Client(base_url=gw.base_url) as client:
        page = client.get("/ui/login")
        response = client.post(
            "/ui/login",
            data={
                "token": gw.tokens["manager"],
                "csrf_token": csrf_of(page.text),
                "next": "/ui/vendors",
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/vendors"
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert "Path=/ui" in cookie
        # Only the token's digest travels in the (signed, readable) cookie, never the token.
        assert gw.tokens["manager"] not in cookie
        assert client.get("/ui/vendors").status_code == 200


def test_login_refuses_an_unknown_token_and_foreign_redirects(gw: UiGateway) -> None:
    with httpx.Client(base_url=gw.base_url) as client:
        page = client.get("/ui/login")
        bad = client.post("/ui/login", data={"token": "nope", "csrf_token": csrf_of(page.text)})
        assert bad.status_code == 401
        assert "unknown or revoked" in bad.text
        good = client.post(
            "/ui/login",
            data={
                "token": gw.tokens["observer"],
                "csrf_token": csrf_of(page.text),
                "next": "https://evil.example/ui/",
            },
        )
        assert good.headers["location"] == "/ui/services"


def test_session_key_is_generated_once_per_database_with_private_mode(gw: UiGateway) -> None:
    path = gw.daemon.db_path.with_name(gw.daemon.db_path.name + ".ui-secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes().strip()) >= 32


def test_revoked_token_signs_the_session_out(gw: UiGateway) -> None:
    gw.tokens["short-lived"] = create_token(gw.daemon, "observer", "short-lived")
    with signed_in(gw, "short-lived") as client:
        assert client.get("/ui/services").status_code == 200
        token_id = gw.daemon.scalar("SELECT id FROM api_tokens WHERE name = 'short-lived'")
        token_cli(gw.daemon, "revoke", token_id)
        assert client.get("/ui/services").status_code == 302


# -- CSRF -----------------------------------------------------------------------------------------


def test_post_without_csrf_token_is_refused_and_changes_nothing(
    gw: UiGateway, manager: httpx.Client
) -> None:
    missing = manager.post("/ui/services/new", data={**NEW_SERVICE, "name": "No token"})
    assert missing.status_code == 400
    assert "CSRF" in missing.text
    wrong = manager.post(
        "/ui/services/new", data={**NEW_SERVICE, "name": "No token", "csrf_token": "forged"}
    )
    assert wrong.status_code == 400
    assert gw.daemon.scalar("SELECT count(*) FROM services WHERE name = 'No token'") == 0


def test_plain_post_from_elsewhere_is_refused(gw: UiGateway) -> None:
    # What a cross-site form or a script without the session's token sends.
    response = httpx.post(f"{gw.base_url}/ui/login", data={"token": gw.tokens["manager"]})
    assert response.status_code == 400
    incident_post = httpx.post(f"{gw.base_url}/ui/incidents/Q1/resolve")
    assert incident_post.status_code == 400


# -- the no-JavaScript flows -------------------------------------------------------------------


def test_create_service_with_an_integration_then_trigger_it(
    gw: UiGateway, manager: httpx.Client
) -> None:
    created = create_service(manager)
    assert created.status_code == 303
    page = manager.get(created.headers["location"])
    assert "Service Checkout created with integration Checkout v2." in page.text
    key = KEY_ON_PAGE.findall(page.text)[0]
    row = gw.daemon.query(
        "SELECT s.name, s.description, s.escalation_policy_id, s.acknowledgement_timeout, "
        "s.auto_resolve_timeout, i.type FROM services s JOIN integrations i "
        "ON i.service_id = s.id WHERE i.integration_key = ?",
        key,
    )
    assert row == [
        (
            "Checkout",
            "Checkout & cart",
            "PDEFALT",
            1800,
            14400,
            "events_api_v2_inbound_integration",
        )
    ]
    assert v2_event(gw, key).status_code == 202
    directory = manager.get("/ui/services").text
    assert re.search(r"Checkout</a>.*?status-critical.*?1 triggered", directory, re.S)


def test_events_api_v2_with_create_incidents_is_refused_server_side(
    gw: UiGateway, manager: httpx.Client
) -> None:
    refused = create_service(manager, name="Refused", alert_creation="create_incidents")
    assert refused.status_code == 400
    assert "Events API v2" in refused.text
    assert 'value="Refused"' in refused.text  # the form comes back filled in
    assert gw.daemon.scalar("SELECT count(*) FROM services WHERE name = 'Refused'") == 0


def test_service_with_no_integration_and_a_vendor_integration(
    gw: UiGateway, manager: httpx.Client
) -> None:
    created = create_service(manager, name="Bare", integration_type="none")
    assert created.status_code == 303
    sid = service_id(gw, "Bare")
    assert gw.daemon.scalar("SELECT count(*) FROM integrations WHERE service_id = ?", sid) == 0
    added = post_form(
        manager,
        f"/ui/services/{sid}/integrations/new",
        f"/ui/services/{sid}/integrations/new",
        integration_type="PZQ6AUS",
        integration_name="",
    )
    assert added.status_code == 303
    email = post_form(
        manager,
        f"/ui/services/{sid}/integrations/new",
        f"/ui/services/{sid}/integrations/new",
        integration_type="email",
        integration_name="Mailbox",
        integration_email="bare-alerts@example.com",
    )
    assert email.status_code == 303, email.text
    page = manager.get(f"/ui/services/{sid}/integrations").text
    assert "Amazon CloudWatch" in page
    assert re.search(r'<code id="email-\w+">bare-alerts@example.com</code>', page)
    assert len(KEY_ON_PAGE.findall(page)) == 2


def test_bad_numbers_come_back_as_form_errors(manager: httpx.Client) -> None:
    response = create_service(manager, name="Numbers", ack_minutes="soon")
    assert response.status_code == 400
    assert "Acknowledgement timeout must be a whole number" in response.text


def test_edit_service_settings(gw: UiGateway, manager: httpx.Client) -> None:
    create_service(manager, name="Editable", integration_type="none")
    sid = service_id(gw, "Editable")
    saved = post_form(
        manager,
        f"/ui/services/{sid}/edit",
        f"/ui/services/{sid}/edit",
        name="Edited",
        description="",
        urgency="severity_based",
        alert_creation="create_incidents",
        ack_minutes="",
        resolve_hours="2",
    )
    assert saved.status_code == 303
    assert gw.daemon.query(
        "SELECT name, urgency, alert_creation, acknowledgement_timeout, auto_resolve_timeout "
        "FROM services WHERE id = ?",
        sid,
    ) == [("Edited", "severity_based", "create_incidents", None, 7200)]


def test_acknowledge_and_resolve_an_incident(gw: UiGateway, manager: httpx.Client) -> None:
    assert v2_event(gw, PAYMENTS_KEY, summary="Card declines").status_code == 202
    incident = first_incident(gw, service_id(gw, "Payments"))
    page = manager.get(f"/ui/incidents/{incident}").text
    assert "Card declines" in page
    assert "Acknowledge</button>" in page
    ack = post_form(manager, f"/ui/incidents/{incident}", f"/ui/incidents/{incident}/acknowledge")
    assert ack.status_code == 303
    assert gw.daemon.scalar("SELECT status FROM incidents WHERE id = ?", incident) == (
        "acknowledged"
    )
    resolved = post_form(manager, f"/ui/incidents/{incident}", f"/ui/incidents/{incident}/resolve")
    assert resolved.status_code == 303
    assert gw.daemon.scalar("SELECT status FROM incidents WHERE id = ?", incident) == "resolved"
    timeline = manager.get(f"/ui/incidents/{incident}").text
    assert "Acknowledged by manager" in timeline
    assert "Resolved by manager" in timeline
    # Resolving twice is not an error page: the incident page says why nothing changed.
    again = post_form(manager, f"/ui/incidents/{incident}", f"/ui/incidents/{incident}/resolve")
    assert again.status_code == 303
    assert "Incident Already Resolved" in manager.get(again.headers["location"]).text


def test_incident_filters(gw: UiGateway, manager: httpx.Client) -> None:
    v2_event(gw, QUIET_KEY, summary="Quiet high one")
    payments = service_id(gw, "Payments")
    v2_event(gw, PAYMENTS_KEY, summary="Payments low one")
    high = manager.get("/ui/incidents", params={"urgency": "high"}).text
    assert "Quiet high one" in high
    assert "Payments low one" not in high
    by_service = manager.get("/ui/incidents", params={"service": payments}).text
    assert "Payments low one" in by_service
    assert "Quiet high one" not in by_service
    resolved = manager.get("/ui/incidents", params={"status": "resolved"}).text
    assert "Quiet high one" not in resolved


def test_html_in_a_summary_is_shown_as_text(gw: UiGateway, manager: httpx.Client) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    assert v2_event(gw, QUIET_KEY, summary=evil, source="<b>host</b>").status_code == 202
    incident = first_incident(gw, service_id(gw, "Quiet"))
    for path in ("/ui/incidents", f"/ui/incidents/{incident}"):
        html = manager.get(path).text
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<b>host</b>" not in manager.get(f"/ui/incidents/{incident}").text


def test_move_integration_warns_then_moves_keeping_the_key(
    gw: UiGateway, manager: httpx.Client
) -> None:
    create_service(manager, name="Mover", integration_name="mover v2")
    source = service_id(gw, "Mover")
    payments = service_id(gw, "Payments")
    integration, key = gw.daemon.query(
        "SELECT id, integration_key FROM integrations WHERE service_id = ?", source
    )[0]
    base = f"/ui/services/{source}/integrations/{integration}/move"
    warning = manager.get(base, params={"to": payments})
    assert warning.status_code == 200
    # Payments is low urgency: the warning names the setting and both values, in words.
    assert "<strong>Urgency</strong>: high → low" in warning.text
    assert "incident_urgency_rule" not in warning.text
    # Proceeding without the confirmation (a stale form) shows the warning again: 409.
    unconfirmed = manager.post(base, data={"csrf_token": csrf_of(warning.text), "to": payments})
    assert unconfirmed.status_code == 409
    assert gw.daemon.scalar("SELECT service_id FROM integrations WHERE id = ?", integration) == (
        source
    )
    moved = manager.post(
        base, data={"csrf_token": csrf_of(warning.text), "to": payments, "confirm": "yes"}
    )
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/ui/services/{payments}/integrations"
    assert gw.daemon.query(
        "SELECT service_id, integration_key FROM integrations WHERE id = ?", integration
    ) == [(payments, key)]


def test_delete_integration_after_confirmation(gw: UiGateway, manager: httpx.Client) -> None:
    create_service(manager, name="Doomed", integration_name="doomed v2")
    sid = service_id(gw, "Doomed")
    integration, key = gw.daemon.query(
        "SELECT id, integration_key FROM integrations WHERE service_id = ?", sid
    )[0]
    assert v2_event(gw, key).status_code == 202
    confirm = manager.get(f"/ui/services/{sid}/integrations/{integration}/delete")
    assert "cannot be recovered" in confirm.text
    assert "Incidents it already opened are kept" in confirm.text
    gone = manager.post(
        f"/ui/services/{sid}/integrations/{integration}/delete",
        data={"csrf_token": csrf_of(confirm.text)},
    )
    assert gone.status_code == 303
    refused = v2_event(gw, key)
    assert refused.status_code == 400
    assert "Invalid routing key" in refused.text
    assert gw.daemon.scalar("SELECT count(*) FROM incidents WHERE service_id = ?", sid) == 1


def test_disable_and_enable_with_confirmation(gw: UiGateway, manager: httpx.Client) -> None:
    create_service(manager, name="Toggle", integration_type="none")
    sid = service_id(gw, "Toggle")
    confirm = manager.get(f"/ui/services/{sid}/status")
    assert "Disable Toggle?" in confirm.text
    done = manager.post(
        f"/ui/services/{sid}/status",
        data={"csrf_token": csrf_of(confirm.text), "status": "disabled"},
    )
    assert done.status_code == 303
    assert gw.daemon.scalar("SELECT status FROM services WHERE id = ?", sid) == "disabled"
    again = manager.get(f"/ui/services/{sid}/status")
    assert "Enable Toggle?" in again.text
    manager.post(
        f"/ui/services/{sid}/status",
        data={"csrf_token": csrf_of(again.text), "status": "active"},
    )
    assert gw.daemon.scalar("SELECT status FROM services WHERE id = ?", sid) == "active"


def test_start_and_end_maintenance(gw: UiGateway, manager: httpx.Client) -> None:
    quiet = service_id(gw, "Quiet")
    started = post_form(
        manager,
        f"/ui/services/{quiet}/maintenance/new",
        f"/ui/services/{quiet}/maintenance/new",
        start="",
        minutes="30",
        description="Upgrade <db>",
    )
    assert started.status_code == 303
    page = manager.get(f"/ui/services/{quiet}").text
    assert "In maintenance" in page
    assert "Upgrade &lt;db&gt;" in page
    assert "status-maintenance" in page
    before = gw.daemon.scalar("SELECT count(*) FROM incidents")
    assert v2_event(gw, QUIET_KEY, summary="during maintenance").status_code == 202
    assert gw.daemon.scalar("SELECT count(*) FROM incidents") == before
    window = re.search(rf"/ui/services/{quiet}/maintenance/(\w+)/end", page)
    assert window
    # The REST API's html_url for the window opens the service's page.
    linked = manager.get(f"/ui/maintenance_windows/{window.group(1)}", follow_redirects=True)
    assert linked.url.path == f"/ui/services/{quiet}"
    ended = manager.post(window.group(0), data={"csrf_token": csrf_of(page)})
    assert ended.status_code == 303
    assert "In maintenance" not in manager.get(f"/ui/services/{quiet}").text


def test_maintenance_form_errors(gw: UiGateway, manager: httpx.Client) -> None:
    quiet = service_id(gw, "Quiet")
    bad = post_form(
        manager,
        f"/ui/services/{quiet}/maintenance/new",
        f"/ui/services/{quiet}/maintenance/new",
        minutes="0",
    )
    assert bad.status_code == 400
    assert "Duration must be a whole number" in bad.text
    past = post_form(
        manager,
        f"/ui/services/{quiet}/maintenance/new",
        f"/ui/services/{quiet}/maintenance/new",
        start="not a time",
        minutes="10",
    )
    assert past.status_code == 400


def test_unknown_objects_are_404_pages(manager: httpx.Client) -> None:
    for path in ("/ui/services/PNOPE00", "/ui/incidents/QNOPE", "/ui/services/PNOPE00/edit"):
        response = manager.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")


# -- roles ------------------------------------------------------------------------------------


def test_observer_sees_but_cannot_act(gw: UiGateway) -> None:
    v2_event(gw, PAYMENTS_KEY, summary="Observed")
    payments = service_id(gw, "Payments")
    incident = first_incident(gw, payments)
    with signed_in(gw, "observer") as client:
        directory = client.get("/ui/services").text
        assert "Payments" in directory
        assert "+ New Service" not in directory
        page = client.get(f"/ui/incidents/{incident}").text
        assert "Acknowledge</button>" not in page
        assert "Resolve</button>" not in page
        integrations = client.get(f"/ui/services/{payments}/integrations").text
        assert "Move to Another Service" not in integrations
        assert client.get("/ui/services/new").status_code == 403
        token = csrf_of(page)
        for action in (
            f"/ui/incidents/{incident}/acknowledge",
            f"/ui/incidents/{incident}/resolve",
            "/ui/services/new",
            f"/ui/services/{payments}/status",
        ):
            refused = client.post(action, data={"csrf_token": token, **NEW_SERVICE})
            assert refused.status_code == 403, action
            assert "observer" in refused.text
    assert gw.daemon.scalar("SELECT status FROM incidents WHERE id = ?", incident) == "triggered"


def test_responder_acts_on_incidents_but_not_services(gw: UiGateway) -> None:
    v2_event(gw, PAYMENTS_KEY, summary="For the responder")
    incident = first_incident(gw, service_id(gw, "Payments"))
    with signed_in(gw, "responder") as client:
        page = client.get(f"/ui/incidents/{incident}").text
        assert "Acknowledge</button>" in page
        done = client.post(
            f"/ui/incidents/{incident}/acknowledge", data={"csrf_token": csrf_of(page)}
        )
        assert done.status_code == 303
        refused = client.post("/ui/services/new", data={"csrf_token": csrf_of(page), **NEW_SERVICE})
        assert refused.status_code == 403


def test_vendors_page_lists_plugins_and_inbound_urls(manager: httpx.Client) -> None:
    html = manager.get("/ui/vendors").text
    assert "Amazon CloudWatch" in html
    assert "PZQ6AUS" in html
    assert "/integration/{key}/enqueue" in html
    assert "/x-ere/{key}" in html
    assert "/adapter/{name}/v1/{key}" in html
    assert "/v2/enqueue" in html
    assert "/nagios/2010-04-15/create_event" in html
    assert "https://aws.amazon.com/cloudwatch/" in html


def test_rest_html_urls_open_ui_pages(gw: UiGateway, manager: httpx.Client) -> None:
    payments = service_id(gw, "Payments")
    integration = gw.daemon.scalar(
        "SELECT id FROM integrations WHERE integration_key = ?", PAYMENTS_KEY
    )
    v2_event(gw, PAYMENTS_KEY, summary="Linked")
    incident = first_incident(gw, payments)
    alert = gw.daemon.scalar("SELECT id FROM alerts WHERE incident_id = ?", incident)
    for path, lands_on in (
        (f"/ui/services/{payments}", f"/ui/services/{payments}"),
        (
            f"/ui/services/{payments}/integrations/{integration}",
            f"/ui/services/{payments}/integrations",
        ),
        (f"/ui/incidents/{incident}/alerts/{alert}", f"/ui/incidents/{incident}"),
        ("/ui/vendors/PZQ6AUS", "/ui/vendors"),
    ):
        response = manager.get(path, follow_redirects=True)
        assert response.status_code == 200, path
        assert response.url.path == lands_on


def test_pages_forbid_inline_script_and_framing(manager: httpx.Client) -> None:
    response = manager.get("/ui/services")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"


def test_bad_input_gets_a_page_never_a_500(gw: UiGateway, manager: httpx.Client) -> None:
    quiet = service_id(gw, "Quiet")
    integration = gw.daemon.scalar(
        "SELECT id FROM integrations WHERE integration_key = ?", QUIET_KEY
    )
    token = csrf_of(manager.get("/ui/services").text)
    posts = {
        "/ui/services/new": {**NEW_SERVICE, "name": "x" * 300, "urgency": "whenever"},
        f"/ui/services/{quiet}/edit": {"name": "", "alert_creation": "sometimes"},
        f"/ui/services/{quiet}/status": {"status": "paused"},
        f"/ui/services/{quiet}/integrations/{integration}/rename": {"name": ""},
        f"/ui/services/{quiet}/integrations/{integration}/move": {"to": "PNOPE00"},
        f"/ui/services/{quiet}/integrations/new": {"integration_type": "PNOVEND"},
        f"/ui/services/{quiet}/maintenance/new": {"minutes": "5", "start": "2026-13-45T99:99"},
        f"/ui/services/{quiet}/maintenance/PNOPE00/end": {},
        "/ui/incidents/999999/acknowledge": {},
    }
    for path, data in posts.items():
        response = manager.post(path, data={"csrf_token": token, **data})
        assert response.status_code in (400, 404, 409), (path, response.status_code)
        assert response.headers["content-type"].startswith("text/html")
    assert manager.get("/ui/incidents?offset=x&status=bogus&urgency=").status_code == 200
    # A NUL is refused everywhere outside events (PostgreSQL cannot hold one): a 400 page.
    refused = manager.get("/ui/services?query=%00")
    assert refused.status_code == 400 and refused.headers["content-type"].startswith("text/html")
    assert gw.daemon.scalar("SELECT name FROM services WHERE id = ?", quiet) == "Quiet"


def test_the_sign_in_hint_names_the_config_file(gw: UiGateway) -> None:
    with httpx.Client(base_url=gw.base_url) as client:
        page = client.get("/ui/login")
    assert page.status_code == 200
    assert "alert-gateway token create --config FILE --role user" in page.text
    assert "/etc/alert-gateway/config.toml" in page.text


def test_the_favicon_is_served_not_a_404(gw: UiGateway) -> None:
    with httpx.Client(base_url=gw.base_url, follow_redirects=True) as client:
        icon = client.get("/favicon.ico")
        page = client.get("/ui/login")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content.startswith(b"<svg")
    assert 'rel="icon"' in page.text


def test_the_ui_secret_is_ignored_by_git() -> None:
    # The session signing key lives beside the database; it must never be committed.
    patterns = (REPO / ".gitignore").read_text().split()
    assert any(fnmatch.fnmatch("alert-gateway.db.ui-secret", p) for p in patterns)


def test_pages_name_people_and_integrations_in_words(gw: UiGateway, manager: httpx.Client) -> None:
    # Issue 15 item 12: ids, API field names and raw ISO times are for programs.
    assert v2_event(gw, PAYMENTS_KEY, summary="Wording check").status_code == 202
    payments = service_id(gw, "Payments")
    incident = first_incident(gw, payments)
    integration_id, name = gw.daemon.query(
        "SELECT id, name FROM integrations WHERE service_id = ? AND deleted_at IS NULL",
        payments,
    )[0]
    page = manager.get(f"/ui/incidents/{incident}").text
    assert f"by integration {name}" in page
    assert integration_id not in page
    # Relative times, the exact time on hover.
    assert re.search(r'<time datetime="[^"]+" title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC">', page)
    assert "just now" in page or "ago" in page
    service_page = manager.get(f"/ui/services/{payments}").text
    status = re.search(r"<dt>Status</dt><dd>(.*?)</dd>", service_page, re.S)
    assert status, service_page
    assert status.group(1) == "Enabled. Critical: an incident is triggered"
    assert "shown as" not in service_page


def test_a_service_page_shows_its_suppressed_events(gw: UiGateway, manager: httpx.Client) -> None:
    # Issue 15 item 14: events a disabled service accepted vanished from view.
    created = create_service(manager, name="Muted")
    key = KEY_ON_PAGE.findall(manager.get(created.headers["location"]).text)[0]
    sid = service_id(gw, "Muted")
    confirm = manager.get(f"/ui/services/{sid}/status")
    manager.post(
        f"/ui/services/{sid}/status",
        data={"csrf_token": csrf_of(confirm.text), "status": "disabled"},
    )
    quiet_page = manager.get(f"/ui/services/{sid}").text
    assert "suppressed-count" not in quiet_page  # nothing suppressed yet, nothing shown
    for n in range(3):
        assert v2_event(gw, key, summary=f"Muted event {n}").status_code == 202
    page = manager.get(f"/ui/services/{sid}").text
    count = re.search(r'<p id="suppressed-count">(.*?)</p>', page, re.S)
    assert count, page
    assert count.group(1).startswith("3 events suppressed in the last 24 hours")
    assert "Suppressed trigger: service disabled" in page
    assert "<q>Muted event 2</q>" in page

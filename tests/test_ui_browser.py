"""The web UI in a real browser: Playwright driving Debian's Chromium, headless.

One daemon and one browser for the module; each test walks one flow an
operator follows and saves screenshots under ``test-artifacts/ui/``. The tests
skip, saying why, only where Chromium or Playwright is missing (``make test``
installs both when it runs as root with apt-get).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.scaffold import REPO
from tests.ui.harness import QUIET_KEY, UiGateway, ui_running, v2_event

pytestmark = pytest.mark.slow  # Chromium against a real daemon: make test-fast skips it

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "ui"

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)
if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: `make test` installs Debian's chromium when run as root "
        "with apt-get (apt-get install chromium)",
        allow_module_level=True,
    )

Page = Any  # playwright.sync_api.Page; Any keeps this module importable without playwright
expect = playwright_api.expect


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiGateway]:
    with ui_running(tmp_path_factory.mktemp("ui-browser")) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


def new_page(browser: Any, gw: UiGateway, **options: Any) -> Page:
    context = browser.new_context(base_url=gw.base_url, **options)
    context.set_default_timeout(10_000)
    return context.new_page()


def login(browser: Any, gw: UiGateway, who: str, **options: Any) -> Page:
    page = new_page(browser, gw, **options)
    page.goto("/ui/services")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    page.get_by_label("API token").fill(gw.tokens[who])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Service Directory")).to_be_visible()
    return page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def manager(browser: Any, gw: UiGateway) -> Iterator[Page]:
    page = login(browser, gw, "manager", permissions=["clipboard-read", "clipboard-write"])
    yield page
    page.context.close()


def create_service(page: Page, name: str, integration: str = "Events API v2") -> str:
    """Fill in the New Service form; return the integration key read from the page."""
    page.goto("/ui/services")
    page.get_by_role("link", name="+ New Service").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Integration type").select_option(label=integration)
    page.get_by_label("Integration name").fill(f"{name} events")
    page.get_by_role("button", name="Create Service").click()
    expect(page.locator(".notices")).to_contain_text(f"Service {name} created")
    return str(page.locator("code.integration-key").first.inner_text()).strip()


def service_id(gw: UiGateway, name: str) -> str:
    return str(
        gw.daemon.scalar("SELECT id FROM services WHERE name = ? AND deleted_at IS NULL", name)
    )


def open_more(page: Page, item: str) -> None:
    page.locator("details.menu > summary").click()
    page.locator("details.menu").get_by_role("link", name=item).click()


# -- the flows ------------------------------------------------------------------------------------


def test_login_page_and_directory(browser: Any, gw: UiGateway) -> None:
    page = new_page(browser, gw)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    shot(page, "01-login")
    page.get_by_label("API token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("unknown or revoked")
    page.get_by_label("API token").fill(gw.tokens["manager"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("row", name=re.compile("Payments"))).to_contain_text("active")
    shot(page, "02-service-directory")
    page.context.close()


def test_new_service_form_greys_out_create_incidents_for_events_api_v2(manager: Page) -> None:
    manager.goto("/ui/services/new")
    create_incidents = manager.get_by_label("Create incidents", exact=True)
    kind = manager.get_by_label("Integration type")
    kind.select_option(label="Events API v2")
    expect(create_incidents).to_be_disabled()
    kind.select_option(label="Events API v1")
    expect(create_incidents).to_be_enabled()
    create_incidents.check()
    kind.select_option(label="Events API v2")
    expect(create_incidents).to_be_disabled()
    expect(manager.get_by_label("Create alerts and incidents")).to_be_checked()
    shot(manager, "03-new-service-form")


def test_create_copy_key_trigger_acknowledge_resolve(manager: Page, gw: UiGateway) -> None:
    key = create_service(manager, "Storefront")
    assert re.fullmatch(r"[a-z0-9]{32}", key)
    manager.get_by_role("button", name="Copy integration key").click()
    expect(manager.locator(".key [role=status]").first).to_have_text("Copied")
    assert manager.evaluate("navigator.clipboard.readText()") == key
    shot(manager, "04-integrations-tab")

    sent = v2_event(gw, key, summary="Storefront is down")
    assert sent.status_code == 202
    manager.get_by_role("link", name="Incidents", exact=True).click()
    manager.get_by_role("link", name="Storefront is down").click()
    expect(manager.get_by_role("heading", level=1)).to_contain_text("Storefront is down")
    expect(manager.locator(".actions .badge")).to_have_text("triggered")
    shot(manager, "05-incident-triggered")
    manager.get_by_role("button", name="Acknowledge").click()
    expect(manager.locator(".notices")).to_contain_text("acknowledged")
    expect(manager.locator(".actions .badge")).to_have_text("acknowledged")
    manager.get_by_role("button", name="Resolve").click()
    expect(manager.locator(".actions .badge")).to_have_text("resolved")
    expect(manager.get_by_role("button", name="Resolve")).to_have_count(0)
    expect(manager.locator("ol")).to_contain_text("Resolved by manager")
    shot(manager, "06-incident-resolved")


def test_incident_filters(manager: Page, gw: UiGateway) -> None:
    v2_event(gw, QUIET_KEY, summary="Filter me")
    manager.goto("/ui/incidents")
    manager.get_by_label("resolved").check()
    manager.get_by_role("button", name="Filter").click()
    expect(manager).to_have_url(re.compile(r"status=resolved"))
    expect(manager.get_by_role("link", name="Filter me")).to_have_count(0)
    manager.get_by_label("resolved").uncheck()
    manager.get_by_label("triggered").check()
    manager.get_by_label("high").check()
    manager.get_by_role("button", name="Filter").click()
    expect(manager.get_by_role("link", name="Filter me")).to_be_visible()
    shot(manager, "07-incident-filters")


def test_move_integration_cancel_then_proceed(manager: Page, gw: UiGateway) -> None:
    key = create_service(manager, "Relocating")
    payments = service_id(gw, "Payments")
    manager.get_by_role("link", name="Move to Another Service").click()
    manager.get_by_label("Destination service").select_option(label="Payments")
    manager.get_by_role("button", name="Continue").click()
    warning = manager.locator("#move-warning")
    expect(warning).to_contain_text("Urgency: high → low")  # the setting in words
    shot(manager, "08-move-warning")
    manager.get_by_role("region", name=re.compile("Move to Payments")).get_by_role(
        "link", name="Cancel"
    ).click()
    expect(manager.locator("code.integration-key")).to_have_text(key)
    assert gw.daemon.scalar(
        "SELECT service_id FROM integrations WHERE integration_key = ?", key
    ) == service_id(gw, "Relocating")

    manager.get_by_role("link", name="Move to Another Service").click()
    manager.get_by_label("Destination service").select_option(label="Payments")
    manager.get_by_role("button", name="Continue").click()
    manager.get_by_role("button", name="Proceed and move").click()
    expect(manager).to_have_url(re.compile(f"/ui/services/{payments}/integrations"))
    expect(manager.locator(".notices")).to_contain_text("Its key is unchanged")
    expect(manager.locator("code.integration-key", has_text=key)).to_be_visible()
    shot(manager, "09-moved")


def test_delete_integration_with_confirmation(manager: Page, gw: UiGateway) -> None:
    key = create_service(manager, "Retiring")
    assert v2_event(gw, key).status_code == 202
    manager.get_by_role("link", name="Delete").click()
    expect(manager.get_by_role("region", name="Confirm deletion")).to_contain_text(
        "cannot be recovered"
    )
    expect(manager.get_by_role("region", name="Confirm deletion")).to_contain_text(
        "Incidents it already opened are kept"
    )
    shot(manager, "10-delete-confirmation")
    manager.get_by_role("button", name="Delete Integration").click()
    expect(manager.locator(".notices")).to_contain_text("deleted")
    refused = v2_event(gw, key)
    assert refused.status_code == 400
    assert "Invalid routing key" in refused.text
    manager.get_by_role("link", name="Settings and incidents").click()
    expect(manager.get_by_role("region", name=re.compile("Open incidents"))).to_contain_text(
        "Disk full"
    )


def test_disable_and_enable_service(manager: Page, gw: UiGateway) -> None:
    create_service(manager, "Switchable")
    manager.get_by_role("link", name="Settings and incidents").click()
    open_more(manager, "Disable Service")
    expect(manager.get_by_role("heading", level=1)).to_have_text("Disable Switchable?")
    shot(manager, "11-disable-confirmation")
    manager.get_by_role("button", name="Disable Service").click()
    expect(manager.locator("h1 + .badge")).to_have_text("disabled")
    assert (
        gw.daemon.scalar("SELECT status FROM services WHERE id = ?", service_id(gw, "Switchable"))
        == "disabled"
    )
    open_more(manager, "Enable Service")
    manager.get_by_role("button", name="Enable Service").click()
    expect(manager.locator("h1 + .badge")).to_have_text("active")


def test_start_and_end_maintenance(manager: Page, gw: UiGateway) -> None:
    manager.goto(f"/ui/services/{service_id(gw, 'Quiet')}")
    open_more(manager, "Schedule maintenance")
    manager.get_by_label("Duration").fill("45")
    manager.get_by_label("Description").fill("Kernel upgrade")
    manager.get_by_role("button", name="Start maintenance").click()
    expect(manager.locator("h1 + .badge")).to_have_text("maintenance")
    expect(manager.locator(".warning")).to_contain_text("Kernel upgrade")
    shot(manager, "12-maintenance")
    manager.get_by_role("button", name="End maintenance now").click()
    expect(manager.locator(".notices")).to_contain_text("ended")
    expect(manager.locator("h1 + .badge")).not_to_have_text("maintenance")


def test_html_in_a_summary_is_shown_as_text(manager: Page, gw: UiGateway) -> None:
    evil = '<img src=x onerror="window.__pwned=1"><b>bold</b>'
    assert v2_event(gw, QUIET_KEY, summary=evil).status_code == 202
    manager.goto("/ui/incidents")
    manager.get_by_role("link", name=evil).first.click()
    expect(manager.locator("#incident-title")).to_have_text(evil)
    expect(manager.locator("main img")).to_have_count(0)
    assert manager.evaluate("window.__pwned") is None
    shot(manager, "13-html-as-text")


def test_observer_sees_but_cannot_act(browser: Any, gw: UiGateway) -> None:
    v2_event(gw, QUIET_KEY, summary="Observer sees this")
    page = login(browser, gw, "observer")
    expect(page.get_by_role("link", name="+ New Service")).to_have_count(0)
    page.get_by_role("link", name="Incidents", exact=True).click()
    page.get_by_role("link", name="Observer sees this").first.click()
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(page.get_by_role("button", name="Resolve")).to_have_count(0)
    shot(page, "14-observer")
    # The server refuses too: post the form the observer's browser would need, CSRF and all.
    status = page.evaluate(
        """async () => {
            const token = document.querySelector('input[name=csrf_token]').value;
            const body = new URLSearchParams({csrf_token: token});
            const r = await fetch(location.pathname + '/acknowledge', {method: 'POST', body});
            return r.status;
        }"""
    )
    assert status == 403
    page.goto(f"/ui/services/{service_id(gw, 'Quiet')}/integrations")
    expect(page.get_by_role("link", name="Move to Another Service")).to_have_count(0)
    expect(page.locator("details.menu")).to_have_count(0)
    page.context.close()


def test_every_action_works_without_javascript(browser: Any, gw: UiGateway) -> None:
    page = login(browser, gw, "responder", java_script_enabled=False)
    v2_event(gw, QUIET_KEY, summary="No script needed")
    page.goto("/ui/incidents?status=triggered")
    page.get_by_role("link", name="No script needed").first.click()
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".actions .badge")).to_have_text("acknowledged")
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator(".actions .badge")).to_have_text("resolved")
    # Without script the copy button stays hidden; the key is still there to select.
    page.goto(f"/ui/services/{service_id(gw, 'Quiet')}/integrations")
    expect(page.get_by_role("button", name="Copy integration key")).to_be_hidden()
    expect(page.locator("code.integration-key")).to_have_text(QUIET_KEY)
    page.context.close()


def test_readable_on_a_phone(browser: Any, gw: UiGateway) -> None:
    page = login(browser, gw, "manager", viewport={"width": 390, "height": 844}, is_mobile=True)
    for path in ("/ui/services", "/ui/incidents", f"/ui/services/{service_id(gw, 'Quiet')}"):
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px"
    shot(page, "15-phone-service")
    page.goto("/ui/services")
    shot(page, "16-phone-directory")
    # Keyboard users see where they are: the focused link has an outline.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.context.close()


def test_csrf_refusal_for_a_plain_post(gw: UiGateway) -> None:
    response = httpx.post(f"{gw.base_url}/ui/services/new", data={"name": "Forged"}, timeout=10.0)
    assert response.status_code == 400
    assert gw.daemon.scalar("SELECT count(*) FROM services WHERE name = 'Forged'") == 0

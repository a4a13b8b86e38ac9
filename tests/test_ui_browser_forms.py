"""The schedule, override and escalation-policy forms in a real browser (Debian's Chromium,
headless): ``datetime-local`` fields, selects chosen by name, the level and layer buttons,
and Enter saving rather than pressing a list button. Screenshots go to
``test-artifacts/ui/`` beside those of :mod:`tests.test_ui_browser`; the module skips,
saying why, where Chromium or Playwright is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.core import users
from gateway.store import Tx
from gateway.store.offline import write_sync
from tests.test_ui_browser import ARTIFACTS, CHROMIUM, expect, login, playwright_api, shot
from tests.ui.harness import UiGateway, ui_running

pytestmark = pytest.mark.slow  # Chromium against a real daemon: make test-fast skips it


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiGateway]:
    with ui_running(tmp_path_factory.mktemp("ui-browser-forms")) as gateway:

        def people(tx: Tx) -> None:
            for name in ("Alice", "Bob", "Carol"):
                users.create_user(tx, users.UserInput(name=name, email=f"{name.lower()}@x.org"))

        write_sync(gateway.daemon.db_path, people)
        yield gateway


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # the other module's screenshots stay
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


def test_a_schedule_and_an_override_through_the_forms(browser: Any, gw: UiGateway) -> None:
    page = login(browser, gw, "manager")
    page.goto("/ui/schedules")
    page.get_by_role("link", name="+ New schedule").click()
    page.get_by_label("Name", exact=True).fill("Browser rota")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.locator("#layer-0-start").fill("2030-03-04T09:00")
    page.get_by_label("Layer 1 user 1").select_option(label="Bob (bob@x.org)")
    page.get_by_role("button", name="Add another user").click()  # the form again, Bob kept
    page.get_by_label("Layer 1 user 2").select_option(label="Alice (alice@x.org)")
    page.get_by_role("button", name="Add a layer").click()
    expect(page.get_by_text("Layer 2", exact=True)).to_be_visible()
    page.get_by_role("button", name="Remove layer 2").click()
    expect(page.get_by_text("Layer 2", exact=True)).to_have_count(0)
    shot(page, "schedule-form")
    page.get_by_role("button", name="Create schedule").click()
    expect(page.locator(".notices")).to_contain_text("Schedule Browser rota created")
    layer = page.locator("#layers-h + p + ol")
    expect(layer).to_contain_text("Bob, Alice, each for 1 week")

    page.get_by_role("link", name="Add an override").click()
    page.get_by_label("Who is on call").select_option(label="Carol (carol@x.org)")
    page.locator("#override-start").fill("2030-03-05T18:00")
    page.locator("#override-end").fill("2030-03-06T08:00")
    page.get_by_role("button", name="Add override").click()
    expect(page.locator(".notices")).to_contain_text("Override added.")
    listed = page.locator("ul.overrides li").first
    expect(listed).to_contain_text("Carol")
    expect(listed.locator("time").first).to_have_attribute("title", "2030-03-05 17:00:00 UTC")
    shot(page, "schedule-override")
    listed.get_by_role("button", name=re.compile("Remove the override of Carol")).click()
    expect(page.locator(".notices")).to_contain_text("Override removed.")
    page.context.close()


def test_a_policy_through_the_form_and_enter_saves(browser: Any, gw: UiGateway) -> None:
    page = login(browser, gw, "manager")
    page.goto("/ui/escalation_policies")
    page.get_by_role("link", name="+ New escalation policy").click()
    page.get_by_label("Name", exact=True).fill("Browser policy")
    page.get_by_label("Level 1 target 1").select_option(label="Alice (alice@x.org)")
    page.get_by_role("button", name="Add a level").click()
    page.get_by_label("Level 2 target 1").select_option(label="Bob (bob@x.org)")
    page.locator("#level-0-delay").fill("5")
    page.get_by_role("button", name="Move level 2 up").click()  # Bob's level first now
    expect(page.get_by_label("Level 1 target 1")).to_have_value(re.compile("^user:"))
    first = page.get_by_label("Level 1 target 1").locator("option:checked")
    expect(first).to_have_text("Bob (bob@x.org)")
    shot(page, "policy-form")
    page.get_by_label("Name", exact=True).press("Enter")  # saves: not a level button
    expect(page.locator(".notices")).to_contain_text("Escalation policy Browser policy created.")
    levels = page.locator("ol.levels > li")
    expect(levels.nth(0)).to_contain_text("Bob")
    expect(levels.nth(1)).to_contain_text("Alice")
    shot(page, "policy-created")
    page.context.close()

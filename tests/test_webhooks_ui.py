"""Webhook subscriptions in the web UI (plain forms, no JavaScript): the account-wide page
adds one and shows its secret once, a service's page lists its subscriptions, and both show
recent deliveries and their outcome; ping, retry and drop are CSRF-checked forms."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.outbox_support import receiver
from tests.ui.harness import (
    PAYMENTS_KEY,
    UiGateway,
    csrf_of,
    post_form,
    signed_in,
    ui_running,
    v2_event,
)

pytestmark = pytest.mark.slow  # a real daemon process and the token CLI


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiGateway]:
    with ui_running(tmp_path_factory.mktemp("webhooks-ui")) as gateway:
        yield gateway


def _payments(gw: UiGateway) -> str:
    return str(gw.daemon.scalar("SELECT id FROM services WHERE name = 'Payments'"))


def test_add_a_subscription_see_its_deliveries_and_act_on_them(
    tmp_path: Path, gw: UiGateway
) -> None:
    payments = _payments(gw)
    answers = {"status": 200}
    with receiver(lambda _: (answers["status"], {}, 0.0)) as rx, signed_in(gw, "manager") as ui:
        made = ui.post(
            "/ui/webhooks/new",
            data={
                "csrf_token": csrf_of(ui.get("/ui/webhooks").text),
                "url": rx.url,
                "description": "Payments to chat",
                "service": payments,
                "events": ["incident.triggered", "incident.resolved"],
            },
        )
        assert made.status_code == 200, made.text
        secret = re.search(r'<code id="secret-(\w+)">([^<]+)</code>', made.text)
        assert secret, made.text
        sub_id = secret.group(1)
        assert gw.daemon.scalar(
            "SELECT secret FROM webhook_subscriptions WHERE id = ?", sub_id
        ) == (secret.group(2))
        assert secret.group(2) not in ui.get("/ui/webhooks").text  # shown once

        assert v2_event(gw, PAYMENTS_KEY, dedup_key="ui-hook").status_code == 202
        assert rx.wait_sync(lambda got: len(got) == 1, timeout=10)
        answers["status"] = 410
        assert v2_event(gw, PAYMENTS_KEY, dedup_key="ui-hook-2").status_code == 202
        assert rx.wait_sync(lambda got: len(got) == 2, timeout=10)
        page = f"/ui/webhooks/{sub_id}"
        for _ in range(100):
            detail = ui.get(page).text
            if "HTTP 410" in detail:
                break
            time.sleep(0.05)
        service_page = ui.get(f"/ui/services/{payments}").text
        listed = ui.get("/ui/webhooks").text

        failed = gw.daemon.scalar(
            "SELECT id FROM outbox_messages WHERE destination = ? AND state = 'failed'", sub_id
        )
        answers["status"] = 200
        retried = ui.post(
            f"{page}/deliveries/{failed}",
            data={"csrf_token": csrf_of(ui.get(page).text), "action": "retry"},
        )
        assert rx.wait_sync(lambda got: len(got) == 3, timeout=10)
        pinged = post_form(ui, page, f"{page}/ping")
        assert rx.wait_sync(lambda got: len(got) == 4, timeout=10)
        forged = ui.post(f"{page}/ping", data={"csrf_token": "forged"})
    assert "HTTP 410" in detail and "delivered" in detail
    assert "Payments to chat" in service_page and "delivered" in service_page
    assert "Payments to chat" in listed and "failed" in listed
    assert retried.status_code == 303 and pinged.status_code == 303
    assert forged.status_code == 400
    assert rx.count() == 4


def test_an_observer_sees_subscriptions_but_has_no_forms(gw: UiGateway) -> None:
    with signed_in(gw, "observer") as ui:
        page = ui.get("/ui/webhooks")
        refused = ui.post(
            "/ui/webhooks/new",
            data={
                "csrf_token": csrf_of(page.text),
                "url": "http://127.0.0.1:9/",
                "events": ["incident.triggered"],
            },
        )
    assert page.status_code == 200 and "Add a subscription" not in page.text
    assert refused.status_code == 403

"""The web UI's forwarding page: targets saved from the form (keys shown redacted, a shown key
kept), a bad line refused with the form refilled, and a failed forwarded event retried."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from gateway.core import tokens
from gateway.testing import TestGateway, gateway_running
from tests.forwarding_support import ACCEPTED, Request, forward_to, settled, upstream
from tests.scaffold import config, key, v2, v2_service
from tests.ui import harness
from tests.ui.harness import csrf_of

KEY = key("ui-relay")
UP = "R0UT1NGKEY0000000000000000000001"


@asynccontextmanager
async def sign_in(gw: TestGateway, role: str = "user") -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in to the UI with a new token of ``role`` (cookies kept)."""
    _, secret = await gw.store.write(lambda tx: tokens.create_token(tx, name=role, role=role))
    async with httpx.AsyncClient(base_url=gw.running.base_url, timeout=10.0) as client:
        await harness.sign_in(client, secret)
        yield client


async def test_targets_are_saved_from_the_form_and_shown_redacted(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, config(v2_service("Cart", KEY))) as gw:
        sid = (await gw.store.read(lambda r: r.services()))[0].id
        path = f"/ui/services/{sid}/forwarding"
        async with sign_in(gw) as ui:
            form = await ui.get(path)
            assert "This service forwards nothing." in form.text
            saved = await ui.post(path, data={"csrf_token": csrf_of(form.text),
                                              "targets": f"https://events.pagerduty.com {UP}",
                                              "forward_suppressed": "on"})  # fmt: skip
            assert saved.status_code == 303, saved.text
            shown = await ui.get(path)
            # Sent back as shown, the key is kept; a bad line is refused with the form refilled.
            same = "https://events.pagerduty.com …0001"
            kept = await ui.post(path, data={"csrf_token": csrf_of(shown.text), "targets": same})
            bad = await ui.post(path, data={"csrf_token": csrf_of(shown.text),
                                            "targets": "gopher://x.example short"})  # fmt: skip
            page = await ui.get(f"/ui/services/{sid}")
        stored = await gw.store.read(lambda r: r.service_forwarding(sid))
    assert "…0001" in shown.text and UP not in shown.text
    assert "Suppressed events (service disabled or in maintenance) are forwarded too" in shown.text
    assert kept.status_code == 303
    assert bad.status_code == 400
    assert "must be an http or https URL" in bad.text and "gopher://x.example short" in bad.text
    assert [(t.url, t.routing_key) for t in stored.targets] == [
        ("https://events.pagerduty.com", UP)
    ]
    assert stored.forward_suppressed is False  # the second save left the box unticked
    assert "1 target" in page.text


async def test_a_failed_forwarded_event_is_retried_from_the_page(tmp_path: Path) -> None:
    refuse = {"on": True}

    def script(_: Request, __: int) -> tuple[int, object]:
        return (400, {"message": "Event object is invalid"}) if refuse["on"] else (202, ACCEPTED)

    with upstream(script) as up:
        text = config(v2_service("Cart", KEY, forward_to=forward_to(up.url, UP)))
        async with gateway_running(tmp_path, text) as gw:
            await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="ui-one"))
            (failed,) = await settled(gw, "failed", 1)
            sid = (await gw.store.read(lambda r: r.services()))[0].id
            path = f"/ui/services/{sid}/forwarding"
            async with sign_in(gw) as ui:
                listed = await ui.get(path)
                refuse["on"] = False
                retried = await ui.post(f"{path}/{failed.id}/retry",
                                        data={"csrf_token": csrf_of(listed.text)})  # fmt: skip
                await settled(gw, "delivered", 1)
            async with sign_in(gw, "observer") as viewer:
                seen = await viewer.get(path)
    assert "Event object is invalid" in listed.text and "ui-one" in listed.text
    assert "Declared in the configuration file" in listed.text
    assert retried.status_code == 303
    assert seen.status_code == 200 and "Retry now" not in seen.text
    assert len(up.got()) == 2

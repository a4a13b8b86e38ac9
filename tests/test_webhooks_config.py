"""``[[webhook_subscriptions]]`` in the configuration file: provisioned at start and reload,
matched by name or description, owned by the file, and refused with key and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.config import parse_settings
from gateway.daemon import reload
from gateway.errors import ConfigError
from gateway.testing import gateway_running
from tests.incident_helpers import headers, make_tokens, service_id, trigger
from tests.scaffold import config, daemon_running, key, v2_service
from tests.webhook_support import Verifier, pd_receiver, verified

KEY = key("webhook-config")
SECRET = "file-secret-0123456789abcdef"


def _text(url: str, *, name_line: str = 'name = "chat"', extra: str = "") -> str:
    return config(v2_service("Checkout", KEY)) + (
        "\n[[webhook_subscriptions]]\n"
        f"{name_line}\n"
        'description = "Chat bridge"\n'
        f'url = "{url}"\n'
        'events = ["incident.triggered"]\n'
        'service = "Checkout"\n'
        f'secret = "{SECRET}"\n'
        'custom_headers = { X-Room = "ops" }\n'
        f"{extra}"
    )


async def test_a_declared_subscription_is_provisioned_owned_and_released(tmp_path: Path) -> None:
    verifier = Verifier(secrets=[SECRET])
    with pd_receiver(verifier) as rx:
        text = _text(rx.url)
        (tmp_path / "config.toml").write_text(text)
        async with gateway_running(tmp_path, text) as gw:
            tokens = await make_tokens(gw)
            h = headers(tokens["user"])
            listed = (await gw.client.get("/webhook_subscriptions", headers=h)).json()
            (sub,) = listed["webhook_subscriptions"]
            checkout = await service_id(gw, "Checkout")
            await trigger(gw.client, KEY, "from-file")
            (request,) = await rx.wait_for(1)
            path = f"/webhook_subscriptions/{sub['id']}"
            put = await gw.client.put(
                path, headers=h, json={"webhook_subscription": {"description": "mine now"}}
            )
            delete = await gw.client.delete(path, headers=h)
            rotate = await gw.client.post(f"{path}/rotate_secret", headers=h)
            enable = await gw.client.post(f"{path}/enable", headers=h)
            # The file changes the URL: the same subscription follows on reload.
            (tmp_path / "config.toml").write_text(_text("http://127.0.0.1:9/moved"))
            assert await reload(gw.running)
            moved = (await gw.client.get(path, headers=h)).json()["webhook_subscription"]
            # The block leaves the file: the subscription is released to runtime edits.
            (tmp_path / "config.toml").write_text(config(v2_service("Checkout", KEY)))
            assert await reload(gw.running)
            released = await gw.client.delete(path, headers=h)
    assert sub["name"] == "chat" and sub["declared_in_config"] is True
    assert sub["filter"] == {"type": "service_reference", "id": checkout}
    assert verified(request, [SECRET]) and request.headers["x-room"] == "ops"
    for answer in (put, delete, rotate):
        assert answer.status_code == 400, answer.text
        assert "declared in the configuration file" in answer.text
    assert enable.status_code == 200
    assert moved["id"] == sub["id"] and moved["delivery_method"]["url"].endswith("/moved")
    assert released.status_code == 204


async def test_a_block_without_name_is_matched_by_its_description(tmp_path: Path) -> None:
    text = _text("http://127.0.0.1:9/a", name_line="")
    (tmp_path / "config.toml").write_text(text)
    async with gateway_running(tmp_path, text) as gw:
        h = headers((await make_tokens(gw))["user"])
        (before,) = (await gw.client.get("/webhook_subscriptions", headers=h)).json()[
            "webhook_subscriptions"
        ]
        (tmp_path / "config.toml").write_text(_text("http://127.0.0.1:9/b", name_line=""))
        assert await reload(gw.running)
        (after,) = (await gw.client.get("/webhook_subscriptions", headers=h)).json()[
            "webhook_subscriptions"
        ]
    assert before["id"] == after["id"] and after["delivery_method"]["url"].endswith("/b")


def test_shapes_are_refused_at_parse_time_with_their_line() -> None:
    with pytest.raises(ConfigError, match="unknown key") as caught:
        parse_settings(_text("http://x/", extra='colour = "red"\n'))
    assert caught.value.key == "webhook_subscriptions[0].colour"
    with pytest.raises(ConfigError, match="needs a name or a description"):
        parse_settings(
            '[[webhook_subscriptions]]\nurl = "http://x/"\nevents = ["incident.triggered"]\n'
        )


async def test_rules_are_refused_at_start_naming_the_block(tmp_path: Path) -> None:
    text = _text("ftp://example.com/", extra="")
    with pytest.raises(BaseException) as caught:
        async with gateway_running(tmp_path, text):
            pass
    errors = [caught.value]
    while isinstance(errors[0], BaseExceptionGroup):
        errors = list(errors[0].exceptions)
    (error,) = errors
    assert isinstance(error, ConfigError)
    assert error.key == "webhook_subscriptions[0]" and error.line is not None
    assert "http or https" in str(error)


@pytest.mark.slow
def test_a_change_made_with_the_cli_reaches_subscriptions_with_the_daemons_links(
    tmp_path: Path,
) -> None:
    verifier = Verifier(secrets=[SECRET])
    with pd_receiver(verifier) as rx:
        text = config(server={"public_url": "https://gw.example.com"}) + (
            "\n[[webhook_subscriptions]]\n"
            'name = "services"\n'
            f'url = "{rx.url}"\n'
            'events = ["service.created"]\n'
            f'secret = "{SECRET}"\n'
        )
        with daemon_running(tmp_path, text) as daemon:
            done = daemon.cli("services", "create", "From CLI")
            assert done.returncode == 0, done.stderr
            assert rx.wait_sync(lambda got: len(got) == 1, timeout=15)
    (request,) = rx.received
    event = json.loads(request.body)["event"]
    assert verified(request, [SECRET])
    assert event["event_type"] == "service.created"
    assert event["data"]["name"] == "From CLI"
    assert event["data"]["html_url"].startswith("https://gw.example.com/ui/services/")

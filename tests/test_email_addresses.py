"""Email integration addresses over REST: shown whole, taken whole, refused without [smtp]."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.core.email_integrations import NO_SMTP
from gateway.testing import TestGateway, gateway_running
from tests.incident_helpers import error, headers, make_tokens, service_id
from tests.scaffold import config, email_integration, service

SMTP = {"listen": "127.0.0.1:0", "domain": "alerts.example.com"}
MAIL = service(
    "Mail",
    email_integration("plain", "ops"),
    email_integration("nagios", "nagios", email_preset="nagios"),
    email_integration(
        "by subject",
        "by-subject@alerts.example.com",
        email_incident_creation="on_new_email_subject",
    ),
)
WITH_SMTP = config(MAIL, storage=None, smtp=SMTP)
WITHOUT_SMTP = config(MAIL, storage=None)


async def integrations(gw: TestGateway, token: str) -> dict[str, dict[str, Any]]:
    sid = await service_id(gw, "Mail")
    answer = await gw.client.get(
        f"/services/{sid}", params={"include[]": "integrations"}, headers=headers(token)
    )
    assert answer.status_code == 200, answer.text
    return {i["name"]: i for i in answer.json()["service"]["integrations"]}


async def post(gw: TestGateway, token: str, sid: str, **fields: Any) -> Any:
    body = {"integration": {"type": "generic_email_inbound_integration", **fields}}
    return await gw.client.post(f"/services/{sid}/integrations", json=body, headers=headers(token))


async def test_rest_shows_the_whole_address_and_the_creation_mode(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, WITH_SMTP) as gw:
        token = (await make_tokens(gw))["user"]
        found = await integrations(gw, token)
        assert found["plain"]["integration_email"] == "ops@alerts.example.com"
        assert found["plain"]["email_incident_creation"] == "on_new_email"  # was null
        assert found["plain"]["email_filter_mode"] == "all-email"
        assert found["plain"]["email_parsing_fallback"] == "open_new_incident"
        assert found["by subject"]["integration_email"] == "by-subject@alerts.example.com"
        assert found["by subject"]["email_incident_creation"] == "on_new_email_subject"
        assert found["nagios"]["email_incident_creation"] == "use_rules"  # a preset is rules
        assert found["nagios"]["email_preset"] == "nagios"
        assert found["plain"]["email_preset"] is None


async def test_rest_takes_a_local_part_or_our_domain_and_refuses_another(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, WITH_SMTP) as gw:
        token = (await make_tokens(gw))["user"]
        sid = await service_id(gw, "Mail")
        local = await post(gw, token, sid, name="printers", integration_email="printers")
        assert local.status_code == 201, local.text
        assert local.json()["integration"]["integration_email"] == "printers@alerts.example.com"
        whole = await post(gw, token, sid, name="fax", integration_email="fax@Alerts.Example.com")
        assert whole.status_code == 201, whole.text
        made = whole.json()["integration"]
        assert made["integration_email"] == "fax@Alerts.Example.com"

        elsewhere = await post(gw, token, sid, name="x", integration_email="x@elsewhere.example")
        status, _, _ = error(elsewhere)
        assert status == 400
        (reason,) = elsewhere.json()["error"]["errors"]
        assert "x@alerts.example.com" in reason and "@elsewhere.example" in reason
        # "ops" is ops@alerts.example.com: the whole address cannot be taken a second time.
        twice = await post(gw, token, sid, name="y", integration_email="OPS@alerts.example.com")
        assert twice.status_code == 400
        assert "already used" in twice.json()["error"]["errors"][0]

        path = f"/services/{sid}/integrations/{made['id']}"
        moved = await gw.client.put(
            path,
            json={"integration": {"integration_email": "fax@elsewhere.example"}},
            headers=headers(token),
        )
        assert moved.status_code == 400
        # A client putting back what it read (the whole address) changes nothing.
        local_id = local.json()["integration"]["id"]
        same = await gw.client.put(
            f"/services/{sid}/integrations/{local_id}",
            json={"integration": {"integration_email": "printers@alerts.example.com"}},
            headers=headers(token),
        )
        assert same.status_code == 200, same.text
        stored = await gw.store.read(lambda r: r.integration(local_id))
        assert stored is not None and stored.integration_email == "printers"
        names = {"plain", "nagios", "by subject", "printers", "fax"}
        assert set(await integrations(gw, token)) == names  # the refusals made nothing


async def test_without_smtp_email_integrations_are_refused_but_the_daemon_starts(
    tmp_path: Path,
) -> None:
    async with gateway_running(tmp_path, WITHOUT_SMTP) as gw:
        token = (await make_tokens(gw))["user"]
        found = await integrations(gw, token)  # the file's own still provision and show
        assert found["plain"]["integration_email"] == "ops"  # no domain to add
        sid = await service_id(gw, "Mail")
        refused = await post(gw, token, sid, name="new", integration_email="new")
        assert error(refused)[0] == 400
        assert refused.json()["error"]["errors"] == [NO_SMTP]
        assert "[smtp]" in NO_SMTP
        assert set(await integrations(gw, token)) == {"plain", "nagios", "by subject"}
        # An Events API integration needs no SMTP listener.
        v2 = await post(gw, token, sid, type="events_api_v2_inbound_integration", name="v2")
        assert v2.status_code == 201, v2.text

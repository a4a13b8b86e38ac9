"""End-to-end over HTTP: /vendors, built from the vendors the loaded plugins register."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import pagerduty
import pytest

from tests.rest_support import Api, api, assert_error
from tests.scaffold import Daemon, config
from tests.tls import make_ca_and_server

pytestmark = pytest.mark.slow  # one real daemon process for the module (tests/rest_support.py)

__all__ = ["api"]  # the fixture, used by parameter name

FIELDS = {
    "id",
    "type",
    "summary",
    "self",
    "html_url",
    "name",
    "website_url",
    "logo_url",
    "thumbnail_url",
    "description",
    "integration_guide_url",
    "long_name",
    "generic_service_type",
    "alert_creation_default",
    "alert_creation_editable",
    "is_pd_cef",
    "connectable",
}


def test_list_shows_plugin_vendors_not_generic_protocols(api: Api) -> None:
    r = api.call("GET", "/vendors", role="observer", params={"total": "true"})
    assert r.status_code == 200
    body = r.json()
    ids = [v["id"] for v in body["vendors"]]
    assert "PZQ6AUS" in ids and "PGWAMGR" in ids
    assert "events_api_v2" not in ids and "events_api_v1" not in ids
    assert body["total"] == len(ids) and body["more"] is False
    names = [v["name"] for v in body["vendors"]]
    assert names == sorted(names, key=str.casefold)
    for vendor in body["vendors"]:
        assert set(vendor) == FIELDS and vendor["type"] == "vendor"


def test_query_filters_by_name(api: Api) -> None:
    r = api.call("GET", "/vendors", params={"query": "cloudwatch"})
    assert [v["id"] for v in r.json()["vendors"]] == ["PZQ6AUS"]
    assert api.call("GET", "/vendors", params={"query": "zzz"}).json()["vendors"] == []


def test_pagination(api: Api) -> None:
    first = api.call("GET", "/vendors", params={"limit": 1}).json()
    assert len(first["vendors"]) == 1 and first["more"] is True
    everything = api.call("GET", "/vendors", params={"limit": 100}).json()["vendors"]
    last = api.call("GET", "/vendors", params={"limit": 1, "offset": len(everything) - 1}).json()
    assert last["vendors"] == everything[-1:] and last["more"] is False
    assert_error(api.call("GET", "/vendors", params={"offset": 10000, "limit": 1}), 400, 2001)


def test_get_one_and_404(api: Api) -> None:
    r = api.call("GET", "/vendors/PZQ6AUS")
    vendor = r.json()["vendor"]
    assert vendor["name"] == "Amazon CloudWatch"
    assert vendor["generic_service_type"] == "aws_cloudwatch_inbound_integration"
    assert vendor["self"].endswith("/vendors/PZQ6AUS")
    error = assert_error(api.call("GET", "/vendors/PNOPE00"), 404, 5001)
    assert error["message"] == "Vendor Not Found"
    assert_error(api.call("GET", "/vendors/events_api_v2"), 404, 5001)


def test_auth_required(api: Api) -> None:
    assert_error(api.call("GET", "/vendors", role=None), 401, 2006)
    assert_error(api.call("GET", "/vendors/PZQ6AUS", role=None), 401, 2006)


def test_vendor_from_the_list_creates_a_vendor_integration(api: Api) -> None:
    (vendor,) = api.call("GET", "/vendors", params={"query": "Nagios"}).json()["vendors"]
    sid = api.create_service("V-nagios")["id"]
    made = api.add_integration(sid, type="service_integration", vendor={"id": vendor["id"]})
    assert made["type"] == vendor["generic_service_type"]
    assert made["vendor"]["id"] == vendor["id"]


def test_pagerduty_client_drives_services_integrations_and_vendors(
    tmp_path: Path, spawn: Callable[..., Daemon]
) -> None:
    """The real ``pagerduty`` RestApiV2Client (https only), with only its base URL changed."""
    ca, cert, private_key = make_ca_and_server(tmp_path)
    daemon = spawn(config(server={"certfile": cert, "keyfile": private_key}))
    token = Api(daemon).tokens["user"]
    trust = ssl.create_default_context(cafile=str(ca))
    client = pagerduty.RestApiV2Client(
        token, default_from="ops@example.com", base_url=daemon.base_url, verify=trust
    )
    # As against PagerDuty: a new service names a policy that exists (the Default one here).
    policy = client.find("escalation_policies", "Default")
    service = client.rpost(
        "services",
        json={
            "name": "via-client",
            "escalation_policy": {"id": policy["id"], "type": "escalation_policy_reference"},
        },
    )
    assert service["name"] == "via-client" and service["status"] == "active"
    integration = client.rpost(
        f"services/{service['id']}/integrations",
        json={"type": "service_integration", "vendor": {"id": "PZQ6AUS", "type": "vendor"}},
    )
    assert len(integration["integration_key"]) == 32
    assert "via-client" in [s["name"] for s in client.list_all("services")]
    assert "PZQ6AUS" in [v["id"] for v in client.list_all("vendors")]
    found = client.find("services", "via-client")
    assert found is not None and found["id"] == service["id"]
    client.rput(integration["self"], json={"name": "renamed by the SDK"})
    assert (
        daemon.scalar("SELECT name FROM integrations WHERE id = ?", integration["id"])
        == "renamed by the SDK"
    )
    assert daemon.stop() == 0

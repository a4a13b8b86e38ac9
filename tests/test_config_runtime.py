"""The configuration file and runtime edits never fight (issue 14 items 6 and 7).

Each test edits over real REST against a real daemon process, stops it, checks the
file against the real database with ``check-config``, and starts ``serve`` again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway.auth import hash_token, new_token
from gateway.store.offline import write_sync
from tests.scaffold import (
    Daemon,
    cli,
    config,
    email_integration,
    events_v2,
    key,
    service,
    v2,
    v2_service,
)

pytestmark = pytest.mark.slow  # real daemon processes, restarted, and the CLI

KEY = key("web")
ACCEPT = "application/vnd.pagerduty+json;version=2"


class Rest:
    """REST calls to a daemon as a manager (a token written straight into its database)."""

    def __init__(self, daemon: Daemon) -> None:
        secret = new_token()
        write_sync(
            daemon.db_path,
            lambda tx: tx.insert_token(
                name="ops", role="user", token_hash=hash_token(secret), last4=secret[-4:]
            ),
        )
        self.http = daemon.client()
        self.headers = {"Accept": ACCEPT, "Authorization": f"Token token={secret}"}

    def __call__(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.http.request(method, path, headers=self.headers, **kw)

    def service(self, name: str) -> dict[str, Any]:
        """The service called ``name``, with its integration references."""
        found = self("GET", "/services", params={"query": name}).json()["services"]
        return next(s for s in found if s["name"] == name)


def check(daemon: Daemon) -> Any:
    """``alert-gateway check-config`` on the daemon's file (and so its database)."""
    return cli("check-config", str(daemon.config_path), cwd=daemon.workdir)


# -- item 6: a deleted key stays deleted --------------------------------------------------------


def test_a_key_deleted_at_runtime_stays_deleted_whatever_the_file_says(
    spawn: Callable[..., Daemon],
) -> None:
    daemon = spawn(config(v2_service("Web", KEY)))
    rest = Rest(daemon)
    web = rest.service("Web")
    integration = web["integrations"][0]["id"]
    assert rest("DELETE", f"/services/{web['id']}/integrations/{integration}").status_code == 204
    assert rest("POST", "/v2/enqueue", json=v2(KEY)).status_code == 400
    assert daemon.stop() == 0

    # check-config, against the real database, says the file still declares it.
    checked = check(daemon)
    assert checked.returncode == 0, checked.stderr
    assert "line 6: services[0].integrations[0]: integration_key …" in checked.stderr
    assert "deleted" in checked.stderr and "skipped" in checked.stderr
    assert "1 block(s) skipped" in checked.stdout

    # The daemon starts, warns naming the block, and the key is still refused.
    daemon.start()
    (warning,) = daemon.wait_for_log("config.integration_skipped")
    assert (warning["key"], warning["line"], warning["level"]) == (
        "services[0].integrations[0]",
        6,
        "warning",
    )
    assert KEY not in daemon.output()  # the key's last four characters at most
    with daemon.client() as http:
        refused = http.post("/v2/enqueue", json=v2(KEY))
    assert refused.status_code == 400 and refused.json()["errors"] == ["Invalid routing key"]
    assert daemon.scalar("SELECT count(*) FROM integrations WHERE deleted_at IS NULL") == 0
    assert daemon.stop() == 0


# -- item 7: the daemon always starts after any change its own API allowed -----------------------

ALPHA, BETA, DB = key("alpha"), key("beta"), key("db")
FILE = config(
    service(
        "Web",
        events_v2(ALPHA, name="alpha"),
        events_v2(BETA, name="beta"),
        events_v2(None, name="gamma"),
        email_integration("mail", "ops@alerts.example.com"),
    ),
    service("Db", events_v2(DB, name="db")),
    smtp={"listen": "127.0.0.1:0", "domain": "alerts.example.com"},  # else a start-up warning
)


def ids(rest: Rest, service_name: str) -> dict[str, str]:
    """Integration name -> id on a service."""
    web = rest.service(service_name)
    found = rest("GET", f"/services/{web['id']}", params={"include[]": "integrations"})
    return {i["name"]: i["id"] for i in found.json()["service"]["integrations"]}


def declared_refusal(answer: httpx.Response, name: str) -> None:
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["message"]) == (2001, "Declared in the configuration file")
    assert f"{name!r} is declared in the configuration file; change it there" in error["errors"][0]


def restarts(daemon: Daemon) -> None:
    """Stopped: check-config against the database agrees, and serve starts again."""
    assert daemon.stop() == 0
    checked = check(daemon)
    assert checked.returncode == 0, checked.stderr
    assert "warning" not in checked.stderr
    daemon.start()
    with daemon.client() as http:
        for routing_key in (ALPHA, BETA, DB):
            assert http.post("/v2/enqueue", json=v2(routing_key)).status_code == 202


def test_renames_the_next_start_could_not_survive_are_refused(
    spawn: Callable[..., Daemon],
) -> None:
    daemon = spawn(FILE)
    rest = Rest(daemon)
    web = rest.service("Web")["id"]
    on_web = ids(rest, "Web")

    def rename(integration: str, name: str) -> httpx.Response:
        path = f"/services/{web}/integrations/{on_web[integration]}"
        return rest("PUT", path, json={"integration": {"name": name}})

    # A configured integration renamed to another configured one's name; one with a fixed
    # key; one without: each is refused, naming the file.
    declared_refusal(rename("alpha", "beta"), "alpha")
    declared_refusal(rename("alpha", "renamed"), "alpha")
    declared_refusal(rename("gamma", "renamed"), "gamma")
    assert rename("alpha", "alpha").status_code == 200  # sent back unchanged: fine
    declared_refusal(rest("PUT", f"/services/{web}", json={"service": {"name": "Www"}}), "Web")
    declared_refusal(rest("DELETE", f"/services/{web}"), "Web")

    # Runtime integrations on a configured service stay editable, but never take a name
    # the service already has (the file finds integrations by name).
    extra = rest(
        "POST",
        f"/services/{web}/integrations",
        json={"integration": {"name": "extra", "type": "events_api_v2_inbound_integration"}},
    )
    assert extra.status_code == 201, extra.text
    on_web["extra"] = extra.json()["integration"]["id"]
    taken = rename("extra", "beta")
    assert taken.status_code == 400
    assert taken.json()["error"]["errors"] == [
        "name 'beta' is already used by another integration on this service"
    ]
    duplicate = rest(
        "POST",
        f"/services/{web}/integrations",
        json={"integration": {"name": "gamma", "type": "events_api_v2_inbound_integration"}},
    )
    assert duplicate.status_code == 400
    assert rename("extra", "extra-2").status_code == 200
    restarts(daemon)
    assert sorted(ids(Rest(daemon), "Web")) == ["alpha", "beta", "extra-2", "gamma", "mail"]
    assert daemon.stop() == 0


def test_moves_the_next_start_could_not_survive_are_refused(
    spawn: Callable[..., Daemon],
) -> None:
    daemon = spawn(FILE)
    rest = Rest(daemon)
    web, db = rest.service("Web")["id"], rest.service("Db")["id"]
    on_web = ids(rest, "Web")

    def move(integration: str) -> httpx.Response:
        path = f"/services/{web}/integrations/{on_web[integration]}"
        body = {"integration": {"service": {"id": db, "type": "service_reference"}}}
        return rest("PUT", path, params={"confirm": "true"}, json=body)

    declared_refusal(move("alpha"), "alpha")  # a fixed key in the file
    declared_refusal(move("mail"), "mail")  # an email integration
    added = rest(
        "POST",
        f"/services/{web}/integrations",
        json={"integration": {"name": "extra", "type": "events_api_v2_inbound_integration"}},
    )
    on_web["extra"] = added.json()["integration"]["id"]
    assert move("extra").status_code == 200  # made at runtime: moves as before
    restarts(daemon)
    assert sorted(ids(Rest(daemon), "Db")) == ["db", "extra"]
    assert daemon.stop() == 0


def test_a_block_removed_from_the_file_is_released_to_runtime_edits(
    spawn: Callable[..., Daemon],
) -> None:
    daemon = spawn(FILE)
    assert daemon.stop() == 0
    daemon.config_path.write_text(FILE.replace('name = "gamma"', 'name = "delta"'))
    daemon.start()
    rest = Rest(daemon)
    web = rest.service("Web")["id"]
    on_web = ids(rest, "Web")
    path = f"/services/{web}/integrations/{on_web['gamma']}"  # no longer in the file
    renamed = rest("PUT", path, json={"integration": {"name": "old-gamma"}})
    assert renamed.status_code == 200, renamed.text
    declared_refusal(
        rest("PUT", f"/services/{web}/integrations/{on_web['delta']}", json={"name": "x"}),
        "delta",
    )
    restarts(daemon)
    assert daemon.stop() == 0

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
from tests.scaffold import Daemon, cli, config, key, v2, v2_service

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

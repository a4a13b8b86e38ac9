"""`alert-gateway users list|show|add` and `token create --user`, beside a running daemon."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.scaffold import Daemon, config, daemon_running

pytestmark = pytest.mark.slow  # the CLI beside a real daemon process


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with daemon_running(tmp_path_factory.mktemp("cli-users"), config()) as running:
        yield running


def ok(daemon: Daemon, *args: str) -> str:
    done = daemon.cli(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_add_list_show_a_user_with_pagerdutys_defaults(daemon: Daemon) -> None:
    out = ok(
        daemon, "users", "add", "Ada Lovelace", "--email", "ada@cli.example",
        "--role", "responder", "--time-zone", "Europe/London", "--job-title", "Analyst",
    )  # fmt: skip
    assert "created user" in out and "role limited_user" in out
    user_id = out.split()[2]
    listing = ok(daemon, "users", "list", "--query", "ADA")
    assert f"{user_id}  Ada Lovelace  <ada@cli.example>  limited_user  Europe/London" in listing
    shown = ok(daemon, "users", "show", "ADA@cli.example")
    assert "Analyst" in shown and "contact methods (1):" in shown
    assert "email_contact_method  Default  ada@cli.example" in shown
    assert "high  after 0 min  Default" in shown and "low  after 0 min  Default" in shown


def test_bad_input_and_unknown_users_exit_1_and_store_nothing(daemon: Daemon) -> None:
    ok(daemon, "users", "add", "Grace", "--email", "grace@cli.example")
    before = daemon.scalar("SELECT count(*) FROM users")
    for args, words in (
        (("--email", "GRACE@cli.example"), "already used"),
        (("--email", "g2@cli.example", "--time-zone", "Moon/Base"), "Moon/Base"),
        (("--email", "g3@cli.example", "--role", "emperor"), "role must be one of"),
    ):
        done = daemon.cli("users", "add", "Grace Again", *args)
        assert done.returncode == 1 and words in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert daemon.scalar("SELECT count(*) FROM users") == before
    missing = daemon.cli("users", "show", "nobody@cli.example")
    assert missing.returncode == 1 and "User nobody@cli.example not found" in missing.stderr


def test_a_token_created_for_a_user_answers_users_me(daemon: Daemon) -> None:
    ok(daemon, "users", "add", "Token Owner", "--email", "owner@cli.example", "--role", "admin")
    created = ok(daemon, "token", "create", "--user", "OWNER@cli.example", "--name", "mine")
    assert "role admin, user " in created
    secret = created.strip().splitlines()[-1].split()[-1]
    with daemon.client() as client:
        me = client.get("/users/me", headers={"Authorization": f"Token token={secret}"})
    assert me.status_code == 200 and me.json()["user"]["email"] == "owner@cli.example"
    assert "user P" in ok(daemon, "token", "list")
    unknown = daemon.cli("token", "create", "--user", "ghost@cli.example", "--name", "x")
    assert unknown.returncode == 1 and "ghost@cli.example not found" in unknown.stderr
    no_role = daemon.cli("token", "create", "--name", "x")
    assert no_role.returncode == 2 and "--role is required" in no_role.stderr

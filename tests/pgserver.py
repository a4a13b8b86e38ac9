"""The PostgreSQL server tests run the store on: found, or skipped (failed under CI=true).

Every machine and CI has PostgreSQL 15 on 127.0.0.1:5432 (trust auth); another server is
named by ALERT_GATEWAY_TEST_PG (a ``postgresql://`` URL to a database that may be used to
create others). A session makes one database of its own and each test a schema in it.
"""

from __future__ import annotations

import atexit
import os
import secrets

import psycopg
import pytest

from gateway.store import postgres

SERVER = os.environ.get("ALERT_GATEWAY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

#: The session's database URL once made, or why there is none ("database", "reason").
_state: dict[str, str] = {}


def _database_url(name: str) -> str:
    return SERVER.rsplit("/", 1)[0] + "/" + name


def session_database() -> str:
    """The URL of this test session's own database (created on first use), or skip."""
    if not _state:
        name = f"agw_test_{os.getpid()}_{secrets.token_hex(3)}"
        try:
            with psycopg.connect(SERVER, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f"CREATE DATABASE {name}")
            _state["database"] = _database_url(name)
        except psycopg.Error as exc:
            _state["reason"] = f"no PostgreSQL at {postgres.redact(SERVER)}: {exc}".strip()
    if "database" not in _state:
        reason = _state["reason"]
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true needs PostgreSQL: {reason}")
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    return _state["database"]


def drop_session_database() -> None:
    """Drop the session's database (at the end of the run)."""
    if "database" not in _state:
        return
    name = _state["database"].rsplit("/", 1)[1]
    try:
        with psycopg.connect(SERVER, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    except psycopg.Error:
        pass


def create_pass_database() -> str:
    """A fresh database for the run's PostgreSQL twins; its URL. Raises when there is none.

    Made once by the run's main process (with pytest-xdist, before its workers start, so
    they all inherit the URL) and dropped when that process exits. Each in-process gateway
    then makes a schema of its own in it, so workers never share one.
    """
    name = f"agw_pass_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(SERVER, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = _database_url(name)
    atexit.register(_drop_database, name)
    return url


def _drop_database(name: str) -> None:
    try:
        with psycopg.connect(SERVER, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    except psycopg.Error:
        pass

"""The tests' throwaway PostgreSQL schemas (gateway/store/scratch.py): a finished test's
schema is emptied to what a fresh migration leaves, then used again."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.store.postgres import connect
from gateway.store.scratch import release_test_schemas, reset_schema, schema_snapshot
from gateway.testing import TEST_DATABASE_URL, gateway_running
from tests import pgserver
from tests.conftest import StoreTarget
from tests.scaffold import config, key, v2, v2_service

KEY = key("scratch")
CONFIG = config(v2_service("Scratch", KEY))

pytestmark = pytest.mark.sqlite_only("it puts its gateways on PostgreSQL itself")


def counts(url: str) -> dict[str, int]:
    return {table: len(rows) for table, rows in schema_snapshot(url).rows.items()}


async def test_a_released_schema_is_used_again_empty_with_its_seed_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_DATABASE_URL, pgserver.session_database())
    release_test_schemas()  # whatever an earlier test of this process left
    async with gateway_running(tmp_path / "first", CONFIG) as gw:
        for dedup in ("a", "b"):
            answer = await gw.client.post("/v2/enqueue", json=v2(KEY, "trigger", dedup))
            assert answer.status_code == 202
        used = gw.store.backend.url  # type: ignore[attr-defined]
        assert len(await gw.incidents()) == 2
    assert counts(used)["incidents"] == 2
    release_test_schemas()
    async with gateway_running(tmp_path / "second", CONFIG) as gw:
        assert gw.store.backend.url == used  # type: ignore[attr-defined]
        assert await gw.incidents() == []
        answer = await gw.client.post("/v2/enqueue", json=v2(KEY, "trigger", "c"))
        assert answer.status_code == 202
        [incident] = await gw.incidents()
        assert incident.number == 1
    with connect(used) as conn:  # identities restarted too
        assert conn.execute("SELECT min(seq) FROM log_entries").fetchone() == (1,)
    assert counts(used)["services"] == 1


def test_a_schema_that_is_not_the_snapshots_shape_is_left_as_it_is(
    postgres: StoreTarget,
) -> None:
    url = postgres.url or ""
    postgres.connect().close()  # migrates
    fresh = schema_snapshot(url)
    with connect(url) as conn:
        conn.execute("UPDATE schema_version SET version = version - 1")
        conn.execute(
            "INSERT INTO services (id, name, created_at, updated_at)"
            " VALUES ('PX', 'kept', 'x', 'x')"
        )
    assert not reset_schema(url, fresh)
    with connect(url) as conn:
        assert conn.execute("SELECT name FROM services").fetchall() == [("kept",)]
    with connect(url) as conn:  # the version again, but a trigger added (as a test may)
        conn.execute("UPDATE schema_version SET version = version + 1")
        conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$"
        )
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON alerts EXECUTE FUNCTION refuse()")
    assert not reset_schema(url, fresh)
    with connect(url) as conn:  # no trigger, but a default changed
        conn.execute("DROP TRIGGER refuse ON alerts")
        conn.execute("DROP FUNCTION refuse()")
        conn.execute("ALTER TABLE services ALTER COLUMN urgency SET DEFAULT 'low'")
    assert not reset_schema(url, fresh)
    with connect(url) as conn:
        conn.execute("ALTER TABLE services ALTER COLUMN urgency SET DEFAULT 'high'")
    assert reset_schema(url, fresh)
    assert counts(url) == {table: len(rows) for table, rows in fresh.rows.items()}

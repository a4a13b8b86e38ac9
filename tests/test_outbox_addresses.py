"""The outbound address policy: checked after DNS resolution, at connect time."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from gateway.clock import FakeClock
from gateway.config import parse_settings
from gateway.errors import ConfigError
from gateway.outbound.addresses import DEFAULT_DENY, AddressPolicy, PolicyBackend, make_client
from tests.outbox_support import PostKind, put, receiver
from tests.test_outbox_delivery import delivering, settle

DEFAULT = AddressPolicy.parse(DEFAULT_DENY)


@pytest.mark.parametrize(
    ("address", "denied"),
    [
        ("169.254.169.254", True),
        ("::ffff:169.254.169.254", True),  # IPv4-mapped: judged as the IPv4 it reaches
        ("fd00:ec2::254", True),
        ("fe80::1%eth0", True),
        ("100.100.100.200", True),
        ("0.0.0.0", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("2001:db8::1", False),
    ],
)
def test_default_deny_list(address: str, denied: bool) -> None:
    assert DEFAULT.denies(address) is denied


def test_allow_overrides_deny() -> None:
    policy = AddressPolicy.parse(["169.254.0.0/16"], ["169.254.10.0/24"])
    assert not policy.denies("169.254.10.5")
    assert policy.denies("169.254.169.254")


def test_a_bad_network_in_the_config_is_refused_with_its_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings('[outbound]\ndeny = ["169.254.0.0/16", "metadata"]\n')
    assert caught.value.key == "outbound.deny"
    assert parse_settings("").outbound.deny == DEFAULT_DENY


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_a_denied_destination_is_dropped_after_resolution(tmp_path: Path, host: str) -> None:
    policy = AddressPolicy.parse(["127.0.0.0/8", "::1/128"])
    kind = PostKind()
    with receiver() as rx:
        url = rx.url.replace("127.0.0.1", host)
        async with delivering(tmp_path / "gw.db", [kind], FakeClock(), policy=policy) as (
            store,
            _,
        ):
            await store.write(put("test", url, "k", b"x"))
            await settle(store, 1, "failed")
            entry = (await store.read(lambda r: r.outbox_entries()))[0]
        await trio.sleep(0.1)
    assert rx.count() == 0  # no connection was made
    assert entry.attempts == 1
    assert entry.last_error is not None and "outbound address policy denies" in entry.last_error


async def test_the_metadata_address_is_refused_by_default(tmp_path: Path) -> None:
    async with delivering(tmp_path / "gw.db", [PostKind()], FakeClock(), policy=DEFAULT) as (
        store,
        _,
    ):
        await store.write(put("test", "http://169.254.169.254/latest/meta-data/", "k", b"x"))
        await settle(store, 1, "failed")
        entry = (await store.read(lambda r: r.outbox_entries()))[0]
    assert entry.last_error is not None and "169.254.169.254" in entry.last_error


async def test_localhost_is_reached_when_the_list_does_not_deny_it(tmp_path: Path) -> None:
    with receiver() as rx:
        url = rx.url.replace("127.0.0.1", "localhost")
        async with delivering(tmp_path / "gw.db", [PostKind()], FakeClock(), policy=DEFAULT) as (
            store,
            _,
        ):
            await store.write(put("test", url, "k", b"x"))
            await settle(store, 1)
    assert rx.count() == 1


async def test_the_policy_also_guards_connections_through_a_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://169.254.169.254:3128")
    client = make_client(DEFAULT)
    try:
        pools = [t._pool for t in [client._transport, *client._mounts.values()] if t is not None]  # type: ignore[attr-defined]
        assert len(pools) == 2 and all(isinstance(p._network_backend, PolicyBackend) for p in pools)
        with pytest.raises(httpx.ConnectError) as caught:
            await client.post("https://example.invalid/hook", content=b"x")
        assert "policy denies" in str(caught.value)  # the proxy's own address is refused
    finally:
        await client.aclose()

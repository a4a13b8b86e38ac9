"""The outbound address policy: where deliverers may not connect, checked after DNS at connect time.

Destinations (webhook URLs, forwarding upstreams) are chosen by users, so the daemon must
not become a proxy into the cloud's metadata service or the host's link-local network. The
check happens in the connection itself: :class:`PolicyBackend` wraps httpcore's network
backend, resolves the host name, refuses the connection when *any* address it resolves to
is denied, and connects to the checked address literal (so a second DNS answer cannot
swap in another address between check and connect). TLS still verifies the name in the
URL: httpcore passes it to the handshake separately.

A proxy (``HTTPS_PROXY``) is itself a destination the policy checks; the proxy resolves
the final host, so deny the same addresses there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx
import trio

from gateway.config.settings import DEFAULT_OUTBOUND_DENY

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The default ``[outbound] deny`` (link-local and cloud metadata addresses).
DEFAULT_DENY = DEFAULT_OUTBOUND_DENY


class DeniedAddress(httpcore.ConnectError):
    """A destination resolved to an address the outbound policy denies (never retried)."""


@dataclass(frozen=True)
class AddressPolicy:
    """Networks deliverers must not connect to, and exceptions carved out of them."""

    deny: tuple[IPNetwork, ...]
    allow: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, deny: Iterable[str], allow: Iterable[str] = ()) -> AddressPolicy:
        """Build from CIDR texts (``ValueError`` names a bad one)."""
        return cls(
            tuple(ipaddress.ip_network(text.strip(), strict=False) for text in deny),
            tuple(ipaddress.ip_network(text.strip(), strict=False) for text in allow),
        )

    def denies(self, address: str) -> bool:
        """Whether connecting to ``address`` (an IP literal) is refused.

        IPv4-mapped IPv6 addresses (``::ffff:169.254.169.254``) are judged as the IPv4
        address they reach; an ``allow`` network overrides ``deny``.
        """
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in net for net in self.allow if net.version == ip.version):
            return False
        return any(ip in net for net in self.deny if net.version == ip.version)


async def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to for a TCP connection, in the resolver's order."""
    infos = await trio.socket.getaddrinfo(host, port, type=trio.socket.SOCK_STREAM)
    seen: list[str] = []
    for *_, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in seen:
            seen.append(address)
    return seen


class PolicyBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the address policy applied after resolution."""

    def __init__(self, policy: AddressPolicy, inner: httpcore.AsyncNetworkBackend | None = None):
        self._policy = policy
        self._inner = inner or httpcore.TrioBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve ``host``, refuse if any address is denied, else connect to one of them."""
        try:
            with trio.fail_after(float("inf") if timeout is None else timeout):
                addresses = await resolve(host, port)
        except trio.TooSlowError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        denied = [a for a in addresses if self._policy.denies(a)]
        if denied:
            raise DeniedAddress(
                f"{host} resolves to {denied[0]}, which the outbound address policy denies"
            )
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        if last is not None:
            raise last
        raise httpcore.ConnectError(f"{host} resolves to no address")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Unix sockets are never a delivery destination."""
        raise DeniedAddress("unix sockets are not an outbound destination")

    async def sleep(self, seconds: float) -> None:
        """Delegate (httpcore's retry back-off)."""
        await self._inner.sleep(seconds)


def make_client(policy: AddressPolicy, *, max_connections: int = 100) -> httpx.AsyncClient:
    """An httpx client whose every connection goes through the address policy.

    Keep-alive HTTP/1.1; no redirects followed (a 3xx is the destination's answer);
    ``HTTPS_PROXY``/``NO_PROXY`` honoured (the proxy's own address is checked). Timeouts
    are set per request by the engine.
    """
    client = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=32),
        follow_redirects=False,
        trust_env=True,
    )
    backend = PolicyBackend(policy)
    transports: list[Any] = [client._transport, *client._mounts.values()]
    for transport in transports:
        if transport is None:
            continue
        pool = getattr(transport, "_pool", None)
        # httpx builds its httpcore pool itself and offers no parameter for the network
        # backend; the pool's attribute is the one place to put it. Fail loudly, never
        # silently without the policy, if a new httpx moves it.
        if pool is None or not hasattr(pool, "_network_backend"):
            raise RuntimeError("httpx transport without an httpcore pool: cannot apply policy")
        pool._network_backend = backend
    return client


def denied_in(exc: BaseException) -> DeniedAddress | None:
    """The :class:`DeniedAddress` behind an httpx error, if the policy caused it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DeniedAddress):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None

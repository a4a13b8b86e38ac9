"""The network side of SNS: the one transport that fetches certificates and confirms.

Kept apart from :mod:`._sns`'s message checks so the only code that reaches the
network is small and easy to replace: tests swap ``_sns.transport`` for a fake (the
edge of the world), or give :class:`HttpxSnsTransport` an httpx ``MockTransport``.
"""

from __future__ import annotations

import re
import ssl
from typing import Protocol

import certifi
import httpx
import trio

_SUBSCRIPTION_ARN = re.compile(r"<SubscriptionArn>\s*([^<\s]+)\s*</SubscriptionArn>")


class SnsTransportError(Exception):
    """An SNS fetch failed; ``transient`` failures are worth a redelivery."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class SnsTransport(Protocol):
    """The gateway's only network access for SNS: certificate fetches and confirmations."""

    async def fetch_certificate(self, url: str) -> bytes:
        """GET a signing certificate (PEM); raise :class:`SnsTransportError` on failure."""
        ...

    async def confirm(self, url: str) -> str:
        """GET a ``SubscribeURL`` once; return the ``SubscriptionArn`` or raise."""
        ...


# Holds the one context once built (a list, so no module-level rebinding is needed).
_tls: list[ssl.SSLContext] = []


async def _tls_context() -> ssl.SSLContext:
    """The one TLS context every fetch shares, built once in a worker thread.

    Loading the CA bundle takes tens of milliseconds; done per fetch on the event loop (as
    a new ``httpx.AsyncClient`` does by default), a flood of SNS messages stalled every
    channel. The context holds no per-loop state, so one serves every run.
    """
    if not _tls:
        context = await trio.to_thread.run_sync(
            lambda: ssl.create_default_context(cafile=certifi.where())
        )
        _tls[:] = [context]
    return _tls[0]


class HttpxSnsTransport:
    """The real transport: one short, non-redirecting HTTPS GET per call, size-capped."""

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        deadline: float = 10.0,
        max_bytes: int = 65536,
        http_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``http_transport`` replaces httpx's network transport (tests use MockTransport)."""
        self.timeout = timeout
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.http_transport = http_transport

    async def _get(self, url: str) -> tuple[int, bytes]:
        body = bytearray()
        status = 0
        with trio.move_on_after(self.deadline) as scope:
            try:
                tls = await _tls_context()
                async with (
                    httpx.AsyncClient(
                        timeout=self.timeout,
                        follow_redirects=False,
                        transport=self.http_transport,
                        verify=tls,
                    ) as client,
                    client.stream("GET", url) as response,
                ):
                    status = response.status_code
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > self.max_bytes:
                            raise SnsTransportError("response too large", transient=False)
            except httpx.HTTPError as exc:
                raise SnsTransportError(type(exc).__name__, transient=True) from exc
        if scope.cancelled_caught:
            raise SnsTransportError("timed out", transient=True)
        return status, bytes(body)

    @staticmethod
    def _check_status(status: int) -> None:
        if status == 200:
            return
        # Throttling and server errors may clear up; anything else will not.
        raise SnsTransportError(f"HTTP {status}", transient=status == 429 or status >= 500)

    async def fetch_certificate(self, url: str) -> bytes:
        """GET the PEM certificate at ``url`` (already validated as an SNS URL)."""
        status, body = await self._get(url)
        self._check_status(status)
        return body

    async def confirm(self, url: str) -> str:
        """GET ``SubscribeURL`` and return the ``SubscriptionArn`` from the XML answer."""
        status, body = await self._get(url)
        self._check_status(status)
        match = _SUBSCRIPTION_ARN.search(body.decode("utf-8", "replace"))
        if match is None:
            raise SnsTransportError("no SubscriptionArn in the answer", transient=False)
        return match.group(1)

"""What the webhook tests share: a receiver that verifies as PagerDuty documents, and helpers.

The verification is written from PagerDuty's documented algorithm, not from the sender:
compute HMAC-SHA256 of the *raw* body with the secret, hex-encode it, prefix ``v1=``, and
accept the request when any of the comma-separated signatures in
``X-PagerDuty-Signature`` matches, compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway.testing import TestGateway
from tests.incident_helpers import headers
from tests.outbox_support import Received, Receiver, receiver


def verified(request: Received, secrets: list[str]) -> bool:
    """PagerDuty's check: any ``v1=`` signature equals HMAC-SHA256(secret, raw body)."""
    given = [
        s.strip()[3:]
        for s in request.headers.get("x-pagerduty-signature", "").split(",")
        if s.strip().startswith("v1=")
    ]
    for secret in secrets:
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, sig) for sig in given):
            return True
    return False


@dataclass
class Verifier:
    """The receiving side: the secrets it trusts, the answers it gives, what it refused."""

    secrets: list[str] = field(default_factory=list)
    #: ``status(request) -> (status, headers)``; 200 when unset.
    status: Callable[[Received], tuple[int, dict[str, str]]] | None = None
    refused: list[Received] = field(default_factory=list)

    def answer(self, request: Received) -> tuple[int, dict[str, str], float]:
        """401 for a bad signature (as a receiver should), else the scripted status."""
        if not verified(request, self.secrets):
            self.refused.append(request)
            return 401, {}, 0.0
        if self.status is None:
            return 200, {}, 0.0
        code, extra = self.status(request)
        return code, extra, 0.0


@contextmanager
def pd_receiver(verifier: Verifier) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 answering through ``verifier``."""
    with receiver(verifier.answer) as rx:
        yield rx


def events(rx: Receiver) -> list[dict[str, Any]]:
    """The ``event`` object of every request received, in arrival order."""
    return [json.loads(body)["event"] for body in rx.bodies()]


def subscription(url: str, *events_: str, **extra: Any) -> dict[str, Any]:
    """A ``POST /webhook_subscriptions`` body (account-wide unless ``filter`` is given)."""
    body: dict[str, Any] = {
        "type": "webhook_subscription",
        "delivery_method": {
            "type": "http_delivery_method",
            "url": url,
            "custom_headers": extra.pop("custom_headers", []),
        },
        "events": list(events_) or ["incident.triggered"],
        "filter": extra.pop("filter", {"type": "account_reference"}),
    }
    body.update(extra)
    return {"webhook_subscription": body}


async def subscribe(
    gw: TestGateway, token: str, url: str, *events_: str, **extra: Any
) -> dict[str, Any]:
    """Create a subscription over REST; its object (with the secret)."""
    answer = await gw.client.post(
        "/webhook_subscriptions", headers=headers(token), json=subscription(url, *events_, **extra)
    )
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()["webhook_subscription"]
    return made


async def get_sub(client: httpx.AsyncClient, token: str, sub_id: str) -> dict[str, Any]:
    """``GET /webhook_subscriptions/{id}``'s object."""
    answer = await client.get(f"/webhook_subscriptions/{sub_id}", headers=headers(token))
    assert answer.status_code == 200, answer.text
    got: dict[str, Any] = answer.json()["webhook_subscription"]
    return got


async def deliveries(gw: TestGateway, token: str, sub_id: str) -> list[dict[str, Any]]:
    """``GET /webhook_subscriptions/{id}/deliveries``: newest first."""
    answer = await gw.client.get(
        f"/webhook_subscriptions/{sub_id}/deliveries", headers=headers(token)
    )
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["deliveries"]
    return found


async def wait_states(
    gw: TestGateway, token: str, sub_id: str, want: list[str], timeout: float = 10.0
) -> list[dict[str, Any]]:
    """Wait until the subscription's deliveries, oldest first, are in the states ``want``."""
    import trio

    with trio.fail_after(timeout):
        while True:
            found = list(reversed(await deliveries(gw, token, sub_id)))
            if [d["state"] for d in found] == want:
                return found
            await trio.sleep(0.02)

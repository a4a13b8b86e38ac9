"""The Trio side of SMTP: recipients → integrations, a message → committed events → reply.

Everything here runs in the daemon's Trio thread. It knows SMTP reply codes
and how to find an integration for an address; what a mail *means* (rules,
MIME, dedup keys) is the email vendor plugin's business, reached through the
same :class:`~gateway.core.Ingest` seam as HTTP: one
:class:`~gateway.model.InboundRequest` per (message, integration), with
``method = "SMTP"``, the raw message as ``body`` and the envelope in
``x-smtp-*`` headers.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from gateway.config import SmtpSettings
from gateway.context import GatewayContext
from gateway.core.ingest import Refused, outcome_of
from gateway.core.text import NUL
from gateway.domain import Integration
from gateway.errors import (
    EventError,
    InvalidRoutingKey,
    PayloadTooLarge,
    RateLimited,
    RetryLater,
)
from gateway.model import SMTP_METHOD, InboundRequest
from gateway.store import Reader

log = structlog.get_logger("gateway.email")

# Replies (RFC 5321 codes with RFC 3463 enhanced status codes).
OK_RCPT = "250 2.1.5 Recipient OK"
SHUTTING_DOWN = "451 4.3.0 Gateway shutting down; try again later"
STORE_UNAVAILABLE = "451 4.3.0 Message not stored; try again later"
RATE_LIMITED = "451 4.7.0 Too many events for this integration; try again later"
TOO_BIG = "552 5.3.4 Message too big for system"
REFUSED = "554 5.6.0 Message refused: {detail}"


@dataclass(frozen=True, slots=True)
class Mail:
    """One message as the SMTP session received it: envelope and raw bytes."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    peer: str = ""


def address_candidates(address: str, domain: str) -> list[str]:
    """The ``integration_email`` values that may own ``address``, best match first.

    Plus-addressing: ``local+tag@domain`` also tries ``local@domain``. An
    integration configured with a local part only owns ``local@[smtp].domain``.
    Comparison is case-insensitive (the store's lookup lowers both sides).
    """
    if NUL in address:
        # No integration's address holds a NUL, and PostgreSQL refuses one in a query.
        return []
    local, at, domain_part = address.strip().rpartition("@")
    if not at or not local or not domain_part:
        return []
    domain_part = domain_part.lower().rstrip(".")
    locals_ = [local]
    base = local.split("+", 1)[0]
    if base and base != local:
        locals_.append(base)
    candidates: list[str] = []
    for name in locals_:
        candidates.append(f"{name}@{domain_part}")
        if domain_part == domain.lower():
            candidates.append(name)
    return candidates


class Delivery:
    """Answers RCPT and DATA for the SMTP listener, from the Trio thread."""

    def __init__(self, context: GatewayContext, settings: SmtpSettings) -> None:
        self.context = context
        self.settings = settings

    async def lookup(self, addresses: tuple[str, ...]) -> dict[str, Integration | None]:
        """Find the integration of each address, in one read snapshot."""
        domain = self.settings.domain

        def find(reader: Reader) -> dict[str, Integration | None]:
            found: dict[str, Integration | None] = {}
            for address in addresses:
                found[address] = None
                for candidate in address_candidates(address, domain):
                    integration = reader.integration_by_email(candidate)
                    if integration is not None:
                        found[address] = integration
                        break
            return found

        return await self.context.store.read(find)

    async def check_recipient(self, address: str) -> str:
        """The reply to ``RCPT TO``: 250 for an integration's address, else 550 (or 451)."""
        try:
            integration = (await self.lookup((address,)))[address]
        except RetryLater:
            log.warning("smtp.recipient_deferred", recipient=address)
            return STORE_UNAVAILABLE
        if integration is None or self.context.plugins.vendor_for(integration) is None:
            log.info("smtp.recipient_unknown", recipient=address)
            return f"550 5.1.1 <{address}>: no such integration address"
        return OK_RCPT

    async def deliver(self, mail: Mail) -> str:
        """Turn the message into events for every recipient, commit them, and reply.

        The reply is 250 only once every event is on disk. The events of all
        recipients are committed together (one :meth:`Ingest.handle` call), so the
        one reply SMTP allows after DATA is true for each of them.
        """
        bound = log.bind(sender=mail.mail_from, recipients=list(mail.rcpt_tos), peer=mail.peer)
        try:
            found = await self.lookup(mail.rcpt_tos)
        except RetryLater as exc:
            return self._reply_refused(bound, exc)
        requests: list[InboundRequest] = []
        for address, integration in found.items():
            if integration is None:
                # Deleted between RCPT and DATA: the others still get the mail.
                bound.info("smtp.recipient_vanished", recipient=address)
            elif (
                not integration.integration_key
                or self.context.plugins.vendor_for(integration) is None
            ):
                bound.warning("smtp.integration_unroutable", recipient=address)
            else:
                requests.append(mail_request(mail, address, integration.integration_key))
        if not requests:
            return self._discarded(bound)
        result = await self.context.ingest.handle(*requests, logger=bound)
        if isinstance(result, Refused):
            return self._reply_refused(bound, result.error)
        if not result.events:
            return self._discarded(bound)
        self.context.metrics.smtp_messages.labels("accepted").inc()
        outcomes = result.outcomes
        bound.info(
            "smtp.message_accepted",
            events=len(outcomes),
            outcomes=[f"{o.event_action}:{o.status}" for o in outcomes],
            dedup_keys=[o.dedup_key[:64] for o in outcomes],
        )
        return f"250 2.0.0 Message accepted; {len(outcomes)} event(s) committed"

    def _discarded(self, bound: structlog.typing.FilteringBoundLogger) -> str:
        self.context.metrics.smtp_messages.labels("discarded").inc()
        bound.info("smtp.message_discarded")
        return "250 2.0.0 Message accepted; discarded by the integration's rules"

    def _reply_refused(self, bound: structlog.typing.FilteringBoundLogger, exc: Exception) -> str:
        """Map a refusal to its SMTP reply: 4xx when a retry may succeed, 5xx when never.

        The events were already counted and logged by the pipeline; this counts the
        message and logs the reply.
        """
        if isinstance(exc, RetryLater | InvalidRoutingKey):
            # InvalidRoutingKey here means an integration vanished mid-commit: the
            # sender's retry is answered afresh at RCPT.
            reply, metric = STORE_UNAVAILABLE, "deferred"
        elif isinstance(exc, RateLimited):
            reply, metric = RATE_LIMITED, "deferred"
        elif isinstance(exc, PayloadTooLarge):
            reply, metric = TOO_BIG, "rejected"
        elif isinstance(exc, EventError):
            detail = " ".join(str(exc).split())[:200] or "invalid event"
            reply, metric = REFUSED.format(detail=detail), "rejected"
        else:
            # A plugin's bug or ours: 451 keeps the mail in the sender's queue until it
            # is fixed, where a 5xx would bounce it (and lose the page).
            reply, metric = STORE_UNAVAILABLE, "deferred"
        self.context.metrics.smtp_messages.labels(metric).inc()
        level = "warning" if metric == "deferred" else "info"
        getattr(bound, level)(
            "smtp.message_deferred" if metric == "deferred" else "smtp.message_rejected",
            outcome=outcome_of(exc),
            error=type(exc).__name__,
            detail=str(exc)[:200],
            reply=reply,
        )
        return reply


def mail_request(mail: Mail, address: str, integration_key: str) -> InboundRequest:
    """The :class:`InboundRequest` a vendor sees of a mail to one recipient integration."""
    return InboundRequest(
        method=SMTP_METHOD,
        path="smtp",
        headers={
            "content-type": "message/rfc822",
            "x-smtp-mail-from": mail.mail_from,
            "x-smtp-rcpt-to": address,
            "x-smtp-peer": mail.peer,
        },
        body=mail.content,
        integration_key=integration_key,
    )

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

import time
from dataclasses import dataclass

import structlog

from gateway.config import SmtpSettings
from gateway.context import GatewayContext
from gateway.domain import Integration
from gateway.errors import (
    EventError,
    InvalidRoutingKey,
    PayloadTooLarge,
    PluginFailure,
    RateLimited,
    RetryLater,
)
from gateway.model import SMTP_METHOD, Event, InboundRequest, Outcome, Vendor
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

    def vendor_for(self, integration: Integration) -> Vendor | None:
        """The vendor that parses mail for ``integration`` (the email vendor, normally)."""
        plugins = self.context.plugins
        if integration.vendor_id:
            return plugins.vendor(integration.vendor_id)
        return plugins.vendor_by_type(integration.type)

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
        if integration is None or self.vendor_for(integration) is None:
            log.info("smtp.recipient_unknown", recipient=address)
            return f"550 5.1.1 <{address}>: no such integration address"
        return OK_RCPT

    async def deliver(self, mail: Mail) -> str:
        """Turn the message into events for every recipient, commit them, and reply.

        The reply is 250 only once every event is on disk. The events of all
        recipients are committed together, so the one reply SMTP allows after
        DATA is true for each of them.
        """
        started = time.perf_counter()
        bound = log.bind(sender=mail.mail_from, recipients=list(mail.rcpt_tos), peer=mail.peer)
        events: list[Event] = []
        vendor_ids: list[str] = []
        try:
            for address, integration in (await self.lookup(mail.rcpt_tos)).items():
                if integration is None:
                    # Deleted between RCPT and DATA: the others still get the mail.
                    bound.info("smtp.recipient_vanished", recipient=address)
                    continue
                parsed = await self._parse(address, integration, mail)
                events.extend(parsed)
                vendor_ids.extend(self._vendor_id(integration) for _ in parsed)
            if self.context.limiter is not None:
                self.context.limiter.check(events)
            outcomes = await self.context.ingest.commit(events)
        except Exception as exc:
            return self._refused(bound, exc, events, vendor_ids)
        return self._accepted(bound, events, vendor_ids, outcomes, started)

    def _vendor_id(self, integration: Integration) -> str:
        vendor = self.vendor_for(integration)
        return vendor.id if vendor else "unknown"

    async def _parse(self, address: str, integration: Integration, mail: Mail) -> list[Event]:
        vendor = self.vendor_for(integration)
        if vendor is None or not integration.integration_key:
            log.warning("smtp.integration_unroutable", recipient=address)
            return []
        request = InboundRequest(
            method=SMTP_METHOD,
            path="smtp",
            headers={
                "content-type": "message/rfc822",
                "x-smtp-mail-from": mail.mail_from,
                "x-smtp-rcpt-to": address,
                "x-smtp-peer": mail.peer,
            },
            body=mail.content,
            integration_key=integration.integration_key,
            settings=integration.settings,
        )
        ingest = self.context.ingest
        return ingest.prepare(vendor, await ingest.parse(vendor, request))

    def _accepted(
        self,
        bound: structlog.typing.FilteringBoundLogger,
        events: list[Event],
        vendor_ids: list[str],
        outcomes: list[Outcome],
        started: float,
    ) -> str:
        metrics = self.context.metrics
        if not events:
            metrics.smtp_messages.labels("discarded").inc()
            bound.info("smtp.message_discarded")
            return "250 2.0.0 Message accepted; discarded by the integration's rules"
        metrics.smtp_messages.labels("accepted").inc()
        for vendor_id, outcome in zip(vendor_ids, outcomes, strict=False):
            counted = "suppressed" if outcome.status == "suppressed" else "accepted"
            metrics.events.labels(vendor_id, outcome.event_action, counted).inc()
        if vendor_ids:
            metrics.ingest_seconds.labels(vendor_ids[0]).observe(time.perf_counter() - started)
        bound.info(
            "smtp.message_accepted",
            events=len(outcomes),
            outcomes=[f"{o.event_action}:{o.status}" for o in outcomes],
            dedup_keys=[o.dedup_key[:64] for o in outcomes],
        )
        return f"250 2.0.0 Message accepted; {len(outcomes)} event(s) committed"

    def _refused(
        self,
        bound: structlog.typing.FilteringBoundLogger,
        exc: Exception,
        events: list[Event],
        vendor_ids: list[str],
    ) -> str:
        """Map a failure to its SMTP reply: 4xx when a retry may succeed, 5xx when never."""
        metrics = self.context.metrics
        if isinstance(exc, RetryLater | InvalidRoutingKey):
            # InvalidRoutingKey here means an integration vanished mid-commit: the
            # sender's retry is answered afresh at RCPT.
            reply, outcome, metric = STORE_UNAVAILABLE, "unavailable", "deferred"
        elif isinstance(exc, RateLimited):
            reply, outcome, metric = RATE_LIMITED, "rate_limited", "deferred"
        elif isinstance(exc, PayloadTooLarge):
            reply, outcome, metric = TOO_BIG, "invalid", "rejected"
        elif isinstance(exc, EventError):
            detail = " ".join(str(exc).split())[:200] or "invalid event"
            reply, outcome, metric = REFUSED.format(detail=detail), "invalid", "rejected"
        else:
            # A plugin's bug or ours: 451 keeps the mail in the sender's queue until it
            # is fixed, where a 5xx would bounce it (and lose the page).
            if isinstance(exc, PluginFailure):
                metrics.plugin_errors.labels(exc.plugin).inc()
            else:
                bound.exception("smtp.internal_error")
            reply, outcome, metric = STORE_UNAVAILABLE, "error", "deferred"
        metrics.smtp_messages.labels(metric).inc()
        for vendor_id, event in zip(vendor_ids, events, strict=False):
            metrics.events.labels(vendor_id, event.event_action, outcome).inc()
        level = "warning" if metric == "deferred" else "info"
        getattr(bound, level)(
            "smtp.message_deferred" if metric == "deferred" else "smtp.message_rejected",
            outcome=outcome,
            error=type(exc).__name__,
            detail=str(exc)[:200],
            reply=reply,
        )
        return reply

"""Webhook subscriptions in the web UI: the account-wide list, one subscription's deliveries,
and the forms to add one, ping it, enable it again, and retry or drop a failed delivery.

Forms over :mod:`gateway.core.webhooks` (and the ``pagey.ping`` of
:mod:`gateway.core.webhook_events`), as the REST API calls them. A new subscription's
secret is shown once, on the page the creation answers with. A service's page lists its
own subscriptions through :func:`service_webhooks`.
"""

from __future__ import annotations

from dataclasses import dataclass

from quart import request
from quart.typing import ResponseReturnValue

from gateway.auth import Level
from gateway.core import services as svc
from gateway.core import webhook_events, webhooks
from gateway.domain import OutboxEntry, WebhookSubscription
from gateway.errors import Invalid
from gateway.http.ui._web import agent, back, blueprint, form, page, read, requires, write
from gateway.store import Reader

RECENT = 5


@dataclass(frozen=True, slots=True)
class WebhookRow:
    """A subscription as the pages list it: with its service's name and recent deliveries."""

    subscription: WebhookSubscription
    service_name: str | None
    recent: list[OutboxEntry]


def _rows(reader: Reader, subs: list[WebhookSubscription], recent: int) -> list[WebhookRow]:
    rows = []
    for sub in subs:
        service = reader.service(sub.filter_id) if sub.filter_id else None
        rows.append(
            WebhookRow(
                sub,
                service.name if service else None,
                webhooks.recent_deliveries(reader, sub.id, limit=recent),
            )
        )
    return rows


def service_webhooks(reader: Reader, service_id: str) -> list[WebhookRow]:
    """The subscriptions that hear of a service: its own and the account-wide ones."""
    subs = [
        s
        for s in webhooks.list_webhooks(reader)
        if s.filter_type == webhooks.ACCOUNT or s.filter_id == service_id
    ]
    return _rows(reader, subs, RECENT)


def _services(reader: Reader) -> list[svc.ServiceName]:
    # Ids and names are all the service choice shows: whole rows of 1,000 services cost
    # the page ~30 ms (bench/pages).
    return svc.service_names(reader)


@blueprint.get("/webhooks")
@requires(Level.VIEW)
async def webhook_list() -> ResponseReturnValue:
    """Every subscription with its recent deliveries, and the form to add one."""
    rows, services = await read(
        lambda r: (_rows(r, webhooks.list_webhooks(r), RECENT), _services(r))
    )
    return await _list_page(rows, services, {}, [])


async def _list_page(
    rows: list[WebhookRow],
    services: list[svc.ServiceName],
    values: dict[str, object],
    errors: list[str],
    *,
    created: WebhookSubscription | None = None,
) -> ResponseReturnValue:
    return await page(
        "webhooks.html",
        status=400 if errors else 200,
        rows=rows,
        services=services,
        values=values,
        errors=errors,
        created=created,
        event_types=webhooks.EVENT_TYPES,
        emitted=webhooks.EMITTED,
    )


@blueprint.post("/webhooks/new")
@requires(Level.MANAGE)
async def webhook_create() -> ResponseReturnValue:
    """Create a subscription; the answer shows its secret, once."""
    values = dict(await form())
    chosen = (await request.form).getlist("events")
    target = values.get("service", "")
    data = webhooks.WebhookInput(
        url=values.get("url", ""),
        events=chosen,
        filter_type=webhooks.SERVICE if target else webhooks.ACCOUNT,
        filter_id=target or None,
        description=values.get("description") or None,
    )
    by = agent()
    try:
        made = await write(lambda tx: webhooks.create_webhook(tx, data, by=by))
    except Invalid as exc:
        rows, services = await read(
            lambda r: (_rows(r, webhooks.list_webhooks(r), RECENT), _services(r))
        )
        return await _list_page(rows, services, {**values, "events": chosen}, exc.errors)
    rows, services = await read(
        lambda r: (_rows(r, webhooks.list_webhooks(r), RECENT), _services(r))
    )
    return await _list_page(rows, services, {}, [], created=made)


@blueprint.get("/webhooks/<subscription_id>")
@requires(Level.VIEW)
async def webhook_page(subscription_id: str) -> ResponseReturnValue:
    """One subscription: its settings and its last deliveries with every attempt."""

    def load(reader: Reader) -> tuple[WebhookRow, dict[str, list[object]]]:
        sub = webhooks.get_webhook(reader, subscription_id)
        (row,) = _rows(reader, [sub], 25)
        return row, {e.id: list(reader.outbox_attempts(e.id)) for e in row.recent}

    row, attempts = await read(load)
    return await page("webhook.html", row=row, attempts=attempts)


@blueprint.post("/webhooks/<subscription_id>/ping")
@requires(Level.MANAGE)
async def webhook_ping(subscription_id: str) -> ResponseReturnValue:
    """Queue a ``pagey.ping`` test event."""
    await write(lambda tx: webhook_events.ping(tx, subscription_id))
    return back("ui.webhook_page", "Test event queued.", subscription_id=subscription_id)


@blueprint.post("/webhooks/<subscription_id>/enable")
@requires(Level.MANAGE)
async def webhook_enable(subscription_id: str) -> ResponseReturnValue:
    """Enable a temporarily disabled subscription again."""
    by = agent()
    await write(lambda tx: webhooks.enable_webhook(tx, subscription_id, by=by))
    return back("ui.webhook_page", "Subscription enabled.", subscription_id=subscription_id)


@blueprint.post("/webhooks/<subscription_id>/deliveries/<message_id>")
@requires(Level.MANAGE)
async def webhook_delivery_action(subscription_id: str, message_id: str) -> ResponseReturnValue:
    """Retry (``action=retry``) or drop (``action=drop``) a delivery."""
    action = (await form()).get("action")
    if action == "retry":
        await write(lambda tx: webhooks.retry_delivery(tx, subscription_id, message_id))
        note = "Delivery queued again."
    elif action == "drop":
        await write(lambda tx: webhooks.drop_delivery(tx, subscription_id, message_id))
        note = "Delivery dropped."
    else:
        raise Invalid(["action must be retry or drop"])
    return back("ui.webhook_page", note, subscription_id=subscription_id)

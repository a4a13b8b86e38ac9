"""REST resource: v3 webhook subscriptions (``/webhook_subscriptions``), and their deliveries.

Thin HTTP over :mod:`gateway.core.webhooks` and :mod:`gateway.core.webhook_events`.
PagerDuty's routes: list, create, get, update, delete, ``enable``, ``ping``. Extensions
(docs/rest-api.md): ``rotate_secret`` and ``end_rotation`` for a secret rotation, and
``deliveries`` to list a subscription's messages and retry or drop one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quart import Blueprint, request

from gateway.auth import Level
from gateway.core import webhook_events, webhooks
from gateway.domain import OutboxAttempt, OutboxEntry, WebhookSubscription
from gateway.http.rest._common import (
    RestError,
    context,
    invalid,
    json_body,
    list_arg,
    page_args,
    paginated,
    requires,
)
from gateway.http.rest.bodies import rest_urls
from gateway.http.rest.services import agent
from gateway.store import Reader, Tx

blueprint = Blueprint("rest_webhook_subscriptions", __name__)

ROOT = "webhook_subscription"
MAX_DELIVERIES = 100


# -- rendering --------------------------------------------------------------------------------


def subscription_body(sub: WebhookSubscription, *, show_secret: bool = False) -> dict[str, Any]:
    """PagerDuty's ``webhook_subscription``: header values redacted, the secret only on request."""
    urls = rest_urls()
    path = f"/webhook_subscriptions/{sub.id}"
    filter_: dict[str, Any] = {"type": sub.filter_type}
    if sub.filter_id is not None:
        filter_["id"] = sub.filter_id
    return {
        "id": sub.id,
        "type": "webhook_subscription",
        "summary": sub.description or sub.name or sub.id,
        "self": urls.api(path),
        "html_url": urls.html(f"/webhooks/{sub.id}"),
        "active": sub.active,
        "description": sub.description,
        "events": list(sub.events),
        "filter": filter_,
        "delivery_method": {
            "id": sub.id,
            "type": "http_delivery_method",
            "url": sub.url,
            "custom_headers": [
                {"name": name, "value": webhooks.REDACTED} for name, _ in sub.custom_headers
            ],
            "secret": sub.secret if show_secret else None,
            "temporarily_disabled": sub.temporarily_disabled,
            # Extensions: a rotation in progress signs with two secrets.
            "secret_rotating": sub.previous_secret is not None,
        },
        "oauth_client": None,
        # Extensions: the configuration file's handle, and whether the file owns it.
        "name": sub.name,
        "declared_in_config": sub.source == "config",
    }


def delivery_body(entry: OutboxEntry, attempts: list[OutboxAttempt]) -> dict[str, Any]:
    """One message of a subscription (an extension object): state and every attempt."""
    return {
        "id": entry.id,
        "type": "webhook_delivery",
        "state": entry.state,
        "order_key": entry.order_key,
        "created_at": entry.created_at,
        "due_at": entry.due_at,
        "finished_at": entry.finished_at,
        "attempts": entry.attempts,
        "last_error": entry.last_error,
        "size": entry.size,
        "attempt_log": [
            {
                "at": a.at,
                "duration_ms": a.duration_ms,
                "status_code": a.status_code,
                "error": a.error,
                "outcome": a.outcome,
            }
            for a in attempts
        ],
    }


# -- reading JSON -----------------------------------------------------------------------------


def _fields(data: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """The layer's fields present in a REST body (for WebhookInput or WebhookPatch)."""
    out: dict[str, Any] = {}
    errors: list[str] = []
    method = data.get("delivery_method")
    if method is not None or creating:
        if not isinstance(method, dict):
            errors.append("delivery_method must be an object with a url")
        else:
            if method.get("type", "http_delivery_method") != "http_delivery_method":
                errors.append("delivery_method.type must be http_delivery_method")
            if "url" in method or creating:
                out["url"] = method.get("url")
            if "custom_headers" in method:
                out["custom_headers"] = method["custom_headers"]
    for key in ("events", "description", "active"):
        if key in data:
            out[key] = data[key]
    if "filter" in data or creating:
        filter_ = data.get("filter")
        if not isinstance(filter_, dict):
            errors.append("filter must be an object with a type")
        else:
            out["filter_type"] = filter_.get("type")
            out["filter_id"] = filter_.get("id")
    if creating and "events" not in out:
        errors.append("events must be a non-empty list of event types")
    if errors:
        raise invalid(*errors)
    return out


# -- routes -----------------------------------------------------------------------------------


@blueprint.get("/webhook_subscriptions")
@requires(Level.VIEW)
async def list_subscriptions() -> dict[str, Any]:
    """``GET /webhook_subscriptions``: ``filter_type``/``filter_id``, ``limit``/``offset``."""
    page = page_args()
    filter_type = request.args.get("filter_type")
    filter_id = request.args.get("filter_id")
    subs = await context().store.read(
        lambda r: webhooks.list_webhooks(r, filter_type=filter_type, filter_id=filter_id)
    )
    body = paginated("webhook_subscriptions", subs, page)
    body["webhook_subscriptions"] = [subscription_body(s) for s in body["webhook_subscriptions"]]
    return body


@blueprint.post("/webhook_subscriptions")
@requires(Level.MANAGE)
async def create_subscription() -> tuple[dict[str, Any], int]:
    """``POST /webhook_subscriptions``: 201; the answer is the only one showing the secret."""
    data = webhooks.WebhookInput(**_fields(await json_body(ROOT), creating=True))
    by = agent()
    made = await context().store.write(lambda tx: webhooks.create_webhook(tx, data, by=by))
    return {ROOT: subscription_body(made, show_secret=True)}, 201


@blueprint.get("/webhook_subscriptions/<subscription_id>")
@requires(Level.VIEW)
async def get_subscription(subscription_id: str) -> dict[str, Any]:
    """``GET /webhook_subscriptions/{id}``."""
    sub = await context().store.read(lambda r: webhooks.get_webhook(r, subscription_id))
    return {ROOT: subscription_body(sub)}


@blueprint.put("/webhook_subscriptions/<subscription_id>")
@requires(Level.MANAGE)
async def update_subscription(subscription_id: str) -> dict[str, Any]:
    """``PUT /webhook_subscriptions/{id}``: also ``delivery_method.url``/``custom_headers``."""
    fields = _fields(await json_body(ROOT), creating=False)
    patch = webhooks.WebhookPatch(**fields)
    by = agent()
    sub = await context().store.write(
        lambda tx: webhooks.update_webhook(tx, subscription_id, patch, by=by)
    )
    return {ROOT: subscription_body(sub)}


@blueprint.delete("/webhook_subscriptions/<subscription_id>")
@requires(Level.MANAGE)
async def delete_subscription(subscription_id: str) -> tuple[str, int]:
    """``DELETE /webhook_subscriptions/{id}``: 204; what it had queued is dropped."""
    by = agent()
    await context().store.write(lambda tx: webhooks.delete_webhook(tx, subscription_id, by=by))
    return "", 204


@blueprint.post("/webhook_subscriptions/<subscription_id>/enable")
@requires(Level.MANAGE)
async def enable_subscription(subscription_id: str) -> dict[str, Any]:
    """``POST /webhook_subscriptions/{id}/enable``: end a temporary disable."""
    by = agent()
    sub = await context().store.write(
        lambda tx: webhooks.enable_webhook(tx, subscription_id, by=by)
    )
    return {ROOT: subscription_body(sub)}


@blueprint.post("/webhook_subscriptions/<subscription_id>/ping")
@requires(Level.MANAGE)
async def ping_subscription(subscription_id: str) -> tuple[str, int]:
    """``POST /webhook_subscriptions/{id}/ping``: 202; a ``pagey.ping`` event is queued."""
    queued = await context().store.write(lambda tx: webhook_events.ping(tx, subscription_id))
    if queued is None:
        raise RestError(429, "Too Many Requests", 2020, ["the subscription's queue is full"])
    return "", 202


@blueprint.post("/webhook_subscriptions/<subscription_id>/rotate_secret")
@requires(Level.MANAGE)
async def rotate_secret(subscription_id: str) -> dict[str, Any]:
    """Extension: a new secret (in this answer only); both sign until ``end_rotation``."""
    by = agent()
    sub = await context().store.write(lambda tx: webhooks.rotate_secret(tx, subscription_id, by=by))
    return {ROOT: subscription_body(sub, show_secret=True)}


@blueprint.post("/webhook_subscriptions/<subscription_id>/end_rotation")
@requires(Level.MANAGE)
async def end_rotation(subscription_id: str) -> dict[str, Any]:
    """Extension: the previous secret stops signing deliveries."""
    by = agent()
    sub = await context().store.write(lambda tx: webhooks.end_rotation(tx, subscription_id, by=by))
    return {ROOT: subscription_body(sub)}


@blueprint.get("/webhook_subscriptions/<subscription_id>/deliveries")
@requires(Level.VIEW)
async def list_deliveries(subscription_id: str) -> dict[str, Any]:
    """Extension: the subscription's messages, newest first; ``statuses[]`` and ``limit``."""
    states = list_arg("statuses")
    try:
        limit = min(max(int(request.args.get("limit", 25)), 1), MAX_DELIVERIES)
    except ValueError as exc:
        raise invalid("'limit' must be an integer") from exc

    def read(reader: Reader) -> list[dict[str, Any]]:
        entries = webhooks.recent_deliveries(reader, subscription_id, states=states, limit=limit)
        return [delivery_body(e, reader.outbox_attempts(e.id)) for e in entries]

    return {"deliveries": await context().store.read(read), "limit": limit}


@blueprint.post("/webhook_subscriptions/<subscription_id>/deliveries/<message_id>/retry")
@requires(Level.MANAGE)
async def retry_delivery(subscription_id: str, message_id: str) -> dict[str, Any]:
    """Extension: send a failed (or waiting) delivery again now."""

    def write(tx: Tx) -> dict[str, Any]:
        entry = webhooks.retry_delivery(tx, subscription_id, message_id)
        return delivery_body(entry, tx.outbox_attempts(entry.id))

    return {"delivery": await context().store.write(write)}


@blueprint.delete("/webhook_subscriptions/<subscription_id>/deliveries/<message_id>")
@requires(Level.MANAGE)
async def drop_delivery(subscription_id: str, message_id: str) -> tuple[str, int]:
    """Extension: drop a delivery that was not delivered; 204."""
    await context().store.write(lambda tx: webhooks.drop_delivery(tx, subscription_id, message_id))
    return "", 204


__all__ = ["blueprint", "delivery_body", "subscription_body"]

"""REST resource: ``GET /notifications`` (what was sent to people), PagerDuty's shape.

The rules are :mod:`gateway.core.notification_reads`; this module only speaks HTTP.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request

from gateway import shapes
from gateway.auth import Level
from gateway.core import notification_reads
from gateway.http.rest._common import context, list_arg, page_args, requires
from gateway.http.rest.bodies import rest_urls
from gateway.http.rest.users import user_body
from gateway.store import Reader

__all__ = ["blueprint"]

blueprint = Blueprint("rest_notifications", __name__)


@blueprint.get("/notifications")
@requires(Level.VIEW)
async def list_notifications() -> dict[str, Any]:
    """``GET /notifications``: ``since`` and ``until`` (required, as PagerDuty has them),
    ``filter`` (one type), ``include[]=users``, limit/offset/total; newest first."""
    page = page_args()
    args = request.args
    full_user = "users" in list_arg("include")
    urls = rest_urls()

    def job(reader: Reader) -> tuple[list[dict[str, Any]], notification_reads.NotificationPage]:
        found = notification_reads.list_notifications(
            reader,
            since=args.get("since"),
            until=args.get("until"),
            filter=args.get("filter"),
            limit=page.limit,
            offset=page.offset,
            total=page.total,
        )
        items = []
        for n in found.notifications:
            item = shapes.notification_object(urls, n, full_user=full_user)
            person = reader.user(n.user_id) if full_user else None
            if person is not None:  # a deleted user stays as they were named when notified
                item["user"] = user_body(urls, reader, person, frozenset())
            items.append(item)
        return items, found

    items, found = await context().store.read(job)
    return {
        "notifications": items,
        "limit": page.limit,
        "offset": page.offset,
        "more": found.more,
        "total": found.total,
    }

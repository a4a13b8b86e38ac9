"""``GET /notifications``: what was sent to whom, in a time range.

PagerDuty requires ``since`` and ``until`` and lists notifications of one ``filter`` type
(``email_notification``…); both rules are kept, so a script written against PagerDuty gets
the same answers. A plugin's contact type lists as its own ``<x>_notification``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.clock import iso
from gateway.core.inputs import parse_time
from gateway.domain import Notification
from gateway.errors import Invalid
from gateway.store import Reader

__all__ = ["NotificationPage", "list_notifications"]

_TYPE = re.compile(r"[a-z][a-z0-9_]*_notification")


@dataclass(frozen=True, slots=True)
class NotificationPage:
    """One page of notifications, whether more follow, and (when asked) how many in all."""

    notifications: list[Notification]
    more: bool
    total: int | None = None


def list_notifications(
    reader: Reader,
    *,
    since: str | None,
    until: str | None,
    filter: str | None = None,
    limit: int,
    offset: int = 0,
    total: bool = False,
) -> NotificationPage:
    """Notifications started in ``[since, until)``, newest first, paged in SQL.

    Raises :class:`Invalid` for a missing or malformed time, a range that ends before it
    starts, or a ``filter`` that is not a notification type.
    """
    problems = [
        f"'{name}' is required" for name, v in (("since", since), ("until", until)) if not v
    ]
    if problems:
        raise Invalid(problems)
    assert since is not None and until is not None
    start, end = iso(parse_time(since, "since")), iso(parse_time(until, "until"))
    if end <= start:
        raise Invalid(["'until' must be after 'since'"])
    types: tuple[str, ...] = ()
    if filter:
        if not _TYPE.fullmatch(filter):
            raise Invalid([f"'filter' must be a notification type such as email_notification, "
                           f"got {filter[:60]!r}"])  # fmt: skip
        types = (filter,)
    rows = reader.notifications_page(
        since=start, until=end, types=types, limit=limit + 1, offset=offset
    )
    count = reader.count_notifications(since=start, until=end, types=types) if total else None
    return NotificationPage(rows[:limit], len(rows) > limit, count)

"""REST resource: ``GET /oncalls``, who is on call for which escalation policy level.

Thin HTTP over :func:`gateway.core.oncalls.list_oncalls`: ``since``/``until`` (default now),
``escalation_policy_ids[]``, ``schedule_ids[]``, ``user_ids[]``, ``earliest``, pagination.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request

from gateway.auth import Level
from gateway.core import escalation_policies as policies
from gateway.core import oncalls
from gateway.domain import EscalationTarget
from gateway.http.rest._common import bool_arg, context, list_arg, page_args, paginated, requires
from gateway.http.rest.bodies import rest_urls
from gateway.shapes import POLICIES, Urls, reference
from gateway.store import Reader

blueprint = Blueprint("rest_oncalls", __name__)


def oncall_body(urls: Urls, reader: Reader, oncall: oncalls.Oncall) -> dict[str, Any]:
    """PagerDuty's ``Oncall`` object: references to the policy, the user and the schedule."""
    user = EscalationTarget("user", oncall.user_id)
    schedule = None
    if oncall.schedule_id is not None:
        name = policies.target_name(reader, EscalationTarget("schedule", oncall.schedule_id))
        path = f"/schedules/{oncall.schedule_id}"
        schedule = reference(urls, "schedule", oncall.schedule_id, name, path)
    return {
        "escalation_policy": reference(
            urls,
            "escalation_policy",
            oncall.policy_id,
            oncall.policy_name,
            f"{POLICIES}/{oncall.policy_id}",
        ),
        "escalation_level": oncall.level,
        "schedule": schedule,
        "user": reference(
            urls,
            "user",
            oncall.user_id,
            policies.target_name(reader, user),
            f"/users/{oncall.user_id}",
        ),
        "start": oncall.start,
        "end": oncall.end,
    }


@blueprint.get("/oncalls")
@requires(Level.VIEW)
async def list_oncalls() -> dict[str, Any]:
    """``GET /oncalls``: the on-calls of ``[since, until]`` (default: now)."""
    page = page_args()
    since, until = request.args.get("since"), request.args.get("until")
    policy_ids = list_arg("escalation_policy_ids")
    schedule_ids = list_arg("schedule_ids")
    user_ids = list_arg("user_ids")
    earliest = bool_arg("earliest")
    urls = rest_urls()

    def read(reader: Reader) -> dict[str, Any]:
        found = oncalls.list_oncalls(
            reader,
            since=since,
            until=until,
            policy_ids=policy_ids,
            schedule_ids=schedule_ids,
            user_ids=user_ids,
            earliest=earliest,
        )
        body = paginated("oncalls", found, page)
        body["oncalls"] = [oncall_body(urls, reader, o) for o in body["oncalls"]]
        return body

    return await context().store.read(read)


__all__ = ["blueprint", "oncall_body"]

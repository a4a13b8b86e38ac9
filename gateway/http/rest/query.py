"""Query parameters PagerDuty documents that the gateway cannot honour: refused, never ignored.

A filter the gateway silently dropped (``team_ids[]``, ``user_ids[]``) answered with
everything, and a script acting on that answer acts on the wrong incidents; an
``include[]`` it skipped left references where the client expected objects. So each REST
route names the ``include[]`` values it implements, and every parameter PagerDuty
documents for a feature the gateway does not have is a 400 naming it and saying why.
Parameters PagerDuty does not document pass, as they do there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["query_problems"]

_NO_TEAMS = "teams do not exist in alert-gateway: every object belongs to the whole account"
_NO_USERS = "incidents are not assigned to users yet"
_UTC_ONLY = "times are always given in UTC; leave time_zone out or set it to UTC"


@dataclass(frozen=True, slots=True)
class RouteQuery:
    """What one route makes of the query: the ``include[]`` values it implements, and the
    PagerDuty parameters it refuses with the reason."""

    includes: frozenset[str] = frozenset()
    unsupported: dict[str, str] = field(default_factory=dict)


_SERVICE = RouteQuery(frozenset({"integrations"}), {"team_ids": _NO_TEAMS, "time_zone": _UTC_ONLY})
_INCIDENT = RouteQuery(
    frozenset({"body", "first_trigger_log_entries"}),
    {"team_ids": _NO_TEAMS, "user_ids": _NO_USERS, "time_zone": _UTC_ONLY},
)
_TIMELINE = RouteQuery(unsupported={"team_ids": _NO_TEAMS, "time_zone": _UTC_ONLY})
_WINDOW = RouteQuery(unsupported={"team_ids": _NO_TEAMS})
_USER = RouteQuery(frozenset({"contact_methods", "notification_rules"}), {"team_ids": _NO_TEAMS})
_RULES = RouteQuery(frozenset({"contact_methods"}))

ROUTES: dict[tuple[str, str], RouteQuery] = {
    ("GET", "/services"): _SERVICE,
    ("GET", "/services/<service_id>"): _SERVICE,
    ("GET", "/services/<service_id>/integrations/<integration_id>"): RouteQuery(
        frozenset({"services", "vendors"})
    ),
    ("GET", "/incidents"): _INCIDENT,
    ("GET", "/incidents/<ident>"): _INCIDENT,
    ("GET", "/incidents/<ident>/alerts"): RouteQuery(),
    ("GET", "/incidents/<ident>/log_entries"): _TIMELINE,
    ("GET", "/log_entries"): RouteQuery(
        frozenset({"incidents", "services"}), {"team_ids": _NO_TEAMS, "time_zone": _UTC_ONLY}
    ),
    ("GET", "/log_entries/<entry_id>"): _TIMELINE,
    ("GET", "/maintenance_windows"): _WINDOW,
    ("GET", "/maintenance_windows/<window_id>"): _WINDOW,
    ("GET", "/vendors"): RouteQuery(),
    ("GET", "/vendors/<vendor_id>"): RouteQuery(),
    ("GET", "/webhook_subscriptions"): RouteQuery(),
    ("GET", "/webhook_subscriptions/<subscription_id>"): RouteQuery(),
    ("GET", "/webhook_subscriptions/<subscription_id>/deliveries"): RouteQuery(),
    ("GET", "/users"): _USER,
    ("GET", "/users/me"): _USER,
    ("GET", "/users/<user_id>"): _USER,
    ("GET", "/users/<user_id>/contact_methods"): RouteQuery(),
    ("GET", "/users/<user_id>/contact_methods/<method_id>"): RouteQuery(),
    ("GET", "/users/<user_id>/notification_rules"): _RULES,
    ("GET", "/users/<user_id>/notification_rules/<rule_id>"): _RULES,
    ("GET", "/schedules"): RouteQuery(unsupported={"team_ids": _NO_TEAMS}),
    ("GET", "/schedules/<schedule_id>"): RouteQuery(),
    ("GET", "/schedules/<schedule_id>/overrides"): RouteQuery(),
    ("GET", "/schedules/<schedule_id>/users"): RouteQuery(),
    ("GET", "/notifications"): RouteQuery(frozenset({"users"}), {"time_zone": _UTC_ONLY}),
    # The assignment strategy is always in each rule, so asking for it is honoured.
    ("GET", "/escalation_policies"): RouteQuery(
        frozenset({"escalation_rule_assignment_strategies"}), {"team_ids": _NO_TEAMS}
    ),
    ("GET", "/escalation_policies/<policy_id>"): RouteQuery(
        frozenset({"escalation_rule_assignment_strategies"})
    ),
    ("GET", "/oncalls"): RouteQuery(unsupported={"time_zone": _UTC_ONLY}),
    ("GET", "/incidents/<ident>/notes"): RouteQuery(),
    ("GET", "/services/<service_id>/forwarding/messages"): RouteQuery(),
}


def query_problems(method: str, rule: str, values: Callable[[str], list[str]]) -> list[str]:
    """What the route ``rule`` cannot honour in the query, one line each (empty: all fine).

    ``values(name)`` reads a set parameter (``name[]=a&name[]=b``). Routes that are not in
    :data:`ROUTES` (writes) have nothing to refuse. The REST guard calls this once the
    token is known, so a request without one is still a 401 first.
    """
    route = ROUTES.get((method, rule))
    if route is None:
        return []
    problems = []
    for name, why in route.unsupported.items():
        given = values(name)
        if name == "time_zone" and all(v in ("UTC", "Etc/UTC") for v in given):
            continue
        if given:
            problems.append(f"{name}: not supported ({why})")
    offered = ", ".join(sorted(route.includes)) or "none on this route"
    problems.extend(
        f"include[]={value}: not supported (supported: {offered})"
        for value in sorted(set(values("include")) - route.includes)
    )
    return problems

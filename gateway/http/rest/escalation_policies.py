"""REST resource: escalation policies (``/escalation_policies``).

Thin HTTP over :mod:`gateway.core.escalation_policies`: PagerDuty's list (``query``,
``user_ids[]``, ``sort_by``, ``limit``/``offset``/``total``), create, get, update (rules
given replace them all) and delete (refused while a service uses the policy).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quart import Blueprint, request

from gateway.auth import Level
from gateway.core import escalation_policies as policies
from gateway.domain import EscalationPolicy, EscalationRule
from gateway.http.rest._common import (
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
from gateway.shapes import POLICIES, Urls, reference
from gateway.store import Reader, Tx

blueprint = Blueprint("rest_escalation_policies", __name__)

ROOT = "escalation_policy"


# -- rendering --------------------------------------------------------------------------------


def rule_body(urls: Urls, reader: Reader, rule: EscalationRule) -> dict[str, Any]:
    """One ``escalation_rules[]`` entry, targets as references named as the pages name them."""
    return {
        "id": rule.id,
        "escalation_delay_in_minutes": rule.escalation_delay_in_minutes,
        "escalation_rule_assignment_strategy": rule.assignment_strategy,
        "targets": [
            reference(urls, t.type, t.id, policies.target_name(reader, t), f"/{t.type}s/{t.id}")
            for t in rule.targets
        ],
    }


def policy_body(
    urls: Urls, reader: Reader, policy: EscalationPolicy, services: list[tuple[str, str]]
) -> dict[str, Any]:
    """PagerDuty's ``escalation_policy`` object; ``services`` are the live ones using it."""
    path = f"{POLICIES}/{policy.id}"
    body = reference(urls, "escalation_policy", policy.id, policy.name, path)
    body.update(
        type="escalation_policy",
        name=policy.name,
        description=policy.description,
        num_loops=policy.num_loops,
        on_call_handoff_notifications=policy.on_call_handoff_notifications,
        escalation_rules=[rule_body(urls, reader, r) for r in policy.rules],
        services=[
            reference(urls, "service", sid, name, f"/services/{sid}") for sid, name in services
        ],
        teams=[],
        # Extension: whether the configuration file owns it (then REST refuses changes).
        declared_in_config=policy.source == "config",
    )
    return body


def _render(urls: Urls, reader: Reader, found: list[EscalationPolicy]) -> list[dict[str, Any]]:
    using = reader.policy_services([p.id for p in found])
    return [policy_body(urls, reader, p, using[p.id]) for p in found]


# -- reading JSON -----------------------------------------------------------------------------


def _fields(data: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """The layer's fields present in a REST body (for PolicyInput or PolicyPatch)."""
    out: dict[str, Any] = {}
    for key in ("name", "description", "num_loops", "on_call_handoff_notifications"):
        if key in data:
            out[key] = data[key]
    if "escalation_rules" in data or creating:
        raw = data.get("escalation_rules")
        if not isinstance(raw, list):
            raise invalid("escalation_rules must list at least one rule")
        out["rules"] = [policies.rule_input(r) if isinstance(r, Mapping) else r for r in raw]
    if creating and "name" not in out:
        out["name"] = None
    return out


# -- routes -----------------------------------------------------------------------------------


@blueprint.get("/escalation_policies")
@requires(Level.VIEW)
async def list_policies() -> dict[str, Any]:
    """``GET /escalation_policies``: ``query``, ``user_ids[]``, ``sort_by``, paging."""
    page = page_args()
    query = request.args.get("query")
    sort_by = request.args.get("sort_by")
    user_ids = list_arg("user_ids")
    urls = rest_urls()

    def read(reader: Reader) -> dict[str, Any]:
        found = policies.list_policies(reader, query=query, sort_by=sort_by, user_ids=user_ids)
        body = paginated("escalation_policies", found, page)
        body["escalation_policies"] = _render(urls, reader, body["escalation_policies"])
        return body

    return await context().store.read(read)


@blueprint.post("/escalation_policies")
@requires(Level.MANAGE)
async def create_policy() -> tuple[dict[str, Any], int]:
    """``POST /escalation_policies``: 201 with the policy."""
    data = policies.PolicyInput(**_fields(await json_body(ROOT), creating=True))
    by = agent()
    urls = rest_urls()

    def write(tx: Tx) -> dict[str, Any]:
        made = policies.create_policy(tx, data, by=by)
        return _render(urls, tx, [made])[0]

    return {ROOT: await context().store.write(write)}, 201


@blueprint.get("/escalation_policies/<policy_id>")
@requires(Level.VIEW)
async def get_policy(policy_id: str) -> dict[str, Any]:
    """``GET /escalation_policies/{id}``."""
    urls = rest_urls()

    def read(reader: Reader) -> dict[str, Any]:
        return _render(urls, reader, [policies.get_policy(reader, policy_id)])[0]

    return {ROOT: await context().store.read(read)}


@blueprint.put("/escalation_policies/<policy_id>")
@requires(Level.MANAGE)
async def update_policy(policy_id: str) -> dict[str, Any]:
    """``PUT /escalation_policies/{id}``: fields given change; rules given replace them all."""
    patch = policies.PolicyPatch(**_fields(await json_body(ROOT), creating=False))
    by = agent()
    urls = rest_urls()

    def write(tx: Tx) -> dict[str, Any]:
        changed = policies.update_policy(tx, policy_id, patch, by=by)
        return _render(urls, tx, [changed])[0]

    return {ROOT: await context().store.write(write)}


@blueprint.delete("/escalation_policies/<policy_id>")
@requires(Level.MANAGE)
async def delete_policy(policy_id: str) -> tuple[str, int]:
    """``DELETE /escalation_policies/{id}``: 204; 400 while a service uses it."""
    by = agent()
    await context().store.write(lambda tx: policies.delete_policy(tx, policy_id, by=by))
    return "", 204


__all__ = ["blueprint", "policy_body", "rule_body"]

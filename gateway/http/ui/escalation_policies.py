"""Escalation policies in the web UI: the list, and one policy's levels with their targets
(by name) and delays, the services that use it, and deleting it.

Pages over :mod:`gateway.core.escalation_policies`, as the REST API calls it. The new and
edit forms are :mod:`gateway.http.ui.escalation_policy_forms`; a service's form picks a
policy from :func:`policy_choices`.
"""

from __future__ import annotations

from dataclasses import dataclass

from quart.typing import ResponseReturnValue

from gateway.auth import Level
from gateway.core import escalation_policies as policies
from gateway.domain import EscalationPolicy
from gateway.errors import Invalid, Refused
from gateway.http.ui._web import agent, back, blueprint, page, read, requires, write
from gateway.http.ui.form_lists import form_problems, refusal_status
from gateway.store import Reader


@dataclass(frozen=True, slots=True)
class PolicyView:
    """A policy as the pages show it: target names per level, and its services."""

    policy: EscalationPolicy
    #: Per rule, ``(type, id, name)`` of each target in order.
    levels: list[list[tuple[str, str, str]]]
    services: list[tuple[str, str]]


def _views(reader: Reader, found: list[EscalationPolicy]) -> list[PolicyView]:
    using = reader.policy_services([p.id for p in found])
    return [
        PolicyView(
            p,
            [
                [(t.type, t.id, policies.target_name(reader, t)) for t in rule.targets]
                for rule in p.rules
            ],
            using[p.id],
        )
        for p in found
    ]


def policy_choices(reader: Reader) -> list[tuple[str, str]]:
    """``(id, name)`` of every policy by name, for a service form's list (one query)."""
    return reader.escalation_policy_names()


@blueprint.get("/escalation_policies")
@requires(Level.VIEW)
async def policy_list() -> ResponseReturnValue:
    """Every policy with its levels and how many services use it."""
    views = await read(lambda r: _views(r, policies.list_policies(r)))
    return await page("escalation_policies.html", views=views)


@blueprint.get("/escalation_policies/<policy_id>")
@requires(Level.VIEW)
async def policy_page(policy_id: str) -> ResponseReturnValue:
    """One policy: each level's targets by name, its delay and strategy; its services."""
    return await _policy_page(policy_id, [])


async def _policy_page(policy_id: str, errors: list[str], status: int = 200) -> ResponseReturnValue:
    (view,) = await read(lambda r: _views(r, [policies.get_policy(r, policy_id)]))
    return await page("escalation_policy.html", status=status, view=view, errors=errors)


@blueprint.post("/escalation_policies/<policy_id>/delete")
@requires(Level.MANAGE)
async def policy_delete(policy_id: str) -> ResponseReturnValue:
    """Delete a policy no service uses; otherwise its page again, naming the services."""
    by = agent()
    try:
        await write(lambda tx: policies.delete_policy(tx, policy_id, by=by))
    except (Invalid, Refused) as exc:
        return await _policy_page(policy_id, form_problems(exc), refusal_status(exc))
    return back("ui.policy_list", "Escalation policy deleted.")

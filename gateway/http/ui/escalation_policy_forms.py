"""Writing escalation policies in the web UI: the new-policy and edit forms.

One form holds the policy's name, description and repeats, and its levels: each level's
delay in minutes, its assignment strategy and its targets — users and schedules chosen by
name. Levels are added, removed and moved with the form's own buttons
(:mod:`gateway.http.ui.form_lists`), so it works without JavaScript. Saving calls
:func:`gateway.core.escalation_policies.create_policy` or ``update_policy``, as the REST API
does; a refusal shows the form again with every problem, nothing changed. Deleting is
:mod:`gateway.http.ui.escalation_policies`'. A service's page picks its policy by name
here too (:func:`service_policy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from quart import request
from quart.typing import ResponseReturnValue

from gateway.auth import Level
from gateway.core import escalation_policies as policies
from gateway.core import services, users
from gateway.core.inputs import ServicePatch
from gateway.domain import ASSIGNMENT_STRATEGIES, EscalationPolicy
from gateway.errors import Invalid, NotFound, Refused
from gateway.http.ui._web import agent, back, blueprint, form, page, read, requires, write
from gateway.http.ui.form_lists import (
    MAX_ITEMS,
    SELECT_LIMIT,
    apply_action,
    form_problems,
    refusal_status,
    whole_number,
)
from gateway.store import Reader

#: The assignment strategies in words, in the order the form offers them.
STRATEGY_WORDS = {
    ASSIGNMENT_STRATEGIES[0]: "Notify every target",
    ASSIGNMENT_STRATEGIES[1]: "One target at a time, in turn (round robin)",
}
_REFERENCE = {"user": "user_reference", "schedule": "schedule_reference"}


@dataclass(slots=True)
class LevelForm:
    """One level as the form holds it: text as typed, targets as ``kind:id``."""

    id: str = ""
    delay: str = "30"
    strategy: str = ASSIGNMENT_STRATEGIES[0]
    targets: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PolicyForm:
    """The whole form: the policy's fields and its levels, in order."""

    name: str = ""
    description: str = ""
    num_loops: str = "0"
    levels: list[LevelForm] = field(default_factory=list)

    @classmethod
    def of(cls, policy: EscalationPolicy) -> PolicyForm:
        """The form filled from a stored policy."""
        return cls(
            policy.name,
            policy.description or "",
            str(policy.num_loops),
            [
                LevelForm(
                    rule.id,
                    str(rule.escalation_delay_in_minutes),
                    rule.assignment_strategy,
                    [f"{t.type}:{t.id}" for t in rule.targets],
                )
                for rule in policy.rules
            ],
        )

    def rules(self) -> list[policies.RuleInput]:
        """The levels as the core reads rules (empty target slots dropped)."""
        out = []
        for level in self.levels:
            targets = []
            for chosen in level.targets:
                kind, _, target_id = chosen.partition(":")
                # An unknown kind goes through as it is: the core names what is wrong.
                targets.append((_REFERENCE.get(kind, kind), target_id))
            out.append(
                policies.RuleInput(
                    escalation_delay_in_minutes=whole_number(level.delay),
                    targets=targets,
                    assignment_strategy=level.strategy or None,
                    id=level.id or None,
                )
            )
        return out

    def loops(self) -> object:
        """``num_loops`` for the core: empty means none."""
        return whole_number(self.num_loops) if self.num_loops else 0


def read_form(values: Mapping[str, str], lists: Mapping[str, list[str]]) -> PolicyForm:
    """The form as posted: ``level-N-…`` fields for N below ``levels``."""
    count = whole_number(values.get("levels", "0"))
    levels = []
    for n in range(min(count, MAX_ITEMS) if isinstance(count, int) else 0):
        levels.append(
            LevelForm(
                values.get(f"level-{n}-id", ""),
                values.get(f"level-{n}-delay", ""),
                values.get(f"level-{n}-strategy", ""),
                [t for t in lists.get(f"level-{n}-target", []) if t.strip()],
            )
        )
    return PolicyForm(
        values.get("name", ""),
        values.get("description", ""),
        values.get("num_loops", ""),
        levels,
    )


@dataclass(frozen=True, slots=True)
class TargetChoices:
    """What a level may target: users as ``(value, name, email)`` (two people may share a
    name), schedules as ``(value, name)``; a value is ``user:ID`` or ``schedule:ID``."""

    users: list[tuple[str, str, str]]
    schedules: list[tuple[str, str]]

    @property
    def many(self) -> bool:
        """Whether a target is typed in a text box (see :data:`SELECT_LIMIT`)."""
        return len(self.users) + len(self.schedules) > SELECT_LIMIT

    def text(self, value: str) -> str:
        """What a text box shows for a chosen target: a user's email, a schedule's name
        (the value itself when nothing has it any more)."""
        for choice, _, email in self.users:
            if choice == value:
                return email
        for choice, name in self.schedules:
            if choice == value:
                return name
        return value

    def known(self, value: str) -> bool:
        """Whether ``value`` is one of the choices."""
        return any(value == c[0] for c in (*self.users, *self.schedules))


def target_choices(reader: Reader) -> TargetChoices:
    """Every live user and every schedule, by name."""
    return TargetChoices(
        [(f"user:{u.id}", u.name, u.email) for u in users.list_users(reader)],
        [(f"schedule:{s.id}", s.name) for s in reader.schedules()],
    )


def target_ref(reader: Reader, text: str) -> str:
    """A target as a text box names it — an email address, a schedule's name, or an id —
    as ``user:ID`` or ``schedule:ID``; one that names nothing goes on as a user, for the
    core to refuse naming it. A list's ``user:ID`` values pass unchanged."""
    kind, _, rest = text.partition(":")
    if kind in _REFERENCE and rest:
        return text
    wanted = text.strip()
    try:
        return f"user:{users.find_user(reader, wanted).id}"
    except NotFound:
        pass
    for schedule in reader.schedules():
        if wanted in (schedule.id, schedule.name):
            return f"schedule:{schedule.id}"
    return f"user:{wanted}"


async def _form_page(
    policy: EscalationPolicy | None,
    filled: PolicyForm,
    errors: list[str],
    *,
    status: int | None = None,
) -> ResponseReturnValue:
    choices = await read(target_choices)
    return await page(
        "escalation_policy_form.html",
        status=status or (400 if errors else 200),
        policy=policy,
        filled=filled,
        errors=errors,
        choices=choices,
        strategies=STRATEGY_WORDS,
    )


async def _posted() -> tuple[PolicyForm, str]:
    values = await form()
    raw = await request.form
    lists = {key: raw.getlist(key) for key in raw if key.endswith("-target")}
    filled = read_form(values, lists)

    def resolve(reader: Reader) -> None:  # a text box names targets by email or name
        for level in filled.levels:
            level.targets = [target_ref(reader, t) for t in level.targets]

    await read(resolve)
    return filled, values.get("action", "save")


@blueprint.get("/escalation_policies/new")
@requires(Level.MANAGE)
async def policy_new() -> ResponseReturnValue:
    """The new-policy form, with one level to fill."""
    return await _form_page(None, PolicyForm(levels=[LevelForm()]), [])


@blueprint.post("/escalation_policies/new")
@requires(Level.MANAGE)
async def policy_create() -> ResponseReturnValue:
    """Add, remove or move a level (the form again), or create the policy."""
    filled, action = await _posted()
    if apply_action(filled.levels, action, LevelForm) or action != "save":
        return await _form_page(None, filled, [])
    data = policies.PolicyInput(
        name=filled.name,
        rules=filled.rules(),
        description=filled.description or None,
        num_loops=filled.loops(),
    )
    by = agent()
    try:
        made = await write(lambda tx: policies.create_policy(tx, data, by=by))
    except (Invalid, Refused) as exc:
        return await _form_page(None, filled, form_problems(exc), status=refusal_status(exc))
    return back("ui.policy_page", f"Escalation policy {made.name} created.", policy_id=made.id)


@blueprint.get("/escalation_policies/<policy_id>/edit")
@requires(Level.MANAGE)
async def policy_edit(policy_id: str) -> ResponseReturnValue:
    """The edit form, filled from the policy."""
    policy = await read(lambda r: policies.get_policy(r, policy_id))
    return await _form_page(policy, PolicyForm.of(policy), [])


@blueprint.post("/escalation_policies/<policy_id>/edit")
@requires(Level.MANAGE)
async def policy_update(policy_id: str) -> ResponseReturnValue:
    """Add, remove or move a level (the form again), or save every field and level."""
    policy = await read(lambda r: policies.get_policy(r, policy_id))
    filled, action = await _posted()
    if apply_action(filled.levels, action, LevelForm) or action != "save":
        return await _form_page(policy, filled, [])
    patch = policies.PolicyPatch(
        name=filled.name,
        description=filled.description or None,
        num_loops=filled.loops(),
        rules=filled.rules(),
    )
    by = agent()
    try:
        await write(lambda tx: policies.update_policy(tx, policy_id, patch, by=by))
    except (Invalid, Refused) as exc:
        return await _form_page(policy, filled, form_problems(exc), status=refusal_status(exc))
    return back("ui.policy_page", "Escalation policy saved.", policy_id=policy_id)


@blueprint.post("/services/<service_id>/escalation_policy")
@requires(Level.MANAGE)
async def service_policy(service_id: str) -> ResponseReturnValue:
    """Give the service the policy chosen by name on its page (``update_service``, as REST's
    ``PUT /services/{id}``); a refusal comes back on the service's page, nothing changed."""
    chosen, by = (await form()).get("escalation_policy", ""), agent()
    patch = ServicePatch(escalation_policy_id=chosen)
    try:
        service = await write(lambda tx: services.update_service(tx, service_id, patch, by=by))
    except (Invalid, Refused) as exc:
        why = "; ".join(exc.errors)
        return back(
            "ui.service_page", f"Escalation policy not changed: {why}.", service_id=service_id
        )
    name = await read(lambda r: policies.get_policy(r, chosen).name)
    return back(
        "ui.service_page",
        f"Service {service.name} now uses the escalation policy {name}.",
        service_id=service_id,
    )

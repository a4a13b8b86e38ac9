"""Users in the web UI: the list (with the form to add one) and a user's page with their
contact methods and notification rules, and the forms to add and delete them.

Forms over :mod:`gateway.core.users` and :mod:`gateway.core.contact_methods`, as the REST
API calls them. Everyone signed in reads; admins (and the owner) add and delete users and
anyone's contact details; a user signed in with their own token changes their own contact
methods and rules (docs/people.md). Pages name contact methods by label, never by id.
"""

from __future__ import annotations

from dataclasses import dataclass

from quart import g, request
from quart.typing import ResponseReturnValue

from gateway.auth import ROLE_LEVELS, Level, level_of
from gateway.core import contact_methods as cm
from gateway.core import contact_types, users
from gateway.domain import ApiToken, ContactMethod, NotificationRule, User
from gateway.errors import Invalid
from gateway.http.ui._web import (
    PageError,
    agent,
    back,
    blueprint,
    context,
    form,
    page,
    read,
    requires,
    write,
)
from gateway.store import Reader


@dataclass(frozen=True, slots=True)
class UserRow:
    """A user as the list shows them: with how many contact methods and rules they have."""

    user: User
    methods: int
    rules: int


@dataclass(frozen=True, slots=True)
class Person:
    """A user's page: the user, their contact methods, and each rule with its method."""

    user: User
    methods: list[ContactMethod]
    rules: list[tuple[NotificationRule, ContactMethod | None]]


#: Users a list page shows (the rest through Previous/Next links, as the Service Directory).
PAGE = 25


@dataclass(frozen=True, slots=True)
class UserPage:
    """One page of the user list: its rows, where it starts, and how many match in all."""

    rows: list[UserRow]
    offset: int
    total: int

    @property
    def more(self) -> bool:
        """Whether a next page exists."""
        return self.offset + len(self.rows) < self.total


def _rows(reader: Reader, query: str | None, offset: int = 0) -> UserPage:
    found = users.list_users(reader, query=query)
    window = found[offset : offset + PAGE]
    counts = cm.contact_counts(reader, window)
    rows = [UserRow(u, *counts.get(u.id, (0, 0))) for u in window]
    return UserPage(rows, offset, len(found))


def _person(reader: Reader, user_id: str) -> Person:
    user = users.get_user(reader, user_id)
    methods = cm.contact_methods_for(reader, user)
    by_id = {m.id: m for m in methods}
    rules = [(r, by_id.get(r.contact_method_id)) for r in cm.notification_rules_for(reader, user)]
    return Person(user, methods, rules)


def _is_admin() -> bool:
    token: ApiToken | None = g.get("ui_user")
    return token is not None and level_of(token.role) >= Level.ADMIN


def _may_edit(user_id: str) -> bool:
    """Whether the signed-in token may change this user's contact details."""
    token: ApiToken | None = g.get("ui_user")
    return _is_admin() or (token is not None and token.user_id == user_id)


def _check_edit(user_id: str) -> None:
    if not _may_edit(user_id):
        token: ApiToken = g.ui_user
        raise PageError(
            403,
            f"The '{token.role}' role cannot change another user's contact details: "
            "this needs an admin or owner, or that user's own token.",
        )


def _types() -> dict[str, contact_types.ContactMethodType]:
    return contact_types.available(context().plugins.contact_types)


# -- the list -------------------------------------------------------------------------------


@blueprint.get("/users")
@requires(Level.VIEW)
async def user_list() -> ResponseReturnValue:
    """Every user (``query`` narrows by name or email), and the form to add one."""
    query = request.args.get("query") or None
    text = request.args.get("offset", "0").strip() or "0"
    if not text.isdigit():
        raise Invalid(["'offset' must be a whole number of at least 0"])
    offset = int(text)
    found = await read(lambda r: _rows(r, query, offset))
    return await _list_page(found, query, {}, [])


async def _list_page(
    found: UserPage, query: str | None, values: dict[str, str], errors: list[str]
) -> ResponseReturnValue:
    return await page(
        "users.html",
        status=400 if errors else 200,
        found=found,
        rows=found.rows,
        limit=PAGE,
        query=query or "",
        values=values,
        errors=errors,
        roles=list(ROLE_LEVELS),
        can_admin=_is_admin(),
    )


@blueprint.post("/users/new")
@requires(Level.ADMIN)
async def user_create() -> ResponseReturnValue:
    """Add a user (with an email contact method and rules at 0 minutes)."""
    values = dict(await form())
    data = users.UserInput(
        name=values.get("name", ""),
        email=values.get("email", ""),
        role=values.get("role") or None,
        time_zone=values.get("time_zone") or None,
        job_title=values.get("job_title") or None,
    )
    by = agent()
    try:
        made = await write(lambda tx: users.create_user(tx, data, by=by))
    except Invalid as exc:
        rows = await read(lambda r: _rows(r, None))
        return await _list_page(rows, None, values, exc.errors)
    return back("ui.user_page", f"User {made.name} added.", user_id=made.id)


# -- one user -------------------------------------------------------------------------------


@blueprint.get("/users/<user_id>")
@requires(Level.VIEW)
async def user_page(user_id: str) -> ResponseReturnValue:
    """A user with their contact methods and notification rules."""
    person = await read(lambda r: _person(r, user_id))
    return await _user_page(person, {}, [])


async def _user_page(
    person: Person, values: dict[str, str], errors: list[str], *, status: int = 200
) -> ResponseReturnValue:
    types = _types()
    return await page(
        "user.html",
        status=400 if errors else status,
        person=person,
        values=values,
        errors=errors,
        types=sorted(types.values(), key=lambda t: t.name != contact_types.EMAIL),
        type_names={t.name: t.summary for t in types.values()},
        may_edit=_may_edit(person.user.id),
        can_admin=_is_admin(),
    )


async def _refused(user_id: str, values: dict[str, str], exc: Invalid) -> ResponseReturnValue:
    person = await read(lambda r: _person(r, user_id))
    return await _user_page(person, values, exc.errors)


@blueprint.post("/users/<user_id>/delete")
@requires(Level.ADMIN)
async def user_delete(user_id: str) -> ResponseReturnValue:
    """Delete a user with their contact methods and rules."""
    by = agent()
    await write(lambda tx: users.delete_user(tx, user_id, by=by))
    return back("ui.user_list", "User deleted.")


@blueprint.post("/users/<user_id>/contact_methods/new")
@requires(Level.VIEW)
async def contact_method_create(user_id: str) -> ResponseReturnValue:
    """Add a contact method (admins, or the user's own token)."""
    _check_edit(user_id)
    values = dict(await form())
    data = cm.ContactMethodInput(
        type=values.get("type", ""), address=values.get("address", ""), label=values.get("label")
    )
    types, by = _types(), agent()
    try:
        await write(lambda tx: cm.create_contact_method(tx, user_id, data, types, by=by))
    except Invalid as exc:
        return await _refused(user_id, values, exc)
    return back("ui.user_page", "Contact method added.", user_id=user_id)


@blueprint.post("/users/<user_id>/contact_methods/<method_id>/delete")
@requires(Level.VIEW)
async def contact_method_delete(user_id: str, method_id: str) -> ResponseReturnValue:
    """Delete a contact method no rule uses (else a 409 page naming the rules)."""
    _check_edit(user_id)
    by = agent()
    await write(lambda tx: cm.delete_contact_method(tx, user_id, method_id, by=by))
    return back("ui.user_page", "Contact method deleted.", user_id=user_id)


@blueprint.post("/users/<user_id>/notification_rules/new")
@requires(Level.VIEW)
async def rule_create(user_id: str) -> ResponseReturnValue:
    """Add a notification rule: a type, a contact method, a delay in minutes and an urgency."""
    _check_edit(user_id)
    values = dict(await form())
    raw = values.get("start_delay_in_minutes", "0") or "0"
    delay: object = int(raw) if raw.isdigit() else raw
    data = cm.RuleInput(
        contact_method_id=values.get("contact_method", ""),
        start_delay_in_minutes=delay,
        urgency=values.get("urgency", ""),
        type=values.get("type") or cm.ASSIGNMENT_RULE,
    )
    by = agent()
    try:
        await write(lambda tx: cm.create_rule(tx, user_id, data, by=by))
    except Invalid as exc:
        return await _refused(user_id, values, exc)
    return back("ui.user_page", "Notification rule added.", user_id=user_id)


@blueprint.post("/users/<user_id>/notification_rules/<rule_id>/delete")
@requires(Level.VIEW)
async def rule_delete(user_id: str, rule_id: str) -> ResponseReturnValue:
    """Delete a notification rule."""
    _check_edit(user_id)
    by = agent()
    await write(lambda tx: cm.delete_rule(tx, user_id, rule_id, by=by))
    return back("ui.user_page", "Notification rule deleted.", user_id=user_id)

"""REST resource: a user's contact methods and notification rules.

``/users/{id}/contact_methods[/{contact_method_id}]`` and
``/users/{id}/notification_rules[/{notification_rule_id}]``: list, create, get, update,
delete, over :mod:`gateway.core.contact_methods`. Everyone reads; an admin (or the owner)
changes anyone's, and a user's own token changes their own (docs/people.md). The types a
contact method may have are the built-in email and the loaded plugins' (a type nobody
delivers is a 400).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quart import Blueprint, request

from gateway.auth import Level
from gateway.core import contact_methods as cm
from gateway.core import contact_types
from gateway.domain import NotificationRule
from gateway.http.rest._common import context, invalid, json_body, list_arg, requires
from gateway.http.rest.bodies import rest_urls
from gateway.http.rest.services import agent
from gateway.http.rest.users import may_edit
from gateway.people_shapes import contact_method_object, rule_object
from gateway.shapes import Urls
from gateway.store import Reader, Tx

blueprint = Blueprint("rest_contact_methods", __name__)

CM_ROOT = "contact_method"
RULE_ROOT = "notification_rule"


def _types() -> dict[str, contact_types.ContactMethodType]:
    return contact_types.available(context().plugins.contact_types)


def _method_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in ("type", "label", "address") if k in data}


def _rule_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    # ``type``: assignment_notification_rule, or the extension status_change_notification_rule
    # (the core checks it with the other values, every problem in one 400).
    out = {k: data[k] for k in ("start_delay_in_minutes", "urgency", "type") if k in data}
    if "contact_method" in data:
        ref = data["contact_method"]
        if not isinstance(ref, dict) or not isinstance(ref.get("id"), str):
            raise invalid("contact_method must be a reference {id, type}")
        out["contact_method_id"] = ref["id"]
    return out


def _rule_body(
    urls: Urls, reader: Reader, rule: NotificationRule, full: bool = False
) -> dict[str, Any]:
    method = reader.contact_method(rule.contact_method_id)
    return rule_object(urls, rule, method, full_method=full)


# -- contact methods --------------------------------------------------------------------------


@blueprint.get("/users/<user_id>/contact_methods")
@requires(Level.VIEW)
async def list_methods(user_id: str) -> dict[str, Any]:
    """``GET /users/{id}/contact_methods``: all of them (PagerDuty does not page this list)."""

    urls = rest_urls()

    def read(reader: Reader) -> list[dict[str, Any]]:
        return [contact_method_object(urls, m) for m in cm.list_contact_methods(reader, user_id)]

    return {"contact_methods": await context().store.read(read)}


@blueprint.post("/users/<user_id>/contact_methods")
@requires(Level.VIEW)
async def create_method(user_id: str) -> tuple[dict[str, Any], int]:
    """``POST /users/{id}/contact_methods``: 201; a type no plugin delivers is a 400."""
    await may_edit(user_id)
    data = cm.ContactMethodInput(**_method_fields(await json_body(CM_ROOT)))
    types, by, urls = _types(), agent(), rest_urls()

    def write(tx: Tx) -> dict[str, Any]:
        made = cm.create_contact_method(tx, user_id, data, types, by=by)
        return contact_method_object(urls, made)

    return {CM_ROOT: await context().store.write(write)}, 201


@blueprint.get("/users/<user_id>/contact_methods/<method_id>")
@requires(Level.VIEW)
async def get_method(user_id: str, method_id: str) -> dict[str, Any]:
    """``GET /users/{id}/contact_methods/{contact_method_id}``."""
    urls = rest_urls()
    found = await context().store.read(lambda r: cm.get_contact_method(r, user_id, method_id))
    return {CM_ROOT: contact_method_object(urls, found)}


@blueprint.put("/users/<user_id>/contact_methods/<method_id>")
@requires(Level.VIEW)
async def update_method(user_id: str, method_id: str) -> dict[str, Any]:
    """``PUT /users/{id}/contact_methods/{contact_method_id}``: label, address, type."""
    await may_edit(user_id)
    patch = cm.ContactMethodPatch(**_method_fields(await json_body(CM_ROOT)))
    types, by, urls = _types(), agent(), rest_urls()

    def write(tx: Tx) -> dict[str, Any]:
        changed = cm.update_contact_method(tx, user_id, method_id, patch, types, by=by)
        return contact_method_object(urls, changed)

    return {CM_ROOT: await context().store.write(write)}


@blueprint.delete("/users/<user_id>/contact_methods/<method_id>")
@requires(Level.VIEW)
async def delete_method(user_id: str, method_id: str) -> tuple[str, int]:
    """``DELETE /users/{id}/contact_methods/{contact_method_id}``: 204; 400 while rules use it."""
    await may_edit(user_id)
    by = agent()
    await context().store.write(lambda tx: cm.delete_contact_method(tx, user_id, method_id, by=by))
    return "", 204


# -- notification rules -----------------------------------------------------------------------


@blueprint.get("/users/<user_id>/notification_rules")
@requires(Level.VIEW)
async def list_rules(user_id: str) -> dict[str, Any]:
    """``GET /users/{id}/notification_rules``: ``urgency``, ``include[]=contact_methods``."""
    urgency = request.args.get("urgency")
    full = "contact_methods" in list_arg("include")
    urls = rest_urls()

    def read(reader: Reader) -> list[dict[str, Any]]:
        rules = cm.list_rules(reader, user_id, urgency=urgency)
        return [_rule_body(urls, reader, r, full) for r in rules]

    return {"notification_rules": await context().store.read(read)}


@blueprint.post("/users/<user_id>/notification_rules")
@requires(Level.VIEW)
async def create_rule(user_id: str) -> tuple[dict[str, Any], int]:
    """``POST /users/{id}/notification_rules``: 201; the contact method must be the user's."""
    await may_edit(user_id)
    data = cm.RuleInput(**_rule_fields(await json_body(RULE_ROOT)))
    by, urls = agent(), rest_urls()

    def write(tx: Tx) -> dict[str, Any]:
        return _rule_body(urls, tx, cm.create_rule(tx, user_id, data, by=by))

    return {RULE_ROOT: await context().store.write(write)}, 201


@blueprint.get("/users/<user_id>/notification_rules/<rule_id>")
@requires(Level.VIEW)
async def get_rule(user_id: str, rule_id: str) -> dict[str, Any]:
    """``GET /users/{id}/notification_rules/{notification_rule_id}``."""
    full = "contact_methods" in list_arg("include")
    urls = rest_urls()
    return {
        RULE_ROOT: await context().store.read(
            lambda r: _rule_body(urls, r, cm.get_rule(r, user_id, rule_id), full)
        )
    }


@blueprint.put("/users/<user_id>/notification_rules/<rule_id>")
@requires(Level.VIEW)
async def update_rule(user_id: str, rule_id: str) -> dict[str, Any]:
    """``PUT /users/{id}/notification_rules/{notification_rule_id}``."""
    await may_edit(user_id)
    patch = cm.RulePatch(**_rule_fields(await json_body(RULE_ROOT)))
    by, urls = agent(), rest_urls()

    def write(tx: Tx) -> dict[str, Any]:
        return _rule_body(urls, tx, cm.update_rule(tx, user_id, rule_id, patch, by=by))

    return {RULE_ROOT: await context().store.write(write)}


@blueprint.delete("/users/<user_id>/notification_rules/<rule_id>")
@requires(Level.VIEW)
async def delete_rule(user_id: str, rule_id: str) -> tuple[str, int]:
    """``DELETE /users/{id}/notification_rules/{notification_rule_id}``: 204."""
    await may_edit(user_id)
    by = agent()
    await context().store.write(lambda tx: cm.delete_rule(tx, user_id, rule_id, by=by))
    return "", 204


__all__ = ["blueprint"]

"""Reading REST bodies: typed fields, and the service and integration inputs they carry.

Shared by the services and integrations resources (a service created with its
``integrations[]`` reads each one exactly as ``POST /services/{id}/integrations`` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.core.email_integrations import EMAIL_FIELDS
from gateway.core.inputs import IntegrationInput
from gateway.http.rest._common import invalid

__all__ = ["Fields", "integration_input", "integration_settings", "service_fields"]


class Fields:
    """Typed reads of a JSON object's fields, collecting one message per wrong type."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.errors: list[str] = []

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def text(self, key: str, *, nullable: bool = True) -> str | None:
        """A string field (``None`` when null and allowed)."""
        value = self.data.get(key)
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            self.errors.append(f"{key} must be a string")
            return None
        return value

    def integer(self, key: str) -> int | None:
        """An integer field or null."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.errors.append(f"{key} must be an integer or null")
            return None
        return value

    def obj(self, key: str) -> dict[str, Any] | None:
        """An object field or null."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.errors.append(f"{key} must be an object or null")
            return None
        return value

    def ref_id(self, key: str) -> str | None:
        """The ``id`` of a reference field (``{"id": ...}``) or null."""
        ref = self.obj(key)
        if ref is None:
            return None
        ref_id = ref.get("id")
        if not isinstance(ref_id, str) or not ref_id:
            self.errors.append(f"{key}.id must be a string")
            return None
        return ref_id

    def check(self) -> None:
        """Raise 400 listing every problem found so far."""
        if self.errors:
            raise invalid(*self.errors)


def service_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The layer's service fields present in a REST body (for ServiceInput or ServicePatch)."""
    f = Fields(data)
    out: dict[str, Any] = {}
    for key in ("name", "status", "alert_creation"):
        if key in f:
            out[key] = f.text(key, nullable=False)
    if "description" in f:
        out["description"] = f.text("description")
    for key in ("acknowledgement_timeout", "auto_resolve_timeout"):
        if key in f:
            out[key] = f.integer(key)
    if "escalation_policy" in f:
        out["escalation_policy_id"] = f.ref_id("escalation_policy")
    if "incident_urgency_rule" in f:
        rule = f.obj("incident_urgency_rule") or {}
        if rule.get("type", "constant") != "constant":
            f.errors.append(
                f"incident_urgency_rule type {rule.get('type')!r} is not supported; "
                "use 'constant' (urgency high, low or severity_based)"
            )
        elif "urgency" in rule:
            out["urgency"] = rule["urgency"]
    if "alert_grouping" in f:
        out["alert_grouping"] = f.text("alert_grouping")
    if "alert_grouping_timeout" in f:
        out["alert_grouping_timeout"] = f.integer("alert_grouping_timeout")
    if "alert_grouping_parameters" in f:
        params = f.obj("alert_grouping_parameters") or {}
        out["alert_grouping"] = params.get("type")
        config = params.get("config")
        if isinstance(config, dict) and "timeout" in config:
            out["alert_grouping_timeout"] = config["timeout"]
        elif params.get("type") is None:
            out["alert_grouping_timeout"] = None
    f.check()
    return out


def integration_settings(f: Fields, base: dict[str, Any]) -> dict[str, Any] | None:
    """Vendor settings from a body: ``settings`` (gateway extension) and the email fields."""
    if "settings" not in f and not any(k in f for k in EMAIL_FIELDS):
        return None
    settings = dict(base)
    if "settings" in f:
        settings = dict(f.obj("settings") or {})
    for key in EMAIL_FIELDS:
        if key in f:
            settings[key] = f.data[key]
    return settings


def integration_input(data: Mapping[str, Any], where: str = "") -> IntegrationInput:
    """A new integration from its REST body (400 listing every problem, prefixed ``where``)."""
    f = Fields(data)
    name = f.text("name")
    kind = f.text("type")
    vendor_id = f.ref_id("vendor")
    email = f.text("integration_email")
    settings = integration_settings(f, {}) or {}
    f.errors = [where + e for e in f.errors]
    f.check()
    return IntegrationInput(
        name=name, type=kind, vendor_id=vendor_id, integration_email=email, settings=settings
    )

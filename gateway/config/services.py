"""Parsers for ``[[services]]`` (with their integrations) and ``[[maintenance_windows]]``.

This is where the configuration's domain rules are checked at parse time: integration
types, the Events API v2 / ``create_incidents`` pairing, unique names and keys, and
windows that name configured services.
"""

from __future__ import annotations

from typing import Any

from gateway import cef
from gateway.config.forwarding import forward_targets
from gateway.config.reader import Reader
from gateway.config.settings import IntegrationConfig, MaintenanceConfig, ServiceConfig
from gateway.domain import (
    ALERT_CREATIONS,
    GENERIC_EMAIL,
    GENERIC_INTEGRATION_TYPES,
    INTEGRATION_TYPES,
    URGENCY_RULES,
    placement_problem,
)


def _integration(
    r: Reader, data: dict[str, Any], key: str, alert_creation: str
) -> IntegrationConfig:
    name = r.string(data, "name", f"{key}.name", required=True)
    kind = r.string(data, "type", f"{key}.type")
    vendor = r.string(data, "vendor", f"{key}.vendor")
    if kind is None and vendor is None:
        raise r.error(
            "needs a type (events_api_v2, events_api_v1, email) or a vendor", f"{key}.type"
        )
    if kind is not None:
        kind = INTEGRATION_TYPES.get(kind, kind)
        if vendor is None and kind not in GENERIC_INTEGRATION_TYPES:
            allowed = ", ".join([*INTEGRATION_TYPES, *sorted(GENERIC_INTEGRATION_TYPES)])
            raise r.error(
                f"unknown integration type {data['type']!r} (allowed: {allowed})", f"{key}.type"
            )
    integration_key = r.string(data, "integration_key", f"{key}.integration_key")
    if integration_key is not None and cef.routing_key_errors(integration_key):
        raise r.error("must be 32 letters and digits", f"{key}.integration_key")
    email = r.string(data, "integration_email", f"{key}.integration_email")
    if kind == GENERIC_EMAIL and not email:
        raise r.error("an email integration needs integration_email", f"{key}.integration_email")
    if kind is not None and placement_problem(kind, alert_creation):  # the one rule (domain.py)
        raise r.error(
            "an Events API v2 integration needs a service with alert_creation = "
            '"create_alerts_and_incidents"',
            f"{key}.type",
        )
    known = {"name", "type", "vendor", "integration_key", "integration_email"}
    settings = {k: v for k, v in data.items() if k not in known}
    return IntegrationConfig(
        name=name or "",
        type=kind,
        vendor=vendor,
        integration_key=integration_key,
        integration_email=email,
        settings=settings,
        key=key,
        line=r.lines.get(key),
    )


def _service(r: Reader, data: dict[str, Any], key: str) -> ServiceConfig:
    r.only(
        data,
        {
            "name",
            "description",
            "status",
            "alert_creation",
            "incident_urgency",
            "acknowledgement_timeout",
            "auto_resolve_timeout",
            "alert_grouping",
            "alert_grouping_timeout",
            "integrations",
            "forward_to",
            "forward_suppressed",
            "escalation_policy",
        },
        f"{key}.",
    )
    name = r.string(data, "name", f"{key}.name", required=True)
    alert_creation = r.string(
        data,
        "alert_creation",
        f"{key}.alert_creation",
        default="create_alerts_and_incidents",
        choices=ALERT_CREATIONS,
    )
    assert alert_creation is not None
    urgency_value = data.get("incident_urgency", "high")
    if isinstance(urgency_value, dict):  # PagerDuty's {type = "constant", urgency = "..."}
        urgency_value = urgency_value.get("urgency")
    urgency = r.string({"u": urgency_value}, "u", f"{key}.incident_urgency", choices=URGENCY_RULES)
    grouping = r.string(data, "alert_grouping", f"{key}.alert_grouping", choices=("time",))
    integrations = tuple(
        _integration(r, item, f"{key}.integrations[{i}]", alert_creation)
        for i, item in enumerate(r.array(data, "integrations", f"{key}."))
    )
    return ServiceConfig(
        name=name or "",
        description=r.string(data, "description", f"{key}.description"),
        status=r.string(
            data, "status", f"{key}.status", default="active", choices=("active", "disabled")
        )
        or "active",
        alert_creation=alert_creation,
        urgency=urgency or "high",
        acknowledgement_timeout=r.integer(
            data, "acknowledgement_timeout", f"{key}.acknowledgement_timeout", default=1800
        ),
        auto_resolve_timeout=r.integer(
            data, "auto_resolve_timeout", f"{key}.auto_resolve_timeout", default=14400
        ),
        alert_grouping=grouping,
        alert_grouping_timeout=r.integer(
            data, "alert_grouping_timeout", f"{key}.alert_grouping_timeout", default=0
        ),
        integrations=integrations,
        key=key,
        line=r.lines.get(key),
        forward_to=forward_targets(r, data, key),
        forward_suppressed=_boolean(r, data, "forward_suppressed", f"{key}.forward_suppressed"),
        escalation_policy=r.string(data, "escalation_policy", f"{key}.escalation_policy"),
    )


def _boolean(r: Reader, data: dict[str, Any], name: str, key: str) -> bool | None:
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise r.error("must be true or false", key)
    return value


def service_configs(r: Reader, data: dict[str, Any]) -> tuple[ServiceConfig, ...]:
    """Every ``[[services]]`` block, checked for unique names and integration keys."""
    services = tuple(
        _service(r, item, f"services[{i}]") for i, item in enumerate(r.array(data, "services"))
    )
    _check_unique(r, services)
    return services


def _check_unique(r: Reader, services: tuple[ServiceConfig, ...]) -> None:
    seen_services: dict[str, str] = {}
    seen_keys: dict[str, str] = {}
    for service in services:
        if service.name in seen_services:
            raise r.error(
                f"service name {service.name!r} is already used by {seen_services[service.name]}",
                f"{service.key}.name",
            )
        seen_services[service.name] = service.key
        names: set[str] = set()
        for integration in service.integrations:
            if integration.name in names:
                raise r.error(
                    f"integration name {integration.name!r} appears twice in "
                    f"service {service.name!r}",
                    f"{integration.key}.name",
                )
            names.add(integration.name)
            ikey = integration.integration_key
            if ikey is not None:
                if ikey in seen_keys:
                    raise r.error(
                        f"integration_key is already used by {seen_keys[ikey]}",
                        f"{integration.key}.integration_key",
                    )
                seen_keys[ikey] = integration.key


def maintenance_configs(
    r: Reader, data: dict[str, Any], services: tuple[ServiceConfig, ...]
) -> tuple[MaintenanceConfig, ...]:
    """Every ``[[maintenance_windows]]`` block; each must name configured services."""
    names = {s.name for s in services}
    windows = []
    for i, item in enumerate(r.array(data, "maintenance_windows")):
        key = f"maintenance_windows[{i}]"
        r.only(item, {"services", "start", "end", "description"}, f"{key}.")
        start, end = r.when(item, "start", f"{key}.start"), r.when(item, "end", f"{key}.end")
        if end <= start:
            raise r.error("must be after start", f"{key}.end")
        listed = r.strings(item, "services", f"{key}.services")
        if not listed:
            raise r.error("must name at least one service", f"{key}.services")
        for name in listed:
            if name not in names:
                raise r.error(f"no [[services]] block is named {name!r}", f"{key}.services")
        windows.append(
            MaintenanceConfig(
                listed, start, end, r.string(item, "description", f"{key}.description")
            )
        )
    return tuple(windows)

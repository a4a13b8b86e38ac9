"""Moving an integration to another service, key and incidents included.

PagerDuty documents no move (Terraform recreates the integration with a new
key); the gateway keeps the key, and every incident opened through the
integration follows it with its alerts. A move that would change how those
incidents behave (the destination's incident settings differ) is refused with
:class:`~gateway.errors.Conflict` until confirmed; one that can never happen
(:func:`~gateway.core.services.placement_problem`) is
:class:`~gateway.errors.Incompatible`, confirmed or not.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from gateway.core.inputs import SYSTEM, Agent
from gateway.core.integrations import get_integration
from gateway.core.ownership import name_taken_problem, refuse_declared
from gateway.core.services import get_service, placement_problem, record_change
from gateway.domain import Integration, Service
from gateway.errors import Conflict, Difference, Incompatible, Invalid
from gateway.store import Reader, Tx

__all__ = ["Difference", "MoveResult", "integration_move_differences", "move_integration"]

log = structlog.get_logger("gateway.integrations")


@dataclass(frozen=True, slots=True)
class MoveResult:
    """What a move did: the integration as it is now, and how much followed it."""

    integration: Integration
    from_service_id: str
    to_service_id: str
    incidents_moved: int
    alerts_moved: int
    differences: list[Difference]


def integration_move_differences(
    reader: Reader, integration_id: str, to_service_id: str, *, by: Agent = SYSTEM
) -> list[Difference]:
    """The incident settings that would change if the integration moved to ``to_service_id``.

    Compared: ``alert_creation``, ``incident_urgency_rule`` (urgency),
    ``acknowledgement_timeout``, ``auto_resolve_timeout``, ``alert_grouping``,
    ``alert_grouping_timeout`` (seconds and minutes as numbers, ``None`` for off),
    ``escalation_policy`` (id) and ``status``. Raises :class:`Incompatible`
    when the move can never happen (:func:`placement_problem`), :class:`Invalid`
    when the destination has an integration of the same name,
    :class:`~gateway.errors.Refused` when the configuration file declares the
    integration and ``by`` is not provisioning, :class:`NotFound` for a missing
    integration or service.
    """
    integration = get_integration(reader, integration_id)
    source = get_service(reader, integration.service_id)
    target = get_service(reader, to_service_id)
    if target.id != source.id:
        refuse_declared(reader, "Integration", integration.id, integration.name, ["service"], by)
    if problem := placement_problem(integration.type, target.alert_creation):
        raise Incompatible([problem])
    if target.id != source.id and (
        taken := name_taken_problem(reader, target.id, integration.name, integration.id)
    ):
        raise Invalid([taken])
    return [
        Difference(name, _text(old), _text(new))
        for name, old, new in _incident_settings(source, target)
        if old != new
    ]


def _incident_settings(source: Service, target: Service) -> tuple[tuple[str, object, object], ...]:
    # Every setting that changes what happens to the integration's incidents once it has
    # moved, by its REST name: a move must never change one of these without a warning.
    return (
        ("alert_creation", source.alert_creation, target.alert_creation),
        ("incident_urgency_rule", source.urgency_rule.urgency, target.urgency_rule.urgency),
        (
            "acknowledgement_timeout",
            source.acknowledgement_timeout,
            target.acknowledgement_timeout,
        ),
        ("auto_resolve_timeout", source.auto_resolve_timeout, target.auto_resolve_timeout),
        ("alert_grouping", source.alert_grouping, target.alert_grouping),
        ("alert_grouping_timeout", source.alert_grouping_timeout, target.alert_grouping_timeout),
        ("escalation_policy", source.escalation_policy_id, target.escalation_policy_id),
        ("status", source.status, target.status),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def move_integration(
    tx: Tx, integration_id: str, to_service_id: str, *, confirm: bool, by: Agent = SYSTEM
) -> MoveResult:
    """Move an integration to another service, keeping its key.

    Every incident opened through the integration, and each of those
    incidents' alerts, moves with it. When the destination's incident settings
    differ the move is refused with :class:`Conflict` (listing each
    :class:`Difference`) unless ``confirm``; :class:`Incompatible` is raised
    even with ``confirm``. Moving to the service it is on changes nothing.
    """
    differences = integration_move_differences(tx, integration_id, to_service_id, by=by)
    integration = get_integration(tx, integration_id)
    source_id = integration.service_id
    if source_id == to_service_id:
        return MoveResult(integration, source_id, source_id, 0, 0, [])
    if differences and not confirm:
        raise Conflict(differences)
    incidents, alerts = tx.move_integration(integration.id, to_service_id)
    details = {
        "from_service_id": source_id,
        "to_service_id": to_service_id,
        "incidents_moved": incidents,
        "alerts_moved": alerts,
        "differences": [d.as_dict() for d in differences],
    }
    summary = f"Integration {integration.name} moved from service {source_id} to {to_service_id}"
    record_change(tx, "integration_move", by, source_id, integration.id, summary, details)
    record_change(tx, "integration_move", by, to_service_id, integration.id, summary, details)
    log.info(
        "integration.moved",
        integration_id=integration.id,
        from_service_id=source_id,
        to_service_id=to_service_id,
        incidents=incidents,
        alerts=alerts,
        confirmed_differences=len(differences),
    )
    return MoveResult(
        get_integration(tx, integration.id),
        source_id,
        to_service_id,
        incidents,
        alerts,
        differences,
    )

"""What the domain layer takes in: new objects, patches, who acts, and times.

Every face (REST, CLI, web UI, configuration provisioning) builds these and
hands them to :mod:`gateway.core.services`, :mod:`gateway.core.integrations`,
:mod:`gateway.core.incidents` or :mod:`gateway.core.maintenance`; none of them
checks values itself. A patch field left :data:`UNSET` is not changed, while
``None`` is a value ("no timeout", "no description").
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from gateway.clock import parse_iso
from gateway.errors import Invalid

__all__ = [
    "CONFIG",
    "SYSTEM",
    "UNSET",
    "Agent",
    "IntegrationInput",
    "IntegrationPatch",
    "ServiceInput",
    "ServicePatch",
    "Unset",
    "parse_time",
]


class _Unset(enum.Enum):
    UNSET = 0

    def __repr__(self) -> str:
        return "UNSET"


#: A patch field left as UNSET is not changed (``None`` is a value: "no timeout").
UNSET: Final = _Unset.UNSET
#: The type of :data:`UNSET`, for annotations (``str | Unset``).
Unset = _Unset


@dataclass(frozen=True, slots=True)
class Agent:
    """Who made a change, as written to log entries.

    ``api_token``/token id (REST and web UI), ``cli``/user name, ``config``/the
    configuration file (provisioning), ``system`` when nobody in particular.
    """

    type: str = "system"
    id: str | None = None


SYSTEM: Final = Agent()
#: Provisioning's agent when the file's path is not known.
CONFIG: Final = Agent("config")


@dataclass(frozen=True, slots=True)
class ServiceInput:
    """A new service. Timeouts are seconds; ``0`` or ``None`` turns one off."""

    name: str
    description: str | None = None
    status: str = "active"
    alert_creation: str = "create_alerts_and_incidents"
    urgency: str = "high"
    acknowledgement_timeout: int | None = 1800
    auto_resolve_timeout: int | None = 14400
    alert_grouping: str | None = None
    alert_grouping_timeout: int | None = None
    escalation_policy_id: str | None = None


@dataclass(frozen=True, slots=True)
class ServicePatch:
    """Changes to a service; fields left :data:`UNSET` keep their value."""

    name: str | _Unset = UNSET
    description: str | _Unset | None = UNSET
    status: str | _Unset = UNSET
    alert_creation: str | _Unset = UNSET
    urgency: str | _Unset = UNSET
    acknowledgement_timeout: int | _Unset | None = UNSET
    auto_resolve_timeout: int | _Unset | None = UNSET
    alert_grouping: str | _Unset | None = UNSET
    alert_grouping_timeout: int | _Unset | None = UNSET
    escalation_policy_id: str | _Unset | None = UNSET


@dataclass(frozen=True, slots=True)
class IntegrationInput:
    """A new integration: a ``type``, or a vendor (id, name or alias) that decides the type.

    With ``vendor_id`` the client's ``type`` is ignored (Terraform sends
    ``service_integration``). ``integration_email`` is needed for email
    integrations and ignored for the others.

    ``integration_key`` is for configuration provisioning only, which may pin a
    key in the file: the REST API, the CLI and the web UI never pass one (a
    client's key is ignored, as PagerDuty's is read-only), so theirs is generated.
    """

    name: str | None = None
    type: str | None = None
    vendor_id: str | None = None
    integration_email: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    integration_key: str | None = None


@dataclass(frozen=True, slots=True)
class IntegrationPatch:
    """Changes to an integration; fields left :data:`UNSET` keep their value.

    ``type``, ``vendor_id`` and ``integration_key`` are for configuration
    provisioning only (an edited file may change an integration's vendor or pin
    its key); the REST API, the CLI and the web UI never set them, because
    PagerDuty's integration type and key cannot change.
    """

    name: str | _Unset = UNSET
    integration_email: str | _Unset | None = UNSET
    settings: Mapping[str, Any] | _Unset = UNSET
    type: str | _Unset = UNSET
    vendor_id: str | _Unset | None = UNSET
    integration_key: str | _Unset = UNSET


def parse_time(value: str | datetime, name: str) -> datetime:
    """An ISO 8601 time (an offset or ``Z``; naive means UTC), or :class:`Invalid` naming it."""
    if isinstance(value, datetime):
        return value if value.tzinfo else parse_iso(value.isoformat())
    try:
        if not isinstance(value, str):  # JSON numbers, lists… from REST bodies
            raise ValueError(value)
        return parse_iso(value.strip())
    except ValueError:
        raise Invalid([f"'{name}' must be an ISO 8601 date-time, got {value!r}"]) from None

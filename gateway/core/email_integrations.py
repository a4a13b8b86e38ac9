"""Email integrations as people and clients see them: their address and their modes.

One rule for every face: the REST API, the web UI and the CLI take a local part
or an address at the ``[smtp]`` domain, and none without ``[smtp]`` (no mail could
reach it); the configuration file may also name another domain (an MTA routing it
here). A bare local part means ``local@[smtp].domain`` wherever it is shown.
:func:`email_fields` gives the email modes an integration's settings amount to
(the email vendor, ``plugins/email/settings.py``, checks and applies them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from gateway.core.inputs import UNSET, Unset
from gateway.store import Reader

__all__ = [
    "EMAIL_FIELDS",
    "NO_SMTP",
    "check_email",
    "email_fields",
    "full_email",
    "normalize_email",
]

#: An email integration's fields, kept in its settings: PagerDuty's, and the gateway's
#: ``email_preset``.
EMAIL_FIELDS: Final = (
    "email_incident_creation",
    "email_filter_mode",
    "email_filters",
    "email_parsers",
    "email_parsing_fallback",
    "email_preset",
)

_EMAIL = re.compile(r"^[^@\s]+(@[^@\s]+)?$")
#: Why an email integration cannot be made or re-addressed at runtime without ``[smtp]``.
NO_SMTP: Final = (
    "email integrations need the SMTP listener, and no [smtp] section is configured: "
    "no mail could reach this address (add [smtp] to the configuration and restart)"
)


def normalize_email(address: str) -> str:
    """An ``integration_email`` as configuration files give it: a bare local part lower-cased.

    Mail routing matches addresses case-insensitively either way; provisioning
    stores a bare local part (``Ops`` → ``ops``) as the SMTP listener shows it.
    Full addresses are kept as written.
    """
    address = address.strip()
    return address if "@" in address else address.lower()


def full_email(address: str | None, domain: str | None) -> str | None:
    """An ``integration_email`` as shown to people and clients: a whole address.

    A bare local part means ``local@[smtp].domain`` (what the SMTP listener
    accepts); a whole address is shown as it is. Without ``[smtp]`` (``domain``
    ``None``) there is no domain to add, and the local part is shown alone.
    """
    if address is None or "@" in address or domain is None:
        return address
    return f"{address}@{domain}"


def email_fields(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The email fields an integration's settings amount to, never ``null`` for a mode.

    Unset modes show PagerDuty's defaults (``on_new_email``, ``all-email``,
    ``open_new_incident``); with an ``email_preset`` the incident creation is
    ``use_rules``, as the email vendor runs it (a preset is a set of rules).
    """
    preset = settings.get("email_preset")
    creation = settings.get("email_incident_creation") or (
        "use_rules" if preset else "on_new_email"
    )
    return {
        "email_incident_creation": creation,
        "email_filter_mode": settings.get("email_filter_mode") or "all-email",
        "email_filters": settings.get("email_filters") or [],
        "email_parsers": settings.get("email_parsers") or [],
        "email_parsing_fallback": settings.get("email_parsing_fallback") or "open_new_incident",
        "email_preset": preset,
    }


def check_email(
    reader: Reader,
    value: object,
    own_id: str | None,
    errors: list[str],
    domain: str | Unset | None = UNSET,
) -> str | None:
    """The address to store, or ``None`` with the reason in ``errors``.

    ``domain`` (see :func:`gateway.core.integrations.add_integration`): unset,
    any address is taken (the configuration file); ``None``, none is (no
    ``[smtp]``); a domain, a local part or an address at that domain.
    """
    if domain is None:
        errors.append(NO_SMTP)
        return None
    if value is None or value == "":
        errors.append("integration_email is required for an email integration")
        return None
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        errors.append("integration_email must be an email address (or its local part)")
        return None
    address = value.strip()
    local, at, given = address.rpartition("@")
    same = [address]
    if isinstance(domain, str):
        if at and given.lower().rstrip(".") != domain.lower():
            errors.append(
                f"integration_email must be at this gateway's mail domain ({local}@{domain}) "
                f"or be just the local part ({local}): mail for @{given} does not reach it"
            )
            return None
        # "ops" and "ops@<domain>" are one address: neither may take the other's.
        same.append(local if at else f"{address}@{domain}")
    for candidate in same:
        other = reader.integration_by_email(candidate)
        if other is not None and other.id != own_id:
            errors.append("integration_email is already used by another integration")
            break
    return address

"""The kinds of contact method a user may have: email built in, the others from plugins.

PagerDuty's other types (``sms_contact_method``, ``phone_contact_method``,
``push_notification_contact_method``, ``whatsapp_contact_method``) need a provider that a
self-hosted gateway does not have, so they exist only when a plugin registers them
(``register_contact_method_types``, collected in
:attr:`gateway.plugins.PluginHost.contact_types`) together with a delivery kind that sends
to them. A type nobody delivers is refused when a contact method is created: storing it
would promise notifications that never leave.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from gateway.model import ContactMethodType

__all__ = [
    "EMAIL",
    "EMAIL_TYPE",
    "ContactMethodType",
    "address_problems",
    "available",
    "email_problems",
]

#: The built-in type: email, delivered by SMTP through the configured relay.
EMAIL: Final = "email_contact_method"

#: PagerDuty's user email limits (REST ``User.email``: 6 to 100 characters).
MIN_EMAIL, MAX_EMAIL = 6, 100
MAX_ADDRESS = 255  # any type's address; PagerDuty documents no bound, SMTP paths stop at 256
# One @, no spaces, a dot in the domain: what a relay accepts as a mailbox, without pretending
# to implement RFC 5322 (quoted local parts are not worth the surprises).
_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\].]+$")


def email_problems(address: str) -> list[str]:
    """What is wrong with ``address`` as an email address (empty: nothing)."""
    if not MIN_EMAIL <= len(address) <= MAX_EMAIL:
        return [f"email address must be {MIN_EMAIL} to {MAX_EMAIL} characters"]
    if not _EMAIL.match(address):
        return [f"{address!r} is not an email address (name@example.com)"]
    return []


EMAIL_TYPE: Final = ContactMethodType(name=EMAIL, summary="Email", check_address=email_problems)


def available(plugin_types: Mapping[str, ContactMethodType]) -> dict[str, ContactMethodType]:
    """Every type that may be stored: the built-in email and the loaded plugins' types."""
    return {EMAIL: EMAIL_TYPE, **plugin_types}


def address_problems(
    kind: object, address: object, types: Mapping[str, ContactMethodType]
) -> list[str]:
    """Why a contact method of ``kind`` at ``address`` may not be stored (empty: it may).

    ``types`` is :func:`available`'s answer. A type no loaded plugin delivers is named
    with what to do about it; the address is checked by its type.
    """
    if not isinstance(kind, str) or not kind:
        return [f"type must be one of: {', '.join(sorted(types))}"]
    known = types.get(kind)
    if known is None:
        return [
            f"contact method type {kind!r} is not delivered by this gateway: no loaded plugin "
            f"registers it (available: {', '.join(sorted(types))})"
        ]
    if not isinstance(address, str) or not address.strip():
        return ["address must be a non-empty string"]
    if len(address) > MAX_ADDRESS:
        return [f"address must be at most {MAX_ADDRESS} characters"]
    return [f"address: {p}" for p in known.check_address(address.strip())]

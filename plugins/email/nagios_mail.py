"""The ``email_preset = "nagios"`` reader: Nagios and Icinga notification mails.

Written from the documented default mail formats, which are plain ``Field: value``
lines and one subject line:

- Nagios 4 (and Icinga 1), ``notify-host-by-email`` / ``notify-service-by-email`` in
  the sample ``commands.cfg``: subject ``** PROBLEM Service Alert: web-03/HTTPS is
  CRITICAL **`` (``Host Alert: db-07 is DOWN`` for a host); body lines
  ``Notification Type:``, ``Service:``, ``Host:``, ``State:`` (Icinga 2's older
  ``mail-*-notification.sh`` scripts write the same body lines);
- Icinga 2, ``mail-service-notification.sh`` / ``mail-host-notification.sh``: subject
  ``[PROBLEM] HTTPS on web-03 is CRITICAL!`` (``[PROBLEM] Host db-07 is DOWN!``);
  body lines ``Service:`` and ``Host:`` (the object names), no type or state lines.

The body's lines win over the subject (the subject may carry display names or an
alias, and a ``/`` in a service name makes Nagios's subject ambiguous); the subject
fills in what the body lacks. :func:`read_notification` returns ``None`` for a mail
it cannot read (no host, or neither a type nor a state): the email rules then fall
back as for a mail no parser matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import re2  # type: ignore[import-untyped]  # google-re2 ships no type hints

from ..nagios import ACTIONS, DEFAULT_SEVERITY, HOST_SEVERITY, SERVICE_SEVERITY
from .mail import Mail
from .regex import _RE2_OPTIONS

#: The presets ``email_preset`` accepts.
PRESETS = ("nagios",)

#: States that mean "all clear" when a mail names no notification type.
CLEAR_STATES = ("OK", "UP")

# RE2: the subject is untrusted text of any length, and RE2 matches in linear time.
_NAGIOS_SUBJECT = re2.compile(
    r"^\*\* (\S+) (Service|Host) Alert: (.+) is (\S+) \*\*$", _RE2_OPTIONS
)
_ICINGA_HOST_SUBJECT = re2.compile(r"^\[(\S+)\] Host (.+) is (\S+)!$", _RE2_OPTIONS)
_ICINGA_SERVICE_SUBJECT = re2.compile(r"^\[(\S+)\] (.+) on (.+) is (\S+)!$", _RE2_OPTIONS)

# Body line name → field. Only these four are read; every other line stays in the body.
_BODY_FIELDS = {
    "notification type": "type",
    "host": "host",
    "service": "service",
    "state": "state",
}


@dataclass(frozen=True, slots=True)
class Notification:
    """What a Nagios/Icinga notification mail says: who, what, and which change."""

    type: str  # PROBLEM, RECOVERY, ACKNOWLEDGEMENT, FLAPPINGSTART ...; "" when not given
    host: str
    service: str | None  # None: a host notification
    state: str  # CRITICAL, OK, DOWN ...; "" when not given

    @property
    def dedup_key(self) -> str:
        """``host/service``, or ``host`` for a host notification."""
        return self.host if self.service is None else f"{self.host}/{self.service}"

    @property
    def action(self) -> str | None:
        """``trigger``, ``acknowledge`` or ``resolve``; ``None`` for a type that opens nothing.

        The notification type decides (``PROBLEM``, ``ACKNOWLEDGEMENT``, ``RECOVERY``, as
        PagerDuty's Nagios integration maps them); without one, the state does (``OK`` and
        ``UP`` resolve, any other state triggers).
        """
        if self.type:
            return ACTIONS.get(self.type)
        return "resolve" if self.state in CLEAR_STATES else "trigger"

    @property
    def severity(self) -> str:
        """The trigger's severity from the state, as the Nagios vendor maps it."""
        table = HOST_SEVERITY if self.service is None else SERVICE_SEVERITY
        return table.get(self.state, DEFAULT_SEVERITY)

    def details(self) -> dict[str, Any]:
        """What was read, for the alert's ``custom_details.extracted``."""
        found = {"notification_type": self.type, "host": self.host, "state": self.state}
        if self.service is not None:
            found["service"] = self.service
        return {k: v for k, v in found.items() if v}


def _body_fields(body: str) -> dict[str, str]:
    """The first ``Notification Type:``, ``Host:``, ``Service:`` and ``State:`` lines."""
    found: dict[str, str] = {}
    for line in body.splitlines():
        name, colon, value = line.partition(":")
        field = _BODY_FIELDS.get(name.lower()) if colon else None
        # Field values are padded in the formats ("Host:    web-03"): the padding is
        # layout, not part of the name. A field given twice keeps its first value, the
        # one the template wrote above any plugin output.
        if field is not None and field not in found and value.strip():
            found[field] = value.strip()
    return found


def _subject_fields(subject: str) -> dict[str, str]:
    """Type, host, service and state from a Nagios or Icinga 2 default subject."""
    if (m := _NAGIOS_SUBJECT.search(subject)) is not None:
        kind, what, found = m.group(2), m.group(3), {"type": m.group(1), "state": m.group(4)}
        if kind == "Service" and "/" in what:
            # host/service: a service name may hold "/" ("Disk /var"), a host name does not.
            found["host"], found["service"] = what.split("/", 1)
        else:
            found["host"] = what
        return found
    if (m := _ICINGA_HOST_SUBJECT.search(subject)) is not None:
        return {"type": m.group(1), "host": m.group(2), "state": m.group(3)}
    if (m := _ICINGA_SERVICE_SUBJECT.search(subject)) is not None:
        return {"type": m.group(1), "service": m.group(2), "host": m.group(3), "state": m.group(4)}
    return {}


def read_notification(mail: Mail) -> Notification | None:
    """The notification a mail carries, or ``None`` when it is not one this preset reads."""
    body = _body_fields(mail.body)
    subject = _subject_fields(mail.subject)
    # A body naming a host decides host versus service: its Service line, or none.
    source = body if "host" in body else subject
    host = source.get("host", "")
    service = source.get("service")
    kind = (body.get("type") or subject.get("type") or "").upper()
    state = (body.get("state") or subject.get("state") or "").upper()
    if not host or not (kind or state):
        return None
    return Notification(type=kind, host=host, service=service, state=state)

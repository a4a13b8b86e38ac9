"""Email integrations: a mail message → PD-CEF events, by PagerDuty's email management rules.

The SMTP listener (``gateway/email/``) hands this vendor one
:class:`~gateway.pluginkit.InboundRequest` per (message, integration):
``method`` is ``"SMTP"``, ``body`` the raw RFC 5322 message, the envelope in
the ``x-smtp-*`` headers and the integration's rules in ``settings``. Rules
(PagerDuty's email management rules):

- ``email_incident_creation``: ``on_new_email`` (default), ``on_new_email_subject``,
  ``only_if_no_open_incidents``, ``use_rules``; each maps onto a dedup key
  (see :func:`events_for`).
- ``email_filter_mode`` ``all-email`` / ``or-rules-email`` / ``and-rules-email`` with
  ``email_filters[]``: mail that fails the filters is discarded (accepted, logged).
- ``email_parsers[]`` (``use_rules``), with ``email_parsing_fallback``.
- ``email_preset = "nagios"`` (a gateway extension): Nagios and Icinga notification
  mails trigger, acknowledge and resolve by host/service (:mod:`.nagios_mail`).

User regexes run on untrusted mail, so they are RE2 (linear time: no rule
can hang the daemon) and are checked when the configuration is loaded.

Mail is read in a worker thread, within bounds (MIME parts, nesting depth,
CPU time; :mod:`.mime`): one hostile message can neither stall the event loop
nor be retried forever (it gets a permanent ``554``).

The modules, one job each: :mod:`.mime` bounds the MIME parse and runs it off
the event loop, :mod:`.mail` reads a message, :mod:`.regex`
compiles user regexes, :mod:`.rules` holds the compiled rules, :mod:`.nagios_mail`
reads Nagios/Icinga notifications,
:mod:`.settings` checks and compiles an integration's settings, and
:mod:`.events` makes the events. This module registers the vendor.
"""

from __future__ import annotations

import structlog

from gateway.pluginkit import (
    SMTP_METHOD,
    Event,
    InboundRequest,
    InvalidEvent,
    RetryLater,
    Vendor,
    hookimpl,
)

from .events import OPEN_INCIDENT_KEY, _recipient, events_for, message_key, subject_key
from .mail import TEXT_PART_BYTES, UNTOUCHED_BYTES, Mail, read_mail
from .mime import CPU_SECONDS, MAX_DEPTH, MAX_PARTS, Limits, off_loop
from .nagios_mail import PRESETS, Notification, read_notification
from .regex import RegexError, compile_regex, has_nested_groups
from .settings import (
    INCIDENT_CREATION,
    check_settings,
    checks_sender,
    compile_rules,
    rules_for,
)

__all__ = [
    "CPU_SECONDS",
    "INCIDENT_CREATION",
    "MAX_DEPTH",
    "MAX_PARTS",
    "OPEN_INCIDENT_KEY",
    "PRESETS",
    "TEXT_PART_BYTES",
    "UNTOUCHED_BYTES",
    "VENDOR",
    "Limits",
    "Mail",
    "Notification",
    "RegexError",
    "check_settings",
    "checks_sender",
    "compile_regex",
    "compile_rules",
    "events_for",
    "has_nested_groups",
    "message_key",
    "parse",
    "read_mail",
    "read_notification",
    "register_vendors",
    "rules_for",
    "subject_key",
]

log = structlog.get_logger(__name__)

VENDOR_ID = "generic_email"
INTEGRATION_TYPE = "generic_email_inbound_integration"


async def parse(request: InboundRequest) -> list[Event]:
    """Turn one mail (for one integration) into zero or one event."""
    if request.method != SMTP_METHOD:
        raise InvalidEvent(
            ["this integration receives email only: send mail to its integration_email address"]
        )
    rules, problems = rules_for(request.settings)
    if problems:
        # Settings are checked at configuration time; reaching here means they changed
        # underneath. Keep the mail queued at the sender (4xx) rather than lose it.
        log.error("email.rules_invalid", recipient=_recipient(request), problems=problems[:5])
        raise RetryLater("the integration's email rules are invalid")
    raw = request.body
    # MIME parsing and the rules run in a worker thread: a hostile message costs that
    # thread its CPU budget at most, and the event loop keeps serving every channel.
    return await off_loop(lambda: events_for(rules, read_mail(raw), request))


VENDOR = Vendor(
    id=VENDOR_ID,
    name="Email",
    integration_type=INTEGRATION_TYPE,
    parse=parse,
    aliases=("email",),
    description="Email integrations: mail to integration_email, by PagerDuty's email rules.",
    check_settings=check_settings,
    checks_sender=checks_sender,
    generic=True,
)


@hookimpl
def register_vendors() -> list[Vendor]:
    """Register the generic email vendor."""
    return [VENDOR]

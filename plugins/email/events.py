"""The events one mail makes for one integration, by its incident-creation rule.

Each rule maps onto a dedup key: the ``Message-ID`` (``on_new_email``), the
subject (``on_new_email_subject``), one constant key per integration
(``only_if_no_open_incidents``), or what a parser or the ``email_preset``
extracted (``use_rules``).
"""

from __future__ import annotations

import hashlib
import re
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import structlog

from gateway.pluginkit import Event, InboundRequest, fit_dedup_key, fit_summary, redact

from .._vendor import clip, finish, rfc3339
from .mail import Mail
from .nagios_mail import read_notification
from .rules import EmailRules

log = structlog.get_logger(__name__)

CLIENT = "Email"
MAX_INCIDENT_KEY_CHARS = 255

# The constant dedup key of ``only_if_no_open_incidents``: alerts dedup per integration,
# so one constant key means "append to the open one, else open a new one".
OPEN_INCIDENT_KEY = "email:only_if_no_open_incidents"

# A word shaped like an integration key (32 letters and digits). A sender may quote a key
# in a subject; a log line shows its last four characters only, as for every key.
_KEY_SHAPED = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{32}(?![A-Za-z0-9])")


def _loggable(header: str) -> str:
    """A mail header for a log line: key-shaped words redacted, then clipped."""
    return clip(_KEY_SHAPED.sub(lambda match: redact(match.group(0)), header))


def _timestamp(date: str) -> str | None:
    if not date:
        return None
    try:
        return rfc3339(parsedate_to_datetime(date))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def subject_key(subject: str) -> str:
    """The dedup key of ``on_new_email_subject``: the subject, whitespace-normalised."""
    normal = " ".join(subject.split())
    return fit_dedup_key(f"subject:{normal}")


def message_key(message_id: str) -> str | None:
    """A dedup key from ``Message-ID``, so an MTA's redelivery of a committed mail appends.

    A mail whose ``250`` was lost (a crash between commit and reply) is sent
    again by the MTA with the same ``Message-ID``; keying ``on_new_email``
    alerts on it keeps that redelivery from opening a second incident.
    """
    if not message_id.strip():
        return None
    digest = hashlib.sha256(message_id.strip().encode("utf-8", "replace")).hexdigest()[:32]
    return f"message-id:{digest}"


# -- Events ---------------------------------------------------------------------------------


def _details(mail: Mail, request: InboundRequest) -> dict[str, Any]:
    details: dict[str, Any] = {
        "subject": mail.subject,
        "from": mail.from_header,
        "to": mail.to,
        "date": mail.date,
        "message_id": mail.message_id,
        "recipient": request.headers.get("x-smtp-rcpt-to", ""),
        "envelope_from": request.headers.get("x-smtp-mail-from", ""),
        "body": mail.body,
    }
    if mail.truncated_parts:
        details["truncated_parts"] = mail.truncated_parts
    if mail.attachments:  # never stored: the names say what the sender attached
        details["attachments"] = mail.attachments
    return details


Action = Literal["trigger", "acknowledge", "resolve"]


def _event(
    mail: Mail,
    request: InboundRequest,
    action: Action,
    dedup_key: str | None,
    extracted: dict[str, str] | None = None,
    *,
    source: str | None = None,
    severity: str = "critical",
    component: str | None = None,
    class_: str = "email",
) -> Event:
    details = _details(mail, request)
    if extracted:
        details["extracted"] = extracted
    if source is None:
        source = (
            mail.from_addresses[0]
            if mail.from_addresses
            else request.headers.get("x-smtp-mail-from", "") or "email"
        )
    return finish(
        Event(
            routing_key=request.integration_key or "",
            event_action=action,
            dedup_key=dedup_key,
            summary=fit_summary(mail.subject, fallback="(no subject)"),
            source=clip(source, 255),
            # Mail carries no severity: a trigger pages (PagerDuty's no-severity rule),
            # unless a preset read one from the mail.
            severity=severity if action == "trigger" else "info",  # type: ignore[arg-type]
            timestamp=_timestamp(mail.date),
            component=clip(component, 255) if component else None,
            class_=class_,
            custom_details=details,
            client=CLIENT,
        )
    )


def _by_preset(mail: Mail, request: InboundRequest) -> list[Event] | None:
    """The ``nagios`` preset's event; ``[]`` for a type that opens nothing; ``None`` unread."""
    notification = read_notification(mail)
    if notification is None:
        log.info(
            "email.preset_unreadable",
            preset="nagios",
            recipient=_recipient(request),
            subject=clip(mail.subject),
        )
        return None
    action = notification.action
    if action is None:
        # FLAPPING*, DOWNTIME*, CUSTOM: PagerDuty's Nagios integration opens nothing for
        # them, and neither does the gateway's Nagios path; the mail is accepted (250).
        log.info(
            "email.discarded",
            reason=f"{clip(notification.type)} notification",
            recipient=_recipient(request),
            subject=clip(mail.subject),
        )
        return []
    kind = "host" if notification.service is None else "service"
    return [
        _event(
            mail,
            request,
            action,  # type: ignore[arg-type]
            fit_dedup_key(notification.dedup_key),
            notification.details(),
            source=notification.host,
            severity=notification.severity,
            component=notification.service,
            class_=f"nagios_{kind}",
        )
    ]


def _by_rules(rules: EmailRules, mail: Mail, request: InboundRequest) -> list[Event]:
    for index, parser in enumerate(rules.parsers):
        if not parser.predicate.holds(mail):
            continue
        values: dict[str, str] = {}
        for extractor in parser.extractors:
            value = extractor.extract(mail)
            if value is not None:
                values[extractor.value_name] = value
        key = values.pop("incident_key", None)
        if key is None:  # matched, but no key to act on: the next parser may still apply
            log.info("email.parser_no_key", parser=index, recipient=_recipient(request))
            continue
        return [_event(mail, request, parser.action, key[:MAX_INCIDENT_KEY_CHARS], values)]
    if rules.preset is not None and (preset := _by_preset(mail, request)) is not None:
        return preset
    if rules.fallback == "discard":
        log.info(
            "email.discarded",
            reason="no parser or preset matched" if rules.preset else "no parser matched",
            recipient=_recipient(request),
            sender=_loggable(mail.from_header),
            subject=_loggable(mail.subject),
        )
        return []
    return [_event(mail, request, "trigger", message_key(mail.message_id))]


def _recipient(request: InboundRequest) -> str:
    return request.headers.get("x-smtp-rcpt-to", "")


def events_for(rules: EmailRules, mail: Mail, request: InboundRequest) -> list[Event]:
    """The events one mail makes for one integration, by its rules.

    - ``on_new_email``: a trigger keyed by the ``Message-ID`` (a fresh key without one);
    - ``on_new_email_subject``: a trigger keyed by the normalised subject;
    - ``only_if_no_open_incidents``: a trigger with one constant key per integration;
    - ``use_rules``: the first parser whose predicate holds and whose
      extractors yield an ``incident_key``; else the ``email_preset`` (a
      Nagios/Icinga notification: trigger, acknowledge or resolve keyed by
      host/service); else ``email_parsing_fallback``.
    """
    if not rules.accepts(mail):
        log.info(
            "email.filtered",
            mode=rules.filter_mode,
            recipient=_recipient(request),
            sender=_loggable(mail.from_header),
            subject=_loggable(mail.subject),
        )
        return []
    if rules.incident_creation == "use_rules":
        return _by_rules(rules, mail, request)
    if rules.incident_creation == "on_new_email_subject":
        key: str | None = subject_key(mail.subject)
    elif rules.incident_creation == "only_if_no_open_incidents":
        key = OPEN_INCIDENT_KEY
    else:
        key = message_key(mail.message_id)
    return [_event(mail, request, "trigger", key)]
